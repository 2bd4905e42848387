// meshgate's CRDs as generated (the pure part; test/kube/crds.test.ts puts them on a real API
// server): one per policy kind the controller reads, structural throughout, every refinement
// of the zod schemas accounted for, durations exactly as parseDuration reads them, and the rules
// only the controller checks listed in README.
import test from "ava";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RE2JS } from "re2js";
import { parse, parseAllDocuments } from "yaml";
import { z } from "zod";
import { policyCrds, policyCrdsYaml, POLICY_VERSION, specSchema, VERSION_ANNOTATION } from "../../controller/crds/definitions.js";
import { inputJsonSchema } from "../../controller/crds/from-zod.js";
import { LOWERED_EVERYWHERE, POLICY_KINDS } from "../../controller/crds/kinds.js";
import { lower, nodeAt } from "../../controller/crds/lowering.js";
import { type Schema, UNLOWERED } from "../../controller/crds/schema.js";
import { structural } from "../../controller/crds/structural.js";
import { parseObject, POLICY_GROUP } from "../../controller/resources/index.js";
import { DURATION_MAX_LENGTH, MAX_TIMER_TEXT, parseDuration } from "../../controller/translate/duration.js";
import { MAX_TIMER_MS } from "../../gateway/snapshot.js";
import { runCli } from "../support/cli.js";
import { fcSeed } from "../support/fc-seed.js";

const README = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");
const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { version: string };

/** Every node of a structural schema with its path; anyOf members are value validations, walked apart. */
function nodes(node: Schema, path: string): [string, Schema][] {
  return [
    [path, node],
    ...Object.entries(node.properties ?? {}).flatMap(([name, child]) => nodes(child, `${path}.${name}`)),
    ...(node.items === undefined ? [] : nodes(node.items, `${path}[]`)),
  ];
}

/** The keywords of a value validation and of every schema inside it. */
function keywordsInside(node: Schema): string[] {
  return [
    ...Object.keys(node),
    ...Object.values(node.properties ?? {}).flatMap(keywordsInside),
    ...(node.items === undefined ? [] : keywordsInside(node.items)),
    ...(node.not === undefined ? [] : keywordsInside(node.not)),
    ...(node.anyOf ?? []).flatMap(keywordsInside),
  ];
}

test("one CRD per policy kind the controller reads: meshgate.io/v1alpha1, namespaced, status subresource, labels and version", (t) => {
  const crds = policyCrds("9.8.7");
  t.deepEqual(
    crds.map((c) => c.spec.names.kind),
    ["BackendTrafficPolicy", "ClientTrafficPolicy", "RateLimitPolicy", "MirrorComparisonPolicy", "AcmeCertificatePolicy"],
  );
  for (const crd of crds) {
    const { kind, plural } = crd.spec.names;
    t.is(crd.metadata.name, `${plural}.${POLICY_GROUP}`);
    t.is(crd.spec.group, POLICY_GROUP);
    t.is(crd.spec.scope, "Namespaced");
    t.deepEqual(crd.spec.names.categories, ["meshgate"]);
    t.is(crd.metadata.annotations[VERSION_ANNOTATION], "9.8.7");
    t.like(crd.metadata.labels, { "app.kubernetes.io/name": "meshgate", "app.kubernetes.io/part-of": "meshgate" });
    const [version] = crd.spec.versions;
    t.is(crd.spec.versions.length, 1);
    t.like(version, { name: POLICY_VERSION, served: true, storage: true, subresources: { status: {} } });
    t.deepEqual(version?.additionalPrinterColumns.map((c) => c.name), ["Accepted", "Reason", "Age"]);
    // The controller reads the kind at this apiVersion (a kind it ignored would be a CRD for nothing).
    const read = parseObject({ apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind, metadata: { name: "p", namespace: "n" }, spec: {} }, "crd-test");
    t.is(read.type, "resource", kind);
  }
});

test("every spec schema is structural: typed nodes, no $ref, strict objects as plain properties, anyOf as value validations only", (t) => {
  for (const kind of POLICY_KINDS) {
    const spec = specSchema(kind);
    const json = JSON.stringify(spec);
    for (const word of ["$ref", "$defs", "additionalProperties", "format", UNLOWERED, "const"]) t.false(json.includes(`"${word}"`), `${kind.kind}: ${word}`);
    for (const [path, node] of nodes(spec, "spec")) {
      t.truthy(node.type, `${kind.kind} ${path} has no type`);
      if (node.type === "object") t.truthy(node.properties, `${kind.kind} ${path}`);
      for (const member of node.anyOf ?? []) {
        t.deepEqual(keywordsInside(member).filter((k) => ["type", "default", "description", "nullable", "additionalProperties"].includes(k)), [], `${kind.kind} ${path} anyOf`);
        for (const name of Object.keys(member.properties ?? {})) t.truthy(node.properties?.[name], `${kind.kind} ${path} anyOf names ${name}`);
      }
    }
  }
});

test("a check zod's JSON Schema does not show stops generation until it is lowered or declared the controller's", (t) => {
  const schema = z.strictObject({ a: z.string().refine((s) => s !== "x"), b: z.string().transform((s) => s.length) });
  t.throws(() => lower(inputJsonSchema(schema, new Map()), [], "Test"), { message: /spec\.a \(a refinement\), spec\.b \(a pipe\)/ });
  const lowered = lower(
    inputJsonSchema(schema, new Map()),
    [
      { path: "a", source: "schema", rule: "not x", crd: { validations: [{ rule: "self != 'x'", message: "not x" }] } },
      { path: "b", source: "schema", rule: "counted" },
    ],
    "Test",
  );
  t.deepEqual(structural(lowered), {
    type: "object",
    properties: { a: { type: "string", "x-kubernetes-validations": [{ rule: "self != 'x'", message: "not x" }] }, b: { type: "string" } },
    required: ["a", "b"],
  });
  // A lowering must point at something: a stale path, or a place without a refinement, throws.
  t.throws(() => lower(inputJsonSchema(schema, new Map()), [{ path: "c", source: "schema", rule: "?" }], "Test"), { message: /no spec\.c/ });
  t.throws(() => lower(inputJsonSchema(z.strictObject({ a: z.string() }), new Map()), [{ path: "a", source: "schema", rule: "?" }], "Test"), {
    message: /no refinement or transform/,
  });
  // What a structural schema cannot say is refused, not dropped: an untyped field, a map.
  t.throws(() => structural(inputJsonSchema(z.strictObject({ u: z.unknown() }), new Map())), { message: /spec\.u: no type/ });
  t.throws(() => structural(inputJsonSchema(z.strictObject({ m: z.record(z.string(), z.string()) }), new Map())), { message: /maps/ });
  // null: nullable fields stay nullable; a nullable enum would refuse the null zod accepts.
  t.deepEqual(structural(inputJsonSchema(z.strictObject({ s: z.string().min(2).nullish() }), new Map())).properties?.["s"], { type: "string", nullable: true, minLength: 2 });
  t.throws(() => structural(inputJsonSchema(z.strictObject({ e: z.enum(["p", "q"]).nullable() }), new Map())), { message: /nullable enum/ });
  // A zod object that is not strict drops unknown fields; so does its CRD node.
  t.true(structural(inputJsonSchema(z.object({ a: z.string() }), new Map()))["x-kubernetes-preserve-unknown-fields"]);
});

test("a union of strict objects becomes one object and an anyOf: the rate limit header selector", (t) => {
  const spec = specSchema(POLICY_KINDS.find((k) => k.kind === "RateLimitPolicy") ?? POLICY_KINDS[0]!);
  const header = nodeAt(spec, "rules[].clientSelectors[].headers[]");
  t.deepEqual(header?.properties, {
    name: { type: "string", minLength: 1 },
    type: { type: "string", default: "Exact", enum: ["Exact", "RegularExpression", "Distinct"] },
    value: { type: "string" },
  });
  t.deepEqual(header?.required, ["name"]);
  t.deepEqual(header?.anyOf, [
    { required: ["name", "value"], properties: { type: { enum: ["Exact"] } } },
    { required: ["name", "type", "value"], properties: { type: { enum: ["RegularExpression"] } } },
    { required: ["name", "type"], properties: { type: { enum: ["Distinct"] } }, not: { anyOf: [{ required: ["value"] }] } },
  ]);
  // A default is lowered only where it is exact: two members defaulting the same field are refused.
  const twoDefaults = z.union([
    z.strictObject({ type: z.literal("A").default("A"), a: z.string() }),
    z.strictObject({ type: z.literal("B").default("B"), b: z.string() }),
  ]);
  t.throws(() => structural(inputJsonSchema(z.strictObject({ u: twoDefaults }), new Map())), { message: /a default in a union/ });
});

test("a duration field takes exactly what parseDuration reads, up to the longest timer, in Go's syntax", (t) => {
  const btp = specSchema(POLICY_KINDS[0]!);
  const field = nodeAt(btp, "retry.perRetry.timeout");
  t.is(field?.maxLength, DURATION_MAX_LENGTH);
  t.deepEqual(field?.["x-kubernetes-validations"], [
    { rule: `duration(self) <= duration('${MAX_TIMER_TEXT}')`, message: `must be at most ${MAX_TIMER_TEXT} (24.8 days), the longest timeout meshgate can hold` },
  ]);
  t.is(parseDuration(MAX_TIMER_TEXT), MAX_TIMER_MS);
  const go = RE2JS.compile(field?.pattern ?? "");
  const seed = fcSeed();
  t.log(`seed=${seed} (replay: FC_SEED=${seed})`);
  const part = fc.tuple(fc.stringMatching(/^[0-9]{1,6}$/), fc.constantFrom("h", "m", "s", "ms", "us", "d", "H", ""));
  const durationLike = fc.array(part, { minLength: 0, maxLength: 5 }).map((parts) => parts.map(([n, u]) => n + u).join(""));
  fc.assert(
    fc.property(fc.oneof(durationLike, fc.string({ maxLength: 30 })), (text) => {
      const crd = go.test(text) && text.length <= DURATION_MAX_LENGTH;
      return crd === (parseDuration(text) !== undefined);
    }),
    { seed, numRuns: 5000 },
  );
  // Every duration field of every kind has the same pattern; the fixed ones accept 10 s only.
  for (const kind of POLICY_KINDS) {
    for (const [path, node] of nodes(specSchema(kind), "spec")) {
      if (node.pattern === field?.pattern) t.is(node.maxLength, DURATION_MAX_LENGTH, path);
    }
  }
  const ctp = specSchema(POLICY_KINDS[1]!);
  t.deepEqual(nodeAt(ctp, "timeout.http.idleTimeout")?.["x-kubernetes-validations"]?.map((v) => v.rule), ["duration(self) == duration('10s')"]);
  t.is(LOWERED_EVERYWHERE.size, 2);
});

test("README's \"meshgate's CRDs\" lists every rule only the controller checks", (t) => {
  const start = README.indexOf("### meshgate's CRDs");
  t.true(start >= 0, "no ### meshgate's CRDs in README");
  const section = README.slice(start, README.indexOf("\n#", start + 5));
  let count = 0;
  for (const kind of POLICY_KINDS) {
    for (const rule of kind.lowerings.filter((l) => l.crd === undefined)) {
      const field = `spec.${rule.path.replace(/\.anyOf\[\d+\]/g, "")}`;
      t.true(section.includes(`${kind.kind}\` \`${field}`) || section.includes(`\`${field}\``), `${kind.kind} ${field} not in README`);
      count += 1;
    }
  }
  t.is(count, 7);
  t.true(section.includes("meshgate crds | kubectl apply -f -"));
});

test("meshgate crds prints the five CRDs as one YAML stream, with meshgate's version", async (t) => {
  const run = await runCli(["crds"]);
  t.is(run.code, 0);
  t.is(run.stderr, "");
  t.is(run.stdout, policyCrdsYaml(pkg.version));
  const documents = parseAllDocuments(run.stdout).map((d) => d.toJS() as unknown);
  t.deepEqual(documents, JSON.parse(JSON.stringify(policyCrds(pkg.version))));
  t.is(documents.length, 5);
  t.is((parse(run.stdout.split("---\n")[1] ?? "") as { metadata: { annotations: Record<string, string> } }).metadata.annotations[VERSION_ANNOTATION], pkg.version);
});
