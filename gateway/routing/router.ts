// Per-port routing: picks the listener by hostname, then the first matching entry of that
// listener, by hostname specificity then given order.
import type { PortConfig } from "../snapshot.js";
import type { MirrorFactory } from "./action.js";
import { HostnameTable, parseHostPattern } from "./hostnames.js";
import { type Candidates, ListenerRoutes } from "./listener-routes.js";
import type { RouteMatch } from "./matcher.js";
import type { RequestInfo } from "./request.js";
import { runNow, type Steps } from "./steps.js";

export type { CompiledAction, CompiledBackend, MirrorFactory } from "./action.js";
export type { CompiledHeaderModifier, CompiledRedirect, CompiledRewrite } from "./filters.js";
export type { RouteMatch } from "./matcher.js";

export class PortRouter {
  private readonly listeners = new HostnameTable<ListenerRoutes>();
  /**
   * Every hostname a listener or entry names exactly, resolved ahead to its listener's entries:
   * one Map lookup per request. Other hosts can only reach wildcard or any-host entries.
   */
  private readonly known = new Map<string, Candidates>();
  /** Each listener's hostname ("*" for a listener without one), for listenerHostname(). */
  private readonly hostnames = new HostnameTable<string>();

  /**
   * Compiles at once; throws only when something cannot compile, naming the listener and
   * entry. Without `port`, an empty router for build().
   */
  constructor(port?: PortConfig, mirrors?: MirrorFactory) {
    if (port !== undefined) runNow(this.fill(port, mirrors));
  }

  /** The same compilation in steps, for runSliced (steps.ts). */
  static *build(port: PortConfig, mirrors?: MirrorFactory): Steps<PortRouter> {
    const router = new PortRouter();
    yield* router.fill(port, mirrors);
    return router;
  }

  private *fill(port: PortConfig, mirrors: MirrorFactory | undefined): Steps<void> {
    for (const listener of port.listeners) {
      const pattern = parseHostPattern(listener.hostname);
      this.listeners.add(pattern, yield* ListenerRoutes.build(listener, mirrors));
      this.hostnames.add(pattern, listener.hostname?.toLowerCase() ?? "*");
    }
    const named = new Set<string>(this.listeners.exact.keys());
    for (const routes of this.allListeners()) for (const host of routes.exactHosts()) named.add(host);
    for (const host of named) {
      const listener = this.listeners.lookup(host);
      if (listener !== undefined) this.known.set(host, listener.candidates(host));
    }
  }

  /** undefined: no listener or no entry matches, which the proxy answers with 404. */
  route(req: RequestInfo): RouteMatch | undefined {
    let c = this.known.get(req.host);
    if (c === undefined) {
      const listener = this.listeners.lookup(req.host);
      if (listener === undefined) return undefined;
      c = listener.fallback(req.host);
    }
    return c.exact.match(req) ?? c.wildcard.match(req) ?? c.any.match(req);
  }

  /** The hostname of the listener that serves `host` ("*": one without a hostname), if any. */
  listenerHostname(host: string): string | undefined {
    return this.hostnames.lookup(host);
  }

  private allListeners(): ListenerRoutes[] {
    const all = [...this.listeners.exact.values(), ...this.listeners.wildcards.values()];
    if (this.listeners.any !== undefined) all.push(this.listeners.any);
    return all;
  }
}
