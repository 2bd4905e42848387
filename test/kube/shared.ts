// One control plane per test process (ava runs each test file in its own process), started on
// first use and shared by that file's tests; each test works in namespaces of its own.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { kubectl, type KubeApiServer, startKubeApiServer } from "./server.js";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

let shared: Promise<KubeApiServer> | undefined;
/** Servers already stopped: their PID may belong to another process by now. */
const stopped = new WeakSet<KubeApiServer>();

/** The process's shared server, started lazily; stopped by stopSharedKubeApiServer or at exit. */
export function sharedKubeApiServer(): Promise<KubeApiServer> {
  if (shared === undefined) {
    shared = startKubeApiServer();
    shared.then(
      (server) => {
        // Last resort when the file never calls stopSharedKubeApiServer: 'exit' allows no waiting,
        // so kill at once (the controller manager follows through its parent-death signal).
        process.once("exit", () => {
          if (stopped.has(server)) return;
          try {
            process.kill(server.pid, "SIGKILL");
          } catch {
            // already gone
          }
          rmSync(server.dataDir, { recursive: true, force: true });
        });
      },
      () => undefined,
    );
  }
  return shared;
}

/** For test.after.always: stops the shared server if one was started. */
export async function stopSharedKubeApiServer(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current === undefined) return;
  const server = await current.catch(() => undefined);
  if (server === undefined) return;
  await server.stop();
  stopped.add(server);
}

/**
 * Creates a namespace with a random suffix for one test; the test's teardown deletes it without
 * waiting (the namespace controller finishes that in the background).
 */
export async function testNamespace(t: Teardown, server: KubeApiServer, prefix = "test"): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  await kubectl(server.kubeconfigPath, ["create", "namespace", name]);
  t.teardown(async () => {
    await kubectl(server.kubeconfigPath, ["delete", "namespace", name, "--wait=false", "--ignore-not-found"]).catch(() => undefined);
  });
  return name;
}
