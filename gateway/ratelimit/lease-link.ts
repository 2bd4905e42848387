// Carries a LocalLedger's leases over any transport that moves plain objects both ways, in order:
// worker_threads MessagePorts, child-process IPC (child.send / process.on("message")), and so on.
// The messages are plain data (strings and numbers only), so JSON serialisation carries them too,
// and their `type` tells them apart from a host's other messages on a shared channel.
//
//   supervisor                                   worker
//   ledger = new LocalLedger()                   link = new LeaseLink((m) => send(m))
//   on message m:                                on message m: link.receive(m)
//     reply = answerLeaseRequest(ledger, m)      RateLimits({ ..., eventLoops: workers,
//     if (reply) send(reply)                                  localShares: { channel: link.channel } })
import type { LeaseAsk, LeaseChannel, LeaseGrant, LocalLedger } from "./local-shares.js";

export const LEASE_REQUEST = "meshgate.lease";
export const LEASE_REPLY = "meshgate.leased";

/** Worker to supervisor: one turn's asks. */
export interface LeaseRequest {
  type: typeof LEASE_REQUEST;
  id: number;
  asks: LeaseAsk[];
}

/** Supervisor to worker: the grants, in the asks' order. */
export interface LeaseReply {
  type: typeof LEASE_REPLY;
  id: number;
  grants: LeaseGrant[];
}

/** Calls a LeaseLink forgets (and fails) when their answer has not come after this long. */
export const LEASE_FORGET_MS = 10_000;

export function isLeaseRequest(message: unknown): message is LeaseRequest {
  if (typeof message !== "object" || message === null) return false;
  const m = message as Partial<LeaseRequest>;
  return m.type === LEASE_REQUEST && Number.isSafeInteger(m.id) && Array.isArray(m.asks);
}

function isLeaseReply(message: unknown): message is LeaseReply {
  if (typeof message !== "object" || message === null) return false;
  const m = message as Partial<LeaseReply>;
  return m.type === LEASE_REPLY && Number.isSafeInteger(m.id);
}

/**
 * The supervisor's side: the reply to a worker's message, or undefined when the message is not
 * a lease request (another of the host's messages). Never throws; malformed asks are refused.
 */
export function answerLeaseRequest(ledger: LocalLedger, message: unknown): LeaseReply | undefined {
  if (!isLeaseRequest(message)) return undefined;
  return { type: LEASE_REPLY, id: message.id, grants: ledger.answer(message.asks) };
}

interface Pending {
  resolve: (grants: readonly LeaseGrant[]) => void;
  reject: (error: Error) => void;
  at: number;
}

/**
 * The worker's side: a LeaseChannel over `send`, answered by the replies handed to `receive`.
 * Unanswered calls are forgotten after `forgetAfterMs` (LocalShares has long answered their
 * requests from its share by then), so a supervisor that never answers leaves no growing state.
 */
export class LeaseLink {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(
    private readonly send: (request: LeaseRequest) => void,
    private readonly forgetAfterMs = LEASE_FORGET_MS,
  ) {}

  readonly channel: LeaseChannel = (asks) => {
    if (this.closed) return Promise.reject(new Error("lease link closed"));
    const now = Date.now();
    this.forgetStale(now);
    const id = this.nextId++;
    return new Promise<readonly LeaseGrant[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, at: now });
      try {
        this.send({ type: LEASE_REQUEST, id, asks: asks as LeaseAsk[] });
      } catch (error) {
        // A closed IPC channel throws: the call fails now rather than at the timeout.
        this.pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  };

  /** Hand every message from the supervisor here; true when it was a lease reply. */
  receive(message: unknown): boolean {
    if (!isLeaseReply(message)) return false;
    const call = this.pending.get(message.id);
    if (call !== undefined) {
      this.pending.delete(message.id);
      call.resolve(message.grants);
    }
    return true;
  }

  /** Calls waiting for an answer. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Fails every waiting call and every later one (the supervisor is gone for good). */
  close(): void {
    this.closed = true;
    for (const call of this.pending.values()) call.reject(new Error("lease link closed"));
    this.pending.clear();
  }

  /** Calls are kept in the order they were made: the stale ones are at the front. */
  private forgetStale(now: number): void {
    for (const [id, call] of this.pending) {
      if (call.at + this.forgetAfterMs > now) return;
      this.pending.delete(id);
      call.reject(new Error("the ledger never answered"));
    }
  }
}

/** A port as worker_threads and similar transports have it. */
export interface LeasePort {
  postMessage(message: unknown): void;
  on(event: "message", listener: (message: unknown) => void): unknown;
}

/** Supervisor: answers the lease requests that arrive on `port` (other messages are left alone). */
export function serveLedger(port: LeasePort, ledger: LocalLedger): void {
  port.on("message", (message) => {
    const reply = answerLeaseRequest(ledger, message);
    if (reply === undefined) return;
    try {
      port.postMessage(reply);
    } catch {
      // The worker is gone; it answers from its share until it is replaced.
    }
  });
}

/** Worker: a LeaseLink over `port` (its other messages are left alone). */
export function leaseLinkOn(port: LeasePort, forgetAfterMs = LEASE_FORGET_MS): LeaseLink {
  const link = new LeaseLink((request) => port.postMessage(request), forgetAfterMs);
  port.on("message", (message) => void link.receive(message));
  return link;
}
