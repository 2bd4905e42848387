// Which process holds the server side of a loopback TCP connection: read from /proc (the
// connection's socket inode in /proc/net/tcp, then the process whose fds include that inode).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Socket inodes by "localPort>remotePort" of every TCP socket on loopback. */
function tcpInodes(): Map<string, string> {
  const inodes = new Map<string, string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, remote, inode] = [fields[1], fields[2], fields[9]];
      if (local === undefined || remote === undefined || inode === undefined) continue;
      const port = (address: string) => parseInt(address.slice(address.lastIndexOf(":") + 1), 16);
      inodes.set(`${port(local)}>${port(remote)}`, inode);
    }
  }
  return inodes;
}

function socketInodesOf(pid: number): Set<string> {
  const found = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return found;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m?.[1] !== undefined) found.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return found;
}

/**
 * For each client port (the local port of a client connection to `serverPort`), the pid among
 * `pids` that accepted it, or undefined when none of them holds it.
 */
export function acceptingPids(serverPort: number, clientPorts: readonly number[], pids: readonly number[]): (number | undefined)[] {
  const inodes = tcpInodes();
  const byPid = pids.map((pid) => ({ pid, inodes: socketInodesOf(pid) }));
  return clientPorts.map((clientPort) => {
    const inode = inodes.get(`${serverPort}>${clientPort}`);
    if (inode === undefined) return undefined;
    return byPid.find((p) => p.inodes.has(inode))?.pid;
  });
}
