// `node dist/test/bench/regex-bench.js`: nanoseconds per whole-value match of typical route
// patterns, for the engine meshgate uses (RE2 in re2js) beside V8's backtracking engine (what
// it used before) and V8's experimental linear engine (the `l` flag, a process-wide V8 flag).
import { setFlagsFromString } from "node:v8";
import { FullMatch } from "../../gateway/linear-regex.js";

setFlagsFromString("--enable-experimental-regexp-engine");

const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 200_000);

const CASES: [string, string[]][] = [
  ["/api/v[0-9]+/users/[a-z0-9-]+", ["/api/v2/users/abc-123", "/api/v2/orders/1", "/static/css/site.css"]],
  ["/files/([a-z]+)*\\.txt", ["/files/report.txt", "/files/abc.pdf"]],
  ["Bearer [A-Za-z0-9._-]+", [`Bearer ${"x".repeat(200)}`, "Basic dXNlcjpwYXNz"]],
  ["(\\w+\\s?)+", ["Mozilla 5 0 compatible", "curl/8.1"]],
];

function nsPerMatch(test: (value: string) => boolean, inputs: readonly string[]): number {
  let hits = 0;
  for (let i = 0; i < ROUNDS / 10; i++) for (const v of inputs) if (test(v)) hits++;
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) for (let j = 0; j < inputs.length; j++) if (test(inputs[j] as string)) hits++;
  const ns = Number(process.hrtime.bigint() - started) / (ROUNDS * inputs.length);
  if (hits < 0) throw new Error("unreachable");
  return ns;
}

console.log("pattern | V8 backtracking | RE2 (re2js, meshgate) | V8 linear (l flag)");
for (const [source, inputs] of CASES) {
  const backtracking = new RegExp(`^(?:${source})$`);
  const linear = new RegExp(`^(?:${source})$`, "l" as string);
  const re2 = FullMatch.compile(source);
  const row = [
    nsPerMatch((v) => backtracking.test(v), inputs),
    nsPerMatch((v) => re2.test(v), inputs),
    nsPerMatch((v) => linear.test(v), inputs),
  ];
  console.log(`${source} | ${row.map((ns) => `${ns.toFixed(0)} ns`).join(" | ")}`);
}
