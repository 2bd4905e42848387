// WebSocket upgrade proxying. An upgrade takes the same steps as any request (handler.ts: head
// checks, path normalisation, route, rate limits, redirect, header filters, forwarding headers)
// and differs only at the end: the gateway completes the upstream handshake first
// (websocket-upstream.ts, which writes exactly the path and headers decided here), so the client
// gets the upstream's chosen subprotocol or the upstream's refusal as an HTTP status, then relays
// messages both ways.

import type { WebSocket as ClientSocket, us_socket_context_t } from "uWebSockets.js";
import { type HttpRequest, type HttpResponse, uws } from "../uws.js";
import { type Admitted, admit, type Forwarded, type PortGeneration, proceed } from "./handler.js";
import type { HeldRequest } from "./held-request.js";
import { UpstreamWebSocket } from "./websocket-upstream.js";

const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024;
/** Upstream reading stops while the client has more than this waiting, and resumes under it. */
const CLIENT_HIGH_WATER_BYTES = 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface WebSocketLink {
  upstream: UpstreamWebSocket;
  /** Messages from the upstream that arrived before uWS opened the client socket. */
  early: { data: Buffer; binary: boolean }[];
  client: ClientSocket<WebSocketHolder> | undefined;
  closed: boolean;
  /** The upstream closed before uWS opened the client socket: passed on once it opens. */
  closing: { code: number; reason: string } | undefined;
}

/** uWS copies the user data's properties onto the socket, so the link travels inside a holder. */
export interface WebSocketHolder {
  link: WebSocketLink;
}

/** Close codes that only describe a connection and may not be sent in a close frame. */
function sendableCode(code: number): number {
  return code === 1005 || code === 1006 ? 1000 : code;
}

/** `serverName`: as handleRequest's, the listener hostname the handshake's SNI chose. */
export function websocketBehavior(current: () => PortGeneration, serverName?: string) {
  return {
    compression: uws.DISABLED,
    maxPayloadLength: MAX_PAYLOAD_BYTES,
    idleTimeout: 120,
    maxBackpressure: MAX_BACKPRESSURE_BYTES,
    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) =>
      upgrade(res, req, context, current(), serverName),
    open: (ws: ClientSocket<WebSocketHolder>) => {
      const link = ws.getUserData().link;
      link.client = ws;
      for (const m of link.early.splice(0)) relayToClient(link, m.data, m.binary);
      if (link.closing !== undefined) {
        link.closed = true;
        ws.end(sendableCode(link.closing.code), link.closing.reason);
      }
    },
    message: (ws: ClientSocket<WebSocketHolder>, message: ArrayBuffer, isBinary: boolean) => {
      // send() copies while masking: uWS may reuse `message` after this callback.
      ws.getUserData().link.upstream.send(message, isBinary);
    },
    drain: (ws: ClientSocket<WebSocketHolder>) => {
      if (ws.getBufferedAmount() < CLIENT_HIGH_WATER_BYTES) ws.getUserData().link.upstream.resume();
    },
    close: (ws: ClientSocket<WebSocketHolder>, code: number, message: ArrayBuffer) => {
      const link = ws.getUserData().link;
      link.closed = true;
      link.client = undefined;
      link.upstream.close(sendableCode(code), Buffer.from(message).toString());
    },
  };
}

function relayToClient(link: WebSocketLink, data: Buffer, binary: boolean): void {
  const client = link.client;
  if (client === undefined) return;
  client.send(data, binary);
  // A slow client: stop reading the upstream until uWS's drain says it caught up.
  if (client.getBufferedAmount() >= CLIENT_HIGH_WATER_BYTES) link.upstream.pause();
}

function upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, gen: PortGeneration, serverName?: string): void {
  // The client's handshake values, read before `req` goes away when the handler returns.
  const key = req.getHeader("sec-websocket-key");
  const admitted = admit(res, req, gen, true, serverName);
  if (admitted === undefined) return;
  proceed(res, admitted, gen, (r, a, f, held) => connectUpstream(r, a, f, held, key, context));
}

function connectUpstream(
  res: HttpResponse,
  a: Admitted,
  f: Forwarded,
  held: HeldRequest | undefined,
  key: string,
  context: us_socket_context_t,
): void {
  const { ctx } = a;
  const cluster = f.cluster;
  const ep = cluster.state.pick(ctx, Date.now());
  if (ep === undefined) {
    ctx.localReply(res, 503, "no healthy upstream\n");
    ctx.done(503, cluster.name, "", 0);
    return;
  }
  let aborted = false;
  let settled = false;
  const onAborted = () => {
    aborted = true;
    if (settled) return;
    settled = true;
    link.upstream.destroy();
    ctx.done(499, cluster.name, ep.key, 1);
  };
  if (held === undefined) res.onAborted(onAborted);
  else held.onAborted = onAborted;

  const link: WebSocketLink = {
    upstream: undefined as unknown as UpstreamWebSocket,
    early: [],
    client: undefined,
    closed: false,
    closing: undefined,
  };
  link.upstream = new UpstreamWebSocket(
    {
      host: ep.endpoint.address,
      port: ep.endpoint.port,
      path: f.target,
      headers: f.headers,
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      maxPayloadBytes: MAX_PAYLOAD_BYTES,
    },
    {
      onOpen: (protocol) => {
        if (aborted) {
          link.upstream.close(1001, "");
          return;
        }
        settled = true;
        // Compression is off on this listener, so no extension is negotiated with the client.
        res.cork(() => res.upgrade({ link }, key, protocol, "", context));
        ctx.done(101, cluster.name, ep.key, 1);
      },
      onRefused: (status, reason) => {
        if (aborted || settled) return;
        settled = true;
        // A connect failure is answered as for any request; an upstream's own refusal keeps its
        // status; an answer that is no valid handshake is a bad gateway.
        const answer = status === 0 ? 503 : status >= 400 && status <= 599 && status !== 400 ? status : 502;
        ctx.localReply(res, answer, status === 0 ? `upstream connect error: ${reason}\n` : "upstream refused the WebSocket upgrade\n");
        ctx.done(answer, cluster.name, ep.key, 1);
      },
      onMessage: (data, binary) => {
        if (link.client !== undefined) relayToClient(link, data, binary);
        else if (!link.closed) link.early.push({ data, binary });
      },
      onClose: (code, reason) => {
        if (link.closed) return;
        if (link.client === undefined) {
          link.closing = { code, reason };
          return;
        }
        link.closed = true;
        link.client.end(sendableCode(code), reason);
      },
      onDrain: () => {},
    },
  );
}
