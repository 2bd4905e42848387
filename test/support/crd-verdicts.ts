// Which of the controller's own rules (controller/crds/kinds.ts: the lowerings without a CRD
// part) explain why the validator refuses a spec. A spec the API server stores while the
// validator refuses it is fine only when every one of the validator's findings is such a rule;
// any other finding is a check the CRD should have made and did not.
import type { z } from "zod";
import type { PolicyKind } from "../../controller/crds/kinds.js";
import type { Lowering } from "../../controller/crds/lowering.js";

/** The rules only the controller checks, for one kind. */
export function controllerRules(kind: PolicyKind): Lowering[] {
  return kind.lowerings.filter((l) => l.crd === undefined);
}

/**
 * The controller-only rules behind every finding of the validator on `spec`; undefined when the
 * validator accepts it or any finding is not one of them.
 */
export function controllerOnlyFindings(kind: PolicyKind, spec: unknown): Lowering[] | undefined {
  if (kind.parse(spec).ok) return undefined;
  const rules = controllerRules(kind);
  const parsed = kind.schema.safeParse(spec ?? {});
  if (!parsed.success) {
    const found = parsed.error.issues.map((issue) => explain(issue, "", rules));
    return found.every((f) => f !== undefined) ? [...new Set(found.flat())] : undefined;
  }
  // zod accepted; a parse* check after it refused: its message starts with the field.
  const verdict = kind.parse(spec);
  const field = verdict.ok ? "" : (/^spec\.([^:]+):/.exec(verdict.message)?.[1] ?? "");
  const rule = rules.find((r) => r.source === "parse" && covers(r.path, field.replace(/\[\d+\]/g, "[]")));
  return rule === undefined ? undefined : [rule];
}

function explain(issue: z.core.$ZodIssue, base: string, rules: Lowering[]): Lowering[] | undefined {
  let path = base;
  for (const key of issue.path) path += typeof key === "number" ? "[]" : path === "" ? String(key) : `.${String(key)}`;
  if (issue.code === "invalid_union") {
    // Explained when one member's findings all are (the member the spec was meant to be).
    for (const [i, member] of issue.errors.entries()) {
      const found = member.map((m) => explain(m, `${path}.anyOf[${i}]`, rules));
      if (found.every((f) => f !== undefined)) return found.flat();
    }
    return undefined;
  }
  const rule = rules.find((r) => r.source === "schema" && covers(r.path, path));
  return rule === undefined ? undefined : [rule];
}

/**
 * Whether a finding at `path` is under the rule's place. zod reports a union member's findings
 * under the union's path when only that member could match, so union members are not compared.
 */
function covers(rulePath: string, path: string): boolean {
  const [rule, at] = [rulePath, path].map((p) => p.replace(/\.anyOf\[\d+\]/g, "")) as [string, string];
  return at === rule || at.startsWith(`${rule}.`) || at.startsWith(`${rule}[]`);
}
