// The three calls the election makes on its Lease (get, create, replace), each bounded in time:
// a hung connection must not hold the loop past a retry. Replace carries the resourceVersion of
// the Lease it was read from, so the API server refuses it (409) if anyone wrote in between.
import {
  type ConfigurationOptions,
  CoordinationV1Api,
  type KubeConfig,
  Observable,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from "@kubernetes/client-node";
import { httpStatusOf } from "./api-errors.js";

export class LeaseClient {
  private readonly api: CoordinationV1Api;

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly name: string,
    private readonly timeoutMs: number,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  /** The Lease, or undefined when it does not exist. Other failures reject. */
  async get(cancel: AbortSignal): Promise<V1Lease | undefined> {
    try {
      return await this.bounded(cancel, (options) => this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }, options));
    } catch (error) {
      if (httpStatusOf(error) === 404) return undefined;
      throw error;
    }
  }

  create(lease: V1Lease, cancel: AbortSignal): Promise<V1Lease> {
    return this.bounded(cancel, (options) => this.api.createNamespacedLease({ namespace: this.namespace, body: lease }, options));
  }

  replace(lease: V1Lease, cancel: AbortSignal): Promise<V1Lease> {
    return this.bounded(cancel, (options) => this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: lease }, options));
  }

  /**
   * One call, aborted on `cancel` (stop()) or after timeoutMs, whichever comes first. A signal of
   * its own per call, unhooked afterwards: nothing accumulates on the long-lived `cancel` over
   * days of renewals every few seconds.
   */
  private async bounded<T>(cancel: AbortSignal, call: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timer = setTimeout(abort, this.timeoutMs);
    cancel.addEventListener("abort", abort, { once: true });
    if (cancel.aborted) abort();
    try {
      return await call(this.options(controller.signal));
    } finally {
      clearTimeout(timer);
      cancel.removeEventListener("abort", abort);
    }
  }

  private options(signal: AbortSignal): ConfigurationOptions {
    return {
      middleware: [
        {
          pre: (context: RequestContext) => {
            context.setSignal(signal);
            return new Observable(Promise.resolve(context));
          },
          post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
        },
      ],
      // After the kubeconfig's authentication, which the client adds itself.
      middlewareMergeStrategy: "append",
    };
  }
}
