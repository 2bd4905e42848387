// Every problem in a status report as one flat list: load errors (one per field where the
// schema named several), each condition that needs action on a GatewayClass, Gateway,
// listener, route or policy, and each reason the Snapshot was refused. `meshgate validate`
// prints it; `meshgate status` exits 1 when it is not empty. Pure.
import type { LoadError } from "../resources/index.js";
import { type Condition, isProblem } from "./conditions.js";
import type { RouteParentStatus, RouteStatus, StatusReport } from "./report.js";

export interface Problem {
  /** The file the object came from, where known. */
  file?: string;
  kind: string;
  namespace?: string;
  name: string;
  /** The field, listener, parentRef or rule the problem is in. */
  field?: string;
  /** A condition's reason, or for what did not load: InvalidYAML, Invalid, Duplicate, Unreadable; SnapshotInvalid. */
  reason: string;
  message: string;
}

export interface ProblemOptions {
  /** "Kind/namespace/name" (or "Kind/name") -> the file it came from. */
  sources?: ReadonlyMap<string, string>;
  /** Reasons not counted as problems (validate leaves out Pending: no ACME CA is asked). */
  ignoreReasons?: readonly string[];
}

export function reportProblems(report: StatusReport, options: ProblemOptions = {}): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  const ignored = new Set(options.ignoreReasons ?? []);
  const add = (p: Problem) => {
    if (ignored.has(p.reason)) return;
    // A message said by two conditions of one place (ResolvedRefs and Programmed) is said once.
    const key = JSON.stringify([p.kind, p.namespace, p.name, p.field, p.message]);
    if (seen.has(key)) return;
    seen.add(key);
    out.push(p);
  };
  const object = (kind: string, namespace: string, name: string) => {
    const file = options.sources?.get(namespace === "" ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);
    return { ...(file === undefined ? {} : { file }), kind, ...(namespace === "" ? {} : { namespace }), name };
  };
  const fromConditions = (at: ReturnType<typeof object>, conditions: readonly Condition[], field?: string) => {
    for (const c of conditions.filter(isProblem))
      add({ ...at, ...(field === undefined ? {} : { field }), reason: c.reason, message: c.message });
  };

  for (const e of report.loadErrors) for (const p of loadProblems(e)) add(p);
  for (const c of report.gatewayClasses) fromConditions(object("GatewayClass", "", c.name), c.conditions);
  for (const g of report.gateways) {
    const at = object("Gateway", g.namespace, g.name);
    fromConditions(at, g.conditions);
    for (const l of g.listeners) fromConditions(at, l.conditions, `spec.listeners[${l.name}]`);
  }
  for (const [kind, routes] of [["HTTPRoute", report.httpRoutes], ["TLSRoute", report.tlsRoutes]] as const)
    for (const r of routes) for (const p of routeProblems(kind, r, object(kind, r.namespace, r.name))) add(p);
  for (const p of report.policies) {
    const at = object(p.kind, p.namespace, p.name);
    for (const c of p.conditions.filter(isProblem)) {
      // A policy's spec problems start with their field, as the schema names it.
      const { field, message } = splitField(c.message, /^(spec(?:\.[^\s:]+)?): (.*)$/s);
      add({ ...at, ...(field === undefined ? {} : { field }), reason: c.reason, message });
    }
  }
  for (const reason of report.refused ?? []) {
    const { field, message } = splitField(reason, /^([^\s:]+(?: \([^)]*\))?): (.*)$/s);
    add({ kind: "Snapshot", name: "snapshot", ...(field === undefined ? {} : { field }), reason: "SnapshotInvalid", message });
  }
  return out;
}

/**
 * A route's problems: what concerns one parentRef carries it as the field; what concerns the
 * whole route (its rules' unsupported values, its backendRefs) is said once, per rule where the
 * message names one.
 */
function routeProblems(kind: string, route: RouteStatus, at: Omit<Problem, "reason" | "message">): Problem[] {
  const out: Problem[] = [];
  for (const parent of route.parents) {
    for (const c of parent.conditions.filter(isProblem)) {
      // The translator joins every problem of the route with "; ", each rule's starting with
      // the rule; a refusal for the parent comes first and its rules' problems after it.
      const [first = "", ...more] = c.message.split(/; (?=rule )/);
      const routeWide = c.type === "ResolvedRefs" || c.reason === "UnsupportedValue";
      const parts = routeWide ? [first, ...more] : more;
      if (!routeWide) out.push({ ...at, field: `spec.parentRefs[${parentName(parent)}]`, reason: c.reason, message: first });
      for (const part of parts) {
        const { field, message } = splitField(part, /^(rule [^:]+): (.*)$/s);
        out.push({ ...at, ...(field === undefined ? {} : { field }), reason: routeWide ? c.reason : "UnsupportedValue", message });
      }
    }
  }
  if (route.parents.length === 0) out.push({ ...at, field: "spec.parentRefs", reason: "NoMatchingParent", message: `the ${kind} names no parentRefs` });
  return out;
}

function parentName(parent: RouteParentStatus): string {
  const ref = parent.parentRef;
  return `${ref.namespace}/${ref.name}${ref.sectionName ? `/${ref.sectionName}` : ""}${ref.port ? `:${ref.port}` : ""}`;
}

function splitField(text: string, pattern: RegExp): { field?: string; message: string } {
  const match = pattern.exec(text);
  return match?.[1] !== undefined && match[2] !== undefined ? { field: match[1], message: match[2] } : { message: text };
}

/** The yaml library's message names the place, then quotes the lines around it: the place becomes the field. */
function yamlProblem(message: string): { field?: string; message: string } {
  const first = (message.split("\n")[0] ?? message).replace(/^YAML: /, "");
  const at = / at (line \d+, column \d+):?$/.exec(first);
  return at?.[1] === undefined ? { message: first } : { field: at[1], message: first.slice(0, at.index) };
}

function loadProblems(e: LoadError): Problem[] {
  const [kind, ...rest] = (e.object ?? "").split("/");
  const yaml = e.message.startsWith("YAML:") ? yamlProblem(e.message) : undefined;
  const where: Problem = {
    file: e.file,
    // Not even a kind known: the document of the file (counted from 0), or the whole file.
    kind: kind !== "" && kind !== undefined ? kind : e.document === undefined ? "File" : "Document",
    ...(rest.length === 2 ? { namespace: rest[0] } : {}),
    name: rest.at(-1) ?? (e.document === undefined ? e.file : String(e.document)),
    ...(yaml?.field === undefined ? {} : { field: yaml.field }),
    reason: yaml !== undefined ? "InvalidYAML" : e.message.includes("already defined in") ? "Duplicate" : e.document === undefined ? "Unreadable" : "Invalid",
    message: yaml?.message ?? e.message,
  };
  if (e.issues === undefined || e.issues.length === 0) return [where];
  return e.issues.map((i) => ({ ...where, ...(i.field === "" ? {} : { field: i.field }), message: i.message }));
}

export interface ProblemCounts {
  objects: number;
  routes: number;
  listeners: number;
}

export function counts(report: StatusReport, objects: number): ProblemCounts {
  return {
    objects,
    routes: report.httpRoutes.length + report.tlsRoutes.length,
    listeners: report.gateways.reduce((n, g) => n + g.listeners.length, 0),
  };
}
