// Request path normalisation before route matching and forwarding, after Envoy's normalize_path,
// merge_slashes and path_with_escaped_slashes_action: without it "/x/..%2Fadmin" or "//admin"
// could reach a backend's /admin while the route table saw something else.
//
// It runs on every request, and almost every path is already normal, so one charCodeAt scan
// validates the path and only notes whether anything would change; the rebuild is the rare case.
// No regular expressions: nothing here can backtrack on a hostile path.
import type { ClientSettings } from "../snapshot.js";

export type EscapedSlashesAction = ClientSettings["escapedSlashes"];

export interface PathNormalizeOptions {
  readonly mergeSlashes: boolean;
  readonly escapedSlashes: EscapedSlashesAction;
}

/**
 * ok: `path` is forwarded, `match` is what route matching sees (they differ only when an encoded
 * slash is kept, or repeated slashes are forwarded unmerged: `match` reads both as one slash). redirect: the client is sent to `path` (the query, kept apart by uWS, is the
 * caller's to append). reject: answer 400.
 */
export type NormalizedPath =
  | { readonly kind: "ok"; readonly path: string; readonly match: string }
  | { readonly kind: "redirect"; readonly path: string }
  | { readonly kind: "reject"; readonly reason: string };

const reject = (reason: string): NormalizedPath => Object.freeze({ kind: "reject", reason });
// Shared so that a flood of bad requests allocates nothing here.
const NOT_ABSOLUTE = reject("path does not start with /");
const UNDECODABLE = reject("path is not valid UTF-8");
const CONTROL = reject("control character in path");
const SPACE = reject("space in path");
const FRAGMENT = reject("# in path");
const BACKSLASH = reject("backslash in path");
const BAD_ESCAPE = reject("% in path not followed by two hex digits");
const NOT_PCHAR = reject("character not allowed in a path");
const ENCODED_SLASH = reject("encoded slash in path");
const OFF_SITE_REDIRECT = reject("decoded path starts with // and would redirect to another host");

const SLASH_CODE = 0x2f;
const BACKSLASH_CODE = 0x5c;
const PERCENT_CODE = 0x25;

// Class 0, the table's default, is a character that is never allowed.
const PLAIN = 1;
const SLASH = 2;
const PERCENT = 3;
const DOT = 4;

function asciiClasses(): Uint8Array {
  const classes = new Uint8Array(128);
  const set = (chars: string, value: number) => {
    for (let i = 0; i < chars.length; i++) classes[chars.charCodeAt(i)] = value;
  };
  set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~", PLAIN);
  set("!$&'()*+,;=:@", PLAIN); // sub-delims, ":" and "@": the rest of RFC 3986 pchar
  set('"<>^`{|}', PLAIN); // not pchar, but clients send them and nginx passes them on
  set("/", SLASH);
  set("%", PERCENT);
  set(".", DOT);
  // Left at 0: controls, space, DEL, "#", "\" (some origins treat it as a slash), and "?",
  // "[", "]", which are delimiters and never part of a path that uWS split from its query.
  return classes;
}
const ASCII_CLASS = asciiClasses();

function unreservedBytes(): Uint8Array {
  const table = new Uint8Array(256);
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}
const UNRESERVED = unreservedBytes();

const HEX_DIGITS = "0123456789ABCDEF";

/** -1 for anything that is not a hex digit, including NaN past the end of the string. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

function rejectAscii(code: number): NormalizedPath {
  if (code < 0x20 || code === 0x7f) return CONTROL;
  if (code === 0x20) return SPACE;
  if (code === 0x23) return FRAGMENT;
  if (code === BACKSLASH_CODE) return BACKSLASH;
  return NOT_PCHAR;
}

// Any value above 2: the segment is not "." or "..".
const NOT_DOTS = 3;

export function normalizePath(raw: string, options: PathNormalizeOptions): NormalizedPath {
  const length = raw.length;
  if (length === 0 || raw.charCodeAt(0) !== SLASH_CODE) return NOT_ABSOLUTE;
  const mergeSlashes = options.mergeSlashes;
  let rebuild = false;
  let encodedSlash = false;
  // Dots seen so far in the current segment; 0 right after a "/" means an empty segment.
  let segmentDots = 0;
  for (let i = 1; i < length; i++) {
    const code = raw.charCodeAt(i);
    if (code < 0x80) {
      switch (ASCII_CLASS[code]) {
        case PLAIN:
          segmentDots = NOT_DOTS;
          break;
        case DOT:
          segmentDots++;
          break;
        case SLASH:
          if (segmentDots === 1 || segmentDots === 2 || (segmentDots === 0 && mergeSlashes)) rebuild = true;
          segmentDots = 0;
          break;
        case PERCENT: {
          const highCode = raw.charCodeAt(i + 1);
          const lowCode = raw.charCodeAt(i + 2);
          const high = hexValue(highCode);
          const low = hexValue(lowCode);
          if (high < 0 || low < 0) return BAD_ESCAPE;
          const byte = high * 16 + low;
          // Hex letters a-f are the only hex digits at or above 0x61.
          if (UNRESERVED[byte] === 1 || highCode >= 0x61 || lowCode >= 0x61) rebuild = true;
          if (byte === SLASH_CODE || byte === BACKSLASH_CODE) encodedSlash = true;
          segmentDots = NOT_DOTS;
          i += 2;
          break;
        }
        default:
          return rejectAscii(code);
      }
    } else if (code === 0xfffd) {
      // uWS put it where the wire had bytes that are not UTF-8; they cannot be forwarded as sent.
      return UNDECODABLE;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      // A lone surrogate has no UTF-8 form to forward.
      const next = raw.charCodeAt(i + 1);
      if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return UNDECODABLE;
      i++;
      segmentDots = NOT_DOTS;
    } else {
      segmentDots = NOT_DOTS;
    }
  }
  if (segmentDots === 1 || segmentDots === 2) rebuild = true;

  if (!encodedSlash) {
    const path = rebuild ? rebuildPath(raw, mergeSlashes, false) : raw;
    return { kind: "ok", path, match: mergeSlashes ? path : mergedView(path) };
  }
  switch (options.escapedSlashes) {
    case "RejectRequest":
      return ENCODED_SLASH;
    case "KeepUnchanged": {
      const path = rebuild ? rebuildPath(raw, mergeSlashes, false) : raw;
      // The backend gets the bytes, but a route must not be dodged by spelling "/" as %2F.
      return { kind: "ok", path, match: rebuildPath(path, true, true) };
    }
    case "UnescapeAndForward": {
      const path = rebuildPath(raw, mergeSlashes, true);
      return { kind: "ok", path, match: mergeSlashes ? path : mergedView(path) };
    }
    case "UnescapeAndRedirect": {
      const path = rebuildPath(raw, mergeSlashes, true);
      // A Location of "//host/..." is protocol-relative: the client would leave this site.
      if (path.charCodeAt(1) === SLASH_CODE) return OFF_SITE_REDIRECT;
      return { kind: "redirect", path };
    }
  }
}

/**
 * What route matching sees of a path forwarded with its repeated slashes: the same path merged.
 * An origin that merges slashes (nginx does by default) serves "//admin" as "/admin", so a rule
 * for /admin must take it too. The forwarded path has no dot segments left, so merging cannot
 * make new ones.
 */
function mergedView(path: string): string {
  return path.includes("//") ? rebuildPath(path, true, false) : path;
}

/**
 * The slow path, for a path the scan has validated: decodes unreserved escapes, upper-cases the
 * rest, optionally turns %2F and %5C into segment breaks, merges slashes and removes dot segments
 * (RFC 3986 5.2.4, on a stack of segments rather than a string buffer).
 */
function rebuildPath(raw: string, mergeSlashes: boolean, unescapeSlashes: boolean): string {
  const kept: string[] = [];
  const length = raw.length;
  let segment = "";
  let runStart = 1;
  let i = 1;
  while (i < length) {
    const code = raw.charCodeAt(i);
    if (code === SLASH_CODE) {
      placeSegment(kept, segment + raw.slice(runStart, i), false, mergeSlashes);
      segment = "";
      runStart = ++i;
    } else if (code === PERCENT_CODE) {
      segment += raw.slice(runStart, i);
      const high = hexValue(raw.charCodeAt(i + 1));
      const low = hexValue(raw.charCodeAt(i + 2));
      const byte = high * 16 + low;
      i += 3;
      runStart = i;
      if (UNRESERVED[byte] === 1) {
        segment += String.fromCharCode(byte);
      } else if (unescapeSlashes && (byte === SLASH_CODE || byte === BACKSLASH_CODE)) {
        // A decoded backslash is a slash too, as Envoy's canonicaliser treats it.
        placeSegment(kept, segment, false, mergeSlashes);
        segment = "";
      } else {
        segment += "%" + HEX_DIGITS.charAt(high) + HEX_DIGITS.charAt(low);
      }
    } else {
      i++;
    }
  }
  placeSegment(kept, segment + raw.slice(runStart), true, mergeSlashes);
  return "/" + kept.join("/");
}

function placeSegment(kept: string[], segment: string, last: boolean, mergeSlashes: boolean): void {
  if (segment === "." || segment === "..") {
    if (segment === "..") kept.pop();
    // "/a/." and "/a/b/.." name a directory: keep the trailing slash.
    if (last) kept.push("");
    return;
  }
  // A trailing empty segment is the trailing slash, which merging keeps.
  if (segment === "" && mergeSlashes && !last) return;
  kept.push(segment);
}
