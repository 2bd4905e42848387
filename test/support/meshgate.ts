// Starts the real `meshgate standalone` process on a config folder and stops it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "./net.js";

const CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));

export interface RunningGateway {
  proc: ChildProcess;
  adminPort: number;
  output(): string;
  /** stdout alone, as a log shipper reads it. */
  stdout(): string;
  admin(path: string): Promise<{ status: number; text: string }>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `env`: variables added to this process's environment for the gateway. Unless it or the
 * arguments say otherwise, the default state folder is under a temporary XDG_STATE_HOME (removed
 * at stop), never this machine's real one.
 */
export function startMeshgate(
  configDir: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningGateway> {
  // The product's default on these machines: two supervised worker processes.
  return startMeshgateCommand("standalone", ["--config", configDir, "--workers", "2", ...extraArgs], env);
}

/** Any serving command (standalone, controller) with a free admin port, until /ready answers 200. */
export async function startMeshgateCommand(
  command: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
  readyTimeoutMs = 30_000,
): Promise<RunningGateway> {
  const adminPort = await freePort();
  const ownStateHome =
    env["XDG_STATE_HOME"] === undefined && !extraArgs.includes("--state-dir")
      ? mkdtempSync(join(tmpdir(), "meshgate-state-home-"))
      : undefined;
  const proc = spawn(
    process.execPath,
    [CLI, command, "--admin-port", String(adminPort), ...extraArgs],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...(ownStateHome === undefined ? {} : { XDG_STATE_HOME: ownStateHome }), ...env },
    },
  );
  let out = "";
  let stdout = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code) => {
      if (ownStateHome !== undefined) rmSync(ownStateHome, { recursive: true, force: true });
      resolve(code);
    }),
  );
  const admin = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
    return { status: res.status, text: await res.text() };
  };
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`meshgate exited with ${proc.exitCode}: ${out}`);
      try {
        return (await admin("/ready")).status === 200;
      } catch {
        return false;
      }
    }, readyTimeoutMs);
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  }
  return {
    proc,
    adminPort,
    output: () => out,
    stdout: () => stdout,
    admin,
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
}

/** A temporary config folder. `write` replaces a file atomically, as editors and kubectl-style tools do. */
export function configFolder(): { dir: string; write(name: string, content: string): void } {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-config-"));
  return {
    dir,
    write(name, content) {
      const tmp = join(dir, `.${name}.tmp`);
      writeFileSync(tmp, content);
      renameSync(tmp, join(dir, name));
    },
  };
}

/** A Gateway on `port` with one HTTPRoute sending `prefix` to a Service backed by `backendPorts`. */
export function basicConfig(
  port: number,
  backendPorts: number[],
  opts: { prefix?: string; service?: string } = {},
): string {
  const service = opts.service ?? "backend";
  const rules = `  - matches: [{path: {type: PathPrefix, value: "${opts.prefix ?? "/"}"}}]
    backendRefs: [{name: ${service}, port: 80}]`;
  return `${gatewayAndRoute(port, "app", rules)}---
apiVersion: v1
kind: Service
metadata: {name: ${service}, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 9999}]
${backendPorts.map((p, i) => endpointSlice(service, i, p)).join("")}`;
}

/** A GatewayClass, a Gateway "edge" with one HTTP listener on `port`, and HTTPRoute `route` with `rules` (YAML list items). */
export function gatewayAndRoute(port: number, route: string, rules: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshgate}
spec: {controllerName: meshgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: http, protocol: HTTP, port: ${port}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route}, namespace: default}
spec:
  parentRefs: [{name: edge}]
  rules:
${rules}
`;
}

/** One slice per pod, as Kubernetes writes them for small Services. */
function endpointSlice(service: string, index: number, port: number): string {
  return `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-${index}
  namespace: default
  labels: {kubernetes.io/service-name: ${service}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}
`;
}

/** A Service with one named port and one EndpointSlice pointing it at 127.0.0.1:`target`. */
export function loopbackService(name: string, port: number, portName: string, target: number): string {
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec: {ports: [{name: ${portName}, port: ${port}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: default, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: ${portName}, port: ${target}}]
endpoints: [{addresses: [127.0.0.1]}]
`;
}

/** A RateLimitPolicy on basicConfig's HTTPRoute `app`: one rule, "everyone", `requests` a minute. */
export function rateLimitPolicy(
  requests: number,
  opts: { name?: string; type?: "Global" | "Local" } = {},
): string {
  return `---
apiVersion: meshgate.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: ${opts.name ?? "hundred"}, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}]
  rules:
  - name: everyone
    limit: {requests: ${requests}, unit: Minute}
    type: ${opts.type ?? "Global"}
    failClosed: false
`;
}
