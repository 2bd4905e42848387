// Verifies a PEM chain the way a TLS client would, link by link, up to a given root.
import { X509Certificate } from "node:crypto";
import { pemBlocks } from "../../certs/pem.js";

export function certificatesOf(pem: string): X509Certificate[] {
  return pemBlocks(pem)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => new X509Certificate(b.text));
}

/** Throws unless each certificate is issued and signed by the next, the last by `root`. */
export function verifyChain(chainPem: string, rootPem: string): void {
  const [root] = certificatesOf(rootPem);
  if (root === undefined) throw new Error("no root certificate");
  const path = [...certificatesOf(chainPem), root];
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i];
    const parent = path[i + 1];
    if (child === undefined || parent === undefined) throw new Error("broken chain");
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new Error(`${child.subject} is not signed by ${parent.subject}`);
    }
  }
  if (!root.verify(root.publicKey)) throw new Error("the root is not self-signed");
}
