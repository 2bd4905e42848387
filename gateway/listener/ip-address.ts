// IP address text, spelled the way Node's net module spells a socket's remoteAddress (libuv's
// inet_ntop: RFC 5952 compression, IPv4-mapped addresses in dotted form), so an address taken
// from a PROXY header compares equal to the same address read from a socket.

/** Four bytes at `at` as dotted decimal. The caller guarantees the bytes are there. */
export function formatIPv4(bytes: Buffer, at: number): string {
  return [0, 1, 2, 3].map((i) => bytes.readUInt8(at + i)).join(".");
}

/** Sixteen bytes at `at`. The caller guarantees the bytes are there. */
export function formatIPv6(bytes: Buffer, at: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(bytes.readUInt16BE(at + 2 * i));
  // The longest run of two or more zero words becomes "::"; the first one wins a tie.
  let best = { start: 0, length: 0 };
  for (let i = 0; i < 8; ) {
    let end = i;
    while (end < 8 && words[end] === 0) end++;
    if (end - i > best.length) best = { start: i, length: end - i };
    i = end === i ? i + 1 : end;
  }
  // ::a.b.c.d (IPv4-compatible) and ::ffff:a.b.c.d (IPv4-mapped) keep the dotted tail, as
  // inet_ntop does; a dual-stack server sees IPv4 clients as ::ffff:a.b.c.d.
  if (best.start === 0 && (best.length === 6 || (best.length === 5 && words[5] === 0xffff))) {
    return (best.length === 6 ? "::" : "::ffff:") + formatIPv4(bytes, at + 12);
  }
  const hex = words.map((word) => word.toString(16));
  if (best.length < 2) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const HEX_WORD = /^[0-9a-f]{1,4}$/i;

/** Strict dotted decimal: four octets, no leading zeros (they read as octal elsewhere). */
export function isDottedQuad(text: string): boolean {
  return DOTTED_QUAD.test(text);
}

/**
 * The 16 bytes of an IPv6 address in text form (RFC 4291 section 2.2, with an optional
 * dotted IPv4 tail), or undefined when the text is not one. Zone ids ("%eth0") are refused.
 */
export function parseIPv6(text: string): Buffer | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = parseWords(halves[0] ?? "", !compressed);
  const tail = compressed ? parseWords(halves[1] ?? "", true) : [];
  if (head === undefined || tail === undefined) return undefined;
  // "::" stands for at least one zero word.
  const zeros = 8 - head.length - tail.length;
  if (compressed ? zeros < 1 : zeros !== 0) return undefined;
  const bytes = Buffer.alloc(16);
  [...head, ...new Array<number>(compressed ? zeros : 0).fill(0), ...tail].forEach((word, i) =>
    bytes.writeUInt16BE(word, 2 * i),
  );
  return bytes;
}

/** Colon-separated hex words; a dotted IPv4 tail counts as two words where allowed. */
function parseWords(part: string, ipv4TailAllowed: boolean): number[] | undefined {
  if (part === "") return [];
  const groups = part.split(":");
  const words: number[] = [];
  for (const [i, group] of groups.entries()) {
    if (ipv4TailAllowed && i === groups.length - 1 && isDottedQuad(group)) {
      const [a = 0, b = 0, c = 0, d = 0] = group.split(".").map(Number);
      words.push((a << 8) | b, (c << 8) | d);
    } else if (HEX_WORD.test(group)) {
      words.push(parseInt(group, 16));
    } else {
      return undefined;
    }
  }
  return words;
}
