// Requests the drain timeout cuts, in one DataPlane: counted by reason, and in the request
// series with the code the client was sent (0: no head), not as the client's 499; a request
// that finished before the drain is not counted as cut.
import { request as httpRequest } from "node:http";
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import { startBackend } from "../support/backend.js";
import { freePort, waitFor } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

/** A GET that settles with what the client saw: the status and whether the body was whole, or the error. */
function get(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest({ port, path, agent: false }, (res) => {
      res.resume();
      res.on("close", () => resolve(`${res.statusCode} ${res.complete ? "complete" : "cut"}`));
    });
    req.on("error", (err) => resolve(err.message));
    req.end();
  });
}

const series = (text: string, name: string): string[] => text.split("\n").filter((l) => l.startsWith(name));

test("three requests held past the drain timeout: cut_total{reason=drain} 3, codes 0 and 200 (head sent), no 499", async (t) => {
  const backend = await startBackend("slow");
  backend.behave((req, res) => {
    if (req.url === "/fast") res.end("ok");
    else if (req.url === "/head") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("part;");
    }
    // "/hold": no answer at all
  });
  const port = await freePort();
  const plane = new DataPlane();
  await plane.apply(snapshot({ version: 1, ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])], clusters: [cluster("c", [backend.port])] }));
  t.is(await get(port, "/fast"), "200 complete");
  const seen = [get(port, "/hold"), get(port, "/hold"), get(port, "/head")];
  await waitFor(() => backend.received.length === 4, 5000);
  await new Promise((r) => setTimeout(r, 100));
  t.false(await plane.drain(300));
  const clients = await Promise.all(seen);
  await backend.close();
  const text = await plane.metrics.registry.metrics();
  t.log(`clients: ${clients.join("; ")}\n${series(text, "meshgate_http_requests_cut_total").join("\n")}\n${series(text, "meshgate_http_requests_total").join("\n")}`);
  t.deepEqual(series(text, "meshgate_http_requests_cut_total"), ['meshgate_http_requests_cut_total{reason="drain"} 3']);
  const codes = series(text, "meshgate_http_requests_total").map((l) => /code="(\d+)"\} (\d+)/.exec(l)?.slice(1).join("x")).sort();
  t.deepEqual(codes, ["0x2", "200x2"]);
});
