// Credentials with limited rights, as a pod's service account has them: a ServiceAccount, the
// rules given bound to it cluster-wide, and a token from the TokenRequest API in a kubeconfig.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KubeApiServer, kubeconfig, kubectl } from "./server.js";

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Creates the ServiceAccount and a ClusterRole(Binding) named after it; returns a kubeconfig path. */
export async function serviceAccountKubeconfig(
  server: KubeApiServer,
  namespace: string,
  name: string,
  rules: readonly Rule[],
  url = server.url,
): Promise<string> {
  await kubectl(server.kubeconfigPath, ["create", "serviceaccount", name, "-n", namespace]);
  await grant(server, namespace, name, rules);
  const token = (await kubectl(server.kubeconfigPath, ["create", "token", name, "-n", namespace, "--duration=1h"])).trim();
  const path = join(mkdtempSync(join(tmpdir(), "meshgate-sa-")), "kubeconfig");
  writeFileSync(path, kubeconfig(url, server.caPem, `system:serviceaccount:${namespace}:${name}`, token), { mode: 0o600 });
  return path;
}

/** A Role in the ServiceAccount's namespace (its leader-election Lease, say), bound to it. */
export async function grantInNamespace(server: KubeApiServer, namespace: string, name: string, rules: readonly Rule[]): Promise<void> {
  const role = `${name}-namespaced`;
  const objects = [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: role, namespace }, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: role, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  ];
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
}

/** Replaces the ServiceAccount's ClusterRole rules (the binding stays). */
export async function grant(server: KubeApiServer, namespace: string, name: string, rules: readonly Rule[]): Promise<void> {
  const role = `${namespace}-${name}`;
  const objects = [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: role }, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: role },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  ];
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
}

/** The admin kubeconfig, pointed at another address (a proxy in front of the server). */
export function adminKubeconfigVia(server: KubeApiServer, port: number): string {
  const path = join(mkdtempSync(join(tmpdir(), "meshgate-via-")), "kubeconfig");
  writeFileSync(path, kubeconfig(`https://127.0.0.1:${port}`, server.caPem, "meshgate-admin", server.token), { mode: 0o600 });
  return path;
}
