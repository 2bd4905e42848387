// TLSRoutes -> passthrough routes: each backendRef resolved like an HTTPRoute's (Service port,
// EndpointSlices, ReferenceGrant), its weight shared among its ready endpoints, since the data
// plane picks an endpoint per connection.
import type { PassthroughRouteInput } from "../../gateway/snapshot.js";
import type { ResourceOf } from "../resources/index.js";
import { type AttachableRoute, noteUnresolved } from "./attach.js";
import type { BackendIndex } from "./backends.js";

export interface CompiledTlsRoute extends AttachableRoute {
  kind: "TLSRoute";
  resource: ResourceOf<"TLSRoute">;
  created: string;
  backends: PassthroughRouteInput["backends"];
}

/** Endpoint weights are scaled so a backendRef's share survives integer rounding. */
const WEIGHT_SCALE = 1000;

export function compileTlsRoute(route: ResourceOf<"TLSRoute">, backends: BackendIndex): CompiledTlsRoute {
  const ns = route.metadata.namespace;
  const compiled: CompiledTlsRoute = {
    kind: "TLSRoute",
    resource: route,
    id: `${ns}/${route.metadata.name}`,
    created: route.metadata.creationTimestamp ?? "",
    unsupported: [],
    backends: [],
  };
  if (route.spec.rules.length > 1) compiled.unsupported.push("only one rule per TLSRoute is supported");
  for (const ref of route.spec.rules[0]?.backendRefs ?? []) {
    const resolution = backends.resolve(ref, "TLSRoute", ns);
    if (!resolution.ok) {
      noteUnresolved(compiled, resolution.reason, resolution.message);
      continue;
    }
    const endpoints = resolution.endpoints;
    for (const ep of endpoints) {
      const weight = ref.weight === 0 ? 0 : Math.max(1, Math.round((ref.weight * WEIGHT_SCALE) / endpoints.length));
      compiled.backends.push({ address: ep.address, port: ep.port, weight });
    }
  }
  return compiled;
}
