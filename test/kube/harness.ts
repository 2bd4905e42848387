// A `meshgate controller` in the test process, and plain HTTP requests to what it serves.
import { request } from "node:http";
import pino from "pino";
import { Controller, type ControllerOptions } from "../../cli/controller.js";
import { freePort } from "../support/net.js";

/**
 * Each test's controller should have a controllerName of its own, so that tests sharing the
 * server never serve each other's Gateways. Local worker mode: traffic on this event loop.
 */
export async function startController(
  kubeconfig: string,
  controllerName: string,
  options: Partial<ControllerOptions> = {},
): Promise<Controller> {
  const controller = new Controller({
    kubeconfig,
    controllerName,
    serve: true,
    workers: 1,
    workerMode: "local",
    adminAddress: "127.0.0.1",
    adminPort: await freePort(),
    accessLog: "off",
    drainTimeoutMs: 1000,
    logger: pino({ level: "error" }),
    timing: { backoffMs: 100, maxBackoffMs: 1000 },
    // A Lease per controller name: tests sharing a server never compete for one.
    leaderElection: { enabled: true, namespace: "default", name: controllerName.replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "") },
    ...options,
  });
  await controller.start();
  return controller;
}

/** One request with a Host header (fetch cannot set one); status 0 when nothing answers. */
export function httpGet(port: number, host: string, path = "/"): Promise<{ status: number; backend: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, headers: { host }, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers["x-backend"] ?? "") }));
      res.on("error", () => resolve({ status: 0, backend: "" }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, backend: "" }));
    req.end();
  });
}

/** A counter's value from the controller's own registry (summed over labels matching `labels`). */
export async function counterValue(controller: Controller, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = controller.registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
