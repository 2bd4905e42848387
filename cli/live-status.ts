// What a running gateway serves, read from its admin /status, beside what the files say: a
// broken file shows no routes in the files while the last good configuration still serves.
import { z } from "zod";
import type { GatewayStatus, RouteStatus, StatusReport } from "../controller/status/report.js";

const conditionSchema = z.looseObject({ type: z.string(), status: z.string(), reason: z.string(), message: z.string() });
const listenerSchema = z.looseObject({ name: z.string(), port: z.number(), protocol: z.string(), conditions: z.array(conditionSchema) });
const gatewaySchema = z.looseObject({ namespace: z.string(), name: z.string(), conditions: z.array(conditionSchema), listeners: z.array(listenerSchema) });
const routeSchema = z.looseObject({
  namespace: z.string(),
  name: z.string(),
  parents: z.array(z.looseObject({ conditions: z.array(conditionSchema) })),
});
const servedSchema = z.object({
  gateways: z.array(gatewaySchema).default([]),
  httpRoutes: z.array(routeSchema).default([]),
  tlsRoutes: z.array(routeSchema).default([]),
});
const liveSchema = servedSchema.extend({
  version: z.string().optional(),
  config: z.string().optional(),
  servingVersion: z.number().nullable().optional(),
  refused: z.array(z.string()).optional(),
  served: servedSchema.nullable().optional(),
});

type Served = z.output<typeof servedSchema>;
export type LiveStatus = z.output<typeof liveSchema>;

export type LiveAnswer = { ok: true; status: LiveStatus } | { ok: false; reason: string };

/** GET http://ADDRESS/status within `timeoutMs`; never rejects. */
export async function fetchLiveStatus(address: string, timeoutMs: number): Promise<LiveAnswer> {
  let body: unknown;
  try {
    const res = await fetch(`http://${address}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) return { ok: false, reason: `/status answered ${res.status}` };
    body = await res.json();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { ok: false, reason: cause ?? (error as Error).message };
  }
  const parsed = liveSchema.safeParse(body);
  return parsed.success ? { ok: true, status: parsed.data } : { ok: false, reason: "its /status is not a meshgate status" };
}

/** What is served: the last good configuration's status while the files are refused. */
export function servedPart(live: LiveStatus): Served {
  if (live.refused !== undefined && live.refused.length > 0) return live.served ?? { gateways: [], httpRoutes: [], tlsRoutes: [] };
  return live;
}

export interface Difference {
  object: string;
  files: string;
  serving: string;
}

type ConditionLike = { type: string; status: string; reason: string };

function listenerStates(gateways: readonly Pick<GatewayStatus, "namespace" | "name" | "listeners">[] | Served["gateways"]): Map<string, string> {
  const states = new Map<string, string>();
  for (const g of gateways)
    for (const l of g.listeners) {
      const programmed = (l.conditions as ConditionLike[]).find((c) => c.type === "Programmed");
      const state = programmed === undefined ? "-" : programmed.status === "True" ? "Programmed" : `not programmed (${programmed.reason})`;
      states.set(`Listener ${g.namespace}/${g.name}/${l.name} :${l.port} ${l.protocol}`, state);
    }
  return states;
}

function routeStates(kind: string, routes: readonly Pick<RouteStatus, "namespace" | "name" | "parents">[] | Served["httpRoutes"], into: Map<string, string>): void {
  for (const r of routes) {
    const accepted = r.parents.map((p) => (p.conditions as ConditionLike[]).find((c) => c.type === "Accepted"));
    const yes = accepted.some((c) => c?.status === "True");
    const reason = accepted.find((c) => c !== undefined && c.status !== "True")?.reason;
    into.set(`${kind} ${r.namespace}/${r.name}`, yes ? "Accepted" : `refused (${reason ?? "no parentRefs"})`);
  }
}

function states(report: Pick<StatusReport, "gateways" | "httpRoutes" | "tlsRoutes"> | Served): Map<string, string> {
  const out = listenerStates(report.gateways);
  routeStates("HTTPRoute", report.httpRoutes, out);
  routeStates("TLSRoute", report.tlsRoutes, out);
  return out;
}

/** Listeners and routes whose state differs between the files and the gateway, or that only one has. */
export function differences(files: StatusReport, live: LiveStatus): Difference[] {
  const inFiles = states(files);
  const served = states(servedPart(live));
  const names = [...new Set([...inFiles.keys(), ...served.keys()])].sort();
  return names
    .map((object) => ({ object, files: inFiles.get(object) ?? "-", serving: served.get(object) ?? "-" }))
    .filter((d) => d.files !== d.serving);
}

/** Something the gateway refuses or does not serve: the files were refused, or a served listener or route is not. */
export function liveHasProblems(live: LiveStatus): boolean {
  if (live.refused !== undefined && live.refused.length > 0) return true;
  return [...states(servedPart(live)).values()].some((s) => s !== "Programmed" && s !== "Accepted");
}

export function formatLive(address: string, live: LiveStatus, diffs: readonly Difference[]): string {
  const who = `gateway at ${address}${live.version === undefined ? "" : ` (meshgate ${live.version})`}`;
  const serving = live.servingVersion == null ? "serving nothing yet" : `serving configuration version ${live.servingVersion}`;
  const lines = [`LIVE: ${who}, ${serving}`];
  if (live.refused !== undefined && live.refused.length > 0) {
    lines.push("  it REFUSES the current files and keeps serving its last good configuration:", ...live.refused.map((r) => `    ${r.trimEnd().replaceAll("\n", "\n    ")}`));
  }
  if (diffs.length === 0) {
    lines.push("  it serves the listeners and routes the files say");
    return `${lines.join("\n")}\n`;
  }
  const width = (pick: (d: Difference) => string, head: string) => Math.max(head.length, ...diffs.map((d) => pick(d).length));
  const w0 = width((d) => d.object, "WHERE FILES AND SERVING DIFFER");
  const w1 = width((d) => d.files, "FILES");
  lines.push(
    `${"WHERE FILES AND SERVING DIFFER".padEnd(w0)}  ${"FILES".padEnd(w1)}  SERVING`,
    ...diffs.map((d) => `${d.object.padEnd(w0)}  ${d.files.padEnd(w1)}  ${d.serving}`),
  );
  return `${lines.join("\n")}\n`;
}
