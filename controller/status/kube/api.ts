// The two calls the status writer makes: read an object, and merge-patch its status subresource
// under the resourceVersion it was computed from (a 409 when the object changed in between).
// Every Gateway API and meshgate.io kind is a custom resource under /apis/GROUP/VERSION.
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

/** A JSON request to the API server; rejects with an error whose `code` is the HTTP status. */
export type JsonRequest = (method: string, path: string, body?: unknown, contentType?: string) => Promise<unknown>;

/**
 * The two calls over the controller's keep-alive client (one TLS connection, not a handshake per
 * request as client-node 1.4's generated clients make).
 */
export function statusApiOver(request: JsonRequest): StatusApi {
  const path = (ref: ObjectRef) => {
    const k = STATUS_KINDS[ref.kind];
    const scope = ref.namespace === undefined ? "" : `/namespaces/${encodeURIComponent(ref.namespace)}`;
    return `/apis/${k.group}/${k.version}${scope}/${k.plural}/${encodeURIComponent(ref.name)}`;
  };
  return {
    async read(ref) {
      try {
        return currentOf(await request("GET", path(ref)));
      } catch (error) {
        if (httpCode(error) === 404) return undefined;
        throw error;
      }
    },
    async patchStatus(ref, resourceVersion, status) {
      const body = { metadata: { resourceVersion }, status };
      return currentOf(await request("PATCH", `${path(ref)}/status`, body, "application/merge-patch+json"));
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
