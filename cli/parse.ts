// The command line read against cli/commands.ts: which command, its flags with the parser's
// environment fallbacks and defaults applied, or a UsageError naming what is wrong (exit 2).
import { parseArgs } from "node:util";
import { type CommandDef, commandNamed } from "./commands.js";

export class UsageError extends Error {
  /** The command whose usage to print beside the message; undefined: the overview. */
  constructor(
    message: string,
    readonly command?: CommandDef,
  ) {
    super(message);
  }
}

export type FlagValues = Record<string, string | boolean | undefined>;

export type Invocation =
  | { kind: "help"; command?: CommandDef }
  | { kind: "version" }
  | { kind: "run"; command: CommandDef; values: FlagValues };

export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError("a command is required");
  if (first === "--help" || first === "-h") return { kind: "help" };
  if (first === "--version" || first === "-v") return { kind: "version" };
  if (first === "help") {
    if (rest[0] === undefined) return { kind: "help" };
    const command = commandNamed(rest[0]);
    if (command === undefined) throw new UsageError(`unknown command ${rest[0]}`);
    return { kind: "help", command };
  }
  const command = commandNamed(first);
  if (command === undefined) {
    throw new UsageError(first.startsWith("-") ? `unknown option ${first} (a command comes first)` : `unknown command ${first}`);
  }
  const values = parseFlags(command, rest, env);
  if (values["help"] === true) return { kind: "help", command };
  if (command.name === "version") return { kind: "version" };
  return { kind: "run", command, values };
}

function parseFlags(command: CommandDef, args: string[], env: Record<string, string | undefined>): FlagValues {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const flag of command.flags) options[flag.name] = { type: flag.type };
  let values: FlagValues;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // node:util's messages name the option and say what is wrong with it.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""), command);
  }
  if (values["help"] === true) return values;
  for (const flag of command.flags) {
    let source = `--${flag.name}`;
    if (values[flag.name] === undefined && flag.env !== undefined && flag.envReader === "parser") {
      // An empty variable counts as unset, as deployment templates often leave them.
      const fromEnv = env[flag.env];
      if (fromEnv !== undefined && fromEnv !== "") {
        values[flag.name] = fromEnv;
        source = flag.env;
      }
    }
    if (values[flag.name] === undefined && flag.default !== undefined) values[flag.name] = flag.default;
    const value = values[flag.name];
    if (value === undefined && flag.required) throw new UsageError(`--${flag.name} ${flag.value ?? ""} is required`.trimEnd(), command);
    if (typeof value === "string" && flag.choices !== undefined && !flag.choices.includes(value))
      throw new UsageError(`${source} must be one of ${flag.choices.join(", ")}, got "${value}"`, command);
  }
  return values;
}
