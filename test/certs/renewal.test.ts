// AcmeManager end to end: real pebble, real HTTP-01 server, real store on disk; only the clock
// is fake, so "two thirds of a five-year lifetime later" is one call.
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { AcmeIssuer, type IssuedCertificate } from "../../certs/acme.js";
import { Http01Responder } from "../../certs/http01.js";
import { AcmeManager, renewalTime } from "../../certs/renewal.js";
import { CertificateStore } from "../../certs/store.js";
import { freePort, waitFor } from "../support/net.js";
import { startPebble } from "../support/pebble.js";
import { serveChallenges } from "./challenge-server.js";
import { verifyChain } from "./chain.js";
import { FakeClock } from "./fake-clock.js";

const NAMES = ["shop.meshgate.test"];
const serial = (cert: IssuedCertificate | undefined) =>
  cert === undefined ? "" : new X509Certificate(cert.certPem).serialNumber;

async function setUp(t: ExecutionContext) {
  const dir = await mkdtemp(join(tmpdir(), "meshgate-renewal-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const httpPort = await freePort();
  const responder = new Http01Responder();
  const server = await serveChallenges(responder, httpPort);
  t.teardown(() => server.close());
  const pebble = await startPebble(t, { httpPort });
  const store = new CertificateStore(dir);
  const issuer = new AcmeIssuer({
    directoryUrl: pebble.directoryUrl,
    caBundlePem: pebble.caBundlePem,
    accountKeyPem: await store.accountKeyPem(),
  });
  const clock = new FakeClock(Date.now(), 0.5);
  const served: IssuedCertificate[] = [];
  const manager = new AcmeManager({
    issuer,
    store,
    responder,
    clock,
    onCertificate: (names, cert) => {
      t.deepEqual(names, NAMES);
      served.push(cert);
    },
  });
  t.teardown(() => manager.stop());
  return { pebble, store, clock, served, manager };
}

test("issues on first manage(), renews past two thirds of the lifetime, stores the new one", async (t) => {
  const { pebble, store, clock, served, manager } = await setUp(t);

  await manager.manage(NAMES);
  const first = served[0];
  if (first === undefined) return t.fail("nothing issued");
  t.is(served.length, 1);
  t.is(manager.status(NAMES)?.state, "valid");
  t.is(serial(await store.load(NAMES)), serial(first));

  clock.advanceTo(renewalTime(first) + 1000);
  t.is(manager.status(NAMES)?.state, "renewing");
  await waitFor(() => served.length === 2, 20_000);

  const second = served[1];
  t.not(serial(second), serial(first));
  const root = await pebble.rootsPem();
  t.notThrows(() => verifyChain(second?.certPem ?? "", root));
  t.is(serial(await store.load(NAMES)), serial(second));
  const status = manager.status(NAMES);
  t.is(status?.state, "valid");
  t.deepEqual(status?.notAfter, second?.notAfter);
  t.is(status?.lastError, undefined);
});

test("with pebble down: failed, unreachable, back-off scheduled, the old certificate kept", async (t) => {
  const { pebble, store, clock, served, manager } = await setUp(t);
  await manager.manage(NAMES);
  const first = served[0];
  if (first === undefined) return t.fail("nothing issued");
  await pebble.stop();

  const failedAt = renewalTime(first) + 1000;
  clock.advanceTo(failedAt);
  await waitFor(() => manager.status(NAMES)?.state === "failed", 10_000);

  const status = manager.status(NAMES);
  t.is(status?.lastError?.kind, "unreachable");
  t.regex(status?.lastError?.message ?? "", /ECONNREFUSED/);
  t.deepEqual(status?.notAfter, first.notAfter, "still serving the first certificate");
  t.is(status?.nextAttemptAt?.getTime(), failedAt + 60_000);
  t.deepEqual(clock.pending, [failedAt + 60_000]);
  t.is(served.length, 1, "nothing else was handed to the gateway");
  t.is(serial(await store.load(NAMES)), serial(first));

  // The retry fails too, and waits twice as long.
  clock.advanceTo(failedAt + 60_000);
  await waitFor(() => manager.status(NAMES)?.nextAttemptAt?.getTime() === failedAt + 180_000, 10_000);
  t.is(manager.status(NAMES)?.state, "failed");
  t.is(served.length, 1);
});
