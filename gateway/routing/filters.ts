// Gateway API filters as pure functions over compiled forms: header modifiers, path rewrites
// and redirect locations.
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

/** Set replaces, add appends to an existing value, remove deletes; in that order. */
export function applyHeaderModifier(headers: Record<string, string>, mod: CompiledHeaderModifier): void {
  for (const [name, value] of mod.set) headers[name] = value;
  for (const [name, value] of mod.add) {
    const prior = headers[name];
    headers[name] = prior === undefined ? value : `${prior}, ${value}`;
  }
  for (const name of mod.remove) delete headers[name];
}

/** A PathPrefix value as compared by segments: no trailing slash except for "/" itself. */
export function normalisePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
}

/**
 * Applies a path modifier. ReplacePrefixMatch swaps the matched prefix for the replacement on
 * segment boundaries ("/foo" -> "/bar": "/foo/baz" -> "/bar/baz", "/foo" -> "/bar").
 */
export function rewritePath(
  path: string,
  matchedPrefix: string | undefined,
  rewrite: { path?: CompiledPathModifier },
): string {
  const modifier = rewrite.path;
  if (modifier === undefined) return path;
  if (modifier.type === "ReplaceFullPath") return modifier.value;
  if (matchedPrefix === undefined) return path;
  const prefix = normalisePrefix(matchedPrefix);
  const rest = prefix === "/" ? path : path.slice(prefix.length);
  const replacement = normalisePrefix(modifier.value);
  if (rest.length === 0 || rest === "/")
    return rest === "/" && replacement !== "/" ? `${replacement}/` : replacement;
  return replacement === "/" ? rest : replacement + rest;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

/** The absolute Location of a RequestRedirect, per the Gateway API's port and scheme rules. */
export function redirectLocation(
  req: RequestInfo,
  listenerScheme: "http" | "https",
  listenerPort: number,
  matchedPrefix: string | undefined,
  redirect: CompiledRedirect,
): string {
  const scheme = redirect.scheme ?? listenerScheme;
  const host = redirect.hostname ?? req.host;
  // A redirect that names a scheme but no port implies that scheme's well-known port.
  const port = redirect.port ?? (redirect.scheme !== undefined ? undefined : listenerPort);
  const portPart = port === undefined || port === DEFAULT_PORTS[scheme] ? "" : `:${port}`;
  const path = redirect.path === undefined ? req.path : rewritePath(req.path, matchedPrefix, redirect);
  const query = req.query.length > 0 ? `?${req.query}` : "";
  return `${scheme}://${host}${portPart}${path}${query}`;
}
