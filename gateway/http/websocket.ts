// WebSocket upgrade proxying. An upgrade takes the same steps as any request (handler.ts: head
// checks, path normalisation, route, rate limits, redirect, header filters, forwarding headers)
// and differs only at the end: the gateway completes the upstream handshake first
// (websocket-upstream.ts, which writes exactly the path and headers decided here), so the client
// gets the upstream's chosen subprotocol or the upstream's refusal as an HTTP status, then relays
// messages both ways.

import type { WebSocket as ClientSocket, us_socket_context_t } from "uWebSockets.js";
import { type HttpRequest, type HttpResponse, uws } from "../uws.js";
import { containRequestError, faultPoint } from "./contain.js";
import type { RequestEnvironment } from "./context.js";
import { type Admitted, admit, admittedSoFar, type Forwarded, type PortGeneration, proceed } from "./handler.js";
import type { HeldRequest } from "./held-request.js";
import { HANDSHAKE_TIMEOUT, UpstreamWebSocket } from "./websocket-upstream.js";

const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024;
/** Upstream reading stops while the client has more than this waiting, and resumes under it. */
const CLIENT_HIGH_WATER_BYTES = 1024 * 1024;

export interface WebSocketLink {
  upstream: UpstreamWebSocket;
  /** The listener's environment, for internal errors met after the upgrade. */
  env: RequestEnvironment;
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

/** An idle WebSocket (no message either way) is closed after this many seconds (uWS idleTimeout). */
export const WEBSOCKET_IDLE_SECONDS = 120;

/** `serverName`: as handleRequest's, the listener hostname the handshake's SNI chose. */
export function websocketBehavior(current: () => PortGeneration, serverName?: string) {
  return {
    compression: uws.DISABLED,
    maxPayloadLength: MAX_PAYLOAD_BYTES,
    idleTimeout: WEBSOCKET_IDLE_SECONDS,
    maxBackpressure: MAX_BACKPRESSURE_BYTES,
    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const gen = current();
      try {
        upgrade(res, req, context, gen, serverName);
      } catch (err) {
        containRequestError("upgrade", err, res, admittedSoFar(), gen.env);
      }
    },
    open: (ws: ClientSocket<WebSocketHolder>) => {
      const link = ws.getUserData().link;
      try {
        link.client = ws;
        for (const m of link.early.splice(0)) relayToClient(link, m.data, m.binary);
        if (link.closing !== undefined) {
          link.closed = true;
          ws.end(sendableCode(link.closing.code), link.closing.reason);
        }
      } catch (err) {
        linkCrashed(link, err);
      }
    },
    message: (ws: ClientSocket<WebSocketHolder>, message: ArrayBuffer, isBinary: boolean) => {
      const link = ws.getUserData().link;
      try {
        faultPoint("websocket-message");
        // send() copies while masking: uWS may reuse `message` after this callback.
        link.upstream.send(message, isBinary);
      } catch (err) {
        linkCrashed(link, err);
      }
    },
    drain: (ws: ClientSocket<WebSocketHolder>) => {
      const link = ws.getUserData().link;
      try {
        if (ws.getBufferedAmount() < CLIENT_HIGH_WATER_BYTES) link.upstream.resume();
      } catch (err) {
        linkCrashed(link, err);
      }
    },
    close: (ws: ClientSocket<WebSocketHolder>, code: number, message: ArrayBuffer) => {
      const link = ws.getUserData().link;
      link.closed = true;
      link.client = undefined;
      try {
        link.upstream.close(sendableCode(code), Buffer.from(message).toString());
      } catch (err) {
        link.env.internalError("websocket", err);
        link.upstream.destroy();
      }
    },
  };
}

/**
 * Relaying a message threw: counted and logged; both sides are closed (1011, internal error),
 * the client's socket and the upstream's.
 */
function linkCrashed(link: WebSocketLink, err: unknown): void {
  link.env.internalError("websocket", err);
  link.upstream.destroy();
  const client = link.client;
  link.closed = true;
  link.client = undefined;
  if (client !== undefined) {
    try {
      client.end(1011, "internal error");
    } catch {
      // Already closed.
    }
  }
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
  // Settled: the client got its answer (101 or an error) or left; the request is ended then.
  let settled = false;
  const onAborted = () => {
    if (settled) return;
    settled = true;
    // The client left during the upstream handshake: the upstream connection goes at once.
    link.upstream.destroy();
    ctx.done(499, cluster.name, ep.key, 1);
  };
  const link: WebSocketLink = {
    upstream: undefined as unknown as UpstreamWebSocket,
    env: ctx.env,
    early: [],
    client: undefined,
    closed: false,
    closing: undefined,
  };
  /** An exception before the client got its answer: 500, and the upstream connection closed. */
  const crashed = (err: unknown) => {
    if (settled) {
      linkCrashed(link, err);
      return;
    }
    settled = true;
    containRequestError("upgrade", err, res, ctx, ctx.env);
    // Thrown after uWS had already opened the client's socket: that closes too.
    const client = link.client;
    link.client = undefined;
    link.closed = true;
    try {
      client?.end(1011, "internal error");
    } catch {
      // Already closed.
    }
  };
  ctx.owner = { abandon: () => link.upstream?.destroy() };
  if (held === undefined) res.onAborted(onAborted);
  else held.onAborted = onAborted;

  const cfg = cluster.state.cfg.timeouts;
  link.upstream = new UpstreamWebSocket(
    {
      host: ep.endpoint.address,
      port: ep.endpoint.port,
      path: f.target,
      headers: f.headers,
      // The handshake is the request: bounded as one (the route's timeouts.request, else the
      // cluster's timeout to the response head), its connect by the cluster's connect timeout.
      handshakeTimeoutMs: f.action.requestTimeoutMs ?? cfg.responseHeadMs,
      connectTimeoutMs: cfg.connectMs,
      maxPayloadBytes: MAX_PAYLOAD_BYTES,
    },
    {
      onOpen: (protocol) => {
        if (settled) {
          link.upstream.close(1001, "");
          return;
        }
        try {
          faultPoint("upgrade-open");
          settled = true;
          ctx.headStarted = true;
          // Compression is off on this listener, so no extension is negotiated with the client.
          res.cork(() => res.upgrade({ link }, key, protocol, "", context));
          ctx.done(101, cluster.name, ep.key, 1);
        } catch (err) {
          settled = false;
          crashed(err);
        }
      },
      onRefused: (status, reason) => {
        if (settled) return;
        try {
          settled = true;
          // A connect failure is answered as for any request; so is no answer in time; an
          // upstream's own refusal keeps its status; an answer that is no valid handshake is a
          // bad gateway.
          const timedOut = status === 504 && reason === HANDSHAKE_TIMEOUT;
          const answer = status === 0 ? 503 : status >= 400 && status <= 599 && status !== 400 ? status : 502;
          if (timedOut) cluster.metrics.upstreamErrors.labels(cluster.name, "timeout").inc();
          else if (status === 0) cluster.metrics.upstreamErrors.labels(cluster.name, "connect-failure").inc();
          const body =
            status === 0
              ? `upstream connect error: ${reason}\n`
              : timedOut
                ? "upstream WebSocket handshake timeout\n"
                : "upstream refused the WebSocket upgrade\n";
          ctx.localReply(res, answer, body);
          ctx.done(answer, cluster.name, ep.key, 1);
        } catch (err) {
          settled = false;
          crashed(err);
        }
      },
      onMessage: (data, binary) => {
        try {
          if (link.client !== undefined) relayToClient(link, data, binary);
          else if (!link.closed) link.early.push({ data, binary });
        } catch (err) {
          linkCrashed(link, err);
        }
      },
      onClose: (code, reason) => {
        if (link.closed) return;
        if (link.client === undefined) {
          link.closing = { code, reason };
          return;
        }
        link.closed = true;
        try {
          link.client.end(sendableCode(code), reason);
        } catch (err) {
          linkCrashed(link, err);
        }
      },
      onDrain: () => {},
    },
  );
}
