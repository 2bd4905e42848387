// Response bytes reach every client intact when clients read at different speeds and share one
// upstream connection: the relay holds body chunks as views of that connection's read buffer,
// which it reuses once a response is in, so whatever waits for a slow client must be a copy.
import { createHash } from "node:crypto";
import { connect } from "node:net";
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import { startBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

// Larger than what loopback socket buffers absorb, so the gateway does meet backpressure.
const BODY_BYTES = 16 * 1024 * 1024;

/** A body that differs per path and per position, so a byte from another response shows. */
function bodyFor(path: string): Buffer {
  const body = Buffer.alloc(BODY_BYTES);
  const seed = createHash("sha256").update(path).digest();
  for (let i = 0; i < BODY_BYTES; i++) body[i] = (seed[i % 32] as number) ^ (i & 0xff);
  return body;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** GET over a raw socket; reading starts only after `holdMs`, so the gateway meets backpressure. */
function slowGet(port: number, path: string, holdMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.pause();
    socket.write(`GET ${path} HTTP/1.1\r\nhost: relay.test\r\nconnection: close\r\n\r\n`);
    setTimeout(() => socket.resume(), holdMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const raw = Buffer.concat(chunks);
      const headEnd = raw.indexOf("\r\n\r\n");
      resolve(headEnd < 0 ? Buffer.alloc(0) : raw.subarray(headEnd + 4));
    });
  });
}

test("slow and fast clients on one upstream connection each get their own bytes", async (t) => {
  const backend = await startBackend("big", false);
  backend.behave((req, res) => {
    const body = bodyFor(req.url ?? "/");
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
    res.end(body);
  });
  const port = await freePort();
  const plane = new DataPlane();
  try {
    await plane.apply(
      snapshot({
        version: 1,
        ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
        clusters: [cluster("c", [backend.port], { connectionsPerEndpoint: 1 })],
      }),
    );
    const paths = ["/a", "/b", "/c", "/d"];
    // Alternate clients that hold off reading with ones that read at once.
    const bodies = await Promise.all(paths.map((p, i) => slowGet(port, p, i % 2 === 0 ? 300 : 0)));
    for (const [i, path] of paths.entries()) {
      t.is(bodies[i]!.length, BODY_BYTES, `${path}: length`);
      t.is(sha(bodies[i]!), sha(bodyFor(path)), `${path}: bytes`);
    }
  } finally {
    await plane.drain(1000);
    await backend.close();
  }
});
