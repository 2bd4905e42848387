// meshgate_status_writes_total{kind,result}: what became of each status the writer decided to
// write (or found it could not). A resync of an unchanged cluster adds nothing to it.
import { Counter, type Registry } from "prom-client";

export type WriteResult = "written" | "conflict" | "not_found" | "stale_generation" | "invalid" | "error";

const NAME = "meshgate_status_writes_total";

export function statusWritesCounter(registry: Registry): Counter<"kind" | "result"> {
  // One registry may serve two writers (tests, a restart in process): one metric.
  const existing = registry.getSingleMetric(NAME);
  if (existing !== undefined) return existing as Counter<"kind" | "result">;
  return new Counter({
    name: NAME,
    help:
      "Status writes to Kubernetes objects: written; conflict (409: the object changed, re-read and retried); " +
      "not_found (the object is gone); stale_generation (the object changed since the report, a newer report follows); " +
      "invalid (the API server refused the body); error (retried with back-off)",
    labelNames: ["kind", "result"],
    registers: [registry],
  });
}
