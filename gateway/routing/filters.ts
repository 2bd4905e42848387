// Gateway API filters applied per request, over forms compiled when the Snapshot was applied:
// header modifiers, path rewrites and redirect locations.
import type { RequestInfo } from "./request.js";

export interface CompiledHeaderModifier {
  /** [lower-case name, value] pairs. */
  set: [string, string][];
  add: [string, string][];
  /** Lower-case names. */
  remove: string[];
}

export type CompiledPathModifier =
  | { type: "ReplaceFullPath"; value: string }
  | { type: "ReplacePrefixMatch"; value: string };

/** URLRewrite: a new Host and/or path for the upstream request. */
export interface CompiledRewrite {
  hostname?: string;
  path?: CompiledPathModifier;
}

export interface CompiledRedirect {
  scheme?: "http" | "https";
  hostname?: string;
  port?: number;
  path?: CompiledPathModifier;
  statusCode: number;
}

/** Set replaces, add appends to an existing value with ", ", remove deletes; in that order. */
export function applyHeaderModifier(headers: Record<string, string>, mod: CompiledHeaderModifier): void {
  for (const [name, value] of mod.set) headers[name] = value;
  for (const [name, value] of mod.add) {
    const prior = headers[name];
    headers[name] = typeof prior === "string" ? `${prior}, ${value}` : value;
  }
  for (const name of mod.remove) delete headers[name];
}

/** Drops trailing slashes: "/foo/" and "/foo" name the same prefix, and "/" names the empty one. */
export function trimTrailingSlashes(value: string): string {
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === 47) end--;
  return end === value.length ? value : value.slice(0, end);
}

/**
 * The path a rewrite or redirect produces. ReplacePrefixMatch swaps the matched prefix on segment
 * boundaries, trailing slashes of prefix and replacement ignored, as the HTTPPathModifier table
 * lays out: "/foo" → "/xyz" turns "/foo/bar" into "/xyz/bar", "/foo/" into "/xyz/", and
 * "/foo" → "" or "/" turns "/foo" into "/".
 */
export function rewritePath(
  path: string,
  matchedPrefix: string | undefined,
  rewrite: { path?: CompiledPathModifier },
): string {
  const modifier = rewrite.path;
  if (modifier === undefined) return path;
  if (modifier.type === "ReplaceFullPath") return modifier.value;
  // ReplacePrefixMatch only makes sense after a PathPrefix match that really covers the path.
  if (matchedPrefix === undefined) return path;
  const prefix = trimTrailingSlashes(matchedPrefix);
  if (!path.startsWith(prefix)) return path;
  const rewritten = trimTrailingSlashes(modifier.value) + path.slice(prefix.length);
  return rewritten.charCodeAt(0) === 47 ? rewritten : `/${rewritten}`;
}

const WELL_KNOWN_PORT = { http: 80, https: 443 } as const;

/**
 * The absolute Location of a RequestRedirect. Without a port in the filter, a filter scheme
 * implies that scheme's well-known port, otherwise the listener's port is kept; a port that is
 * the scheme's default is left out. The query string is carried over unchanged.
 */
export function redirectLocation(
  req: RequestInfo,
  scheme: "http" | "https",
  listenerPort: number,
  matchedPrefix: string | undefined,
  redirect: CompiledRedirect,
): string {
  const toScheme = redirect.scheme ?? scheme;
  const port = redirect.port ?? (redirect.scheme !== undefined ? WELL_KNOWN_PORT[toScheme] : listenerPort);
  const authority = redirect.hostname ?? req.host;
  const portPart = port === WELL_KNOWN_PORT[toScheme] ? "" : `:${port}`;
  const path = rewritePath(req.path, matchedPrefix, redirect);
  const query = req.query.length > 0 ? `?${req.query}` : "";
  return `${toScheme}://${authority}${portPart}${path}${query}`;
}
