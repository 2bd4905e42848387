// meshgate's CustomResourceDefinitions (apiextensions.k8s.io/v1), generated from the validator's
// zod schemas: `meshgate crds` prints them, test/kube installs them. The caller passes meshgate's
// version (controller/ does not read the CLI's package metadata), which each CRD carries in an
// annotation so a controller can tell which bundle a cluster has.
import { stringify } from "yaml";
import { POLICY_GROUP } from "../resources/index.js";
import { inputJsonSchema } from "./from-zod.js";
import { POLICY_KINDS, LOWERED_EVERYWHERE, type PolicyKind } from "./kinds.js";
import { lower } from "./lowering.js";
import { POLICY_STATUS_SCHEMA } from "./policy-status.js";
import { clone, type Schema } from "./schema.js";
import { structural } from "./structural.js";

export const POLICY_VERSION = "v1alpha1";
export const VERSION_ANNOTATION = `${POLICY_GROUP}/version`;

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    group: string;
    scope: "Namespaced";
    names: { kind: string; listKind: string; plural: string; singular: string; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

/** The spec's structural schema: zod's JSON Schema, lowered, made structural. */
export function specSchema(kind: PolicyKind): Schema {
  return structural(lower(inputJsonSchema(kind.schema, LOWERED_EVERYWHERE), kind.lowerings, kind.kind));
}

const FIRST_ANCESTOR = ".status.ancestors[0].conditions";

export function policyCrd(kind: PolicyKind, version: string): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${kind.plural}.${POLICY_GROUP}`,
      labels: {
        "app.kubernetes.io/name": "meshgate",
        "app.kubernetes.io/part-of": "meshgate",
        // GEP-713: a policy that applies to the objects it targets, nothing below them.
        "gateway.networking.k8s.io/policy": "Direct",
      },
      annotations: { [VERSION_ANNOTATION]: version },
    },
    spec: {
      group: POLICY_GROUP,
      scope: "Namespaced",
      names: {
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        plural: kind.plural,
        singular: kind.kind.toLowerCase(),
        // `kubectl get meshgate` lists every policy. No short names: Envoy Gateway's btp and ctp
        // would clash in a cluster that has both.
        categories: ["meshgate"],
      },
      versions: [
        {
          name: POLICY_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: "Accepted",
              type: "string",
              jsonPath: `${FIRST_ANCESTOR}[?(@.type=="Accepted")].status`,
              description: "Accepted, as the first ancestor's controller reports it",
            },
            { name: "Reason", type: "string", jsonPath: `${FIRST_ANCESTOR}[?(@.type=="Accepted")].reason`, priority: 1 },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: `meshgate's ${kind.kind} (see README, "Policies").`,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: specSchema(kind),
                status: clone(POLICY_STATUS_SCHEMA),
              },
            },
          },
        },
      ],
    },
  };
}

export function policyCrds(version: string): CustomResourceDefinition[] {
  return POLICY_KINDS.map((kind) => policyCrd(kind, version));
}

/** A YAML stream, one document per CRD, for `kubectl apply -f -`. */
export function policyCrdsYaml(version: string): string {
  return policyCrds(version)
    .map((crd) => `---\n${stringify(crd, { lineWidth: 0 })}`)
    .join("");
}
