// Test support for controller/leader: electors in this process or in child processes
// (leader-child.ts) on a real API server, one timeline of what each of them reported, and
// credentials limited by RBAC.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeClient } from "../../controller/provider/kubernetes/client.js";
import pino, { type Logger } from "pino";
import { Registry } from "prom-client";
import { type LeaderTimings, LeaseElector } from "../../controller/leader/elector.js";
import { kubectl, type KubeApiServer } from "../kube/server.js";
import { waitFor } from "../support/net.js";
import type { ElectorChildConfig, ElectorChildEvent } from "./leader-child.js";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * For tests about the election's logic: failover in about 6 s instead of 15. renewDeadline keeps
 * 4 s: on a loaded machine a renewal answering late must not end leadership the test counts on.
 */
export const FAST_TIMINGS: LeaderTimings = { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 1000 };

/** A stopped event, or a process killed by the test (which then leads nothing). */
export type ElectionEvent = ElectorChildEvent | { event: "killed"; identity: string; at: number };

/** A span during which one elector said it led; `to` is undefined while it still leads. */
export interface LeadingPeriod {
  identity: string;
  from: number;
  to: number | undefined;
}

/** Everything every elector of a test reported, in the order it arrived, timed with Date.now(). */
export class ElectionLog {
  readonly events: ElectionEvent[] = [];

  add(event: ElectionEvent): void {
    this.events.push(event);
  }

  periods(): LeadingPeriod[] {
    const open = new Map<string, LeadingPeriod>();
    const done: LeadingPeriod[] = [];
    for (const e of this.events) {
      if (e.event === "started") open.set(e.identity, { identity: e.identity, from: e.at, to: undefined });
      if (e.event === "stopped" || e.event === "killed" || e.event === "exiting") {
        const period = open.get(e.identity);
        if (period === undefined) continue;
        open.delete(e.identity);
        done.push({ ...period, to: e.at });
      }
    }
    return [...done, ...open.values()].sort((a, b) => a.from - b.from);
  }

  /** Who leads now, by their own reports. */
  leaders(): string[] {
    return this.periods()
      .filter((p) => p.to === undefined)
      .map((p) => p.identity);
  }

  last<K extends ElectionEvent["event"]>(event: K, identity?: string): Extract<ElectionEvent, { event: K }> | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i] as ElectionEvent;
      if (e.event === event && (identity === undefined || e.identity === identity)) return e as Extract<ElectionEvent, { event: K }>;
    }
    return undefined;
  }

  async until(what: string, check: (log: this) => boolean, timeoutMs: number): Promise<void> {
    await waitFor(() => check(this), timeoutMs, 20).catch(() => {
      throw new Error(`${what}: not within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`);
    });
  }

  /** Pairs of periods that overlap, by how many ms. */
  overlaps(now = Date.now()): { a: LeadingPeriod; b: LeadingPeriod; ms: number }[] {
    const periods = this.periods();
    const found: { a: LeadingPeriod; b: LeadingPeriod; ms: number }[] = [];
    for (let i = 0; i < periods.length; i++) {
      for (let j = i + 1; j < periods.length; j++) {
        const a = periods[i] as LeadingPeriod;
        const b = periods[j] as LeadingPeriod;
        const ms = Math.min(a.to ?? now, b.to ?? now) - Math.max(a.from, b.from);
        if (ms > 0) found.push({ a, b, ms });
      }
    }
    return found;
  }
}

export function uniqueIdentity(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** The API connection an elector is given: the controller's client on a kubeconfig. */
export function kubeConfigFrom(path: string): KubeClient {
  return new KubeClient({ kubeconfig: path });
}

/** A pino logger whose lines (debug and up) the test can read. */
export function capturedLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

export interface InProcessElector {
  elector: LeaseElector;
  registry: Registry;
  lines: Record<string, unknown>[];
}

/** A started elector in this process reporting to `log`; stopped in teardown. */
export function startElector(
  t: Teardown,
  log: ElectionLog,
  options: { kubeConfig: KubeClient; namespace?: string; name?: string; identity: string; timings?: Partial<LeaderTimings> },
): InProcessElector {
  const registry = new Registry();
  const { logger, lines } = capturedLogger();
  const identity = options.identity;
  const { kubeConfig, ...rest } = options;
  const elector = new LeaseElector({
    ...rest,
    request: (method, path, body, contentType, signal) => kubeConfig.json(method, path, body, contentType, signal),
    ...(kubeConfig.credentials.namespace === undefined ? {} : { contextNamespace: kubeConfig.credentials.namespace }),
    logger,
    registry,
    onStartedLeading: () => log.add({ event: "started", identity, at: Date.now() }),
    onStoppedLeading: (loss) => log.add({ event: "stopped", identity, at: Date.now(), ...loss }),
    onNewLeader: (leader) => log.add({ event: "new-leader", identity, at: Date.now(), leader }),
  });
  t.teardown(() => elector.stop());
  elector.start();
  return { elector, registry, lines };
}

export interface ElectorChild {
  identity: string;
  pid: number;
  /** SIGKILL; recorded in the log as `killed` at the moment it was sent. */
  kill(): Promise<void>;
  /** SIGTERM: the elector stops and releases; resolves when the process has exited. */
  terminate(): Promise<void>;
  running(): boolean;
  stderr(): string;
}

const CHILD_SCRIPT = fileURLToPath(new URL("./leader-child.js", import.meta.url));

/** Starts leader-child.ts; its events go to `log`. Killed in teardown if still running. */
export function startElectorChild(t: Teardown, log: ElectionLog, config: ElectorChildConfig): ElectorChild {
  const child: ChildProcess = spawn(process.execPath, [CHILD_SCRIPT, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let pending = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") log.add(JSON.parse(line) as ElectorChildEvent);
  });
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  t.teardown(async () => {
    if (!exited) {
      child.kill("SIGKILL");
      await gone;
    }
  });
  return {
    identity: config.identity,
    pid: child.pid ?? -1,
    kill: async () => {
      if (exited) return;
      log.add({ event: "killed", identity: config.identity, at: Date.now() });
      child.kill("SIGKILL");
      await gone;
    },
    terminate: async () => {
      if (exited) return;
      child.kill("SIGTERM");
      await gone;
    },
    running: () => !exited,
    stderr: () => stderr,
  };
}

/** The value of one series of a metric in `registry` (0 when the series does not exist). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  const series = values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return series?.value ?? 0;
}

export interface LeaseSpecJson {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** The Lease as kubectl shows it (admin credentials), or undefined when it does not exist. */
export async function readLease(server: KubeApiServer, namespace: string, name: string): Promise<LeaseSpecJson | undefined> {
  const out = await kubectl(server.kubeconfigPath, ["get", "lease", "-n", namespace, name, "-o", "json", "--ignore-not-found"]);
  if (out.trim() === "") return undefined;
  return (JSON.parse(out) as { spec?: LeaseSpecJson }).spec ?? {};
}

/**
 * The least a replica needs to take part: get, create and update on Leases in its namespace
 * (get and update only on its own Lease; create cannot be limited by name). README shows the same.
 */
export function leaderElectionRbac(namespace: string, leaseName: string, serviceAccount: string): string {
  return `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: meshgate-leader-election, namespace: ${namespace} }
rules:
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [create]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    resourceNames: [${leaseName}]
    verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: meshgate-leader-election, namespace: ${namespace} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: meshgate-leader-election }
subjects:
  - { kind: ServiceAccount, name: ${serviceAccount}, namespace: ${namespace} }
`;
}

/**
 * A ServiceAccount in `namespace` and a kubeconfig holding a token for it (TokenRequest API):
 * what a replica in a pod authenticates as. The file is removed in teardown.
 */
export async function serviceAccountKubeconfig(t: Teardown, server: KubeApiServer, namespace: string, account: string): Promise<string> {
  await kubectl(server.kubeconfigPath, ["create", "serviceaccount", "-n", namespace, account]);
  const token = (await kubectl(server.kubeconfigPath, ["create", "token", "-n", namespace, account, "--duration=1h"])).trim();
  const dir = mkdtempSync(join(tmpdir(), "meshgate-sa-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "kubeconfig");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server: server.url, "certificate-authority-data": Buffer.from(server.caPem).toString("base64") } }],
    users: [{ name: account, user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: account, namespace } }],
    "current-context": "test",
  };
  writeFileSync(path, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  return path;
}
