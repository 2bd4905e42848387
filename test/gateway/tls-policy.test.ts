// TLS versions and cipher suites on the real uWebSockets.js SSLApp: Mozilla "intermediate" by
// default (TLS 1.3, and TLS 1.2 with ECDHE and AEAD only), a listener's own suites or minimum
// version honoured for its name alone, and a port behind the SNI or PROXY-protocol front no
// weaker than a direct one.
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { startBackend } from "../support/backend.js";
import { handshake, httpsPortOf, type NamedListener } from "../support/https-port.js";
import { freePort } from "../support/net.js";
import { cluster, snapshot } from "../support/snapshot.js";
import { makeCa } from "../support/tls-certs.js";

const TLS12 = { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } as const;
const TLS13 = { minVersion: "TLSv1.3", maxVersion: "TLSv1.3" } as const;

async function listeners(): Promise<NamedListener[]> {
  const ca = await makeCa();
  return [
    { hostname: "ec.test", leaf: await ca.issue(["ec.test"]) },
    { hostname: "rsa.test", leaf: await ca.issue(["rsa.test"], { key: "rsa" }) },
    { hostname: "strict.test", leaf: await ca.issue(["strict.test"]), policy: { ciphers: ["ECDHE-ECDSA-AES256-GCM-SHA384"] } },
    { hostname: "modern.test", leaf: await ca.issue(["modern.test"]), policy: { minVersion: "1.3" } },
    { hostname: undefined, leaf: await ca.issue(["fallback.test"], { key: "rsa" }) },
  ];
}

type Front = "direct" | "sni front" | "proxy front";

const FRONTS: Record<Front, Partial<PortInput>> = {
  direct: {},
  // A TLSRoute on the port puts the SNI front before the terminating app.
  "sni front": { passthrough: [{ name: "default/db", hostnames: ["db.test"], backends: [{ address: "127.0.0.1", port: 9, weight: 1 }] }] },
  "proxy front": { client: { proxyProtocol: true } },
};

async function withPort(front: Front, run: (connect: typeof handshake) => Promise<void>): Promise<void> {
  const backend = await startBackend("app");
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const result = await plane.apply(
      snapshot({ version: 1, ports: [httpsPortOf(port, await listeners(), FRONTS[front])], clusters: [cluster("c", [backend.port])] }),
    );
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    const proxyHeader = front === "proxy front" ? "PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n" : undefined;
    await run((p, options) => handshake(p === 0 ? port : p, { ...options, ...(proxyHeader === undefined ? {} : { proxyHeader }) }));
  } finally {
    await plane.drain(500);
    await backend.close();
  }
}

for (const front of Object.keys(FRONTS) as Front[]) {
  test(`${front}: by default TLS 1.2 needs ECDHE and AEAD; RSA key exchange and CBC suites fail`, async (t) => {
    await withPort(front, async (connect) => {
      const refused: [string, string | undefined][] = [
        ["AES128-GCM-SHA256", "rsa.test"], // RSA key exchange: no forward secrecy
        ["AES128-GCM-SHA256", undefined], // the fallback certificate too
        ["ECDHE-RSA-AES128-SHA", "rsa.test"], // CBC with SHA-1
        ["ECDHE-ECDSA-AES128-SHA", "ec.test"],
        ["ECDHE-ECDSA-AES256-SHA", "ec.test"],
      ];
      for (const [ciphers, servername] of refused) {
        const result = await connect(0, { ...TLS12, ciphers, ...(servername === undefined ? {} : { servername }) });
        t.false(result.ok, `${ciphers} to ${servername ?? "(no SNI)"}`);
      }
      const served: [string, string | undefined][] = [
        ["ECDHE-ECDSA-AES128-GCM-SHA256", "ec.test"],
        ["ECDHE-ECDSA-CHACHA20-POLY1305", "ec.test"],
        ["ECDHE-RSA-AES128-GCM-SHA256", "rsa.test"],
        ["ECDHE-RSA-AES256-GCM-SHA384", undefined],
      ];
      for (const [ciphers, servername] of served) {
        const result = await connect(0, { ...TLS12, ciphers, ...(servername === undefined ? {} : { servername }) });
        t.like(result, { ok: true, protocol: "TLSv1.2", cipher: ciphers }, `${ciphers} to ${servername ?? "(no SNI)"}`);
      }
      for (const servername of ["ec.test", "rsa.test", "strict.test", "modern.test"]) {
        t.like(await connect(0, { ...TLS13, servername }), { ok: true, protocol: "TLSv1.3", subject: servername });
      }
      t.false((await connect(0, { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "ALL@SECLEVEL=0", servername: "ec.test" })).ok);
    });
  });

  test(`${front}: a listener's own ciphers and minimum version apply to its name only`, async (t) => {
    await withPort(front, async (connect) => {
      t.false((await connect(0, { ...TLS12, ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256", servername: "strict.test" })).ok);
      t.like(await connect(0, { ...TLS12, ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384", servername: "strict.test" }), {
        ok: true,
        cipher: "ECDHE-ECDSA-AES256-GCM-SHA384",
      });
      // The same suite on the listener next door, with the defaults.
      t.true((await connect(0, { ...TLS12, ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256", servername: "ec.test" })).ok);
      // minVersion 1.3: no TLS 1.2 suite can be agreed on, whatever the client offers.
      t.false((await connect(0, { ...TLS12, servername: "modern.test" })).ok);
      t.false((await connect(0, { ...TLS12, ciphers: "ALL", servername: "modern.test" })).ok);
      t.like(await connect(0, { servername: "modern.test" }), { ok: true, protocol: "TLSv1.3" });
    });
  });
}

test("a suite name BoringSSL does not know is refused by the Snapshot, before it reaches uWS", (t) => {
  const error = t.throws(() =>
    snapshot({
      version: 1,
      ports: [
        {
          port: 1,
          protocol: "HTTPS",
          listeners: [],
          tls: {
            certificates: [{ name: "c", certPem: "x", keyPem: "x" }],
            serverNames: [{ hostname: "a.test", certificate: "c", policy: { ciphers: ["ECDHE-RSA-AES128-SHA256", "TLS_AES_128_GCM_SHA256"] } }],
          },
        },
      ],
      clusters: [],
    }),
  );
  t.regex(error?.message ?? "", /"ECDHE-RSA-AES128-SHA256" is not a TLS 1\.2 cipher suite this build knows/);
  t.regex(error?.message ?? "", /TLS_AES_128_GCM_SHA256 is a TLS 1\.3 suite/);
});
