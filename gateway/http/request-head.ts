// Reading a uWS request head: shared by plain requests and WebSocket upgrades.
import type { HttpRequest, HttpResponse } from "../uws.js";
import type { RequestEnvironment } from "./context.js";

const decoder = new TextDecoder();

/** The client's address; on a shared port, the one behind the hand-off connection. */
export function clientAddress(res: HttpResponse, env: RequestEnvironment): string {
  const peer = decoder.decode(res.getRemoteAddressAsText());
  return env.clientAliases === undefined ? peer : (env.clientAliases.clientOf(peer) ?? peer);
}

/**
 * Headers with lower-case names; repeated ones joined (cookies with "; "), plus the head's
 * size for the header limit. Must run synchronously in the uWS handler.
 */
export function readHeaders(req: HttpRequest): { headers: Record<string, string>; bytes: number } {
  const headers: Record<string, string> = Object.create(null);
  let bytes = 0;
  req.forEach((name, value) => {
    bytes += name.length + value.length + 4;
    const prev = headers[name];
    headers[name] = prev === undefined ? value : prev + (name === "cookie" ? "; " : ", ") + value;
  });
  return { headers, bytes };
}

/** Host without port, lower-case. IPv6 literals keep their brackets. */
export function hostOf(host: string | undefined): string {
  if (host === undefined) return "";
  let end = host.length;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf("]");
    end = close < 0 ? host.length : close + 1;
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0) end = colon;
  }
  return host.slice(0, end).toLowerCase();
}
