// HTTP-01 answers on their way to the gateway. acme-client asks the CA to validate as soon as
// set() resolves, so set() resolves only once a Snapshot carrying the answer has been applied:
// by then every HTTP port of the data plane serves it. One board serves every ACME account;
// tokens are random, so accounts cannot collide.
import { type ChallengeResponder, isChallengeToken } from "../certs/http01.js";

/** How long an answer may take to reach the gateway before the order gives up on it. */
const APPLY_TIMEOUT_MS = 15_000;

interface Waiter {
  keyAuthorization: string;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class ChallengeBoard implements ChallengeResponder {
  private readonly answers = new Map<string, string>();
  private readonly waiters = new Map<string, Waiter>();

  /** `changed` asks for a reconcile, which puts `current()` into the next Snapshot. */
  constructor(
    private readonly changed: () => void,
    private readonly timeoutMs = APPLY_TIMEOUT_MS,
  ) {}

  set(token: string, keyAuthorization: string): Promise<void> {
    if (!isChallengeToken(token)) return Promise.reject(new Error("an HTTP-01 token must be base64url"));
    // "<token>.<account key thumbprint>"; anything else would only fail later at the CA.
    if (!keyAuthorization.startsWith(`${token}.`) || !isChallengeToken(keyAuthorization.slice(token.length + 1))) {
      return Promise.reject(new Error("an HTTP-01 key authorization must be <token>.<thumbprint>"));
    }
    this.answers.set(token, keyAuthorization);
    this.settle(token, new Error("the HTTP-01 answer was replaced"));
    const served = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(
          token,
          new Error(`the gateway did not apply the HTTP-01 answer within ${this.timeoutMs / 1000} s (is the configuration refused?)`),
        );
      }, this.timeoutMs);
      this.waiters.set(token, { keyAuthorization, resolve, reject, timer });
    });
    this.changed();
    return served;
  }

  remove(token: string): void {
    if (!this.answers.delete(token)) return;
    this.settle(token, new Error("the HTTP-01 answer was withdrawn"));
    this.changed();
  }

  /** The answers the next Snapshot must carry, token -> key authorization. */
  current(): Record<string, string> {
    return Object.fromEntries(this.answers);
  }

  /** A Snapshot with these answers is now served: the set() calls they satisfy resolve. */
  applied(served: Readonly<Record<string, string>>): void {
    for (const [token, waiter] of this.waiters) {
      if (served[token] === waiter.keyAuthorization) this.settle(token);
    }
  }

  /** Fails every set() still waiting: the gateway is stopping. */
  close(): void {
    for (const token of [...this.waiters.keys()]) this.settle(token, new Error("the gateway is stopping"));
  }

  private settle(token: string, error?: Error): void {
    const waiter = this.waiters.get(token);
    if (waiter === undefined) return;
    this.waiters.delete(token);
    clearTimeout(waiter.timer);
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }
}
