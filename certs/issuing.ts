// What issuing a certificate gives and how it fails, apart from the ACME client itself, so the
// scheduler, the store and the controller can use them without loading acme-client (and its
// HTTP stack) in a gateway that has no ACME policy.
import type { ChallengeResponder } from "./http01.js";

export interface IssuedCertificate {
  names: string[];
  /** Leaf first, then the intermediates, as the CA returned them. */
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** What the renewal scheduler needs from an issuer; tests may pass their own. */
export interface CertificateIssuer {
  issue(names: string[], responder: ChallengeResponder): Promise<IssuedCertificate>;
}

export type IssueErrorKind = "unreachable" | "rate-limited" | "challenge-failed" | "other";

export class AcmeIssueError extends Error {
  override readonly name = "AcmeIssueError";
  constructor(
    readonly kind: IssueErrorKind,
    message: string,
    /** The ACME problem type (urn:ietf:params:acme:error:...) if the CA sent one. */
    readonly problemType?: string,
    /** How long the CA asked us to wait (Retry-After), if it did. */
    readonly retryAfterMs?: number,
  ) {
    super(withoutPrivateKeys(message));
  }
}

// Server messages are quoted into errors; a CA never sends our key, but logs are forever.
function withoutPrivateKeys(message: string): string {
  const block = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;
  return message.replace(block, "[private key]");
}
