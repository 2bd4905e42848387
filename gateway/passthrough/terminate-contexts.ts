// The TLS contexts of Terminate routes (TLSRoutes behind a TLS listener in tls.mode Terminate),
// built with node:tls at apply time and kept while a Snapshot still uses them: a connection
// takes the context current when its ClientHello is read and keeps it, so a rotated certificate
// reaches new connections at once while established ones are untouched.
import { createHash } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import type { TlsPolicy } from "../tls/cipher-suites.js";
import { DEFAULT_CIPHER_SUITES } from "../tls/cipher-suites.js";

export interface TerminateCertificate {
  certPem: string;
  keyPem: string;
}

export type TerminateContext = { ok: true; context: SecureContext } | { ok: false; message: string };

export class TerminateContexts {
  private contexts = new Map<string, TerminateContext>();
  private used = new Map<string, TerminateContext>();

  /** The context for a certificate and policy, built once per content. */
  get(certificate: TerminateCertificate, policy: TlsPolicy | undefined): TerminateContext {
    const ciphers = opensslCiphers(policy);
    const minVersion = policy?.minVersion === "1.3" ? "TLSv1.3" : "TLSv1.2";
    const key = createHash("sha256")
      .update(certificate.certPem)
      .update("\0")
      .update(certificate.keyPem)
      .update(`\0${minVersion}\0${ciphers}`)
      .digest("hex");
    let built = this.used.get(key) ?? this.contexts.get(key);
    if (built === undefined) built = build(certificate, minVersion, ciphers);
    this.used.set(key, built);
    return built;
  }

  /** Called once an apply has taken every context it needs: the others are forgotten. */
  retainUsed(): void {
    this.contexts = this.used;
    this.used = new Map();
  }
}

function build(certificate: TerminateCertificate, minVersion: "TLSv1.2" | "TLSv1.3", ciphers: string): TerminateContext {
  try {
    // TLS 1.3's suites are not in `ciphers`; node:tls keeps its defaults for them (measured).
    const context = createSecureContext({ cert: certificate.certPem, key: certificate.keyPem, minVersion, ciphers });
    return { ok: true, context };
  } catch (error) {
    // The message could quote key material only if OpenSSL echoed it, which it does not.
    return { ok: false, message: `cannot build a TLS context: ${(error as Error).message}` };
  }
}

/**
 * The policy's TLS 1.2 suites as OpenSSL wants them. The names are the same as BoringSSL's (the
 * snapshot checks them against cipher-suites.ts); BoringSSL's "[A|B]" equal-preference groups
 * have no OpenSSL spelling, so their members are listed in the given order.
 */
export function opensslCiphers(policy: TlsPolicy | undefined): string {
  const list = policy === undefined || policy.ciphers.length === 0 ? DEFAULT_CIPHER_SUITES : policy.ciphers;
  return list.flatMap((entry) => (entry.startsWith("[") && entry.endsWith("]") ? entry.slice(1, -1).split("|") : [entry])).join(":");
}
