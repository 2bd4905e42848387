// A real Kubernetes control plane for tests: test/kube/apiserver (embedded etcd, upstream
// kube-apiserver, kube-controller-manager with the garbage-collector and namespace controllers)
// started on a free loopback port with a generated serving certificate and an admin token, with
// the upstream Gateway API CRDs (standard channel) installed and Established. Nothing here
// imitates the API: if the binary cannot be built, starting fails with the build's error.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "../support/net.js";
import { makeCa } from "../support/tls-certs.js";

const run = promisify(execFile);

/** test/kube in the source tree, from dist/test/kube or test/kube. */
const KUBE_SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "test", "kube");
/** A cold build on two busy cores takes tens of minutes; a cached one answers at once. */
const BUILD_TIMEOUT_MS = 90 * 60_000;
const READY_TIMEOUT_MS = 180_000;
const CRD_GROUP = "gateway.networking.k8s.io";

export interface KubeApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** A kubeconfig for the admin (group system:masters), context `meshgate-test`. */
  readonly kubeconfigPath: string;
  /** The admin's bearer token. */
  readonly token: string;
  /** The CA that signed the serving certificate. */
  readonly caPem: string;
  readonly dataDir: string;
  /** Where the control plane's stdout and stderr go. */
  readonly logPath: string;
  readonly pid: number;
  /** From spawning the binary to /readyz ok and the Gateway API CRDs Established (build not counted). */
  readonly startupMs: number;
  /** SIGTERM, then SIGKILL after 30 s; resolves when the process is gone. Removes a data dir it created. */
  stop(): Promise<void>;
}

export interface KubeStartOptions {
  /**
   * Reused when it holds a previous start's state: the same port, certificates, tokens and etcd
   * data, so kubeconfigs stay valid across a restart. Default: a fresh temporary folder,
   * removed by stop().
   */
  dataDir?: string;
  /** Install the Gateway API CRDs (default true). */
  gatewayApiCrds?: boolean;
  /** Outlive this Node process (npm run kube-up); otherwise the server stops when its parent dies. */
  detached?: boolean;
  /** More kube-apiserver flags (a test that needs etcd compaction soon, say). */
  apiServerArgs?: readonly string[];
}

/** What a data dir keeps between starts. */
interface State {
  port: number;
  adminToken: string;
  controllerManagerToken: string;
}

/** Builds the binary if the cache lacks it (test/kube/build.sh) and returns its path. */
export async function buildControlPlane(): Promise<string> {
  const { stdout } = await run("bash", [join(KUBE_SOURCE_DIR, "build.sh")], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 << 20 });
  return lastLine(stdout);
}

/** The folder of upstream Gateway API CRD files (pinned in gateway-api-crds.sh). */
export async function gatewayApiCrdDir(): Promise<string> {
  const { stdout } = await run("bash", [join(KUBE_SOURCE_DIR, "gateway-api-crds.sh")], { timeout: 10 * 60_000 });
  return lastLine(stdout);
}

export async function startKubeApiServer(options: KubeStartOptions = {}): Promise<KubeApiServer> {
  const binary = await buildControlPlane();
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "meshgate-kube-"));
  mkdirSync(dataDir, { recursive: true });
  const state = await prepareDataDir(dataDir);
  const url = `https://127.0.0.1:${state.port}`;
  const caPem = readFileSync(join(dataDir, "pki", "ca.crt"), "utf8");
  const kubeconfigPath = join(dataDir, "admin.kubeconfig");
  const logPath = join(dataDir, "control-plane.log");

  const started = Date.now();
  const child = launch(binary, dataDir, state.port, logPath, options.detached === true, options.apiServerArgs ?? []);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const pid = child.pid as number;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(killer);
    }
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(url, state.adminToken, caPem, () => child.exitCode !== null || child.signalCode !== null);
    if (options.gatewayApiCrds !== false) await installGatewayApiCrds(kubeconfigPath);
  } catch (error) {
    const log = `\n--- last lines of ${logPath} ---\n${tail(logPath)}`;
    await stop().catch(() => undefined);
    throw new Error(`the Kubernetes control plane did not start: ${(error as Error).message}${log}`, { cause: error });
  }
  return { url, kubeconfigPath, token: state.adminToken, caPem, dataDir, logPath, pid, startupMs: Date.now() - started, stop };
}

/** Creates the certificates, service-account key, tokens and kubeconfigs once; reuses them after. */
async function prepareDataDir(dataDir: string): Promise<State> {
  const statePath = join(dataDir, "state.json");
  if (existsSync(statePath)) return JSON.parse(readFileSync(statePath, "utf8")) as State;
  const pki = join(dataDir, "pki");
  mkdirSync(pki, { recursive: true });
  const state: State = {
    port: await freePort(),
    adminToken: randomBytes(24).toString("hex"),
    controllerManagerToken: randomBytes(24).toString("hex"),
  };
  const ca = await makeCa("meshgate test Kubernetes CA");
  const serving = await ca.issue(["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]);
  writeFileSync(join(pki, "ca.crt"), ca.certPem);
  writeFileSync(join(pki, "apiserver.crt"), serving.chainPem);
  writeFileSync(join(pki, "apiserver.key"), serving.keyPem, { mode: 0o600 });
  // Signs and verifies service-account tokens; the API server refuses to start without one.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(pki, "sa.key"), privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  // Static tokens (--token-auth-file: token,user,uid,"groups"): the simplest credential for any
  // client. The controller manager is in system:masters too: garbage collection deletes any kind.
  writeFileSync(
    join(dataDir, "tokens.csv"),
    `${state.adminToken},meshgate-admin,meshgate-admin,"system:masters"\n` +
      `${state.controllerManagerToken},system:kube-controller-manager,system:kube-controller-manager,"system:masters"\n`,
    { mode: 0o600 },
  );
  const url = `https://127.0.0.1:${state.port}`;
  writeFileSync(join(dataDir, "admin.kubeconfig"), kubeconfig(url, ca.certPem, "meshgate-admin", state.adminToken), { mode: 0o600 });
  writeFileSync(join(dataDir, "controller-manager.kubeconfig"), kubeconfig(url, ca.certPem, "kube-controller-manager", state.controllerManagerToken), {
    mode: 0o600,
  });
  writeFileSync(statePath, JSON.stringify(state) + "\n", { mode: 0o600 });
  return state;
}

/** A kubeconfig (JSON) for one server, user and bearer token. */
export function kubeconfig(url: string, caPem: string, user: string, token: string): string {
  // JSON is YAML: no YAML writer needed.
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "meshgate-test", cluster: { server: url, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: "meshgate-test", context: { cluster: "meshgate-test", user, namespace: "default" } }],
      "current-context": "meshgate-test",
    },
    null,
    2,
  ) + "\n";
}

function launch(binary: string, dataDir: string, port: number, logPath: string, detached: boolean, extra: readonly string[]): ChildProcess {
  const pki = join(dataDir, "pki");
  const args = [
    `--data-dir=${dataDir}`,
    `--controller-manager-kubeconfig=${join(dataDir, "controller-manager.kubeconfig")}`,
    ...(detached ? [] : ["--exit-with-parent"]),
    "--",
    `--secure-port=${port}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--cert-dir=${pki}`,
    `--tls-cert-file=${join(pki, "apiserver.crt")}`,
    `--tls-private-key-file=${join(pki, "apiserver.key")}`,
    `--token-auth-file=${join(dataDir, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${join(pki, "sa.key")}`,
    `--service-account-signing-key-file=${join(pki, "sa.key")}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true",
    // No service-account controller runs, so pods would wait for a default ServiceAccount forever.
    "--disable-admission-plugins=ServiceAccount",
    // One client at a time in tests: fairness queues only cost CPU on a shared machine.
    "--enable-priority-and-fairness=false",
    // No nodes and no real Service network: the `kubernetes` Service's endpoints are not kept.
    "--endpoint-reconciler-type=none",
    "--profiling=false",
    // A stop must not wait a minute for clients' watches (informers never end them): with this, the
    // HTTP server is shut down 2 s after the short requests have drained, cutting the watches.
    "--shutdown-send-retry-after=true",
    ...extra,
  ];
  const log = openSync(logPath, "a");
  try {
    const child = spawn(binary, args, { stdio: ["ignore", log, log], detached });
    if (detached) child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}

async function waitUntilReady(url: string, token: string, caPem: string, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error(`the process exited before /readyz answered ok (last: ${last})`);
    try {
      const { status, body } = await get(url, "/readyz", token, caPem);
      if (status === 200 && body.trim() === "ok") return;
      last = `${status} ${body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`/readyz not ok within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

/** One GET with a bearer token (none when empty); resolves with the status and body. */
export function get(url: string, path: string, token: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { ca: caPem, headers: token === "" ? {} : { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** Applies every file of the pinned standard channel, as its standard-install.yaml would. */
async function installGatewayApiCrds(kubeconfigPath: string): Promise<void> {
  const dir = await gatewayApiCrdDir();
  // The safe-upgrades ValidatingAdmissionPolicy is applied too, as upstream's install does: it only
  // refuses experimental or pre-v1.5 Gateway API CRDs over these.
  // Server-side apply: HTTPRoute's CRD is too big for the last-applied annotation of a client-side apply.
  await kubectl(kubeconfigPath, ["apply", "--server-side", "--force-conflicts", "-f", dir]);
  const names = readdirSync(dir)
    .map((file) => /^gateway\.networking\.k8s\.io_(\w+)\.yaml$/.exec(file)?.[1])
    .filter((plural): plural is string => plural !== undefined && !plural.startsWith("vap_"))
    .map((plural) => `crd/${plural}.${CRD_GROUP}`);
  await kubectl(kubeconfigPath, ["wait", "--for=condition=Established", "--timeout=120s", ...names]);
}

/** Runs kubectl against the server; `input` goes to its stdin (for `-f -`). Rejects with its stderr. */
export function kubectl(kubeconfigPath: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("kubectl", ["--kubeconfig", kubeconfigPath, ...args], { timeout: 180_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kubectl ${args.join(" ")}: ${stderr || error.message}`, { cause: error }));
      else resolve(stdout);
    });
    child.stdin?.end(input ?? "");
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").trim();
}

function tail(path: string, lines = 40): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
