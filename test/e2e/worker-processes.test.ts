// Supervised worker processes: a worker that dies takes only its own connections with it, is
// started again with the current configuration within a second, and the others never notice.
import { connect, type Socket } from "node:net";
import test from "ava";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, startMeshgate, type RunningGateway } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { acceptingPids } from "../support/socket-owner.js";

interface WorkerInfo {
  index: number;
  pid: number;
  state: string;
  restarts: number;
  lastExit?: string;
}

async function workers(gw: RunningGateway): Promise<WorkerInfo[]> {
  return (JSON.parse((await gw.admin("/status")).text) as { workers: WorkerInfo[] }).workers;
}

/** A keep-alive client connection that sends GETs one after another until stopped or closed. */
class LoopingClient {
  readonly socket: Socket;
  ok = 0;
  /** Answers other than 200, and requests cut off by a close (with the time it came). */
  failures: { at: number; what: string }[] = [];
  private stopped = false;
  private buffer = "";
  private inflight = false;

  constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.setNoDelay(true);
    this.socket.on("connect", () => this.next());
    this.socket.on("data", (d: Buffer) => this.onData(d));
    this.socket.on("error", () => undefined);
    this.socket.on("close", () => {
      if (this.inflight && !this.stopped) this.failures.push({ at: Date.now(), what: "closed" });
      this.inflight = false;
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  get closed(): boolean {
    return this.socket.destroyed || this.socket.readyState === "closed";
  }

  private next(): void {
    if (this.stopped || this.socket.destroyed) return;
    this.inflight = true;
    this.socket.write("GET /loop HTTP/1.1\r\nHost: loop.test\r\n\r\n");
  }

  private onData(d: Buffer): void {
    this.buffer += d.toString("latin1");
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buffer.slice(0, end);
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? "0");
      if (this.buffer.length < end + 4 + length) return;
      this.buffer = this.buffer.slice(end + 4 + length);
      this.inflight = false;
      if (head.startsWith("HTTP/1.1 200")) this.ok++;
      else this.failures.push({ at: Date.now(), what: head.split("\r\n")[0] ?? head });
      setImmediate(() => this.next());
    }
  }

  stop(): void {
    this.stopped = true;
    this.socket.destroy();
  }
}

test("SIGKILL of one worker process: the other's connections all succeed, the slot serves again within a second", async (t) => {
  const backend = await startBackend("b", false);
  backend.behave((_req, res) => res.writeHead(200, { "content-length": "2" }).end("ok"));
  const port = await freePort();
  const folder = configFolder();
  folder.write("gw.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir, ["--workers", "2", "--worker-mode", "processes", "--access-log", "off"]);
  const clients: LoopingClient[] = [];
  try {
    const before = await workers(gw);
    t.is(before.length, 2);
    const pids = before.map((w) => w.pid);
    // Enough connections that both workers hold some (SO_REUSEPORT spreads them by hash).
    let owners: (number | undefined)[] = [];
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 8; i++) clients.push(new LoopingClient(port));
      await waitFor(() => clients.every((c) => c.ok >= 3), 10_000);
      owners = acceptingPids(port, clients.map((c) => c.localPort), pids);
      if (pids.every((pid) => owners.includes(pid))) break;
    }
    t.true(pids.every((pid) => owners.includes(pid)), "both workers accepted connections");
    const victim = before[0] as WorkerInfo;
    const onVictim = clients.filter((_c, i) => owners[i] === victim.pid);
    const onOther = clients.filter((_c, i) => owners[i] !== victim.pid);
    const okBefore = onOther.map((c) => c.ok);

    const killedAt = Date.now();
    process.kill(victim.pid, "SIGKILL");
    let restartedAt = 0;
    await waitFor(async () => {
      const slot = (await workers(gw)).find((w) => w.index === victim.index);
      if (slot === undefined || slot.pid === victim.pid || slot.pid === 0 || slot.state !== "serving") return false;
      restartedAt = Date.now();
      return true;
    }, 10_000, 10);
    const after = await workers(gw);
    const newPid = after.find((w) => w.index === victim.index)?.pid ?? 0;
    // New connections reach the restarted worker again.
    let servedAgainAt = 0;
    for (let i = 0; i < 200 && servedAgainAt === 0; i++) {
      const c = new LoopingClient(port);
      clients.push(c);
      await waitFor(() => c.ok >= 1 || c.closed, 5_000);
      if (acceptingPids(port, [c.localPort], [newPid])[0] === newPid && c.ok >= 1) servedAgainAt = Date.now();
    }
    // Let the survivors go on a little longer across the restart.
    await new Promise((r) => setTimeout(r, 300));
    for (const c of clients) c.stop();

    const survivorRequests = onOther.reduce((n, c, i) => n + c.ok - (okBefore[i] ?? 0), 0);
    t.deepEqual(onOther.flatMap((c) => c.failures), [], "no request failed on the surviving worker's connections");
    t.true(survivorRequests > 0);
    t.true(onVictim.every((c) => c.failures.every((f) => f.what === "closed" && f.at >= killedAt)), "the killed worker's connections were closed, never answered wrongly");
    t.not(servedAgainAt, 0, "a new connection was answered by the restarted worker");
    const slot = after.find((w) => w.index === victim.index);
    t.is(slot?.restarts, 1);
    t.is(slot?.lastExit, "signal SIGKILL");
    const metrics = (await gw.admin("/metrics")).text;
    t.regex(metrics, new RegExp(`meshgate_worker_restarts_total\\{worker="${victim.index}"\\} 1`));
    t.log(
      `worker kill: ${onVictim.length} connections on the killed worker closed, ${onOther.length} on the other ` +
        `answered ${survivorRequests} requests meanwhile, all 200; restarted worker serving ${restartedAt - killedAt} ms ` +
        `after the kill, first answer from it on a new connection ${servedAgainAt - killedAt} ms after the kill`,
    );
    t.true(restartedAt - killedAt < 1000, `restarted within 1 s (took ${restartedAt - killedAt} ms)`);
  } finally {
    for (const c of clients) c.stop();
    await gw.stop();
    await backend.close();
  }
});
