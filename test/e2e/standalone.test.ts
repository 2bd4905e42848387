// `meshgate standalone` as a user runs it: a real process, a folder of YAML, real backends.
import test from "ava";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";

async function get(port: number, path = "/"): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

test("serves a routed response and reports ready, metrics and status on the admin port", async (t) => {
  const backend = await startBackend("one");
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir, ["--access-log", "stdout"]);
  try {
    const res = await get(port, "/hello");
    t.is(res.status, 200);
    t.is(JSON.parse(res.text).backend, "one");
    const metrics = await gw.admin("/metrics");
    t.regex(
      metrics.text,
      /meshgate_http_requests_total\{gateway="default\/edge",route="default\/app",backend="default\/backend:80",code="200"\} 1/,
    );
    t.regex(metrics.text, /meshgate_config_version \d+/);
    const status = JSON.parse((await gw.admin("/status")).text);
    t.truthy(status.gateways);
    await waitFor(() => gw.output().includes('"type":"access"'), 3000);
    t.regex(gw.output(), /"path":"\/hello","status":200/);
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
});

test("hot reload: a renamed-in file applies within a second; a broken one is refused and the last good keeps serving", async (t) => {
  const a = await startBackend("a");
  const b = await startBackend("b");
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [a.port]));
  const gw = await startMeshgate(folder.dir);
  try {
    t.is(JSON.parse((await get(port)).text).backend, "a");
    folder.write("gateway.yaml", basicConfig(port, [b.port]));
    const changedAt = Date.now();
    await waitFor(async () => JSON.parse((await get(port)).text).backend === "b", 3000, 20);
    t.true(Date.now() - changedAt < 1000, `reload took ${Date.now() - changedAt} ms`);

    folder.write("gateway.yaml", "kind: Gateway\nmetadata: {name: [unclosed\n");
    await waitFor(
      async () =>
        /meshgate_config_reloads_total\{result="refused"\} [1-9]/.test((await gw.admin("/metrics")).text),
      3000,
    );
    t.is(JSON.parse((await get(port)).text).backend, "b");
    const status = JSON.parse((await gw.admin("/status")).text);
    t.true(JSON.stringify(status).includes("gateway.yaml"));
  } finally {
    t.is(await gw.stop(), 0);
    await a.close();
    await b.close();
  }
});

test("SIGTERM lets an in-flight request finish and exits 0", async (t) => {
  const backend = await startBackend("slow");
  backend.behave((_req, res) => setTimeout(() => res.end("done slowly"), 700));
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir);
  try {
    const inflight = get(port);
    await new Promise((r) => setTimeout(r, 150));
    const exit = gw.stop();
    const res = await inflight;
    t.is(res.status, 200);
    t.is(res.text, "done slowly");
    t.is(await exit, 0);
    await t.throwsAsync(() => get(port));
  } finally {
    await backend.close();
  }
});

test("several workers serve the same port and their metrics add up", async (t) => {
  const backend = await startBackend("w");
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir, ["--workers", "2"]);
  try {
    for (let i = 0; i < 20; i++) t.is((await get(port)).status, 200);
    const metrics = (await gw.admin("/metrics")).text;
    t.regex(metrics, /meshgate_http_requests_total\{[^}]*code="200"\} 20/);
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
});
