// TLS Secrets kept only while a listener references them. The watch sees every TLS Secret go
// by (a cluster may hold tens of thousands: cert-manager's), but only the referenced ones are
// parsed and kept; of the rest only the name is remembered, so that a Gateway that starts to
// reference one can read it at once with a GET instead of waiting for the next change.
import type { RawObject } from "./reflector.js";

export interface ReferencedSecretsHooks {
  fetch(namespace: string, name: string): Promise<RawObject | undefined>;
  /** Parse and keep this Secret. */
  keep(raw: RawObject): void;
  /** Stop keeping this Secret's data. */
  drop(key: string): void;
  failed(key: string, error: Error): void;
  /** A read finished (the provider may now be settled). */
  settled(): void;
}

export class ReferencedSecrets {
  private referenced = new Set<string>();
  /** TLS Secrets that exist but are not kept. */
  private readonly unkept = new Set<string>();
  private readonly kept = new Set<string>();
  /** Reads in flight; a watch event for the same Secret makes the read's answer stale. */
  private readonly reading = new Map<string, number>();
  private readSeq = 0;

  constructor(private readonly hooks: ReferencedSecretsHooks) {}

  get pending(): number {
    return this.reading.size;
  }

  keys(kind: string): string[] {
    return kind === "Secret" ? [...this.kept, ...this.unkept] : [];
  }

  /** A Secret's current version from the watch or a list. */
  seen(key: string, raw: RawObject): void {
    this.reading.delete(key);
    if (this.referenced.has(key)) {
      this.unkept.delete(key);
      this.kept.add(key);
      this.hooks.keep(raw);
    } else {
      this.kept.delete(key);
      this.unkept.add(key);
      this.hooks.drop(key);
    }
  }

  gone(key: string): void {
    this.reading.delete(key);
    this.unkept.delete(key);
    this.kept.delete(key);
  }

  referencesChanged(next: Set<string>): void {
    const before = this.referenced;
    this.referenced = next;
    for (const key of before) {
      if (next.has(key) || !this.kept.has(key)) continue;
      this.kept.delete(key);
      this.unkept.add(key);
      this.hooks.drop(key);
    }
    for (const key of next) {
      if (before.has(key) || !this.unkept.has(key) || this.reading.has(key)) continue;
      this.read(key);
    }
  }

  private read(key: string): void {
    const seq = ++this.readSeq;
    this.reading.set(key, seq);
    const [, namespace = "", name = ""] = key.split("/");
    this.hooks.fetch(namespace, name).then(
      (raw) => {
        if (this.reading.get(key) !== seq) return; // a watch event was newer
        this.reading.delete(key);
        if (raw === undefined) this.unkept.delete(key);
        else if (this.referenced.has(key)) {
          raw["kind"] ??= "Secret";
          raw["apiVersion"] ??= "v1";
          this.unkept.delete(key);
          this.kept.add(key);
          this.hooks.keep(raw);
        }
        this.hooks.settled();
      },
      (err: Error) => {
        if (this.reading.get(key) === seq) this.reading.delete(key);
        this.hooks.failed(key, err);
        this.hooks.settled();
      },
    );
  }
}
