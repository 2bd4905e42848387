// Snapshot filters into the forms filters.ts applies per request. Runs once per Snapshot.
import { configBytes } from "../http/wire-text.js";
import type { Filter, HeaderModifier } from "../snapshot.js";
import { type CompiledCors, compileCors } from "./cors.js";
import type {
  CompiledHeaderModifier,
  CompiledPathModifier,
  CompiledRedirect,
  CompiledRewrite,
} from "./filters.js";

export interface CompiledFilters {
  requestHeaders: CompiledHeaderModifier | undefined;
  responseHeaders: CompiledHeaderModifier | undefined;
  rewrite: CompiledRewrite | undefined;
  redirect: CompiledRedirect | undefined;
  /** The CORS filter; undefined (one check per request) on most routes. */
  cors: CompiledCors | undefined;
}

type PathModifier = NonNullable<Extract<Filter, { type: "URLRewrite" }>["urlRewrite"]["path"]>;

export function compileFilters(filters: readonly Filter[]): CompiledFilters {
  const out: CompiledFilters = {
    requestHeaders: undefined,
    responseHeaders: undefined,
    rewrite: undefined,
    redirect: undefined,
    cors: undefined,
  };
  for (const f of filters) {
    switch (f.type) {
      case "RequestHeaderModifier":
        out.requestHeaders = compileHeaderModifier(f.requestHeaderModifier);
        break;
      case "ResponseHeaderModifier":
        out.responseHeaders = compileHeaderModifier(f.responseHeaderModifier);
        break;
      case "URLRewrite": {
        const { hostname, path } = f.urlRewrite;
        const rewrite: CompiledRewrite = {};
        if (hostname !== undefined) rewrite.hostname = hostname;
        if (path !== undefined) rewrite.path = compilePathModifier(path);
        out.rewrite = hostname === undefined && path === undefined ? undefined : rewrite;
        break;
      }
      case "RequestRedirect": {
        const { scheme, hostname, port, path, statusCode } = f.requestRedirect;
        const redirect: CompiledRedirect = { statusCode };
        if (scheme !== undefined) redirect.scheme = scheme;
        if (hostname !== undefined) redirect.hostname = hostname;
        if (port !== undefined) redirect.port = port;
        if (path !== undefined) redirect.path = compilePathModifier(path);
        out.redirect = redirect;
        break;
      }
      case "CORS":
        out.cors = compileCors(f.cors);
        break;
    }
  }
  return out;
}

/**
 * Lower-cases names once and turns values into the bytes they are sent as (wire-text.ts); a
 * modifier that changes nothing compiles to nothing.
 */
function compileHeaderModifier(mod: HeaderModifier): CompiledHeaderModifier | undefined {
  if (mod.set.length === 0 && mod.add.length === 0 && mod.remove.length === 0) return undefined;
  return {
    set: mod.set.map((h) => [h.name.toLowerCase(), configBytes(h.value)]),
    add: mod.add.map((h) => [h.name.toLowerCase(), configBytes(h.value)]),
    remove: mod.remove.map((name) => name.toLowerCase()),
  };
}

function compilePathModifier(path: PathModifier): CompiledPathModifier {
  return path.type === "ReplaceFullPath"
    ? { type: "ReplaceFullPath", value: path.replaceFullPath }
    : { type: "ReplacePrefixMatch", value: path.replacePrefixMatch };
}
