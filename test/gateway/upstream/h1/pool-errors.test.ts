// Connection failures and the codes they carry, which is what the proxy classifies them by.
import test from "ava";
import { H1Pool } from "../../../../gateway/upstream/h1/pool.js";
import { send, unansweredListener } from "../../../support/h1-client.js";
import { freePort } from "../../../support/net.js";

test("nothing listening: ECONNREFUSED, for the request and everything queued behind it", async (t) => {
  const port = await freePort();
  const pool = new H1Pool("127.0.0.1", port, { connections: 2, connectTimeoutMs: 2000, idleTimeoutMs: 1000 });
  t.teardown(() => pool.destroy());
  const outcomes = await Promise.all(Array.from({ length: 5 }, () => send(pool)));
  for (const o of outcomes) {
    t.is(o.error?.code, "ECONNREFUSED");
    t.deepEqual(o.events, ["error"]);
  }
  t.deepEqual(pool.stats, { connected: 0, free: 0, pending: 0, running: 0 });
});

test("a connect that gets no answer fails with UND_ERR_CONNECT_TIMEOUT after connectTimeoutMs", async (t) => {
  const listener = await unansweredListener();
  t.teardown(() => listener.close());
  const pool = new H1Pool("127.0.0.1", listener.port, { connections: 1, connectTimeoutMs: 200, idleTimeoutMs: 1000 });
  t.teardown(() => pool.destroy());
  const started = Date.now();
  const outcome = await send(pool);
  const elapsed = Date.now() - started;
  t.is(outcome.error?.code, "UND_ERR_CONNECT_TIMEOUT");
  t.true(elapsed >= 190 && elapsed < 1500, `took ${elapsed} ms`);
  t.is(pool.stats.connected, 0);
});
