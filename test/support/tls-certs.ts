// Test certificates made in process: a CA and leaf certificates signed by it, with the names,
// key type and validity a test asks for (expired ones included), as PEM.
import "reflect-metadata";
import { createPrivateKey, webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto);

const DAY_MS = 86_400_000;
const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
} as const;

export interface TestCa {
  certPem: string;
  keyPem: string;
  /** Signs a leaf for `names` (DNS names or IP addresses). */
  issue(names: string[], options?: LeafOptions): Promise<TestLeaf>;
}

export interface TestLeaf {
  certPem: string;
  keyPem: string;
  /** Leaf then CA: what a server presents. */
  chainPem: string;
}

export interface LeafOptions {
  key?: "ec" | "rsa";
  notBefore?: Date;
  notAfter?: Date;
  /** Subject common name; defaults to the first name. */
  commonName?: string;
  /** Usable as a TLS client's certificate too (extended key usage clientAuth), not only a server's. */
  client?: boolean;
}

let serial = 1;

async function keyPair(kind: "ec" | "rsa"): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(kind === "ec" ? EC : RSA, true, ["sign", "verify"]);
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  // PKCS#8 in, traditional "EC PRIVATE KEY"/"RSA PRIVATE KEY" PEM out is not needed: PKCS#8
  // PEM is what uWebSockets.js, node:tls and openssl all read.
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }) as string;
}

function sanOf(name: string): x509.JsonGeneralName {
  return /^[\d.]+$|:/.test(name) ? { type: "ip", value: name } : { type: "dns", value: name };
}

/** A self-signed CA, valid from yesterday for a year unless told otherwise. */
export async function makeCa(commonName = "meshgate test CA"): Promise<TestCa> {
  const keys = await keyPair("ec");
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    name: `CN=${commonName}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 365 * DAY_MS),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const caPem = ca.toString("pem");
  return {
    certPem: caPem,
    keyPem: await keyPem(keys.privateKey),
    async issue(names, options = {}) {
      const leafKeys = await keyPair(options.key ?? "ec");
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, "0"),
        subject: `CN=${options.commonName ?? names[0] ?? "leaf"}`,
        issuer: ca.subject,
        notBefore: options.notBefore ?? new Date(now - DAY_MS),
        notAfter: options.notAfter ?? new Date(now + 90 * DAY_MS),
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: EC,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.ExtendedKeyUsageExtension(
            options.client === true ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth],
          ),
          new x509.SubjectAlternativeNameExtension(names.map(sanOf)),
        ],
      });
      const certPem = leaf.toString("pem");
      return { certPem, keyPem: await keyPem(leafKeys.privateKey), chainPem: `${certPem}\n${caPem}\n` };
    },
  };
}
