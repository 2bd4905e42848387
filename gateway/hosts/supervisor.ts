// Runs N data-plane workers (threads or processes, see spawners.ts) on the same ports and keeps
// them running, as nginx's master keeps its workers: a worker that dies is started again with
// the current Snapshot (at once the first time, with growing back-off while it keeps dying
// young), and the others go on serving their connections meanwhile.
import { Counter, type Registry } from "prom-client";
import type { ApplyResult } from "../data-plane.js";
import type { DataPlaneHost, LoopMetrics, WorkerStatus } from "../host.js";
import { pack } from "../sliced-clone.js";
import type { Snapshot } from "../snapshot.js";
import { labelledPerProcess, ownProcessMetrics, SUPERVISOR_WORKER } from "../telemetry/process-metrics.js";
import { PortClaims } from "./port-claims.js";
import { answerLeaseRequest, type LeaseReply } from "../ratelimit/lease-link.js";
import { LocalLedger } from "../ratelimit/local-shares.js";
import type { FromWorker, WorkerReply, WorkerRequestBody } from "./protocol.js";

/** A started worker as the supervisor drives it. */
export interface WorkerHandle {
  readonly pid: number;
  send(message: (WorkerRequestBody & { id: number }) | LeaseReply): void;
  /** Ends the worker after its drain (or at once); `exit` follows. */
  stop(): void;
  /** Ends the worker at once, whatever it is doing. */
  kill(): void;
}

export interface WorkerEvents {
  message(message: FromWorker): void;
  exit(how: string): void;
}

export interface Spawner {
  spawn(index: number, events: WorkerEvents): WorkerHandle;
  /** Settles when what exited workers wrote is passed on (processes: their stdout through this one). */
  outputDone?(): Promise<void>;
}

export interface SupervisorLog {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface SupervisorOptions {
  workers: number;
  /** Where meshgate_worker_restarts_total is registered. */
  registry?: Registry;
  log?: SupervisorLog;
  /** Restart back-off; the defaults are RESTART_BACKOFF's. */
  backoff?: RestartBackoff;
}

export interface RestartBackoff {
  /** A worker that lived at least this long counts as healthy: its death restarts it at once. */
  healthyUptimeMs: number;
  /** The wait after the second young death in a row, doubled for each one after it. */
  firstMs: number;
  maxMs: number;
}

export const RESTART_BACKOFF: RestartBackoff = { healthyUptimeMs: 10_000, firstMs: 250, maxMs: 10_000 };
/** How long a stopped worker may take to exit before it is killed. */
const EXIT_GRACE_MS = 5_000;

class Slot {
  handle: WorkerHandle | undefined;
  state: WorkerStatus["state"] = "starting";
  startedAt = Date.now();
  restarts = 0;
  /** Deaths in a row of workers that did not live HEALTHY_UPTIME_MS. */
  youngDeaths = 0;
  lastExit: string | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<void> = Promise.resolve();
  /** Settles true once the worker can take asks (messages sent earlier could be lost), false if it died first. */
  started: Promise<boolean> = Promise.resolve(false);
  readonly pending = new Map<number, (reply: WorkerReply | undefined) => void>();

  constructor(readonly index: number) {}

  /** Asks waiting on a worker that is gone get no reply (undefined). */
  abandonAsks(): void {
    for (const resolve of this.pending.values()) resolve(undefined);
    this.pending.clear();
  }
}

export class SupervisedHost implements DataPlaneHost {
  private readonly slots: Slot[] = [];
  private readonly claims = new PortClaims();
  /** Local rate limits of all workers, counted once; it outlives any one worker. */
  private readonly ledger = new LocalLedger();
  private readonly restartsTotal: Counter<"worker"> | undefined;
  private current: Snapshot | undefined;
  private stopping = false;
  private nextId = 1;

  constructor(
    private readonly spawner: Spawner,
    private readonly options: SupervisorOptions,
  ) {
    this.restartsTotal =
      options.registry === undefined
        ? undefined
        : new Counter({
            name: "meshgate_worker_restarts_total",
            help: "Data-plane workers started again after they died, by worker slot.",
            labelNames: ["worker"] as const,
            registers: [options.registry],
          });
    for (let i = 0; i < options.workers; i++) {
      const slot = new Slot(i);
      this.slots.push(slot);
      this.start(slot);
    }
  }

  private start(slot: Slot): void {
    slot.state = "starting";
    slot.startedAt = Date.now();
    let exited!: () => void;
    slot.exited = new Promise((resolve) => (exited = resolve));
    let started!: (ok: boolean) => void;
    slot.started = new Promise((resolve) => (started = resolve));
    const restart = slot.restarts > 0;
    const handle = this.spawner.spawn(slot.index, {
      message: (message) => {
        const lease = answerLeaseRequest(this.ledger, message);
        if (lease !== undefined) {
          handle.send(lease);
          return;
        }
        if (message.type === "meshgate.lease") return;
        if (message.type === "started") {
          started(true);
          // A first start is given its Snapshot by apply(); a restart catches up by itself.
          if (restart) void this.catchUp(slot, handle);
          else slot.state = "serving";
          return;
        }
        const resolve = slot.pending.get(message.id);
        if (resolve === undefined) return;
        slot.pending.delete(message.id);
        resolve(message);
      },
      exit: (how) => {
        if (slot.handle === handle) slot.handle = undefined;
        slot.abandonAsks();
        started(false);
        exited();
        this.died(slot, how);
      },
    });
    slot.handle = handle;
  }

  /** A worker that has just started gets the Snapshot the others serve. */
  private async catchUp(slot: Slot, handle: WorkerHandle): Promise<void> {
    const snapshot = this.current;
    if (snapshot !== undefined) {
      const reply = await this.ask(slot, { type: "apply", packed: pack(snapshot) });
      if (reply === undefined || slot.handle !== handle) return;
      if (reply.type === "error") {
        this.options.log?.error({ worker: slot.index, pid: handle.pid, reason: reply.message }, "worker refused the current configuration");
        return;
      }
      if (reply.type === "applied") {
        for (const e of reply.result.portErrors)
          this.options.log?.error({ worker: slot.index, port: e.port, reason: e.message }, "listener could not bind");
      }
    }
    if (slot.handle === handle) slot.state = "serving";
  }

  private died(slot: Slot, how: string): void {
    slot.lastExit = how;
    if (this.stopping) return;
    const lived = Date.now() - slot.startedAt;
    const backoff = this.options.backoff ?? RESTART_BACKOFF;
    slot.youngDeaths = lived < backoff.healthyUptimeMs ? slot.youngDeaths + 1 : 1;
    const delay = slot.youngDeaths <= 1 ? 0 : Math.min(backoff.maxMs, backoff.firstMs * 2 ** (slot.youngDeaths - 2));
    slot.restarts++;
    this.restartsTotal?.labels(String(slot.index)).inc();
    slot.state = "restarting";
    this.options.log?.error(
      { worker: slot.index, exit: how, uptimeSeconds: Math.round(lived / 1000), restartInMs: delay },
      "data-plane worker died; starting it again",
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!this.stopping) this.start(slot);
    }, delay);
  }

  /** Sent once the worker has started; undefined when it is gone before it answers. */
  private async ask(slot: Slot, request: WorkerRequestBody): Promise<WorkerReply | undefined> {
    const handle = slot.handle;
    if (handle === undefined || !(await slot.started) || slot.handle !== handle) return undefined;
    const id = this.nextId++;
    return new Promise((resolve) => {
      slot.pending.set(id, resolve);
      handle.send({ ...request, id });
    });
  }

  /** Workers to ask: every live one but a restarted one still catching up (it gets `current` itself). */
  private live(): Slot[] {
    return this.slots.filter((s) => s.handle !== undefined && (s.state === "serving" || s.restarts === 0));
  }

  async apply(snapshot: Snapshot): Promise<ApplyResult> {
    const { snapshot: admitted, refused } = await this.claims.admit(snapshot);
    this.current = admitted;
    const packed = pack(admitted);
    const replies = await Promise.all(this.live().map((s) => this.ask(s, { type: "apply", packed })));
    const portErrors = new Map<number, string>(refused.map((e) => [e.port, e.message]));
    for (const r of replies) {
      if (r?.type === "applied") for (const e of r.result.portErrors) portErrors.set(e.port, e.message);
      if (r?.type === "error") throw new Error(r.message);
    }
    const result = { version: snapshot.version, portErrors: [...portErrors].map(([port, message]) => ({ port, message })) };
    this.claims.served(admitted, result.portErrors);
    return result;
  }

  /** The serving workers' data-plane metrics (to be summed), and every worker's and the
   * supervisor's own default metrics, each labelled with its worker. */
  async metrics(): Promise<LoopMetrics[]> {
    const serving = this.slots.filter((s) => s.state === "serving");
    const [replies, own] = await Promise.all([
      Promise.all(serving.map(async (slot) => ({ slot, reply: await this.ask(slot, { type: "metrics" }) }))),
      ownProcessMetrics(),
    ]);
    const perLoop = replies.flatMap(({ slot, reply }) =>
      reply?.type === "metrics" ? [reply.metrics, labelledPerProcess(reply.process, String(slot.index))] : [],
    );
    return [...perLoop, labelledPerProcess(own, SUPERVISOR_WORKER)];
  }

  async drain(timeoutMs: number): Promise<boolean> {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    const live = this.slots.filter((s) => s.handle !== undefined);
    const replies = await Promise.all(live.map((s) => this.ask(s, { type: "drain", timeoutMs })));
    for (const slot of live) slot.handle?.stop();
    await Promise.all(
      live.map(async (slot) => {
        const timer = setTimeout(() => slot.handle?.kill(), EXIT_GRACE_MS);
        await slot.exited;
        clearTimeout(timer);
      }),
    );
    // The gateway exits after this: the workers' last lines (a drain's cut requests) go out first.
    await this.spawner.outputDone?.();
    return replies.every((r) => r === undefined || (r.type === "drained" && r.drained));
  }

  workers(): WorkerStatus[] {
    const now = Date.now();
    return this.slots.map((s) => ({
      index: s.index,
      pid: s.handle?.pid ?? 0,
      state: s.state,
      uptimeSeconds: s.handle === undefined ? 0 : Math.round((now - s.startedAt) / 1000),
      restarts: s.restarts,
      ...(s.lastExit === undefined ? {} : { lastExit: s.lastExit }),
    }));
  }
}
