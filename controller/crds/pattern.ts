// zod checks a pattern with a JavaScript RegExp; the API server checks a CRD's `pattern` with
// Go's regexp (RE2 syntax). Most of the syntax means the same in both, but not all of it: `\s`
// is Unicode whitespace in JavaScript and ASCII in Go, `.` excludes \r, U+2028 and U+2029 only
// in JavaScript, `[]` and `[^]` are legal only there, `\a` is "a" in one and a bell in the other.
// This turns a JavaScript pattern (no flags) into the Go pattern that matches the same strings,
// and throws on anything it is not sure of (lookaround, back-references, \p, astral literals, a
// counted repetition of something that matches an astral character, which JavaScript counts as
// two code units and Go as one),
// so a pattern added to a policy schema either keeps its meaning in the CRD or stops the build's
// tests, never silently changes what the API server accepts.

/** JavaScript's \s (WhiteSpace and LineTerminator, ECMAScript 2023), as members of a Go class. */
const JS_WHITESPACE = String.raw`\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`;
/** JavaScript's `.` without the s flag. */
const JS_DOT = String.raw`[^\n\r\x{2028}\x{2029}]`;
/** Escapes that mean the same in both, outside and inside a class. */
const SAME_ESCAPES = new Set(["d", "D", "w", "W", "t", "n", "r", "f", "v"]);
const PUNCTUATION = new Set([..."\\^$.|?*+()[]{}/-"]);

export class PatternError extends Error {}

export function goPattern(source: string): string {
  let out = "";
  let i = 0;
  const fail = (why: string): never => {
    throw new PatternError(`pattern ${JSON.stringify(source)} at ${i}: ${why}`);
  };
  while (i < source.length) {
    const c = source[i] as string;
    if ((source.codePointAt(i) ?? 0) > 0xffff) fail("a character outside the BMP (JavaScript counts it as two)");
    if (c === "\\") {
      if (/^[DWS]$/.test(source[i + 1] ?? "") && source[i + 2] === "{") fail(`a counted repetition of \\${source[i + 1]}`);
      out += escape(source[i + 1], false, fail);
      i += 2;
    } else if (c === "[") {
      const end = classEnd(source, i, fail);
      out += bracket(source.slice(i + 1, end), fail);
      if (source[i + 1] === "^" && source[end + 1] === "{") fail("a counted repetition of a negated class");
      i = end + 1;
    } else if (c === ".") {
      if (source[i + 1] === "{") fail("a counted repetition of .");
      out += JS_DOT;
      i += 1;
    } else if (c === "(") {
      if (source[i + 1] === "?") {
        if (source[i + 2] !== ":") fail("only (?: groups (no lookaround or named groups)");
        out += "(?:";
        i += 3;
      } else {
        out += "(";
        i += 1;
      }
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** The index of the `]` that closes the class opened at `open`. */
function classEnd(source: string, open: number, fail: (why: string) => never): number {
  let i = open + 1;
  if (source[i] === "^") i += 1;
  // JavaScript reads `[]` as "nothing" and `[^]` as "anything"; Go as the start of a class with `]`.
  if (source[i] === "]") fail("an empty class [] or [^]");
  while (i < source.length) {
    if (source[i] === "\\") i += 2;
    else if (source[i] === "]") return i;
    else i += 1;
  }
  return fail("an unclosed class");
}

function bracket(body: string, fail: (why: string) => never): string {
  let out = "[";
  let i = 0;
  if (body[0] === "^") {
    out += "^";
    i = 1;
  }
  while (i < body.length) {
    const c = body[i] as string;
    if (c === "\\") {
      out += escape(body[i + 1], true, fail);
      i += 2;
    } else {
      // `[` inside a class is a literal in JavaScript; Go would read `[:` as a POSIX class.
      out += c === "[" ? "\\[" : c;
      i += 1;
    }
  }
  return `${out}]`;
}

function escape(next: string | undefined, inClass: boolean, fail: (why: string) => never): string {
  if (next === undefined) return fail("a trailing backslash");
  if (SAME_ESCAPES.has(next) || PUNCTUATION.has(next)) return `\\${next}`;
  if (next === "s") return inClass ? JS_WHITESPACE : `[${JS_WHITESPACE}]`;
  if (next === "S" && !inClass) return `[^${JS_WHITESPACE}]`;
  if ((next === "b" || next === "B") && !inClass) return `\\${next}`;
  return fail(`the escape \\${next} (not translated: its meaning differs or it has none in Go)`);
}
