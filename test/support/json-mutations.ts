// One mistake at one place of a JSON value, of the kinds people make in YAML: a wrong type, a
// number out of range, an unknown or missing field, a bad enum value or duration, a null, an
// empty string or list, a value that is well-formed but means nothing (a CIDR with host bits, a
// broken regular expression), a list item twice. Generated with fast-check: `at` and `pick`
// choose the place and the value among those the mutation applies to.
import fc from "fast-check";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const MUTATIONS = [
  "wrongType",
  "outOfRange",
  "unknownField",
  "badEnum",
  "dropField",
  "badDuration",
  "null",
  "emptyString",
  "emptyList",
  "meaningless",
  "twice",
] as const;
export type MutationKind = (typeof MUTATIONS)[number];

export interface Mutation {
  kind: MutationKind;
  at: number;
  pick: number;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({ kind: fc.constantFrom(...MUTATIONS), at: fc.nat(), pick: fc.nat() });

type Path = (string | number)[];

const OTHER_TYPES: Json[] = ["7", 7, true, {}, [], 1.5];
const NUMBERS = [-1, 0, 0.5, 101, 600, 4097, 1e16, 2 ** 53 + 2];
const DURATIONS = ["5 s", "1d", "10", "1.5s", "-1s", "1h1h1h1h1h", "123456ms", "596h31m23s648ms", "1H", "s"];
const MEANINGLESS = [
  "a(b",
  "(?=x)y",
  "10.0.0.1/8",
  "300.1.1.1",
  "http://acme.example/directory",
  "NOT-A-CIPHER",
  "TLS_AES_128_GCM_SHA256",
  "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  "not an email",
  "no-slash",
  "GET POST",
];

/** `value` with the mutation applied, and where; undefined when it has no place to apply. */
export function mutate(value: Json, m: Mutation): { value: Json; where: string; what: string } | undefined {
  const copy = structuredClone(value);
  const nodes = walk(copy, []);
  const pick = <T>(list: readonly T[]): T => list[m.pick % list.length] as T;
  const place = (filter: (node: Json, path: Path) => boolean) => {
    const fits = nodes.filter(([node, path]) => filter(node, path));
    return fits.length === 0 ? undefined : fits[m.at % fits.length];
  };
  const notRoot = (_: Json, path: Path) => path.length > 0;
  const isString = (node: Json, path: Path) => typeof node === "string" && path.length > 0;
  const replace = (filter: (node: Json, path: Path) => boolean, next: (node: Json) => Json) => {
    const found = place(filter);
    if (found === undefined) return undefined;
    const [node, path] = found;
    const replacement = next(node);
    setAt(copy, path, replacement);
    return { value: copy, where: pathText(path), what: `${m.kind}: ${JSON.stringify(replacement)}` };
  };
  switch (m.kind) {
    case "wrongType":
      return replace(notRoot, (node) => pick(OTHER_TYPES.filter((o) => typeOf(o) !== typeOf(node))));
    case "outOfRange":
      return replace((node) => typeof node === "number", () => pick(NUMBERS));
    case "badEnum":
      return replace(isString, () => "Bogus");
    case "badDuration":
      return replace(isString, () => pick(DURATIONS));
    case "null":
      return replace(notRoot, () => null);
    case "emptyString":
      return replace(isString, () => "");
    case "emptyList":
      return replace((node, path) => Array.isArray(node) && path.length > 0, () => []);
    case "meaningless":
      return replace(isString, () => pick(MEANINGLESS));
    case "twice":
      return replace(
        (node) => Array.isArray(node) && node.length > 0,
        (node) => [...(node as Json[]), structuredClone((node as Json[])[0] as Json)],
      );
    case "unknownField": {
      const found = place((node) => isObject(node));
      if (found === undefined) return undefined;
      const [node, path] = found;
      const key = pick(["unexpected", "Name", "targetRef", "timeouts"]);
      if (key in (node as Record<string, Json>)) return undefined;
      (node as Record<string, Json>)[key] = 1;
      return { value: copy, where: pathText([...path, key]), what: "unknownField" };
    }
    case "dropField": {
      const found = place((node, path) => path.length > 0 && typeof path[path.length - 1] === "string");
      if (found === undefined) return undefined;
      const [, path] = found;
      const parent = getAt(copy, path.slice(0, -1)) as Record<string, Json>;
      delete parent[path[path.length - 1] as string];
      return { value: copy, where: pathText(path), what: "dropField" };
    }
  }
}

function isObject(node: Json): node is { [key: string]: Json } {
  return typeof node === "object" && node !== null && !Array.isArray(node);
}

function typeOf(node: Json): string {
  if (node === null) return "null";
  if (Array.isArray(node)) return "array";
  if (typeof node === "number") return Number.isInteger(node) ? "integer" : "number";
  return typeof node;
}

function walk(node: Json, path: Path): [Json, Path][] {
  const here: [Json, Path] = [node, path];
  if (Array.isArray(node)) return [here, ...node.flatMap((child, i) => walk(child, [...path, i]))];
  if (isObject(node)) return [here, ...Object.entries(node).flatMap(([key, child]) => walk(child, [...path, key]))];
  return [here];
}

function getAt(root: Json, path: Path): Json {
  return path.reduce<Json>((node, key) => (node as Record<string | number, Json>)[key] as Json, root);
}

function setAt(root: Json, path: Path, value: Json): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, Json>;
  parent[path[path.length - 1] as string | number] = value;
}

function pathText(path: Path): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("");
}
