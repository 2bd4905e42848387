// Peeks at the TLS ClientHello on a new connection so a listener can choose a route by SNI
// (and ALPN) before deciding to pipe the connection to a backend or terminate TLS itself.
//
// Pure and incremental: the caller keeps every byte read so far and calls again with all of
// them after each read, until the answer is no longer "need-more". Nothing is consumed: the
// caller forwards the same bytes in passthrough, or hands them back to node:tls to terminate.
// Each call re-walks the buffer from the start; that is cheap because the hello is bounded.
//
// Results:
// - "hello": a well-formed ClientHello. serverName is the SNI host_name, lower-cased and
//   without a trailing dot, or undefined when the client sent none. RFC 6066 forbids the dot,
//   but "a.example." names the same host as "a.example", and a listener matches it so.
// - "bad-server-name": a well-formed ClientHello whose host_name is not a DNS host name
//   (RFC 6066 section 3: no IP literals; plus LDH label rules). Kept apart
//   from "not-tls" because this peer does speak TLS: the caller may answer with an
//   unrecognized_name alert or count it separately, where "not-tls" just closes.
// - "not-tls": anything else, decided as early as the bytes allow (one byte of "GET" does).
import { Malformed, WireReader } from "./wire-reader.js";

export interface ClientHello {
  kind: "hello";
  serverName: string | undefined;
  /** ALPN protocol ids in the client's order, decoded byte for byte (latin1). */
  alpn: string[];
  /** The hello's legacy_version: 0x0303 for TLS 1.2 and 1.3 clients, 0x0301 for TLS 1.0. */
  legacyVersion: number;
  /** From supported_versions, in the client's order, GREASE values left out; 0x0304 is
   * TLS 1.3. Empty when the extension is absent (a client offering TLS 1.2 or lower). */
  supportedVersions: number[];
}

export type PeekResult =
  | { kind: "need-more" }
  | ClientHello
  | { kind: "bad-server-name"; reason: string }
  | { kind: "not-tls"; reason: string };

/** Default cap on the ClientHello's length field. Real hellos, post-quantum key shares
 * included, stay under 2 KiB; the cap bounds what a caller buffers for one connection. */
export const DEFAULT_MAX_HELLO_BYTES = 16 * 1024;

/**
 * Most records one hello may span. Clients send one or two; tools that split the hello to
 * dodge middleboxes use a handful. Without a cap, a hello in 1-byte records trickled one
 * segment at a time costs a re-walk of thousands of records per read. With it, a caller
 * never buffers more than maxHelloBytes + 4 + MAX_HELLO_RECORDS * 5 bytes before an answer.
 */
export const MAX_HELLO_RECORDS = 64;

const RECORD_HANDSHAKE = 22;
const RECORD_HEADER_BYTES = 5;
const MAX_RECORD_PAYLOAD = 16384; // 2^14, RFC 8446 section 5.1
const HANDSHAKE_CLIENT_HELLO = 1;
const HANDSHAKE_HEADER_BYTES = 4;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
const NAME_TYPE_HOST_NAME = 0;

const NEED_MORE = { kind: "need-more" } as const;
const notTls = (reason: string) => ({ kind: "not-tls", reason }) as const;
const malformed = (reason: string): never => {
  throw new Malformed(reason);
};

/**
 * `buf` is every byte received on the connection so far. `maxHelloBytes` caps the hello's
 * length field; bigger hellos are refused as soon as their 4-byte header is in. Never throws.
 */
export function peekClientHello(buf: Buffer, maxHelloBytes = DEFAULT_MAX_HELLO_BYTES): PeekResult {
  const message = readFirstHandshakeMessage(buf, maxHelloBytes);
  if (message.kind !== "message") return message;
  try {
    return parseClientHello(message.body);
  } catch (error) {
    if (error instanceof Malformed) return notTls(`malformed ClientHello: ${error.message}`);
    throw error;
  }
}

type Reassembly =
  | { kind: "need-more" }
  | { kind: "not-tls"; reason: string }
  | { kind: "message"; body: Buffer };

/**
 * Collects the first handshake message from the record layer. A handshake message may be
 * split over several records (RFC 8446 section 5.1), and a read may end anywhere, even in
 * a record header, so every check is made as soon as the bytes it needs are present.
 */
function readFirstHandshakeMessage(buf: Buffer, maxHelloBytes: number): Reassembly {
  const fragments: Buffer[] = [];
  let collected = 0;
  let messageBytes = -1; // header plus body, known once the 4-byte handshake header is in
  for (let at = 0; ; ) {
    if (fragments.length === MAX_HELLO_RECORDS) {
      return notTls(`ClientHello spans more than ${MAX_HELLO_RECORDS} records`);
    }
    if (at >= buf.length) return NEED_MORE;
    const type = buf.readUInt8(at);
    if (type !== RECORD_HANDSHAKE) {
      // SSLv2's record header has the top bit set; no current server accepts that hello.
      if (at === 0 && type >= 0x80) return notTls("SSLv2-style ClientHello");
      return notTls(`record type ${type} where a handshake record (22) was expected`);
    }
    if (at + 1 < buf.length && buf.readUInt8(at + 1) !== 3) return notTls("record version is not 3.x");
    if (at + RECORD_HEADER_BYTES > buf.length) return NEED_MORE;
    const length = buf.readUInt16BE(at + 3);
    // Zero-length handshake fragments are forbidden, and without this check a stream of
    // empty records would keep the caller buffering forever.
    if (length === 0 || length > MAX_RECORD_PAYLOAD) {
      return notTls(`record length ${length} outside 1..${MAX_RECORD_PAYLOAD}`);
    }

    const start = at + RECORD_HEADER_BYTES;
    const fragment = buf.subarray(start, start + length); // short while the record arrives
    fragments.push(fragment);
    collected += fragment.length;

    if (messageBytes < 0 && collected > 0) {
      const header = Buffer.concat(fragments, Math.min(collected, HANDSHAKE_HEADER_BYTES));
      const messageType = header.readUInt8(0);
      if (messageType !== HANDSHAKE_CLIENT_HELLO) {
        return notTls(`handshake type ${messageType} is not ClientHello (1)`);
      }
      if (header.length === HANDSHAKE_HEADER_BYTES) {
        const bodyBytes = header.readUIntBE(1, 3);
        if (bodyBytes > maxHelloBytes) {
          return notTls(`ClientHello of ${bodyBytes} bytes exceeds the ${maxHelloBytes}-byte limit`);
        }
        messageBytes = HANDSHAKE_HEADER_BYTES + bodyBytes;
      }
    }
    if (messageBytes >= 0 && collected >= messageBytes) {
      const message = Buffer.concat(fragments, messageBytes);
      return { kind: "message", body: message.subarray(HANDSHAKE_HEADER_BYTES) };
    }
    if (fragment.length < length) return NEED_MORE;
    at = start + length;
  }
}

/** RFC 8446 section 4.1.2, which also reads TLS 1.0 to 1.2 hellos. */
function parseClientHello(body: Buffer): PeekResult {
  const hello = new WireReader(body, "ClientHello");
  const legacyVersion = hello.u16();
  hello.skip(32); // random
  if (hello.vector8("legacy_session_id").remaining > 32) malformed("legacy_session_id over 32 bytes");
  const suites = hello.vector16("cipher_suites").remaining;
  if (suites === 0 || suites % 2 !== 0) malformed(`cipher_suites length ${suites}`);
  if (hello.vector8("legacy_compression_methods").remaining === 0) malformed("no compression methods");
  // Before TLS 1.3 a hello could end here, without an extensions block.
  const extensions =
    hello.remaining === 0 ? new WireReader(Buffer.alloc(0), "extensions") : hello.vector16("extensions");
  hello.end();

  const seen = new Set<number>();
  let hostName: Buffer | undefined;
  let alpn: string[] = [];
  let supportedVersions: number[] = [];
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const data = extensions.vector16(`extension ${type}`);
    // RFC 8446 section 4.2 forbids repeats; a second SNI could route past the first one.
    if (seen.has(type)) malformed(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) hostName = readServerName(data);
    else if (type === EXT_ALPN) alpn = readAlpn(data);
    else if (type === EXT_SUPPORTED_VERSIONS) supportedVersions = readSupportedVersions(data);
  }

  let serverName: string | undefined;
  if (hostName !== undefined) {
    const raw = hostName.toString("latin1");
    const name = raw.endsWith(".") ? raw.slice(0, -1) : raw;
    const problem = hostNameProblem(name);
    if (problem !== undefined) {
      return { kind: "bad-server-name", reason: `server name "${printable(raw)}" ${problem}` };
    }
    serverName = name.toLowerCase();
  }
  return { kind: "hello", serverName, alpn, legacyVersion, supportedVersions };
}

/** RFC 6066 section 3. Names of other types are skipped; none are defined today. */
function readServerName(data: WireReader): Buffer | undefined {
  const list = data.vector16("server_name_list");
  data.end();
  if (list.remaining === 0) malformed("empty server_name_list");
  let hostName: Buffer | undefined;
  while (list.remaining > 0) {
    const nameType = list.u8();
    const name = list.vector16("server name").rest();
    if (nameType !== NAME_TYPE_HOST_NAME) continue;
    if (hostName !== undefined) malformed("two host_name entries");
    hostName = name;
  }
  return hostName;
}

/** RFC 7301 section 3.1: a non-empty list of non-empty protocol ids. */
function readAlpn(data: WireReader): string[] {
  const list = data.vector16("protocol_name_list");
  data.end();
  if (list.remaining === 0) malformed("empty protocol_name_list");
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const id = list.vector8("protocol name").rest();
    if (id.length === 0) malformed("empty ALPN protocol name");
    protocols.push(id.toString("latin1"));
  }
  return protocols;
}

/** RFC 8446 section 4.2.1, ClientHello form: a one-byte length, then two-byte versions. */
function readSupportedVersions(data: WireReader): number[] {
  const list = data.vector8("supported_versions");
  data.end();
  if (list.remaining === 0 || list.remaining % 2 !== 0) {
    malformed(`supported_versions length ${list.remaining}`);
  }
  const versions: number[] = [];
  while (list.remaining > 0) {
    const version = list.u16();
    if (!isGrease(version)) versions.push(version);
  }
  return versions;
}

/** RFC 8701 reserves 0x0A0A, 0x1A1A ... 0xFAFA so servers learn to ignore unknown values. */
function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);
}

// Letters, digits and inner hyphens; 1 to 63 characters per label.
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`, "i");
const ALL_DIGITS = /^[0-9]+$/;

/** Why `name` is no DNS host name, or undefined when it is one. */
function hostNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > 253) return "is longer than 253 characters";
  if (!HOST_NAME.test(name)) return "is not a DNS host name";
  // No top-level domain is all digits, so this catches IPv4 literals (RFC 6066 bans them).
  if (ALL_DIGITS.test(name.slice(name.lastIndexOf(".") + 1))) return "is an IP address literal";
  return undefined;
}

/** The start of a client-chosen name, safe to put in a log line. */
function printable(name: string): string {
  // Everything but printable ASCII, quote and backslash is shown as \xNN.
  const hex = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  const shown = name.slice(0, 100).replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, hex);
  return name.length > 100 ? `${shown}...` : shown;
}
