// The data plane of one event loop: compiles each Snapshot into runtime structures, swaps them
// in atomically, binds and releases ports, and drains on shutdown. Requests in flight keep the
// generation they started on.
import { Counter, type Gauge } from "prom-client";
import type { ClusterRuntime, RequestEnvironment } from "./http/context.js";
import type { InternalErrorSite } from "./http/contain.js";
import { handleRequest, type PortGeneration } from "./http/handler.js";
import { type WebSocketHolder, websocketBehavior } from "./http/websocket.js";
import { mirrorFactory } from "./mirror/route-mirrors.js";
import { PortRouter } from "./routing/router.js";
import { runSliced, type Steps } from "./routing/steps.js";
import type { Cluster, PortConfig, Snapshot } from "./snapshot.js";
import type { AccessLog, CutReason } from "./telemetry/access-log.js";
import type { EventLog } from "./telemetry/event-log.js";
import { DataPlaneMetrics } from "./telemetry/metrics.js";
import { ClusterState } from "./upstream/cluster-state.js";
import type { EndpointState } from "./upstream/endpoint-state.js";
import { PoolManager, type PoolSettings, poolKey, type UpstreamPool } from "./upstream/pool.js";
import { ClientAliases } from "./passthrough/client-aliases.js";
import { PassthroughListener } from "./passthrough/listener.js";
import { TerminateContexts } from "./passthrough/terminate-contexts.js";
import { type PassthroughBackend, type PassthroughRoute, PassthroughTable } from "./passthrough/routes.js";
import { type RateLimitOptions, RateLimits } from "./ratelimit/runtime.js";
import { CertificateFiles } from "./tls/certificate-files.js";
import { type AttachRoutes, type PortCertificates, portCertificates, ServerNames } from "./tls/server-names.js";
import { AddressRanges } from "./listener/cidr.js";
import { sslCiphers } from "./tls/cipher-suites.js";
import { type TemplatedApp, type us_listen_socket, type us_socket, uws } from "./uws.js";

export interface ApplyResult {
  version: number;
  /** Ports that could not be bound, with the reason; everything else was applied. */
  portErrors: { port: number; message: string }[];
}

interface CompiledPort {
  config: PortConfig;
  router: PortRouter;
}

interface BoundPort {
  readonly key: string;
  app: TemplatedApp;
  socket: us_listen_socket | undefined;
  generation: PortGeneration;
  /** Protocol and fallback certificate: a change needs a new app (tls/server-names.ts). */
  shape: string;
  /** The SNI names of `app` (HTTPS only). */
  names: ServerNames | undefined;
  /** Apps replaced by a new one: they stop listening but finish their connections. */
  readonly retired: TemplatedApp[];
  /** Attaches this port's handlers to an app or to one of its SNI domains. */
  routes: AttachRoutes;
}

export interface DataPlaneOptions {
  accessLog?: AccessLog;
  /** Events that are not requests (shadow comparison mismatches); none are logged without it. */
  eventLog?: EventLog;
  rateLimits?: RateLimitOptions;
  /**
   * Whether this event loop binds the ports that need a node:net listener (TLS passthrough,
   * HTTPS shared with passthrough, PROXY protocol). Default true; false for every worker thread
   * but one, since threads cannot share such a socket (gateway/hosts/protocol.ts).
   */
  netFronts?: boolean;
}

export class DataPlane {
  readonly metrics = new DataPlaneMetrics();
  private readonly pools = new PoolManager();
  private readonly ports = new Map<string, BoundPort>();
  private readonly certificateFiles = new CertificateFiles();
  private readonly passthroughPorts = new Map<string, PassthroughListener>();
  private readonly clientAliases = new ClientAliases();
  /** TLS contexts of TLSRoutes terminated on a TLS port's SNI front, rebuilt when they change. */
  private readonly terminateContexts = new TerminateContexts();
  /** Apps of ports that became passthrough ports: closed on drain. */
  private readonly retiredApps: TemplatedApp[] = [];
  private clusters = new Map<string, ClusterRuntime>();
  private readonly rateLimits: RateLimits;
  private inflight = 0;
  private errorLogWindow = 0;
  private errorsLogged = 0;
  private isDraining = false;
  /** Set when the drain timeout closes the connections left: requests ending then were cut. */
  private cutBy: CutReason | undefined;
  /** Beside DataPlaneMetrics' series (not per request: at most once per drain). */
  private readonly cutRequests = new Counter({
    name: "meshgate_http_requests_cut_total",
    help: "Requests in flight cut short by the gateway itself, by reason (drain: the drain timeout passed).",
    labelNames: ["reason"] as const,
    registers: [this.metrics.registry],
  });
  /** The apply in progress (settled when none is). */
  private applying: Promise<unknown> = Promise.resolve();
  private drainWaiters: (() => void)[] = [];
  version = -1;

  constructor(private readonly options: DataPlaneOptions = {}) {
    this.metrics.connectionsCollector = (gauge) => this.collectConnections(gauge);
    this.metrics.activeRequestsCollector = () => this.inflight;
    this.rateLimits = new RateLimits(options.rateLimits ?? {}, this.metrics.rateLimit);
  }

  /**
   * Applies a validated Snapshot. Compilation happens before anything is swapped, so an error
   * there (thrown) leaves the previous generation serving untouched. It runs in slices of a few
   * milliseconds between requests (routing/steps.ts), which keep the previous generation until
   * the new one is whole; applies run one at a time, in the order given.
   */
  apply(snapshot: Snapshot): Promise<ApplyResult> {
    const run = this.applying.then(() => this.applyNow(snapshot));
    this.applying = run.catch(() => {});
    return run;
  }

  private async applyNow(snapshot: Snapshot): Promise<ApplyResult> {
    const { clusters, compiled } = await runSliced(this.compile(snapshot));
    // A drain that began meanwhile closed the ports: binding them again would undo it.
    if (this.isDraining) return { version: this.version, portErrors: [] };

    this.clusters = clusters;
    this.pools.retain(new Set([...clusters.values()].flatMap((c) => (c as LiveCluster).poolKeys())));
    const portErrors: ApplyResult["portErrors"] = [];
    const wanted = new Set<string>();
    const challenges = new Map(Object.entries(snapshot.acmeChallenges));
    const certificatesInUse = new Set<string>();
    const netFronts = this.options.netFronts ?? true;
    for (const { config, router } of compiled) {
      const key = `${config.address}:${config.port}`;
      // An SNI front (passthrough routes) or a PROXY header puts a node:net front on the port.
      const shared = config.passthrough !== undefined || config.client.proxyProtocol;
      if (!netFronts && (shared || config.protocol === "TLS")) continue;
      wanted.add(key);
      if (config.protocol === "TLS") {
        const error = await this.bindPassthrough(key, config);
        if (error !== undefined) portErrors.push({ port: config.port, message: error });
        continue;
      }
      const pipe = this.passthroughPorts.get(key);
      if (pipe !== undefined && !shared) {
        // The port changes from passthrough to HTTP(S): free it before uWS binds it.
        this.passthroughPorts.delete(key);
        await pipe.close(0);
      }
      const generation: PortGeneration = {
        env: this.environment(config),
        router,
        clusters,
        acmeChallenges: config.protocol === "HTTP" ? challenges : NO_CHALLENGES,
      };
      const tls = portCertificates(config, this.certificateFiles);
      for (const paths of tls?.all ?? []) certificatesInUse.add(paths.id);
      const fallback = tls?.fallback === undefined ? "" : `${tls.fallback.paths.id}|${tls.fallback.ciphers}`;
      const shape = `${config.protocol}|${fallback}|${shared ? "shared" : "direct"}`;
      const bound = this.ports.get(key);
      if (bound !== undefined && bound.shape === shape && (tls === undefined || bound.names?.onlyAdds(tls.serverNames) !== false)) {
        bound.generation = generation;
        if (tls !== undefined) bound.names?.sync(tls.serverNames);
      } else {
        // A shared port's terminating app listens on loopback behind the SNI front.
        const at = shared ? { address: "127.0.0.1", port: 0 } : config;
        const error = await this.bind(key, at, generation, shape, tls, bound);
        if (error !== undefined) {
          portErrors.push({ port: config.port, message: error });
          continue;
        }
      }
      const app = this.ports.get(key);
      if (shared && app?.socket !== undefined) {
        const handOff = uws.us_socket_local_port(app.socket as unknown as us_socket);
        const error = await this.bindPassthrough(key, config, handOff);
        if (error !== undefined) portErrors.push({ port: config.port, message: error });
      }
    }
    for (const [key, bound] of this.ports) {
      if (!wanted.has(key)) {
        this.release(bound);
        this.ports.delete(key);
      }
    }
    for (const [key, pipe] of this.passthroughPorts) {
      if (!wanted.has(key)) {
        this.passthroughPorts.delete(key);
        pipe.close(PASSTHROUGH_REMOVED_DRAIN_MS).catch(() => {});
      }
    }
    this.certificateFiles.retain(certificatesInUse);
    this.terminateContexts.retainUsed();
    this.version = snapshot.version;
    return { version: snapshot.version, portErrors };
  }

  private *compile(snapshot: Snapshot): Steps<{ clusters: Map<string, ClusterRuntime>; compiled: CompiledPort[] }> {
    const clusters = yield* this.compileClusters(snapshot.clusters);
    const mirrors = mirrorFactory(clusters, this.metrics.mirror, this.options.eventLog);
    const compiled: CompiledPort[] = [];
    for (const config of snapshot.ports) compiled.push({ config, router: yield* PortRouter.build(config, mirrors) });
    return { clusters, compiled };
  }

  private *compileClusters(configs: Cluster[]): Steps<Map<string, ClusterRuntime>> {
    const next = new Map<string, ClusterRuntime>();
    for (const cfg of configs) {
      yield;
      const previous = this.clusters.get(cfg.name) as LiveCluster | undefined;
      next.set(cfg.name, new LiveCluster(cfg, previous?.state, this.pools, this.metrics));
    }
    return next;
  }

  private environment(config: PortConfig): RequestEnvironment {
    return {
      metrics: this.metrics,
      accessLog: this.options.accessLog,
      client: config.client,
      scheme: config.protocol === "HTTPS" ? "https" : "http",
      clientAliases:
        config.passthrough === undefined && !config.client.proxyProtocol ? undefined : this.clientAliases,
      port: config.port,
      rateLimits: this.rateLimits,
      draining: () => this.isDraining,
      cut: () => this.cutBy,
      requestEnded: () => this.requestEnded(),
      internalError: (site, err) => this.internalError(site, err),
    };
  }

  /**
   * Listens on the port with a new app. With `previous` (same port, new protocol or fallback
   * certificate) the new app listens beside the old one (SO_REUSEPORT) before the old one stops
   * listening, so no connection attempt is refused; the old app's connections finish there.
   */
  private async bind(
    key: string,
    config: { address: string; port: number },
    generation: PortGeneration,
    shape: string,
    tls: PortCertificates | undefined,
    previous: BoundPort | undefined,
  ): Promise<string | undefined> {
    const bound: BoundPort = previous ?? {
      key,
      app: undefined as unknown as TemplatedApp,
      socket: undefined,
      generation,
      shape,
      names: undefined,
      retired: [],
      routes: () => {},
    };
    if (previous === undefined) bound.routes = this.routesFor(bound);
    const app = this.createApp(bound, tls);
    const names = tls === undefined ? undefined : new ServerNames(app, bound.routes);
    names?.sync(tls?.serverNames ?? new Map());
    const socket = await new Promise<us_listen_socket | false>((resolve) =>
      app.listen(config.address, config.port, resolve),
    );
    if (socket === false) {
      (app as unknown as { close(): void }).close();
      return `cannot listen on ${config.address}:${config.port} (address in use or not permitted)`;
    }
    if (previous !== undefined) {
      this.release(previous);
      previous.retired.push(previous.app);
    }
    bound.app = app;
    bound.socket = socket;
    bound.generation = generation;
    bound.shape = shape;
    bound.names = names;
    this.ports.set(key, bound);
    return undefined;
  }

  /**
   * A TLS port, or the SNI front of a shared port (`handOff`: the loopback port of its
   * terminating app): the passthrough listener, bound on first use, given the new routes.
   */
  private async bindPassthrough(key: string, config: PortConfig, handOff?: number): Promise<string | undefined> {
    const bound = this.ports.get(key);
    if (bound !== undefined && handOff === undefined) {
      // The port changes from HTTP(S) to passthrough: its uWS app stops listening first.
      this.release(bound);
      this.ports.delete(key);
      this.retiredApps.push(bound.app, ...bound.retired);
    }
    const { routes, problems } = this.passthroughRoutes(config);
    if (handOff !== undefined) routes.push(...handOffRoutes(config, handOff));
    const table = new PassthroughTable(routes);
    let pipe = this.passthroughPorts.get(key);
    if (pipe === undefined) {
      pipe = new PassthroughListener({
        address: config.address,
        port: config.port,
        metrics: this.metrics.tcpFront(config.port),
        aliases: this.clientAliases,
      });
      try {
        await pipe.listen();
      } catch (err) {
        return (err as Error).message;
      }
      this.passthroughPorts.set(key, pipe);
    }
    pipe.setMode({
      proxyProtocol: config.client.proxyProtocol,
      raw: config.protocol === "HTTP",
      trustedSources: new AddressRanges(config.client.trustedProxyCIDRs),
    });
    pipe.setRoutes(table);
    // Not a port error: the port itself is served (and a port error would give it up).
    for (const problem of problems) this.warn(problem);
    return undefined;
  }

  private warn(message: string): void {
    const log = this.options.eventLog;
    if (log === undefined) process.stderr.write(`meshgate: ${message}\n`);
    else log.warn({}, message);
  }

  /**
   * The port's TLSRoutes for its SNI front. A Terminate route whose TLS context cannot be built
   * (say, a policy whose every suite node:tls's OpenSSL lacks: DES-CBC3-SHA) keeps no backend,
   * so its clients are refused with an alert, and the event log says why.
   */
  private passthroughRoutes(config: PortConfig): { routes: PassthroughRoute[]; problems: string[] } {
    const problems: string[] = [];
    const certificates = new Map((config.tls?.certificates ?? []).map((c) => [c.name, c]));
    const routes = (config.passthrough ?? []).map((r): PassthroughRoute => {
      const route: PassthroughRoute = {
        name: r.name,
        hostnames: r.hostnames,
        backends: r.backends.map((b): PassthroughBackend => ({ address: b.address, port: b.port, weight: b.weight })),
      };
      if (r.mode === "Passthrough") return route;
      // validateSnapshot guarantees a Terminate route's certificate is among the port's.
      const certificate = certificates.get(r.certificate ?? "");
      const built = certificate === undefined ? undefined : this.terminateContexts.get(certificate, r.policy);
      if (built?.ok === true) return { ...route, terminate: built.context };
      problems.push(`TLSRoute ${r.name} on port ${config.port}: ${built?.message ?? "no certificate"}`);
      return { ...route, backends: [] };
    });
    return { routes, problems };
  }

  /**
   * Attaches the request and WebSocket handlers; SNI domains each need their own (uWS), and
   * those know the listener hostname (`serverName`) their handshakes chose.
   */
  private routesFor(bound: BoundPort): AttachRoutes {
    return (app, serverName) => {
      app.any("/*", (res, req) => {
        this.inflight++;
        handleRequest(res, req, bound.generation, serverName);
      });
      const ws = websocketBehavior(() => bound.generation, serverName);
      const upgrade = ws.upgrade;
      app.ws<WebSocketHolder>("/*", {
        ...ws,
        upgrade: (res, req, context) => {
          this.inflight++;
          upgrade(res, req, context);
        },
      });
    };
  }

  private createApp(bound: BoundPort, tls: PortCertificates | undefined): TemplatedApp {
    const fallback = tls?.fallback;
    const app =
      tls === undefined
        ? uws.App()
        : uws.SSLApp(
            fallback === undefined
              ? { ssl_ciphers: sslCiphers(undefined) }
              : {
                  cert_file_name: fallback.paths.cert_file_name,
                  key_file_name: fallback.paths.key_file_name,
                  ssl_ciphers: fallback.ciphers,
                },
          );
    bound.routes(app);
    return app;
  }

  private release(bound: BoundPort): void {
    if (bound.socket !== undefined) {
      uws.us_listen_socket_close(bound.socket);
      bound.socket = undefined;
    }
  }

  private requestEnded(): void {
    this.inflight--;
    if (this.inflight === 0 && this.drainWaiters.length > 0) {
      for (const w of this.drainWaiters.splice(0)) w();
    }
  }

  /**
   * An exception met while handling a request (http/contain.ts): counted, and logged with its
   * stack, at most INTERNAL_ERRORS_LOGGED_PER_MINUTE lines a minute so a request that keeps
   * finding the same bug cannot flood the log (the counter keeps the whole tally).
   */
  private internalError(site: InternalErrorSite, err: unknown): void {
    this.metrics.internalErrors.labels(site).inc();
    const now = Date.now();
    if (now - this.errorLogWindow >= 60_000) {
      this.errorLogWindow = now;
      this.errorsLogged = 0;
    }
    if (this.errorsLogged++ >= INTERNAL_ERRORS_LOGGED_PER_MINUTE) return;
    const error = err instanceof Error ? err : new Error(String(err));
    const fields = { where: site, error: error.message, stack: error.stack };
    const log = this.options.eventLog;
    if (log === undefined) process.stderr.write(`meshgate: internal error (${site}): ${error.stack ?? error.message}\n`);
    else if (log.error !== undefined) log.error(fields, "internal error while handling a request");
    else log.warn(fields, "internal error while handling a request");
  }

  get activeRequests(): number {
    return this.inflight;
  }

  /** Listening ports, for the admin status. */
  boundPorts(): number[] {
    return [...this.ports.keys(), ...this.passthroughPorts.keys()].map((key) =>
      Number(key.slice(key.lastIndexOf(":") + 1)),
    );
  }

  /**
   * Stops accepting connections, lets requests in flight finish (their responses close their
   * connections), and resolves when none remain or the timeout passes.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.isDraining = true;
    const apps = [...this.ports.values()].flatMap((b) => [b.app, ...b.retired]).concat(this.retiredApps);
    const pipes = [...this.passthroughPorts.values()];
    this.passthroughPorts.clear();
    const piped = Promise.all(pipes.map((p) => p.close(timeoutMs)));
    for (const bound of this.ports.values()) this.release(bound);
    this.ports.clear();
    let drained = this.inflight === 0;
    if (!drained) {
      drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        this.drainWaiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    }
    if (!drained && this.inflight > 0) this.cutInFlight();
    // Close the keep-alive connections left open; uWS's close() exists in 20.30 but is not typed.
    for (const app of apps) (app as unknown as { close(): void }).close();
    await this.pools.destroyAll();
    await piped;
    this.certificateFiles.close();
    await this.rateLimits.close();
    return drained;
  }

  /** The drain timeout passed: the requests still in flight end now, cut, and say so. */
  private cutInFlight(): void {
    this.cutBy = "drain";
    this.cutRequests.labels("drain").inc(this.inflight);
    this.options.eventLog?.warn(
      { requests: this.inflight, reason: "drain timeout" },
      "drain timeout passed: requests still in flight are cut",
    );
  }

  private collectConnections(gauge: Gauge<"cluster">): void {
    gauge.reset();
    for (const c of this.clusters.values())
      gauge.set({ cluster: c.name }, (c as LiveCluster).openConnections());
  }
}

class LiveCluster implements ClusterRuntime {
  readonly name: string;
  readonly state: ClusterState;
  readonly capacity: number;
  private readonly settings: PoolSettings;
  private readonly poolByEndpoint = new Map<EndpointState, UpstreamPool>();

  constructor(
    cfg: Cluster,
    previous: ClusterState | undefined,
    private readonly pools: PoolManager,
    readonly metrics: DataPlaneMetrics,
  ) {
    this.name = cfg.name;
    this.state = new ClusterState(cfg, previous);
    const endpoints = Math.max(1, cfg.endpoints.length);
    const perEndpoint = Math.max(
      1,
      Math.min(cfg.connectionsPerEndpoint, Math.floor(cfg.circuitBreaker.maxConnections / endpoints)),
    );
    this.settings = {
      connections: perEndpoint,
      connectTimeoutMs: cfg.timeouts.connectMs,
      idleTimeoutMs: cfg.timeouts.idleMs,
    };
    this.capacity = perEndpoint * endpoints;
  }

  /** The endpoint's pool, remembered per endpoint so a request builds no key string. */
  pool(ep: EndpointState): UpstreamPool {
    let pool = this.poolByEndpoint.get(ep);
    if (pool === undefined) {
      pool = this.pools.get(ep.endpoint.address, ep.endpoint.port, this.settings);
      this.poolByEndpoint.set(ep, pool);
    }
    return pool;
  }

  poolKeys(): string[] {
    return this.state.endpoints.map((ep) => poolKey(ep.endpoint.address, ep.endpoint.port, this.settings));
  }

  openConnections(): number {
    let n = 0;
    for (const ep of this.state.endpoints)
      n += this.pools.connectionCount(ep.endpoint.address, ep.endpoint.port, this.settings);
    return n;
  }
}

const NO_CHALLENGES: ReadonlyMap<string, string> = new Map();

const INTERNAL_ERRORS_LOGGED_PER_MINUTE = 10;

/** How long connections of a passthrough port removed from the configuration may go on. */
const PASSTHROUGH_REMOVED_DRAIN_MS = 30_000;

/** Route name of the connections a front hands to its port's own app (counted by port, as hand-offs). */
const HAND_OFF_ROUTE = "(terminate)";

/**
 * On a shared port, the HTTPS listeners' names go to the terminating app: each SNI name as an
 * exact or wildcard route, and a fallback certificate as a catch-all (which a passthrough
 * route of the same or a more specific name still beats, as listener precedence says).
 */
function handOffRoutes(config: PortConfig, port: number): PassthroughRoute[] {
  const backends: PassthroughBackend[] = [{ address: "127.0.0.1", port, weight: 1, handOff: true }];
  // Plain HTTP behind a PROXY-protocol front: everything goes to the app.
  if (config.protocol === "HTTP") return [{ name: HAND_OFF_ROUTE, hostnames: [], backends }];
  const named = (config.tls?.serverNames ?? []).map((s) => s.hostname);
  const routes: PassthroughRoute[] = [];
  if (named.length > 0) routes.push({ name: HAND_OFF_ROUTE, hostnames: named, backends });
  if (config.tls?.fallback !== undefined) routes.push({ name: HAND_OFF_ROUTE, hostnames: [], backends });
  return routes;
}
