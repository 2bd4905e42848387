#!/usr/bin/env node
// meshgate command line: `standalone` serves a folder of Gateway API YAML, `status` and
// `validate` check one, `version` says which meshgate this is. Commands and flags are defined
// once, in cli/commands.ts; help and README's synopsis are generated from there.
import "./cli/v8-flags.js";
import { availableParallelism } from "node:os";
import pino from "pino";
import type { CommandDef } from "./cli/commands.js";
import { ConfigFolderError, checkConfigFolder } from "./cli/config-folder.js";
import { type FlagValues, parseCommandLine, UsageError } from "./cli/parse.js";
import { type RedisFlags, RedisFlagError, redisTargetFrom } from "./cli/redis-flags.js";
import { Controller } from "./cli/controller.js";
import { Standalone } from "./cli/standalone.js";
import { currentContext, defaultStateDir, prepareStateDir, StateDirError } from "./cli/state-dir.js";
import { statusCommand } from "./cli/status-command.js";
import { commandHelp, overviewHelp } from "./cli/usage.js";
import { formatValidation, validateFolder } from "./cli/validate.js";
import { buildInfo, versionLine } from "./cli/version.js";
import { JumpingClock } from "./controller/acme-test-clock.js";
import { startDemoBackend } from "./examples/demo-backend.js";
import type { WorkerMode } from "./gateway/hosts/index.js";
import type { RedisTarget } from "./gateway/ratelimit/redis-client.js";
import { MAX_TIMER_MS } from "./gateway/snapshot.js";
import { LINE_OPTIONS, stdoutLines } from "./gateway/telemetry/log-lines.js";

const out = (text: string) => process.stdout.write(text);
const err = (text: string) => process.stderr.write(text);

async function main(argv: string[]): Promise<number> {
  const invocation = parseCommandLine(argv, process.env);
  if (invocation.kind === "help") {
    out(invocation.command === undefined ? overviewHelp() : commandHelp(invocation.command));
    return 0;
  }
  if (invocation.kind === "version") {
    out(`${versionLine()}\n`);
    return 0;
  }
  const { command, values } = invocation;
  if (command.name === "controller") return controller(command, values);
  if (command.name === "crds") {
    // Loaded here only: the other commands do not pay for the schema generator at start-up.
    const { policyCrdsYaml } = await import("./controller/crds/definitions.js");
    // About 60 KB: waited for, as process.exit would cut a pipe that is asynchronous (macOS).
    await new Promise<void>((resolve) => process.stdout.write(policyCrdsYaml(buildInfo().version), () => resolve()));
    return 0;
  }
  const configDir = text(values, "config");
  checkConfigFolder(configDir);
  switch (command.name) {
    case "validate": {
      const result = await validateFolder(configDir);
      out(values["json"] === true ? JSON.stringify(result, null, 2) + "\n" : formatValidation(configDir, result));
      return result.ok ? 0 : 1;
    }
    case "status":
      return statusCommand({
        configDir,
        json: values["json"] === true,
        admin: optionalText(values, "admin"),
        live: values["no-live"] !== true,
        out,
        err,
      });
    case "standalone":
      return standalone(command, values, configDir);
    default:
      throw new UsageError(`unknown command ${command.name}`);
  }
}

async function standalone(command: CommandDef, values: FlagValues, configDir: string): Promise<number> {
  const usage = (message: string) => new UsageError(message, command);
  const workers = positiveInt(optionalText(values, "workers") ?? String(availableParallelism()), "--workers", command);
  if (workers < 1) throw usage("--workers must be at least 1");
  const workerMode = optionalText(values, "worker-mode") as WorkerMode | undefined;
  if (workerMode === "local" && workers > 1) throw usage("--worker-mode local runs one worker: --workers 1");
  const redis = redisTarget(values as RedisFlags, command);
  const instances = positiveInt(text(values, "instances"), "--instances", command);
  if (instances < 1) throw usage("--instances must be at least 1");
  const drainTimeout = drainTimeoutMs(text(values, "drain-timeout"), command);
  const adminPort = positiveInt(text(values, "admin-port"), "--admin-port", command);
  const stateDir = optionalText(values, "state-dir") ?? defaultStateDir(currentContext());
  let stateWarning: string | undefined;
  try {
    stateWarning = prepareStateDir(stateDir, configDir).warning;
  } catch (error) {
    throw error instanceof StateDirError ? usage(error.message) : error;
  }

  const logger = pino({ ...LINE_OPTIONS, level: text(values, "log-level"), base: { component: "meshgate" } }, stdoutLines());
  if (stateWarning !== undefined) logger.warn({ stateDir }, stateWarning);
  if (values["demo-backend"] === true) {
    await startDemoBackend(9080);
    logger.info({ address: "127.0.0.1:9080" }, "demo backend listening");
  }
  // TEST ONLY, for test/e2e/acme.test.ts: SIGUSR2 moves the ACME managers' clock to the soonest
  // renewal, so a renewal due in years happens now, without a restart. Not a user feature.
  const testClock = process.env["MESHGATE_TEST_ACME_RENEW_ON_SIGUSR2"] === "1" ? new JumpingClock() : undefined;
  const gateway = new Standalone({
    configDir,
    workers,
    ...(workerMode === undefined ? {} : { workerMode }),
    adminAddress: text(values, "admin-address"),
    adminPort,
    accessLog: text(values, "access-log"),
    ...(redis === undefined ? {} : { redis }),
    instances,
    drainTimeoutMs: drainTimeout,
    logger,
    stateDir,
    ...(testClock === undefined ? {} : { acmeClock: testClock }),
  });
  if (testClock !== undefined) {
    process.on("SIGUSR2", () => {
      const due = gateway.acme.soonestRenewal();
      if (due !== undefined) testClock.jumpTo(due + 1000);
    });
  }
  await gateway.start();
  logger.info({ version: buildInfo().version, config: configDir, workers, stateDir }, "meshgate standalone started");
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

async function controller(command: CommandDef, values: FlagValues): Promise<number> {
  const workers = positiveInt(optionalText(values, "workers") ?? String(availableParallelism()), "--workers", command);
  if (workers < 1) throw new UsageError("--workers must be at least 1", command);
  const workerMode = optionalText(values, "worker-mode") as WorkerMode | undefined;
  if (workerMode === "local" && workers > 1) throw new UsageError("--worker-mode local runs one worker: --workers 1", command);
  const kubeconfig = optionalText(values, "kubeconfig");
  const logger = pino({ ...LINE_OPTIONS, level: text(values, "log-level"), base: { component: "meshgate" } }, stdoutLines());
  const instance = new Controller({
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    controllerName: text(values, "controller-name"),
    serve: values["serve"] === true,
    workers,
    ...(workerMode === undefined ? {} : { workerMode }),
    adminAddress: text(values, "admin-address"),
    adminPort: positiveInt(text(values, "admin-port"), "--admin-port", command),
    accessLog: text(values, "access-log"),
    drainTimeoutMs: drainTimeoutMs(text(values, "drain-timeout"), command),
    logger,
    leaderElection: {
      enabled: values["no-leader-election"] !== true,
      name: text(values, "leader-election-lease"),
      ...(optionalText(values, "leader-election-namespace") === undefined ? {} : { namespace: text(values, "leader-election-namespace") }),
    },
  });
  await instance.start();
  logger.info({ version: buildInfo().version, server: instance.server, serve: values["serve"] === true }, "meshgate controller started");
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  logger.info("stopping");
  const drained = await instance.stop();
  logger.info({ drained }, "stopped");
  logger.flush();
  return 0;
}

function text(values: FlagValues, name: string): string {
  const value = values[name];
  // The definitions give these a default or make them required; parseCommandLine applied both.
  if (typeof value !== "string") throw new Error(`--${name} has no value`);
  return value;
}

function optionalText(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

function redisTarget(flags: RedisFlags, command: CommandDef): RedisTarget | undefined {
  try {
    return redisTargetFrom(flags, process.env);
  } catch (error) {
    throw error instanceof RedisFlagError ? new UsageError(error.message, command) : error;
  }
}

/** Seconds, within what a Node timer holds (a longer one would be clamped and end the drain at once). */
function drainTimeoutMs(value: string, command: CommandDef): number {
  const ms = positiveInt(value, "--drain-timeout", command) * 1000;
  if (ms > MAX_TIMER_MS)
    throw new UsageError(`--drain-timeout must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds, got ${value}`, command);
  return ms;
}

function positiveInt(value: string, flag: string, command: CommandDef): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || value.trim() === "")
    throw new UsageError(`${flag} must be a non-negative integer, got ${value}`, command);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    if (error instanceof UsageError) {
      err(`meshgate: ${error.message}\n\n${error.command === undefined ? overviewHelp() : commandHelp(error.command)}`);
      process.exit(2);
    }
    err(`meshgate: ${error.message}\n`);
    process.exit(error instanceof ConfigFolderError ? 2 : 1);
  },
);
