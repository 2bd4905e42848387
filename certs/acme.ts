// Orders certificates from an ACME CA (Let's Encrypt, pebble) through acme-client, with
// HTTP-01 only. Every failure comes back as an AcmeIssueError whose kind tells the scheduler
// what happened: CA unreachable, rate limited, challenge failed, or something else.
import { AsyncLocalStorage } from "node:async_hooks";
import * as http from "node:http";
import * as https from "node:https";
import { rootCertificates } from "node:tls";
import acme, { type Authorization, type Client } from "acme-client";
import type { ChallengeResponder } from "./http01.js";
import { AcmeIssueError, type CertificateIssuer, type IssuedCertificate } from "./issuing.js";
import { canonicalNames } from "./names.js";
import { inspectChain } from "./pem.js";

export { AcmeIssueError, type CertificateIssuer, type IssuedCertificate, type IssueErrorKind } from "./issuing.js";

export interface AcmeIssuerOptions {
  directoryUrl: string;
  email?: string;
  accountKeyPem: string;
  /** Extra CA to trust for the ACME server's own HTTPS (pebble), for this issuer only. */
  caBundlePem?: string;
}

const RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited";
// acme-client retries these itself; seeing one says nothing about why an order failed.
const BAD_NONCE = "urn:ietf:params:acme:error:badNonce";
const REQUEST_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 5_000;

// What one issue() call's HTTP requests share. acme-client talks through one axios instance for
// the whole process, so its hooks find the calling issuer through async context, not globals.
interface RequestScope {
  agent: https.Agent | undefined;
  problemType?: string;
  retryAfterMs?: number;
}
const requestScope = new AsyncLocalStorage<RequestScope>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  acme.axios.interceptors.request.use((config) => {
    const scope = requestScope.getStore();
    if (scope === undefined) return config;
    if (scope.agent !== undefined) config.httpsAgent = scope.agent;
    config.timeout ||= REQUEST_TIMEOUT_MS;
    // acme-client itself retries refused connections, 429s and 5xx five times, sleeping up to
    // 75 s, or for Retry-After, which for a rate limit can be hours. The scheduler owns retries
    // (status, jittered back-off), so these requests start with acme-client's retries used up.
    const retries = config as { retryAttempt?: number };
    retries.retryAttempt ??= Number.MAX_SAFE_INTEGER;
    return config;
  });
  // Remembers the problem in the latest response: acme-client throws right after a failing
  // one, but keeps only its `detail` text, and the type is what tells a rate limit apart.
  acme.axios.interceptors.response.use((response) => {
    const scope = requestScope.getStore();
    const problem = problemOf(response.data);
    if (scope !== undefined && problem !== BAD_NONCE) {
      scope.problemType = problem;
      scope.retryAfterMs = problem === undefined ? undefined : parseRetryAfter(response.headers["retry-after"]);
    }
    return response;
  });
}

export class AcmeIssuer implements CertificateIssuer {
  private readonly client: Client;
  private readonly agent: https.Agent | undefined;
  private accountReady = false;

  constructor(private readonly options: AcmeIssuerOptions) {
    installHooks();
    // Added to the public roots rather than replacing them, so a private CA bundle for a
    // proxy in front of a public CA keeps working.
    const ca = options.caBundlePem;
    this.agent = ca === undefined ? undefined : new https.Agent({ ca: [...rootCertificates, ca], keepAlive: true });
    this.client = new acme.Client({
      directoryUrl: options.directoryUrl,
      accountKey: options.accountKeyPem,
      // Polling for challenge and order status: start at 1 s, not acme-client's 5 s.
      backoffMin: 1000,
      backoffMax: 10_000,
      backoffAttempts: 10,
    });
  }

  async issue(names: string[], responder: ChallengeResponder): Promise<IssuedCertificate> {
    const canonical = canonicalNames(names);
    const wildcard = canonical.find((name) => name.startsWith("*."));
    if (wildcard !== undefined) throw new AcmeIssueError("other", `${wildcard}: wildcards need DNS-01, not offered`);
    const scope: RequestScope = { agent: this.agent };
    const progress = { phase: "account" };
    try {
      return await requestScope.run(scope, () => this.order(canonical, responder, progress));
    } catch (err) {
      throw await this.classify(err, scope, progress.phase);
    }
  }

  private async order(names: string[], responder: ChallengeResponder, progress: { phase: string }) {
    if (!this.accountReady) {
      const contact = this.options.email === undefined ? {} : { contact: [`mailto:${this.options.email}`] };
      // Configuring a CA is taken as agreeing to its terms, as Caddy does.
      await this.client.createAccount({ termsOfServiceAgreed: true, ...contact });
      this.accountReady = true;
    }
    progress.phase = "order";
    const order = await this.client.createOrder({ identifiers: names.map((value) => ({ type: "dns", value })) });
    const authorizations = await this.client.getAuthorizations(order);
    progress.phase = "challenge";
    for (const authz of authorizations) await this.authorize(authz, responder);
    progress.phase = "finalize";
    const keyPem = (await acme.crypto.createPrivateEcdsaKey("P-256")).toString();
    const [, csr] = await acme.crypto.createCsr({ altNames: [...names] }, keyPem);
    const finalized = await this.client.finalizeOrder(order, csr);
    const certPem = await this.client.getCertificate(finalized);
    const { notBefore, notAfter } = inspectChain(certPem, keyPem, names);
    return { names, certPem, keyPem, notBefore, notAfter };
  }

  private async authorize(authz: Authorization, responder: ChallengeResponder): Promise<void> {
    if (authz.status === "valid") return; // reused from an earlier order
    const challenge = authz.challenges.find((c) => c.type === "http-01");
    if (challenge === undefined) throw new Error(`the CA offers no HTTP-01 challenge for ${authz.identifier.value}`);
    const keyAuthorization = await this.client.getChallengeKeyAuthorization(challenge);
    await responder.set(challenge.token, keyAuthorization);
    try {
      await this.client.completeChallenge(challenge);
      await this.client.waitForValidStatus(challenge);
    } finally {
      // A failing remove must not hide why the challenge failed; a stale token only answers
      // a request nobody will make again.
      await Promise.resolve()
        .then(() => responder.remove(challenge.token))
        .catch(() => undefined);
    }
  }

  private async classify(err: unknown, scope: RequestScope, phase: string): Promise<AcmeIssueError> {
    if (err instanceof AcmeIssueError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (scope.problemType === RATE_LIMITED) {
      return new AcmeIssueError("rate-limited", `rate limited by the CA: ${message}`, RATE_LIMITED, scope.retryAfterMs);
    }
    if (phase === "challenge" && scope.problemType !== undefined) {
      return new AcmeIssueError("challenge-failed", `HTTP-01 challenge failed: ${message}`, scope.problemType);
    }
    // acme-client turns transport errors into a TypeError without the socket's error code, so
    // whether the CA is down is asked directly instead of guessed from the message.
    const unreachable = scope.problemType === undefined ? await this.probe() : undefined;
    if (unreachable !== undefined) {
      return new AcmeIssueError("unreachable", `ACME server ${this.options.directoryUrl} unreachable: ${unreachable}`);
    }
    if (phase === "challenge") return new AcmeIssueError("challenge-failed", `HTTP-01 challenge failed: ${message}`);
    return new AcmeIssueError("other", `ACME ${phase} failed: ${message}`, scope.problemType);
  }

  /** Resolves with a reason if the directory cannot be fetched at all, undefined if it answers. */
  private probe(): Promise<string | undefined> {
    const url = new URL(this.options.directoryUrl);
    const get = url.protocol === "https:" ? https.get : http.get;
    return new Promise((resolve) => {
      const agent = url.protocol === "https:" ? this.agent : undefined;
      const request = get(url, { agent, timeout: PROBE_TIMEOUT_MS }, (res) => {
        res.resume();
        resolve(undefined);
      });
      request.on("timeout", () => request.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
      request.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  }
}

// The problem type of an error response, or of the `error` in an invalid challenge or order.
function problemOf(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { type, error } = data as { type?: unknown; error?: unknown };
  if (typeof type === "string" && type.startsWith("urn:ietf:params:acme:error:")) return type;
  return error === undefined ? undefined : problemOf(error);
}

function parseRetryAfter(header: unknown): number | undefined {
  if (typeof header !== "string" || header === "") return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
