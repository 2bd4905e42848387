#!/usr/bin/env node
// meshgate command line: `standalone` serves a folder of Gateway API YAML; `status` prints the
// conditions the controller computes for it.
import "./cli/v8-flags.js";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { type RedisFlags, RedisFlagError, redisTargetFrom } from "./cli/redis-flags.js";
import { Standalone } from "./cli/standalone.js";
import { JumpingClock } from "./controller/acme-test-clock.js";
import { Reconciler } from "./controller/reconcile.js";
import { formatStatusTable } from "./controller/status/report.js";
import { startDemoBackend } from "./examples/demo-backend.js";
import { WORKER_MODES, type WorkerMode } from "./gateway/hosts/index.js";
import type { RedisTarget } from "./gateway/ratelimit/redis-client.js";
import { MAX_TIMER_MS } from "./gateway/snapshot.js";
import { LINE_OPTIONS, stdoutLines } from "./gateway/telemetry/log-lines.js";

const USAGE = `usage:
  meshgate standalone --config DIR [--workers N] [--worker-mode processes|threads|local]
                      [--admin-port 9901] [--admin-address 127.0.0.1]
                      [--access-log stdout|off|FILE] [--drain-timeout SECONDS] [--demo-backend]
                      [--instances N]  (Global rate limits, shared through one Redis given as one of:)
                      [--redis redis://HOST:6379]  (or MESHGATE_REDIS_URL)
                      [--redis-sentinels HOST:PORT,... --redis-sentinel-name NAME]
                          (or MESHGATE_REDIS_SENTINELS, MESHGATE_REDIS_SENTINEL_NAME)
                      [--redis-cluster HOST:PORT,...]  (or MESHGATE_REDIS_CLUSTER)
                      [--redis-tls] [--redis-ca CA.pem]  (or MESHGATE_REDIS_TLS=true, MESHGATE_REDIS_CA;
                          a standalone Redis takes TLS from a rediss:// URL)
                      [--redis-timeout MS]  (or MESHGATE_REDIS_TIMEOUT_MS; default 250)
                      (Sentinel and Cluster credentials: MESHGATE_REDIS_USERNAME, MESHGATE_REDIS_PASSWORD)
                      [--state-dir STATE]  (ACME keys and certificates; default DIR/.meshgate-state)
  meshgate status --config DIR [--json]
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: "string" },
      workers: { type: "string" },
      "worker-mode": { type: "string" },
      "admin-port": { type: "string", default: "9901" },
      "admin-address": { type: "string", default: "127.0.0.1" },
      "access-log": { type: "string", default: "stdout" },
      "drain-timeout": { type: "string", default: "30" },
      "demo-backend": { type: "boolean", default: false },
      "state-dir": { type: "string" },
      redis: { type: "string" },
      "redis-sentinels": { type: "string" },
      "redis-sentinel-name": { type: "string" },
      "redis-cluster": { type: "string" },
      "redis-tls": { type: "boolean" },
      "redis-ca": { type: "string" },
      "redis-timeout": { type: "string" },
      instances: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const configDir = values.config;
  if (configDir === undefined) throw new UsageError("--config DIR is required");

  if (command === "status") {
    const { translation, validation } = await new Reconciler(configDir).load();
    const report = validation.ok ? translation.status : { ...translation.status, refused: validation.errors };
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + "\n" : formatStatusTable(report));
    return 0;
  }
  if (command !== "standalone") throw new UsageError(`unknown command ${command}`);

  // MESHGATE_LOG_LEVEL stands in for --log-level (cli/commands.ts) until that lands.
  const logger = pino({ ...LINE_OPTIONS, level: process.env["MESHGATE_LOG_LEVEL"] ?? "info", base: { component: "meshgate" } }, stdoutLines());
  const workers = positiveInt(values.workers ?? String(availableParallelism()), "--workers");
  if (workers < 1) throw new UsageError("--workers must be at least 1");
  const workerMode = values["worker-mode"] as WorkerMode | undefined;
  if (workerMode !== undefined && !WORKER_MODES.includes(workerMode))
    throw new UsageError(`--worker-mode must be one of ${WORKER_MODES.join(", ")}`);
  if (workerMode === "local" && workers > 1) throw new UsageError("--worker-mode local runs one worker: --workers 1");
  if (values["demo-backend"]) {
    await startDemoBackend(9080);
    logger.info({ address: "127.0.0.1:9080" }, "demo backend listening");
  }
  // TEST ONLY, for test/e2e/acme.test.ts: SIGUSR2 moves the ACME managers' clock to the soonest
  // renewal, so a renewal due in years happens now, without a restart. Not a user feature.
  const testClock = process.env["MESHGATE_TEST_ACME_RENEW_ON_SIGUSR2"] === "1" ? new JumpingClock() : undefined;
  const redis = redisTarget(values);
  const instances = positiveInt(values.instances, "--instances");
  if (instances < 1) throw new UsageError("--instances must be at least 1");
  const gateway = new Standalone({
    configDir,
    workers,
    ...(workerMode === undefined ? {} : { workerMode }),
    adminAddress: values["admin-address"],
    adminPort: positiveInt(values["admin-port"], "--admin-port"),
    accessLog: values["access-log"],
    ...(redis === undefined ? {} : { redis }),
    instances,
    drainTimeoutMs: drainTimeoutMs(values["drain-timeout"]),
    logger,
    // A dot-folder: the file provider does not read it as configuration.
    stateDir: values["state-dir"] ?? join(configDir, ".meshgate-state"),
    ...(testClock === undefined ? {} : { acmeClock: testClock }),
  });
  if (testClock !== undefined) {
    process.on("SIGUSR2", () => {
      const due = gateway.acme.soonestRenewal();
      if (due !== undefined) testClock.jumpTo(due + 1000);
    });
  }
  await gateway.start();
  logger.info({ config: configDir, workers }, "meshgate standalone started");
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  logger.info("draining");
  const drained = await gateway.stop();
  logger.info({ drained }, "stopped");
  logger.flush();
  return 0;
}

class UsageError extends Error {}

function redisTarget(flags: RedisFlags): RedisTarget | undefined {
  try {
    return redisTargetFrom(flags, process.env);
  } catch (error) {
    throw error instanceof RedisFlagError ? new UsageError(error.message) : error;
  }
}

/** Seconds, within what a Node timer holds (a longer one would be clamped and end the drain at once). */
function drainTimeoutMs(value: string): number {
  const ms = positiveInt(value, "--drain-timeout") * 1000;
  if (ms > MAX_TIMER_MS)
    throw new UsageError(`--drain-timeout must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds, got ${value}`);
  return ms;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} must be a non-negative integer, got ${value}`);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`meshgate: ${err.message}\n${err instanceof UsageError ? USAGE : ""}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
