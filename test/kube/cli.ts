// npm run kube-up / kube-down: the test control plane as a tool for people, like
// `kind create cluster`. `up` builds it if needed, starts it in the background with the Gateway
// API CRDs and meshgate's installed, and prints `export KUBECONFIG=PATH` as its last line (again
// when already up). `down` stops it and deletes its state, so the next `up` starts empty.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../support/net.js";
import { get, startKubeApiServer } from "./server.js";

const cacheDir = process.env.MESHGATE_KUBE_CACHE ?? join(homedir(), ".cache", "meshgate-kube");
const stateDir = join(cacheDir, "cluster");
const pidFile = join(stateDir, "pid");
const kubeconfigPath = join(stateDir, "admin.kubeconfig");

function runningPid(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    process.kill(pid, 0);
    // A recycled PID would be some other program: check it is ours.
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("meshgate-kube-apiserver") ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function up(): Promise<void> {
  if (runningPid() === undefined) {
    console.error("starting the Kubernetes control plane (a first run builds it: that takes long)...");
    const server = await startKubeApiServer({ dataDir: stateDir, detached: true });
    writeFileSync(pidFile, `${server.pid}\n`);
    console.error(`API server ${server.url} ready in ${server.startupMs} ms; log: ${server.logPath}`);
    console.error("stop it with: npm run kube-down");
  } else {
    const state = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) as { port: number; adminToken: string };
    const ready = await get(`https://127.0.0.1:${state.port}`, "/readyz", state.adminToken, readFileSync(join(stateDir, "pki", "ca.crt"), "utf8"));
    console.error(`already running (pid ${runningPid()}), /readyz: ${ready.status} ${ready.body.trim()}`);
  }
  console.log(`export KUBECONFIG=${kubeconfigPath}`);
}

async function down(): Promise<void> {
  const pid = runningPid();
  if (pid !== undefined) {
    process.kill(pid, "SIGTERM");
    await waitFor(() => runningPid() === undefined, 30_000, 100).catch(() => process.kill(pid, "SIGKILL"));
    await waitFor(() => runningPid() === undefined, 5000, 100);
    console.log(`stopped (pid ${pid})`);
  } else {
    console.log("not running");
  }
  rmSync(stateDir, { recursive: true, force: true });
}

const command = process.argv[2];
if (command === "up") await up();
else if (command === "down") await down();
else {
  console.error("usage: node dist/test/kube/cli.js up|down");
  process.exitCode = 2;
}
