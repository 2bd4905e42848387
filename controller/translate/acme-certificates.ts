// HTTPS listeners that take their certificate from ACME: an AcmeCertificatePolicy targets the
// listener (or its whole Gateway), and the listener has an exact hostname and no
// certificateRefs. Like Secrets, what the ACME manager holds comes in as input; what it should
// hold goes out as requests. Pure: the manager's timers and sockets live in controller/acme.ts.
import { canonicalNames } from "../../certs/names.js";
import type { ListenerSpec, ResourceOf } from "../resources/index.js";
import type { ServedCertificate } from "./certificates.js";
import { compareText } from "./order.js";
import type { AcmeIssuerSettings } from "./policies.js";
import type { AttachedPolicy, PolicyAttachments } from "./policy-targets.js";

/** One certificate as the ACME manager holds it. */
export interface AcmeCertificateState {
  state: "pending" | "valid" | "renewing" | "failed";
  /** The certificate being served (it may be older than the last attempt). */
  certificate?: { certPem: string; keyPem: string; notAfter: number };
  lastError?: { kind: string; message: string };
  /** Epoch ms of the next attempt after a failure. */
  nextAttemptAt?: number;
}

export interface AcmeInputs {
  /** By acmeRequestKey(). */
  certificates: ReadonlyMap<string, AcmeCertificateState>;
  /** HTTP-01 answers the gateway must serve now: token -> key authorization. */
  challenges: Readonly<Record<string, string>>;
}

/** A certificate the manager should look after: these names, from this ACME account. */
export interface AcmeRequest {
  key: string;
  issuer: AcmeIssuerSettings;
  names: string[];
}

export function acmeRequestKey(issuerId: string, names: readonly string[]): string {
  return `${issuerId}|${names.join(",")}`;
}

export type AcmeTermination =
  | { ok: true; certificate: ServedCertificate; warning?: string }
  /** `pending`: the certificate is on its way; otherwise the listener cannot have one from ACME. */
  | { ok: false; accepted: true; pending: boolean; reason: string; message: string };

const NO_HTTP_LISTENER =
  "no HTTP listener is served, so the CA cannot fetch HTTP-01 challenges (it connects to port 80)";

export class AcmeCertificates {
  private readonly requested = new Map<string, { request: AcmeRequest; policy: AttachedPolicy<AcmeIssuerSettings> }>();

  /** `inputs` undefined: no manager runs here (`meshgate status`), so no state is known. */
  constructor(
    private readonly policies: PolicyAttachments<AcmeIssuerSettings>,
    private readonly inputs: AcmeInputs | undefined,
    private readonly now: number,
  ) {}

  /** The ACME certificate of an HTTPS listener without certificateRefs; undefined if no policy targets it. */
  resolve(gateway: ResourceOf<"Gateway">, listener: ListenerSpec): AcmeTermination | undefined {
    const { namespace, name } = gateway.metadata;
    // A policy aimed at the listener wins over one aimed at its whole Gateway.
    const policy =
      this.policies.find("Gateway", namespace, name, listener.name) ?? this.policies.find("Gateway", namespace, name);
    if (policy === undefined) return undefined;
    const from = `AcmeCertificatePolicy ${policy.id}`;
    const hostname = listener.hostname;
    if (hostname === undefined || hostname.startsWith("*")) {
      const what = hostname === undefined ? "a listener without a hostname" : `the wildcard hostname ${hostname}`;
      return refused(`${from}: HTTP-01 cannot issue a certificate for ${what}; give the listener an exact hostname or tls.certificateRefs`);
    }
    let names: string[];
    try {
      names = canonicalNames([hostname]);
    } catch (err) {
      return refused(`${from}: ${(err as Error).message}`);
    }
    const issuer = policy.settings;
    const key = acmeRequestKey(issuer.id, names);
    this.requested.set(key, { request: { key, issuer, names }, policy });
    const subject = `${names.join(", ")} from ACME ${issuer.directory}`;
    if (this.inputs === undefined) {
      return pending(`a certificate for ${subject} is requested; only the running gateway knows its state (admin /status)`);
    }
    const state = this.inputs.certificates.get(key);
    const cert = state?.certificate;
    const error = state?.lastError;
    const next = state?.nextAttemptAt === undefined ? "" : `; next attempt at ${iso(state.nextAttemptAt)}`;
    if (cert !== undefined && cert.notAfter > this.now) {
      const certificate: ServedCertificate = { id: `acme:${issuer.id}/${names.join(",")}`, ...cert };
      if (state?.state !== "failed" || error === undefined) return { ok: true, certificate };
      const warning = `renewal of ${subject} failed (${error.kind}): ${error.message}; serving the current certificate until ${iso(cert.notAfter)}${next}`;
      return { ok: true, certificate, warning };
    }
    const expired = cert === undefined ? "" : `its certificate expired on ${iso(cert.notAfter)}; `;
    if (error === undefined) return pending(`${expired}waiting for its first certificate for ${subject}`);
    const retrying = state?.state === "pending" ? "; retrying now" : next;
    return pending(`${expired}no certificate for ${subject} yet: the last attempt failed (${error.kind}): ${error.message}${retrying}`);
  }

  /** What the ACME manager should look after, in a stable order. */
  get requests(): AcmeRequest[] {
    return [...this.requested.values()].map((r) => r.request).sort((a, b) => compareText(a.key, b.key));
  }

  /** Says on every policy in use that the CA has nowhere to fetch its challenges from. */
  noteNoHttpListener(): void {
    for (const { policy } of this.requested.values()) this.policies.addNote(policy, NO_HTTP_LISTENER);
  }
}

function refused(message: string): AcmeTermination {
  return { ok: false, accepted: true, pending: false, reason: "InvalidCertificateRef", message };
}

function pending(message: string): AcmeTermination {
  // The policy and its account resolved; the listener is Programmed once the certificate is in.
  return { ok: false, accepted: true, pending: true, reason: "ResolvedRefs", message };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
