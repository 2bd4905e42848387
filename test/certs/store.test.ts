// CertificateStore on a real folder: account key made once, certificates round-trip under a
// name-order-independent id, files 0600 in a 0700 folder, replacement by rename.
import { createPrivateKey } from "node:crypto";
import { mkdtemp, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import type { IssuedCertificate } from "../../certs/acme.js";
import { certificateId } from "../../certs/names.js";
import { inspectChain } from "../../certs/pem.js";
import { CertificateStore } from "../../certs/store.js";
import { makeCa } from "../support/tls-certs.js";

async function tempStore(t: { teardown(fn: () => Promise<void>): void }) {
  const parent = await mkdtemp(join(tmpdir(), "meshgate-store-"));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  const dir = join(parent, "acme");
  return { dir, store: new CertificateStore(dir) };
}

async function issued(names: string[]): Promise<IssuedCertificate> {
  const ca = await makeCa();
  const leaf = await ca.issue(names);
  const { notBefore, notAfter } = inspectChain(leaf.chainPem, leaf.keyPem, names);
  return { names, certPem: leaf.chainPem, keyPem: leaf.keyPem, notBefore, notAfter };
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

test("the account key is created once, P-256, readable by the owner only", async (t) => {
  const { dir, store } = await tempStore(t);
  const first = await store.accountKeyPem();
  t.is(await store.accountKeyPem(), first);
  t.is(await new CertificateStore(dir).accountKeyPem(), first, "a restart keeps the account");
  t.is(createPrivateKey(first).asymmetricKeyDetails?.namedCurve, "prime256v1");
  t.is(await mode(dir), 0o700);
  t.is(await mode(join(dir, "acme-account.key.pem")), 0o600);
});

test("concurrent first uses agree on one account key", async (t) => {
  const { dir } = await tempStore(t);
  const keys = await Promise.all([1, 2, 3, 4].map(() => new CertificateStore(dir).accountKeyPem()));
  t.is(new Set(keys).size, 1);
  t.deepEqual((await readdir(dir)).filter((f) => f.endsWith(".tmp")), []);
});

test("a certificate round-trips whatever the order and case of its names", async (t) => {
  const { dir, store } = await tempStore(t);
  const cert = await issued(["www.shop.meshgate.test", "shop.meshgate.test"]);
  await store.save(cert);

  const loaded = await store.load(["Shop.Meshgate.Test", "www.shop.meshgate.test"]);
  if (loaded === undefined) return t.fail("not found");
  t.deepEqual(loaded.names, ["shop.meshgate.test", "www.shop.meshgate.test"]);
  t.is(loaded.certPem.trim(), cert.certPem.trim());
  t.is(loaded.keyPem.trim(), cert.keyPem.trim());
  t.deepEqual([loaded.notBefore, loaded.notAfter], [cert.notBefore, cert.notAfter]);
  const file = join(dir, `${certificateId(cert.names)}.pem`);
  t.is(await mode(file), 0o600);
  t.is(await store.load(["shop.meshgate.test"]), undefined, "a different set of names is a different certificate");
});

test("replacing a certificate is atomic: readers keep the old bytes, no temp files stay", async (t) => {
  const { dir, store } = await tempStore(t);
  const names = ["shop.meshgate.test"];
  const first = await issued(names);
  const second = await issued(names);
  await store.save(first);
  const file = join(dir, `${certificateId(names)}.pem`);
  const reader = await open(file, "r");
  t.teardown(() => reader.close());

  await store.save(second);

  t.is((await store.load(names))?.certPem.trim(), second.certPem.trim());
  // Written in place, the open handle would now read the new (or half-new) bytes.
  t.true((await reader.readFile("utf8")).startsWith(first.certPem.trimEnd()));
  t.deepEqual((await readdir(dir)).sort(), [`${certificateId(names)}.pem`]);
  t.is(await mode(file), 0o600);
});

test("a damaged or mismatched file is reported, without quoting the key", async (t) => {
  const { dir, store } = await tempStore(t);
  const names = ["shop.meshgate.test"];
  const file = join(dir, `${certificateId(names)}.pem`);
  const one = await issued(names);
  const other = await issued(names);
  await store.save({ ...one, keyPem: other.keyPem });
  const mismatch = await t.throwsAsync(store.load(names));
  t.regex(mismatch?.message ?? "", /does not belong/);
  t.false(mismatch?.message.includes("PRIVATE KEY"));

  await writeFile(file, one.certPem);
  t.regex((await t.throwsAsync(store.load(names)))?.message ?? "", /needs a certificate and a private key/);

  const stranger = await issued(["other.meshgate.test"]);
  await store.save({ ...stranger, names });
  t.regex((await t.throwsAsync(store.load(names)))?.message ?? "", /does not cover shop\.meshgate\.test/);
});
