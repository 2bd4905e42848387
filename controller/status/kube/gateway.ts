// Gateway status: its conditions, one entry per listener (supportedKinds, attachedRoutes,
// conditions), and the addresses it is reachable at, which come from outside the report (the
// Gateway's Service: LoadBalancer ingress IP or hostname).
import type { GatewayStatus, ListenerStatus } from "../report.js";
import { mergeConditions } from "./conditions.js";
import { isRecord, itemsOf, type JsonObject, recordOf } from "./json.js";

export interface GatewayAddress {
  type: "IPAddress" | "Hostname";
  value: string;
}

export interface GatewayInputs {
  /**
   * Where the Gateway is reachable. undefined means not known (yet): what is written stays, so a
   * momentary miss never wipes an address users rely on; [] removes them.
   */
  addresses: readonly GatewayAddress[] | undefined;
  now: string;
}

/** The CRD's limit on status.addresses. */
const MAX_ADDRESSES = 16;
const GATEWAY_TYPES = new Set(["Accepted", "Programmed"]);
const LISTENER_TYPES = new Set(["Accepted", "Conflicted", "ResolvedRefs", "Programmed"]);

export function gatewayStatusBody(entry: GatewayStatus, current: unknown, inputs: GatewayInputs): JsonObject {
  const status = recordOf(current);
  const body: JsonObject = {
    ...status,
    conditions: mergeConditions(entry.conditions, status["conditions"], {
      now: inputs.now,
      owns: (t) => GATEWAY_TYPES.has(t),
    }),
    listeners: listeners(entry.listeners, status["listeners"], inputs.now),
  };
  if (inputs.addresses !== undefined) {
    const addresses = distinct(inputs.addresses).slice(0, MAX_ADDRESSES);
    if (addresses.length > 0) body["addresses"] = addresses;
    else delete body["addresses"];
  }
  return body;
}

/** Every listener is the Gateway's controller's: those no longer in the spec go. */
function listeners(desired: readonly ListenerStatus[], current: unknown, now: string): unknown[] {
  const byName = new Map<string, JsonObject>();
  for (const item of itemsOf(current)) if (isRecord(item) && typeof item["name"] === "string") byName.set(item["name"], item);
  return desired.map((l) => {
    const existing = byName.get(l.name);
    return {
      ...existing,
      name: l.name,
      supportedKinds: l.supportedKinds.map((k) => ({ group: k.group, kind: k.kind })),
      attachedRoutes: l.attachedRoutes,
      conditions: mergeConditions(l.conditions, existing?.["conditions"], { now, owns: (t) => LISTENER_TYPES.has(t) }),
    };
  });
}

function distinct(addresses: readonly GatewayAddress[]): GatewayAddress[] {
  const seen = new Set<string>();
  return addresses
    .filter((a) => {
      const key = `${a.type}/${a.value}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((a) => ({ type: a.type, value: a.value }));
}
