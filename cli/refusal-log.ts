// Refused inputs in the log, each once: a reload logs the objects, files and Secrets the status
// newly refuses (warn, with the reason), and at info the ones it no longer refuses. The folder
// is reloaded on every change, so an unchanged refusal would otherwise repeat with every edit
// of an unrelated file. Reasons are the status messages, which never quote key material.
import type { Logger } from "pino";
import type { LoadError } from "../controller/resources/index.js";
import { problemKey, statusProblems } from "../controller/status/problems.js";
import type { StatusReport } from "../controller/status/report.js";

export class RefusalLog {
  private reported = new Map<string, Record<string, unknown>>();

  constructor(private readonly log: Logger) {}

  /** Call with every reload's status (applied or not). */
  seen(status: StatusReport): void {
    const now = new Map<string, Record<string, unknown>>();
    for (const e of status.loadErrors) now.set(loadErrorKey(e), loadErrorFields(e));
    for (const p of statusProblems(status)) {
      // The first condition with these words stands for the others (ResolvedRefs before Programmed).
      if (now.has(problemKey(p))) continue;
      const { section, condition, reason, message, ...object } = p;
      const where = section === undefined ? {} : p.kind === "Gateway" ? { listener: section } : { parent: section };
      now.set(problemKey(p), { ...object, ...where, condition, conditionReason: reason, reason: message });
    }
    for (const [key, fields] of now)
      if (!this.reported.has(key)) this.log.warn(fields, "configuration object refused");
    for (const [key, fields] of this.reported)
      if (!now.has(key)) this.log.info(fields, "configuration object no longer refused");
    this.reported = now;
  }
}

function loadErrorKey(e: LoadError): string {
  return JSON.stringify(["load", e.file, e.document, e.object, e.message]);
}

function loadErrorFields(e: LoadError): Record<string, unknown> {
  return {
    file: e.file,
    ...(e.document === undefined ? {} : { document: e.document }),
    ...(e.object === undefined ? {} : { object: e.object }),
    reason: e.message,
  };
}
