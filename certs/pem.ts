// Checks on a certificate chain and its key, used both on what the CA sends and on what is read
// back from disk: both come from outside and are validated before anything serves them.
import { X509Certificate, createPrivateKey } from "node:crypto";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?\r?\n-----END \1-----/g;

export interface PemBlock {
  label: string;
  text: string;
}

export function pemBlocks(pem: string): PemBlock[] {
  return [...pem.matchAll(BLOCK)].map((m) => ({ label: m[1] ?? "", text: `${m[0]}\n` }));
}

export interface LeafInfo {
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}

/**
 * Reads the leaf (first certificate) of `chainPem` and throws unless `keyPem` is its private key
 * and its subjectAltName lists every one of `names`. Error messages never quote the key.
 */
export function inspectChain(chainPem: string, keyPem: string, names: readonly string[]): LeafInfo {
  const first = pemBlocks(chainPem).find((b) => b.label === "CERTIFICATE");
  if (first === undefined) throw new Error("no certificate in the chain");
  const leaf = new X509Certificate(first.text);
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new Error("the private key cannot be parsed");
  }
  if (!leaf.checkPrivateKey(key)) throw new Error("the private key does not belong to the certificate");
  const sans = new Set(
    (leaf.subjectAltName ?? "")
      .split(", ")
      .filter((entry) => entry.startsWith("DNS:"))
      .map((entry) => entry.slice(4).toLowerCase()),
  );
  const missing = names.filter((name) => !sans.has(name));
  if (missing.length > 0) throw new Error(`the certificate does not cover ${missing.join(", ")}`);
  return {
    notBefore: parseX509Date(leaf.validFrom),
    notAfter: parseX509Date(leaf.validTo),
    serialNumber: leaf.serialNumber,
  };
}

// Node 20's X509Certificate only gives OpenSSL's text form ("Mar  4 09:01:02 2026 GMT").
function parseX509Date(text: string): Date {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new Error(`unreadable certificate date: ${text}`);
  return date;
}
