// RequestMirror end to end: a DataPlane with real backends; the copy leaves after the primary's
// request, carries the same method, path and body, and never changes the primary's answer.
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { echo, startBackend, type TestBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

const client = new Agent({ keepAliveTimeout: 10_000 });
test.after.always(() => client.close());

interface Setup {
  port: number;
  plane: DataPlane;
  primary: TestBackend;
  shadow: TestBackend;
  shadowBodies: string[];
}

/** A route to "primary" mirroring to "shadow" (at `shadowPort`, or the shadow backend). */
async function withMirror(
  probability: number,
  run: (s: Setup) => Promise<void>,
  shadowPort?: number,
): Promise<void> {
  const [primary, shadow] = await Promise.all([startBackend("primary"), startBackend("shadow")]);
  const shadowBodies: string[] = [];
  shadow.behave((req, res, body, bytes) => {
    shadowBodies.push(body.toString());
    echo("shadow")(req, res, body, bytes);
  });
  const port = await freePort();
  const plane = new DataPlane();
  const p: PortInput = simplePort(port, [{ backends: [{ cluster: "primary" }] }]);
  const action = p.listeners?.[0]?.actions?.[0];
  if (action === undefined) throw new Error("simplePort changed shape");
  action.mirrors = [{ cluster: "shadow", probability }];
  try {
    const result = await plane.apply(
      snapshot({
        version: 1,
        ports: [p],
        clusters: [cluster("primary", [primary.port]), cluster("shadow", [shadowPort ?? shadow.port])],
      }),
    );
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    await run({ port, plane, primary, shadow, shadowBodies });
  } finally {
    await plane.drain(1000);
    await Promise.all([primary.close(), shadow.close()]);
  }
}

async function send(port: number, method: "GET" | "POST", path: string, body?: string) {
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { host: "shop.example.com:8080" },
    body,
    dispatcher: client,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

async function mirrorSeries(plane: DataPlane): Promise<string[]> {
  const text = await plane.metrics.registry.metrics();
  return text.split("\n").filter((l) => l.startsWith("meshgate_mirror_requests_total{"));
}

test("a GET and a POST are copied to the mirror with method, path, body and a -shadow Host", async (t) => {
  await withMirror(1, async ({ port, plane, primary, shadow, shadowBodies }) => {
    const get = await send(port, "GET", "/items?page=2");
    t.is(get.status, 200);
    t.is(JSON.parse(get.text).backend, "primary");
    const payload = "x".repeat(100_000);
    const post = await send(port, "POST", "/orders", payload);
    t.is(post.status, 200);
    t.is(primary.received.length, 2, JSON.stringify(primary.received.map((r) => [r.method, r.url, r.bodyBytes])));

    await until(() => shadow.received.length === 2);
    const [g, p] = shadow.received;
    t.is(g?.method, "GET");
    t.is(g?.url, "/items?page=2");
    t.is(g?.headers["host"], "shop.example.com-shadow:8080");
    t.is(p?.method, "POST");
    t.is(p?.url, "/orders");
    t.is(p?.headers["host"], "shop.example.com-shadow:8080");
    t.is(p?.headers["content-length"], "100000");
    t.is(shadowBodies[1], payload);
    t.is(primary.received[1]?.bodyBytes, 100_000);
    t.deepEqual(await mirrorSeries(plane), ['meshgate_mirror_requests_total{route="default/route-0",result="sent"} 2']);
  });
});

test("a mirror backend that is down leaves the primary's answer alone and is counted", async (t) => {
  const down = await freePort();
  await withMirror(
    1,
    async ({ port, plane }) => {
      const res = await send(port, "POST", "/orders", "hello");
      t.is(res.status, 200);
      t.is(JSON.parse(res.text).backend, "primary");
      let series: string[] = [];
      const deadline = Date.now() + 3000;
      while (!series.some((l) => l.includes('result="failed_connect"')) && Date.now() < deadline) {
        await sleep(20);
        series = await mirrorSeries(plane);
      }
      t.true(series.includes('meshgate_mirror_requests_total{route="default/route-0",result="failed_connect"} 1'), series.join("\n"));
    },
    down,
  );
});

test("probability 0 (percent: 0) sends nothing to the mirror", async (t) => {
  await withMirror(0, async ({ port, plane, shadow }) => {
    for (let i = 0; i < 5; i++) t.is((await send(port, "POST", "/a", "body")).status, 200);
    t.is((await send(port, "GET", "/b")).status, 200);
    await sleep(100);
    t.is(shadow.received.length, 0);
    t.deepEqual(await mirrorSeries(plane), []);
  });
});
