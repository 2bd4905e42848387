// A DataPlane in a process of its own, driven over IPC: a test feeds it hostile input and reads
// what a user would see of it (whether the process is still running, its RSS, its heap after a
// full GC) apart from the clients and backends in the test's process. Start it with
// startDataPlaneChild (data-plane-process.ts).
import { DataPlane } from "../../gateway/data-plane.js";
import { type SnapshotInput, validateSnapshot } from "../../gateway/snapshot.js";

export type ChildRequest =
  | { kind: "apply"; snapshot: SnapshotInput }
  | { kind: "memory" }
  | { kind: "stop" };

export interface Memory {
  rss: number;
  /** Heap in use after a full GC (the child runs with --expose-gc). */
  heapUsed: number;
}

export type ChildReply =
  | { kind: "applied"; portErrors: { port: number; message: string }[] }
  | ({ kind: "memory" } & Memory)
  | { kind: "failed"; message: string };

const plane = new DataPlane();
const reply = (message: ChildReply) => process.send?.(message);
const gc = (globalThis as { gc?: () => void }).gc;

process.on("message", (message: ChildRequest) => {
  if (message.kind === "apply") {
    const result = validateSnapshot(message.snapshot);
    if (!result.ok) return reply({ kind: "failed", message: result.errors.join("; ") });
    plane.apply(result.snapshot).then(
      (applied) => reply({ kind: "applied", portErrors: applied.portErrors }),
      (error: Error) => reply({ kind: "failed", message: error.stack ?? error.message }),
    );
  } else if (message.kind === "memory") {
    gc?.();
    reply({ kind: "memory", rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed });
  } else {
    void plane.drain(200).then(() => process.exit(0));
  }
});
