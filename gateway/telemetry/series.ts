// Per-request counters and histograms kept as plain numbers, read by prom-client only on scrape.
// prom-client validates and hashes labels on every inc()/observe(); at tens of thousands of
// requests a second that showed up as ~20% of the proxy's CPU. Here a request pays a few Map
// lookups keyed by the label strings the compiled config already holds (their hashes are cached),
// and the work of building label objects moves to the scrape.
import type { Registry } from "prom-client";

type LabelValues = Record<string, string | number>;
type Key = string | number;

interface ScrapedValue {
  labels: LabelValues;
  value: number;
  metricName?: string;
}

/** What prom-client's registry reads from a metric on scrape and merges across workers. */
interface Scraped {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  values: ScrapedValue[];
}

/** Nested maps, one level per label, so a lookup never builds a key string. */
class SeriesTree<T> {
  private readonly root = new Map<unknown, unknown>();

  constructor(
    /** One to four labels. */
    private readonly depth: number,
    private readonly create: (path: readonly Key[]) => T,
  ) {}

  /** The series for up to four label values; arguments past the tree's depth are ignored. */
  get(a: Key, b?: Key, c?: Key, d?: Key): T {
    const depth = this.depth;
    let node = this.root;
    if (depth > 1) node = this.branch(node, a);
    if (depth > 2) node = this.branch(node, b);
    if (depth > 3) node = this.branch(node, c);
    const key = depth === 1 ? a : depth === 2 ? b : depth === 3 ? c : d;
    const leaf = node.get(key) as T | undefined;
    if (leaf !== undefined) return leaf;
    // Only a new series builds its label list.
    const created = this.create([a, b ?? "", c ?? "", d ?? ""].slice(0, depth));
    node.set(key, created);
    return created;
  }

  private branch(node: Map<unknown, unknown>, key: Key | undefined): Map<unknown, unknown> {
    let next = node.get(key) as Map<unknown, unknown> | undefined;
    if (next === undefined) {
      next = new Map();
      node.set(key, next);
    }
    return next;
  }

  *leaves(node: Map<unknown, unknown> = this.root, level = 0): Generator<T> {
    for (const value of node.values()) {
      if (level === this.depth - 1) yield value as T;
      else yield* this.leaves(value as Map<unknown, unknown>, level + 1);
    }
  }
}

function labelsOf(names: readonly string[], values: readonly Key[]): LabelValues {
  const labels: LabelValues = {};
  for (let i = 0; i < names.length; i++) labels[names[i] as string] = String(values[i]);
  return labels;
}

/** What both kinds share: a name, labels, registration, and series found by label values. */
abstract class FastMetric<S extends { readonly path: readonly Key[] }> {
  readonly aggregator = "sum";
  protected readonly series: SeriesTree<S>;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
    newSeries: (path: readonly Key[]) => S,
  ) {
    if (labelNames.length < 1 || labelNames.length > 4) throw new Error(`${name}: one to four labels`);
    this.series = new SeriesTree(labelNames.length, newSeries);
    registry.registerMetric(this as never);
  }

  protected labels(s: S): LabelValues {
    return labelsOf(this.labelNames, s.path);
  }
}

interface CounterSeries {
  readonly path: readonly Key[];
  value: number;
}

/** A counter whose series are found by label values given in `labelNames` order. */
export class FastCounter extends FastMetric<CounterSeries> {
  readonly type = "counter";

  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, labelNames, registry, (path) => ({ path, value: 0 }));
  }

  /** Adds one to the series of these label values, in `labelNames` order. */
  inc(a: Key, b?: Key, c?: Key, d?: Key): void {
    this.series.get(a, b, c, d).value++;
  }

  /** Adds `n` to the series of these label values. */
  add(n: number, a: Key, b?: Key, c?: Key, d?: Key): void {
    this.series.get(a, b, c, d).value += n;
  }

  async get(): Promise<Scraped> {
    const values: ScrapedValue[] = [];
    for (const s of this.series.leaves()) values.push({ labels: this.labels(s), value: s.value });
    return { name: this.name, help: this.help, type: "counter", values, aggregator: "sum" };
  }
}

interface HistogramSeries {
  readonly path: readonly Key[];
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram with fixed upper bounds, found by label values like FastCounter. */
export class FastHistogram extends FastMetric<HistogramSeries> {
  readonly type = "histogram";

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry, (path) => ({
      path,
      counts: new Float64Array(bounds.length + 1),
      sum: 0,
      count: 0,
    }));
  }

  /** Records `value` in the series of these label values, in `labelNames` order. */
  observe(value: number, a: Key, b?: Key, c?: Key, d?: Key): void {
    const s = this.series.get(a, b, c, d);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
  }

  async get(): Promise<Scraped> {
    const values: ScrapedValue[] = [];
    for (const s of this.series.leaves()) {
      const labels = this.labels(s);
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.bounds.length ? (this.bounds[i] as number) : "+Inf";
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: "sum" };
  }
}
