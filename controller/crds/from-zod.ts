// A policy spec's zod schema as JSON Schema: what zod itself says of it (types, enums, ranges,
// patterns, defaults, strictness), with the input side taken (what a user writes, before
// transforms and defaults). zod cannot say what a refinement or a transform checks: each such
// place is marked, so that lowering.ts must decide about it (a structural rule, a CEL rule, or
// the controller alone) rather than the CRD silently checking less than it appears to.
import { z } from "zod";
import { type CelRule, type Schema, UNLOWERED } from "./schema.js";

/** What the CRD adds at one place of the schema, on top of what zod said. */
export interface Fragment {
  /** Keywords set on the node (pattern, maxLength, enum...). */
  set?: Schema;
  /** Properties set on the node's properties (kind: {enum}). */
  properties?: Record<string, Schema>;
  /** Properties removed: the validator refuses any value for them. */
  drop?: string[];
  required?: string[];
  validations?: CelRule[];
}

/** zod kinds whose JSON Schema says less than they check. */
const OPAQUE_TYPES = new Set(["pipe", "transform", "catch", "prefault", "custom"]);

/**
 * The JSON Schema of `schema`'s input. `byIdentity` lowers schemas used in many places (a
 * duration) wherever they occur; every other refinement or transform is marked UNLOWERED.
 */
export function inputJsonSchema(schema: z.ZodType, byIdentity: ReadonlyMap<z.core.$ZodType, Fragment>): Schema {
  const json = z.toJSONSchema(schema, {
    target: "openapi-3.0",
    io: "input",
    // A CRD has no $ref: every use of a shared schema is written out in place.
    reused: "inline",
    cycles: "throw",
    unrepresentable: "throw",
    override: ({ zodSchema, jsonSchema }) => {
      const node = jsonSchema as Schema;
      const known = byIdentity.get(zodSchema);
      if (known !== undefined) {
        applyFragment(node, known);
        return;
      }
      const def = zodSchema._zod.def;
      for (const check of def.checks ?? []) {
        const pattern = (check._zod.def as { pattern?: unknown }).pattern;
        // The JSON Schema keeps a pattern's source and loses its flags.
        if (pattern instanceof RegExp && pattern.flags !== "") throw new Error(`pattern /${pattern.source}/${pattern.flags}: flags are not carried into a CRD`);
      }
      if (OPAQUE_TYPES.has(def.type)) node[UNLOWERED] = `a ${def.type}`;
      else if ((def.checks ?? []).some((c) => c._zod.def.check === "custom")) node[UNLOWERED] = "a refinement";
    },
  });
  delete (json as { $schema?: unknown }).$schema;
  return json as Schema;
}

export function applyFragment(node: Schema, fragment: Fragment): void {
  Object.assign(node, fragment.set);
  for (const [name, extra] of Object.entries(fragment.properties ?? {})) {
    const property = node.properties?.[name];
    if (property === undefined) throw new Error(`no property ${name} to refine`);
    Object.assign(property, extra);
  }
  for (const name of fragment.drop ?? []) {
    if (node.properties?.[name] === undefined) throw new Error(`no property ${name} to drop`);
    delete node.properties[name];
    node.required = node.required?.filter((r) => r !== name);
  }
  if (fragment.required !== undefined) node.required = [...new Set([...(node.required ?? []), ...fragment.required])];
  if (fragment.validations !== undefined) node["x-kubernetes-validations"] = [...(node["x-kubernetes-validations"] ?? []), ...fragment.validations];
}
