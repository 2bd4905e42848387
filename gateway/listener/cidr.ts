// Address ranges ("10.0.0.0/8", "fc00::/7") and whether a peer's address lies in one: which
// peers a PROXY-protocol listener believes (as nginx's set_real_ip_from).
//
// Parsing is strict, because a range that means something else than its author thought opens
// the listener to forged addresses: a prefix length is required, written in decimal without
// leading zeros, and the bits after it must be zero ("10.0.0.1/8" is refused, not read as
// 10.0.0.0/8). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, which a dual-stack socket reports for
// IPv4 peers) are read as the IPv4 address they carry, in ranges and in peers alike.
import { formatIPv6, isDottedQuad, parseIPv6 } from "./ip-address.js";

export interface AddressRange {
  /** 4 bytes for IPv4, 16 for IPv6; the bits after `prefix` are zero. */
  bytes: Buffer;
  prefix: number;
}

/**
 * Where no list is configured, the peers that may send a PROXY header: loopback, private
 * networks (RFC 1918), carrier-grade NAT (RFC 6598) and IPv6 unique-local addresses. No address
 * on the public internet is in it, so a client cannot reach the port directly and claim one.
 */
export const DEFAULT_TRUSTED_PROXY_CIDRS: readonly string[] = Object.freeze([
  "127.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "::1/128",
  "fc00::/7",
]);

const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;
const MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** The range `text` names, or why it names none (a sentence fragment after the text). */
export function parseCidr(text: string): { ok: true; range: AddressRange } | { ok: false; reason: string } {
  const slash = text.indexOf("/");
  if (slash < 0) return { ok: false, reason: "needs a prefix length (/32 or /128 for one address)" };
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const parsed = addressBytes(addressText);
  if (parsed === undefined) return { ok: false, reason: `"${addressText}" is not an IPv4 or IPv6 address` };
  const bits = parsed.length * 8;
  if (!PREFIX.test(prefixText) || Number(prefixText) > bits) {
    return { ok: false, reason: `prefix length must be a number from 0 to ${bits}` };
  }
  const range = unmapRange({ bytes: parsed, prefix: Number(prefixText) });
  const network = masked(range.bytes, range.prefix);
  if (!network.equals(range.bytes)) {
    const suggestion = `${formatNetwork(parsed, network)}/${prefixText}`;
    return { ok: false, reason: `has bits set after the prefix length (the network is ${suggestion})` };
  }
  return { ok: true, range };
}

/** Compiled once per Snapshot; `contains` is called once per accepted connection. */
export class AddressRanges {
  private readonly ranges: AddressRange[];

  /** `cidrs` were validated already (the Snapshot schema); one that does not parse throws. */
  constructor(cidrs: readonly string[]) {
    this.ranges = cidrs.map((text) => {
      const parsed = parseCidr(text);
      if (!parsed.ok) throw new Error(`${text}: ${parsed.reason}`);
      return parsed.range;
    });
  }

  /** `address` as a socket reports it; an IPv6 zone ("%eth0") is ignored. Garbage is in no range. */
  contains(address: string): boolean {
    const zone = address.indexOf("%");
    const bytes = addressBytes(zone < 0 ? address : address.slice(0, zone));
    if (bytes === undefined) return false;
    const peer = unmap(bytes);
    return this.ranges.some((r) => r.bytes.length === peer.length && masked(peer, r.prefix).equals(r.bytes));
  }
}

function addressBytes(text: string): Buffer | undefined {
  if (isDottedQuad(text)) return Buffer.from(text.split(".").map(Number));
  return text.includes(":") ? parseIPv6(text) : undefined;
}

/** ::ffff:a.b.c.d as the four bytes a.b.c.d; any other address unchanged. */
function unmap(bytes: Buffer): Buffer {
  return bytes.length === 16 && bytes.subarray(0, 12).equals(MAPPED_PREFIX) ? bytes.subarray(12) : bytes;
}

/** A range inside ::ffff:0:0/96 as the IPv4 range it covers. */
function unmapRange(range: AddressRange): AddressRange {
  if (range.prefix < 96 || unmap(range.bytes).length !== 4) return range;
  return { bytes: range.bytes.subarray(12), prefix: range.prefix - 96 };
}

/** `bytes` with every bit after the first `prefix` cleared. */
function masked(bytes: Buffer, prefix: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - 8 * i));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

function formatNetwork(original: Buffer, network: Buffer): string {
  // Spelt as the author spelt the address: dotted IPv4, or IPv6 (an IPv4-mapped one keeps its tail).
  if (original.length === 4) return [...network].join(".");
  return formatIPv6(network.length === 4 ? Buffer.concat([MAPPED_PREFIX, network]) : network, 0);
}
