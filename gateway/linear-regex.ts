// User regular expressions (route path, header and query matches, rate limit selectors) in RE2
// syntax, matched in time linear in the input: RE2 (re2js, its JavaScript port) simulates the
// automaton instead of backtracking, so no pattern and no input can stall a worker the way
// `/files/([a-z]+)*\.txt` on a 38-character path stalls V8's backtracking engine for seconds.
// Pure JavaScript: nothing to load or flag in the main thread, worker threads or child processes.
import { RE2JS } from "re2js";

/**
 * The most RE2 instructions a pattern may compile to. The automaton's work per input character
 * grows with the program, so this bounds the cost of any match; `[a-z]{1,64}` takes about 130,
 * `.{1000}` about 1,000. (Envoy refuses programs over 100 by default.)
 */
export const MAX_PROGRAM_SIZE = 2000;

/**
 * The longest pattern source compiled at all: compiling takes time with the source's length
 * (a 200,000-character literal took over a second, stalling the apply that compiles it) before
 * the program size can be checked.
 */
export const MAX_PATTERN_LENGTH = 10_000;

/** A compiled pattern that holds when it matches the whole value, as the Gateway API asks. */
export class FullMatch {
  private constructor(private readonly re: RE2JS) {}

  /** Throws an Error whose message is the reason the pattern is refused. */
  static compile(source: string): FullMatch {
    if (source.length > MAX_PATTERN_LENGTH)
      throw new Error(`too long: ${source.length} characters, at most ${MAX_PATTERN_LENGTH}`);
    let re: RE2JS;
    try {
      re = RE2JS.compile(source);
    } catch (err) {
      // Anything re2js throws (a RangeError for a pattern nested too deep included) refuses it.
      throw new Error(describe(err instanceof Error ? err.message : String(err)));
    }
    const size = re.programSize();
    if (size > MAX_PROGRAM_SIZE)
      throw new Error(`too large: ${size} RE2 instructions, at most ${MAX_PROGRAM_SIZE}`);
    return new FullMatch(re);
  }

  test(value: string): boolean {
    return this.re.testExact(value);
  }
}

/** Why `source` is refused as a user regular expression, or undefined when it is accepted. */
export function regexProblem(source: string): string | undefined {
  try {
    FullMatch.compile(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** re2js says "error parsing regexp: invalid escape sequence: `\1`"; the reason is the part after the prefix. */
function describe(message: string): string {
  const reason = message.replace(/^error parsing regexp: /, "");
  if (/`\\[1-9]`/.test(reason)) return `${reason} (RE2 has no backreferences)`;
  if (/`\(\?(=|!|<=|<!)/.test(reason)) return `${reason} (RE2 has no lookahead or lookbehind)`;
  return reason;
}
