// Standalone mode: the file provider, translation and the data plane in one process — the same
// path as in a cluster (provider -> translate -> Snapshot -> gateway), fed from one folder.
import type { Server } from "node:http";
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { Logger } from "pino";
import { Counter, Gauge, Registry } from "prom-client";
import type { Clock } from "../certs/renewal.js";
import { AcmeSource } from "../controller/acme.js";
import { watchFolder } from "../controller/provider/file.js";
import { ThreadedReconciler } from "../controller/reconcile-thread.js";
import { startAdmin } from "../gateway/admin.js";
import { withUnboundPorts } from "../controller/status/unbound-ports.js";
import type { DataPlaneHost } from "../gateway/host.js";
import { aggregateMetrics, createHost, type WorkerMode } from "../gateway/hosts/index.js";
import type { RedisTarget } from "../gateway/ratelimit/redis-client.js";
import { redactSnapshot, type Snapshot } from "../gateway/snapshot.js";
import type { StatusReport } from "../controller/status/report.js";
import { closeAdmin, configVersionGauge, registerBuildInfo } from "./serving-metrics.js";
import { buildInfo } from "./version.js";
import { isLogLevel, type LogLevel } from "../gateway/telemetry/log-lines.js";
import { RefusalLog } from "./refusal-log.js";

export interface StandaloneOptions {
  configDir: string;
  workers: number;
  /** Default: processes with more than one worker. */
  workerMode?: WorkerMode;
  adminAddress: string;
  adminPort: number;
  accessLog: string;
  /** The Redis shared by the instances counting Global rate limits. */
  redis?: RedisTarget;
  /** How many instances share that Redis (the insurance limit while it is away is limit / N). */
  instances?: number;
  drainTimeoutMs: number;
  logger: Logger;
  /** The least severe event the data-plane workers log; default: the logger's level. */
  logLevel?: LogLevel;
  /** ACME account keys and certificates (created on first use). */
  stateDir: string;
  /** The ACME managers' clock; tests only. */
  acmeClock?: Clock;
}

export class Standalone {
  private readonly registry = new Registry();
  private readonly configVersion = configVersionGauge(this.registry);
  private readonly reloads = new Counter({
    name: "meshgate_config_reloads_total",
    help: "Configuration reloads, by result (applied, refused).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  private readonly configErrors = new Gauge({
    name: "meshgate_config_errors",
    help: "Objects or files refused in the current configuration folder.",
    registers: [this.registry],
  });
  private readonly host: DataPlaneHost;
  private readonly reconciler: ThreadedReconciler;
  /** Certificates from ACME CAs: a source beside the folder, feeding the same reconcile. */
  readonly acme: AcmeSource;
  private admin: Server | undefined;
  private watcher: { close(): void } | undefined;
  private applied: Snapshot | undefined;
  private status: object = { message: "loading" };
  /** The status of the configuration last applied: what is served while newer files are refused. */
  private servedStatus: StatusReport | undefined;
  /** Ports the last apply could not bind, with the reason. */
  private unbound: { port: number; message: string }[] = [];
  /** The folder's real path, as `meshgate status` resolves it to compare. */
  private readonly configPath: string;
  private draining = false;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private readonly refusals: RefusalLog;

  constructor(private readonly options: StandaloneOptions) {
    this.configPath = realPath(options.configDir);
    registerBuildInfo(this.registry);
    this.refusals = new RefusalLog(options.logger);
    this.host = createHost({
      workers: options.workers,
      ...(options.workerMode === undefined ? {} : { mode: options.workerMode }),
      registry: this.registry,
      log: options.logger,
      accessLog: options.accessLog,
      logLevel: options.logLevel ?? (isLogLevel(options.logger.level) ? options.logger.level : "info"),
      rateLimits: {
        ...(options.redis === undefined ? {} : { redis: options.redis }),
        instances: options.instances ?? 1,
      },
    });
    if (options.redis === undefined) {
      options.logger.info("no Redis configured: Global rate limits are counted per instance");
    }
    // Lowest priority only where this process's own event loop serves the traffic.
    const local = options.workerMode === "local";
    this.reconciler = new ThreadedReconciler(options.configDir, local ? 19 : 0);
    this.acme = new AcmeSource({
      stateDir: options.stateDir,
      registry: this.registry,
      logger: options.logger,
      changed: () => {
        if (!this.draining) this.scheduleReload();
      },
      ...(options.acmeClock === undefined ? {} : { clock: options.acmeClock }),
    });
  }

  async start(): Promise<void> {
    const log = this.options.logger;
    this.admin = await startAdmin(this.options.adminAddress, this.options.adminPort, {
      metrics: async () =>
        aggregateMetrics(await this.host.metrics(), await this.registry.getMetricsAsJSON()),
      ready: () => ({
        ready: this.applied !== undefined && !this.draining,
        notes: this.unbound.map((u) => `port ${u.port} not served: ${u.message}`),
      }),
      // `config` lets `meshgate status` check it compares the folder this gateway serves.
      status: () => ({
        version: buildInfo().version,
        config: this.configPath,
        ...this.status,
        workers: this.host.workers(),
      }),
      snapshot: () => (this.applied === undefined ? null : redactSnapshot(this.applied)),
    });
    log.info({ address: this.options.adminAddress, port: this.options.adminPort }, "admin listening");
    // Through the queue, so that a change reported during the first reload waits for it.
    this.scheduleReload();
    await this.reloading;
    // As nginx and Envoy do: a gateway that cannot have its ports does not start half-way.
    if (this.unbound.length > 0) {
      await this.stop();
      throw new Error(`cannot serve ${this.unbound.map((u) => `port ${u.port}: ${u.message}`).join("; ")}`);
    }
    this.watcher = watchFolder(this.options.configDir, () => this.scheduleReload());
  }

  /** Reloads are serialised; changes that arrive during one trigger exactly one more. */
  private scheduleReload(): void {
    if (this.reloading !== undefined) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = this.reload().finally(() => {
      this.reloading = undefined;
      if (!this.draining) this.reconciler.keepSpare();
      if (this.reloadAgain && !this.draining) {
        this.reloadAgain = false;
        this.scheduleReload();
      }
    });
  }

  private async reload(): Promise<void> {
    const log = this.options.logger;
    try {
      const { translation, validation } = await this.reconciler.load(this.acme.inputs());
      const loadErrors = translation.status.loadErrors;
      this.configErrors.set(loadErrors.length);
      this.refusals.seen(translation.status);
      const challenges = translation.snapshot.acmeChallenges ?? {};
      if (!validation.ok) {
        await this.serveChallengesOnly(challenges, translation.snapshot.version);
        this.refuse(translation.status, validation.errors);
        return;
      }
      if (loadErrors.length > 0 && this.applied !== undefined) {
        // A file that does not parse would silently drop its routes: keep serving the last good
        // Snapshot until the folder is whole again.
        await this.serveChallengesOnly(challenges, translation.snapshot.version);
        this.refuse(
          translation.status,
          loadErrors.map((e) => `${e.file}: ${e.message}`),
        );
        return;
      }
      const result = await this.host.apply(validation.snapshot);
      for (const e of result.portErrors)
        log.error({ port: e.port, reason: e.message }, "listener could not bind");
      this.unbound = result.portErrors;
      this.applied = validation.snapshot;
      this.acme.applied(validation.snapshot.acmeChallenges);
      this.acme.sync(translation.acmeRequests);
      this.configVersion.set(validation.snapshot.version);
      this.reloads.labels("applied").inc();
      this.servedStatus = withUnboundPorts(translation.status, result.portErrors);
      this.status = {
        ...this.servedStatus,
        servingVersion: validation.snapshot.version,
        portErrors: result.portErrors,
        acme: this.acme.report(),
      };
      log.info(
        {
          version: validation.snapshot.version,
          ports: validation.snapshot.ports.map((p) => p.port),
          clusters: validation.snapshot.clusters.length,
        },
        "configuration applied",
      );
    } catch (err) {
      this.reloads.labels("refused").inc();
      log.error({ err }, "configuration reload failed; the last good configuration keeps serving");
    }
  }

  /**
   * A refused configuration leaves the last good one serving, but the ACME managers' HTTP-01
   * answers come from another source and must still reach the HTTP ports, or every order in
   * flight fails until the folder is fixed.
   */
  private async serveChallengesOnly(challenges: Record<string, string>, version: number): Promise<void> {
    const applied = this.applied;
    if (applied === undefined || sameEntries(applied.acmeChallenges, challenges)) return;
    const snapshot: Snapshot = { ...applied, version, acmeChallenges: challenges };
    await this.host.apply(snapshot);
    this.applied = snapshot;
    this.configVersion.set(version);
    this.acme.applied(challenges);
  }

  private refuse(status: object, reasons: string[]): void {
    this.reloads.labels("refused").inc();
    this.options.logger.error(
      { reasons },
      "configuration refused; the last good configuration keeps serving",
    );
    const served = this.servedStatus;
    this.status = {
      ...status,
      servingVersion: this.applied?.version ?? null,
      refused: reasons,
      // What the gateway keeps serving, beside what the refused files say.
      served: served === undefined ? null : { gateways: served.gateways, httpRoutes: served.httpRoutes, tlsRoutes: served.tlsRoutes },
    };
  }

  /** SIGTERM: stop accepting, let requests in flight finish within the drain timeout. */
  async stop(): Promise<boolean> {
    this.draining = true;
    this.watcher?.close();
    this.acme.stop();
    await this.reloading;
    this.reconciler.close();
    const drained = await this.host.drain(this.options.drainTimeoutMs);
    await closeAdmin(this.admin);
    return drained;
  }
}

function realPath(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

function sameEntries(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
