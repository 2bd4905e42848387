// Reading a uWS request head: shared by plain requests and WebSocket upgrades.
import type { HttpRequest, HttpResponse } from "../uws.js";
import type { RequestEnvironment } from "./context.js";
import { wireValue } from "./wire-text.js";

const decoder = new TextDecoder();

/** The client's address; on a shared port, the one behind the hand-off connection. */
export function clientAddress(res: HttpResponse, env: RequestEnvironment): string {
  const peer = decoder.decode(res.getRemoteAddressAsText());
  return env.clientAliases === undefined ? peer : (env.clientAliases.clientOf(peer) ?? peer);
}

export interface RequestHead {
  /** Lower-case names, byte-string values (wire-text.ts); repeats joined (cookies with "; "). */
  headers: Record<string, string>;
  /** The head's size, for the header limit. */
  bytes: number;
  /** A value held bytes no field may carry (controls, DEL, bytes that were not UTF-8). */
  invalid: boolean;
  /** The client sent X-Forwarded-* headers of its own. */
  forwarded: boolean;
}

const X = 120; // "x"

/**
 * The request's headers, checked and converted to the bytes they are forwarded as. Must run
 * synchronously in the uWS handler. The map has no prototype: any name is just a key.
 */
export function readHeaders(req: HttpRequest): RequestHead {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let bytes = 0;
  let invalid = false;
  let forwarded = false;
  req.forEach((name, value) => {
    bytes += name.length + value.length + 4;
    const wire = wireValue(value);
    if (wire === undefined) {
      invalid = true;
      return;
    }
    if (name.charCodeAt(0) === X && name.startsWith("x-forwarded-")) forwarded = true;
    const prev = headers[name];
    headers[name] = prev === undefined ? wire : prev + (name === "cookie" ? "; " : ", ") + wire;
  });
  return { headers, bytes, invalid, forwarded };
}

/** RFC 3986 host (reg-name or IP literal) with an optional port; no userinfo, no path. */
const HOST = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{0,5})?$/;

/** Whether a Host header value is a host (and port) at all. */
export function validHost(host: string): boolean {
  return HOST.test(host);
}

/**
 * Host without port, lower-case, without a trailing dot (`a.test.` names the same host as
 * `a.test`). IPv6 literals keep their brackets.
 */
export function hostOf(host: string | undefined): string {
  if (host === undefined) return "";
  let end = host.length;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf("]");
    end = close < 0 ? host.length : close + 1;
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0) end = colon;
    if (end > 1 && host.charCodeAt(end - 1) === 46 /* . */) end--;
  }
  return host.slice(0, end).toLowerCase();
}
