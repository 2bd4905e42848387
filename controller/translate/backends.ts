// backendRefs resolved as kube-proxy does: the Service port whose `port` is the ref's port ->
// its name -> the port of that name in every EndpointSlice of the Service -> ready addresses.
// targetPort is never dialled: the slices already carry the port the pods listen on.
import type { ClusterInput } from "../../gateway/snapshot.js";
import {
  type BackendRefSpec,
  GATEWAY_GROUP,
  ofKind,
  type Resource,
  type ResourceOf,
} from "../resources/index.js";

/** What resolving needs of a reference: a backendRef's or a RequestMirror's. */
export type ServiceRefSpec = Pick<BackendRefSpec, "group" | "kind" | "name" | "namespace" | "port">;

export type EndpointInput = NonNullable<ClusterInput["endpoints"]>[number];

export type Resolution =
  | { ok: true; namespace: string; service: string; port: number; endpoints: EndpointInput[] }
  | { ok: false; reason: "BackendNotFound" | "InvalidKind" | "RefNotPermitted"; message: string };

const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export class BackendIndex {
  private readonly services = new Map<string, ResourceOf<"Service">>();
  private readonly slices = new Map<string, ResourceOf<"EndpointSlice">[]>();
  private readonly grants: ResourceOf<"ReferenceGrant">[];

  constructor(resources: readonly Resource[]) {
    for (const s of ofKind(resources, "Service"))
      this.services.set(key(s.metadata.namespace, s.metadata.name), s);
    const slices = ofKind(resources, "EndpointSlice").sort((a, b) =>
      a.metadata.name.localeCompare(b.metadata.name),
    );
    for (const slice of slices) {
      const service = slice.metadata.labels[SERVICE_NAME_LABEL];
      if (service === undefined) continue;
      const k = key(slice.metadata.namespace, service);
      this.slices.set(k, [...(this.slices.get(k) ?? []), slice]);
    }
    this.grants = ofKind(resources, "ReferenceGrant");
  }

  /** May a `fromKind` (a Gateway API kind) in `fromNs` refer to `toKind` `toName` in `toNs`? */
  permitted(fromKind: string, fromNs: string, toGroup: string, toKind: string, toNs: string, toName: string) {
    if (fromNs === toNs) return true;
    return this.grants.some(
      (g) =>
        g.metadata.namespace === toNs &&
        g.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === fromKind && f.namespace === fromNs) &&
        g.spec.to.some(
          (t) => t.group === toGroup && t.kind === toKind && (t.name === undefined || t.name === toName),
        ),
    );
  }

  resolve(ref: ServiceRefSpec, routeKind: string, routeNs: string): Resolution {
    const ns = ref.namespace ?? routeNs;
    if (ref.group !== "" || ref.kind !== "Service") {
      const kind = ref.group === "" ? ref.kind : `${ref.group}/${ref.kind}`;
      return { ok: false, reason: "InvalidKind", message: `backendRef kind ${kind} is not supported` };
    }
    if (!this.permitted(routeKind, routeNs, "", "Service", ns, ref.name)) {
      return {
        ok: false,
        reason: "RefNotPermitted",
        message: `backendRef to Service ${ns}/${ref.name} is not permitted: no ReferenceGrant in ${ns} allows ${routeKind}s from ${routeNs}`,
      };
    }
    const service = this.services.get(key(ns, ref.name));
    if (service === undefined)
      return { ok: false, reason: "BackendNotFound", message: `Service ${ns}/${ref.name} not found` };
    const servicePort = service.spec.ports.find((p) => p.port === ref.port);
    if (servicePort === undefined || ref.port === undefined) {
      return {
        ok: false,
        reason: "BackendNotFound",
        message: `Service ${ns}/${ref.name} has no port ${ref.port ?? "(none given)"}`,
      };
    }
    return {
      ok: true,
      namespace: ns,
      service: ref.name,
      port: ref.port,
      endpoints: this.endpoints(ns, ref.name, servicePort.name),
    };
  }

  /** Ready address x slice port of `portName`, deduplicated; a slice port without a name is "". */
  private endpoints(ns: string, service: string, portName: string): EndpointInput[] {
    const seen = new Set<string>();
    const out: EndpointInput[] = [];
    for (const slice of this.slices.get(key(ns, service)) ?? []) {
      const port = slice.spec.ports.find((p) => p.name === portName)?.port;
      if (port == null) continue;
      for (const ep of slice.spec.endpoints) {
        // Unknown readiness (null) counts as ready, as kube-proxy does.
        if (ep.conditions.ready === false) continue;
        for (const address of ep.addresses) {
          const id = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
          if (seen.has(id)) continue;
          seen.add(id);
          const pod = ep.targetRef?.name;
          out.push({ address, port, ...(pod !== undefined && { name: pod }) });
        }
      }
    }
    return out;
  }
}

function key(ns: string, name: string): string {
  return `${ns}/${name}`;
}
