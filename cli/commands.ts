// The command line's one definition: every command and flag with its type, default, one-line
// help and environment fallback. Parsing, `--help`, README's synopsis and its defaults table are
// all generated from it, so they cannot drift apart.
import { REDIS_ENV } from "./redis-flags.js";

export interface FlagDef {
  /** Without the leading dashes. */
  name: string;
  type: "string" | "boolean";
  /** The value's placeholder in usage lines, e.g. DIR or N. */
  value?: string;
  /** Allowed values, checked when parsed; the placeholder where `value` is not given. */
  choices?: readonly string[];
  /** Applied when neither the flag nor its environment variable is given. */
  default?: string;
  /** The default in words, where it is computed at run time (one per CPU, a home folder). */
  defaultText?: string;
  required?: boolean;
  help: string;
  env?: string;
  /**
   * Who reads the environment variable: the parser (it fills the flag), or the Redis settings,
   * which need all of them at once (a mode on the command line wins over another in the
   * environment).
   */
  envReader?: "parser" | "redis-flags";
}

export interface CommandDef {
  name: string;
  summary: string;
  flags: readonly FlagDef[];
  /** Settings read from the environment only (secrets kept off the command line). */
  environment?: readonly { name: string; help: string }[];
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** gateway/hosts WORKER_MODES, in the order a reader meets them (a test keeps the two equal). */
export const WORKER_MODE_CHOICES = ["processes", "threads", "local"] as const;
export const DEFAULT_ADMIN = "127.0.0.1:9901";

const config: FlagDef = {
  name: "config",
  type: "string",
  value: "DIR",
  required: true,
  help: "the folder of Gateway API YAML (*.yaml, *.yml)",
};

/** Flags standalone and controller share, word for word. */
const adminPort: FlagDef = { name: "admin-port", type: "string", value: "PORT", default: "9901", help: "the admin port: /metrics /ready /status /config_dump" };
const adminAddress: FlagDef = { name: "admin-address", type: "string", value: "ADDRESS", default: "127.0.0.1", help: "the address the admin port binds" };
const logLevel: FlagDef = {
  name: "log-level",
  type: "string",
  value: "LEVEL",
  choices: LOG_LEVELS,
  default: "info",
  env: "MESHGATE_LOG_LEVEL",
  envReader: "parser",
  help: "the least severe level logged",
};
const drainTimeout: FlagDef = { name: "drain-timeout", type: "string", value: "SECONDS", default: "30", help: "how long requests in flight may finish after SIGTERM" };

const STATE_DIR_DEFAULT = "$XDG_STATE_HOME/meshgate, else ~/.local/state/meshgate (root: /var/lib/meshgate)";

export const COMMANDS: readonly CommandDef[] = [
  {
    name: "standalone",
    summary: "serve the Gateway API objects in a folder, applying changes as they are saved",
    flags: [
      config,
      { name: "workers", type: "string", value: "N", defaultText: "one per CPU", help: "data-plane workers on the same ports" },
      {
        name: "worker-mode",
        type: "string",
        choices: WORKER_MODE_CHOICES,
        defaultText: "processes",
        help: "what a worker is: a supervised process, a thread, or this process's event loop",
      },
      adminPort,
      adminAddress,
      { name: "access-log", type: "string", value: "stdout|off|FILE", default: "stdout", help: "where the access log goes" },
      logLevel,
      drainTimeout,
      {
        name: "state-dir",
        type: "string",
        value: "DIR",
        defaultText: STATE_DIR_DEFAULT,
        help: "ACME account keys and certificates (created private to the owner; never inside --config)",
      },
      { name: "demo-backend", type: "boolean", help: "also start the quickstart's echo backend on 127.0.0.1:9080" },
      { name: "instances", type: "string", value: "N", default: "1", help: "gateway instances sharing the Redis of Global rate limits" },
      { name: "redis", type: "string", value: "redis://HOST:PORT", env: REDIS_ENV.url, envReader: "redis-flags", help: "one Redis for Global rate limits (rediss:// for TLS)" },
      { name: "redis-sentinels", type: "string", value: "HOST:PORT,...", env: REDIS_ENV.sentinels, envReader: "redis-flags", help: "or Redis Sentinels (with --redis-sentinel-name)" },
      { name: "redis-sentinel-name", type: "string", value: "NAME", env: REDIS_ENV.sentinelName, envReader: "redis-flags", help: "the master's name the Sentinels know" },
      { name: "redis-cluster", type: "string", value: "HOST:PORT,...", env: REDIS_ENV.cluster, envReader: "redis-flags", help: "or Redis Cluster nodes" },
      { name: "redis-tls", type: "boolean", env: REDIS_ENV.tls, envReader: "redis-flags", help: "TLS to Sentinels or Cluster nodes" },
      { name: "redis-ca", type: "string", value: "CA.pem", env: REDIS_ENV.ca, envReader: "redis-flags", help: "a PEM CA to trust for Redis TLS" },
      { name: "redis-timeout", type: "string", value: "MS", defaultText: "250", env: REDIS_ENV.timeout, envReader: "redis-flags", help: "Redis reply timeout, then decided without Redis" },
    ],
    environment: [
      { name: REDIS_ENV.username, help: "the Redis user for Sentinel and Cluster (a standalone Redis takes it in its URL)" },
      { name: REDIS_ENV.password, help: "the Redis password for Sentinel and Cluster" },
    ],
  },
  {
    name: "controller",
    summary: "watch Gateway API objects in a Kubernetes cluster, write their status, and (--serve) serve them",
    flags: [
      {
        name: "kubeconfig",
        type: "string",
        value: "FILE",
        defaultText: "$KUBECONFIG, ~/.kube/config, else the pod's service account",
        help: "the cluster to watch and the credentials to use",
      },
      {
        name: "controller-name",
        type: "string",
        value: "NAME",
        default: "meshgate.io/gateway-controller",
        help: "GatewayClasses with this spec.controllerName are meshgate's",
      },
      { name: "serve", type: "boolean", help: "also run the data plane in this process, serving the cluster's Gateways" },
      {
        name: "leader-election-namespace",
        type: "string",
        value: "NS",
        defaultText: "$POD_NAMESPACE, the pod's namespace, else the kubeconfig context's",
        help: "where the Lease that elects the status writer lives",
      },
      { name: "leader-election-lease", type: "string", value: "NAME", default: "meshgate-controller", help: "the Lease's name (one per controller name)" },
      { name: "no-leader-election", type: "boolean", help: "write status without a Lease (one replica only)" },
      { name: "workers", type: "string", value: "N", defaultText: "one per CPU", help: "data-plane workers with --serve" },
      {
        name: "worker-mode",
        type: "string",
        choices: WORKER_MODE_CHOICES,
        defaultText: "processes",
        help: "what a worker is, with --serve",
      },
      adminPort,
      adminAddress,
      { name: "access-log", type: "string", value: "stdout|off|FILE", default: "stdout", help: "where the access log goes, with --serve" },
      logLevel,
      drainTimeout,
    ],
  },
  {
    name: "status",
    summary: "Gateway API conditions for a folder, beside what the running gateway serves; exit 1 on any problem",
    flags: [
      config,
      { name: "json", type: "boolean", help: "print the status report as JSON" },
      {
        name: "admin",
        type: "string",
        value: "ADDRESS:PORT",
        defaultText: `${DEFAULT_ADMIN}, skipped when nothing answers`,
        help: "the running gateway's admin port, to compare what it serves",
      },
      { name: "no-live", type: "boolean", help: "do not ask a running gateway" },
    ],
  },
  {
    name: "validate",
    summary: "check a folder before deploying it: every problem at once; exit 1 on any",
    flags: [config, { name: "json", type: "boolean", help: "print {ok, problems} as JSON, for CI" }],
  },
  { name: "crds", summary: "print meshgate's CustomResourceDefinitions as YAML: meshgate crds | kubectl apply -f -", flags: [] },
  { name: "version", summary: "print meshgate's version and the Node.js and uWebSockets.js it runs on", flags: [] },
];

export function commandNamed(name: string): CommandDef | undefined {
  return COMMANDS.find((c) => c.name === name);
}
