// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a trusted
// load balancer puts in front of a connection to pass on the client's real address.
//
// Pure and incremental: the caller keeps every byte read so far and calls again with all of
// them after each read, until the answer is no longer "need-more"; then it strips
// headerLength bytes, and the rest is the client's payload. Only listeners configured to
// expect the header may call this: the spec forbids guessing, since any client could then
// claim any address. Version 2 TLVs are skipped, neither parsed nor checksum-verified.
import { formatIPv4, formatIPv6, isDottedQuad, parseIPv6 } from "./ip-address.js";

/** Shaped like node:net's AddressInfo, so it can stand in for a socket's remote address. */
export interface ProxyAddress {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
}

export interface ProxyHeader {
  kind: "proxy";
  version: 1 | 2;
  /** "local": the proxy opened the connection itself (a health check). */
  command: "proxy" | "local";
  /**
   * The proxied connection's endpoints. All three are absent for LOCAL, v1 UNKNOWN, v2
   * UNSPEC and v2 AF_UNIX (paths are not reported): use the socket's own endpoints then.
   */
  transport?: "tcp" | "udp";
  source?: ProxyAddress;
  destination?: ProxyAddress;
  /** Bytes to strip from the start of the connection; the payload follows. */
  headerLength: number;
}

export type ProxyHeaderResult =
  | { kind: "need-more" }
  | ProxyHeader
  | { kind: "invalid"; reason: string };

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
const V1_MAX_BYTES = 107; // the longest valid line, CRLF included
const V2_SIGNATURE = Buffer.from("\r\n\r\n\0\r\nQUIT\n", "latin1");
const V2_FIXED_BYTES = 16;
const CR = 0x0d;
const LF = 0x0a;
const PORT = /^(?:0|[1-9][0-9]{0,4})$/; // decimal, no leading zeros

const NEED_MORE = { kind: "need-more" } as const;
const invalid = (reason: string) => ({ kind: "invalid", reason }) as const;

/** `buf` is every byte received on the connection so far. Never throws. */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (startsLike(buf, V2_SIGNATURE)) {
    return buf.length < V2_FIXED_BYTES ? NEED_MORE : parseV2(buf);
  }
  if (startsLike(buf, V1_PREFIX)) return parseV1(buf);
  return invalid("no PROXY protocol signature");
}

/** True while the bytes so far agree with `signature`, even if they are fewer. */
function startsLike(buf: Buffer, signature: Buffer): boolean {
  const count = Math.min(buf.length, signature.length);
  return buf.compare(signature, 0, count, 0, count) === 0;
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  const lf = buf.subarray(0, V1_MAX_BYTES).indexOf(LF);
  if (lf < 0) {
    return buf.length >= V1_MAX_BYTES ? invalid("v1 line has no CRLF in 107 bytes") : NEED_MORE;
  }
  // The spec forbids accepting a lone LF as the line end.
  if (lf === 0 || buf.readUInt8(lf - 1) !== CR) return invalid("v1 line ends without CR");
  const headerLength = lf + 1;
  const fields = buf.toString("latin1", 0, lf - 1).split(" ");
  const protocol = fields[1];
  // UNKNOWN may be followed by anything up to the CRLF, which the receiver must ignore.
  if (protocol === "UNKNOWN") return { kind: "proxy", version: 1, command: "proxy", headerLength };
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    return invalid(`v1 protocol ${JSON.stringify(protocol?.slice(0, 16))}`);
  }
  if (fields.length !== 6) return invalid("v1 line needs six fields separated by single spaces");
  const [, , sourceText = "", destinationText = "", sourcePortText = "", destinationPortText = ""] =
    fields;

  const family = protocol === "TCP4" ? "IPv4" : "IPv6";
  const sourceAddress = v1Address(sourceText, family);
  const destinationAddress = v1Address(destinationText, family);
  if (sourceAddress === undefined || destinationAddress === undefined) {
    return invalid(`v1 ${protocol} address is malformed`);
  }
  const sourcePort = v1Port(sourcePortText);
  const destinationPort = v1Port(destinationPortText);
  if (sourcePort === undefined || destinationPort === undefined) {
    return invalid("v1 port is not a decimal in 0..65535");
  }
  return {
    kind: "proxy",
    version: 1,
    command: "proxy",
    transport: "tcp",
    source: { address: sourceAddress, family, port: sourcePort },
    destination: { address: destinationAddress, family, port: destinationPort },
    headerLength,
  };
}

/** The address in Node's spelling: v1 senders may write IPv6 uncompressed or upper-case. */
function v1Address(text: string, family: "IPv4" | "IPv6"): string | undefined {
  if (family === "IPv4") return isDottedQuad(text) ? text : undefined;
  const bytes = parseIPv6(text);
  return bytes === undefined ? undefined : formatIPv6(bytes, 0);
}

function v1Port(text: string): number | undefined {
  if (!PORT.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

const ADDRESS_BYTES: Record<number, number> = { 1: 4, 2: 16, 3: 108 }; // by v2 address family

/** Every field is checked as soon as the 16 fixed bytes are in, before the address block. */
function parseV2(buf: Buffer): ProxyHeaderResult {
  const versionCommand = buf.readUInt8(12);
  if (versionCommand >> 4 !== 2) return invalid(`v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`v2 command ${command}`);
  const headerLength = V2_FIXED_BYTES + buf.readUInt16BE(14);
  // LOCAL: the spec says to ignore the family byte and any address bytes.
  if (command === 0) {
    if (buf.length < headerLength) return NEED_MORE;
    return { kind: "proxy", version: 2, command: "local", headerLength };
  }

  const familyProtocol = buf.readUInt8(13);
  const family = familyProtocol >> 4;
  const protocol = familyProtocol & 0x0f;
  if (family > 3 || protocol > 2) {
    return invalid(`v2 family and protocol byte 0x${familyProtocol.toString(16)}`);
  }
  // UNSPEC in either half means "ignore the address information", so none is required.
  const unspecified = family === 0 || protocol === 0;
  const addressBytes = ADDRESS_BYTES[family] ?? 0;
  // Two addresses, then two ports unless the addresses are UNIX paths.
  const needed = family === 3 ? 2 * addressBytes : 2 * addressBytes + 4;
  const blockBytes = headerLength - V2_FIXED_BYTES;
  if (!unspecified && blockBytes < needed) {
    return invalid(`v2 address block of ${blockBytes} bytes is too short for family ${family}`);
  }
  if (buf.length < headerLength) return NEED_MORE;
  // UNIX paths are not reported: a listener has no use for a proxy's local socket path.
  if (unspecified || family === 3) return { kind: "proxy", version: 2, command: "proxy", headerLength };

  const at = V2_FIXED_BYTES;
  const format = family === 1 ? formatIPv4 : formatIPv6;
  const addressFamily = family === 1 ? "IPv4" : "IPv6";
  return {
    kind: "proxy",
    version: 2,
    command: "proxy",
    transport: protocol === 1 ? "tcp" : "udp",
    source: {
      address: format(buf, at),
      family: addressFamily,
      port: buf.readUInt16BE(at + 2 * addressBytes),
    },
    destination: {
      address: format(buf, at + addressBytes),
      family: addressFamily,
      port: buf.readUInt16BE(at + 2 * addressBytes + 2),
    },
    headerLength,
  };
}
