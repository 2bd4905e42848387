// The Kubernetes-shaped objects the controller reads, whichever provider they come from.
// Every object is checked at once against its kind's shape; the typed Resource that comes out
// is what translation trusts.
import { z } from "zod";
import { emptySpecSchema, endpointSliceBodySchema, secretBodySchema, serviceSpecSchema } from "./core.js";
import {
  GATEWAY_GROUP,
  gatewayClassSpecSchema,
  gatewaySpecSchema,
  httpRouteSpecSchema,
  referenceGrantSpecSchema,
  tlsRouteSpecSchema,
} from "./gateway-api.js";

export const POLICY_GROUP = "meshgate.io";

interface KindInfo {
  group: string;
  versions: readonly string[];
  namespaced: boolean;
  /** Where the kind keeps its fields: under `spec`, or at the top level (EndpointSlice, Secret). */
  fields: "spec" | "root";
  schema: z.ZodType;
}

const KINDS = {
  GatewayClass: {
    group: GATEWAY_GROUP,
    versions: ["v1", "v1beta1"],
    namespaced: false,
    fields: "spec",
    schema: gatewayClassSpecSchema,
  },
  Gateway: {
    group: GATEWAY_GROUP,
    versions: ["v1", "v1beta1"],
    namespaced: true,
    fields: "spec",
    schema: gatewaySpecSchema,
  },
  HTTPRoute: {
    group: GATEWAY_GROUP,
    versions: ["v1", "v1beta1"],
    namespaced: true,
    fields: "spec",
    schema: httpRouteSpecSchema,
  },
  TLSRoute: {
    group: GATEWAY_GROUP,
    versions: ["v1", "v1alpha3", "v1alpha2"],
    namespaced: true,
    fields: "spec",
    schema: tlsRouteSpecSchema,
  },
  ReferenceGrant: {
    group: GATEWAY_GROUP,
    versions: ["v1", "v1beta1", "v1alpha2"],
    namespaced: true,
    fields: "spec",
    schema: referenceGrantSpecSchema,
  },
  Namespace: { group: "", versions: ["v1"], namespaced: false, fields: "spec", schema: emptySpecSchema },
  Service: { group: "", versions: ["v1"], namespaced: true, fields: "spec", schema: serviceSpecSchema },
  Secret: { group: "", versions: ["v1"], namespaced: true, fields: "root", schema: secretBodySchema },
  EndpointSlice: {
    group: "discovery.k8s.io",
    versions: ["v1"],
    namespaced: true,
    fields: "root",
    schema: endpointSliceBodySchema,
  },
  // Policy specs are judged in translation, so that a bad one shows in the policy's status.
  BackendTrafficPolicy: {
    group: POLICY_GROUP,
    versions: ["v1alpha1"],
    namespaced: true,
    fields: "spec",
    schema: z.unknown(),
  },
  ClientTrafficPolicy: {
    group: POLICY_GROUP,
    versions: ["v1alpha1"],
    namespaced: true,
    fields: "spec",
    schema: z.unknown(),
  },
  RateLimitPolicy: {
    group: POLICY_GROUP,
    versions: ["v1alpha1"],
    namespaced: true,
    fields: "spec",
    schema: z.unknown(),
  },
  MirrorComparisonPolicy: {
    group: POLICY_GROUP,
    versions: ["v1alpha1"],
    namespaced: true,
    fields: "spec",
    schema: z.unknown(),
  },
  AcmeCertificatePolicy: {
    group: POLICY_GROUP,
    versions: ["v1alpha1"],
    namespaced: true,
    fields: "spec",
    schema: z.unknown(),
  },
} as const satisfies Record<string, KindInfo>;

export type Kind = keyof typeof KINDS;

export interface ObjectMeta {
  name: string;
  /** "" for cluster-scoped kinds; "default" when a namespaced object names none. */
  namespace: string;
  labels: Record<string, string>;
  /** ISO 8601; absent sorts before every timestamp. */
  creationTimestamp?: string;
  generation: number;
}

export interface ResourceOf<K extends Kind> {
  kind: K;
  apiVersion: string;
  metadata: ObjectMeta;
  /** The kind's validated fields (for EndpointSlice and Secret, their top-level fields). */
  spec: z.output<(typeof KINDS)[K]["schema"]>;
  /** The file (or other origin) the object came from. */
  source: string;
}

export type Resource = { [K in Kind]: ResourceOf<K> }[Kind];

const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const metadataSchema = z.object({
  name: z
    .string({ error: (issue) => (issue.input === undefined ? "required" : undefined) })
    .max(253)
    .regex(dnsSubdomain, "must be a lower-case DNS subdomain name"),
  namespace: z.string().max(63).regex(dnsLabel, "must be a lower-case DNS label").optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  creationTimestamp: z
    .union([z.string(), z.date()])
    .transform((v, ctx) => {
      const time = v instanceof Date ? v.getTime() : Date.parse(v);
      if (Number.isNaN(time)) {
        ctx.addIssue({ code: "custom", message: "not a timestamp" });
        return z.NEVER;
      }
      return new Date(time).toISOString();
    })
    .nullish(),
  generation: z.number().int().positive().nullish(),
});

/** An object (or a whole file) a provider could not read; the rest of the source still loads. */
export interface LoadError {
  file: string;
  /** Index of the document in its file, from 0; absent when the whole file failed. */
  document?: number;
  /** "Kind/namespace/name" as far as it is known. */
  object?: string;
  message: string;
  /** The schema's findings one by one (`message` joins them), for a report per field. */
  issues?: FieldIssue[];
}

export interface FieldIssue {
  /** Dotted path from the object's top ("spec.listeners.0.port"); "" for the object itself. */
  field: string;
  message: string;
}

/** What became of one document: a resource, nothing (a kind meshgate does not read), or a reason. */
export type ParseOutcome =
  | { type: "resource"; resource: Resource }
  | { type: "ignored" }
  | { type: "error"; object?: string; message: string; issues?: FieldIssue[] };

export function issuesText(error: z.ZodError, prefix = ""): string {
  return fieldIssues(error, prefix)
    .map((i) => (i.field === "" ? i.message : `${i.field}: ${i.message}`))
    .join("; ");
}

export function fieldIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter((p) => p !== "").join("."),
    message: i.message,
  }));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks one parsed document and turns it into a typed Resource. */
export function parseObject(value: unknown, source: string): ParseOutcome {
  if (!isRecord(value)) return { type: "error", message: "document is not a mapping" };
  const { kind, apiVersion } = value;
  if (typeof kind !== "string" || kind === "") return { type: "error", message: "object has no kind" };
  if (typeof apiVersion !== "string" || apiVersion === "")
    return { type: "error", object: kind, message: "object has no apiVersion" };
  const slash = apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const info: KindInfo | undefined = Object.hasOwn(KINDS, kind) ? KINDS[kind as Kind] : undefined;
  // Another API group's kind of the same name (say, Istio's Gateway) is not ours to read.
  if (info === undefined || info.group !== group) return { type: "ignored" };

  const meta = metadataSchema.safeParse(value["metadata"] ?? {});
  if (!meta.success)
    return {
      type: "error",
      object: roughName(kind, info, value["metadata"]),
      message: issuesText(meta.error, "metadata"),
      issues: fieldIssues(meta.error, "metadata"),
    };
  const namespace = info.namespaced ? (meta.data.namespace ?? "default") : "";
  const metadata: ObjectMeta = {
    name: meta.data.name,
    namespace,
    labels: meta.data.labels ?? {},
    generation: meta.data.generation ?? 1,
  };
  if (meta.data.creationTimestamp != null) metadata.creationTimestamp = meta.data.creationTimestamp;
  const object = objectName({ kind, metadata });
  if (!info.versions.includes(version)) {
    const wanted = info.versions.map((v) => (info.group === "" ? v : `${info.group}/${v}`)).join(", ");
    return { type: "error", object, message: `apiVersion ${apiVersion} is not supported (use ${wanted})` };
  }
  const fields = info.fields === "spec" ? (value["spec"] ?? {}) : value;
  const spec = info.schema.safeParse(fields);
  if (!spec.success) {
    const prefix = info.fields === "spec" ? "spec" : "";
    return { type: "error", object, message: issuesText(spec.error, prefix), issues: fieldIssues(spec.error, prefix) };
  }
  // The schema in KINDS for this kind produced `spec`, which is what ResourceOf<kind> declares.
  const resource = { kind, apiVersion, metadata, spec: spec.data, source } as Resource;
  return { type: "resource", resource };
}

/** The object's name as far as metadata that failed its checks tells it, for the error report. */
function roughName(kind: string, info: KindInfo, metadata: unknown): string {
  const field = (k: string) =>
    isRecord(metadata) && typeof metadata[k] === "string" ? metadata[k] : undefined;
  const name = field("name");
  if (name === undefined) return kind;
  return objectName({
    kind,
    metadata: { name, namespace: info.namespaced ? (field("namespace") ?? "default") : "" },
  });
}

/** "Kind/namespace/name", or "Kind/name" for cluster-scoped kinds. */
export function objectName(r: { kind: string; metadata: { namespace: string; name: string } }): string {
  return r.metadata.namespace === ""
    ? `${r.kind}/${r.metadata.name}`
    : `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

/** Resources of one kind, narrowed. */
export function ofKind<K extends Kind>(resources: readonly Resource[], kind: K): ResourceOf<K>[] {
  // Every Resource of kind K is a ResourceOf<K>: the union is built from that pairing.
  return resources.filter((r) => r.kind === kind) as unknown as ResourceOf<K>[];
}

export type {
  BackendRefSpec,
  CertificateRef,
  GatewaySpec,
  HTTPRouteRuleSpec,
  HTTPRouteSpec,
  LabelSelector,
  ListenerSpec,
  ParentRef,
  RouteFilterSpec,
  RouteMatchSpec,
} from "./gateway-api.js";
export { GATEWAY_GROUP } from "./gateway-api.js";
