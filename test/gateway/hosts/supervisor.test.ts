// The supervisor's restart policy, driven with real child processes that die as told.
import { spawn } from "node:child_process";
import test from "ava";
import { Registry } from "prom-client";
import { type Spawner, SupervisedHost, type WorkerEvents, type WorkerHandle } from "../../../gateway/hosts/supervisor.js";
import { waitFor } from "../../support/net.js";
import { snapshot } from "../../support/snapshot.js";

/** A worker process that says it started, then runs `script`. */
function scriptedSpawner(script: string, spawned: number[], exited: number[] = []): Spawner {
  return {
    spawn(_index: number, events: WorkerEvents): WorkerHandle {
      spawned.push(Date.now());
      const child = spawn(process.execPath, ["-e", `process.send({ type: "started" }); ${script}`], {
        stdio: ["ignore", "ignore", "inherit", "ipc"],
      });
      child.on("message", (m) => events.message(m as Parameters<WorkerEvents["message"]>[0]));
      child.on("error", () => undefined);
      child.on("exit", (code, signal) => {
        exited.push(Date.now());
        events.exit(signal === null ? `exit code ${code}` : `signal ${signal}`);
      });
      return {
        pid: child.pid ?? 0,
        send: (request) => {
          if (child.connected) child.send(request);
        },
        stop: () => child.kill("SIGTERM"),
        kill: () => child.kill("SIGKILL"),
      };
    },
  };
}

test("a worker that keeps dying young is restarted at once, then with doubling back-off up to the maximum", async (t) => {
  const spawned: number[] = [];
  const exited: number[] = [];
  const registry = new Registry();
  const host = new SupervisedHost(scriptedSpawner("setTimeout(() => process.exit(3), 30);", spawned, exited), {
    workers: 1,
    registry,
    backoff: { healthyUptimeMs: 5_000, firstMs: 100, maxMs: 400 },
  });
  try {
    await waitFor(() => spawned.length >= 7, 20_000);
    // The wait from each death to the next start: 0, 100, 200, 400, 400, ...
    const waits = spawned.slice(1).map((at, i) => at - (exited[i] as number));
    t.log(`waits from a death to the next start (ms): ${waits.join(", ")}`);
    const [w0, w1, w2, w3, w4, w5] = waits as [number, number, number, number, number, number];
    t.true(w0 < 90, "the first restart is at once");
    t.true(w1 >= 95 && w2 >= 195 && w3 >= 395, "then 100, 200, 400 ms");
    t.true(w4 >= 395 && w5 >= 395 && w4 < 1400 && w5 < 1400, "and no longer than the maximum");
    const [status] = host.workers();
    t.true((status?.restarts ?? 0) >= 6);
    t.is(status?.lastExit, "exit code 3");
    const metrics = await registry.metrics();
    t.regex(metrics, /meshgate_worker_restarts_total\{worker="0"\} [6-9]/);
  } finally {
    t.true(await host.drain(1000));
  }
  const after = spawned.length;
  await new Promise((r) => setTimeout(r, 600));
  t.is(spawned.length, after, "nothing is restarted once the host drains");
});

test("an apply to a worker that dies while applying still resolves; the slot is restarted", async (t) => {
  const spawned: number[] = [];
  const host = new SupervisedHost(
    scriptedSpawner(`process.on("message", (m) => { if (m.type === "apply") process.exit(4); });`, spawned),
    { workers: 2, backoff: { healthyUptimeMs: 5_000, firstMs: 2_000, maxMs: 2_000 } },
  );
  try {
    const result = await host.apply(snapshot({ version: 1, ports: [], clusters: [] }));
    t.deepEqual(result.portErrors, []);
    await waitFor(() => spawned.length >= 4, 10_000);
    t.true(host.workers().every((w) => w.restarts >= 1 && w.lastExit === "exit code 4"));
  } finally {
    await host.drain(1000);
  }
});
