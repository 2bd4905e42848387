// Keep-alive connection pools, one per upstream endpoint and connection settings. Pools outlive
// Snapshots: an endpoint that stays in the config keeps its warm connections. The client is
// meshgate's lean HTTP/1.1 pool by default; MESHGATE_UPSTREAM_CLIENT=undici selects undici's Pool.
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { undici } from "../lazy-undici.js";
import { H1Pool } from "./h1/pool.js";

/** What the proxy needs of a pool: undici's dispatch API, connection counts, shutdown. */
export interface UpstreamPool {
  dispatch(
    opts: {
      path: string;
      method: string;
      headers: Record<string, string>;
      body: Readable | null;
      /** meshgate's own pool only (undici ignores it): see H1DispatchOptions. */
      resendIfStale?: boolean;
    },
    handler: Dispatcher.DispatchHandler,
  ): boolean;
  readonly stats: { connected: number };
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export type UpstreamClient = "h1" | "undici";

export function upstreamClientFromEnv(): UpstreamClient {
  return process.env["MESHGATE_UPSTREAM_CLIENT"] === "undici" ? "undici" : "h1";
}

export interface PoolSettings {
  connections: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export class PoolManager {
  private readonly pools = new Map<string, UpstreamPool>();

  constructor(private readonly client: UpstreamClient = upstreamClientFromEnv()) {}

  /** The pool for an endpoint; created on first use. */
  get(address: string, port: number, settings: PoolSettings): UpstreamPool {
    const key = poolKey(address, port, settings);
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = this.client === "h1" ? new H1Pool(address, port, settings) : undiciPool(address, port, settings);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Open upstream connections per pool key, for the connections gauge. */
  connectionCount(address: string, port: number, settings: PoolSettings): number {
    return this.pools.get(poolKey(address, port, settings))?.stats.connected ?? 0;
  }

  /** Closes pools no longer in use; in-flight requests on them finish first. */
  retain(inUse: Set<string>): void {
    for (const [key, pool] of this.pools) {
      if (!inUse.has(key)) {
        this.pools.delete(key);
        pool.close().catch(() => {});
      }
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }

  async destroyAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.destroy()));
  }
}

export function poolKey(address: string, port: number, s: PoolSettings): string {
  return `${address}|${port}|${s.connections}|${s.connectTimeoutMs}|${s.idleTimeoutMs}`;
}

function undiciPool(address: string, port: number, settings: PoolSettings): UpstreamPool {
  const host = address.includes(":") ? `[${address}]` : address;
  return new (undici().Pool)(`http://${host}:${port}`, {
    connections: settings.connections,
    pipelining: 1,
    connectTimeout: settings.connectTimeoutMs,
    keepAliveTimeout: settings.idleTimeoutMs,
    keepAliveMaxTimeout: Math.max(settings.idleTimeoutMs, 1000),
    // The proxy enforces its own response-head and request deadlines per route.
    headersTimeout: 0,
    bodyTimeout: 0,
    strictContentLength: true,
  }) as unknown as UpstreamPool;
}
