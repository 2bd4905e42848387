// Path normalisation: a table of spellings an attacker might use for the same route, then
// generated paths checked against a literal, step-by-step reading of the rules (RFC 3986 6.2.2
// and 5.2.4, Envoy's merge_slashes and escaped-slash actions) and against their invariants.
import test, { type ExecutionContext } from "ava";
import * as fc from "fast-check";
import {
  type EscapedSlashesAction,
  type NormalizedPath,
  type PathNormalizeOptions,
  normalizePath,
} from "../../../gateway/http/path-normalize.js";
import { fcSeed } from "../../support/fc-seed.js";

const ACTIONS: readonly EscapedSlashesAction[] = ["KeepUnchanged", "RejectRequest", "UnescapeAndForward", "UnescapeAndRedirect"];
const options = (escapedSlashes: EscapedSlashesAction, mergeSlashes = true): PathNormalizeOptions => ({
  mergeSlashes,
  escapedSlashes,
});

type Expected = { path: string; match?: string } | { redirect: string } | { reject: string | true };
const ok = (path: string, match?: string): Expected => (match === undefined ? { path } : { path, match });
const redirect = (path: string): Expected => ({ redirect: path });
const rejected = (reason: string | true = true): Expected => ({ reject: reason });

function assertResult(t: ExecutionContext, input: string, opts: PathNormalizeOptions, expected: Expected): void {
  const got = normalizePath(input, opts);
  const label = `${JSON.stringify(input)} ${opts.escapedSlashes} mergeSlashes=${opts.mergeSlashes}`;
  if ("reject" in expected) {
    t.is(got.kind, "reject", label);
    if (got.kind === "reject" && expected.reject !== true) t.is(got.reason, expected.reject, label);
  } else if ("redirect" in expected) {
    t.deepEqual(got, { kind: "redirect", path: expected.redirect }, label);
  } else {
    t.deepEqual(got, { kind: "ok", path: expected.path, match: expected.match ?? expected.path }, label);
  }
}

// Without an encoded slash the action makes no difference: each row holds for all four.
const SAME_FOR_EVERY_ACTION: [string, Expected][] = [
  ["/api/items", ok("/api/items")],
  ["/", ok("/")],
  ["/api/items/", ok("/api/items/")],
  ["/./admin", ok("/admin")],
  ["//admin", ok("/admin")],
  ["/a//b///c//", ok("/a/b/c/")],
  ["/x/../admin", ok("/admin")],
  ["/x/%2e%2e/admin", ok("/admin")],
  ["/x/%2E%2E/admin", ok("/admin")],
  ["/x/.%2e/admin", ok("/admin")],
  ["/%2e/admin", ok("/admin")],
  ["/%61dmin", ok("/admin")],
  ["/a/b/../../../c", ok("/c")],
  ["/../a", ok("/a")],
  ["/a/./b/.", ok("/a/b/")],
  ["/a/..", ok("/")],
  ["/a/.../b", ok("/a/.../b")],
  ["/a/..b/.c", ok("/a/..b/.c")],
  ["/%7euser", ok("/~user")],
  ["/%41%2D%5f%30", ok("/A-_0")],
  ["/caf\u00e9", ok("/caf\u00e9")],
  ["/\u65e5\u672c/\u{1F600}", ok("/\u65e5\u672c/\u{1F600}")],
  ["/a%c3%a9", ok("/a%C3%A9")],
  ["/a%00b", ok("/a%00b")],
  ["/a%20b", ok("/a%20b")],
  ["/a%3a%3F", ok("/a%3A%3F")],
  ["/a%252F", ok("/a%252F")],
  ["/!$&'()*+,;=:@", ok("/!$&'()*+,;=:@")],
  ['/"<>^`{|}', ok('/"<>^`{|}')],
  ["", rejected("path does not start with /")],
  ["api/items", rejected("path does not start with /")],
  ["*", rejected("path does not start with /")],
  ["/a\\b", rejected("backslash in path")],
  ["/a#b", rejected("# in path")],
  ["/a%zz", rejected("% in path not followed by two hex digits")],
  ["/a%4", rejected("% in path not followed by two hex digits")],
  ["/a%", rejected("% in path not followed by two hex digits")],
  ["/a\u0001", rejected("control character in path")],
  ["/a\u007f", rejected("control character in path")],
  ["/a b", rejected("space in path")],
  ["/a?b", rejected("character not allowed in a path")],
  ["/a[0]", rejected("character not allowed in a path")],
  ["/\uFFFD", rejected("path is not valid UTF-8")],
  ["/a\uD800", rejected("path is not valid UTF-8")],
  ["/a\uDC00b", rejected("path is not valid UTF-8")],
  ["/a\uDC00\uDC00", rejected("path is not valid UTF-8")],
];

for (const [input, expected] of SAME_FOR_EVERY_ACTION) {
  test(`normalizes ${JSON.stringify(input)} the same under every action`, (t) => {
    for (const action of ACTIONS) assertResult(t, input, options(action), expected);
  });
}

// Rows with an encoded slash: [input, KeepUnchanged, RejectRequest, UnescapeAndForward, UnescapeAndRedirect].
const BY_ACTION: [string, Expected, Expected, Expected, Expected][] = [
  ["/admin%2fx", ok("/admin%2Fx", "/admin/x"), rejected("encoded slash in path"), ok("/admin/x"), redirect("/admin/x")],
  ["/admin%2Fx", ok("/admin%2Fx", "/admin/x"), rejected(), ok("/admin/x"), redirect("/admin/x")],
  ["/admin%5Cx", ok("/admin%5Cx", "/admin/x"), rejected(), ok("/admin/x"), redirect("/admin/x")],
  ["/admin%5cx", ok("/admin%5Cx", "/admin/x"), rejected(), ok("/admin/x"), redirect("/admin/x")],
  ["/x/..%2Fadmin", ok("/x/..%2Fadmin", "/admin"), rejected(), ok("/admin"), redirect("/admin")],
  ["/a%2f%2Fb", ok("/a%2F%2Fb", "/a/b"), rejected(), ok("/a/b"), redirect("/a/b")],
  // `match` follows the bytes the backend gets: here "/a/", not the decoded "/a/b/../.." = "/".
  ["/a/b%2F../..", ok("/a/", "/a/"), rejected(), ok("/"), redirect("/")],
  ["/%2Fevil.com", ok("/%2Fevil.com", "/evil.com"), rejected(), ok("/evil.com"), redirect("/evil.com")],
];

for (const [input, ...expected] of BY_ACTION) {
  test(`normalizes ${JSON.stringify(input)} by escaped-slash action`, (t) => {
    ACTIONS.forEach((action, i) => assertResult(t, input, options(action), expected[i] ?? rejected()));
  });
}

test("without mergeSlashes repeated slashes are forwarded, matched as one, and dot segments still go", (t) => {
  // Matched merged: an origin that merges (nginx) serves "//admin" as "/admin", so the rule for
  // /admin must take it too.
  for (const action of ACTIONS) {
    assertResult(t, "//admin", options(action, false), ok("//admin", "/admin"));
    assertResult(t, "/a//b/../c", options(action, false), ok("/a//c", "/a/c"));
    assertResult(t, "/a//../b", options(action, false), ok("/a/b"));
  }
  assertResult(t, "/a%2F%2Fb", options("UnescapeAndForward", false), ok("/a//b", "/a/b"));
  assertResult(t, "/a%2F%2Fb", options("KeepUnchanged", false), ok("/a%2F%2Fb", "/a/b"));
});

test("a redirect never goes to a protocol-relative //host", (t) => {
  assertResult(t, "/%2Fevil.com", options("UnescapeAndRedirect", false), rejected("decoded path starts with // and would redirect to another host"));
  assertResult(t, "/%5Cevil.com", options("UnescapeAndRedirect", false), rejected());
  assertResult(t, "/%2Fevil.com", options("UnescapeAndForward", false), ok("//evil.com", "/evil.com"));
});

// ---- generated paths ----

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const PCHAR_EXTRA = "!$&'()*+,;=:@\"<>^`{|}";

const seed = fcSeed();
const numRuns = 1000;


function check<Ts>(t: ExecutionContext, property: fc.IRawProperty<Ts>): void {
  t.log(`fast-check seed ${seed}, numRuns ${numRuns} (replay with FC_SEED=${seed})`);
  fc.assert(property, { seed, numRuns });
  t.pass();
}

const unreservedChar = fc.constantFrom(...UNRESERVED);
const piece = fc.oneof(
  fc.constantFrom(
    ".", "..", "...", "%2e", "%2E", ".%2e", "%2E.", "%2f", "%2F", "%5c", "%5C",
    "%61", "%41", "%7e", "%7E", "%2d", "%5f", "%30", "%20", "%00", "%25", "%252F", "%3a", "%3F", "%ff",
    "%c3%a9", "%E2%82%AC", "caf\u00e9", "\u65e5\u672c", "\u{1F600}", "-_~",
  ),
  fc.string({ unit: unreservedChar, maxLength: 4 }),
  fc.string({ unit: fc.constantFrom(...PCHAR_EXTRA), minLength: 1, maxLength: 2 }),
);
const segment = fc.array(piece, { maxLength: 3 }).map((pieces) => pieces.join(""));
const validPath = fc.array(segment, { maxLength: 6 }).map((segments) => "/" + segments.join("/"));
const anyOptions = fc.record({ mergeSlashes: fc.boolean(), escapedSlashes: fc.constantFrom(...ACTIONS) });

/** The rules read literally, one string pass per step, with no care for speed. */
function reference(raw: string, opts: PathNormalizeOptions): NormalizedPath {
  if (!referenceValid(raw)) return { kind: "reject", reason: "" };
  const encodedSlash = tokens(raw).some((token) => /^%(2f|5c)$/i.test(token));
  const pipeline = (path: string, unescapeSlashes: boolean, merge = opts.mergeSlashes) => {
    let out = tokens(path)
      .map((token) => {
        if (token.length !== 3 || token[0] !== "%") return token;
        const char = String.fromCharCode(parseInt(token.slice(1), 16));
        if (UNRESERVED.includes(char)) return char;
        if (unescapeSlashes && (char === "/" || char === "\\")) return "/";
        return token.toUpperCase();
      })
      .join("");
    if (merge) out = out.replace(/\/+/g, "/");
    return removeDotSegments(out);
  };
  if (encodedSlash && opts.escapedSlashes === "RejectRequest") return { kind: "reject", reason: "" };
  if (encodedSlash && opts.escapedSlashes === "UnescapeAndRedirect") {
    const path = pipeline(raw, true);
    return path.startsWith("//") ? { kind: "reject", reason: "" } : { kind: "redirect", path };
  }
  const path = pipeline(raw, opts.escapedSlashes !== "KeepUnchanged");
  // Matching reads encoded slashes as slashes and repeated slashes as one, whatever is forwarded.
  return { kind: "ok", path, match: pipeline(path, true, true) };
}

function referenceValid(raw: string): boolean {
  if (!raw.startsWith("/")) return false;
  const chars = [...raw];
  return chars.every((char, i) => {
    const cp = char.codePointAt(0) ?? 0;
    if (char === "%") return /^[0-9a-f]{2}$/i.test((chars[i + 1] ?? "") + (chars[i + 2] ?? ""));
    if (cp > 0x7f) return cp !== 0xfffd && !(cp >= 0xd800 && cp <= 0xdfff);
    return (UNRESERVED + PCHAR_EXTRA + "/").includes(char);
  });
}

/** Splits a valid path into "%XX" escapes and single characters. */
function tokens(path: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < path.length; ) {
    const size = path[i] === "%" ? 3 : 1;
    out.push(path.slice(i, i + size));
    i += size;
  }
  return out;
}

/** RFC 3986 5.2.4, transcribed rule by rule. */
function removeDotSegments(path: string): string {
  let input = path;
  let output = "";
  const dropLast = () => {
    output = output.slice(0, Math.max(0, output.lastIndexOf("/")));
  };
  while (input.length > 0) {
    if (input.startsWith("../")) input = input.slice(3);
    else if (input.startsWith("./")) input = input.slice(2);
    else if (input.startsWith("/./")) input = input.slice(2);
    else if (input === "/.") input = "/";
    else if (input.startsWith("/../")) {
      input = input.slice(3);
      dropLast();
    } else if (input === "/..") {
      input = "/";
      dropLast();
    } else if (input === "." || input === "..") input = "";
    else {
      const next = input.indexOf("/", 1);
      const first = next < 0 ? input : input.slice(0, next);
      output += first;
      input = input.slice(first.length);
    }
  }
  return output;
}

const comparable = (result: NormalizedPath) => (result.kind === "reject" ? { kind: "reject" } : result);

test("generated paths: the fast scan and rebuild agree with the literal reading of the rules", (t) => {
  check(
    t,
    fc.property(validPath, anyOptions, (path, opts) => {
      const got = comparable(normalizePath(path, opts));
      const want = comparable(reference(path, opts));
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(`${JSON.stringify(path)} ${JSON.stringify(opts)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
    }),
  );
});

test("generated paths: normalising is idempotent, and a redirect target is final", (t) => {
  check(
    t,
    fc.property(validPath, anyOptions, (path, opts) => {
      const first = normalizePath(path, opts);
      if (first.kind === "reject") return;
      const again = normalizePath(first.path, opts);
      const merged = opts.mergeSlashes ? first.path : first.path.replace(/\/+/g, "/");
      const want = first.kind === "ok" ? first : { kind: "ok", path: first.path, match: merged };
      if (JSON.stringify(again) !== JSON.stringify(want)) {
        throw new Error(`${JSON.stringify(path)}: ${JSON.stringify(first)} then ${JSON.stringify(again)}`);
      }
    }),
  );
});

function violations(path: string, mergeSlashes: boolean): string[] {
  const found: string[] = [];
  if (path.split("/").some((s) => s === "." || s === "..")) found.push("dot segment");
  if (mergeSlashes && path.includes("//")) found.push("//");
  for (const token of tokens(path)) {
    if (token.length !== 3) continue;
    if (UNRESERVED.includes(String.fromCharCode(parseInt(token.slice(1), 16)))) found.push(`escaped unreserved ${token}`);
    if (token !== token.toUpperCase()) found.push(`lower-case hex ${token}`);
  }
  return found;
}

test("generated paths: results hold no dot segment, no //, no escaped unreserved, no lower-case hex", (t) => {
  check(
    t,
    fc.property(validPath, anyOptions, (path, opts) => {
      const result = normalizePath(path, opts);
      if (result.kind === "reject") return;
      const found = violations(result.path, opts.mergeSlashes);
      if (result.kind === "ok") {
        found.push(...violations(result.match, true));
        if (tokens(result.match).some((token) => token === "%2F" || token === "%5C")) found.push("encoded slash in match");
        if (opts.escapedSlashes !== "KeepUnchanged" && opts.mergeSlashes && result.match !== result.path) found.push("match differs from path");
      }
      if (found.length > 0) throw new Error(`${JSON.stringify(path)} -> ${JSON.stringify(result)}: ${found.join(", ")}`);
    }),
  );
});

/** Percent-encodes some unreserved characters (outside existing escapes), with either hex case. */
function encodeSome(path: string, choices: number[]): string {
  let out = "";
  let n = 0;
  for (const token of tokens(path)) {
    const choice = choices[n++ % choices.length] ?? 0;
    if (token.length === 1 && UNRESERVED.includes(token) && choice >= 2) {
      const hex = token.charCodeAt(0).toString(16).padStart(2, "0");
      out += "%" + (choice === 2 ? hex.toUpperCase() : hex.toLowerCase());
    } else {
      out += token;
    }
  }
  return out;
}

test("generated paths: decoding unreserved escapes commutes with normalisation", (t) => {
  check(
    t,
    fc.property(validPath, fc.array(fc.nat(3), { minLength: 1, maxLength: 64 }), anyOptions, (path, choices, opts) => {
      const encoded = encodeSome(path, choices);
      const got = comparable(normalizePath(encoded, opts));
      const want = comparable(normalizePath(path, opts));
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(`${JSON.stringify(encoded)} -> ${JSON.stringify(got)}, but ${JSON.stringify(path)} -> ${JSON.stringify(want)}`);
      }
    }),
  );
});

test("generated paths: an already-normal path comes back as the input string", (t) => {
  const plainSegment = fc.string({ unit: unreservedChar, minLength: 1, maxLength: 8 }).filter((s) => s !== "." && s !== "..");
  const normalPath = fc
    .tuple(fc.array(plainSegment, { maxLength: 6 }), fc.boolean())
    .map(([segments, trailing]) => "/" + segments.join("/") + (trailing && segments.length > 0 ? "/" : ""));
  check(
    t,
    fc.property(normalPath, anyOptions, (path, opts) => {
      const result = normalizePath(path, opts);
      if (result.kind !== "ok" || result.path !== path || result.match !== path) {
        throw new Error(`${JSON.stringify(path)} -> ${JSON.stringify(result)}`);
      }
    }),
  );
});

test("generated paths: one bad character anywhere is rejected under every option", (t) => {
  const bad = fc.constantFrom("\\", "#", " ", "\u0000", "\u0001", "\u001f", "\u007f", "\uFFFD", "%", "%4", "%zz", "%g1", "?", "[", "]", "\uD800", "\uDC00");
  check(
    t,
    fc.property(fc.array(segment, { maxLength: 3 }), bad, fc.array(segment, { maxLength: 3 }), anyOptions, (before, char, after, opts) => {
      // A segment of its own, so a "%4" cannot borrow a hex digit from the next piece.
      const path = "/" + [...before, char, ...after].join("/");
      const result = normalizePath(path, opts);
      if (result.kind !== "reject") throw new Error(`${JSON.stringify(path)} -> ${JSON.stringify(result)}`);
    }),
  );
});
