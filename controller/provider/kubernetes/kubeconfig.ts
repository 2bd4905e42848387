// Where the API server is and how to prove who we are: a kubeconfig's current context, or the
// pod's service account. Read here rather than through @kubernetes/client-node's KubeConfig,
// whose module loads the whole generated API (53 MB of code: ~80 MB of RSS and 37 MB of heap
// before a single object is read). client-node is still loaded, on demand, for the one thing it
// is needed for: a user with an `exec` or `auth-provider` plugin (cloud logins).
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { parse } from "yaml";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeCredentials {
  server: URL;
  /** CA, client certificate and verification settings for the TLS connection. */
  tls: Pick<ConnectionOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername">;
  /** The Authorization (or other) headers for the next request; a token file is read again when it changes. */
  headers(): Promise<Record<string, string>>;
  /** The context's namespace (or the pod's); undefined when none is set. */
  namespace: string | undefined;
  /** Where the credentials came from, for logs ("kubeconfig /path" or "service account"). */
  source: string;
}

export class KubeconfigError extends Error {}

/**
 * `path`: a kubeconfig file. Without it: $KUBECONFIG (the first file of the list that exists),
 * then the pod's service account (KUBERNETES_SERVICE_HOST), then ~/.kube/config.
 */
export function loadCredentials(path?: string, env: NodeJS.ProcessEnv = process.env): KubeCredentials {
  if (path !== undefined) return fromKubeconfig(path);
  const listed = (env["KUBECONFIG"] ?? "").split(delimiter).filter((p) => p !== "");
  const existing = listed.find(isFile);
  if (existing !== undefined) return fromKubeconfig(existing);
  if (env["KUBERNETES_SERVICE_HOST"] !== undefined && env["KUBERNETES_SERVICE_HOST"] !== "") return fromServiceAccount(env);
  const home = join(homedir(), ".kube", "config");
  if (isFile(home)) return fromKubeconfig(home);
  throw new KubeconfigError("no cluster to talk to: give --kubeconfig, set KUBECONFIG, or run in a pod with a service account");
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function fromServiceAccount(env: NodeJS.ProcessEnv): KubeCredentials {
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "443";
  const tokenFile = join(SERVICE_ACCOUNT_DIR, "token");
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(SERVICE_ACCOUNT_DIR, "namespace"), "utf8").trim() || undefined;
  } catch {
    namespace = undefined;
  }
  return {
    server: new URL(`https://${host.includes(":") ? `[${host}]` : host}:${port}`),
    tls: { ca: readFileSync(join(SERVICE_ACCOUNT_DIR, "ca.crt"), "utf8") },
    headers: bearerFromFile(tokenFile),
    namespace,
    source: "service account",
  };
}

/** A projected token is rotated on disk (hourly): read it again whenever the file changed. */
function bearerFromFile(file: string): () => Promise<Record<string, string>> {
  let cached: { mtimeMs: number; token: string } | undefined;
  return async () => {
    const mtimeMs = statSync(file).mtimeMs;
    if (cached?.mtimeMs !== mtimeMs) cached = { mtimeMs, token: readFileSync(file, "utf8").trim() };
    return { authorization: `Bearer ${cached.token}` };
  };
}

function fromKubeconfig(path: string): KubeCredentials {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new KubeconfigError(`kubeconfig ${path}: ${(err as Error).message.split("\n")[0]}`);
  }
  const config = record(doc);
  const base = dirname(path);
  const contextName = typeof config["current-context"] === "string" ? config["current-context"] : "";
  const context = record(named(config["contexts"], contextName)?.["context"]);
  if (contextName === "" || Object.keys(context).length === 0) throw new KubeconfigError(`kubeconfig ${path}: no current context`);
  const clusterName = String(context["cluster"] ?? "");
  const cluster = record(named(config["clusters"], clusterName)?.["cluster"]);
  if (typeof cluster["server"] !== "string") throw new KubeconfigError(`kubeconfig ${path}: cluster ${clusterName} has no server`);
  const user = record(named(config["users"], String(context["user"] ?? ""))?.["user"]);
  const file = (key: string, dataKey: string): string | undefined => {
    const data = user[dataKey] ?? cluster[dataKey];
    if (typeof data === "string" && data !== "") return Buffer.from(data, "base64").toString("utf8");
    const ref = user[key] ?? cluster[key];
    if (typeof ref !== "string" || ref === "") return undefined;
    return readFileSync(isAbsolute(ref) ? ref : join(base, ref), "utf8");
  };
  const caData = cluster["certificate-authority-data"];
  const caFile = cluster["certificate-authority"];
  const ca =
    typeof caData === "string" && caData !== ""
      ? Buffer.from(caData, "base64").toString("utf8")
      : typeof caFile === "string" && caFile !== ""
        ? readFileSync(isAbsolute(caFile) ? caFile : join(base, caFile), "utf8")
        : undefined;
  const cert = file("client-certificate", "client-certificate-data");
  const key = file("client-key", "client-key-data");
  const tls: KubeCredentials["tls"] = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(cluster["insecure-skip-tls-verify"] === true ? { rejectUnauthorized: false } : {}),
    ...(typeof cluster["tls-server-name"] === "string" ? { servername: cluster["tls-server-name"] } : {}),
  };
  const namespace = typeof context["namespace"] === "string" && context["namespace"] !== "" ? context["namespace"] : undefined;
  return { server: new URL(cluster["server"]), tls, headers: userHeaders(user, path, base), namespace, source: `kubeconfig ${path}` };
}

function userHeaders(user: Record<string, unknown>, path: string, base: string): () => Promise<Record<string, string>> {
  if (typeof user["token"] === "string" && user["token"] !== "") {
    const headers = { authorization: `Bearer ${user["token"]}` };
    return () => Promise.resolve(headers);
  }
  if (typeof user["tokenFile"] === "string" && user["tokenFile"] !== "") {
    const tokenFile = user["tokenFile"];
    return bearerFromFile(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile));
  }
  if (typeof user["username"] === "string" && typeof user["password"] === "string") {
    const headers = { authorization: `Basic ${Buffer.from(`${user["username"]}:${user["password"]}`).toString("base64")}` };
    return () => Promise.resolve(headers);
  }
  if (user["exec"] !== undefined || user["auth-provider"] !== undefined) return pluginHeaders(path);
  // Client certificates only (or anonymous).
  return () => Promise.resolve({});
}

/** exec and auth-provider plugins (cloud logins), through client-node, loaded only for them. */
function pluginHeaders(path: string): () => Promise<Record<string, string>> {
  let config: Promise<{ applyToHTTPSOptions(opts: { headers?: Record<string, unknown> }): Promise<void> }> | undefined;
  return async () => {
    config ??= import("@kubernetes/client-node").then(({ KubeConfig }) => {
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      return kc;
    });
    const opts: { headers?: Record<string, unknown> } = { headers: {} };
    await (await config).applyToHTTPSOptions(opts);
    return Object.fromEntries(Object.entries(opts.headers ?? {}).filter((e): e is [string, string] => typeof e[1] === "string"));
  };
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function named(list: unknown, name: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  return (list as unknown[]).map(record).find((entry) => entry["name"] === name);
}
