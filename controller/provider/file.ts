// The file provider: every *.yaml / *.yml directly in one folder, in lexical order, each file a
// stream of Kubernetes-style documents. One bad document is reported and skipped; the rest load.
import { type FSWatcher, statSync, watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Composer, Parser, parseAllDocuments } from "yaml";
import { type LoadError, objectName, parseObject, type Resource } from "../resources/index.js";

export type { LoadError } from "../resources/index.js";

export interface LoadResult {
  resources: Resource[];
  errors: LoadError[];
}

const CONFIG_FILE = /\.ya?ml$/;

/** Rejects only when the folder itself cannot be listed. */
export async function loadFolder(dir: string): Promise<LoadResult> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => !e.name.startsWith(".") && CONFIG_FILE.test(e.name) && (e.isFile() || e.isSymbolicLink()))
    .map((e) => e.name)
    .sort();
  const result: LoadResult = { resources: [], errors: [] };
  const seen = new Map<string, string>();
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      // Symlinks are followed (a Kubernetes ConfigMap volume is made of them); a dangling one
      // or one to a folder is not a config file.
      if (!(await stat(path)).isFile()) continue;
      text = await readFile(path, "utf8");
    } catch (err) {
      // A file renamed away between listing and reading is simply gone.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      result.errors.push({ file: name, message: (err as Error).message });
      continue;
    }
    parseFile(name, text, result, seen);
  }
  return result;
}

/** Parses one file's documents into `into`; `seen` maps object names to the file that defined them. */
export function parseFile(
  file: string,
  text: string,
  into: LoadResult,
  seen = new Map<string, string>(),
): void {
  const values = plainDocuments(text);
  if (values === undefined) {
    parseWhole(file, text, into, seen);
    return;
  }
  values.forEach((value, document) => accept(file, document, value, into, seen));
}

/**
 * Each document's value, read one document at a time: a document's syntax tree is dropped as
 * soon as its value is taken, so a big file never holds all of them (5,000 HTTPRoutes: a peak
 * of ~30 MB of heap instead of ~90, and faster). undefined when any document has an error:
 * parseWhole then reports exactly what it always did.
 */
function plainDocuments(text: string): unknown[] | undefined {
  const values: unknown[] = [];
  try {
    const composer = new Composer();
    for (const doc of composer.compose(new Parser().parse(text))) {
      if (doc.errors.length > 0) return undefined;
      values.push(doc.toJS({ maxAliasCount: MAX_ALIASES }));
    }
    if (composer.streamInfo().errors.length > 0) return undefined;
  } catch {
    return undefined;
  }
  return values;
}

/**
 * All documents at once, with their errors placed and worded by the yaml library: what parseFile
 * does for a file with an error, and its reference for one without.
 */
export function parseWhole(file: string, text: string, into: LoadResult, seen = new Map<string, string>()): void {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || (docs.length === 0 && "errors" in docs && docs.errors.length > 0)) {
    const first = "errors" in docs ? docs.errors[0]?.message : undefined;
    into.errors.push({ file, message: `YAML: ${first === undefined ? "not a YAML stream" : withoutSource(first)}` });
    return;
  }
  docs.forEach((doc, document) => {
    if (doc.errors.length > 0) {
      const first = doc.errors[0]?.message;
      into.errors.push({ file, document, message: `YAML: ${first === undefined ? "invalid" : withoutSource(first)}` });
      return;
    }
    accept(file, document, doc.toJS({ maxAliasCount: MAX_ALIASES }), into, seen);
  });
}

const MAX_ALIASES = 100;

/**
 * The yaml library's message without the source excerpt it appends: in a Secret's file that line
 * is key material, and these messages reach the log and the status. Line and column stay.
 */
function withoutSource(message: string): string {
  const end = message.indexOf("\n");
  return (end < 0 ? message : message.slice(0, end)).replace(/:$/, "");
}

function accept(file: string, document: number, value: unknown, into: LoadResult, seen: Map<string, string>): void {
  if (value === null || value === undefined) return; // an empty document, or "---" alone
  const outcome = parseObject(value, file);
  if (outcome.type === "ignored") return;
  if (outcome.type === "error") {
    into.errors.push({
      file,
      document,
      ...(outcome.object !== undefined && { object: outcome.object }),
      message: outcome.message,
      ...(outcome.issues !== undefined && { issues: outcome.issues }),
    });
    return;
  }
  const name = objectName(outcome.resource);
  const first = seen.get(name);
  if (first !== undefined) {
    into.errors.push({ file, document, object: name, message: `already defined in ${first}; ignored` });
    return;
  }
  seen.set(name, file);
  into.resources.push(outcome.resource);
}

const DEBOUNCE_MS = 100;
const REWATCH_MS = 250;

/**
 * Calls `onChange` once per burst of changes in the folder, DEBOUNCE_MS after the last event.
 * The folder is watched, not its files: files are replaced by rename, written in place, added
 * and removed. If the folder itself goes away the watch is re-armed until it is back.
 */
export function watchFolder(dir: string, onChange: () => void): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let inode = -1;
  let closed = false;

  const changed = () => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      // A folder deleted or swapped for another one leaves the watch on an orphaned inode.
      stat(dir).then((s) => {
        if (s.ino !== inode) lost();
      }, lost);
      onChange();
    }, DEBOUNCE_MS);
  };
  const arm = (afterLoss: boolean) => {
    retry = undefined;
    if (closed) return;
    try {
      inode = statSync(dir).ino;
      watcher = watch(dir, { persistent: true }, changed);
      watcher.on("error", lost);
      // Whatever happened while nothing watched has to be read again.
      if (afterLoss) changed();
    } catch {
      retry = setTimeout(() => arm(true), REWATCH_MS);
    }
  };
  const lost = () => {
    watcher?.close();
    watcher = undefined;
    if (!closed && retry === undefined) retry = setTimeout(() => arm(true), REWATCH_MS);
  };

  arm(false);
  return {
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      if (retry !== undefined) clearTimeout(retry);
      watcher?.close();
    },
  };
}
