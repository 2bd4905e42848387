// Small helpers for tests that drive real sockets on loopback.
import { createServer } from "node:net";

/**
 * Ports handed out for a test to put in a configuration and bind later. They come from below
 * Linux's ephemeral range (32768-60999), which every bind to port 0 draws from: backends, uWS's
 * loopback hand-off apps and clients of any test process could otherwise take one between this
 * call and the bind, and the gateway, which refuses ports another process holds, would not start.
 * Each test process walks the range from its own starting point.
 */
const FIRST_PORT = 20_000;
const LAST_PORT = 32_000;
let nextPort = FIRST_PORT + ((process.pid * 7919) % (LAST_PORT - FIRST_PORT));

/** Whether 0.0.0.0:`port` can be bound now (so neither a wildcard nor a loopback socket holds it). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free a moment ago, and is handed out once per test process. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 1000; tries++) {
    const port = nextPort;
    nextPort = nextPort >= LAST_PORT ? FIRST_PORT : nextPort + 1;
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${FIRST_PORT}-${LAST_PORT}`);
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  stepMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
