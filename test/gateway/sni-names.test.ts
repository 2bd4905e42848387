// SNI on the real uWebSockets.js SSLApp: a server name in any case, with or without a trailing
// dot, reaches its listener (uWS itself matches names byte for byte); a request whose Host names
// another listener than the one its handshake chose gets 421; client spellings are bounded.
import test, { type ExecutionContext } from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { MAX_SERVER_NAME_ALIASES } from "../../gateway/tls/server-names.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { handshake, httpsPortOf, type NamedListener, request } from "../support/https-port.js";
import { freePort } from "../support/net.js";
import { cluster, snapshot } from "../support/snapshot.js";
import { makeCa } from "../support/tls-certs.js";

async function withPort(
  make: (ca: Awaited<ReturnType<typeof makeCa>>) => Promise<NamedListener[]>,
  run: (ctx: { port: number; plane: DataPlane; backend: TestBackend }) => Promise<void>,
  extra: Partial<PortInput> = {},
): Promise<void> {
  const backend = await startBackend("app");
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const ca = await makeCa();
    const result = await plane.apply(
      snapshot({ version: 1, ports: [httpsPortOf(port, await make(ca), extra)], clusters: [cluster("c", [backend.port])] }),
    );
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    await run({ port, plane, backend });
  } finally {
    await plane.drain(500);
    await backend.close();
  }
}

const NAMED = async (ca: Awaited<ReturnType<typeof makeCa>>): Promise<NamedListener[]> => [
  { hostname: "a.test", leaf: await ca.issue(["a.test"]) },
  { hostname: "b.test", leaf: await ca.issue(["b.test"]), policy: { minVersion: "1.3" } },
  { hostname: "*.w.test", leaf: await ca.issue(["*.w.test"]) },
];

/** Each spelling of a.test gets its certificate and routes; b.test's Host on that connection, 421. */
async function spellingsOfA(t: ExecutionContext, port: number, spellings: string[]): Promise<void> {
  for (const servername of spellings) {
    const result = await handshake(port, { servername, keep: true });
    t.like(result, { ok: true, subject: "a.test" }, servername);
    if (result.socket !== undefined) {
      t.is((await request(result.socket, "a.test")).status, "HTTP/1.1 200 OK", servername);
      t.is((await request(result.socket, "b.test")).status, "HTTP/1.1 421 Misdirected Request", servername);
      result.socket.destroy();
    }
  }
}

test("an SNI name in another case or with a trailing dot gets its listener's certificate, TLS policy and routes", async (t) => {
  await withPort(NAMED, async ({ port, backend }) => {
    await spellingsOfA(t, port, ["a.test", "A.TEST", "A.Test.", "a.test."]);
    t.like(await handshake(port, { servername: "X.W.TEST" }), { ok: true, subject: "*.w.test" });
    // The alias carries b.test's policy (TLS 1.3 only), not the defaults.
    t.false((await handshake(port, { servername: "B.TEST", maxVersion: "TLSv1.2" })).ok);
    t.like(await handshake(port, { servername: "B.TEST" }), { ok: true, subject: "b.test", protocol: "TLSv1.3" });
    // Names no listener serves, even in lower case, get nothing: there is no fallback here.
    for (const servername of ["C.TEST", "c.test", "Y.X.W.TEST", "W.TEST"]) {
      t.false((await handshake(port, { servername })).ok, servername);
    }
    t.is(backend.received.length, 4, "only the four requests for a.test reached the backend");
  });
});

test("a Host naming another listener than the handshake chose gets 421 and is counted; the fallback is not checked", async (t) => {
  const withFallback = async (ca: Awaited<ReturnType<typeof makeCa>>) => [
    ...(await NAMED(ca)),
    { hostname: undefined, leaf: await ca.issue(["fallback.test"]) },
  ];
  await withPort(withFallback, async ({ port, plane, backend }) => {
    const a = await handshake(port, { servername: "a.test", keep: true });
    const socket = a.socket!;
    t.is((await request(socket, "a.test")).status, "HTTP/1.1 200 OK");
    for (const host of ["b.test", "B.TEST:443", "x.w.test", "anything.else"]) {
      t.deepEqual(await request(socket, host), { status: "HTTP/1.1 421 Misdirected Request", body: "misdirected request\n" }, host);
    }
    t.is((await request(socket, "a.test")).status, "HTTP/1.1 200 OK", "the connection stays usable");
    socket.destroy();

    const wild = (await handshake(port, { servername: "x.w.test", keep: true })).socket!;
    t.is((await request(wild, "deep.y.w.test")).status, "HTTP/1.1 200 OK", "a wildcard listener serves any depth");
    t.is((await request(wild, "a.test")).status, "HTTP/1.1 421 Misdirected Request");
    wild.destroy();

    // A WebSocket upgrade is admitted as any request, so it is refused the same way.
    const upgrading = (await handshake(port, { servername: "a.test", keep: true })).socket!;
    const upgradeStatus = await new Promise<string>((resolve) => {
      let data = "";
      upgrading.on("data", (chunk: Buffer) => {
        data += chunk.toString("latin1");
        if (data.includes("\r\n")) resolve(data.slice(0, data.indexOf("\r\n")));
      });
      upgrading.write(
        "GET /chat HTTP/1.1\r\nhost: b.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
          "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
      );
    });
    t.is(upgradeStatus, "HTTP/1.1 421 Misdirected Request");
    upgrading.destroy();

    // No SNI, or a name no listener has: the fallback certificate, and no listener was chosen.
    for (const servername of [undefined, "unknown.test"]) {
      const fallback = await handshake(port, { ...(servername === undefined ? {} : { servername }), keep: true });
      t.is(fallback.subject, "fallback.test");
      t.is((await request(fallback.socket!, "b.test")).status, "HTTP/1.1 200 OK", servername ?? "(no SNI)");
      fallback.socket!.destroy();
    }
    t.is(backend.received.length, 5);
    t.regex(await plane.metrics.registry.metrics(), /meshgate_downstream_rejected_total\{reason="misdirected"\} 6/);
  });
});

test(`client spellings are bounded: at most ${MAX_SERVER_NAME_ALIASES} per app, and none is dropped to make room`, async (t) => {
  const name = "abcdefghij.test"; // ten letters: 1024 spellings
  const spelling = (n: number) =>
    [...name].map((c, i) => (i < 10 && (n >> i) & 1 ? c.toUpperCase() : c)).join("");
  await withPort(async (ca) => [{ hostname: name, leaf: await ca.issue([name]) }], async ({ port }) => {
    // The first spelling's connection stays open while the others are added.
    const first = await handshake(port, { servername: spelling(1), keep: true });
    t.true(first.ok);
    let served = 1;
    for (let n = 2; n <= MAX_SERVER_NAME_ALIASES + 8; n++) {
      if ((await handshake(port, { servername: spelling(n) })).ok) served++;
    }
    t.is(served, MAX_SERVER_NAME_ALIASES);
    t.true((await handshake(port, { servername: spelling(1) })).ok, "an early spelling still works");
    t.true((await handshake(port, { servername: name })).ok, "the name as configured always works");
    t.is((await request(first.socket!, name)).status, "HTTP/1.1 200 OK", "its open connection still routes");
    first.socket!.destroy();
  });
});

test("behind the SNI front of a port shared with TLS passthrough, names in any case reach the terminating app", async (t) => {
  const shared = { passthrough: [{ name: "default/db", hostnames: ["db.test"], backends: [{ address: "127.0.0.1", port: 9, weight: 1 }] }] };
  await withPort(
    NAMED,
    async ({ port }) => {
      await spellingsOfA(t, port, ["A.TEST", "A.Test.", "a.test."]);
      t.like(await handshake(port, { servername: "X.W.TEST." }), { ok: true, subject: "*.w.test" });
    },
    shared,
  );
});
