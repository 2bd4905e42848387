// The log stream of the real `meshgate standalone`, read from its stdout as a log shipper reads
// it: every line one JSON object with the level by name; uWebSockets.js's own lines (printed by
// native code for each SNI name) wrapped as debug lines of component "uws"; --log-level (here
// MESHGATE_LOG_LEVEL, its environment form) filtering supervisor and worker lines; a Secret
// whose key does not match named in a warn line without any key material; a request cut by the
// drain timeout logged as cut, not as the client's 499.
import { request as httpRequest } from "node:http";
import test, { type ExecutionContext } from "ava";
import { Agent, request } from "undici";
import { startBackend, type TestBackend } from "../support/backend.js";
import { tlsSecret } from "../support/controller-yaml.js";
import { basicConfig, configFolder, type RunningGateway, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { makeCa, type TestLeaf } from "../support/tls-certs.js";

const NAMES = ["shop", "api", "www"];

interface Line {
  level: string;
  msg?: string;
  component?: string;
  [field: string]: unknown;
}

/** Each stdout line parsed; a line that is not a JSON object with a string level is returned as a string. */
function lines(stdout: string): (Line | string)[] {
  return stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      try {
        const value = JSON.parse(l) as unknown;
        return typeof value === "object" && value !== null && typeof (value as Line).level === "string" ? (value as Line) : l;
      } catch {
        return l;
      }
    });
}

const parsed = (all: (Line | string)[]): Line[] => all.filter((l): l is Line => typeof l !== "string");
const notJson = (all: (Line | string)[]): string[] => all.filter((l): l is string => typeof l === "string");

/** A Gateway with one HTTPS listener per name on one port, each with its Secret; `leaves` by name. */
function httpsFolder(port: number, backendPort: number, leaves: Map<string, TestLeaf>): ReturnType<typeof configFolder> {
  const folder = configFolder();
  const listeners = NAMES.map(
    (n) => `  - {name: ${n}, protocol: HTTPS, port: ${port}, hostname: ${n}.example.com, tls: {certificateRefs: [{name: ${n}}]}}`,
  ).join("\n");
  folder.write("gateway.yaml", basicConfig(port, [backendPort]).replace(`  - {name: http, protocol: HTTP, port: ${port}}`, listeners));
  folder.write("secrets.yaml", NAMES.map((n) => tlsSecret(n, leaves.get(n)!.chainPem, leaves.get(n)!.keyPem)).join(""));
  return folder;
}

/** Serves HTTPS for every name (handshake and request), then stops: the whole stdout. */
async function serveHttps(args: string[], env: Record<string, string>): Promise<{ stdout: string; gw: RunningGateway }> {
  const ca = await makeCa();
  const leaves = new Map<string, TestLeaf>();
  for (const n of NAMES) leaves.set(n, await ca.issue([`${n}.example.com`]));
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = httpsFolder(port, backend.port, leaves);
  const gw = await startMeshgate(folder.dir, args, env);
  try {
    for (const n of NAMES) {
      const res = await request(`https://127.0.0.1:${port}/hello`, {
        headers: { host: `${n}.example.com:${port}` },
        dispatcher: new Agent({ connect: { ca: ca.certPem, servername: `${n}.example.com` } }),
      });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${n}: ${res.statusCode}`);
    }
  } finally {
    await gw.stop();
    await backend.close();
  }
  return { stdout: gw.stdout(), gw };
}

function excerpt(t: ExecutionContext, title: string, all: Line[], level: string, count = 2): void {
  const some = all.filter((l) => l.level === level).slice(0, count);
  t.log(`${title}, level ${level}:\n${some.map((l) => JSON.stringify(l)).join("\n")}`);
}

test("while HTTPS with three SNI names is served by worker processes, every stdout line is JSON with a level name; uws lines are hidden at info", async (t) => {
  const { stdout } = await serveHttps([], {});
  const all = lines(stdout);
  t.deepEqual(notJson(all), []);
  const json = parsed(all);
  t.true(json.length > 5, stdout);
  t.true(json.some((l) => l.type === "access" && l.level === "info"));
  t.true(json.some((l) => l.component === "meshgate" && l.level === "info" && l.msg === "configuration applied"));
  t.deepEqual(json.filter((l) => l.component === "uws"), []);
  t.true(json.every((l) => ["trace", "debug", "info", "warn", "error", "fatal"].includes(l.level)), stdout);
  excerpt(t, "default level", json, "info", 3);
});

test("the control: with --worker-mode local (the same process prints) uWS's own lines land on stdout, so the check above can fail", async (t) => {
  const { stdout } = await serveHttps(["--workers", "1", "--worker-mode", "local"], {});
  const native = notJson(lines(stdout));
  t.log(`stdout lines that are not JSON, worker mode local:\n${native.join("\n")}`);
  // Two lines per SNI name (found, browsed) when the names are given to the one app.
  t.deepEqual(
    [...native].sort(),
    NAMES.flatMap((n) => [`finding ${n}.example.com`, `Browsed to SNI: ${n}.example.com`]).sort(),
  );
});

test("at --log-level debug uWS's own lines come wrapped, as debug lines of component uws, per worker", async (t) => {
  const { stdout } = await serveHttps([], { MESHGATE_LOG_LEVEL: "debug" });
  const all = lines(stdout);
  t.deepEqual(notJson(all), []);
  const uws = parsed(all).filter((l) => l.component === "uws");
  t.true(uws.every((l) => l.level === "debug"));
  // Each of the two workers prints both lines for each name.
  for (const worker of [0, 1])
    t.deepEqual(
      uws.filter((l) => l.worker === worker).map((l) => l.msg).sort(),
      NAMES.flatMap((n) => [`finding ${n}.example.com`, `Browsed to SNI: ${n}.example.com`]).sort(),
    );
  excerpt(t, "--log-level debug", parsed(all), "debug", 2);
});

test("--log-level warn: no info line from the supervisor or the workers; access lines stay (the access log has its own switch)", async (t) => {
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir, [], { MESHGATE_LOG_LEVEL: "warn" });
  try {
    const res = await request(`http://127.0.0.1:${port}/a`);
    t.is(res.statusCode, 200);
    await res.body.text();
    // A refused object gives the warn level something to show.
    folder.write("bad.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: broken}\nspec: {rules: 5}\n");
    await waitFor(() => gw.stdout().includes('"level":"warn"'), 5000);
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
  const all = lines(gw.stdout());
  t.deepEqual(notJson(all), []);
  const json = parsed(all);
  t.deepEqual(json.filter((l) => l.type !== "access" && (l.level === "info" || l.level === "debug")), []);
  t.is(json.filter((l) => l.type === "access").length, 1);
  t.true(json.some((l) => l.level === "warn" && l.msg === "configuration object refused" && l.file === "bad.yaml"));
  excerpt(t, "--log-level warn", json, "warn", 2);
});

test("a Secret whose key does not match its certificate: one warn line naming the Secret and the reason, no key material; a YAML error in a Secret file quotes no line of it", async (t) => {
  const ca = await makeCa();
  const leaves = new Map<string, TestLeaf>();
  for (const n of NAMES) leaves.set(n, await ca.issue([`${n}.example.com`]));
  const other = await ca.issue(["shop.example.com"]);
  // shop's certificate with another key.
  leaves.set("shop", { ...leaves.get("shop")!, keyPem: other.keyPem });
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = httpsFolder(port, backend.port, leaves);
  const gw = await startMeshgate(folder.dir);
  let stdout = "";
  try {
    // An unrelated change reloads: the refusal is not repeated.
    folder.write("unrelated.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: default}\nspec: {ports: [{port: 80}]}\n");
    await waitFor(() => gw.stdout().split("configuration applied").length > 2, 5000);
    // A key line that breaks the YAML: the parser's message would quote it.
    const keyLine = Buffer.from(leaves.get("api")!.keyPem).toString("base64").slice(0, 60);
    folder.write("broken-secret.yaml", `apiVersion: v1\nkind: Secret\nmetadata: {name: broken}\ndata:\n  tls.key: ${keyLine}: x: y\n`);
    await waitFor(() => gw.stdout().includes("broken-secret.yaml"), 5000);
    stdout = gw.stdout();
    t.false(stdout.includes(keyLine.slice(0, 40)), "the broken line is quoted");
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
  const json = parsed(lines(stdout));
  const refused = json.filter((l) => l.msg === "configuration object refused" && String(l.reason).includes("Secret default/shop"));
  t.is(refused.length, 1, stdout);
  t.like(refused[0], {
    level: "warn",
    kind: "Gateway",
    namespace: "default",
    name: "edge",
    listener: "shop",
    condition: "ResolvedRefs",
    conditionReason: "InvalidCertificateRef",
    reason: "Secret default/shop: tls.key does not match the certificate in tls.crt",
  });
  const yamlLine = json.find((l) => l.file === "broken-secret.yaml");
  t.like(yamlLine, { level: "warn", msg: "configuration object refused" });
  t.regex(String(yamlLine?.reason), /^YAML: .* at line 5, column \d+$/);
  for (const secret of [...leaves.values(), other]) {
    t.false(stdout.includes(secret.keyPem.split("\n")[1]!), "a line of a private key is in the log");
    t.false(stdout.includes(Buffer.from(secret.keyPem).toString("base64").slice(0, 40)), "the base64 of a key is in the log");
  }
  t.false(stdout.includes("-----BEGIN"));
  t.log(`the refused Secret, as logged:\n${JSON.stringify(refused[0])}\n${JSON.stringify(yamlLine)}`);
});

/** A backend that answers nothing (`hold`) or only its head (`head`) until closed. */
function holdingBackend(backend: TestBackend): void {
  backend.behave((req, res) => {
    if (req.url === "/head") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first part;");
    }
  });
}

test("a request cut by the drain timeout is logged as cut (status 0 when no head was sent, the head's status otherwise), at warn, with the count", async (t) => {
  const backend = await startBackend("slow");
  holdingBackend(backend);
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir, ["--drain-timeout", "1"]);
  const outcomes: string[] = [];
  const ask = (path: string) =>
    new Promise<void>((resolve) => {
      const req = httpRequest({ port, path }, (res) => {
        res.on("data", () => undefined);
        res.on("close", () => {
          outcomes.push(`${path}: ${res.statusCode} ${res.complete ? "complete" : "cut"}`);
          resolve();
        });
      });
      req.on("error", (err) => {
        outcomes.push(`${path}: ${err.message}`);
        resolve();
      });
      req.end();
    });
  const asked = [ask("/hold"), ask("/head")];
  try {
    await waitFor(() => backend.received.length === 2, 5000);
    await new Promise((r) => setTimeout(r, 200)); // the /head answer's head reaches the client
  } finally {
    t.is(await gw.stop(), 0);
  }
  await Promise.all(asked);
  await backend.close();
  t.log(`what the clients saw: ${outcomes.sort().join("; ")}`);
  const json = parsed(lines(gw.stdout()));
  const access = json.filter((l) => l.type === "access");
  t.is(access.length, 2);
  t.like(access.find((l) => l.path === "/hold"), { level: "warn", status: 0, cut: "drain" });
  t.like(access.find((l) => l.path === "/head"), { level: "warn", status: 200, cut: "drain" });
  t.false(access.some((l) => l.status === 499));
  const cuts = json.filter((l) => l.msg === "drain timeout passed: requests still in flight are cut");
  t.is(cuts.reduce((n, l) => n + Number(l.requests), 0), 2);
  t.true(cuts.every((l) => l.level === "warn"));
  t.log(`a drain-cut request, as logged:\n${access.map((l) => JSON.stringify(l)).join("\n")}\n${cuts.map((l) => JSON.stringify(l)).join("\n")}`);
});

test("a worker's crash: its error line on stdout from the supervisor, and nothing on stdout that is not JSON", async (t) => {
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir);
  try {
    const workers = JSON.parse((await gw.admin("/status")).text).workers as { pid: number }[];
    process.kill(workers[0]!.pid, "SIGKILL");
    await waitFor(() => gw.stdout().includes("data-plane worker died"), 5000);
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
  const all = lines(gw.stdout());
  t.deepEqual(notJson(all), []);
  const died = parsed(all).find((l) => l.msg === "data-plane worker died; starting it again");
  t.like(died, { level: "error", component: "meshgate", exit: "signal SIGKILL" });
  excerpt(t, "a worker killed", parsed(all), "error", 1);
});
