// Our own upstream WebSocket client (RFC 6455, client role) over a raw TCP socket. A WebSocket
// client built on a URL parser re-parses the path: undici's turns `/public/%2e%2e/admin/ws`,
// routed by the gateway as `/public/...`, into `/admin/ws` on the wire. Here the request line and
// headers go out byte for byte as the gateway decided them.
//
// The pure core is `FrameReader` (incremental frame parsing and message reassembly) plus the
// handshake check and the frame encoder; `UpstreamWebSocket` is the thin socket shell.

import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { type Socket, connect } from "node:net";
import { isUtf8 } from "node:buffer";
import { randomView } from "../random-pool.js";
import { hasToken } from "../upstream/h1/header-values.js";
import { serializeRequestHead } from "../upstream/h1/request-head.js";
import { parseFieldLines } from "../upstream/h1/response-parser.js";

export interface UpstreamWebSocketEvents {
  /** Handshake done (101 with a valid Sec-WebSocket-Accept): the subprotocol the server chose ("" if none). No extension is ever accepted. */
  onOpen(protocol: string): void;
  /**
   * The upstream did not accept: connect failure or connect timeout (status 0), no answer within
   * the handshake bound (504, reason HANDSHAKE_TIMEOUT), a non-101 answer (its status), an invalid
   * 101 (502), or a request the module refuses to send (400). The connection is closed by then.
   */
  onRefused(status: number, reason: string): void;
  /**
   * A whole message. Text arrives as its UTF-8 bytes (already validated) with binary=false. The
   * buffer may be a view of a socket read buffer: never reused, so it may be kept, but keeping
   * it keeps that read (up to 64 KiB) alive.
   */
  onMessage(data: Buffer, binary: boolean): void;
  /**
   * The connection ended after open: the close code and reason the server sent (1005 when its
   * close frame had no code), the code we failed the connection with (1002, 1007, 1009), or
   * 1006 when it just went away. Called once; never after destroy().
   */
  onClose(code: number, reason: string): void;
  /** Writes to the upstream drained after send() returned false. */
  onDrain(): void;
}

export interface UpstreamWebSocketOptions {
  host: string;
  port: number;
  /** The request target as a byte string (latin1), already normalised by the gateway. */
  path: string;
  /**
   * Byte-string values: the gateway's forwarded headers, with Host and Sec-WebSocket-Protocol.
   * Connection, Upgrade and Sec-WebSocket-Key/-Version/-Extensions/-Accept are replaced.
   */
  headers: Record<string, string>;
  /** Bounds connecting and the whole handshake; 0: no bound. */
  handshakeTimeoutMs: number;
  /** Bounds the TCP connect alone (a connect failure, status 0); 0 or absent: no bound of its own. */
  connectTimeoutMs?: number;
  /** A message (all its fragments) above this closes the connection with 1009. */
  maxPayloadBytes: number;
}

/** onRefused's reason (with status 504) when the upstream did not answer within the handshake bound. */
export const HANDSHAKE_TIMEOUT = "WebSocket handshake timed out";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** A response head above this is refused; a real handshake answer is a few hundred bytes. */
const MAX_HEAD_BYTES = 16 * 1024;
/** send() returns false above this many bytes queued on the socket. */
const HIGH_WATER_BYTES = 256 * 1024;
/** How long a close frame waits for the other side's close (or its FIN) before the socket is destroyed. */
const CLOSE_WAIT_MS = 1000;
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** Headers the module owns: whatever the caller passed under these names is dropped. */
const OWN_HEADERS = new Set([
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);

// ---- frame encoding ----

/**
 * One masked frame (FIN set) in a single buffer, so it leaves in one write. The payload is
 * copied while it is masked: the caller's memory (uWS's transient ArrayBuffer included) is not
 * read after this returns.
 */
function encodeFrame(opcode: number, payload: Buffer | ArrayBuffer | string): Buffer {
  const length =
    typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.byteLength;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const start = 2 + lengthBytes + 4;
  const frame = Buffer.allocUnsafe(start + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  const key = randomView(4);
  key.copy(frame, start - 4);
  const m0 = key[0] as number;
  const m1 = key[1] as number;
  const m2 = key[2] as number;
  const m3 = key[3] as number;
  let source: Uint8Array;
  if (typeof payload === "string") {
    frame.write(payload, start, "utf8");
    source = frame.subarray(start);
  } else {
    source = payload instanceof ArrayBuffer ? new Uint8Array(payload) : payload;
  }
  let i = 0;
  const whole = length - (length & 3);
  for (; i < whole; i += 4) {
    frame[start + i] = (source[i] as number) ^ m0;
    frame[start + i + 1] = (source[i + 1] as number) ^ m1;
    frame[start + i + 2] = (source[i + 2] as number) ^ m2;
    frame[start + i + 3] = (source[i + 3] as number) ^ m3;
  }
  for (; i < length; i++) frame[start + i] = (source[i] as number) ^ (key[i & 3] as number);
  return frame;
}

/** Codes a close frame may carry on the wire (RFC 6455 7.4; 1012-1014 registered since). */
function isWireCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * A close frame's payload. A code that may not be sent (1005, 1006, out of range) gives an empty
 * payload, which the peer reads as 1005. The reason is cut to the 123 bytes a control frame
 * leaves, at a character boundary so it stays valid UTF-8.
 */
function closePayload(code: number, reason: string): Buffer {
  if (!isWireCloseCode(code)) return Buffer.alloc(0);
  let text = Buffer.from(reason, "utf8");
  if (text.length > 123) {
    let end = 123;
    while (end > 0 && ((text[end] as number) & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return payload;
}

// ---- frame parsing (pure) ----

interface FrameSink {
  onMessage(data: Buffer, binary: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** The peer's close frame: its code (1005 without one) and reason. Nothing is read after it. */
  onClose(code: number, reason: string): void;
  /** The peer broke the protocol: fail the connection with this close code. Nothing is read after it. */
  onFail(code: number, reason: string): void;
  /** Read after every callback: when true, `execute` returns where it stopped. */
  readonly halted: boolean;
}

const enum ReadPhase {
  Header,
  Payload,
  Done,
}

/**
 * Incremental reader of server-to-client frames, fed the socket's buffers as they come, split at
 * any byte. Payload bytes are kept as views of those buffers, not copied: it relies on Node
 * handing each 'data' event a fresh buffer that is never reused (true for a socket without the
 * `onread` option). A message inside one frame within one read is delivered as such a view; a
 * message spread over several frames or reads is concatenated once, when it is complete.
 */
class FrameReader {
  private phase = ReadPhase.Header;
  /** Header bytes gathered so far (at most 2 + 8: server frames carry no mask key). */
  private readonly header = Buffer.alloc(10);
  private headerLength = 0;
  private opcode = 0;
  private fin = false;
  private remaining = 0;
  /** Payload pieces of the current control frame. */
  private control: Buffer[] = [];
  /** Opcode of the message being reassembled (text or binary), or -1 between messages. */
  private messageOpcode = -1;
  private fragments: Buffer[] = [];
  private messageBytes = 0;

  constructor(
    private readonly maxPayloadBytes: number,
    private readonly sink: FrameSink,
  ) {}

  /** Reads from `buf[pos..]`; returns where it stopped: `buf.length`, or earlier when the sink halted. */
  execute(buf: Buffer, pos = 0): number {
    while (pos < buf.length && this.phase !== ReadPhase.Done) {
      if (this.phase === ReadPhase.Header) {
        pos = this.readHeader(buf, pos);
      } else {
        const take = Math.min(this.remaining, buf.length - pos);
        const piece = buf.subarray(pos, pos + take);
        pos += take;
        this.remaining -= take;
        if (this.opcode >= OP_CLOSE) this.control.push(piece);
        else if (take > 0) this.fragments.push(piece);
        if (this.remaining === 0) this.endFrame();
      }
      if (this.sink.halted) return pos;
    }
    return this.phase === ReadPhase.Done ? buf.length : pos;
  }

  private readHeader(buf: Buffer, pos: number): number {
    const header = this.header;
    while (pos < buf.length) {
      header[this.headerLength++] = buf[pos++] as number;
      if (this.headerLength === 2 && !this.checkStart()) return pos;
      if (this.headerLength >= 2 && this.headerLength === this.headerSize()) {
        this.headerLength = 0;
        if (this.startPayload()) {
          this.phase = ReadPhase.Payload;
          // An empty payload completes the frame right away.
          if (this.remaining === 0) this.endFrame();
        }
        return pos;
      }
    }
    return pos;
  }

  private headerSize(): number {
    const length7 = (this.header[1] as number) & 0x7f;
    return length7 === 126 ? 4 : length7 === 127 ? 10 : 2;
  }

  /** Checks the first two bytes, before any length bytes arrive. */
  private checkStart(): boolean {
    const b0 = this.header[0] as number;
    const b1 = this.header[1] as number;
    this.fin = (b0 & 0x80) !== 0;
    this.opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.fail(1002, "reserved bits set without an extension");
    if ((b1 & 0x80) !== 0) return this.fail(1002, "masked frame from the server");
    const opcode = this.opcode;
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return this.fail(1002, `unknown opcode ${opcode}`);
      if (!this.fin) return this.fail(1002, "fragmented control frame");
      if ((b1 & 0x7f) > 125) return this.fail(1002, "control frame above 125 bytes");
    } else if (opcode === OP_CONTINUATION) {
      if (this.messageOpcode === -1) return this.fail(1002, "continuation without a message");
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.messageOpcode !== -1) return this.fail(1002, "new message inside a fragmented one");
    } else {
      return this.fail(1002, `unknown opcode ${opcode}`);
    }
    return true;
  }

  /** The header is complete: takes the length and opens the payload. False when the frame is refused. */
  private startPayload(): boolean {
    const header = this.header;
    const length7 = (header[1] as number) & 0x7f;
    let length = length7;
    if (length7 === 126) {
      length = header.readUInt16BE(2);
    } else if (length7 === 127) {
      const high = header.readUInt32BE(2);
      if (high >= 0x80000000) return this.fail(1009, "frame length with the top bit set");
      length = high * 0x100000000 + header.readUInt32BE(6);
    }
    if (this.opcode < OP_CLOSE) {
      if (this.messageBytes + length > this.maxPayloadBytes) return this.fail(1009, "message too big");
      if (this.opcode !== OP_CONTINUATION) this.messageOpcode = this.opcode;
      this.messageBytes += length;
    }
    this.remaining = length;
    return true;
  }

  private endFrame(): void {
    this.phase = ReadPhase.Header;
    const opcode = this.opcode;
    if (opcode >= OP_CLOSE) {
      const pieces = this.control;
      this.control = [];
      const payload = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
      if (opcode === OP_PING) this.sink.onPing(payload);
      else if (opcode === OP_PONG) this.sink.onPong(payload);
      else this.closeFrame(payload);
      return;
    }
    if (!this.fin) return;
    const pieces = this.fragments;
    const data =
      pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, this.messageBytes);
    const binary = this.messageOpcode === OP_BINARY;
    this.fragments = [];
    this.messageBytes = 0;
    this.messageOpcode = -1;
    if (!binary && !isUtf8(data)) {
      this.fail(1007, "text message is not valid UTF-8");
      return;
    }
    this.sink.onMessage(data, binary);
  }

  private closeFrame(payload: Buffer): void {
    if (payload.length === 1) {
      this.fail(1002, "close frame with a one-byte payload");
      return;
    }
    let code = 1005;
    let reason = "";
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isWireCloseCode(code)) {
        this.fail(1002, `invalid close code ${code}`);
        return;
      }
      const text = payload.subarray(2);
      if (!isUtf8(text)) {
        this.fail(1007, "close reason is not valid UTF-8");
        return;
      }
      reason = text.toString("utf8");
    }
    this.phase = ReadPhase.Done;
    this.sink.onClose(code, reason);
  }

  private fail(code: number, reason: string): false {
    this.phase = ReadPhase.Done;
    this.fragments = [];
    this.control = [];
    this.sink.onFail(code, reason);
    return false;
  }
}

// ---- handshake (pure) ----

type HandshakeAnswer =
  | { kind: "open"; protocol: string }
  | { kind: "interim" }
  | { kind: "refused"; status: number; reason: string };

/** Checks a response head (without its final CRLF CRLF) against the request's key and offered subprotocols. */
function checkHandshake(text: string, key: string, offered: readonly string[]): HandshakeAnswer {
  const lf = text.indexOf("\n");
  const lineEnd = lf === -1 ? text.length : lf - 1;
  const line = text.slice(0, Math.max(lineEnd, 0));
  const match = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\r\n]*))?$/.exec(line);
  if (match === null || (lf !== -1 && text.charCodeAt(lineEnd) !== 13)) {
    return { kind: "refused", status: 502, reason: "bad status line in the handshake answer" };
  }
  const status = Number(match[2]);
  if (status !== 101) {
    if (status < 200) return { kind: "interim" };
    return { kind: "refused", status, reason: `upstream answered ${status} ${match[3] ?? ""}`.trimEnd() };
  }
  const invalid = (reason: string): HandshakeAnswer => ({ kind: "refused", status: 502, reason });
  if (match[1] !== "1") return invalid("101 in HTTP/1.0");
  const headers: IncomingHttpHeaders = Object.create(null) as IncomingHttpHeaders;
  if (lf !== -1) {
    const problem = parseFieldLines(text, lf + 1, headers);
    if (problem !== null) return invalid(`handshake answer: ${problem}`);
  }
  const upgrade = headers["upgrade"];
  if (typeof upgrade !== "string" || upgrade.toLowerCase() !== "websocket") {
    return invalid("101 without Upgrade: websocket");
  }
  const connection = headers["connection"];
  if (typeof connection !== "string" || !hasToken(connection, "upgrade")) {
    return invalid("101 without Connection: upgrade");
  }
  const expected = createHash("sha1").update(key + GUID).digest("base64");
  if (headers["sec-websocket-accept"] !== expected) return invalid("wrong Sec-WebSocket-Accept");
  const extensions = headers["sec-websocket-extensions"];
  if (typeof extensions === "string" && extensions.trim() !== "") {
    return invalid("upstream accepted an extension that was not offered");
  }
  const protocol = headers["sec-websocket-protocol"];
  if (typeof protocol === "string" && protocol !== "" && !offered.includes(protocol)) {
    return invalid(`upstream chose a subprotocol that was not offered: ${protocol}`);
  }
  return { kind: "open", protocol: typeof protocol === "string" ? protocol : "" };
}

/** Whether `text` holds only bytes (no char above 0xFF), none of them a control, DEL or (unless allowed) space or HTAB. */
function isWireText(text: string, allowBlank: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || c === 0x7f) return false;
    if (c < 0x21 && !(allowBlank && (c === 0x20 || c === 0x09))) return false;
  }
  return true;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Why the path or a header cannot go on the wire, or null. serializeRequestHead refuses CR and
 * LF; this also refuses the other controls and chars above 0xFF (which a latin1 write would
 * silently truncate to another byte), and a space in the target (it would end the target).
 */
function requestTextProblem(path: string, headers: Record<string, string>): string | null {
  if (path.length === 0 || !isWireText(path, false)) return "invalid request target";
  for (const name in headers) {
    if (!TOKEN.test(name)) return `invalid header name: ${JSON.stringify(name)}`;
    if (!isWireText(headers[name] ?? "", true)) return `invalid value in header ${name}`;
  }
  return null;
}

function offeredProtocols(headers: Record<string, string>): string[] {
  const offered: string[] = [];
  for (const name in headers) {
    if (name.toLowerCase() !== "sec-websocket-protocol") continue;
    for (const p of (headers[name] ?? "").split(",")) {
      const trimmed = p.trim();
      if (trimmed !== "") offered.push(trimmed);
    }
  }
  return offered;
}

// ---- the socket shell ----

const enum State {
  /** Connecting, or waiting for the handshake answer. */
  Handshake,
  Open,
  /** We sent a close frame and wait for the server's. */
  Closing,
  /** Reported (onRefused or onClose) or destroyed: no more events. */
  Done,
}

export class UpstreamWebSocket {
  private state = State.Handshake;
  private socket: Socket | null = null;
  private readonly key: string;
  private readonly offered: string[];
  private readonly reader: FrameReader;
  private head: Buffer | null = null;
  private received = false;
  private timer: NodeJS.Timeout | null = null;
  private paused = false;
  private wantDrain = false;
  /** Read but not yet parsed: what followed a pause, in order. */
  private pending: Buffer[] = [];
  private reading = false;

  constructor(
    options: UpstreamWebSocketOptions,
    private readonly events: UpstreamWebSocketEvents,
  ) {
    this.key = randomView(16).toString("base64");
    this.offered = offeredProtocols(options.headers);
    const halted = (): boolean => this.paused || this.state === State.Done;
    this.reader = new FrameReader(options.maxPayloadBytes, {
      onMessage: (data, binary) => {
        // After our close frame the caller is no longer listening for messages.
        if (this.state === State.Open) this.events.onMessage(data, binary);
      },
      onPing: (payload) => this.write(encodeFrame(OP_PONG, payload)),
      onPong: () => {},
      onClose: (code, reason) => this.finish(code, reason, closePayload(code, reason)),
      onFail: (code, reason) => this.finish(code, reason, closePayload(code, reason)),
      get halted() {
        return halted();
      },
    });

    const headers: Record<string, string> = {};
    for (const name in options.headers) {
      const value = options.headers[name];
      if (value !== undefined && !OWN_HEADERS.has(name.toLowerCase())) headers[name] = value;
    }
    headers["connection"] = "Upgrade";
    headers["upgrade"] = "websocket";
    headers["sec-websocket-version"] = "13";
    headers["sec-websocket-key"] = this.key;
    const problem = requestTextProblem(options.path, headers);
    const head =
      problem === null
        ? serializeRequestHead("GET", options.path, headers, `${options.host}:${options.port}`, false, {
            contentLength: -1,
            chunked: false,
          })
        : null;
    if (typeof head !== "string") {
      const reason = head === null ? (problem ?? "") : head.message;
      // Reported on the next tick: the caller has not even got the object yet.
      process.nextTick(() => this.refuse(400, reason));
      return;
    }

    const socket = connect({ host: options.host, port: options.port });
    this.socket = socket;
    socket.setNoDelay(true);
    if (options.handshakeTimeoutMs > 0)
      this.timer = setTimeout(() => this.refuse(504, HANDSHAKE_TIMEOUT), options.handshakeTimeoutMs);
    const connectMs = options.connectTimeoutMs ?? 0;
    if (connectMs > 0 && (options.handshakeTimeoutMs === 0 || connectMs < options.handshakeTimeoutMs)) {
      const connectTimer = setTimeout(() => this.refuse(0, `upstream connect timed out after ${connectMs} ms`), connectMs);
      socket.once("connect", () => clearTimeout(connectTimer));
      socket.once("close", () => clearTimeout(connectTimer));
    }
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => {
      if (this.wantDrain && this.state === State.Open) {
        this.wantDrain = false;
        this.events.onDrain();
      }
    });
    let failure = "";
    socket.on("error", (err) => {
      failure = `: ${err.message}`; // 'close' follows and reports the outcome
    });
    socket.on("close", () => {
      if (this.state === State.Handshake) {
        if (this.received) this.refuse(502, `upstream closed during the handshake${failure}`);
        else this.refuse(0, `upstream connection failed${failure}`);
      } else {
        this.finish(1006, "", null);
      }
    });
    // Node queues the write until the connection is up.
    socket.write(head, "latin1");
  }

  /**
   * Sends one message (text when `binary` is false; a Buffer or ArrayBuffer is sent as given,
   * a string as UTF-8). The data is copied before this returns. False when more than the
   * high-water mark is queued: wait for onDrain. Dropped after the connection began closing.
   */
  send(data: Buffer | ArrayBuffer | string, binary: boolean): boolean {
    if (this.state === State.Handshake) throw new Error("UpstreamWebSocket.send before onOpen");
    if (this.state !== State.Open) return true;
    this.write(encodeFrame(binary ? OP_BINARY : OP_TEXT, data));
    if ((this.socket as Socket).writableLength <= HIGH_WATER_BYTES) return true;
    // Above our mark the socket's own (smaller) one was passed too, so it will emit 'drain'.
    this.wantDrain = true;
    return false;
  }

  /**
   * Sends a close frame and waits up to a second for the server's, then ends; onClose reports
   * the server's answer (1006 if none came). Before onOpen this is destroy().
   */
  close(code: number, reason: string): void {
    if (this.state === State.Handshake) {
      this.destroy();
      return;
    }
    if (this.state !== State.Open) return;
    this.state = State.Closing;
    this.write(encodeFrame(OP_CLOSE, closePayload(code, reason)));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.socket?.destroy();
    }, CLOSE_WAIT_MS);
    // Frames read but held back by pause() may hold the server's close frame.
    this.resume();
  }

  /**
   * Stops reading from the upstream after the message being delivered; frames already read stay
   * unparsed until resume(). Before onOpen it takes effect at open; while closing it is ignored,
   * since the server's close frame must still be read.
   */
  pause(): void {
    if (this.state === State.Closing || this.state === State.Done) return;
    this.paused = true;
    if (this.state === State.Open) this.socket?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.state === State.Handshake) return;
    this.parsePending();
    if (!this.paused) this.socket?.resume();
  }

  /** Drops the connection at once; no event follows. */
  destroy(): void {
    this.state = State.Done;
    this.clearTimer();
    this.pending = [];
    this.socket?.destroy();
  }

  private write(frame: Buffer): void {
    if (this.socket !== null && !this.socket.destroyed) this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    this.received = true;
    if (this.state === State.Handshake) {
      this.readHead(chunk);
      return;
    }
    if (this.state === State.Done) return;
    this.pending.push(chunk);
    this.parsePending();
  }

  /** Feeds what was read to the frame reader until it halts (paused, or the connection ended). */
  private parsePending(): void {
    if (this.reading) return; // resume() from inside a callback: the loop below carries on
    this.reading = true;
    try {
      while (this.pending.length > 0 && !this.paused && this.state !== State.Done) {
        const buf = this.pending[0] as Buffer;
        const at = this.reader.execute(buf);
        if (at >= buf.length) this.pending.shift();
        else this.pending[0] = buf.subarray(at);
      }
    } finally {
      this.reading = false;
    }
  }

  private readHead(chunk: Buffer): void {
    const before = this.head === null ? 0 : this.head.length;
    const head = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
    // The terminator may straddle the two reads: look from three bytes before the new one.
    const at = head.indexOf(HEAD_END, Math.max(0, before - 3));
    if (at === -1 ? head.length > MAX_HEAD_BYTES : at + 4 > MAX_HEAD_BYTES) {
      this.refuse(502, "handshake answer head above 16 KiB");
      return;
    }
    if (at === -1) {
      this.head = head;
      return;
    }
    this.head = null;
    const rest = head.subarray(at + 4);
    const answer = checkHandshake(head.toString("latin1", 0, at), this.key, this.offered);
    if (answer.kind === "interim") {
      // A 1xx before the 101 (103 Early Hints, say): the answer is still to come.
      if (rest.length > 0) this.readHead(rest);
      return;
    }
    if (answer.kind === "refused") {
      this.refuse(answer.status, answer.reason);
      return;
    }
    this.clearTimer();
    this.state = State.Open;
    if (this.paused) (this.socket as Socket).pause();
    this.events.onOpen(answer.protocol);
    // Bytes after the head in the same read are the first frames (parsePending reads nothing
    // if onOpen destroyed or paused us).
    if (rest.length > 0) {
      this.pending.push(rest);
      this.parsePending();
    }
  }

  private refuse(status: number, reason: string): void {
    if (this.state !== State.Handshake) return;
    this.state = State.Done;
    this.clearTimer();
    this.socket?.destroy();
    this.events.onRefused(status, reason);
  }

  /**
   * Ends an open connection once: sends `frame` (our close frame or the echo of the server's)
   * unless null, ends the socket (destroyed if the server does not close its side soon), and
   * reports `code` and `reason`.
   */
  private finish(code: number, reason: string, frame: Buffer | null): void {
    if (this.state !== State.Open && this.state !== State.Closing) return;
    // After our own close frame, the server's close is the answer, not something to echo.
    const echo = this.state === State.Open ? frame : null;
    this.state = State.Done;
    this.pending = [];
    this.clearTimer();
    const socket = this.socket as Socket;
    if (!socket.destroyed) {
      if (echo !== null) socket.write(encodeFrame(OP_CLOSE, echo));
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_WAIT_MS).unref();
    }
    this.events.onClose(code, reason);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
