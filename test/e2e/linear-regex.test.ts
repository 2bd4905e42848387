// Route regular expressions that backtrack catastrophically in V8's engine, served by a real
// `meshgate standalone`: long inputs are answered at once and other requests on the same worker
// are not held up; patterns RE2 refuses are refused in `meshgate status` with the reason.
import test from "ava";
import { startBackend } from "../support/backend.js";
import { filesStatus } from "../support/cli.js";
import { configFolder, gatewayAndRoute, loopbackService, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";


interface Case {
  pattern: string;
  /** The HTTPRoute match, in YAML. */
  match: string;
  /** A value the pattern does not match, on which backtracking takes time exponential (or of high degree) in n. */
  value(n: number): string;
  request(value: string): { path: string; headers?: Record<string, string> };
  /** A request the rule takes. */
  matching: { path: string; headers?: Record<string, string> };
}

const CASES: Case[] = [
  {
    pattern: "/files/([a-z]+)*\\.txt",
    match: "{path: {type: RegularExpression, value: '/files/([a-z]+)*\\.txt'}}",
    value: (n) => `/files/${"a".repeat(n)}`,
    request: (value) => ({ path: value }),
    matching: { path: "/files/report.txt" },
  },
  {
    pattern: "(\\w+\\s?)+",
    match: "{path: {type: Exact, value: /words}, headers: [{name: x-words, type: RegularExpression, value: '(\\w+\\s?)+'}]}",
    value: (n) => `${"a".repeat(n)}!`,
    request: (value) => ({ path: "/words", headers: { "x-words": value } }),
    matching: { path: "/words", headers: { "x-words": "hello brave world" } },
  },
  {
    pattern: "(a+)+$",
    match: "{path: {type: Exact, value: /tail}, headers: [{name: x-tail, type: RegularExpression, value: '(a+)+$'}]}",
    value: (n) => `${"a".repeat(n)}!`,
    request: (value) => ({ path: "/tail", headers: { "x-tail": value } }),
    matching: { path: "/tail", headers: { "x-tail": "aaaa" } },
  },
  {
    pattern: "(a|aa)+b",
    match: "{path: {type: Exact, value: /pairs}, queryParams: [{name: q, type: RegularExpression, value: '(a|aa)+b'}]}",
    value: (n) => "a".repeat(n),
    request: (value) => ({ path: `/pairs?q=${value}` }),
    matching: { path: "/pairs?q=aaab" },
  },
  {
    pattern: "(.*a){12}",
    match: "{path: {type: Exact, value: /dots}, headers: [{name: x-dots, type: RegularExpression, value: '(.*a){12}'}]}",
    value: (n) => `${"a".repeat(n)}b`,
    request: (value) => ({ path: "/dots", headers: { "x-dots": value } }),
    matching: { path: "/dots", headers: { "x-dots": "a".repeat(12) } },
  },
];

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface StatusJson {
  httpRoutes: { name: string; parents: { conditions: Condition[] }[] }[];
  policies: { name: string; conditions: Condition[] }[];
}

const ROUNDS = 6;

/** Far past anything backtracking could finish, within the default URL and header limits. */
const LONG = 4000;

/**
 * The engine the gateway used before: V8's backtracking RegExp, anchored as the matcher did.
 * Grows the input one character at a time until one test takes 250 ms, so it costs about 1 s.
 */
function backtrackingCost(c: Case): { n: number; ms: number } {
  const known = measured.get(c);
  if (known !== undefined) return known;
  const re = new RegExp(`^(?:${c.pattern})$`);
  for (let n = 8; ; n++) {
    const value = c.value(n);
    const started = process.hrtime.bigint();
    if (re.test(value)) throw new Error(`${c.pattern} matches ${value}`);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (ms >= 250 || n >= 200) {
      measured.set(c, { n, ms });
      return { n, ms };
    }
  }
}
/** Measured once, for the first worker mode. */
const measured = new Map<Case, { n: number; ms: number }>();

async function timedGet(
  port: number,
  r: { path: string; headers?: Record<string, string> },
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${r.path}`, {
    ...(r.headers !== undefined && { headers: r.headers }),
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started };
}

// One worker, so /ping shares it with the catastrophic requests: a child process (the process
// host, as the product runs) and a worker thread.
for (const mode of ["processes", "threads"]) {
  const title = `catastrophic patterns answer long inputs at once through the gateway (one worker, ${mode}); other requests go on`;
  test.serial(title, async (t) => {
    const backend = await startBackend("files");
    const port = await freePort();
    const folder = configFolder();
    const rules = [...CASES.map((c) => c.match), "{path: {type: Exact, value: /ping}}"]
      .map((m) => `  - matches: [${m}]\n    backendRefs: [{name: files, port: 80}]`)
      .join("\n");
    folder.write("gateway.yaml", gatewayAndRoute(port, "regex", rules) + loopbackService("files", 80, "http", backend.port));
    const gw = await startMeshgate(folder.dir, ["--workers", "1", "--worker-mode", mode]);
    try {
      for (const c of CASES) {
        t.is((await timedGet(port, c.matching)).status, 200, `${c.pattern} takes ${JSON.stringify(c.matching)}`);
        const before = backtrackingCost(c);
        const same = await timedGet(port, c.request(c.value(before.n)));
        const long = await timedGet(port, c.request(c.value(LONG)));
        t.is(same.status, 404, c.pattern);
        t.is(long.status, 404, c.pattern);
        t.log(
          `${c.pattern}: before (V8 backtracking, in process) ${c.value(before.n).length}-character input` +
            ` ${before.ms.toFixed(0)} ms; after (RE2, request through the gateway, answered ${long.status})` +
            ` same input ${same.ms.toFixed(1)} ms, ${c.value(LONG).length}-character input ${long.ms.toFixed(1)} ms`,
        );
      }

      // Rounds of ten long catastrophic requests per pattern at once, while a client keeps asking
      // for /ping on the same (only) worker: everything is answered, and /ping never waits long.
      const pings: number[] = [];
      let attacking = true;
      const pinger = (async () => {
        while (attacking) {
          const ping = await timedGet(port, { path: "/ping" });
          t.is(ping.status, 200);
          pings.push(ping.ms);
        }
      })();
      const started = performance.now();
      const statuses: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const answers = await Promise.all(
          CASES.flatMap((c) => Array.from({ length: 10 }, () => timedGet(port, c.request(c.value(LONG))))),
        );
        statuses.push(...answers.map((a) => a.status));
      }
      const attackMs = performance.now() - started;
      attacking = false;
      await pinger;
      t.deepEqual(
        statuses,
        statuses.map(() => 404),
      );
      const slowestPing = Math.max(...pings);
      t.log(
        `${statuses.length} catastrophic requests of ${LONG}+ characters answered in ${attackMs.toFixed(0)} ms;` +
          ` ${pings.length} /ping requests meanwhile, slowest ${slowestPing.toFixed(1)} ms`,
      );
      t.true(pings.length > 0);
      // Generous for a loaded machine: with backtracking a single one of these requests would
      // hold the worker for longer than the universe has existed.
      t.true(slowestPing < 5000, `slowest /ping ${slowestPing} ms`);
    } finally {
      t.is(await gw.stop(), 0);
      await backend.close();
    }
  });
}

test("patterns RE2 refuses are refused in meshgate status with the reason; an RE2-only one is accepted", async (t) => {
  const folder = configFolder();
  const refused: [string, RegExp][] = [
    ["/a(?=b)", /invalid or unsupported Perl syntax: `\(\?=` \(RE2 has no lookahead or lookbehind\)/],
    ["/(x)\\1", /invalid escape sequence: `\\1` \(RE2 has no backreferences\)/],
    ["/a++", /invalid nested repetition operator: `\+\+`/],
    ["/.{1000}.{1000}.{1000}", /too large: \d+ RE2 instructions, at most 2000/],
  ];
  const rules = [
    ...refused.map(([p]) => `{path: {type: RegularExpression, value: '${p}'}}`),
    "{path: {type: RegularExpression, value: '/fine/(?P<id>[[:digit:]]+)'}}",
  ]
    .map((m) => `  - matches: [${m}]\n    backendRefs: [{name: files, port: 80}]`)
    .join("\n");
  folder.write("gateway.yaml", gatewayAndRoute(await freePort(), "regex", rules) + loopbackService("files", 80, "http", 9));
  folder.write(
    "policy.yaml",
    `apiVersion: meshgate.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: lookbehind, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: regex}]
  rules:
  - clientSelectors: [{headers: [{name: x-user, type: RegularExpression, value: '(?<!admin)-bot'}]}]
    limit: {requests: 5, unit: Minute}
`,
  );
  const stdout = await filesStatus(folder.dir, ["--json"]);
  const report = JSON.parse(stdout) as StatusJson;
  const route = report.httpRoutes.find((r) => r.name === "regex");
  const accepted = route?.parents[0]?.conditions.find((c) => c.type === "Accepted");
  t.is(accepted?.status, "False");
  t.is(accepted?.reason, "UnsupportedValue");
  const message = accepted?.message ?? "";
  t.log(message);
  refused.forEach(([source, reason], i) => {
    t.true(message.includes(`rule ${i} match 0: path is not a valid regular expression: ${source}: `), source);
    t.regex(message, reason, source);
  });
  t.false(message.includes("rule 4"), "the RE2-only pattern of the last rule is accepted");
  const policy = report.policies.find((p) => p.name === "lookbehind")?.conditions.find((c) => c.type === "Accepted");
  t.is(policy?.status, "False");
  t.regex(
    policy?.message ?? "",
    /invalid regular expression: invalid named capture: `\(\?<!admin\)-bot` \(RE2 has no lookahead or lookbehind\)/,
  );
  // The table a person reads says the same.
  const table = await filesStatus(folder.dir);
  t.regex(table, /RE2 has no backreferences/);
});
