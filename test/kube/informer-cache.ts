// The status writer's `current` callback as a controller gives it: client-node informers (list,
// then watch) over every namespace, read synchronously. Like any informer it lags behind writes,
// which is what the writer must cope with.
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, makeInformer } from "@kubernetes/client-node";
import { type CurrentObject, type ObjectRef, STATUS_KINDS, type StatusKind } from "../../controller/status/kube/objects.js";

interface Watched extends KubernetesObject {
  status?: unknown;
}

export interface InformerCache {
  current(ref: ObjectRef): CurrentObject | undefined;
  stop(): Promise<void>;
}

export async function informerCache(kubeConfig: KubeConfig, kinds: readonly StatusKind[]): Promise<InformerCache> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const informers = new Map<StatusKind, ReturnType<typeof makeInformer<Watched>>>();
  let stopped = false;
  for (const kind of kinds) {
    const { group, version, plural, namespaced } = STATUS_KINDS[kind];
    const list = (): Promise<KubernetesListObject<Watched>> =>
      namespaced ? api.listCustomObjectForAllNamespaces({ group, version, plural }) : api.listClusterCustomObject({ group, version, plural });
    const informer = makeInformer<Watched>(kubeConfig, `/apis/${group}/${version}/${plural}`, list);
    // A watch the test server drops is not this helper's subject: start it again.
    informer.on("error", () => {
      if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 500).unref();
    });
    await informer.start();
    informers.set(kind, informer);
  }
  return {
    current(ref) {
      const object = informers.get(ref.kind)?.get(ref.name, ref.namespace);
      if (object === undefined) return undefined;
      return { generation: object.metadata?.generation ?? 0, resourceVersion: object.metadata?.resourceVersion ?? "", status: object.status };
    },
    async stop() {
      stopped = true;
      for (const informer of informers.values()) await informer.stop();
    },
  };
}
