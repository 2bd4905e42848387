// `meshgate controller`: the Kubernetes provider -> store -> trigger -> translate -> Snapshot,
// and status written back. With `--serve` the data plane runs in this process too (until
// Snapshots are distributed to gateway pods), so traffic follows the cluster's objects.
import type { Server } from "node:http";
import type { Logger } from "pino";
import { Counter, Histogram, Registry } from "prom-client";
import { KubeClient } from "../controller/provider/kubernetes/client.js";
import { KubernetesProvider } from "../controller/provider/kubernetes/index.js";
import type { ReflectorTiming } from "../controller/provider/kubernetes/reflector.js";
import { inScope, scopedReport } from "../controller/provider/kubernetes/scope.js";
import { LeaseElector } from "../controller/leader/elector.js";
import { statusApiOver } from "../controller/status/kube/api.js";
import { desiredStatuses, StatusWriter } from "../controller/status/kube/index.js";
import type { StatusReport } from "../controller/status/report.js";
import type { ServedCertificate } from "../controller/translate/certificates.js";
import { translate } from "../controller/translate/index.js";
import { ReconcileTrigger } from "../controller/trigger.js";
import { startAdmin } from "../gateway/admin.js";
import type { DataPlaneHost } from "../gateway/host.js";
import { aggregateMetrics, createHost, type WorkerMode } from "../gateway/hosts/index.js";
import { redactSnapshot, type Snapshot, validateSnapshot } from "../gateway/snapshot.js";
import { isLogLevel } from "../gateway/telemetry/log-lines.js";
import {
  defaultMetricsRegistry,
  labelledPerProcess,
  ownProcessMetrics,
  SUPERVISOR_WORKER,
} from "../gateway/telemetry/process-metrics.js";
import { closeAdmin, configVersionGauge, registerBuildInfo } from "./serving-metrics.js";
import { buildInfo } from "./version.js";

export interface ControllerOptions {
  /** Absent: the pod's service account. */
  kubeconfig?: string;
  controllerName: string;
  /** Run the data plane here too. */
  serve: boolean;
  workers: number;
  workerMode?: WorkerMode;
  adminAddress: string;
  adminPort: number;
  accessLog: string;
  drainTimeoutMs: number;
  logger: Logger;
  /** Reflector back-off and watch lengths; tests shorten them. */
  timing?: ReflectorTiming;
  /**
   * Leader election on a Lease (default on): only the holder writes status. Off, this process
   * writes at once (one replica only).
   */
  leaderElection?: { enabled: boolean; namespace?: string; name?: string };
}

export class Controller {
  readonly registry = new Registry();
  readonly provider: KubernetesProvider;
  private readonly client: KubeClient;
  private readonly trigger: ReconcileTrigger;
  private readonly host: DataPlaneHost | undefined;
  private admin: Server | undefined;
  private version = 0;
  private certificates = new Map<string, ServedCertificate>();
  private applied: Snapshot | undefined;
  private lastReport: StatusReport | undefined;
  private lastRefusal: string[] | undefined;
  private reconciledRevision = -1;
  private stopping = false;
  readonly statusWriter: StatusWriter;
  readonly elector: LeaseElector | undefined;
  /** The installed Gateway API CRDs' bundle version, read at start (GatewayClass SupportedVersion). */
  private bundleVersion: string | undefined;
  private readonly reconciles = new Counter({
    name: "meshgate_controller_reconciles_total",
    help: "Translations of the cluster's objects, by result (applied, refused).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  private readonly reconcileSeconds = new Histogram({
    name: "meshgate_controller_reconcile_seconds",
    help: "Time to translate the cluster's objects and hand the Snapshot over.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly configVersion = configVersionGauge(this.registry);

  constructor(private readonly options: ControllerOptions) {
    registerBuildInfo(this.registry);
    this.client = new KubeClient(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig });
    this.trigger = new ReconcileTrigger(() => this.reconcile());
    this.provider = new KubernetesProvider({
      client: this.client,
      logger: options.logger,
      registry: this.registry,
      controllerName: options.controllerName,
      changed: () => {
        this.trigger.hold(!this.provider.settled());
        this.trigger.poke();
      },
      ...(options.timing === undefined ? {} : { timing: options.timing }),
    });
    this.statusWriter = new StatusWriter({
      api: statusApiOver((method, path, body, contentType) => this.client.json(method, path, body, contentType)),
      current: (ref) => this.provider.current(ref.kind, ref.namespace ?? "", ref.name),
      registry: this.registry,
      logger: options.logger,
    });
    const election = options.leaderElection ?? { enabled: true };
    if (election.enabled) {
      this.elector = new LeaseElector({
        request: (method, path, body, contentType, signal) => this.client.json(method, path, body, contentType, signal),
        ...(this.client.credentials.namespace === undefined ? {} : { contextNamespace: this.client.credentials.namespace }),
        logger: options.logger,
        registry: this.registry,
        ...(election.namespace === undefined ? {} : { namespace: election.namespace }),
        ...(election.name === undefined ? {} : { name: election.name }),
        onStartedLeading: () => this.statusWriter.setLeader(true),
        onStoppedLeading: () => this.statusWriter.setLeader(false),
      });
    }
    if (!options.serve) defaultMetricsRegistry();
    if (options.serve) {
      this.host = createHost({
        workers: options.workers,
        ...(options.workerMode === undefined ? {} : { mode: options.workerMode }),
        registry: this.registry,
        log: options.logger,
        accessLog: options.accessLog,
        logLevel: isLogLevel(options.logger.level) ? options.logger.level : "info",
      });
    }
  }

  async start(): Promise<void> {
    this.admin = await startAdmin(this.options.adminAddress, this.options.adminPort, {
      metrics: async () =>
        aggregateMetrics(
          // Without a data plane, this process's own heap, RSS and event loop are still reported.
          this.host === undefined ? [labelledPerProcess(await ownProcessMetrics(), SUPERVISOR_WORKER)] : await this.host.metrics(),
          await this.registry.getMetricsAsJSON(),
        ),
      ready: () => {
        const notes = this.provider
          .report()
          .filter((k) => k.phase === "failing")
          .map((k) => `${k.kind}: ${k.status ?? "connection"} ${k.message ?? ""}`.trim());
        return { ready: this.lastReport !== undefined && !this.stopping, notes };
      },
      status: () => ({
        version: buildInfo().version,
        controllerName: this.options.controllerName,
        server: this.client.server.origin,
        watches: this.provider.report(),
        servingVersion: this.applied?.version ?? null,
        ...(this.lastRefusal === undefined ? {} : { refused: this.lastRefusal }),
        ...(this.lastReport ?? { message: "waiting for the first list of every watched kind" }),
        ...(this.host === undefined ? {} : { workers: this.host.workers() }),
      }),
      snapshot: () => (this.applied === undefined ? null : redactSnapshot(this.applied)),
    });
    this.options.logger.info(
      { address: this.options.adminAddress, port: this.options.adminPort },
      "admin listening",
    );
    this.bundleVersion = await readBundleVersion(this.client, this.options.logger);
    this.provider.start();
    if (this.elector === undefined) this.statusWriter.setLeader(true);
    else this.elector.start();
  }

  /** Resolves after the first reconcile (every watched kind listed once), for tests and --serve. */
  async synced(): Promise<void> {
    while (this.lastReport === undefined && !this.stopping) await new Promise((r) => setTimeout(r, 50));
  }

  /** Resolves once the store's current state has been reconciled (tests). */
  async settled(): Promise<void> {
    for (;;) {
      await this.trigger.idle();
      if (this.reconciledRevision === this.provider.store.revision && this.provider.settled()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The API server's origin, for the log. */
  get server(): string {
    return this.client.server.origin;
  }

  get status(): StatusReport | undefined {
    return this.lastReport;
  }

  private async reconcile(): Promise<void> {
    if (!this.provider.settled()) return;
    const started = process.hrtime.bigint();
    const revision = this.provider.store.revision;
    const log = this.options.logger;
    try {
      const resources = inScope(this.provider.store.resources());
      this.version++;
      const translation = translate(resources, {
        version: this.version,
        loadErrors: this.provider.store.loadErrors(),
        lastGoodCertificates: this.certificates,
      });
      this.certificates = translation.certificates;
      const validation = validateSnapshot(translation.snapshot);
      const report = scopedReport(translation.status, resources, this.options.controllerName);
      for (const g of report.gateways) {
        g.addresses = this.provider.gatewayAddresses(g.namespace, g.name).map((a) => a.value);
      }
      if (!validation.ok) {
        // The last good Snapshot keeps serving; the refusal is in the status and the log.
        report.refused = validation.errors;
        this.lastRefusal = validation.errors;
        this.reconciles.labels("refused").inc();
        log.error({ reasons: validation.errors }, "Snapshot refused; the last good one keeps serving");
      } else {
        this.lastRefusal = undefined;
        if (this.host !== undefined) {
          const result = await this.host.apply(validation.snapshot);
          for (const e of result.portErrors) log.error({ port: e.port, reason: e.message }, "listener could not bind");
        }
        this.applied = validation.snapshot;
        this.configVersion.set(validation.snapshot.version);
        this.reconciles.labels("applied").inc();
        log.info(
          {
            version: validation.snapshot.version,
            objects: resources.length,
            ports: validation.snapshot.ports.map((p) => p.port),
            clusters: validation.snapshot.clusters.length,
          },
          "configuration applied",
        );
      }
      this.lastReport = report;
      this.reconciledRevision = revision;
      this.statusWriter.publish(
        desiredStatuses(report, {
          controllerName: this.options.controllerName,
          bundleVersion: this.bundleVersion,
          // No Service labelled for the Gateway (none provisioned yet): addresses written stay.
          addresses: (namespace, name) => {
            const found = this.provider.gatewayAddresses(namespace, name);
            return found.length === 0 && !this.provider.hasGatewayService(namespace, name) ? undefined : found;
          },
        }),
      );
    } catch (err) {
      this.reconciles.labels("refused").inc();
      log.error({ err }, "reconcile failed; the last good configuration keeps serving");
    } finally {
      this.reconcileSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** Resolves once every status write queued so far is done (tests). */
  statusIdle(): Promise<void> {
    return this.statusWriter.idle();
  }

  async stop(): Promise<boolean> {
    this.stopping = true;
    // Leadership first: the Lease is released for the other replica at once.
    await this.elector?.stop();
    this.statusWriter.close();
    await this.provider.stop();
    await this.trigger.close();
    const drained = this.host === undefined ? true : await this.host.drain(this.options.drainTimeoutMs);
    this.client.close();
    await closeAdmin(this.admin);
    return drained;
  }
}

const BUNDLE_VERSION_ANNOTATION = "gateway.networking.k8s.io/bundle-version";

/** The bundle version the Gateway CRD carries; undefined (and logged) when it cannot be read. */
async function readBundleVersion(client: KubeClient, logger: Logger): Promise<string | undefined> {
  try {
    const crd = (await client.json("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gateways.gateway.networking.k8s.io")) as {
      metadata?: { annotations?: Record<string, string> };
    };
    return crd.metadata?.annotations?.[BUNDLE_VERSION_ANNOTATION];
  } catch (err) {
    logger.warn({ err: (err as Error).message }, "cannot read the Gateway API CRD's bundle version; GatewayClass SupportedVersion says so");
    return undefined;
  }
}
