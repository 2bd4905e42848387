// Resources by kind/namespace/name as one source holds them now. A change is reported only when
// a parsed resource really differs: a status write echoes back as a watch event with a new
// resourceVersion and the same spec, and stops here instead of starting another translation.
import { type Kind, type LoadError, objectName, type Resource } from "./resources/index.js";

interface Entry {
  resource: Resource;
  /** The parsed fields translation reads, as canonical text. */
  fingerprint: string;
}

export class ResourceStore {
  private readonly entries = new Map<string, Entry>();
  private readonly errors = new Map<string, LoadError>();
  /** Counts changes; a reader compares it to see whether anything moved since it last looked. */
  private revisionCount = 0;

  constructor(private readonly changed: () => void = () => undefined) {}

  get revision(): number {
    return this.revisionCount;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Adds or replaces a resource; returns whether translation's view changed. */
  set(resource: Resource): boolean {
    const key = objectName(resource);
    const hadError = this.errors.delete(key);
    const fingerprint = fingerprintOf(resource);
    if (this.entries.get(key)?.fingerprint === fingerprint && !hadError) return false;
    this.entries.set(key, { resource, fingerprint });
    this.bump();
    return true;
  }

  /** An object of the source that could not be read: reported, and its previous resource dropped. */
  fail(key: string, error: LoadError): boolean {
    const before = this.errors.get(key);
    const removed = this.entries.delete(key);
    if (!removed && before?.message === error.message) return false;
    this.errors.set(key, error);
    this.bump();
    return true;
  }

  delete(key: string): boolean {
    const removed = this.entries.delete(key) || this.errors.delete(key);
    if (removed) this.bump();
    return removed;
  }

  get(key: string): Resource | undefined {
    return this.entries.get(key)?.resource;
  }

  /** Keys of one kind: resources and objects that failed. */
  keys(kind: Kind): string[] {
    const prefix = `${kind}/`;
    return [...this.entries.keys(), ...this.errors.keys()].filter((k) => k.startsWith(prefix));
  }

  resources(): Resource[] {
    return [...this.entries.values()].map((e) => e.resource);
  }

  loadErrors(): LoadError[] {
    return [...this.errors.values()];
  }

  private bump(): void {
    this.revisionCount++;
    this.changed();
  }
}

function fingerprintOf(r: Resource): string {
  const { name, namespace, labels, generation, creationTimestamp } = r.metadata;
  return JSON.stringify([r.apiVersion, name, namespace, sortedEntries(labels), generation, creationTimestamp ?? "", r.spec]);
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
