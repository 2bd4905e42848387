// Small port configurations for route-table tests: one action per entry, named after the
// listener and the entry's position unless the test names it.
import type { RequestInfo } from "../../gateway/routing/request.js";
import { PortRouter } from "../../gateway/routing/router.js";
import { type PortInput, portSchema } from "../../gateway/snapshot.js";

type ListenerInput = PortInput["listeners"][number];
type EntryInput = NonNullable<ListenerInput["entries"]>[number];
type ActionInput = NonNullable<ListenerInput["actions"]>[number];
type PathInput = EntryInput["match"]["path"];

export const exact = (value: string): PathInput => ({ type: "Exact", value });
export const prefix = (value: string): PathInput => ({ type: "PathPrefix", value });
export const regex = (value: string): PathInput => ({ type: "RegularExpression", value });

export interface EntrySpec {
  hostnames?: string[];
  path?: PathInput;
  method?: string;
  headers?: EntryInput["match"]["headers"];
  queryParams?: EntryInput["match"]["queryParams"];
  /** The action's route name; defaults to "<listener>#<index>". */
  route?: string;
  action?: Partial<ActionInput>;
}

export function listener(name: string, hostname: string | undefined, entries: EntrySpec[]): ListenerInput {
  return {
    name,
    gateway: "default/gw",
    ...(hostname !== undefined && { hostname }),
    entries: entries.map((e, i) => ({
      hostnames: e.hostnames ?? [],
      match: {
        path: e.path ?? prefix("/"),
        ...(e.method !== undefined && { method: e.method }),
        headers: e.headers ?? [],
        queryParams: e.queryParams ?? [],
      },
      action: i,
    })),
    actions: entries.map((e, i) => ({
      route: e.route ?? `${name}#${i}`,
      rule: String(i),
      backends: [{ cluster: "c", weight: 1 }],
      ...e.action,
    })),
  };
}

export function portRouter(...listeners: ListenerInput[]): PortRouter {
  return new PortRouter(portSchema.parse({ port: 80, protocol: "HTTP", listeners }));
}

export function req(host: string, path: string, extra: Partial<RequestInfo> = {}): RequestInfo {
  return { host, path, method: "GET", query: "", headers: {}, ...extra };
}

/** The route name a request reaches, undefined for a 404. */
export function routed(router: PortRouter, request: RequestInfo): string | undefined {
  return router.route(request)?.action.route;
}
