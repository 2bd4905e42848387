// WebSocket upgrade proxying. The route is chosen as for any request; the gateway completes the
// upstream handshake first, so the client gets the upstream's chosen subprotocol (or the
// upstream's refusal as an HTTP error), then relays messages both ways.

import type { WebSocket as ClientSocket, us_socket_context_t } from "uWebSockets.js";
import type { WebSocket as UpstreamSocket } from "undici";
import { undici } from "../lazy-undici.js";
import type { RequestInfo } from "../routing/request.js";
import { type HttpRequest, type HttpResponse, uws } from "../uws.js";
import { RequestContext } from "./context.js";
import type { PortGeneration } from "./handler.js";
import { newRequestId } from "./ids.js";
import { clientAddress, hostOf, readHeaders } from "./request-head.js";

export interface WebSocketLink {
  upstream: UpstreamSocket;
  /** Messages from the upstream that arrived before uWS opened the client socket. */
  early: { data: ArrayBuffer | string; binary: boolean }[];
  client: ClientSocket<WebSocketHolder> | undefined;
  closed: boolean;
}

const decoder = new TextDecoder();
const UPGRADE_SKIP = new Set([
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "host",
  "content-length",
  "transfer-encoding",
  "keep-alive",
]);

/** uWS copies the user data's properties onto the socket, so the link travels inside a holder. */
export interface WebSocketHolder {
  link: WebSocketLink;
}

export function websocketBehavior(current: () => PortGeneration) {
  return {
    compression: uws.DISABLED,
    maxPayloadLength: 16 * 1024 * 1024,
    idleTimeout: 120,
    maxBackpressure: 4 * 1024 * 1024,
    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) =>
      upgrade(res, req, context, current()),
    open: (ws: ClientSocket<WebSocketHolder>) => {
      const link = ws.getUserData().link;
      link.client = ws;
      for (const m of link.early.splice(0)) ws.send(m.data, m.binary);
    },
    message: (ws: ClientSocket<WebSocketHolder>, message: ArrayBuffer, isBinary: boolean) => {
      const link = ws.getUserData().link;
      if (link.upstream.readyState !== link.upstream.OPEN) return;
      // uWS reuses the message memory after this callback returns.
      link.upstream.send(isBinary ? message.slice(0) : decoder.decode(message));
    },
    close: (ws: ClientSocket<WebSocketHolder>, code: number) => {
      const link = ws.getUserData().link;
      link.closed = true;
      link.client = undefined;
      link.upstream.close(code === 1005 || code === 1006 ? 1000 : code);
    },
  };
}

function upgrade(
  res: HttpResponse,
  req: HttpRequest,
  context: us_socket_context_t,
  gen: PortGeneration,
): void {
  const { headers } = readHeaders(req);
  const path = req.getUrl();
  const query = req.getQuery() ?? "";
  const key = headers["sec-websocket-key"] ?? "";
  const protocols = (headers["sec-websocket-protocol"] ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const host = hostOf(headers["host"]);
  const ctx = new RequestContext(
    gen.env,
    "GET",
    host,
    path,
    query,
    headers,
    clientAddress(res, gen.env),
    headers["x-request-id"] ?? newRequestId(),
    performance.now(),
  );
  const info: RequestInfo = { host, method: "GET", path, query, headers };
  const match = gen.router.route(info);
  const backend = match?.action.pickBackend();
  const cluster = backend?.cluster == null ? undefined : gen.clusters.get(backend.cluster);
  if (match === undefined || cluster === undefined) {
    const status = match === undefined ? 404 : 500;
    ctx.localReply(res, status, "no WebSocket route\n");
    ctx.done(status, "", "", 0);
    return;
  }
  ctx.gateway = match.listener.gateway;
  ctx.listener = match.listener.name;
  ctx.route = match.action.route;
  const ep = cluster.state.pick(ctx, Date.now());
  if (ep === undefined) {
    ctx.localReply(res, 503, "no healthy upstream\n");
    ctx.done(503, cluster.name, "", 0);
    return;
  }
  const forwarded: Record<string, string> = {};
  for (const name in headers) if (!UPGRADE_SKIP.has(name)) forwarded[name] = headers[name] ?? "";
  forwarded["x-forwarded-for"] = headers["x-forwarded-for"]
    ? `${headers["x-forwarded-for"]}, ${ctx.sourceIp}`
    : ctx.sourceIp;
  forwarded["x-forwarded-proto"] = gen.env.scheme;
  forwarded["x-request-id"] = ctx.requestId;
  const address = ep.endpoint.address.includes(":") ? `[${ep.endpoint.address}]` : ep.endpoint.address;
  const url = `ws://${address}:${ep.endpoint.port}${path}${query ? `?${query}` : ""}`;

  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const upstream = new (undici().WebSocket)(url, { protocols, headers: forwarded });
  upstream.binaryType = "arraybuffer";
  const link: WebSocketLink = { upstream, early: [], client: undefined, closed: false };
  let opened = false;
  upstream.onopen = () => {
    opened = true;
    if (aborted) {
      upstream.close(1001);
      ctx.done(499, cluster.name, ep.key, 1);
      return;
    }
    // Compression is off on this listener, so no extension is negotiated with the client.
    res.cork(() => res.upgrade({ link }, key, upstream.protocol, "", context));
    ctx.done(101, cluster.name, ep.key, 1);
  };
  upstream.onmessage = (ev) => {
    const data = ev.data as ArrayBuffer | string;
    const binary = typeof data !== "string";
    if (link.client !== undefined) link.client.send(data, binary);
    else if (!link.closed) link.early.push({ data, binary });
  };
  upstream.onclose = (ev) => {
    if (!opened) {
      if (!aborted) {
        ctx.localReply(res, 502, "upstream refused the WebSocket upgrade\n");
        ctx.done(502, cluster.name, ep.key, 1);
      }
      return;
    }
    if (link.client !== undefined && !link.closed) {
      link.closed = true;
      link.client.end(ev.code === 1005 || ev.code === 1006 ? 1000 : ev.code, ev.reason);
    }
  };
  upstream.onerror = () => {};
}
