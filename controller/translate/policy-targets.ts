// Which policy applies to which object. A policy attaches by spec.targetRefs to objects in its
// own namespace; when two policies of a kind target the same object (and section), the older
// one wins and the newer is Conflicted there, as Envoy Gateway does. Each target also gets its
// own outcome (GEP-713 ancestors), so that a cluster shows per target what the policy did.
import { GATEWAY_GROUP, type ResourceOf } from "../resources/index.js";
import { type Condition, condition } from "../status/conditions.js";
import type { ParentReference, PolicyAncestorStatus, PolicyStatus } from "../status/report.js";
import type { Parsed, PolicyTarget } from "./policies.js";

type PolicyKind =
  | "BackendTrafficPolicy"
  | "ClientTrafficPolicy"
  | "AcmeCertificatePolicy"
  | "RateLimitPolicy"
  | "MirrorComparisonPolicy";

export interface AttachedPolicy<T> {
  resource: ResourceOf<PolicyKind>;
  /** "namespace/name", the suffix of the clusters the policy shapes. */
  id: string;
  settings: T;
}

function targetKey(ns: string, t: PolicyTarget): string {
  return `${t.kind}/${ns}/${t.name}#${t.sectionName ?? ""}`;
}

function ancestorRef(ns: string, t: PolicyTarget & { group?: string }): ParentReference {
  return {
    group: t.group ?? GATEWAY_GROUP,
    kind: t.kind,
    namespace: ns,
    name: t.name,
    ...(t.sectionName !== undefined && { sectionName: t.sectionName }),
  };
}

/**
 * The targetRefs of a spec the validator refused, as far as they can be read: the refusal is
 * then shown on each of them rather than nowhere (the CRD's schema already requires kind and name).
 */
function readableTargets(spec: unknown): (PolicyTarget & { group?: string })[] {
  const refs = (spec as { targetRefs?: unknown } | undefined)?.targetRefs;
  if (!Array.isArray(refs)) return [];
  return refs.flatMap((r: unknown) => {
    const { group, kind, name, sectionName } = (r ?? {}) as Record<string, unknown>;
    if (typeof kind !== "string" || typeof name !== "string" || kind === "" || name === "") return [];
    return [
      {
        kind,
        name,
        ...(typeof group === "string" && group !== "" && { group }),
        ...(typeof sectionName === "string" && sectionName !== "" && { sectionName }),
      },
    ];
  });
}

function describe(t: PolicyTarget): string {
  return `${t.kind} ${t.name}${t.sectionName === undefined ? "" : ` (section ${t.sectionName})`}`;
}

export class PolicyAttachments<T> {
  readonly statuses: PolicyStatus[] = [];
  private readonly byTarget = new Map<string, AttachedPolicy<T>>();
  private readonly statusOf = new Map<string, PolicyStatus>();
  /** Per policy id, the targets it took: what a later setAccepted or addNote speaks for. */
  private readonly wonAncestors = new Map<string, PolicyAncestorStatus[]>();

  /**
   * `policies` oldest first; `exists` says whether a target names an object (and section) that
   * is there to be shaped.
   */
  constructor(
    policies: readonly ResourceOf<PolicyKind>[],
    parse: (spec: unknown) => Parsed<T>,
    exists: (ns: string, target: PolicyTarget) => boolean,
  ) {
    for (const resource of policies) {
      const { namespace: ns, name, generation } = resource.metadata;
      const status: PolicyStatus = { kind: resource.kind, namespace: ns, name, conditions: [], ancestors: [] };
      this.statuses.push(status);
      this.statusOf.set(`${ns}/${name}`, status);
      // A target named twice by one policy is one ancestor.
      const seen = new Set<string>();
      const ancestor = (target: PolicyTarget & { group?: string }, c: Condition): PolicyAncestorStatus | undefined => {
        const key = targetKey(ns, target);
        if (seen.has(key)) return undefined;
        seen.add(key);
        const entry = { ancestorRef: ancestorRef(ns, target), conditions: [c] };
        status.ancestors.push(entry);
        return entry;
      };
      const parsed = parse(resource.spec);
      if (!parsed.ok) {
        const invalid = condition("Accepted", false, "Invalid", parsed.message, generation);
        status.conditions.push(invalid);
        for (const target of readableTargets(resource.spec)) ancestor(target, { ...invalid });
        continue;
      }
      const policy: AttachedPolicy<T> = { resource, id: `${ns}/${name}`, settings: parsed.settings };
      const won: string[] = [];
      const lost: string[] = [];
      const missing: string[] = [];
      const wonAncestors: PolicyAncestorStatus[] = [];
      this.wonAncestors.set(policy.id, wonAncestors);
      for (const target of parsed.targets) {
        const key = targetKey(ns, target);
        const holder = this.byTarget.get(key);
        if (!exists(ns, target)) {
          missing.push(describe(target));
          ancestor(target, condition("Accepted", false, "TargetNotFound", `${describe(target)} not found`, generation));
        } else if (holder !== undefined && holder !== policy) {
          const message = `${describe(target)} already has ${resource.kind} ${holder.id}`;
          lost.push(message);
          ancestor(target, condition("Accepted", false, "Conflicted", message, generation));
        } else {
          this.byTarget.set(key, policy);
          won.push(describe(target));
          const entry = ancestor(target, condition("Accepted", true, "Accepted", `applies to ${describe(target)}`, generation));
          if (entry !== undefined) wonAncestors.push(entry);
        }
      }
      const notes = [...lost, ...missing.map((m) => `${m} not found`)];
      status.conditions.push(
        won.length > 0
          ? condition(
              "Accepted",
              true,
              "Accepted",
              [`applies to ${won.join(", ")}`, ...notes].join("; "),
              generation,
            )
          : lost.length > 0
            ? condition("Accepted", false, "Conflicted", notes.join("; "), generation)
            : condition("Accepted", false, "TargetNotFound", notes.join("; "), generation),
      );
    }
  }

  /** The policy attached to `kind` `name` in `ns`, to one section of it when `sectionName` is given. */
  find(kind: string, ns: string, name: string, sectionName?: string): AttachedPolicy<T> | undefined {
    return this.byTarget.get(
      targetKey(ns, sectionName === undefined ? { kind, name } : { kind, name, sectionName }),
    );
  }

  /** Replaces a policy's Accepted condition, for conflicts found after attachment. */
  setAccepted(policy: AttachedPolicy<T>, c: Condition): void {
    const status = this.statusOf.get(policy.id);
    if (status !== undefined) status.conditions = [c];
    for (const entry of this.wonAncestors.get(policy.id) ?? []) entry.conditions = [{ ...c }];
  }

  /** Adds a remark to a policy's Accepted message, for what is found after attachment. */
  addNote(policy: AttachedPolicy<T>, note: string): void {
    const places = [this.statusOf.get(policy.id), ...(this.wonAncestors.get(policy.id) ?? [])];
    for (const place of places) {
      const accepted = place?.conditions.find((c) => c.type === "Accepted");
      if (accepted !== undefined && !accepted.message.includes(note)) accepted.message += `; ${note}`;
    }
  }

  get attached(): AttachedPolicy<T>[] {
    return [...new Set(this.byTarget.values())];
  }
}
