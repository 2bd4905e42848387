// Automatic certificates in `meshgate standalone`: an HTTPS listener targeted by an
// AcmeCertificatePolicy gets its certificate from pebble, which validates HTTP-01 through the
// gateway's own HTTP listener; a renewal reaches new connections without a restart; a CA that is
// down is reported in the listener's status while the HTTP listener keeps serving its routes.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import test, { type ExecutionContext } from "ava";
import { Agent, request } from "undici";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, type RunningGateway, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { startPebble } from "../support/pebble.js";

const NAME = "shop.meshgate.test";
// Test-only switch of cli.ts: SIGUSR2 moves the ACME clock to the soonest renewal.
const RENEW_ON_SIGNAL = { MESHGATE_TEST_ACME_RENEW_ON_SIGUSR2: "1" };

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

function config(httpPort: number, httpsPort: number, backendPort: number, acme: { directory: string; caBundle?: string }) {
  const caBundle =
    acme.caBundle === undefined
      ? ""
      : `\n    caBundle: |\n${acme.caBundle
          .trim()
          .split("\n")
          .map((line) => `      ${line}`)
          .join("\n")}`;
  return `${basicConfig(httpPort, [backendPort]).replace(
    `  - {name: http, protocol: HTTP, port: ${httpPort}}`,
    `  - {name: http, protocol: HTTP, port: ${httpPort}}
  - {name: shop, protocol: HTTPS, port: ${httpsPort}, hostname: ${NAME}}`,
  )}---
apiVersion: meshgate.io/v1alpha1
kind: AcmeCertificatePolicy
metadata: {name: public, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: shop}]
  acme:
    directory: ${acme.directory}
    email: ops@example.com${caBundle}
`;
}

async function shopConditions(gw: RunningGateway): Promise<Condition[]> {
  const status = JSON.parse((await gw.admin("/status")).text) as {
    gateways: { listeners: { name: string; conditions: Condition[] }[] }[];
  };
  return status.gateways[0]?.listeners.find((l) => l.name === "shop")?.conditions ?? [];
}

const conditionOf = (conditions: Condition[], type: string) => conditions.find((c) => c.type === type);

interface Presented {
  authorized: boolean;
  authorizationError: string | undefined;
  serial: string;
  subjectAltName: string | undefined;
  issuerFingerprint: string | undefined;
}

/** A TLS handshake with SNI `NAME`, trusting only `ca`: what the gateway presents. */
function handshake(port: number, ca: string): Promise<Presented> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: NAME, ca, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate(true);
      resolve({
        authorized: socket.authorized,
        authorizationError: socket.authorizationError?.message,
        serial: cert.serialNumber,
        subjectAltName: cert.subjectaltname,
        issuerFingerprint: cert.issuerCertificate?.fingerprint256,
      });
      socket.end();
    });
    socket.setTimeout(5000, () => socket.destroy(new Error("handshake timed out")));
    socket.once("error", reject);
  });
}

async function issuedThroughGateway(t: ExecutionContext) {
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const pebble = await startPebble(t, { httpPort });
  const backend = await startBackend("app");
  t.teardown(() => backend.close());
  const folder = configFolder();
  folder.write(
    "gateway.yaml",
    config(httpPort, httpsPort, backend.port, { directory: pebble.directoryUrl, caBundle: pebble.caBundlePem }),
  );
  // Keys and certificates outside the config folder (a state folder inside it is refused).
  const stateDir = mkdtempSync(join(tmpdir(), "meshgate-acme-state-"));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const gw = await startMeshgate(folder.dir, ["--state-dir", stateDir], RENEW_ON_SIGNAL);
  t.teardown(async () => {
    await gw.stop();
  });
  await waitFor(async () => conditionOf(await shopConditions(gw), "Programmed")?.status === "True", 20_000, 100);
  const root = await pebble.rootsPem();
  return { httpPort, httpsPort, pebble, folder, gw, root, stateDir };
}

async function metric(gw: RunningGateway, series: string): Promise<number | undefined> {
  const line = (await gw.admin("/metrics")).text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("pebble issues through the gateway's HTTP listener; a renewal is served without a restart", async (t) => {
  const { httpPort, httpsPort, pebble, folder, gw, root, stateDir } = await issuedThroughGateway(t);

  const first = await handshake(httpsPort, root);
  t.true(first.authorized, first.authorizationError);
  t.is(first.subjectAltName, `DNS:${NAME}`);
  const intermediate = new X509Certificate(await pebble.intermediatesPem());
  t.is(first.issuerFingerprint, intermediate.fingerprint256, "pebble's intermediate is presented with the leaf");
  // Pebble fetched the HTTP-01 answer from the gateway's HTTP listener (its access log says so).
  t.regex(gw.output(), /"host":"shop\.meshgate\.test","path":"\/\.well-known\/acme-challenge\/[\w-]+","status":200/);
  const shop = await request(`https://127.0.0.1:${httpsPort}/hello`, {
    headers: { host: NAME },
    dispatcher: new Agent({ connect: { ca: root, servername: NAME } }),
  });
  t.is(shop.statusCode, 200);
  t.is(JSON.parse(await shop.body.text()).backend, "app");
  const plain = await request(`http://127.0.0.1:${httpPort}/hello`);
  t.is(plain.statusCode, 200);
  await plain.body.dump();

  // The account key and the certificate went to the state folder, private to its owner.
  const state = stateDir;
  const files = readdirSync(state, { recursive: true }).map(String);
  t.true(files.some((f) => f.endsWith("acme-account.key.pem")), files.join(", "));
  t.true(files.some((f) => f.includes(`${NAME}-`) && f.endsWith(".pem")), files.join(", "));
  const accountDir = files.find((f) => f.endsWith("acme-account.key.pem"))?.split("/").slice(0, -1).join("/") ?? "";
  t.is(statSync(join(state, accountDir)).mode & 0o777, 0o700);

  const pid = gw.proc.pid;
  gw.proc.kill("SIGUSR2");
  let second = first;
  await waitFor(
    async () => {
      // A connection queued on the old listener as the new certificate's app replaces it is reset
      // (README, "TLS at the edge"): poll again.
      second = await handshake(httpsPort, root).catch(() => first);
      return second.serial !== first.serial;
    },
    20_000,
    100,
  );
  t.true(second.authorized, second.authorizationError);
  t.is(second.subjectAltName, `DNS:${NAME}`);
  t.is(gw.proc.exitCode, null);
  t.is(gw.proc.pid, pid);
  t.log(`serial ${first.serial} renewed as ${second.serial}`);

  t.is(await metric(gw, 'meshgate_acme_certificates_issued_total{type="new"}'), 1);
  t.is(await metric(gw, 'meshgate_acme_certificates_issued_total{type="renewal"}'), 1);
  t.true((await metric(gw, `meshgate_acme_certificate_expiry_seconds{name="${NAME}"}`) ?? 0) > 86_400);
  const log = gw.output();
  t.regex(log, /ACME certificate issued/);
  t.regex(log, /ACME certificate renewed/);
  t.false(log.includes("PRIVATE KEY"));
  t.is(await gw.stop(), 0);

  // A restart serves the stored certificate without asking the CA, which is gone by now.
  await pebble.stop();
  const again = await startMeshgate(folder.dir, ["--state-dir", stateDir]);
  t.teardown(async () => {
    await again.stop();
  });
  await waitFor(async () => conditionOf(await shopConditions(again), "Programmed")?.status === "True", 10_000, 100);
  t.is((await handshake(httpsPort, root)).serial, second.serial);
  t.is(await metric(again, 'meshgate_acme_certificates_issued_total{type="new"}'), 0);
});

test("a renewal that fails keeps the current certificate serving and the listener says why", async (t) => {
  const { httpsPort, pebble, gw, root } = await issuedThroughGateway(t);
  const first = await handshake(httpsPort, root);
  await pebble.stop();

  gw.proc.kill("SIGUSR2");
  await waitFor(async () => conditionOf(await shopConditions(gw), "ResolvedRefs")?.status === "False", 20_000, 100);
  const conditions = await shopConditions(gw);
  t.is(conditionOf(conditions, "Programmed")?.status, "True");
  t.regex(conditionOf(conditions, "ResolvedRefs")?.message ?? "", /renewal of shop\.meshgate\.test .* failed \(unreachable\).*ECONNREFUSED.*serving the current certificate until .*next attempt at/);
  t.is((await handshake(httpsPort, root)).serial, first.serial);
  t.is(await metric(gw, 'meshgate_acme_failures_total{kind="unreachable"}'), 1);
  t.regex(gw.output(), /ACME renewal failed; the current certificate keeps serving/);
});

test("an ACME server that is down: the HTTPS listener says why, the HTTP listener keeps serving", async (t) => {
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const unused = await freePort();
  const backend = await startBackend("app");
  t.teardown(() => backend.close());
  const folder = configFolder();
  folder.write("gateway.yaml", config(httpPort, httpsPort, backend.port, { directory: `https://127.0.0.1:${unused}/dir` }));
  const gw = await startMeshgate(folder.dir);
  t.teardown(async () => {
    await gw.stop();
  });

  await waitFor(async () => /unreachable/.test(conditionOf(await shopConditions(gw), "Programmed")?.message ?? ""), 15_000, 100);
  const programmed = conditionOf(await shopConditions(gw), "Programmed");
  t.is(programmed?.status, "False");
  t.is(programmed?.reason, "Pending");
  t.regex(
    programmed?.message ?? "",
    new RegExp(`no certificate for shop\\.meshgate\\.test .* yet: the last attempt failed \\(unreachable\\): ACME server https://127\\.0\\.0\\.1:${unused}/dir unreachable: ECONNREFUSED; next attempt at`),
  );

  const res = await request(`http://127.0.0.1:${httpPort}/hello`);
  t.is(res.statusCode, 200);
  t.is(JSON.parse(await res.body.text()).backend, "app");
  await t.throwsAsync(handshake(httpsPort, ""), { code: "ECONNREFUSED" }, "nothing listens without a certificate");
  t.is(await metric(gw, 'meshgate_acme_failures_total{kind="unreachable"}'), 1);
  t.regex(gw.output(), /ACME order failed/);
});
