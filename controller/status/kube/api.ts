// The two calls the status writer makes: read an object, and merge-patch its status subresource
// under the resourceVersion it was computed from (a 409 when the object changed in between).
// Every Gateway API and meshgate.io kind is a custom resource: CustomObjectsApi serves them all.
import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { isRecord, type JsonObject } from "./json.js";
import { type CurrentObject, type ObjectRef, STATUS_KINDS } from "./objects.js";

/** An answer the API server gave (or none: `code` undefined for a connection that failed). */
export function httpCode(error: unknown): number | undefined {
  const code = isRecord(error) ? error["code"] : undefined;
  return typeof code === "number" ? code : undefined;
}

export interface StatusApi {
  /** The object, or undefined when the API server says 404. */
  read(ref: ObjectRef): Promise<CurrentObject | undefined>;
  /** Writes `status` (nulls remove keys) if the object is still at `resourceVersion`; returns it as stored. */
  patchStatus(ref: ObjectRef, resourceVersion: string, status: JsonObject): Promise<CurrentObject>;
}

export function statusApi(kubeConfig: KubeConfig, timeoutMs: number): StatusApi {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const where = (ref: ObjectRef) => {
    const k = STATUS_KINDS[ref.kind];
    return { group: k.group, version: k.version, plural: k.plural, name: ref.name };
  };
  return {
    async read(ref) {
      try {
        const object: unknown = await withTimeout(
          ref.namespace === undefined
            ? api.getClusterCustomObject(where(ref))
            : api.getNamespacedCustomObject({ ...where(ref), namespace: ref.namespace }),
          timeoutMs,
        );
        return currentOf(object);
      } catch (error) {
        if (httpCode(error) === 404) return undefined;
        throw error;
      }
    },
    async patchStatus(ref, resourceVersion, status) {
      const body = { metadata: { resourceVersion }, status };
      const object: unknown = await withTimeout(
        ref.namespace === undefined
          ? api.patchClusterCustomObjectStatus({ ...where(ref), body }, mergePatch)
          : api.patchNamespacedCustomObjectStatus({ ...where(ref), namespace: ref.namespace, body }, mergePatch),
        timeoutMs,
      );
      return currentOf(object);
    },
  };
}

/** What the writer keeps of an object: its generation, version and status, nothing else. */
export function currentOf(object: unknown): CurrentObject {
  const metadata = isRecord(object) && isRecord(object["metadata"]) ? object["metadata"] : {};
  const generation = metadata["generation"];
  const resourceVersion = metadata["resourceVersion"];
  return {
    generation: typeof generation === "number" ? generation : 0,
    resourceVersion: typeof resourceVersion === "string" ? resourceVersion : "",
    status: isRecord(object) ? object["status"] : undefined,
  };
}

/**
 * client-node sets no deadline: a request the network swallowed would hold a writer slot forever.
 * The request itself may still land later; its resourceVersion precondition makes that harmless.
 */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the API server within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
