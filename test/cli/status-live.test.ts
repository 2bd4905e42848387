// `meshgate status` exit codes, and its live part against a real running `meshgate standalone`:
// once a file breaks, the files show the problem while the gateway still serves the last good
// configuration. The same gateway reports its version in the log, /status and /metrics.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../support/cli.js";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";

const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { version: string }).version;

function folder(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "mg-status-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test("status exits 0 when everything is accepted and programmed, 1 when anything is not", async (t) => {
  const good = folder(t, { "gateway.yaml": basicConfig(18090, [9]) });
  const ok = await runCli(["status", "--config", good, "--no-live"]);
  t.is(ok.code, 0, ok.stdout);
  t.regex(ok.stdout, /default\/app\s+\*\s+default\/edge\s+True\s+True/);

  const missingBackend = folder(t, { "gateway.yaml": basicConfig(18090, [9], { service: "backend" }).replace("name: backend, port: 80", "name: nobody, port: 80") });
  const refused = await runCli(["status", "--config", missingBackend, "--no-live"]);
  t.is(refused.code, 1);
  t.regex(refused.stdout, /BackendNotFound: Service default\/nobody not found/);

  const unreadable = folder(t, { "gateway.yaml": basicConfig(18090, [9]), "extra.yaml": "kind: [\n" });
  const loadError = await runCli(["status", "--config", unreadable, "--no-live", "--json"]);
  t.is(loadError.code, 1);
  t.is((JSON.parse(loadError.stdout) as { loadErrors: unknown[] }).loadErrors.length, 1);
});

test("status on a missing folder exits 2 with its name; on an empty one says so and exits 1", async (t) => {
  const missing = await runCli(["status", "--config", "/nonexistent/meshgate-config", "--no-live"]);
  t.is(missing.code, 2);
  t.is(missing.stderr, "meshgate: config folder /nonexistent/meshgate-config does not exist\n");
  t.is(missing.stdout, "");
  const empty = folder(t, {});
  const run = await runCli(["status", "--config", empty, "--no-live"]);
  t.is(run.code, 1);
  t.true(run.stdout.startsWith(`no Gateway API objects in ${empty}\n`), run.stdout);
});

test("status beside a running gateway: a broken file shows in the files while the gateway serves the last good configuration", async (t) => {
  const port = await freePort();
  const backend = await startBackend("app");
  t.teardown(() => backend.close());
  const config = configFolder();
  t.teardown(() => rmSync(config.dir, { recursive: true, force: true }));
  config.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(config.dir);
  t.teardown(async () => {
    await gw.stop();
  });
  const admin = `127.0.0.1:${gw.adminPort}`;

  const agreeing = await runCli(["status", "--config", config.dir, "--admin", admin]);
  t.is(agreeing.code, 0, agreeing.stdout + agreeing.stderr);
  t.regex(agreeing.stdout, new RegExp(`LIVE: gateway at ${admin} \\(meshgate ${VERSION.replaceAll(".", "\\.")}\\), serving configuration version \\d+\\n  it serves the listeners and routes the files say\\n$`));

  // The route's file breaks: the gateway refuses it and keeps serving the route.
  config.write("gateway.yaml", basicConfig(port, [backend.port]).replace("kind: HTTPRoute", "kind: HTTPRoute\nspec: [broken"));
  await waitFor(async () => JSON.parse((await gw.admin("/status")).text).refused !== undefined, 10_000);
  t.is((await fetch(`http://127.0.0.1:${port}/`)).status, 200, "the last good configuration serves");

  const broken = await runCli(["status", "--config", config.dir, "--admin", admin]);
  t.log(`\n$ meshgate status --config DIR --admin ${admin}\n${broken.stdout}`);
  t.is(broken.code, 1);
  const [files, live] = broken.stdout.split("\nLIVE: ");
  t.regex(files ?? "", /FILE\s+DOC\s+OBJECT\s+ERROR\ngateway\.yaml\s+2\s+-\s+YAML:/, "the files show the broken document");
  t.notRegex(files ?? "", /^default\/app /m, "the files have no route");
  t.regex(live ?? "", /it REFUSES the current files and keeps serving its last good configuration:\n {4}gateway\.yaml: YAML:/);
  t.regex(live ?? "", /WHERE FILES AND SERVING DIFFER\s+FILES\s+SERVING\nHTTPRoute default\/app\s+-\s+Accepted\n/);

  // --json carries the same live part for scripts.
  const json = JSON.parse((await runCli(["status", "--config", config.dir, "--admin", admin, "--json"])).stdout) as {
    live: { version: string; refused: string[]; differences: { object: string; files: string; serving: string }[] };
  };
  t.is(json.live.version, VERSION);
  t.is(json.live.refused.length, 1);
  t.deepEqual(json.live.differences, [{ object: "HTTPRoute default/app", files: "-", serving: "Accepted" }]);

  // An explicit admin address where nothing answers is said and counted; --no-live skips it.
  const nobody = `127.0.0.1:${await freePort()}`;
  const unreachable = await runCli(["status", "--config", config.dir, "--admin", nobody]);
  t.is(unreachable.code, 1);
  t.regex(unreachable.stderr, new RegExp(`meshgate: no gateway status at ${nobody}: ECONNREFUSED`));
  const filesOnly = await runCli(["status", "--config", config.dir, "--admin", admin, "--no-live"]);
  t.false(filesOnly.stdout.includes("LIVE:"));
});

test("the version is in the start-up log, admin /status and meshgate_build_info, once", async (t) => {
  const config = configFolder();
  t.teardown(() => rmSync(config.dir, { recursive: true, force: true }));
  config.write("gateway.yaml", basicConfig(await freePort(), [9]));
  const gw = await startMeshgate(config.dir);
  t.teardown(async () => {
    await gw.stop();
  });
  const status = JSON.parse((await gw.admin("/status")).text) as { version: string };
  t.is(status.version, VERSION);
  const metrics = (await gw.admin("/metrics")).text;
  const info = metrics.split("\n").filter((l) => l.startsWith("meshgate_build_info"));
  t.log(info.join("\n"));
  t.is(info.length, 1, "one series, not one per worker");
  t.regex(info[0] ?? "", new RegExp(`^meshgate_build_info\\{.*version="${VERSION}".*\\} 1$`));
  t.true((info[0] ?? "").includes(`node="${process.versions.node}"`));
  t.regex(info[0] ?? "", /uws="20\.30\.\d[^"]*"/);
  await waitFor(async () => gw.output().includes("meshgate standalone started"), 5000);
  const started = gw.output().split("\n").find((l) => l.includes("meshgate standalone started")) ?? "";
  t.is((JSON.parse(started) as { version?: string }).version, VERSION);
});
