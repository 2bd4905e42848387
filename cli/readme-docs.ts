// README.md's generated parts: the "Running it" synopsis and the flags' defaults table, each
// between its two markers. `npm run docs:cli` writes them; a test fails when README differs.
import { defaultsTable, synopsis } from "./usage.js";

export const GENERATED = [
  { name: "cli-synopsis", text: () => `\`\`\`\n${synopsis()}\n\`\`\`` },
  { name: "cli-defaults", text: () => defaultsTable() },
] as const;

const begin = (name: string) => `<!-- ${name}: generated from cli/commands.ts by \`npm run docs:cli\` -->`;
const end = (name: string) => `<!-- end of ${name} -->`;

/** The generated block as it stands in README, markers included. */
export function generatedBlock(name: string, text: string): string {
  return `${begin(name)}\n${text}\n${end(name)}`;
}

/** README with each generated part replaced; throws when a marker pair is missing. */
export function withGeneratedDocs(readme: string): string {
  let out = readme;
  for (const part of GENERATED) {
    const from = out.indexOf(begin(part.name));
    const to = out.indexOf(end(part.name));
    if (from < 0 || to < from) throw new Error(`README.md has no ${begin(part.name)} ... ${end(part.name)} block`);
    out = out.slice(0, from) + generatedBlock(part.name, part.text()) + out.slice(to + end(part.name).length);
  }
  return out;
}
