// `meshgate validate`: everything loading, translation and Snapshot validation would refuse in a
// folder, all at once, before it is deployed (as `nginx -t`). Exit 0 clean, 1 on any problem.
import { reconcileLoaded } from "../controller/reconcile.js";
import { loadFolder } from "../controller/provider/file.js";
import { objectName } from "../controller/resources/index.js";
import { counts, type Problem, reportProblems } from "../controller/status/problem-list.js";
import { checkConfigFolder, emptyFolderMessage, holdsNoGatewayApi } from "./config-folder.js";

export interface ValidateResult {
  ok: boolean;
  problems: Problem[];
  summary: { objects: number; routes: number; listeners: number };
}

export async function validateFolder(dir: string): Promise<ValidateResult> {
  checkConfigFolder(dir);
  const loaded = await loadFolder(dir);
  const { translation } = reconcileLoaded(loaded, 1, new Map());
  const sources = new Map(loaded.resources.map((r) => [objectName(r), r.source]));
  // Pending is an ACME certificate not issued yet: validate asks no CA, so it is no problem here.
  const problems = reportProblems(translation.status, { sources, ignoreReasons: ["Pending"] });
  if (holdsNoGatewayApi(loaded.resources, loaded.errors))
    problems.push({ kind: "Folder", name: dir, reason: "Empty", message: emptyFolderMessage(dir) });
  return { ok: problems.length === 0, problems, summary: counts(translation.status, loaded.resources.length) };
}

/** One line per problem: where (file, object, field), then the reason and the message. */
export function formatProblem(p: Problem): string {
  const object = `${p.kind} ${p.namespace === undefined ? "" : `${p.namespace}/`}${p.name}`;
  return `${p.file === undefined ? "" : `${p.file}: `}${object}${p.field === undefined ? "" : ` ${p.field}`}: ${p.reason}: ${p.message}`;
}

export function formatValidation(dir: string, result: ValidateResult): string {
  const { objects, routes, listeners } = result.summary;
  const summary = `${plural(objects, "object")}, ${plural(routes, "route")}, ${plural(listeners, "listener")}`;
  if (result.ok) return `${dir}: ok: ${summary}\n`;
  const count = result.problems.length;
  return `${result.problems.map(formatProblem).join("\n")}\n${dir}: ${plural(count, "problem")} (${summary})\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
