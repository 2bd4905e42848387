// A port's route table, compiled once per Snapshot. A request first picks the most specific
// listener whose hostname covers its host (listener isolation: only that listener's entries
// count), then the first entry whose conditions hold, by hostname specificity then given order.
import type { PortConfig } from "../snapshot.js";
import type { MirrorFactory } from "./action.js";
import { HostnameTable, parseHostPattern } from "./hostnames.js";
import { type Candidates, ListenerRoutes } from "./listener-routes.js";
import type { RouteMatch } from "./matcher.js";
import type { RequestInfo } from "./request.js";

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

  /** Throws only when something cannot compile, naming the listener and entry. */
  constructor(port: PortConfig, mirrors?: MirrorFactory) {
    for (const listener of port.listeners) {
      const pattern = parseHostPattern(listener.hostname);
      this.listeners.add(pattern, new ListenerRoutes(listener, mirrors));
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
    const known = this.known.get(req.host);
    if (known !== undefined) return known.first.match(req) ?? known.rest.match(req);
    const listener = this.listeners.lookup(req.host);
    return listener === undefined ? undefined : listener.fallback(req.host).match(req);
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
