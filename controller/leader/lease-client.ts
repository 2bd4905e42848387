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
      return await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }, this.options(cancel));
    } catch (error) {
      if (httpStatusOf(error) === 404) return undefined;
      throw error;
    }
  }

  create(lease: V1Lease, cancel: AbortSignal): Promise<V1Lease> {
    return this.api.createNamespacedLease({ namespace: this.namespace, body: lease }, this.options(cancel));
  }

  replace(lease: V1Lease, cancel: AbortSignal): Promise<V1Lease> {
    return this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: lease }, this.options(cancel));
  }

  /** Per call: abort on `cancel` (stop()) or after timeoutMs, whichever comes first. */
  private options(cancel: AbortSignal): ConfigurationOptions {
    const signal = AbortSignal.any([cancel, AbortSignal.timeout(this.timeoutMs)]);
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
