// Plain data handed between threads without one long pause on the receiving side. A
// structured clone (postMessage) is deserialised in one go: about 40 ms for a 5,000-route
// Snapshot, on the event loop that serves traffic. pack() cuts every long array into pieces
// serialised on their own (v8 serialisation, in the sending thread); unpack() deserialises them
// one at a time and gives the event loop a turn whenever a slice of time is used up.
import { performance } from "node:perf_hooks";
import { deserialize, serialize } from "node:v8";
import { SLICE_MS } from "./routing/steps.js";

/** Where a long array was cut out, and its pieces in order; paths count indices in whole arrays. */
interface Cut {
  path: (string | number)[];
  pieces: Uint8Array[];
}

export interface Packed {
  /** The value with every long array replaced by an empty one. */
  skeleton: Uint8Array;
  /** Outer arrays before the arrays inside them. */
  cuts: Cut[];
}

/** Items per piece: a few hundred route entries deserialise in well under a millisecond. */
const PIECE_ITEMS = 256;

/**
 * Cuts `value` (plain data: objects, arrays, strings, numbers, Maps...) into pieces. Maps, Sets
 * and other non-plain values are kept whole inside their piece.
 */
export function pack(value: unknown, pieceItems = PIECE_ITEMS): Packed {
  const cuts: Cut[] = [];
  const strip = (v: unknown, path: (string | number)[]): unknown => {
    if (Array.isArray(v)) {
      if (v.length <= pieceItems) return v.map((item, i) => strip(item, [...path, i]));
      const cut: Cut = { path, pieces: [] };
      cuts.push(cut);
      for (let start = 0; start < v.length; start += pieceItems) {
        const batch = v.slice(start, start + pieceItems).map((item, i) => strip(item, [...path, start + i]));
        cut.pieces.push(toBytes(batch));
      }
      return [];
    }
    if (v === null || typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) return v;
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) define(out, k, strip(item, [...path, k]));
    return out;
  };
  const skeleton = toBytes(strip(value, []));
  return { skeleton, cuts };
}

/** Rebuilds what pack() cut, in slices of about `sliceMs` with event-loop turns between them. */
export async function unpack(packed: Packed, sliceMs = SLICE_MS): Promise<unknown> {
  let start = performance.now();
  const pause = async () => {
    if (performance.now() - start < sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    start = performance.now();
  };
  const root = { value: deserialize(packed.skeleton) as unknown };
  for (const cut of packed.cuts) {
    const items: unknown[] = [];
    for (const piece of cut.pieces) {
      await pause();
      for (const item of deserialize(piece) as unknown[]) items.push(item);
    }
    let parent: Record<string | number, unknown> = root;
    let key: string | number = "value";
    for (const part of cut.path) {
      parent = parent[key] as Record<string | number, unknown>;
      key = part;
    }
    define(parent, key, items);
  }
  return root.value;
}

function toBytes(v: unknown): Uint8Array {
  const b = serialize(v);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** An own property even for "__proto__": data keys never reach a prototype. */
function define(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}
