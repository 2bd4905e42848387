// Certificates and the ACME account key on disk, for standalone mode. Each certificate is one
// PEM file holding its chain and key, replaced by rename, so a reader or a crash never sees a
// new certificate next to an old key. Only the owner may read anything here.
import { generateKeyPair, randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { IssuedCertificate } from "./issuing.js";
import { canonicalNames, certificateId } from "./names.js";
import { inspectChain, pemBlocks } from "./pem.js";

const ACCOUNT_KEY_FILE = "acme-account.key.pem";
const newKeyPair = promisify(generateKeyPair);

export class CertificateStore {
  private ready: Promise<void> | undefined;

  constructor(readonly dir: string) {}

  /** The ACME account key, created (ECDSA P-256) on first use and kept for good. */
  async accountKeyPem(): Promise<string> {
    await this.prepare();
    const path = join(this.dir, ACCOUNT_KEY_FILE);
    const existing = await readIfExists(path);
    if (existing !== undefined) return existing;
    const { privateKey } = await newKeyPair("ec", { namedCurve: "P-256" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const temp = await this.writeTemp(ACCOUNT_KEY_FILE, pem);
    try {
      // link() fails if another process created the key meanwhile; then theirs is the one.
      await link(temp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      await unlink(temp);
    }
    return readFile(path, "utf8");
  }

  async save(cert: IssuedCertificate): Promise<void> {
    await this.prepare();
    const name = `${certificateId(cert.names)}.pem`;
    const temp = await this.writeTemp(name, `${cert.certPem.trimEnd()}\n${cert.keyPem.trimEnd()}\n`);
    try {
      await rename(temp, join(this.dir, name));
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The stored certificate for exactly these names, or undefined if there is none. Throws if
   * the file exists but is damaged (no key, key not matching, names not covered).
   */
  async load(names: readonly string[]): Promise<IssuedCertificate | undefined> {
    const canonical = canonicalNames(names);
    const path = join(this.dir, `${certificateId(canonical)}.pem`);
    const text = await readIfExists(path);
    if (text === undefined) return undefined;
    const blocks = pemBlocks(text);
    const certPem = blocks.filter((b) => b.label === "CERTIFICATE").map((b) => b.text).join("");
    const keyPem = blocks.find((b) => b.label.endsWith("PRIVATE KEY"))?.text;
    if (certPem === "" || keyPem === undefined) throw new Error(`${path}: needs a certificate and a private key`);
    try {
      const { notBefore, notAfter } = inspectChain(certPem, keyPem, canonical);
      return { names: canonical, certPem, keyPem, notBefore, notAfter };
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
  }

  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      // mkdir leaves an existing folder's mode alone; keys must not be listable by others.
      await chmod(this.dir, 0o700);
    })();
    return this.ready;
  }

  // A fresh, exclusively created, synced file: rename or link then publishes complete bytes.
  private async writeTemp(name: string, content: string): Promise<string> {
    const temp = join(this.dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
    const file = await open(temp, "wx", 0o600);
    try {
      await file.writeFile(content);
      await file.sync();
    } catch (err) {
      await file.close();
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await file.close();
    return temp;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
