// Keep-alive connection pools, one undici Pool per upstream endpoint and connection settings.
// Pools outlive Snapshots: an endpoint that stays in the config keeps its warm connections.
import { Pool } from "undici";

export interface PoolSettings {
  connections: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export class PoolManager {
  private readonly pools = new Map<string, Pool>();

  /** The pool for an endpoint; created on first use. */
  get(address: string, port: number, settings: PoolSettings): Pool {
    const key = poolKey(address, port, settings);
    let pool = this.pools.get(key);
    if (pool === undefined) {
      const host = address.includes(":") ? `[${address}]` : address;
      pool = new Pool(`http://${host}:${port}`, {
        connections: settings.connections,
        pipelining: 1,
        connectTimeout: settings.connectTimeoutMs,
        keepAliveTimeout: settings.idleTimeoutMs,
        keepAliveMaxTimeout: Math.max(settings.idleTimeoutMs, 1000),
        // The proxy enforces its own response-head and request deadlines per route.
        headersTimeout: 0,
        bodyTimeout: 0,
        strictContentLength: true,
      });
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
