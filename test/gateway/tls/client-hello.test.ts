// The SNI peek on real node:tls ClientHellos, whole and cut every way TCP and the record layer
// may cut them, and on everything that is not a usable ClientHello.
import test from "ava";
import {
  MAX_HELLO_RECORDS,
  type PeekResult,
  peekClientHello,
} from "../../../gateway/tls/client-hello.js";
import {
  alpnExtension,
  captureClientHello,
  type HelloParts,
  clientHelloBody,
  handshakeBytes,
  helloRecord,
  sniExtension,
  supportedVersionsExtension,
  toRecords,
  u16,
  vector16,
} from "./hello-fixtures.js";
import { seededRandom } from "../../support/seeded-random.js";

const captured = {} as Record<"modern" | "bare" | "upperCase" | "tls12" | "badName", Buffer>;

test.before(async () => {
  captured.modern = await captureClientHello({
    servername: "www.example.com",
    ALPNProtocols: ["h2", "http/1.1"],
  });
  captured.bare = await captureClientHello({});
  captured.upperCase = await captureClientHello({ servername: "API.Example.COM" });
  captured.tls12 = await captureClientHello({ servername: "legacy.example", maxVersion: "TLSv1.2" });
  captured.badName = await captureClientHello({ servername: "bad_name.example" });
});

/**
 * Calls the peek as a listener would: after each read ending at one of `offsets`, with all
 * bytes so far. Every answer before the last must be need-more.
 */
function feed(bytes: Buffer, offsets: number[]): { early: PeekResult[]; final: PeekResult } {
  const inside = offsets.filter((o) => o > 0 && o < bytes.length);
  const ends = [...new Set([...inside, bytes.length])].sort((a, b) => a - b);
  const results = ends.map((end) => peekClientHello(bytes.subarray(0, end)));
  const final = results.pop() ?? { kind: "need-more" };
  return { early: results.filter((r) => r.kind !== "need-more"), final };
}

const everyByte = (bytes: Buffer) => Array.from({ length: bytes.length }, (_, i) => i);
const built = (parts: HelloParts) => peekClientHello(helloRecord(clientHelloBody(parts)));
/** Whole numbers below n, from a fixed seed. */
function seededBelow(seed: number): (n: number) => number {
  const random = seededRandom(seed);
  return (n) => Math.floor(random() * n);
}
const reasonOf = (result: PeekResult) => ("reason" in result ? result.reason : "");

test("a real TLS 1.3 hello gives its server name, ALPN list and versions", (t) => {
  t.deepEqual(peekClientHello(captured.modern), {
    kind: "hello",
    serverName: "www.example.com",
    alpn: ["h2", "http/1.1"],
    legacyVersion: 0x0303,
    supportedVersions: [0x0304, 0x0303],
  });
});

test("a hello without SNI or ALPN has no server name and an empty ALPN list", (t) => {
  t.deepEqual(peekClientHello(captured.bare), {
    kind: "hello",
    serverName: undefined,
    alpn: [],
    legacyVersion: 0x0303,
    supportedVersions: [0x0304, 0x0303],
  });
});

test("the server name is lower-cased", (t) => {
  t.like(peekClientHello(captured.upperCase), { kind: "hello", serverName: "api.example.com" });
});

test("a TLS 1.2-only client sends no supported_versions", (t) => {
  t.deepEqual(peekClientHello(captured.tls12), {
    kind: "hello",
    serverName: "legacy.example",
    alpn: [],
    legacyVersion: 0x0303,
    supportedVersions: [],
  });
});

test("a real hello with an underscore in its server name is refused as bad-server-name", (t) => {
  const result = peekClientHello(captured.badName);
  t.is(result.kind, "bad-server-name");
  t.regex(reasonOf(result), /"bad_name\.example" is not a DNS host name/);
});

test("fed one byte at a time, a hello is need-more until its last byte", (t) => {
  for (const [name, hello] of Object.entries(captured)) {
    const { early, final } = feed(hello, everyByte(hello));
    t.deepEqual(early, [], name);
    t.deepEqual(final, peekClientHello(hello), name);
  }
});

test("any split into TCP reads gives the same answer as the whole hello", (t) => {
  const below = seededBelow(1);
  const hello = captured.modern;
  const whole = peekClientHello(hello);
  for (let round = 0; round < 300; round++) {
    const offsets = Array.from({ length: 1 + below(6) }, () => below(hello.length));
    const { early, final } = feed(hello, offsets);
    t.deepEqual(early, [], `offsets ${offsets.join(",")}`);
    t.deepEqual(final, whole, `offsets ${offsets.join(",")}`);
  }
});

test("a hello spread over several records reads the same as one record", (t) => {
  const handshake = handshakeBytes(captured.modern);
  const whole = peekClientHello(captured.modern);
  const layouts = [
    [1, 1, 1, 1, 1], // the 4-byte handshake header split over records
    [4], // header alone in the first record
    Array.from({ length: MAX_HELLO_RECORDS - 1 }, () => 1), // as many records as allowed
    [100, 50, 7],
  ];
  for (const sizes of layouts) {
    const records = toRecords(handshake, sizes);
    t.deepEqual(peekClientHello(records), whole, `sizes ${sizes.slice(0, 5).join(",")}`);
    const { early, final } = feed(records, everyByte(records));
    t.deepEqual(early, []);
    t.deepEqual(final, whole);
  }
  const below = seededBelow(2);
  for (let round = 0; round < 200; round++) {
    const sizes = Array.from({ length: 1 + below(8) }, () => 1 + below(120));
    const records = toRecords(handshake, sizes);
    const offsets = Array.from({ length: 4 }, () => below(records.length));
    const { early, final } = feed(records, offsets);
    t.deepEqual(early, [], `sizes ${sizes.join(",")}`);
    t.deepEqual(final, whole, `sizes ${sizes.join(",")}`);
  }
});

test("a hello spread over more records than allowed is refused before the rest arrives", (t) => {
  const oneByteRecords = Array.from({ length: MAX_HELLO_RECORDS }, () => 1);
  const records = toRecords(handshakeBytes(captured.modern), oneByteRecords);
  const result = peekClientHello(records.subarray(0, MAX_HELLO_RECORDS * 6));
  t.is(result.kind, "not-tls");
  t.regex(reasonOf(result), /more than 64 records/);
});

test("bytes after the hello do not change the answer", (t) => {
  const whole = peekClientHello(captured.modern);
  const changeCipherSpec = Buffer.from([20, 3, 3, 0, 1, 1]);
  t.deepEqual(peekClientHello(Buffer.concat([captured.modern, changeCipherSpec])), whole);
  t.deepEqual(peekClientHello(Buffer.concat([captured.modern, Buffer.from("garbage")])), whole);
});

test("the answer comes with the hello's last byte, even if its record runs on", (t) => {
  const records = toRecords(Buffer.concat([handshakeBytes(captured.modern), Buffer.alloc(10)]));
  t.deepEqual(peekClientHello(records.subarray(0, captured.modern.length)), peekClientHello(captured.modern));
});

test("a built hello: extensions in any order, unknown ones skipped, GREASE versions dropped", (t) => {
  const extensions = [
    [0xfafa, Buffer.alloc(0)] as [number, Buffer],
    supportedVersionsExtension(0x2a2a, 0x0304, 0x0303),
    alpnExtension("h2"),
    [10, vector16(u16(29))] as [number, Buffer],
    sniExtension([7, Buffer.from("opaque")], "Shop.Example.org"),
  ];
  t.deepEqual(built({ extensions }), {
    kind: "hello",
    serverName: "shop.example.org",
    alpn: ["h2"],
    legacyVersion: 0x0303,
    supportedVersions: [0x0304, 0x0303],
  });
});

test("a hello with no extensions block at all is still a hello", (t) => {
  t.deepEqual(built({ extensions: "none" }), {
    kind: "hello",
    serverName: undefined,
    alpn: [],
    legacyVersion: 0x0303,
    supportedVersions: [],
  });
});

test("server names that are not DNS host names give bad-server-name", (t) => {
  const names: Array<[string | Buffer, RegExp]> = [
    ["192.0.2.1", /IP address literal/],
    ["example.com..", /not a DNS host name/],
    [".", /is empty/],
    [".example.com", /not a DNS host name/],
    ["a..example.com", /not a DNS host name/],
    ["-lead.example.com", /not a DNS host name/],
    ["trail-.example.com", /not a DNS host name/],
    [`${"a".repeat(64)}.example.com`, /not a DNS host name/],
    [Array.from({ length: 64 }, () => "abc").join("."), /longer than 253/], // 255 characters
    ["exa mple.com", /"exa\\x20mple\.com" is not/],
    ["[::1]", /not a DNS host name/],
    ["", /is empty/],
    [Buffer.from("caf\xe9.example", "latin1"), /caf\\xe9/],
    [Buffer.from("evil.example\0.com", "latin1"), /example\\x00\.com/],
  ];
  for (const [name, reason] of names) {
    const result = built({ extensions: [sniExtension(name)] });
    t.is(result.kind, "bad-server-name", JSON.stringify(name.toString()));
    t.regex(reasonOf(result), reason);
  }
  const fine = ["a", "xn--caf-dma.example", "1.example", "a-b.c-d.e", `${"a".repeat(63)}.example`];
  for (const name of fine) {
    t.like(built({ extensions: [sniExtension(name)] }), { kind: "hello", serverName: name });
  }
});

test("a trailing dot names the same host: the server name comes without it, lower-cased", (t) => {
  for (const name of ["example.com.", "Example.COM."]) {
    t.like(built({ extensions: [sniExtension(name)] }), { kind: "hello", serverName: "example.com" }, name);
  }
});

test("non-TLS bytes are refused as soon as the first byte shows it", (t) => {
  const texts = ["G", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "PRI * HTTP/2.0\r\n", "SSH-2.0-OpenSSH_9.6\r\n"];
  for (const text of texts) t.like(peekClientHello(Buffer.from(text)), { kind: "not-tls" }, text);
  // An SSLv2-compatible hello: a two-byte length with the top bit set, then message type 1.
  const sslv2 = Buffer.from("802e0103010015000000100100800300800700c0060040020080040080", "hex");
  for (const bytes of [sslv2, sslv2.subarray(0, 1)]) {
    const result = peekClientHello(bytes);
    t.is(result.kind, "not-tls");
    t.regex(reasonOf(result), /SSLv2/);
  }
});

test("record layer problems are refused early, before the hello completes", (t) => {
  const cases: Array<[string, number[], RegExp]> = [
    ["alert record", [21, 3, 3, 0, 2, 2, 40], /record type 21/],
    ["application data", [23, 3, 3], /record type 23/],
    ["record version 2.x", [22, 2], /version is not 3/],
    ["empty record", [22, 3, 1, 0, 0], /record length 0/],
    ["record over 2^14 bytes", [22, 3, 1, 0x40, 0x01], /record length 16385/],
    ["a ServerHello", [22, 3, 1, 0, 60, 2], /handshake type 2/],
    ["hello length 0xffffff", [22, 3, 1, 0, 60, 1, 0xff, 0xff, 0xff], /16777215 bytes exceeds/],
    ["hello one byte over 16 KiB", [22, 3, 1, 0, 60, 1, 0x00, 0x40, 0x01], /16385 bytes exceeds/],
  ];
  for (const [name, bytes, reason] of cases) {
    const result = peekClientHello(Buffer.from(bytes));
    t.is(result.kind, "not-tls", name);
    t.regex(reasonOf(result), reason, name);
  }
  const exactly16KiB = Buffer.from([22, 3, 1, 0, 60, 1, 0x00, 0x40, 0x00]);
  t.like(peekClientHello(exactly16KiB), { kind: "need-more" });
  const helloOf256Bytes = Buffer.from([22, 3, 1, 0, 60, 1, 0, 1, 0]);
  t.like(peekClientHello(helloOf256Bytes, 255), { kind: "not-tls" }, "a caller's lower limit");
  t.like(peekClientHello(Buffer.alloc(0)), { kind: "need-more" });
});

test("a non-handshake record in the middle of a fragmented hello is refused", (t) => {
  const records = toRecords(handshakeBytes(captured.modern), [50]);
  const alert = Buffer.from([21, 3, 3, 0, 2, 2, 40]);
  const result = peekClientHello(Buffer.concat([records.subarray(0, 55), alert, records.subarray(55)]));
  t.is(result.kind, "not-tls");
  t.regex(reasonOf(result), /record type 21/);
});

test("lengths that disagree inside the hello are refused as not-tls", (t) => {
  const extension = (type: number, data: Buffer) => Buffer.concat([u16(type), vector16(data)]);
  const extensionsBlock = (...bytes: Buffer[]) => vector16(Buffer.concat(bytes));
  const overlongName = extension(0, vector16(Buffer.from([0, 0, 200, 97])));
  const sniWithStrayByte = Buffer.concat([sniExtension("a.b")[1], Buffer.from([0])]);
  const cases: Array<[HelloParts, RegExp]> = [
    [{ sessionId: Buffer.alloc(33) }, /legacy_session_id over 32/],
    [{ cipherSuites: Buffer.from([0x13, 0x01, 0x13]) }, /cipher_suites length 3/],
    [{ cipherSuites: Buffer.alloc(0) }, /cipher_suites length 0/],
    [{ compressionMethods: Buffer.alloc(0) }, /no compression/],
    [{ tail: Buffer.from([0xff, 0xff, 0, 0]) }, /extensions length 65535 overruns ClientHello/],
    [{ tail: Buffer.from([0]) }, /ClientHello truncated/],
    [{ tail: Buffer.concat([extensionsBlock(), Buffer.from([1])]) }, /stray bytes after ClientHello/],
    [{ tail: extensionsBlock(Buffer.from([0, 0, 0, 9, 1, 2])) }, /extension 0 length 9 overruns/],
    [{ tail: extensionsBlock(Buffer.from([0, 0, 0])) }, /extensions truncated/],
    [{ extensions: [sniExtension("a.example"), sniExtension("b.example")] }, /extension 0 appears twice/],
    [{ extensions: [sniExtension("a.example", "b.example")] }, /two host_name/],
    [{ extensions: [[0, vector16(Buffer.alloc(0))]] }, /empty server_name_list/],
    [{ tail: extensionsBlock(overlongName) }, /name length 200 overruns/],
    [{ extensions: [[0, sniWithStrayByte]] }, /stray bytes after extension 0/],
    [{ extensions: [[16, vector16(Buffer.alloc(0))]] }, /empty protocol_name_list/],
    [{ extensions: [alpnExtension("h2", "")] }, /empty ALPN protocol name/],
    [{ extensions: [[43, Buffer.from([3, 3, 4, 3])]] }, /supported_versions length 3/],
  ];
  for (const [parts, reason] of cases) {
    const result = built(parts);
    t.is(result.kind, "not-tls", String(reason));
    t.regex(reasonOf(result), reason);
  }
  // A handshake length shorter than the hello's own fields: the body ends inside them.
  const real = handshakeBytes(captured.modern);
  const short = Buffer.concat([Buffer.from([1, 0, 0, 40]), real.subarray(4, 44)]);
  t.regex(reasonOf(peekClientHello(toRecords(short))), /legacy_session_id length 32 overruns/);
});

test("thousands of random mutations never throw, never touch the input, stay in four kinds", (t) => {
  const random = seededRandom(3);
  const below = (n: number) => Math.floor(random() * n);
  const seeds = Object.values(captured);
  const kinds = new Set(["need-more", "hello", "bad-server-name", "not-tls"]);
  const surprises: string[] = [];
  const check = (input: Buffer) => {
    const before = Buffer.from(input);
    const result = peekClientHello(input);
    if (!kinds.has(result.kind)) surprises.push(`kind ${result.kind}`);
    if (!input.equals(before)) surprises.push("input modified");
    const name = result.kind === "hello" ? result.serverName : undefined;
    if (name !== undefined && !/^[a-z0-9.-]+$/.test(name)) surprises.push(`server name ${name}`);
  };
  for (let round = 0; round < 5000; round++) {
    const base = seeds[round % seeds.length] ?? captured.modern;
    const refragment = random() < 0.3;
    const bytes = Buffer.from(refragment ? toRecords(handshakeBytes(base), [1 + below(64)]) : base);
    for (let edits = 1 + below(4); edits > 0; edits--) {
      // Length fields are where parsers break, so boundary values come up often.
      const boundary = [0x00, 0x01, 0x7f, 0x80, 0xff][below(5)] ?? 0;
      bytes[below(bytes.length)] = random() < 0.5 ? boundary : below(256);
    }
    check(random() < 0.3 ? bytes.subarray(0, below(bytes.length)) : bytes);
  }
  for (let round = 0; round < 2000; round++) {
    const noise = Buffer.from(Array.from({ length: below(64) }, () => below(256)));
    // Most start like a handshake record so the noise gets past the first byte.
    if (noise.length > 2 && random() < 0.8) noise.set([22, 3], 0);
    check(noise);
  }
  t.deepEqual(surprises, []);
});
