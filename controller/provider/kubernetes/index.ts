// The Kubernetes provider: one reflector per watched kind feeding the same ResourceStore the
// translation reads, plus what the status writer and the Gateway addresses need of the objects
// (their current status and resourceVersion, Services' load-balancer addresses). Objects keep
// only their parsed fields; TLS Secrets keep their data only while a listener references them.
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { type Kind, type LoadError, objectName, parseObject, type Resource } from "../../resources/index.js";
import { ResourceStore } from "../../store.js";
import { type KubeClient, KubeApiError } from "./client.js";
import { objectPath, WATCHED_KINDS, type WatchedKind } from "./kinds.js";
import { type RawObject, Reflector, type ReflectorState, type ReflectorTiming } from "./reflector.js";
import { ReferencedSecrets } from "./secrets.js";
import { type GatewayAddress, addressesOfService, GATEWAY_NAME_LABEL } from "./addresses.js";

export const SOURCE = "kubernetes";

/** What the status writer compares against: the object as the API server last showed it. */
export interface ObservedObject {
  kind: Kind;
  apiVersion: string;
  namespace: string;
  name: string;
  generation: number;
  resourceVersion: string;
  status: unknown;
}

export interface KubernetesProviderOptions {
  client: KubeClient;
  logger: Logger;
  registry: Registry;
  /** Called on every change translation would see (debounce it: a relist calls it per object). */
  changed: () => void;
  /** GatewayClasses with another controllerName are not read (nor their Gateways' Secrets). */
  controllerName: string;
  timing?: ReflectorTiming;
  /** Kinds to watch; default all (tests leave some out). */
  kinds?: readonly WatchedKind[];
}

export interface KindReport {
  kind: Kind;
  phase: ReflectorState["phase"];
  /** Objects listed at the last list. */
  listed?: number;
  status?: number;
  message?: string;
  attempts?: number;
}

export class KubernetesProvider {
  readonly store: ResourceStore;
  private readonly reflectors: Reflector[] = [];
  private readonly states = new Map<Kind, KindReport>();
  /** The trouble last logged per kind: one line per change of trouble, not one per retry. */
  private readonly logged = new Map<Kind, string>();
  /** Kinds whose first list is done, or that the API refuses outright (403, 404): not waited for. */
  private readonly settledKinds = new Set<Kind>();
  private readonly observed = new Map<string, ObservedObject>();
  private readonly serviceAddresses = new Map<string, { gateway: string; addresses: GatewayAddress[] }>();
  private readonly secrets: ReferencedSecrets;
  private readonly kinds: readonly WatchedKind[];
  private readonly log: Logger;
  private readonly failures: Counter<"kind" | "reason">;
  private readonly objects: Gauge<"kind">;

  constructor(private readonly options: KubernetesProviderOptions) {
    this.log = options.logger;
    this.kinds = options.kinds ?? WATCHED_KINDS;
    this.store = new ResourceStore(options.changed);
    this.failures = new Counter({
      name: "meshgate_kube_watch_failures_total",
      help: "Lists and watches of the Kubernetes API that failed, by kind and reason (gone: relisted).",
      labelNames: ["kind", "reason"] as const,
      registers: [options.registry],
    });
    this.objects = new Gauge({
      name: "meshgate_kube_objects",
      help: "Objects of each watched kind the controller holds (TLS Secrets: those listeners reference).",
      labelNames: ["kind"] as const,
      registers: [options.registry],
      collect: () => {
        this.objects.reset();
        for (const k of this.kinds) this.objects.labels(k.kind).set(this.store.keys(k.kind).length);
      },
    });
    const secretKind = this.kinds.find((k) => k.kind === "Secret");
    this.secrets = new ReferencedSecrets({
      fetch: async (namespace, name) => {
        if (secretKind === undefined) return undefined;
        try {
          return (await options.client.json("GET", objectPath(secretKind, namespace, name))) as RawObject;
        } catch (err) {
          if (err instanceof KubeApiError && err.status === 404) return undefined;
          throw err;
        }
      },
      keep: (raw) => this.accept(raw),
      drop: (key) => this.store.delete(key),
      failed: (key, err) => this.log.warn({ secret: key, err: err.message }, "reading a referenced Secret failed"),
      settled: () => options.changed(),
    });
  }

  start(): void {
    for (const kind of this.kinds) {
      this.states.set(kind.kind, { kind: kind.kind, phase: "listing" });
      this.reflectors.push(
        new Reflector(
          this.options.client,
          kind,
          {
            replace: (objects) => this.replace(kind, objects),
            upsert: (object) => this.upsert(kind, object),
            remove: (object) => this.remove(kind, object),
          },
          {
            state: (k, state) => this.noteState(k, state),
            failure: (k, error, relist) => this.noteFailure(k, error, relist),
            listed: (k, items) => {
              if (this.logged.delete(k.kind)) this.log.info({ kind: k.kind, items }, "watching this kind again");
              const report = this.states.get(k.kind);
              if (report !== undefined) report.listed = items;
              this.settle(k.kind);
            },
          },
          this.options.timing,
        ),
      );
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  /** Every kind listed once (or refused), and no referenced Secret still being read. */
  settled(): boolean {
    return this.settledKinds.size === this.kinds.length && this.secrets.pending === 0;
  }

  /** Per kind: listing, watching, or failing with the API's status and message. */
  report(): KindReport[] {
    return [...this.states.values()];
  }

  /** The object as last seen, for status writes; undefined when the cache does not have it. */
  current(kind: Kind, namespace: string, name: string): ObservedObject | undefined {
    return this.observed.get(objectName({ kind, metadata: { namespace, name } }));
  }

  /** Load-balancer addresses of the Services labelled for a Gateway, sorted, without duplicates. */
  gatewayAddresses(namespace: string, gateway: string): GatewayAddress[] {
    const seen = new Map<string, GatewayAddress>();
    for (const [key, entry] of this.serviceAddresses) {
      if (entry.gateway !== gateway || !key.startsWith(`Service/${namespace}/`)) continue;
      for (const a of entry.addresses) seen.set(`${a.type}/${a.value}`, a);
    }
    return [...seen.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  }

  /** Is any Service labelled for this Gateway (its addresses may still be pending)? */
  hasGatewayService(namespace: string, gateway: string): boolean {
    for (const [key, entry] of this.serviceAddresses) if (entry.gateway === gateway && key.startsWith(`Service/${namespace}/`)) return true;
    return false;
  }

  /** The controller names whose GatewayClasses this provider reads. */
  get controllerName(): string {
    return this.options.controllerName;
  }

  private settle(kind: Kind): void {
    if (this.settledKinds.has(kind)) return;
    this.settledKinds.add(kind);
    if (this.settled()) this.options.changed();
  }

  private noteState(kind: WatchedKind, state: ReflectorState): void {
    const report: KindReport = { ...this.states.get(kind.kind), kind: kind.kind, phase: state.phase };
    if (state.phase === "failing") {
      report.status = state.status;
      report.message = state.message;
      report.attempts = state.attempts;
      // Refused outright (RBAC, or a CRD not installed): reported, and the rest goes on without it.
      if (state.status === 403 || state.status === 404) this.settle(kind.kind);
    } else {
      delete report.status;
      delete report.message;
      delete report.attempts;
    }
    this.states.set(kind.kind, report);
  }

  private noteFailure(kind: WatchedKind, error: Error, relist: boolean): void {
    const reason = relist
      ? "gone"
      : error instanceof KubeApiError
        ? error.status === 403
          ? "forbidden"
          : error.status === 404
            ? "not-found"
            : `http-${error.status}`
        : "connection";
    this.failures.labels(kind.kind, reason).inc();
    if (relist) this.log.info({ kind: kind.kind }, "watch fell behind (410 Gone); relisting");
    else if (this.logged.get(kind.kind) !== `${reason} ${error.message}`) {
      this.logged.set(kind.kind, `${reason} ${error.message}`);
      this.log.warn({ kind: kind.kind, reason, err: error.message }, "cannot watch this kind; retrying with back-off");
    }
  }

  private replace(kind: WatchedKind, objects: RawObject[]): void {
    const present = new Set<string>();
    for (const object of objects) {
      const key = keyOf(kind.kind, object);
      if (key === undefined) continue;
      present.add(key);
      this.upsert(kind, object);
    }
    for (const key of [...this.store.keys(kind.kind), ...this.keysObserved(kind.kind), ...this.secrets.keys(kind.kind)]) {
      if (!present.has(key)) this.forget(kind.kind, key);
    }
  }

  private keysObserved(kind: Kind): string[] {
    return [...this.observed.keys()].filter((k) => k.startsWith(`${kind}/`));
  }

  private upsert(kind: WatchedKind, object: RawObject): void {
    const key = keyOf(kind.kind, object);
    if (key === undefined) return;
    if (kind.hasStatus) this.observe(kind, key, object);
    if (kind.kind === "Service") this.noteService(key, object);
    if (kind.kind === "Secret") {
      this.secrets.seen(key, object);
      return;
    }
    if (kind.kind === "GatewayClass" && object["spec"] !== undefined) {
      const controller = (object["spec"] as { controllerName?: unknown }).controllerName;
      if (controller !== this.options.controllerName) {
        // Another controller's class: not ours to read, status included.
        this.forget(kind.kind, key);
        return;
      }
    }
    this.accept(object);
    if (kind.kind === "Gateway" || kind.kind === "GatewayClass") this.secrets.referencesChanged(this.references());
  }

  private remove(kind: WatchedKind, object: RawObject): void {
    const key = keyOf(kind.kind, object);
    if (key !== undefined) this.forget(kind.kind, key);
  }

  private forget(kind: Kind, key: string): void {
    this.observed.delete(key);
    if (kind === "Service") this.noteService(key, undefined);
    if (kind === "Secret") this.secrets.gone(key);
    this.store.delete(key);
    if (kind === "Gateway" || kind === "GatewayClass") this.secrets.referencesChanged(this.references());
  }

  /** Parses an object into the store (or records why it cannot be read). */
  private accept(object: RawObject): void {
    const outcome = parseObject(object, SOURCE);
    if (outcome.type === "ignored") return;
    if (outcome.type === "resource") {
      this.store.set(outcome.resource);
      return;
    }
    const key = outcome.object ?? String(object["kind"]);
    const error: LoadError = { file: SOURCE, object: key, message: outcome.message };
    if (outcome.issues !== undefined) error.issues = outcome.issues;
    if (this.store.fail(key, error)) this.log.warn({ object: key, reason: outcome.message }, "object cannot be read");
  }

  private observe(kind: WatchedKind, key: string, object: RawObject): void {
    const meta = object.metadata ?? {};
    const [namespace, name] = splitKey(kind.kind, key);
    this.observed.set(key, {
      kind: kind.kind,
      apiVersion: typeof object["apiVersion"] === "string" ? object["apiVersion"] : kind.apiVersion,
      namespace,
      name,
      generation: typeof meta["generation"] === "number" ? meta["generation"] : 0,
      resourceVersion: typeof meta["resourceVersion"] === "string" ? meta["resourceVersion"] : "",
      status: object["status"],
    });
  }

  private noteService(key: string, object: RawObject | undefined): void {
    const labels = object?.metadata?.["labels"] as Record<string, unknown> | undefined;
    const gateway = labels?.[GATEWAY_NAME_LABEL];
    const before = this.serviceAddresses.get(key);
    const next = typeof gateway === "string" && object !== undefined ? { gateway, addresses: addressesOfService(object) } : undefined;
    if (JSON.stringify(before) === JSON.stringify(next)) return;
    if (next === undefined) this.serviceAddresses.delete(key);
    else this.serviceAddresses.set(key, next);
    this.options.changed();
  }

  /** Secrets referenced by the listeners of Gateways of meshgate's classes, as namespace/name. */
  private references(): Set<string> {
    const ours = new Set(
      this.store
        .keys("GatewayClass")
        .map((k) => this.store.get(k))
        .filter((r): r is Resource & { kind: "GatewayClass" } => r?.kind === "GatewayClass")
        .map((c) => c.metadata.name),
    );
    const refs = new Set<string>();
    for (const key of this.store.keys("Gateway")) {
      const gateway = this.store.get(key);
      if (gateway?.kind !== "Gateway" || !ours.has(gateway.spec.gatewayClassName)) continue;
      for (const listener of gateway.spec.listeners)
        for (const ref of listener.tls?.certificateRefs ?? []) {
          if (ref.group !== "" || ref.kind !== "Secret") continue;
          refs.add(`Secret/${ref.namespace ?? gateway.metadata.namespace}/${ref.name}`);
        }
    }
    return refs;
  }
}

function keyOf(kind: Kind, object: RawObject): string | undefined {
  const meta = object.metadata;
  const name = meta?.["name"];
  if (typeof name !== "string") return undefined;
  const namespace = typeof meta?.["namespace"] === "string" ? meta["namespace"] : "";
  return objectName({ kind, metadata: { namespace, name } });
}

function splitKey(kind: Kind, key: string): [string, string] {
  const rest = key.slice(kind.length + 1);
  const slash = rest.indexOf("/");
  return slash < 0 ? ["", rest] : [rest.slice(0, slash), rest.slice(slash + 1)];
}
