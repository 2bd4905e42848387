// ACME as a certificate source for standalone mode. Translation says which certificates the
// listeners want (sync); one AcmeManager per ACME account (directory, email, CA bundle) looks
// after them, with its account key and certificates in the state folder. What the managers
// hold and the HTTP-01 answers they publish go back into translation (inputs), and each change
// asks for a reconcile: certificates reach the gateway through a Snapshot like any other source.
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { AcmeIssuer } from "../certs/acme.js";
import {
  AcmeIssueError,
  type CertificateIssuer,
  type IssuedCertificate,
  type IssueErrorKind,
} from "../certs/issuing.js";
import type { ChallengeResponder } from "../certs/http01.js";
import { AcmeManager, type BackoffOptions, type Clock, renewalTime } from "../certs/renewal.js";
import { CertificateStore } from "../certs/store.js";
import { ChallengeBoard } from "./acme-challenges.js";
import {
  type AcmeCertificateState,
  type AcmeInputs,
  type AcmeRequest,
  acmeRequestKey,
} from "./translate/acme-certificates.js";
import type { AcmeIssuerSettings } from "./translate/policies.js";

export interface AcmeSourceOptions {
  /** Account keys and certificates live in <stateDir>/acme/<account>/. */
  stateDir: string;
  /** Asks for a reconcile: a certificate arrived, an attempt failed, an HTTP-01 answer changed. */
  changed(): void;
  logger: Logger;
  /** Where the ACME metrics are registered. */
  registry: Registry;
  clock?: Clock;
  backoff?: Partial<BackoffOptions>;
}

interface Account {
  settings: AcmeIssuerSettings;
  manager: AcmeManager;
  /** Request key -> names, for every certificate this account looks after. */
  managed: Map<string, string[]>;
}

const ERROR_KINDS: readonly IssueErrorKind[] = ["unreachable", "rate-limited", "challenge-failed", "other"];

export class AcmeSource {
  private readonly accounts = new Map<string, Account>();
  /** What each request serves now, by request key: what the managers handed over. */
  private readonly served = new Map<string, IssuedCertificate>();
  private readonly challenges: ChallengeBoard;
  private readonly issued: Counter<"type">;
  private readonly failures: Counter<"kind">;
  private stopped = false;

  constructor(private readonly options: AcmeSourceOptions) {
    this.challenges = new ChallengeBoard(() => options.changed());
    const registers = [options.registry];
    this.issued = new Counter({
      name: "meshgate_acme_certificates_issued_total",
      help: "Certificates issued by ACME CAs, by type (new, renewal).",
      labelNames: ["type"] as const,
      registers,
    });
    this.failures = new Counter({
      name: "meshgate_acme_failures_total",
      help: "Failed ACME orders, by kind (unreachable, rate-limited, challenge-failed, other).",
      labelNames: ["kind"] as const,
      registers,
    });
    for (const type of ["new", "renewal"]) this.issued.inc({ type }, 0);
    for (const kind of ERROR_KINDS) this.failures.inc({ kind }, 0);
    const served = this.served;
    new Gauge({
      name: "meshgate_acme_certificate_expiry_seconds",
      help: "Seconds until the ACME certificate served for these names expires.",
      labelNames: ["name"] as const,
      registers,
      collect() {
        this.reset();
        for (const cert of served.values()) {
          this.set({ name: cert.names.join(",") }, Math.round((cert.notAfter.getTime() - Date.now()) / 1000));
        }
      },
    });
  }

  /** What translation needs: the managers' certificates and state, the answers to serve. */
  inputs(): AcmeInputs {
    const certificates = new Map<string, AcmeCertificateState>();
    for (const account of this.accounts.values()) {
      for (const [key, names] of account.managed) {
        const status = account.manager.status(names);
        if (status === undefined) continue;
        const state: AcmeCertificateState = { state: status.state };
        const cert = this.served.get(key);
        if (cert !== undefined) {
          state.certificate = { certPem: cert.certPem, keyPem: cert.keyPem, notAfter: cert.notAfter.getTime() };
        }
        if (status.lastError !== undefined) state.lastError = status.lastError;
        if (status.nextAttemptAt !== undefined) state.nextAttemptAt = status.nextAttemptAt.getTime();
        certificates.set(key, state);
      }
    }
    return { certificates, challenges: this.challenges.current() };
  }

  /** Looks after exactly the certificates requested by the configuration now being applied. */
  sync(requests: readonly AcmeRequest[]): void {
    if (this.stopped) return;
    const byAccount = new Map<string, AcmeRequest[]>();
    for (const r of requests) byAccount.set(r.issuer.id, [...(byAccount.get(r.issuer.id) ?? []), r]);
    for (const [id, account] of this.accounts) {
      if (byAccount.has(id)) continue;
      account.manager.stop();
      for (const key of account.managed.keys()) this.served.delete(key);
      this.accounts.delete(id);
    }
    for (const [id, wanted] of byAccount) {
      const first = wanted[0];
      if (first === undefined) continue;
      const account = this.accounts.get(id) ?? this.open(first.issuer);
      const keys = new Set(wanted.map((r) => r.key));
      for (const [key, names] of account.managed) {
        if (keys.has(key)) continue;
        account.manager.unmanage(names);
        account.managed.delete(key);
        this.served.delete(key);
      }
      for (const r of wanted) {
        if (account.managed.has(r.key)) continue;
        account.managed.set(r.key, r.names);
        // Settles after the first check (stored, issued or failed); each outcome calls back.
        void account.manager.manage(r.names);
      }
    }
  }

  /** A Snapshot with these HTTP-01 answers is now served. */
  applied(challenges: Readonly<Record<string, string>>): void {
    this.challenges.applied(challenges);
  }

  /** Per certificate: names, account, state, expiry, last error; for the admin /status. */
  report(): object[] {
    return [...this.accounts.values()].flatMap((account) =>
      [...account.managed.values()].map((names) => {
        const status = account.manager.status(names);
        return {
          names,
          directory: account.settings.directory,
          state: status?.state ?? "pending",
          notAfter: status?.notAfter?.toISOString(),
          renewAt: status?.renewAt?.toISOString(),
          lastError: status?.lastError,
          nextAttemptAt: status?.nextAttemptAt?.toISOString(),
        };
      }),
    );
  }

  /** When the first of the served certificates is due for renewal (epoch ms), if any. */
  soonestRenewal(): number | undefined {
    const times = [...this.served.values()].map((cert) => renewalTime(cert));
    return times.length === 0 ? undefined : Math.min(...times);
  }

  stop(): void {
    this.stopped = true;
    for (const account of this.accounts.values()) account.manager.stop();
    this.challenges.close();
  }

  private open(settings: AcmeIssuerSettings): Account {
    const host = new URL(settings.directory).host.replace(/[^A-Za-z0-9.-]/g, "_");
    const dir = join(this.options.stateDir, "acme", `${host}-${settings.id}`);
    const store = new CertificateStore(dir);
    const managed = new Map<string, string[]>();
    const issuer = new AccountIssuer(settings, store, {
      issued: (names, cert) => this.onIssued(settings, names, cert),
      failed: (names, err) => this.onFailed(account, names, err),
    });
    const manager = new AcmeManager({
      issuer,
      store,
      responder: this.challenges,
      onCertificate: (names, cert) => {
        this.served.set(acmeRequestKey(settings.id, names), cert);
        this.options.changed();
      },
      ...(this.options.clock === undefined ? {} : { clock: this.options.clock }),
      ...(this.options.backoff === undefined ? {} : { backoff: this.options.backoff }),
    });
    const account: Account = { settings, manager, managed };
    this.accounts.set(settings.id, account);
    return account;
  }

  private onIssued(settings: AcmeIssuerSettings, names: string[], cert: IssuedCertificate): void {
    const renewal = this.served.has(acmeRequestKey(settings.id, names));
    this.issued.inc({ type: renewal ? "renewal" : "new" });
    // The serial tells certificates apart in the CA's logs; nothing here is secret.
    this.options.logger.info(
      {
        names,
        directory: settings.directory,
        serial: new X509Certificate(cert.certPem).serialNumber,
        notAfter: cert.notAfter.toISOString(),
      },
      renewal ? "ACME certificate renewed" : "ACME certificate issued",
    );
  }

  private onFailed(account: Account, names: string[], err: AcmeIssueError): void {
    this.failures.inc({ kind: err.kind });
    // The manager records the failure and schedules the retry once issue() has rejected: after
    // this turn of the event loop, the status says when, and the reconcile shows it.
    setImmediate(() => {
      const next = account.manager.status(names)?.nextAttemptAt;
      this.options.logger.warn(
        {
          names,
          directory: account.settings.directory,
          kind: err.kind,
          reason: err.message,
          ...(next === undefined ? {} : { nextAttemptAt: next.toISOString() }),
        },
        this.served.has(acmeRequestKey(account.settings.id, names))
          ? "ACME renewal failed; the current certificate keeps serving"
          : "ACME order failed",
      );
      if (!this.stopped) this.options.changed();
    });
  }
}

interface IssueEvents {
  issued(names: string[], cert: IssuedCertificate): void;
  failed(names: string[], err: AcmeIssueError): void;
}

/** An AcmeIssuer for one account, created once its key is read from (or made in) the state folder. */
class AccountIssuer implements CertificateIssuer {
  private issuer: Promise<AcmeIssuer> | undefined;

  constructor(
    private readonly settings: AcmeIssuerSettings,
    private readonly store: CertificateStore,
    private readonly events: IssueEvents,
  ) {}

  async issue(names: string[], responder: ChallengeResponder): Promise<IssuedCertificate> {
    let cert: IssuedCertificate;
    try {
      const issuer = await this.client();
      cert = await issuer.issue(names, responder);
    } catch (err) {
      const error =
        err instanceof AcmeIssueError ? err : new AcmeIssueError("other", err instanceof Error ? err.message : String(err));
      this.events.failed(names, error);
      throw error;
    }
    this.events.issued(names, cert);
    return cert;
  }

  private client(): Promise<AcmeIssuer> {
    // acme-client is loaded with the first order: a gateway without ACME never pays for it.
    this.issuer ??= Promise.all([this.store.accountKeyPem(), import("../certs/acme.js")]).then(
      ([accountKeyPem, { AcmeIssuer }]) =>
        new AcmeIssuer({
          directoryUrl: this.settings.directory,
          accountKeyPem,
          ...(this.settings.email === undefined ? {} : { email: this.settings.email }),
          ...(this.settings.caBundle === undefined ? {} : { caBundlePem: this.settings.caBundle }),
        }),
      (err: Error) => {
        // Tried again at the next attempt: the folder may be fixed by then.
        this.issuer = undefined;
        throw new AcmeIssueError("other", `state folder ${this.store.dir}: ${err.message}`);
      },
    );
    return this.issuer;
  }
}
