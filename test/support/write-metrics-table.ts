// `npm run docs:metrics`: rewrites README's Metrics table from the registries (metrics-catalog.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { metricsCatalog, metricsTable, TABLE_END, TABLE_START, tableIn } from "./metrics-catalog.js";

const README = fileURLToPath(new URL("../../../README.md", import.meta.url));
const readme = readFileSync(README, "utf8");
const current = tableIn(readme);
if (current === undefined) throw new Error(`README.md has no ${TABLE_START.trim()} ... ${TABLE_END} markers`);
const table = metricsTable(await metricsCatalog());
writeFileSync(README, readme.replace(TABLE_START + current + TABLE_END, TABLE_START + table + TABLE_END));
process.stdout.write(current === table ? "README.md: the metrics table was up to date\n" : "README.md: metrics table rewritten\n");
process.exit(0);
