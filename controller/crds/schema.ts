// The subset of JSON Schema (OpenAPI 3.0 flavour) that zod emits for the policy specs and that
// a Kubernetes CRD's openAPIV3Schema holds. One type for both ends of the conversion: what
// differs is which keywords may appear where, which structural.ts checks.

/** A CEL rule of a CRD schema node (`x-kubernetes-validations`); `self` is the node's value. */
export interface CelRule {
  rule: string;
  message: string;
}

export interface Schema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minItems?: number;
  maxItems?: number;
  anyOf?: Schema[];
  not?: Schema;
  "x-kubernetes-validations"?: CelRule[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  /** Set while generating (never in a CRD): a zod refinement or transform no lowering has covered yet. */
  [UNLOWERED]?: string;
}

/** The mark from-zod.ts leaves where zod's JSON Schema says less than the zod schema checks. */
export const UNLOWERED = "x-meshgate-unlowered";

export function clone<T>(value: T): T {
  return structuredClone(value);
}
