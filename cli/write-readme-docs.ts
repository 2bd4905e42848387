// `npm run docs:cli`: rewrites README.md's generated command-line parts in place.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { withGeneratedDocs } from "./readme-docs.js";

const readme = fileURLToPath(new URL("../../README.md", import.meta.url));
const before = readFileSync(readme, "utf8");
const after = withGeneratedDocs(before);
if (after !== before) writeFileSync(readme, after);
process.stdout.write(after === before ? "README.md is up to date\n" : "README.md rewritten\n");
