// HTTPRoute filters -> the Snapshot's filters. A filter meshgate cannot apply is reported as a
// problem: the caller makes its rule answer 500 and the route Accepted=False UnsupportedValue.
// RequestMirror is not a Snapshot filter: it is handed back for the caller to resolve.
import type { Filter } from "../../gateway/snapshot.js";
import type { RouteFilterSpec } from "../resources/index.js";
import type { ServiceRefSpec } from "./backends.js";
import { convertCors } from "./cors.js";

/** A RequestMirror filter: its backend, still to resolve, and the share of requests it copies. */
export interface MirrorRef {
  backendRef: ServiceRefSpec;
  probability: number;
}

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;
type RedirectCode = (typeof REDIRECT_CODES)[number];

function isRedirectCode(code: number): code is RedirectCode {
  return (REDIRECT_CODES as readonly number[]).includes(code);
}

export function convertFilters(
  filters: readonly RouteFilterSpec[],
  where: string,
  problems: string[],
  /** Where RequestMirror filters go; without it (backendRef filters) they are not supported. */
  mirrors?: MirrorRef[],
): Filter[] {
  const out: Filter[] = [];
  const seen = new Set<string>();
  for (const f of filters) {
    const problem = (message: string) => problems.push(`${where}: ${message}`);
    // The CRD allows each of these (but RequestMirror) at most once per rule; a second one would silently override.
    if (seen.has(f.type) && f.type !== "RequestMirror") {
      problem(`filter ${f.type} appears more than once`);
      continue;
    }
    seen.add(f.type);
    switch (f.type) {
      case "RequestHeaderModifier":
      case "ResponseHeaderModifier": {
        const mod = f.type === "RequestHeaderModifier" ? f.requestHeaderModifier : f.responseHeaderModifier;
        if (mod === undefined) {
          problem(`filter ${f.type} is missing its settings`);
          break;
        }
        out.push(
          f.type === "RequestHeaderModifier"
            ? { type: f.type, requestHeaderModifier: mod }
            : { type: f.type, responseHeaderModifier: mod },
        );
        break;
      }
      case "RequestRedirect": {
        const r = f.requestRedirect;
        if (r === undefined) {
          problem("filter RequestRedirect is missing its settings");
          break;
        }
        if (!isRedirectCode(r.statusCode)) {
          problem(`redirect statusCode ${r.statusCode} is not supported (301, 302, 303, 307, 308)`);
          break;
        }
        if (r.scheme !== undefined && r.scheme !== "http" && r.scheme !== "https") {
          problem(`redirect scheme ${r.scheme} is not supported (http, https)`);
          break;
        }
        out.push({
          type: "RequestRedirect",
          requestRedirect: {
            ...(r.scheme !== undefined && { scheme: r.scheme }),
            ...(r.hostname !== undefined && { hostname: r.hostname }),
            ...(r.port !== undefined && { port: r.port }),
            ...(r.path !== undefined && { path: r.path }),
            statusCode: r.statusCode,
          },
        });
        break;
      }
      case "URLRewrite": {
        const rw = f.urlRewrite;
        if (rw === undefined) {
          problem("filter URLRewrite is missing its settings");
          break;
        }
        out.push({
          type: "URLRewrite",
          urlRewrite: {
            ...(rw.hostname !== undefined && { hostname: rw.hostname }),
            ...(rw.path !== undefined && { path: rw.path }),
          },
        });
        break;
      }
      case "RequestMirror": {
        const m = f.requestMirror;
        if (m === undefined) {
          problem("filter RequestMirror is missing its settings");
          break;
        }
        if (mirrors === undefined) {
          problem("filter RequestMirror is only supported on a rule, not on a backendRef");
          break;
        }
        mirrors.push({ backendRef: m.backendRef, probability: mirrorShare(m) });
        break;
      }
      case "CORS": {
        if (f.cors === undefined) {
          problem("filter CORS is missing its settings");
          break;
        }
        // A preflight is answered before a backend is chosen (by weight, at random): the same
        // origin would get different answers from one rule.
        if (mirrors === undefined) {
          problem("filter CORS is only supported on a rule, not on a backendRef");
          break;
        }
        const found: string[] = [];
        const cors = convertCors(f.cors, found);
        for (const message of found) problem(`filter CORS: ${message}`);
        if (cors !== undefined) out.push({ type: "CORS", cors });
        break;
      }
      default:
        problem(`filter ${f.type} is not supported`);
    }
  }
  if (seen.has("RequestRedirect") && seen.has("URLRewrite"))
    problems.push(`${where}: RequestRedirect and URLRewrite cannot be used together`);
  return out;
}

/** percent or fraction (the schema allows one at most, within range) as 0..1; neither is every request. */
function mirrorShare(m: NonNullable<RouteFilterSpec["requestMirror"]>): number {
  if (m.percent !== undefined) return m.percent / 100;
  if (m.fraction !== undefined) return m.fraction.numerator / m.fraction.denominator;
  return 1;
}
