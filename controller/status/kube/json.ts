// Reading a status as the API server returned it (outside data: any shape) and comparing it with
// the one meshgate would write. Two bodies are equal when they hold the same data, whatever the
// order of their keys (the API server re-serialises what it stores); arrays keep their order.

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The object itself, or an empty one when the server has none (a status never written). */
export function recordOf(value: unknown): JsonObject {
  return isRecord(value) ? value : {};
}

/** The items of a list field; anything that is not a list reads as an empty one. */
export function itemsOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function semanticEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    // A key holding undefined is no key at all in JSON.
    const keys = (o: JsonObject) => Object.keys(o).filter((k) => o[k] !== undefined);
    const ka = keys(a);
    const kb = keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && semanticEqual(a[k], b[k]));
  }
  return false;
}
