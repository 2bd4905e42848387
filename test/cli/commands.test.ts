// The command line as a user meets it: --version and --help for every command, exit codes for
// mistakes, and README's synopsis and defaults table exactly as cli/commands.ts generates them.
import test from "ava";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { COMMANDS, WORKER_MODE_CHOICES } from "../../cli/commands.js";
import { GENERATED, generatedBlock, withGeneratedDocs } from "../../cli/readme-docs.js";
import { WORKER_MODES } from "../../gateway/hosts/index.js";
import { runCli } from "../support/cli.js";

const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { version: string };
const uws = JSON.parse(readFileSync(fileURLToPath(new URL("../../../node_modules/uWebSockets.js/package.json", import.meta.url)), "utf8")) as { version: string };

test("--version, -v and version print meshgate's, Node's and uWebSockets.js's versions and exit 0", async (t) => {
  const expected = `meshgate ${pkg.version} (node ${process.versions.node}, uWebSockets.js ${uws.version})\n`;
  for (const args of [["--version"], ["-v"], ["version"]]) {
    const run = await runCli(args);
    t.is(run.code, 0, args.join(" "));
    t.is(run.stdout, expected, args.join(" "));
    t.is(run.stderr, "");
  }
  t.log(`meshgate --version: ${expected.trim()}`);
});

test("--help, -h and help list every command and exit 0", async (t) => {
  for (const args of [["--help"], ["-h"], ["help"]]) {
    const run = await runCli(args);
    t.is(run.code, 0, args.join(" "));
    t.regex(run.stdout, /^usage: meshgate COMMAND \[options\]/);
    for (const c of COMMANDS) t.regex(run.stdout, new RegExp(`^  ${c.name}\\s+${c.summary.slice(0, 20)}`, "m"), c.name);
  }
});

test("COMMAND --help, -h and help COMMAND print that command's usage and every flag it takes", async (t) => {
  for (const command of COMMANDS) {
    const runs = [await runCli([command.name, "--help"]), await runCli([command.name, "-h"]), await runCli(["help", command.name])];
    for (const run of runs) {
      t.is(run.code, 0, command.name);
      t.true(run.stdout.startsWith(`usage: meshgate ${command.name}`), run.stdout);
      for (const flag of command.flags) t.regex(run.stdout, new RegExp(`^  --${flag.name}\\b`, "m"), `${command.name} --${flag.name}`);
      t.is(run.stdout, runs[0]?.stdout ?? "");
    }
  }
  const standalone = (await runCli(["standalone", "--help"])).stdout;
  t.regex(standalone, /--log-level LEVEL\s+the least severe level logged \(one of trace, debug, info,\s+warn, error, fatal, silent; default: info; env\s+MESHGATE_LOG_LEVEL\)/);
  t.regex(standalone, /--state-dir DIR[\s\S]*~\/\.local\/state\/meshgate[\s\S]*\/var\/lib\/meshgate/);
});

test("mistakes exit 2 with the reason and the usage that applies", async (t) => {
  const unknownFlag = await runCli(["validate", "--config", ".", "--bogus"]);
  t.is(unknownFlag.code, 2);
  t.regex(unknownFlag.stderr, /^meshgate: Unknown option '--bogus'/);
  t.regex(unknownFlag.stderr, /usage: meshgate validate --config DIR \[--json\]/);
  t.is(unknownFlag.stdout, "");

  const unknownCommand = await runCli(["serve", "--config", "."]);
  t.is(unknownCommand.code, 2);
  t.regex(unknownCommand.stderr, /^meshgate: unknown command serve\n\nusage: meshgate COMMAND/);

  const noCommand = await runCli([]);
  t.is(noCommand.code, 2);
  t.regex(noCommand.stderr, /a command is required[\s\S]*commands:/);

  const noConfig = await runCli(["status"]);
  t.is(noConfig.code, 2);
  t.regex(noConfig.stderr, /^meshgate: --config DIR is required\n\nusage: meshgate status/);

  const positional = await runCli(["validate", "--config", ".", "extra"]);
  t.is(positional.code, 2);
  t.regex(positional.stderr, /Unexpected argument 'extra'/);

  const badLevel = await runCli(["standalone", "--config", ".", "--log-level", "loud"]);
  t.is(badLevel.code, 2);
  t.regex(badLevel.stderr, /^meshgate: --log-level must be one of trace, debug, info, warn, error, fatal, silent, got "loud"/);
  const badEnvLevel = await runCli(["standalone", "--config", "."], { MESHGATE_LOG_LEVEL: "verbose" });
  t.is(badEnvLevel.code, 2);
  t.regex(badEnvLevel.stderr, /^meshgate: MESHGATE_LOG_LEVEL must be one of .*got "verbose"/);

  const badMode = await runCli(["standalone", "--config", ".", "--worker-mode", "fibers"]);
  t.is(badMode.code, 2);
  t.regex(badMode.stderr, /--worker-mode must be one of processes, threads, local, got "fibers"/);
});

test("the worker modes offered are the ones the hosts run", (t) => {
  t.deepEqual([...WORKER_MODE_CHOICES].sort(), [...WORKER_MODES].sort());
});

test("README's synopsis and defaults table are exactly what cli/commands.ts generates (npm run docs:cli)", (t) => {
  const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");
  for (const part of GENERATED) t.true(readme.includes(generatedBlock(part.name, part.text())), `${part.name}: run npm run docs:cli`);
  t.is(withGeneratedDocs(readme), readme);
  // The synopsis names every flag of every command.
  for (const command of COMMANDS) for (const flag of command.flags) t.true(readme.includes(`--${flag.name}`), flag.name);
});
