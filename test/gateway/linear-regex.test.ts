// User regular expressions: RE2 syntax, whole-value matches, linear time; what RE2 refuses is
// refused with the reason. Generated patterns in the syntax JavaScript and RE2 share must give
// the answers V8's own engine gives.
import test from "ava";
import fc from "fast-check";
import { FullMatch, MAX_PATTERN_LENGTH, MAX_PROGRAM_SIZE, regexProblem } from "../../gateway/linear-regex.js";
import { fcSeed } from "../support/fc-seed.js";

const INPUT_CHARS = ["a", "b", "c", "/", ".", "-", "1", " ", "_"];

/** Patterns in the common syntax of RE2 and JavaScript, where both mean the same thing. */
const pattern: fc.Arbitrary<string> = fc.letrec<{ re: string; term: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("a", "b", "c", "/", "-", "1", " ", "\\.", "\\/", "\\-", "_"),
    fc.constantFrom(".", "\\d", "\\w", "\\W", "\\D", "[ab]", "[^a]", "[a-c]", "[/.]", "[^\\d]", "[\\w-]"),
    tie("re").map((r) => `(${r})`),
    tie("re").map((r) => `(?:${r})`),
  ),
  term: fc.oneof(
    tie("atom"),
    // JavaScript refuses a quantified anchor ("^*"), so anchors stand alone.
    fc.constantFrom("^", "$", "\\b", "\\B"),
    fc
      .tuple(
        tie("atom"),
        fc.constantFrom("*", "+", "?", "*?", "+?", "??", "{2}", "{1,}", "{0,2}", "{1,3}", "{2,3}?"),
      )
      .map(([a, q]) => a + q),
  ),
  re: fc.oneof(
    fc.array(tie("term"), { minLength: 0, maxLength: 4 }).map((terms) => terms.join("")),
    fc.tuple(tie("term"), tie("term")).map(([a, b]) => `${a}|${b}`),
  ),
})).re;

const input = fc.array(fc.constantFrom(...INPUT_CHARS), { maxLength: 10 }).map((cs) => cs.join(""));

function javascriptFullMatch(source: string): RegExp | undefined {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch {
    return undefined;
  }
}

test("generated patterns both engines accept give V8's answers on generated inputs", (t) => {
  const numRuns = Number(process.env["FC_RUNS"] ?? 3000);
  const seed = fcSeed();
  t.log(`numRuns=${numRuns} seed=${seed} (replay: FC_SEED=${seed} FC_RUNS=${numRuns})`);
  let bothAccepted = 0;
  let matched = 0;
  fc.assert(
    fc.property(pattern, fc.array(input, { minLength: 1, maxLength: 8 }), (source, values) => {
      const js = javascriptFullMatch(source);
      if (js === undefined || regexProblem(source) !== undefined) return;
      bothAccepted++;
      const re2 = FullMatch.compile(source);
      for (const value of values) {
        const expected = js.test(value);
        if (expected) matched++;
        if (re2.test(value) !== expected)
          throw new Error(`${JSON.stringify(source)} on ${JSON.stringify(value)}: V8 says ${expected}`);
      }
    }),
    { numRuns, seed },
  );
  t.log(`both engines accepted ${bothAccepted} of ${numRuns} patterns; ${matched} inputs matched`);
  // The comparison says something only if most patterns ran and some inputs matched.
  t.true(bothAccepted > numRuns * 0.8, `${bothAccepted}`);
  t.true(matched > numRuns / 10, `${matched}`);
});

test("RE2 syntax Envoy users write works, and RE2's meaning wins where JavaScript's differs", (t) => {
  const cases: [string, string[], string[]][] = [
    ["(?i)/Api/v[0-9]+", ["/api/v1", "/API/V22"], ["/apix/v1"]],
    ["/items/[[:digit:]]+", ["/items/42"], ["/items/4a"]],
    ["\\pL+", ["héllo", "Ωmega"], ["abc1"]],
    ["/users/(?P<id>[0-9]+)", ["/users/7"], ["/users/x"]],
    ["\\Qa.b*\\E", ["a.b*"], ["axb*", "a.bb"]],
    ["\\Aab\\z", ["ab"], ["ab\n"]],
    ["x{2,3}", ["xx", "xxx"], ["x", "xxxx"]],
    // \s is [\t\n\f\r ] in RE2; JavaScript adds \v and Unicode spaces.
    ["a\\sb", ["a b", "a\tb"], ["a\vb", "a\u00a0b"]],
    // "." is any character but \n, so \r too, and an astral character is one character.
    ["a.c", ["a\rc", "a😀c"], ["a\nc"]],
    // Matches are whole-value: the pattern need not anchor itself, and may.
    ["^/exact$", ["/exact"], ["/exact/", "x/exact"]],
    ["", [""], ["a"]],
  ];
  for (const [source, yes, no] of cases) {
    t.is(regexProblem(source), undefined, source);
    const re = FullMatch.compile(source);
    for (const v of yes) t.true(re.test(v), `${source} on ${JSON.stringify(v)}`);
    for (const v of no) t.false(re.test(v), `${source} on ${JSON.stringify(v)}`);
  }
});

test("what RE2 cannot match in linear time, or does not parse, is refused with the reason", (t) => {
  const cases: [string, RegExp][] = [
    ["/a(?=b)", /lookahead or lookbehind/],
    ["/a(?!b)", /lookahead or lookbehind/],
    ["(?<=a)b", /lookahead or lookbehind/],
    ["(?<!a)b", /lookahead or lookbehind/],
    ["(a)\\1", /invalid escape sequence: `\\1` \(RE2 has no backreferences\)/],
    ["a++", /invalid nested repetition operator/],
    ["(?>a)", /invalid or unsupported Perl syntax/],
    ["a\\Z", /invalid escape sequence: `\\Z`/],
    ["\\u0041", /invalid escape sequence: `\\u`/],
    ["a{1001}", /invalid repeat count/],
    ["(a{100}){100}", /invalid repeat count/],
    ["/(unclosed", /missing closing \)/],
    ["[a", /missing closing \]/],
    ["*a", /missing argument to repetition operator/],
    ["(".repeat(1001) + ")".repeat(1001), /nests too deeply/],
    [".{1000}.{1000}.{1000}", new RegExp(`too large: \\d+ RE2 instructions, at most ${MAX_PROGRAM_SIZE}`)],
    ["x".repeat(MAX_PATTERN_LENGTH + 1), new RegExp(`too long: ${MAX_PATTERN_LENGTH + 1} characters, at most ${MAX_PATTERN_LENGTH}`)],
  ];
  for (const [source, reason] of cases) {
    const problem = regexProblem(source);
    t.regex(problem ?? "accepted", reason, source);
    t.throws(() => FullMatch.compile(source), { message: problem }, source);
  }
});

test("catastrophic backtracking patterns answer long inputs at once", (t) => {
  const n = 100_000;
  const cases: [string, string, boolean][] = [
    ["/files/([a-z]+)*\\.txt", `/files/${"a".repeat(n)}`, false],
    ["(\\w+\\s?)+", `${"word ".repeat(n / 5)}!`, false],
    ["(a+)+$", `${"a".repeat(n)}!`, false],
    ["(a|aa)+b", "a".repeat(n), false],
    ["(.*a){12}", `${"a".repeat(n)}b`, false],
    ["(.*a){12}", "a".repeat(n), true],
  ];
  for (const [source, value, expected] of cases) {
    const re = FullMatch.compile(source);
    const started = process.hrtime.bigint();
    t.is(re.test(value), expected, source);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    t.log(`${source} on ${value.length} characters: ${ms.toFixed(1)} ms`);
  }
});
