// backendRefs resolved as kube-proxy does: Service port -> its name -> that port of every
// EndpointSlice of the Service -> ready addresses. targetPort is never dialled.
import type { Endpoint } from "../../gateway/snapshot.js";
import {
  endpointSliceSchema,
  type Resource,
  referenceGrantSpecSchema,
  serviceSpecSchema,
} from "../resources.js";

export type Resolution =
  | { ok: true; namespace: string; service: string; port: number; endpoints: Endpoint[] }
  | {
      ok: false;
      reason: "BackendNotFound" | "InvalidKind" | "RefNotPermitted" | "UnsupportedValue";
      message: string;
    };

export interface BackendRefLike {
  group?: string | undefined;
  kind?: string | undefined;
  name: string;
  namespace?: string | undefined;
  port?: number | undefined;
}

export class BackendIndex {
  private readonly services = new Map<string, Resource>();
  private readonly slices = new Map<string, Resource[]>();
  private readonly grants: Resource[] = [];

  constructor(resources: Resource[]) {
    for (const r of resources) {
      const ns = r.metadata.namespace;
      if (r.kind === "Service") this.services.set(`${ns}/${r.metadata.name}`, r);
      else if (r.kind === "EndpointSlice") {
        const svc = r.metadata.labels?.["kubernetes.io/service-name"];
        if (svc === undefined) continue;
        const key = `${ns}/${svc}`;
        const list = this.slices.get(key) ?? [];
        list.push(r);
        this.slices.set(key, list);
      } else if (r.kind === "ReferenceGrant") this.grants.push(r);
    }
  }

  /** May an object of `fromKind` in `fromNs` refer to `toKind` `toName` in `toNs`? */
  granted(
    fromKind: string,
    fromNs: string,
    toGroup: string,
    toKind: string,
    toNs: string,
    toName: string,
  ): boolean {
    if (fromNs === toNs) return true;
    return this.grants.some((g) => {
      if (g.metadata.namespace !== toNs) return false;
      const spec = referenceGrantSpecSchema.safeParse(g.body["spec"]);
      if (!spec.success) return false;
      const fromOk = spec.data.from.some(
        (f) => f.group === "gateway.networking.k8s.io" && f.kind === fromKind && f.namespace === fromNs,
      );
      const toOk = spec.data.to.some(
        (t) => t.group === toGroup && t.kind === toKind && (t.name === undefined || t.name === toName),
      );
      return fromOk && toOk;
    });
  }

  resolve(ref: BackendRefLike, routeKind: string, routeNs: string): Resolution {
    const group = ref.group ?? "";
    const kind = ref.kind ?? "Service";
    if (group !== "" || kind !== "Service") {
      return {
        ok: false,
        reason: "InvalidKind",
        message: `backendRef kind ${group ? `${group}/` : ""}${kind} is not supported`,
      };
    }
    const ns = ref.namespace ?? routeNs;
    if (!this.granted(routeKind, routeNs, "", "Service", ns, ref.name)) {
      return {
        ok: false,
        reason: "RefNotPermitted",
        message: `no ReferenceGrant in ${ns} allows ${routeKind} from ${routeNs} to Service ${ref.name}`,
      };
    }
    if (ref.port === undefined)
      return {
        ok: false,
        reason: "UnsupportedValue",
        message: `backendRef to Service ${ns}/${ref.name} needs a port`,
      };
    const svc = this.services.get(`${ns}/${ref.name}`);
    if (svc === undefined)
      return { ok: false, reason: "BackendNotFound", message: `Service ${ns}/${ref.name} not found` };
    const spec = serviceSpecSchema.safeParse(svc.body["spec"] ?? {});
    const servicePort = spec.success ? spec.data.ports?.find((p) => p.port === ref.port) : undefined;
    if (servicePort === undefined) {
      return {
        ok: false,
        reason: "BackendNotFound",
        message: `Service ${ns}/${ref.name} has no port ${ref.port}`,
      };
    }
    const portName = servicePort.name ?? "";
    const seen = new Set<string>();
    const endpoints: Endpoint[] = [];
    for (const slice of this.slices.get(`${ns}/${ref.name}`) ?? []) {
      const parsed = endpointSliceSchema.safeParse(slice.body);
      if (!parsed.success) continue;
      const slicePort = (parsed.data.ports ?? []).find((p) => (p.name ?? "") === portName);
      if (slicePort?.port === undefined || slicePort.port === null) continue;
      for (const ep of parsed.data.endpoints ?? []) {
        if (ep.conditions?.ready === false) continue;
        for (const address of ep.addresses) {
          const key = `${address}:${slicePort.port}`;
          if (seen.has(key)) continue;
          seen.add(key);
          endpoints.push({ address, port: slicePort.port, weight: 1 });
        }
      }
    }
    return { ok: true, namespace: ns, service: ref.name, port: ref.port, endpoints };
  }
}
