// The three calls the election makes on its Lease (get, create, replace), each bounded in time:
// a hung connection must not hold the loop past a retry. Replace carries the resourceVersion of
// the Lease it was read from, so the API server refuses it (409) if anyone wrote in between.
import { httpStatusOf } from "./api-errors.js";
import type { Lease } from "./lease-record.js";

/** A JSON request to the API server (the controller's KubeClient.json); errors carry `code`. */
export type LeaseRequest = (method: string, path: string, body?: unknown, contentType?: string, signal?: AbortSignal) => Promise<unknown>;

export class LeaseClient {
  private readonly path: string;

  constructor(
    private readonly request: LeaseRequest,
    readonly namespace: string,
    readonly name: string,
    private readonly timeoutMs: number,
  ) {
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  }

  /** The Lease, or undefined when it does not exist. Other failures reject. */
  async get(cancel: AbortSignal): Promise<Lease | undefined> {
    try {
      return await this.bounded(cancel, (signal) => this.request("GET", `${this.path}/${encodeURIComponent(this.name)}`, undefined, undefined, signal));
    } catch (error) {
      if (httpStatusOf(error) === 404) return undefined;
      throw error;
    }
  }

  create(lease: Lease, cancel: AbortSignal): Promise<Lease> {
    return this.bounded(cancel, (signal) => this.request("POST", this.path, lease, "application/json", signal));
  }

  replace(lease: Lease, cancel: AbortSignal): Promise<Lease> {
    return this.bounded(cancel, (signal) => this.request("PUT", `${this.path}/${encodeURIComponent(this.name)}`, lease, "application/json", signal));
  }

  /**
   * One call, aborted on `cancel` (stop()) or after timeoutMs, whichever comes first. A signal of
   * its own per call, unhooked afterwards: nothing accumulates on the long-lived `cancel` over
   * days of renewals every few seconds.
   */
  private async bounded(cancel: AbortSignal, call: (signal: AbortSignal) => Promise<unknown>): Promise<Lease> {
    const controller = new AbortController();
    const abort = () => controller.abort(new TimeoutError());
    const timer = setTimeout(abort, this.timeoutMs);
    const cancelled = () => controller.abort();
    cancel.addEventListener("abort", cancelled, { once: true });
    if (cancel.aborted) cancelled();
    try {
      return (await call(controller.signal)) as Lease;
    } finally {
      clearTimeout(timer);
      cancel.removeEventListener("abort", cancelled);
    }
  }
}

/** What a call that ran out of time rejects with (describeApiError: reason "timeout"). */
class TimeoutError extends Error {
  override name = "TimeoutError";
  constructor() {
    super("no answer from the API server in time");
  }
}
