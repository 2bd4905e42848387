// PROXY protocol only from trusted peers (as nginx's set_real_ip_from): a client that reaches a
// PROXY-protocol port directly, from outside the configured ranges, is closed before anything
// it sends is read, and counted; from inside them, the header's address is the client's.
import { connect } from "node:net";
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { freePort, waitFor } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

const REQUEST = "GET /who HTTP/1.1\r\nhost: shop.example.com\r\nconnection: close\r\n\r\n";
const PROXIED = `PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n${REQUEST}`;

interface Reply {
  text: string;
  /** The gateway closed the connection without the client writing a byte. */
  closedUnasked: boolean;
}

/** Connects to 127.0.0.1; after `waitMs` of silence sends `bytes`; resolves when closed. */
function exchange(port: number, bytes: string, waitMs = 300): Promise<Reply> {
  return new Promise((resolve) => {
    let text = "";
    let wrote = false;
    const socket = connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      wrote = true;
      socket.write(bytes);
    }, waitMs);
    socket.setTimeout(3000, () => socket.destroy());
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closedUnasked: !wrote });
    });
  });
}

async function withPort(
  client: PortInput["client"],
  address: string,
  run: (ctx: { port: number; plane: DataPlane; backend: TestBackend }) => Promise<void>,
): Promise<void> {
  const backend = await startBackend("app");
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const result = await plane.apply(
      snapshot({
        version: 1,
        ports: [{ ...simplePort(port, [{ backends: [{ cluster: "c" }] }], client), address }],
        clusters: [cluster("c", [backend.port])],
      }),
    );
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    await run({ port, plane, backend });
  } finally {
    await plane.drain(500);
    await backend.close();
  }
}

const rejectedCount = async (plane: DataPlane, port: number, reason: string): Promise<number> => {
  const match = new RegExp(`meshgate_proxy_protocol_rejected_total\\{port="${port}",reason="${reason}"\\} (\\d+)`).exec(
    await plane.metrics.registry.metrics(),
  );
  return Number(match?.[1] ?? 0);
};
const untrustedCount = (plane: DataPlane, port: number): Promise<number> => rejectedCount(plane, port, "untrusted-source");

test("a peer outside the trusted ranges is closed before it sends a byte, and counted", async (t) => {
  await withPort({ proxyProtocol: true, trustedProxyCIDRs: ["10.0.0.0/8", "fc00::/7"] }, "127.0.0.1", async ({ port, plane, backend }) => {
    const reply = await exchange(port, PROXIED);
    t.true(reply.closedUnasked, "closed on accept, not after reading");
    t.is(reply.text, "");
    t.is(backend.received.length, 0);
    await waitFor(async () => (await untrustedCount(plane, port)) === 1, 2000);
  });
});

test("a peer inside the trusted ranges names the client: its address reaches X-Forwarded-For", async (t) => {
  await withPort({ proxyProtocol: true, trustedProxyCIDRs: ["10.0.0.0/8", "127.0.0.0/8"] }, "127.0.0.1", async ({ port, plane, backend }) => {
    const reply = await exchange(port, PROXIED, 0);
    t.regex(reply.text, /^HTTP\/1\.1 200 OK/);
    t.is(backend.received.at(-1)?.headers["x-forwarded-for"], "203.0.113.7");
    t.is(await untrustedCount(plane, port), 0);
  });
});

test("without a list, loopback and private peers are trusted (the defaults)", async (t) => {
  await withPort({ proxyProtocol: true }, "127.0.0.1", async ({ port, backend }) => {
    t.regex((await exchange(port, PROXIED, 0)).text, /^HTTP\/1\.1 200 OK/);
    t.is(backend.received.at(-1)?.headers["x-forwarded-for"], "203.0.113.7");
  });
});

test("on a dual-stack port an IPv4 peer (::ffff:127.0.0.1) matches IPv4 ranges", async (t) => {
  await withPort({ proxyProtocol: true, trustedProxyCIDRs: ["127.0.0.1/32"] }, "::", async ({ port, backend }) => {
    t.regex((await exchange(port, PROXIED, 0)).text, /^HTTP\/1\.1 200 OK/);
    t.is(backend.received.at(-1)?.headers["x-forwarded-for"], "203.0.113.7");
  });
  await withPort({ proxyProtocol: true, trustedProxyCIDRs: ["127.0.0.2/32", "::1/128"] }, "::", async ({ port, plane, backend }) => {
    t.true((await exchange(port, PROXIED)).closedUnasked);
    t.is(backend.received.length, 0);
    await waitFor(async () => (await untrustedCount(plane, port)) === 1, 2000);
  });
});

test("a trusted range is no exemption from the header: a trusted peer without one is still refused", async (t) => {
  await withPort({ proxyProtocol: true, trustedProxyCIDRs: ["127.0.0.0/8"] }, "127.0.0.1", async ({ port, plane, backend }) => {
    t.is((await exchange(port, REQUEST, 0)).text, "");
    t.is(backend.received.length, 0);
    await waitFor(async () => (await rejectedCount(plane, port, "bad-header")) === 1, 2000);
    // A PROXY-protocol failure is not a TLS error, nor a front error besides.
    t.notRegex(await plane.metrics.registry.metrics(), /meshgate_tls_route_errors_total\{|meshgate_tcp_front_errors_total\{/);
  });
});

test("a Snapshot with a range that does not parse is refused with the reason", (t) => {
  const error = t.throws(() =>
    snapshot({
      version: 1,
      ports: [simplePort(1, [{ backends: [{ cluster: "c" }] }], { proxyProtocol: true, trustedProxyCIDRs: ["10.0.0.1/8"] })],
      clusters: [cluster("c", [1])],
    }),
  );
  t.regex(error?.message ?? "", /trustedProxyCIDRs.*"10\.0\.0\.1\/8" has bits set after the prefix length/);
});
