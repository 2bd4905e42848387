// Shadow comparison end to end: a DataPlane with a real primary and a real mirror backend. Each
// mirror answer is compared with the primary's (status, chosen headers, body hash), counted per
// route, and mismatches are logged within the policy's per-minute bound, without bodies.
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import type { MirrorCompareConfig, PortInput } from "../../gateway/snapshot.js";
import type { EventLog } from "../../gateway/telemetry/event-log.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

const client = new Agent({ keepAliveTimeout: 10_000 });
test.after.always(() => client.close());

interface Setup {
  port: number;
  plane: DataPlane;
  primary: TestBackend;
  shadow: TestBackend;
  logged: Record<string, unknown>[];
}

function fixed(status: number, contentType: string, body: string) {
  return (_req: unknown, res: import("node:http").ServerResponse) => {
    res.writeHead(status, { "content-type": contentType, date: "varies" });
    res.end(body);
  };
}

async function comparing(compare: Partial<MirrorCompareConfig>, run: (s: Setup) => Promise<void>, primaryDown = false) {
  const [primary, shadow] = await Promise.all([startBackend("primary"), startBackend("shadow")]);
  const logged: Record<string, unknown>[] = [];
  const eventLog: EventLog = { warn: (fields) => logged.push(fields) };
  const port = await freePort();
  const plane = new DataPlane({ eventLog });
  const p: PortInput = simplePort(port, [{ backends: [{ cluster: "primary" }] }]);
  const action = p.listeners?.[0]?.actions?.[0];
  if (action === undefined) throw new Error("simplePort changed shape");
  action.mirrors = [{ cluster: "shadow", probability: 1 }];
  action.mirrorCompare = { policy: "default/compare", headers: ["content-type"], maxBodyBytes: 1 << 20, logPerMinute: 10, ...compare };
  const primaryPort = primaryDown ? await freePort() : primary.port;
  try {
    const result = await plane.apply(
      snapshot({ version: 1, ports: [p], clusters: [cluster("primary", [primaryPort]), cluster("shadow", [shadow.port])] }),
    );
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    await run({ port, plane, primary, shadow, logged });
  } finally {
    await plane.drain(1000);
    await Promise.all([primary.close(), shadow.close()]);
  }
}

async function get(port: number, path = "/") {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: "shop.example.com" }, dispatcher: client });
  return { status: res.statusCode, text: await res.body.text() };
}

async function comparisons(plane: DataPlane): Promise<Record<string, number>> {
  const text = await plane.metrics.registry.metrics();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^meshgate_mirror_comparisons_total\{route="[^"]*",result="(\w+)"\} (\d+)$/.exec(line);
    if (m !== null) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in 3 s");
    await sleep(20);
  }
}

test("a mirror answering like the primary counts matches; nothing is logged", async (t) => {
  await comparing({}, async ({ port, plane, primary, shadow, logged }) => {
    primary.behave(fixed(200, "application/json", '{"v":1}'));
    shadow.behave(fixed(200, "application/json", '{"v":1}'));
    for (let i = 0; i < 5; i++) t.deepEqual(await get(port), { status: 200, text: '{"v":1}' });
    await until(async () => (await comparisons(plane))["match"] === 5);
    t.deepEqual(await comparisons(plane), { match: 5 });
    t.deepEqual(logged, []);
  });
});

test("status, a chosen header and the body differ: each mismatch counted, the log bounded per minute and free of bodies", async (t) => {
  await comparing({ logPerMinute: 2 }, async ({ port, plane, primary, shadow, logged }) => {
    primary.behave(fixed(200, "application/json", '{"secret":"primary-body"}'));
    shadow.behave(fixed(404, "text/plain", "shadow-body"));
    for (let i = 0; i < 6; i++) t.is((await get(port, `/orders/${i}?token=abc`)).status, 200);
    await until(async () => (await comparisons(plane))["mismatch"] === 6);
    t.deepEqual(await comparisons(plane), { mismatch: 6 });
    t.is(logged.length, 2);
    const first = logged[0] ?? {};
    t.like(first, {
      type: "mirror-mismatch",
      route: "default/route-0",
      policy: "default/compare",
      method: "GET",
      path: "/orders/0",
      differences: ["status", "header:content-type", "body"],
      primary: { status: 200, headers: { "content-type": "application/json" } },
      mirror: { status: 404, headers: { "content-type": "text/plain" } },
    });
    const line = JSON.stringify(logged);
    t.false(line.includes("primary-body") || line.includes("shadow-body") || line.includes("token"));
  });
});

test("a header left out of the policy and bodies with compare off do not make mismatches", async (t) => {
  await comparing({ headers: [], maxBodyBytes: 0 }, async ({ port, plane, primary, shadow }) => {
    primary.behave(fixed(200, "application/json", "one"));
    shadow.behave(fixed(200, "text/plain", "two"));
    for (let i = 0; i < 3; i++) await get(port);
    await until(async () => (await comparisons(plane))["match"] === 3);
    t.deepEqual(await comparisons(plane), { match: 3 });
  });
});

test("when the primary fails nothing is compared, and the mirror is still sent", async (t) => {
  await comparing(
    {},
    async ({ port, plane, shadow }) => {
      for (let i = 0; i < 3; i++) t.is((await get(port)).status, 503);
      await until(async () => shadow.received.length === 3);
      await sleep(100);
      t.deepEqual(await comparisons(plane), {});
    },
    true,
  );
});
