// Where zod's JSON Schema says less than the validator checks (a refinement, a transform, or a
// check a parse* function makes after zod), each place is lowered here by hand, once: into a
// structural rule or a CEL rule the API server checks exactly, or declared the controller's
// alone (the policy is stored, and the controller reports Accepted=False with the reason). A
// marked place nobody lowered stops generation, so a refinement added to a policy schema cannot
// pass unnoticed. A CRD rule must be exact or absent: a rule stricter than the validator would
// make a valid policy unstorable (test/kube/crds.test.ts checks both directions).
import { applyFragment, type Fragment } from "./from-zod.js";
import { type Schema, UNLOWERED } from "./schema.js";

export interface Lowering {
  /**
   * From the spec: "" (the spec itself), "faultInjection.abort", "targetRefs[]" (each item),
   * "rules[].clientSelectors[].headers[].anyOf[1].value" (a member of a union).
   */
  path: string;
  /** A refinement or transform of the zod schema (from-zod.ts marked it), or a parse* check after zod. */
  source: "schema" | "parse";
  /** The rule, in words (README lists the controller's). */
  rule: string;
  /** How the CRD checks it, exactly; absent: the controller alone. */
  crd?: Fragment;
}

/** Applies `lowerings` to `json` (changed in place); throws on a stale path or a place left unlowered. */
export function lower(json: Schema, lowerings: readonly Lowering[], kind: string): Schema {
  for (const lowering of lowerings) {
    const node = nodeAt(json, lowering.path);
    if (node === undefined) throw new Error(`${kind}: no spec.${lowering.path} in the schema (a stale lowering)`);
    if (lowering.source === "schema") {
      if (node[UNLOWERED] === undefined) throw new Error(`${kind}: spec.${lowering.path} has no refinement or transform to lower`);
      delete node[UNLOWERED];
    }
    if (lowering.crd !== undefined) applyFragment(node, lowering.crd);
  }
  const left = marked(json, "");
  if (left.length > 0) {
    throw new Error(
      `${kind}: ${left.map((m) => `spec${m.path} (${m.what})`).join(", ")} checks more than its JSON Schema says: ` +
        "lower it in controller/crds/kinds.ts, or declare it the controller's",
    );
  }
  return json;
}

export function nodeAt(root: Schema, path: string): Schema | undefined {
  let node: Schema | undefined = root;
  for (const segment of path === "" ? [] : path.split(".")) {
    const union = /^anyOf\[(\d+)\]$/.exec(segment);
    if (union !== null) {
      node = node?.anyOf?.[Number(union[1])];
      continue;
    }
    const each = segment.endsWith("[]");
    node = node?.properties?.[each ? segment.slice(0, -2) : segment];
    if (each) node = node?.items;
  }
  return node;
}

function marked(node: Schema, path: string): { path: string; what: string }[] {
  const here = node[UNLOWERED] === undefined ? [] : [{ path, what: node[UNLOWERED] }];
  return [
    ...here,
    ...Object.entries(node.properties ?? {}).flatMap(([name, child]) => marked(child, `${path}.${name}`)),
    ...(node.items === undefined ? [] : marked(node.items, `${path}[]`)),
    ...(node.anyOf ?? []).flatMap((member, i) => marked(member, `${path}.anyOf[${i}]`)),
  ];
}
