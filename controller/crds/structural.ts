// JSON Schema (as from-zod.ts and lowering.ts leave it) -> a Kubernetes structural schema: every
// node typed, no $ref, strict objects as plain `properties` (the API server refuses unknown
// fields when a client asks for strict field validation, as kubectl does by default), patterns
// in Go's syntax, and a union of objects lowered to one object plus an `anyOf` of value
// validations (the only place a structural schema allows alternatives). Anything else throws:
// a keyword this does not know could mean a check the CRD would silently drop.
import { goPattern } from "./pattern.js";
import type { Schema } from "./schema.js";

const SCALARS = new Set(["string", "integer", "number", "boolean"]);
/** Value validations of a scalar, the keywords allowed inside anyOf. */
const VALUE_KEYWORDS = ["enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern"] as const;
const KNOWN = new Set<string>([
  ...VALUE_KEYWORDS,
  "type",
  "description",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "default",
  "nullable",
  "format",
  "minItems",
  "maxItems",
  "anyOf",
  "x-kubernetes-validations",
]);

export function structural(node: Schema, path = "spec"): Schema {
  const unknown = Object.keys(node).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new Error(`${path}: ${unknown.join(", ")} cannot be carried into a CRD`);
  if (node.anyOf !== undefined) return union(node, path);
  const out: Schema = {};
  if (node.type === undefined) throw new Error(`${path}: no type (a structural schema types every field)`);
  out.type = node.type;
  copy(node, out, ["description", "default", "nullable"]);
  switch (node.type) {
    case "object":
      out.properties = Object.fromEntries(Object.entries(node.properties ?? {}).map(([name, child]) => [name, structural(child, `${path}.${name}`)]));
      if (node.required !== undefined && node.required.length > 0) out.required = [...node.required];
      if (typeof node.additionalProperties === "object") throw new Error(`${path}: maps (additionalProperties) are not lowered`);
      // A zod object that is not strict accepts and drops unknown fields; so must the CRD.
      if (node.additionalProperties !== false) out["x-kubernetes-preserve-unknown-fields"] = true;
      break;
    case "array":
      if (node.items === undefined) throw new Error(`${path}: an array without items`);
      out.items = structural(node.items, `${path}[]`);
      copy(node, out, ["minItems", "maxItems"]);
      break;
    default:
      copy(node, out, VALUE_KEYWORDS);
      if (out.pattern !== undefined) out.pattern = goPattern(out.pattern);
      // Measured on the API server: an enum refuses null even on a nullable field, null listed or not.
      if (out.nullable === true && out.enum !== undefined) throw new Error(`${path}: a nullable enum is not lowered (the API server refuses its null)`);
  }
  // zod's formats (starts_with, email...) are not Kubernetes formats; their patterns carry the check.
  if (node["x-kubernetes-validations"] !== undefined) out["x-kubernetes-validations"] = node["x-kubernetes-validations"];
  return out;
}

function copy(from: Schema, to: Schema, keys: readonly (keyof Schema)[]): void {
  for (const key of keys) if (from[key] !== undefined) (to as Record<string, unknown>)[key] = from[key];
}

/**
 * A zod union of strict objects with scalar fields (a rate limit's header selector: Exact with a
 * value, RegularExpression with a value, Distinct without). Structural form: one object with every
 * field, the checks all members share on the fields, and `anyOf` with each member's own checks:
 * its required fields, its field values, and `not` any field it lacks. One field may have a
 * default in one member only when every other member requires it; the default is then the
 * object's, and exact: an object without the field matches that member and no other.
 */
function union(node: Schema, path: string): Schema {
  const members = node.anyOf ?? [];
  if (node.type !== undefined || Object.keys(node).some((k) => k !== "anyOf" && k !== "description" && k !== "default")) {
    throw new Error(`${path}: anyOf beside other keywords is not lowered`);
  }
  for (const [i, m] of members.entries()) {
    if (m.type !== "object" || m.additionalProperties !== false || m.anyOf !== undefined || m["x-kubernetes-validations"] !== undefined) {
      throw new Error(`${path}.anyOf[${i}]: only unions of strict objects without rules of their own are lowered`);
    }
  }
  const names = [...new Set(members.flatMap((m) => Object.keys(m.properties ?? {})))];
  const properties: Record<string, Schema> = {};
  const own: Record<string, Schema>[] = members.map(() => ({}));
  for (const name of names) {
    const path_ = `${path}.${name}`;
    const having = members.map((m) => m.properties?.[name]);
    const present = having.filter((s): s is Schema => s !== undefined);
    const type = present[0]?.type;
    if (present.some((s) => s.type !== type || !SCALARS.has(s.type ?? "") || s.nullable !== present[0]?.nullable)) {
      throw new Error(`${path_}: union members disagree on its type, or it is not a scalar`);
    }
    const field: Schema = { type };
    if (present[0]?.nullable === true) field.nullable = true;
    const validations = present.map((s) => Object.fromEntries(VALUE_KEYWORDS.filter((k) => s[k] !== undefined).map((k) => [k, s[k]])));
    if (validations.every((v) => JSON.stringify(v) === JSON.stringify(validations[0]))) Object.assign(field, validations[0]);
    else {
      having.forEach((s, i) => {
        if (s === undefined) return;
        const v = Object.fromEntries(VALUE_KEYWORDS.filter((k) => s[k] !== undefined).map((k) => [k, s[k]]));
        if (Object.keys(v).length > 0) (own[i] as Record<string, Schema>)[name] = v as Schema;
      });
      // Implied by anyOf (a member without the field forbids it), and a clearer message.
      if (present.every((s) => s.enum !== undefined)) field.enum = [...new Set(present.flatMap((s) => s.enum ?? []))];
    }
    const defaults = having.flatMap((s, i) => (s?.default === undefined ? [] : [i]));
    if (defaults.length > 0) {
      const [withDefault] = defaults;
      const othersRequire = members.every((m, i) => i === withDefault || (m.required ?? []).includes(name));
      if (defaults.length > 1 || !othersRequire) throw new Error(`${path_}: a default in a union is lowered only when every other member requires the field`);
      field.default = having[withDefault as number]?.default;
    }
    properties[name] = structural(field, path_);
  }
  const anyOf = members.map((m, i) => {
    const member: Schema = {};
    if ((m.required ?? []).length > 0) member.required = [...(m.required ?? [])];
    const checks = own[i] as Record<string, Schema>;
    if (Object.keys(checks).length > 0) {
      member.properties = Object.fromEntries(
        Object.entries(checks).map(([name, v]) => [name, v.pattern === undefined ? v : { ...v, pattern: goPattern(v.pattern) }]),
      );
    }
    const absent = names.filter((n) => m.properties?.[n] === undefined);
    if (absent.length > 0) member.not = { anyOf: absent.map((n) => ({ required: [n] })) };
    return member;
  });
  const out: Schema = { type: "object", properties };
  copy(node, out, ["description", "default"]);
  const everywhere = names.filter((n) => members.every((m) => (m.required ?? []).includes(n)));
  if (everywhere.length > 0) out.required = everywhere;
  out.anyOf = anyOf;
  return out;
}
