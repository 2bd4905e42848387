// Ports are owned: only meshgate's own workers share a port. A second gateway on the same
// configuration, or a port another program holds, stops start-up with the reason; a reload that
// adds such a port leaves that listener Programmed=False and the others serving. And every
// listener kind is served by every worker process, with no error lines.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import net, { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import test from "ava";
import { startTlsBackend } from "../gateway/passthrough/harness.js";
import { startBackend } from "../support/backend.js";
import { tlsSecret } from "../support/controller-yaml.js";
import { basicConfig, configFolder, loopbackService, startMeshgate } from "../support/meshgate.js";
import { tempStateHome } from "../support/cli.js";
import { freePort, waitFor } from "../support/net.js";
import { acceptingPids } from "../support/socket-owner.js";
import { makeCa } from "../support/tls-certs.js";

const CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));

/** Runs `meshgate standalone` until it exits by itself (or 20 s pass): exit code and output. */
async function runToExit(configDir: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const adminPort = await freePort();
  const stateHome = tempStateHome();
  const proc = spawn(process.execPath, [CLI, "standalone", "--config", configDir, "--admin-port", String(adminPort), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    // The default state folder, somewhere other than this machine's real one.
    env: { ...process.env, XDG_STATE_HOME: stateHome },
  });
  let output = "";
  proc.stdout.on("data", (d: Buffer) => (output += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  // "close", not "exit": the last output may still be in the pipes when the process has exited.
  const code = await new Promise<number | null>((resolve) => proc.once("close", resolve));
  clearTimeout(timer);
  rmSync(stateHome, { recursive: true, force: true });
  return { code, output };
}

async function get(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/x`);
  return `${res.status}`;
}

for (const workers of ["1", "2"]) {
  test(`a second meshgate on the same configuration refuses to start (--workers ${workers}); the first keeps serving`, async (t) => {
    const backend = await startBackend("b");
    const port = await freePort();
    const folder = configFolder();
    folder.write("gw.yaml", basicConfig(port, [backend.port]));
    const first = await startMeshgate(folder.dir, ["--workers", workers]);
    try {
      const second = await runToExit(folder.dir, ["--workers", workers]);
      t.is(second.code, 1);
      t.regex(second.output, new RegExp(`cannot serve port ${port}: port ${port} on 0\\.0\\.0\\.0 is already in use by another process`));
      for (let i = 0; i < 20; i++) t.is(await get(port), "200");
    } finally {
      await first.stop();
      await backend.close();
    }
  });
}

test("a port another program holds stops start-up with the reason and exit code 1", async (t) => {
  const holder = net.createServer();
  const port = await new Promise<number>((resolve) =>
    holder.listen(0, "127.0.0.1", () => resolve((holder.address() as net.AddressInfo).port)),
  );
  const folder = configFolder();
  folder.write("gw.yaml", basicConfig(port, [9]));
  try {
    const run = await runToExit(folder.dir, ["--workers", "2"]);
    t.is(run.code, 1);
    t.regex(run.output, new RegExp(`port ${port} on 0\\.0\\.0\\.0 is already in use by another process`));
  } finally {
    holder.close();
  }
});

test("a reload that adds a port held elsewhere: that listener is Programmed=False with the reason, the others serve", async (t) => {
  const backend = await startBackend("b");
  const port = await freePort();
  const holder = net.createServer();
  const held = await new Promise<number>((resolve) =>
    holder.listen(0, "127.0.0.1", () => resolve((holder.address() as net.AddressInfo).port)),
  );
  const folder = configFolder();
  folder.write("gw.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir, ["--workers", "2"]);
  try {
    folder.write("gw.yaml", basicConfig(port, [backend.port]).replace(
      `- {name: http, protocol: HTTP, port: ${port}}`,
      `- {name: http, protocol: HTTP, port: ${port}}\n  - {name: other, protocol: HTTP, port: ${held}}`,
    ));
    let listener: { name: string; conditions: { type: string; status: string; reason: string; message: string }[] } | undefined;
    await waitFor(async () => {
      const status = JSON.parse((await gw.admin("/status")).text) as {
        gateways: { listeners: NonNullable<typeof listener>[] }[];
      };
      listener = status.gateways[0]?.listeners.find((l) => l.name === "other");
      return listener !== undefined;
    }, 10_000);
    const programmed = listener?.conditions.find((c) => c.type === "Programmed");
    t.is(programmed?.status, "False");
    t.regex(programmed?.message ?? "", new RegExp(`port ${held} on 0\\.0\\.0\\.0 is already in use by another process`));
    t.is(listener?.conditions.find((c) => c.type === "Accepted")?.reason, "PortUnavailable");
    const ready = await gw.admin("/ready");
    t.is(ready.status, 200, "the listeners that are served keep the gateway in rotation");
    t.regex(ready.text, new RegExp(`port ${held} not served: port ${held} on 0\\.0\\.0\\.0 is already in use`));
    t.is(await get(port), "200");
  } finally {
    await gw.stop();
    holder.close();
    await backend.close();
  }
});

/** Opens a TCP connection to `port` and resolves once it is accepted (connected). */
function tcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** The first bytes the server sends after `request`, over TLS when `sni` is given. */
function exchange(socket: net.Socket, request: string, sni?: string, proxyHeader?: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const done = () => resolve(got);
    setTimeout(done, 3000);
    if (proxyHeader !== undefined) socket.write(proxyHeader);
    if (sni === undefined) {
      socket.on("data", (d: Buffer) => {
        got += d.toString();
        if (got.includes("\r\n\r\n")) done();
      });
      socket.write(request);
      return;
    }
    const secure = tlsConnect({ socket, servername: sni, rejectUnauthorized: false }, () => {
      got = `subject=${secure.getPeerX509Certificate()?.subject ?? ""}\n`;
      secure.write(request);
    });
    secure.on("data", (d: Buffer) => {
      got += d.toString();
      done();
    });
    secure.on("error", (e) => {
      got += `error ${e.message}`;
      done();
    });
  });
}

for (const mode of ["processes", "threads"] as const) {
  test(`every listener kind is served with --workers 2 --worker-mode ${mode}, with no error lines`, async (t) => {
    const ca = await makeCa();
    const shop = await ca.issue(["shop.example.com"], { commonName: "meshgate shop" });
    const db = await startTlsBackend(ca, "db", ["db.example.com"]);
    const app = await startBackend("app");
    const [http, https, passthrough, shared, proxied] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const folder = configFolder();
    folder.write(
      "edge.yaml",
      `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: http, protocol: HTTP, port: ${http}}
  - {name: https, protocol: HTTPS, port: ${https}, hostname: shop.example.com, tls: {certificateRefs: [{name: shop}]}}
  - {name: db, protocol: TLS, port: ${passthrough}, hostname: db.example.com, tls: {mode: Passthrough}}
  - {name: shop-shared, protocol: HTTPS, port: ${shared}, hostname: shop.example.com, tls: {certificateRefs: [{name: shop}]}}
  - {name: db-shared, protocol: TLS, port: ${shared}, hostname: db.example.com, tls: {mode: Passthrough}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: behind-lb, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: http, protocol: HTTP, port: ${proxied}}
---
apiVersion: meshgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: behind-lb, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: behind-lb}]
  proxyProtocol: {}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: edge}, {name: behind-lb}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: db, namespace: default}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: db, port: 443}]}]
${loopbackService("app", 80, "http", app.port)}${loopbackService("db", 443, "tls", db.port)}${tlsSecret("shop", shop.chainPem, shop.keyPem)}`,
    );
    const gw = await startMeshgate(folder.dir, ["--workers", "2", "--worker-mode", mode, "--access-log", "off"]);
    const request = "GET /x HTTP/1.1\r\nHost: shop.example.com\r\n\r\n";
    const kinds = [
      { name: "HTTP", port: http, expect: /^HTTP\/1\.1 200/ },
      { name: "HTTPS", port: https, sni: "shop.example.com", expect: /subject=CN=meshgate shop\nHTTP\/1\.1 200/ },
      { name: "TLS passthrough", port: passthrough, sni: "db.example.com", expect: /subject=CN=db\n/ },
      { name: "shared, terminated", port: shared, sni: "shop.example.com", expect: /subject=CN=meshgate shop\nHTTP\/1\.1 200/ },
      { name: "shared, passthrough", port: shared, sni: "db.example.com", expect: /subject=CN=db\n/ },
      { name: "PROXY protocol", port: proxied, proxy: "PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n", expect: /^HTTP\/1\.1 200/ },
    ];
    try {
      const pids = [...new Set((JSON.parse((await gw.admin("/status")).text) as { workers: { pid: number }[] }).workers.map((w) => w.pid))];
      t.is(pids.length, mode === "processes" ? 2 : 1);
      for (const kind of kinds) {
        // Connections until each worker process has accepted one (bounded), each one answered.
        const seen = new Set<number>();
        for (let i = 0; i < 64 && seen.size < pids.length; i++) {
          const socket = await tcp(kind.port);
          let owner: number | undefined;
          await waitFor(() => (owner = acceptingPids(kind.port, [socket.localPort ?? 0], pids)[0]) !== undefined, 2000, 5);
          const answer = await exchange(socket, request, kind.sni, kind.proxy);
          socket.destroy();
          t.regex(answer, kind.expect, `${kind.name} on worker ${owner}`);
          if (owner !== undefined) seen.add(owner);
        }
        t.is(seen.size, pids.length, `${kind.name}: every worker process accepted connections`);
      }
      t.notRegex(gw.output(), /EADDRINUSE|could not bind|"level":"error"/, "no error lines");
    } finally {
      t.is(await gw.stop(), 0);
      await db.close();
      await app.close();
    }
  });
}
