// Starts pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv as its DNS server on
// free loopback ports, as described in /work/shared/TESTING-NOTES.md. Every name resolves to
// 127.0.0.1, and pebble validates HTTP-01 by connecting to 127.0.0.1:<httpPort>, the caller's
// server. Both processes are stopped by PID and reaped in the test's teardown.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./net.js";
import { makeCa } from "./tls-certs.js";

export interface Pebble {
  directoryUrl: string;
  /** The CA of pebble's own HTTPS API (not the CA that signs issued certificates). */
  caBundlePem: string;
  /** Pebble's issuing root, regenerated at every start. */
  rootsPem(): Promise<string>;
  intermediatesPem(): Promise<string>;
  /** Stops both processes (idempotent); the test's teardown calls it too. */
  stop(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * Pebble on free loopback ports. A port found free can be taken by another test's process
 * before pebble binds it (any bind to port 0 draws from the same range): then pebble is started
 * again on other ports, at most three times.
 */
export async function startPebble(t: Teardown, options: { httpPort: number }): Promise<Pebble> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPebbleOnce(t, options);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startPebbleOnce(t: Teardown, options: { httpPort: number }): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), "meshgate-pebble-"));
  tempDirs.add(dir);
  const children: Child[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => child.stop()));
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  t.teardown(stop);

  const ca = await makeCa("pebble API test CA");
  const tls = await ca.issue(["127.0.0.1", "localhost"]);
  const [acmePort, mgmtPort, dnsPort, dnsMgmtPort, tlsPort] = await distinctFreePorts(5, [options.httpPort]);
  await writeFile(join(dir, "cert.pem"), tls.chainPem);
  await writeFile(join(dir, "key.pem"), tls.keyPem, { mode: 0o600 });
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: join(dir, "cert.pem"),
      privateKey: join(dir, "key.pem"),
      httpPort: options.httpPort,
      // Nothing listens there: only HTTP-01 is ever attempted.
      tlsPort,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
    },
  };
  await writeFile(join(dir, "pebble.json"), JSON.stringify(config));

  children.push(
    startChild("pebble-challtestsrv", [
      "-defaultIPv6", "",
      "-defaultIPv4", "127.0.0.1",
      "-dns01", `127.0.0.1:${dnsPort}`,
      "-http01", "",
      "-https01", "",
      "-tlsalpn01", "",
      "-management", `127.0.0.1:${dnsMgmtPort}`,
    ]),
  );
  const pebble = startChild("pebble", ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], {
    // No random sleep before validating; validation itself stays real (no ALWAYS_VALID).
    PEBBLE_VA_NOSLEEP: "1",
  });
  children.push(pebble);

  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const fetchText = (url: string) => httpsText(url, ca.certPem);
  try {
    await waitFor(async () => {
      for (const child of children) if (child.exited) throw new Error(`${child.name} exited:\n${child.output()}`);
      return fetchText(directoryUrl).then(
        () => true,
        () => false,
      );
    }, 10_000, 50);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    directoryUrl,
    caBundlePem: ca.certPem,
    rootsPem: () => fetchText(`https://127.0.0.1:${mgmtPort}/roots/0`),
    intermediatesPem: () => fetchText(`https://127.0.0.1:${mgmtPort}/intermediates/0`),
    stop,
  };
}

interface Child {
  name: string;
  readonly exited: boolean;
  output(): string;
  stop(): Promise<void>;
}

// Safety net for a worker that exits without running teardowns: no pebble outlives its test
// process and no key stays in /tmp. Only the teardown path can also reap the children; a
// worker killed by a signal cannot run this at all.
const running = new Set<number>();
const tempDirs = new Set<string>();
process.once("exit", () => {
  for (const pid of running) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function startChild(command: string, args: string[], env: Record<string, string> = {}): Child {
  const proc: ChildProcess = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = proc.pid;
  if (pid !== undefined) running.add(pid);
  let out = "";
  const collect = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000);
  };
  proc.stdout?.on("data", collect);
  proc.stderr?.on("data", collect);
  let exited = false;
  // "exit" comes after Node has reaped the child, so waiting for it leaves no zombie.
  const gone = new Promise<void>((resolve) => {
    proc.once("exit", () => {
      exited = true;
      if (pid !== undefined) running.delete(pid);
      resolve();
    });
    proc.once("error", (err) => {
      out += String(err);
      exited = true;
      resolve();
    });
  });
  const signal = (name: NodeJS.Signals) => {
    if (exited || pid === undefined) return;
    try {
      process.kill(pid, name);
    } catch {
      // ESRCH: it exited between the check and the kill; "exit" follows.
    }
  };
  return {
    name: command,
    get exited() {
      return exited;
    },
    output: () => out,
    async stop() {
      signal("SIGTERM");
      const killer = setTimeout(() => signal("SIGKILL"), 3000);
      await gone;
      clearTimeout(killer);
    },
  };
}

async function distinctFreePorts(count: number, taken: number[]): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = await freePort();
    if (!taken.includes(port)) ports.add(port);
  }
  return [...ports];
}

// Trusts exactly the given CA for this one request; nothing process-wide changes.
function httpsText(url: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, { ca: caPem, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`${url}: HTTP ${res.statusCode}`));
      });
    });
    request.on("timeout", () => request.destroy(new Error(`${url}: timed out`)));
    request.on("error", reject);
  });
}
