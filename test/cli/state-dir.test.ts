// Where ACME keys go by default: outside the config folder, private to the owner; a state
// folder inside the config folder is refused before anything starts.
import test from "ava";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultStateDir, isInside } from "../../cli/state-dir.js";
import { runCli } from "../support/cli.js";
import { basicConfig, configFolder, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("the default state folder: $XDG_STATE_HOME/meshgate, else /var/lib/meshgate for root, else ~/.local/state/meshgate", (t) => {
  t.is(defaultStateDir({ env: { XDG_STATE_HOME: "/srv/state" }, uid: 1000, home: "/home/ann" }), "/srv/state/meshgate");
  t.is(defaultStateDir({ env: { XDG_STATE_HOME: "/srv/state" }, uid: 0, home: "/root" }), "/srv/state/meshgate");
  t.is(defaultStateDir({ env: {}, uid: 0, home: "/root" }), "/var/lib/meshgate");
  t.is(defaultStateDir({ env: {}, uid: 1000, home: "/home/ann" }), "/home/ann/.local/state/meshgate");
  // The XDG spec ignores a relative value.
  t.is(defaultStateDir({ env: { XDG_STATE_HOME: "state" }, uid: 1000, home: "/home/ann" }), "/home/ann/.local/state/meshgate");
  t.is(defaultStateDir({ env: {}, uid: undefined, home: "C:\\Users\\ann" }), join("C:\\Users\\ann", ".local", "state", "meshgate"));
});

test("inside the config folder: the folder itself, below it, through .., not a sibling with the same prefix", (t) => {
  t.true(isInside("/etc/mg", "/etc/mg"));
  t.true(isInside("/etc/mg/.state", "/etc/mg"));
  t.true(isInside("/etc/other/../mg/keys", "/etc/mg"));
  t.false(isInside("/etc/mg-state", "/etc/mg"));
  t.false(isInside("/etc", "/etc/mg"));
});

test("standalone creates the default state folder private to its owner (0700)", async (t) => {
  const config = configFolder();
  t.teardown(() => rmSync(config.dir, { recursive: true, force: true }));
  config.write("gateway.yaml", basicConfig(await freePort(), [9]));
  const home = tempDir(t, "mg-home-");
  // XDG_STATE_HOME decides for root too; HOME is what decides for everyone else when it is unset.
  const asRoot = process.getuid?.() === 0;
  const env: Record<string, string> = asRoot ? { XDG_STATE_HOME: join(home, "xdg") } : { HOME: home, XDG_STATE_HOME: "" };
  const expected = asRoot ? join(home, "xdg", "meshgate") : join(home, ".local", "state", "meshgate");
  const gw = await startMeshgate(config.dir, [], env);
  t.teardown(async () => {
    await gw.stop();
  });
  t.is(statSync(expected).mode & 0o777, 0o700);
  t.notRegex(gw.output(), /state folder .* has mode/);
  // /ready answers once the first configuration is applied, a moment before the start-up line is written.
  const startedLine = () => gw.output().split("\n").find((l) => l.includes("meshgate standalone started"));
  await waitFor(() => startedLine() !== undefined, 10_000);
  const started = startedLine() ?? "{}";
  t.is((JSON.parse(started) as { stateDir?: string }).stateDir, expected);
});

test("a state folder that others can read is used with a warning", async (t) => {
  const config = configFolder();
  t.teardown(() => rmSync(config.dir, { recursive: true, force: true }));
  config.write("gateway.yaml", basicConfig(await freePort(), [9]));
  const state = join(tempDir(t, "mg-open-state-"), "meshgate");
  mkdirSync(state);
  chmodSync(state, 0o755);
  const gw = await startMeshgate(config.dir, ["--state-dir", state]);
  t.teardown(async () => {
    await gw.stop();
  });
  t.regex(gw.output(), new RegExp(`"msg":"state folder ${state} has mode 0755: others can list it`));
});

test("a state folder inside the config folder is refused with exit 2, before anything is written", async (t) => {
  const config = tempDir(t, "mg-config-");
  for (const inside of [join(config, ".meshgate-state"), config, join(config, "keys", "..", "acme")]) {
    const run = await runCli(["standalone", "--config", config, "--admin-port", "0", "--state-dir", inside]);
    t.is(run.code, 2, inside);
    t.regex(run.stderr, /^meshgate: --state-dir .* is inside the config folder .*: private keys are never written there/);
    t.regex(run.stderr, /usage: meshgate standalone/);
  }
  t.throws(() => statSync(join(config, ".meshgate-state")), { code: "ENOENT" });
  t.throws(() => statSync(join(config, "acme")), { code: "ENOENT" });
});
