// AcmeManager's scheduling on its own: a scripted issuer and an in-memory store, time moved by
// a FakeClock. The pebble-backed tests in renewal.test.ts cover the same paths for real.
import test from "ava";
import { AcmeIssueError, type CertificateIssuer, type IssuedCertificate } from "../../certs/acme.js";
import { Http01Responder } from "../../certs/http01.js";
import { AcmeManager, backoffDelay, type CertificateStorage, renewalTime } from "../../certs/renewal.js";
import { FakeClock } from "./fake-clock.js";

const DAY = 86_400_000;
const NAMES = ["shop.meshgate.test"];

function certificate(start: number, lifetimeDays: number, serial: string): IssuedCertificate {
  const notAfter = new Date(start + lifetimeDays * DAY);
  return { names: NAMES, certPem: `cert ${serial}`, keyPem: `key ${serial}`, notBefore: new Date(start), notAfter };
}

// Issues from a script: a certificate, or an error to throw.
function scriptedIssuer(clock: FakeClock, script: (IssuedCertificate | Error)[]) {
  const calls: number[] = [];
  const issuer: CertificateIssuer = {
    issue: async () => {
      calls.push(clock.now());
      const next = script.shift() ?? certificate(clock.now(), 90, `auto-${calls.length}`);
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { issuer, calls };
}

function memoryStore(initial?: IssuedCertificate): CertificateStorage & { saved: IssuedCertificate[] } {
  const saved: IssuedCertificate[] = initial === undefined ? [] : [initial];
  return { saved, load: async () => saved.at(-1), save: async (cert) => void saved.push(cert) };
}

function manager(clock: FakeClock, issuer: CertificateIssuer, store: CertificateStorage) {
  const served: IssuedCertificate[] = [];
  const acme = new AcmeManager({
    issuer,
    store,
    responder: new Http01Responder(),
    clock,
    onCertificate: (_names, cert) => served.push(cert),
  });
  return { acme, served };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("renews at two thirds of the lifetime, not before", (t) => {
  t.is(renewalTime(certificate(0, 90, "a")), 60 * DAY);
});

test("back-off doubles from one minute to one hour with ±20 % jitter", (t) => {
  t.is(backoffDelay(1, 0.5), 60_000);
  t.is(backoffDelay(2, 0.5), 120_000);
  t.is(backoffDelay(7, 0.5), 3_600_000);
  t.is(backoffDelay(30, 0.5), 3_600_000);
  t.is(backoffDelay(1, 0), 48_000);
  t.is(backoffDelay(1, 0.999_999), 72_000);
});

test("a fresh stored certificate is served without ordering; a due one is renewed", async (t) => {
  const clock = new FakeClock(100 * DAY);
  const stored = certificate(90 * DAY, 90, "stored");
  const { issuer, calls } = scriptedIssuer(clock, []);
  const { acme, served } = manager(clock, issuer, memoryStore(stored));

  await acme.manage(NAMES);
  t.deepEqual(calls, []);
  t.deepEqual(served, [stored]);
  t.is(acme.status(NAMES)?.state, "valid");

  clock.advanceTo(renewalTime(stored));
  t.is(acme.status(NAMES)?.state, "renewing", "still serving the stored one while ordering");
  await settle();
  t.deepEqual(calls, [renewalTime(stored)]);
  t.is(served.length, 2);
  t.is(served[1]?.certPem, "cert auto-1");
  t.is(acme.status(NAMES)?.state, "valid");
});

test("failures back off with growing delays, keep the old certificate and recover", async (t) => {
  const clock = new FakeClock(0, 0.75);
  const down = new AcmeIssueError("unreachable", "ECONNREFUSED");
  const first = certificate(0, 90, "first");
  const { issuer, calls } = scriptedIssuer(clock, [first, down, down, certificate(61 * DAY, 90, "second")]);
  const store = memoryStore();
  const { acme, served } = manager(clock, issuer, store);
  await acme.manage(NAMES);

  clock.advanceTo(renewalTime(first));
  await settle();
  const failed = acme.status(NAMES);
  t.is(failed?.state, "failed");
  t.is(failed?.lastError?.kind, "unreachable");
  t.deepEqual(failed?.notAfter, first.notAfter, "the old certificate is still the one served");
  t.is(failed?.nextAttemptAt?.getTime(), clock.now() + 66_000); // 60 s + 10 % jitter
  t.deepEqual(clock.pending, [clock.now() + 66_000]);

  clock.advanceTo(clock.now() + 66_000);
  await settle();
  t.is(acme.status(NAMES)?.nextAttemptAt?.getTime(), clock.now() + 132_000, "doubled");

  clock.advanceTo(clock.now() + 132_000);
  await settle();
  t.is(calls.length, 4);
  t.deepEqual(served.map((c) => c.certPem), ["cert first", "cert second"]);
  t.deepEqual(store.saved.map((c) => c.certPem), ["cert first", "cert second"]);
  const recovered = acme.status(NAMES);
  t.is(recovered?.state, "valid");
  t.is(recovered?.lastError, undefined);
  t.is(recovered?.nextAttemptAt, undefined);
});

test("a rate limit waits at least as long as the CA asks", async (t) => {
  const clock = new FakeClock(0);
  const problem = "urn:ietf:params:acme:error:rateLimited";
  const limited = new AcmeIssueError("rate-limited", "slow down", problem, 3 * 3_600_000);
  const { issuer } = scriptedIssuer(clock, [limited]);
  const { acme, served } = manager(clock, issuer, memoryStore());

  await acme.manage(NAMES);

  const status = acme.status(NAMES);
  t.is(status?.state, "failed");
  t.is(status?.lastError?.kind, "rate-limited");
  t.is(status?.notAfter, undefined);
  t.is(status?.nextAttemptAt?.getTime(), 3 * 3_600_000);
  t.deepEqual(served, []);
});

test("long waits are taken in steps that fit a Node timer, and stop() cancels them", async (t) => {
  const clock = new FakeClock(0);
  const { issuer } = scriptedIssuer(clock, [certificate(0, 5 * 365, "long")]);
  const { acme } = manager(clock, issuer, memoryStore());
  await acme.manage(NAMES);

  // The clock started at 0, so the due time is the timer's delay.
  t.is(clock.pending.length, 1);
  t.true((clock.pending[0] ?? Infinity) <= 2 ** 31 - 1);
  acme.stop();
  t.deepEqual(clock.pending, []);
});

test("a damaged store is replaced by a fresh certificate, and manage() is idempotent", async (t) => {
  const clock = new FakeClock(0);
  const { issuer, calls } = scriptedIssuer(clock, []);
  const store = memoryStore();
  store.load = async () => {
    throw new Error("file damaged");
  };
  const { acme, served } = manager(clock, issuer, store);

  await Promise.all([acme.manage(NAMES), acme.manage(["SHOP.meshgate.test"])]);

  t.is(calls.length, 1);
  t.is(served.length, 1);
  t.is(acme.status(NAMES)?.state, "valid");
});
