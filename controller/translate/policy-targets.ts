// Which policy applies to which object. A policy attaches by spec.targetRefs to objects in its
// own namespace; when two policies of a kind target the same object (and section), the older
// one wins and the newer is Conflicted there, as Envoy Gateway does.
import type { ResourceOf } from "../resources/index.js";
import { type Condition, condition } from "../status/conditions.js";
import type { PolicyStatus } from "../status/report.js";
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

function describe(t: PolicyTarget): string {
  return `${t.kind} ${t.name}${t.sectionName === undefined ? "" : ` (section ${t.sectionName})`}`;
}

export class PolicyAttachments<T> {
  readonly statuses: PolicyStatus[] = [];
  private readonly byTarget = new Map<string, AttachedPolicy<T>>();
  private readonly statusOf = new Map<string, PolicyStatus>();

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
      const status: PolicyStatus = { kind: resource.kind, namespace: ns, name, conditions: [] };
      this.statuses.push(status);
      this.statusOf.set(`${ns}/${name}`, status);
      const parsed = parse(resource.spec);
      if (!parsed.ok) {
        status.conditions.push(condition("Accepted", false, "Invalid", parsed.message, generation));
        continue;
      }
      const policy: AttachedPolicy<T> = { resource, id: `${ns}/${name}`, settings: parsed.settings };
      const won: string[] = [];
      const lost: string[] = [];
      const missing: string[] = [];
      for (const target of parsed.targets) {
        const key = targetKey(ns, target);
        const holder = this.byTarget.get(key);
        if (!exists(ns, target)) missing.push(describe(target));
        else if (holder !== undefined && holder !== policy)
          lost.push(`${describe(target)} already has ${resource.kind} ${holder.id}`);
        else {
          this.byTarget.set(key, policy);
          won.push(describe(target));
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
  }

  /** Adds a remark to a policy's Accepted message, for what is found after attachment. */
  addNote(policy: AttachedPolicy<T>, note: string): void {
    const accepted = this.statusOf.get(policy.id)?.conditions.find((c) => c.type === "Accepted");
    if (accepted !== undefined && !accepted.message.includes(note)) accepted.message += `; ${note}`;
  }

  get attached(): AttachedPolicy<T>[] {
    return [...new Set(this.byTarget.values())];
  }
}
