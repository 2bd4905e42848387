// What a consistent-hash balancer hashes: a request header, one cookie, or the client address.

/** FNV-1a over UTF-16 code units, finished with murmur3's mixer so similar keys land far apart. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The value of cookie `name` in a Cookie header ("a=1; sid=xyz"), surrounding double quotes
 * removed (RFC 6265 allows them), or undefined. Names compare case-sensitively, as browsers do.
 * Scans in place: the only allocation is the returned value.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const len = header.length;
  let pos = 0;
  while (pos < len) {
    pos = skipSpaces(header, pos, len);
    let end = header.indexOf(";", pos);
    if (end === -1) end = len;
    const eq = header.indexOf("=", pos);
    if (
      eq !== -1 &&
      eq < end &&
      header.startsWith(name, pos) &&
      skipSpaces(header, pos + name.length, eq) === eq
    ) {
      let from = skipSpaces(header, eq + 1, end);
      let to = end;
      while (to > from && isSpace(header.charCodeAt(to - 1))) to--;
      if (to - from >= 2 && header.charCodeAt(from) === 34 && header.charCodeAt(to - 1) === 34) {
        from++;
        to--;
      }
      return header.slice(from, to);
    }
    pos = end + 1;
  }
  return undefined;
}

function skipSpaces(s: string, from: number, to: number): number {
  while (from < to && isSpace(s.charCodeAt(from))) from++;
  return from;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}
