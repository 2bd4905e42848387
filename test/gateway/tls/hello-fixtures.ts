// ClientHellos for the SNI peek tests: real ones captured from node:tls, ways to re-cut them
// into TCP reads and TLS records, and a builder for hellos no real client would send.
import net from "node:net";
import tls from "node:tls";

const RECORD_HEADER_BYTES = 5;

/** What a node:tls client sends first, read by a plain TCP server that never answers. */
export async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    const received = new Promise<Buffer>((resolve, reject) => {
      server.once("connection", (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on("error", reject);
        socket.on("data", (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          // node:tls sends the hello as one record; stop once that record is complete.
          if (firstRecordComplete(bytes)) {
            socket.destroy();
            resolve(bytes);
          }
        });
      });
    });
    const client = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...options });
    client.on("error", () => undefined); // the server hangs up mid-handshake on purpose
    const hello = await received;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

function firstRecordComplete(bytes: Buffer): boolean {
  return bytes.length >= RECORD_HEADER_BYTES && bytes.length >= RECORD_HEADER_BYTES + bytes.readUInt16BE(3);
}

/** The handshake bytes carried by a run of records (the record headers removed). */
export function handshakeBytes(records: Buffer): Buffer {
  const payloads: Buffer[] = [];
  for (let at = 0; at < records.length; ) {
    const length = records.readUInt16BE(at + 3);
    payloads.push(records.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length));
    at += RECORD_HEADER_BYTES + length;
  }
  return Buffer.concat(payloads);
}

/** `handshake` cut into handshake records of the given payload sizes; the last takes the rest. */
export function toRecords(handshake: Buffer, sizes: number[] = []): Buffer {
  const records: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, handshake.length]) {
    if (at >= handshake.length) break;
    const payload = handshake.subarray(at, at + size);
    records.push(Buffer.from([22, 3, 1]), u16(payload.length), payload);
    at += payload.length;
  }
  return Buffer.concat(records);
}

export const u16 = (value: number) => Buffer.from([value >> 8, value & 0xff]);
export const vector8 = (bytes: Buffer) => Buffer.concat([Buffer.from([bytes.length]), bytes]);
export const vector16 = (bytes: Buffer) => Buffer.concat([u16(bytes.length), bytes]);

export type Extension = [type: number, data: Buffer];

/** server_name with host_name entries (type 0), or raw [nameType, name] entries. */
export function sniExtension(...names: Array<string | Buffer | [number, Buffer]>): Extension {
  const entries = names.map((name) => {
    const [type, bytes] = Array.isArray(name) ? name : [0, Buffer.from(name)];
    return Buffer.concat([Buffer.from([type]), vector16(bytes)]);
  });
  return [0, vector16(Buffer.concat(entries))];
}

export function alpnExtension(...ids: string[]): Extension {
  return [16, vector16(Buffer.concat(ids.map((id) => vector8(Buffer.from(id, "latin1")))))];
}

export function supportedVersionsExtension(...versions: number[]): Extension {
  return [43, vector8(Buffer.concat(versions.map(u16)))];
}

export interface HelloParts {
  sessionId?: Buffer;
  cipherSuites?: Buffer;
  compressionMethods?: Buffer;
  /** "none" leaves out the extensions block, as TLS 1.0 clients could. */
  extensions?: Extension[] | "none";
  /** Raw bytes after the compression methods, replacing the extensions block. */
  tail?: Buffer;
}

/** The ClientHello message body: legacy_version 3.3, a fixed random, then `parts`. */
export function clientHelloBody(parts: HelloParts = {}): Buffer {
  const extensions = parts.extensions ?? [sniExtension("example.com")];
  const block =
    extensions === "none"
      ? Buffer.alloc(0)
      : vector16(Buffer.concat(extensions.map(([type, data]) => Buffer.concat([u16(type), vector16(data)]))));
  return Buffer.concat([
    u16(0x0303),
    Buffer.alloc(32, 7),
    vector8(parts.sessionId ?? Buffer.alloc(32, 1)),
    vector16(parts.cipherSuites ?? Buffer.from([0x13, 0x01, 0x13, 0x02])),
    vector8(parts.compressionMethods ?? Buffer.from([0])),
    parts.tail ?? block,
  ]);
}

/** A handshake message (type 1 unless given) wrapped in one record. */
export function helloRecord(body: Buffer, messageType = 1): Buffer {
  const header = Buffer.from([messageType, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]);
  return toRecords(Buffer.concat([header, body]));
}
