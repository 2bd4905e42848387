// The file provider: every *.yaml / *.yml directly in one folder, in lexical order.
import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CLUSTER_SCOPED, KNOWN_KINDS, type LoadError, metadataSchema, type Resource } from "../resources.js";

export interface LoadResult {
  resources: Resource[];
  errors: LoadError[];
}

export async function loadFolder(dir: string): Promise<LoadResult> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith(".") && /\.ya?ml$/.test(e.name))
    .map((e) => e.name)
    .sort();
  const resources: Resource[] = [];
  const errors: LoadError[] = [];
  for (const name of names) {
    let text: string;
    try {
      text = await readFile(join(dir, name), "utf8");
    } catch (err) {
      // A file renamed away between listing and reading is simply gone.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      errors.push({ file: name, document: 0, message: (err as Error).message });
      continue;
    }
    parseFile(name, text, resources, errors);
  }
  return { resources, errors };
}

/** Parses one file's documents; exported for tests of the document rules. */
export function parseFile(file: string, text: string, resources: Resource[], errors: LoadError[]): void {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) {
    errors.push({ file, document: 0, message: "not a YAML stream" });
    return;
  }
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      errors.push({ file, document: index, message: `YAML: ${doc.errors[0]?.message ?? "invalid"}` });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const error = toResource(value, file, resources);
    if (error !== undefined) errors.push({ file, document: index, ...error });
  });
}

function toResource(
  value: unknown,
  file: string,
  out: Resource[],
): { object?: string; message: string } | undefined {
  if (typeof value !== "object" || Array.isArray(value) || value === null)
    return { message: "document is not an object" };
  const body = value as Record<string, unknown>;
  const kind = body["kind"];
  const apiVersion = body["apiVersion"];
  if (typeof kind !== "string") return { message: "object has no kind" };
  const groups = KNOWN_KINDS[kind];
  if (groups === undefined) return undefined; // unknown kinds are ignored, as kubectl apply of a foreign CRD would be here
  const group =
    typeof apiVersion === "string" && apiVersion.includes("/")
      ? apiVersion.slice(0, apiVersion.indexOf("/"))
      : "";
  if (!groups.includes(group)) return undefined;
  const meta = metadataSchema.safeParse(body["metadata"]);
  if (!meta.success) {
    return {
      object: kind,
      message: `metadata: ${meta.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
    };
  }
  const namespace = CLUSTER_SCOPED.has(kind) ? "" : (meta.data.namespace ?? "default");
  out.push({
    apiVersion: String(apiVersion),
    kind,
    metadata: { ...meta.data, namespace },
    body,
    source: file,
  });
  return undefined;
}

/**
 * Watches the folder itself (not its files: they are replaced by rename) and calls `onChange`
 * once per burst of events, 100 ms after the last one.
 */
export function watchFolder(dir: string, onChange: () => void): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, 100);
  };
  const watcher: FSWatcher = watch(dir, { persistent: true }, fire);
  watcher.on("error", () => fire());
  return {
    close() {
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    },
  };
}
