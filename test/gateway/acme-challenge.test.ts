// ACME HTTP-01: an HTTP port answers the tokens the Snapshot carries before any route, so a
// catch-all HTTPRoute cannot hide them from the CA; other paths under the prefix are routed.
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import { startBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

test("HTTP-01 tokens are answered before routing; unknown tokens go to the route", async (t) => {
  const backend = await startBackend("app");
  const port = await freePort();
  const plane = new DataPlane();
  try {
    await plane.apply(
      snapshot({
        version: 1,
        ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
        clusters: [cluster("c", [backend.port])],
        acmeChallenges: { "tok-EN_1": "tok-EN_1.thumbprint" },
      }),
    );
    const hit = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/tok-EN_1`);
    t.is(hit.status, 200);
    t.is(await hit.text(), "tok-EN_1.thumbprint");
    t.is(backend.received.length, 0, "the backend never saw the challenge");
    const miss = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/other`);
    t.is(miss.status, 200);
    t.is(backend.received.at(-1)?.url, "/.well-known/acme-challenge/other");
    await plane.apply(
      snapshot({ version: 2, ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])], clusters: [cluster("c", [backend.port])] }),
    );
    await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/tok-EN_1`);
    t.is(backend.received.at(-1)?.url, "/.well-known/acme-challenge/tok-EN_1", "a removed token is no longer answered");
  } finally {
    await plane.drain(500);
    await backend.close();
  }
});
