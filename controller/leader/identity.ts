// Who is asking for the Lease, and where the Lease lives when nobody says.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

export const DEFAULT_LEASE_NAME = "meshgate-controller";

/** Mounted into every pod that has a service-account token. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/**
 * POD_NAME (set through the downward API) or the host name, then the process id and a random
 * suffix: a restarted process is a new candidate, never mistaken for the holder it replaced.
 */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const base = env["POD_NAME"] !== undefined && env["POD_NAME"] !== "" ? env["POD_NAME"] : hostname();
  return `${base}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

/**
 * POD_NAMESPACE when set, else the pod's own namespace (service-account mount), else the
 * kubeconfig context's namespace, else `default`.
 */
export function defaultLeaseNamespace(contextNamespace: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env["POD_NAMESPACE"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  try {
    const mounted = readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, "utf8").trim();
    if (mounted !== "") return mounted;
  } catch {
    // not in a pod
  }
  return contextNamespace !== undefined && contextNamespace !== "" ? contextNamespace : "default";
}
