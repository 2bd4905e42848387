// Vose's alias method: a weighted draw in O(1) from one uniform number, after O(n) setup.
export class AliasTable {
  private readonly keep: Float64Array;
  private readonly alias: Uint32Array;

  constructor(weights: readonly number[]) {
    const n = weights.length;
    this.keep = new Float64Array(n).fill(1);
    this.alias = new Uint32Array(n);
    let total = 0;
    for (const w of weights) total += w;
    if (n === 0 || total <= 0) return;
    // Each column holds probability 1 in all: its own share `keep`, the rest lent to `alias`.
    const share = weights.map((w) => (w * n) / total);
    const small: number[] = [];
    const large: number[] = [];
    share.forEach((s, i) => (s < 1 ? small : large).push(i));
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.keep[s] = share[s]!;
      this.alias[s] = l;
      share[l] = share[l]! + share[s]! - 1;
      (share[l]! < 1 ? small : large).push(l);
    }
    // Whatever is left is 1 up to rounding: it keeps its whole column (the fill above).
  }

  /** An index drawn with probability proportional to its weight; `u` is uniform in [0, 1). */
  sample(u: number): number {
    const n = this.keep.length;
    const x = u * n;
    const i = Math.min(Math.floor(x), n - 1);
    return x - i < this.keep[i]! ? i : this.alias[i]!;
  }
}
