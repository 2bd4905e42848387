// The controller reads kubeconfigs itself (kubeconfig.ts): what kubectl users put in them must
// give the same server, TLS settings and credentials, and a broken one a clear error.
import test from "ava";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeconfigError, loadCredentials } from "../../controller/provider/kubernetes/kubeconfig.js";

function folder(): string {
  return mkdtempSync(join(tmpdir(), "meshgate-kubeconfig-"));
}

function config(user: Record<string, unknown>, cluster: Record<string, unknown> = { server: "https://10.0.0.1:6443" }, namespace?: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "other", cluster: { server: "https://wrong:1" } }, { name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", ...(namespace === undefined ? {} : { namespace }) } }],
    "current-context": "ctx",
  });
}

test("token, CA data, namespace: from the current context's cluster and user", async (t) => {
  const dir = folder();
  const path = join(dir, "config");
  writeFileSync(path, config({ token: "abc" }, { server: "https://10.0.0.1:6443", "certificate-authority-data": Buffer.from("CA PEM").toString("base64") }, "team-a"));
  const c = loadCredentials(path, {});
  t.is(c.server.href, "https://10.0.0.1:6443/");
  t.is(c.tls.ca, "CA PEM");
  t.is(c.namespace, "team-a");
  t.deepEqual(await c.headers(), { authorization: "Bearer abc" });
});

test("files named relative to the kubeconfig, client certificates, insecure-skip-tls-verify and tls-server-name", async (t) => {
  const dir = folder();
  writeFileSync(join(dir, "ca.crt"), "CA");
  writeFileSync(join(dir, "client.crt"), "CERT");
  writeFileSync(join(dir, "client.key"), "KEY");
  const path = join(dir, "config");
  writeFileSync(
    path,
    config({ "client-certificate": "client.crt", "client-key": "client.key" }, { server: "https://api:6443", "certificate-authority": "ca.crt", "tls-server-name": "kubernetes", "insecure-skip-tls-verify": true }),
  );
  const c = loadCredentials(path, {});
  t.deepEqual(c.tls, { ca: "CA", cert: "CERT", key: "KEY", rejectUnauthorized: false, servername: "kubernetes" });
  t.deepEqual(await c.headers(), {});
});

test("a token file is read again when it changes (a projected token rotates)", async (t) => {
  const dir = folder();
  writeFileSync(join(dir, "token"), "one\n");
  const path = join(dir, "config");
  writeFileSync(path, config({ tokenFile: "token" }));
  const c = loadCredentials(path, {});
  t.deepEqual(await c.headers(), { authorization: "Bearer one" });
  writeFileSync(join(dir, "token"), "two\n");
  utimesSync(join(dir, "token"), new Date(), new Date(Date.now() + 5000));
  t.deepEqual(await c.headers(), { authorization: "Bearer two" });
});

test("KUBECONFIG: the first listed file that exists; an explicit path wins", (t) => {
  const dir = folder();
  const a = join(dir, "a");
  const b = join(dir, "b");
  writeFileSync(b, config({ token: "b" }, { server: "https://b:1" }));
  writeFileSync(a, config({ token: "a" }, { server: "https://a:1" }));
  t.is(loadCredentials(undefined, { KUBECONFIG: [join(dir, "missing"), b, a].join(delimiter) }).server.host, "b:1");
  t.is(loadCredentials(a, { KUBECONFIG: b }).server.host, "a:1");
});

test("a broken kubeconfig is refused with a reason that names the file and what is missing", (t) => {
  const dir = folder();
  const path = join(dir, "config");
  writeFileSync(path, "apiVersion: v1\nkind: Config\n");
  t.throws(() => loadCredentials(path, {}), { instanceOf: KubeconfigError, message: new RegExp(`kubeconfig ${path}: no current context`) });
  writeFileSync(path, JSON.stringify({ contexts: [{ name: "x", context: { cluster: "none" } }], "current-context": "x" }));
  t.throws(() => loadCredentials(path, {}), { instanceOf: KubeconfigError, message: /cluster none has no server/ });
  writeFileSync(path, "clusters: [unclosed");
  t.throws(() => loadCredentials(path, {}), { instanceOf: KubeconfigError, message: /^kubeconfig .*: / });
});
