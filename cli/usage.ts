// Text generated from cli/commands.ts: the overview and per-command help the CLI prints, and
// the synopsis and defaults table README.md carries (`npm run docs:cli` writes them there).
import { COMMANDS, type CommandDef, type FlagDef } from "./commands.js";

const WIDTH = 100;

function placeholder(flag: FlagDef): string {
  if (flag.type === "boolean") return "";
  return flag.value ?? flag.choices?.join("|") ?? "VALUE";
}

function flagUsage(flag: FlagDef): string {
  const text = `--${flag.name}${flag.type === "boolean" ? "" : ` ${placeholder(flag)}`}`;
  return flag.required ? text : `[${text}]`;
}

/** `meshgate CMD` and its flags, wrapped so continuation lines start under the first flag. */
export function commandSynopsis(command: CommandDef): string {
  const head = `meshgate ${command.name}`;
  const indent = " ".repeat(head.length + 1);
  const lines: string[] = [];
  let line = head;
  for (const part of command.flags.map(flagUsage)) {
    if (line.length + 1 + part.length > WIDTH && line !== head) {
      lines.push(line);
      line = indent + part;
    } else {
      line += ` ${part}`;
    }
  }
  lines.push(line);
  return lines.join("\n");
}

/** README's "Running it" synopsis: every command. */
export function synopsis(): string {
  return [
    ...COMMANDS.filter((c) => c.name !== "version").map(commandSynopsis),
    "meshgate version | --version | -v",
    "meshgate help [COMMAND] | COMMAND --help | --help | -h",
  ].join("\n");
}

function defaultOf(flag: FlagDef): string | undefined {
  return flag.default ?? flag.defaultText;
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/** Names on the left, their help wrapped on the right. */
function twoColumns(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 4;
  return rows.flatMap(([left, right]) =>
    wrap(right, Math.max(40, WIDTH - width)).map((part, i) => `${(i === 0 ? `  ${left}` : "").padEnd(width)}${part}`.trimEnd()),
  );
}

export function commandHelp(command: CommandDef): string {
  const rows: [string, string][] = command.flags.map((flag) => {
    const left = `--${flag.name}${flag.type === "boolean" ? "" : ` ${placeholder(flag)}`}`;
    const notes = [
      flag.required ? "required" : undefined,
      flag.value !== undefined && flag.choices !== undefined ? `one of ${flag.choices.join(", ")}` : undefined,
      defaultOf(flag) === undefined ? undefined : `default: ${defaultOf(flag)}`,
      flag.env === undefined ? undefined : `env ${flag.env}`,
    ].filter((n) => n !== undefined);
    return [left, notes.length === 0 ? flag.help : `${flag.help} (${notes.join("; ")})`];
  });
  rows.push(["-h, --help", "this help"]);
  const sections = [`usage: ${commandSynopsis(command)}`, command.summary, ["options:", ...twoColumns(rows)].join("\n")];
  if (command.environment !== undefined && command.environment.length > 0) {
    sections.push(["environment:", ...twoColumns(command.environment.map((e) => [e.name, e.help]))].join("\n"));
  }
  return `${sections.join("\n\n")}\n`;
}

export function overviewHelp(): string {
  const rows: [string, string][] = COMMANDS.map((c) => [c.name, c.summary]);
  rows.push(["help [COMMAND]", "this overview, or a command's options"]);
  return `usage: meshgate COMMAND [options]

${["commands:", ...twoColumns(rows)].join("\n")}

\`meshgate COMMAND --help\` lists a command's options; \`meshgate --version\` prints the version.
`;
}

/** The markdown table of every flag: its default and environment variable. */
export function defaultsTable(): string {
  const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("*", "\\*");
  const rows = COMMANDS.flatMap((command) => [
    ...command.flags.map((flag) => {
      const name = `\`--${flag.name}${flag.type === "boolean" ? "" : ` ${placeholder(flag)}`}\``;
      const fallback = defaultOf(flag);
      const byDefault = flag.required ? "required" : (fallback ?? (flag.type === "boolean" ? "off" : "-"));
      const meaning = flag.value !== undefined && flag.choices !== undefined ? `${flag.help} (one of ${flag.choices.join(", ")})` : flag.help;
      return `| ${command.name} | ${cell(name)} | ${cell(byDefault)} | ${flag.env === undefined ? "-" : `\`${flag.env}\``} | ${cell(meaning)} |`;
    }),
    ...(command.environment ?? []).map((e) => `| ${command.name} | - | - | \`${e.name}\` | ${cell(e.help)} |`),
  ]);
  return ["| command | flag | default | environment | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}
