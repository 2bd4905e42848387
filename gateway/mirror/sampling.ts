// Which requests a RequestMirror filter copies. Gateway API gives either `percent` (0-100) or
// `fraction` {numerator, denominator (default 100)}; neither means every request. The share is
// turned into a probability once, when the route is compiled, so a request costs one random draw.

export interface MirrorSamplingSpec {
  percent?: number;
  fraction?: { numerator: number; denominator?: number };
}

/** A source of uniform numbers in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** The probability (0..1) of mirroring a request. Throws RangeError on values Gateway API forbids. */
export function mirrorProbability(spec: MirrorSamplingSpec): number {
  if (spec.percent !== undefined && spec.fraction !== undefined) {
    throw new RangeError("mirror sampling: give percent or fraction, not both");
  }
  if (spec.percent !== undefined) {
    const { percent } = spec;
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new RangeError(`mirror sampling: percent must be an integer in 0..100, got ${percent}`);
    }
    return percent / 100;
  }
  if (spec.fraction !== undefined) {
    const { numerator } = spec.fraction;
    const denominator = spec.fraction.denominator ?? 100;
    if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || numerator < 0 || denominator < 1) {
      throw new RangeError(`mirror sampling: invalid fraction ${numerator}/${denominator}`);
    }
    if (numerator > denominator) {
      throw new RangeError(`mirror sampling: numerator ${numerator} exceeds denominator ${denominator}`);
    }
    return numerator / denominator;
  }
  return 1;
}

/**
 * One draw. `random()` is in [0, 1), so probability 1 always mirrors and 0 never does, and
 * the random source is not even consulted at the two ends.
 */
export function shouldMirror(probability: number, random: RandomSource = Math.random): boolean {
  if (probability >= 1) return true;
  if (probability <= 0) return false;
  return random() < probability;
}
