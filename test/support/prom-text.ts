// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it throws
// on anything a scraper could misread, where Prometheus itself would fail the scrape or keep
// the wrong series. Checked: line syntax and escapes, one HELP and one TYPE per family, TYPE
// before the family's samples, each family's lines in one block, sample names that belong to
// their family (_bucket/_sum/_count for histograms), `le` on every bucket, no series twice.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<string>(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

/** Families by name, in exposition order; throws with the line number on the first fault. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seriesSeen = new Set<string>();
  let current: Family | undefined;
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition does not end with a newline");
  lines.pop();

  const familyFor = (name: string, at: number): Family => {
    if (current?.name === name) return current;
    if (families.has(name)) throw new Error(`line ${at}: family ${name} is split into several blocks`);
    current = { name, type: "untyped", help: undefined, samples: [] };
    families.set(name, current);
    return current;
  };

  lines.forEach((line, i) => {
    const at = i + 1;
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // a plain comment
      const [, keyword, name = "", rest = ""] = m;
      if (!NAME.test(name)) throw new Error(`line ${at}: bad metric name ${JSON.stringify(name)}`);
      const family = familyFor(name, at);
      if (keyword === "HELP") {
        if (family.help !== undefined) throw new Error(`line ${at}: second HELP for ${name}`);
        unescape(rest, false, at);
        family.help = rest;
      } else {
        if (!TYPES.has(rest)) throw new Error(`line ${at}: unknown type ${JSON.stringify(rest)}`);
        if (family.samples.length > 0 || family.type !== "untyped") throw new Error(`line ${at}: TYPE for ${name} after its samples or twice`);
        family.type = rest as MetricType;
      }
      return;
    }
    const sample = parseSample(line, at);
    const family = current !== undefined && belongsTo(sample.name, current) ? current : familyFor(sample.name, at);
    if (!belongsTo(sample.name, family)) throw new Error(`line ${at}: ${sample.name} is not a sample of the ${family.type} ${family.name}`);
    if (family.type === "histogram" && sample.name.endsWith("_bucket") && sample.labels["le"] === undefined)
      throw new Error(`line ${at}: a histogram bucket without le`);
    const key = seriesKey(sample);
    if (seriesSeen.has(key)) throw new Error(`line ${at}: series ${key} appears twice`);
    seriesSeen.add(key);
    family.samples.push(sample);
  });
  return families;
}

function belongsTo(sampleName: string, family: Family): boolean {
  return SUFFIXES[family.type].some((suffix) => sampleName === family.name + suffix);
}

/** The series' identity: its name and its labels in name order. */
export function seriesKey(sample: Pick<Sample, "name" | "labels">): string {
  const labels = Object.entries(sample.labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${sample.name}{${labels.join(",")}}`;
}

function parseSample(line: string, at: number): Sample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) throw new Error(`line ${at}: not a sample: ${line}`);
  const name = line.slice(0, nameEnd);
  if (!NAME.test(name)) throw new Error(`line ${at}: bad metric name ${JSON.stringify(name)}`);
  const labels: Record<string, string> = {};
  let pos = nameEnd;
  if (line[pos] === "{") {
    pos++;
    while (line[pos] !== "}") {
      const eq = line.indexOf("=", pos);
      if (eq < 0) throw new Error(`line ${at}: unterminated labels`);
      const labelName = line.slice(pos, eq);
      if (!LABEL_NAME.test(labelName)) throw new Error(`line ${at}: bad label name ${JSON.stringify(labelName)}`);
      if (labels[labelName] !== undefined) throw new Error(`line ${at}: label ${labelName} twice`);
      if (line[eq + 1] !== '"') throw new Error(`line ${at}: label value not quoted`);
      let end = eq + 2;
      while (end < line.length && line[end] !== '"') end += line[end] === "\\" ? 2 : 1;
      if (end >= line.length) throw new Error(`line ${at}: unterminated label value`);
      labels[labelName] = unescape(line.slice(eq + 2, end), true, at);
      pos = end + 1;
      if (line[pos] === ",") pos++;
      else if (line[pos] !== "}") throw new Error(`line ${at}: expected , or } after a label`);
    }
    pos++;
  }
  const rest = line.slice(pos);
  const m = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (m === null) throw new Error(`line ${at}: bad value part ${JSON.stringify(rest)}`);
  const raw = m[1] ?? "";
  // NaN in any case: Prometheus reads values with Go's strconv.ParseFloat, which does, and
  // prom-client writes "Nan" (an event-loop histogram with no sample yet has no mean).
  if (!/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|[nN][aA][nN])$/.test(raw)) throw new Error(`line ${at}: bad value ${raw}`);
  const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : /^nan$/i.test(raw) ? NaN : Number(raw);
  return { name, labels, value };
}

/** Label values may escape \\, \" and \n; HELP text \\ and \n. Anything else is refused. */
function unescape(text: string, quoted: boolean, at: number): string {
  return text.replace(/\\(.?)/g, (_all, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && quoted) return '"';
    throw new Error(`line ${at}: bad escape \\${c}`);
  });
}
