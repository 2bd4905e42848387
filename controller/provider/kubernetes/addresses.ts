// A Gateway's addresses as its Service's load balancer reports them. The Service is found by
// the label Gateway API implementations put on what they provision for a Gateway.
import type { RawObject } from "./reflector.js";

export const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";

export interface GatewayAddress {
  type: "IPAddress" | "Hostname";
  value: string;
}

export function addressesOfService(service: RawObject): GatewayAddress[] {
  const status = service["status"] as { loadBalancer?: { ingress?: unknown } } | undefined;
  const ingress = status?.loadBalancer?.ingress;
  if (!Array.isArray(ingress)) return [];
  const out: GatewayAddress[] = [];
  for (const entry of ingress as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const { ip, hostname } = entry as { ip?: unknown; hostname?: unknown };
    if (typeof ip === "string" && ip !== "") out.push({ type: "IPAddress", value: ip });
    else if (typeof hostname === "string" && hostname !== "") out.push({ type: "Hostname", value: hostname });
  }
  return out;
}
