// Listener certificateRefs -> certificates the data plane can serve. A Secret must be of type
// kubernetes.io/tls and hold a PEM certificate whose key matches and which is valid now. When a
// Secret that served before turns bad (a broken edit, an expired renewal), the last good
// certificate of that Secret keeps serving and the listener's status says why.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { type CertificateRef, ofKind, type Resource, type ResourceOf } from "../resources/index.js";
import type { AcmeCertificates } from "./acme-certificates.js";

export interface ServedCertificate {
  /** The Secret's "namespace/name", or "acme:<account>/<names>" for a certificate from ACME. */
  id: string;
  certPem: string;
  keyPem: string;
  notAfter: number;
}

export type CertificateResolution =
  | { ok: true; certificate: ServedCertificate; warning?: string }
  | { ok: false; reason: "InvalidCertificateRef" | "RefNotPermitted"; message: string };

type Permitted = (fromNs: string, toNs: string, toName: string) => boolean;

export class CertificateIndex {
  private readonly secrets = new Map<string, ResourceOf<"Secret">>();
  /** Certificates that resolved in this translation, for the next one's last-good memory. */
  readonly valid = new Map<string, ServedCertificate>();

  constructor(
    resources: readonly Resource[],
    private readonly permitted: Permitted,
    private readonly lastGood: ReadonlyMap<string, ServedCertificate>,
    private readonly now: number,
    /** The other source: listeners without certificateRefs that an AcmeCertificatePolicy targets. */
    readonly acme?: AcmeCertificates,
  ) {
    for (const s of ofKind(resources, "Secret")) this.secrets.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  }

  resolve(ref: CertificateRef, gatewayNs: string): CertificateResolution {
    const ns = ref.namespace ?? gatewayNs;
    const id = `${ns}/${ref.name}`;
    if (ref.group !== "" || ref.kind !== "Secret") {
      const kind = ref.group === "" ? ref.kind : `${ref.group}/${ref.kind}`;
      return { ok: false, reason: "InvalidCertificateRef", message: `certificateRef kind ${kind} is not supported` };
    }
    if (!this.permitted(gatewayNs, ns, ref.name)) {
      return {
        ok: false,
        reason: "RefNotPermitted",
        message: `certificateRef to Secret ${id} is not permitted: no ReferenceGrant in ${ns} allows Gateways from ${gatewayNs}`,
      };
    }
    const problem = this.check(id);
    if (typeof problem !== "string") {
      this.valid.set(id, problem);
      return { ok: true, certificate: problem };
    }
    const previous = this.lastGood.get(id);
    if (previous !== undefined && previous.notAfter > this.now) {
      this.valid.set(id, previous);
      return { ok: true, certificate: previous, warning: `Secret ${id}: ${problem}; serving its last good certificate` };
    }
    return { ok: false, reason: "InvalidCertificateRef", message: `Secret ${id}: ${problem}` };
  }

  /** The certificate, or what is wrong with the Secret. */
  private check(id: string): ServedCertificate | string {
    const secret = this.secrets.get(id);
    if (secret === undefined) return "not found";
    if (secret.spec.type !== "kubernetes.io/tls") return `type is ${secret.spec.type}, not kubernetes.io/tls`;
    const certPem = decode(secret.spec.data["tls.crt"]);
    const keyPem = decode(secret.spec.data["tls.key"]);
    if (certPem === undefined || keyPem === undefined) return "tls.crt and tls.key must both be set";
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      return "tls.crt is not a PEM certificate";
    }
    let matches: boolean;
    try {
      matches = cert.checkPrivateKey(createPrivateKey(keyPem));
    } catch {
      // The reason could quote key material: say only what is wrong.
      return "tls.key is not a PEM private key";
    }
    if (!matches) return "tls.key does not match the certificate in tls.crt";
    const notAfter = Date.parse(cert.validTo);
    if (notAfter <= this.now) return `the certificate expired on ${new Date(notAfter).toISOString()}`;
    if (Date.parse(cert.validFrom) > this.now) return `the certificate is not valid before ${cert.validFrom}`;
    return { id, certPem, keyPem, notAfter };
  }
}

function decode(base64: string | undefined): string | undefined {
  if (base64 === undefined || base64.length === 0) return undefined;
  const text = Buffer.from(base64, "base64").toString("utf8");
  return text.includes("-----BEGIN") ? text : undefined;
}
