// The HTTPRoute CORS filter (Gateway API HTTPCORSFilter, GEP-1767) -> the Snapshot's CORS filter.
// What the CRD's schema and CEL rules would refuse is a problem here, with the value named.
import type { CorsConfig } from "../../gateway/snapshot.js";
import type { RouteFilterSpec } from "../resources/index.js";

type CorsSpec = NonNullable<RouteFilterSpec["cors"]>;

/** RFC 9110 methods, as HTTPMethodWithWildcard lists them (case-sensitive). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
/** scheme://host[:port]; the host may be "*" or start with "*." (one or more labels). */
const ORIGIN = new RegExp(`^https?://(\\*|(\\*\\.)?${LABEL}(\\.${LABEL})*)(:[0-9]{1,5})?$`);

/** Why `origin` is not an allowOrigins value, or undefined. */
export function originProblem(origin: string): string | undefined {
  if (origin === "*") return undefined;
  const lower = origin.toLowerCase();
  if (!ORIGIN.test(lower))
    return `allowOrigins "${origin}" is not "*" or scheme://host[:port] (scheme http or https; the host may start with "*.")`;
  const port = /:([0-9]+)$/.exec(lower)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
    return `allowOrigins "${origin}": port ${port} is not 1-65535`;
  return undefined;
}

/** The Snapshot's filter, or undefined with the problems pushed (each naming the value). */
export function convertCors(spec: CorsSpec, problems: string[]): CorsConfig | undefined {
  const before = problems.length;
  for (const o of spec.allowOrigins) {
    const p = originProblem(o);
    if (p !== undefined) problems.push(p);
  }
  if (spec.allowOrigins.includes("*") && spec.allowOrigins.length > 1)
    problems.push(`allowOrigins cannot contain "*" alongside other origins`);
  for (const m of spec.allowMethods) {
    if (m !== "*" && !METHODS.has(m))
      problems.push(`allowMethods "${m}" is not an HTTP method (${[...METHODS].join(", ")}, or "*"; case-sensitive)`);
  }
  if (spec.allowMethods.includes("*") && spec.allowMethods.length > 1)
    problems.push(`allowMethods cannot contain "*" alongside other methods`);
  for (const [field, names] of [
    ["allowHeaders", spec.allowHeaders],
    ["exposeHeaders", spec.exposeHeaders],
  ] as const) {
    for (const h of names) if (!HEADER_NAME.test(h)) problems.push(`${field} "${h}" is not an HTTP header name`);
  }
  const credentials = spec.allowCredentials === true;
  // Browsers read "*" in Access-Control-Expose-Headers literally when credentials are sent, and
  // the response's own header names are not known when the route is configured.
  if (credentials && spec.exposeHeaders.includes("*"))
    problems.push(`exposeHeaders "*" cannot be used with allowCredentials: true (name the headers)`);
  if (problems.length > before) return undefined;
  return {
    allowOrigins: spec.allowOrigins.map((o) => o.toLowerCase()),
    allowMethods: spec.allowMethods,
    allowHeaders: spec.allowHeaders,
    exposeHeaders: spec.exposeHeaders,
    allowCredentials: credentials,
    maxAgeSeconds: spec.maxAge,
  };
}
