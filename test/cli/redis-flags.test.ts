// The Redis settings of the command line: each mode, environment fallbacks, refusals; and the
// real `meshgate` process refusing a bad setting with exit code 2 and the reason.
import test from "ava";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addressList, RedisFlagError, redisTargetFrom } from "../../cli/redis-flags.js";

const refused = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof RedisFlagError) return error.message;
    throw error;
  }
  throw new Error("not refused");
};

test("no Redis setting: no target", (t) => {
  t.is(redisTargetFrom({}, {}), undefined);
  // Empty variables, as templates leave them, count as unset.
  t.is(redisTargetFrom({}, { MESHGATE_REDIS_URL: "", MESHGATE_REDIS_CLUSTER: "" }), undefined);
});

test("--redis and MESHGATE_REDIS_URL give a standalone target; the flag wins", (t) => {
  t.deepEqual(redisTargetFrom({ redis: "redis://127.0.0.1:6379" }, {}), { mode: "standalone", url: "redis://127.0.0.1:6379" });
  t.deepEqual(redisTargetFrom({}, { MESHGATE_REDIS_URL: "rediss://cache:6380/2" }), { mode: "standalone", url: "rediss://cache:6380/2", tls: {} });
  t.deepEqual(redisTargetFrom({ redis: "redis://flag:1" }, { MESHGATE_REDIS_URL: "redis://env:2" }), {
    mode: "standalone",
    url: "redis://flag:1",
  });
});

test("--redis-sentinels with a master name gives a sentinel target, also from the environment", (t) => {
  t.deepEqual(redisTargetFrom({ "redis-sentinels": "10.0.0.1:26379, sentinel-b:26380", "redis-sentinel-name": "mymaster" }, {}), {
    mode: "sentinel",
    sentinels: [
      { host: "10.0.0.1", port: 26379 },
      { host: "sentinel-b", port: 26380 },
    ],
    name: "mymaster",
  });
  t.deepEqual(
    redisTargetFrom(
      {},
      { MESHGATE_REDIS_SENTINELS: "[::1]:26379", MESHGATE_REDIS_SENTINEL_NAME: "cache", MESHGATE_REDIS_PASSWORD: "pw", MESHGATE_REDIS_USERNAME: "gw" },
    ),
    { mode: "sentinel", sentinels: [{ host: "::1", port: 26379 }], name: "cache", username: "gw", password: "pw" },
  );
  // The name may come from the environment while the sentinels come from the command line.
  t.like(redisTargetFrom({ "redis-sentinels": "s:1" }, { MESHGATE_REDIS_SENTINEL_NAME: "envname" }), { name: "envname" });
});

test("--redis-cluster gives a cluster target, also from the environment, with credentials from the environment", (t) => {
  t.deepEqual(redisTargetFrom({ "redis-cluster": "127.0.0.1:7000,127.0.0.1:7001" }, {}), {
    mode: "cluster",
    nodes: [
      { host: "127.0.0.1", port: 7000 },
      { host: "127.0.0.1", port: 7001 },
    ],
  });
  t.deepEqual(redisTargetFrom({}, { MESHGATE_REDIS_CLUSTER: "redis-0.redis:6379", MESHGATE_REDIS_PASSWORD: "pw" }), {
    mode: "cluster",
    nodes: [{ host: "redis-0.redis", port: 6379 }],
    password: "pw",
  });
});

test("a mode on the command line wins over a different mode in the environment", (t) => {
  t.like(redisTargetFrom({ "redis-cluster": "a:1" }, { MESHGATE_REDIS_URL: "redis://env:2" }), { mode: "cluster" });
  t.like(redisTargetFrom({ redis: "redis://flag:1" }, { MESHGATE_REDIS_CLUSTER: "a:1", MESHGATE_REDIS_SENTINEL_NAME: "unused" }), {
    mode: "standalone",
  });
});

test("two modes from the same place are refused, naming both", (t) => {
  t.is(
    refused(() => redisTargetFrom({ redis: "redis://a:1", "redis-cluster": "b:2" }, {})),
    "give one Redis mode, not --redis and --redis-cluster",
  );
  t.is(
    refused(() => redisTargetFrom({}, { MESHGATE_REDIS_SENTINELS: "a:1", MESHGATE_REDIS_CLUSTER: "b:2", MESHGATE_REDIS_SENTINEL_NAME: "m" })),
    "give one Redis mode, not MESHGATE_REDIS_SENTINELS and MESHGATE_REDIS_CLUSTER",
  );
});

test("incomplete or malformed settings are refused with the reason", (t) => {
  t.regex(refused(() => redisTargetFrom({ redis: "127.0.0.1:6379" }, {})), /--redis must be a redis:\/\/ or rediss:\/\/ URL/);
  t.regex(refused(() => redisTargetFrom({}, { MESHGATE_REDIS_URL: "http://x" })), /^MESHGATE_REDIS_URL must be/);
  t.regex(refused(() => redisTargetFrom({ "redis-sentinels": "a:1" }, {})), /needs the master's name/);
  t.regex(refused(() => redisTargetFrom({ "redis-sentinels": "a:1", "redis-sentinel-name": "two words" }, {})), /one word/);
  t.regex(refused(() => redisTargetFrom({ "redis-sentinel-name": "m" }, {})), /--redis-sentinel-name needs --redis-sentinels/);
  t.regex(refused(() => redisTargetFrom({ "redis-sentinel-name": "m", "redis-cluster": "a:1" }, {})), /needs --redis-sentinels/);
  t.regex(
    refused(() => redisTargetFrom({ redis: "redis://a:1" }, { MESHGATE_REDIS_PASSWORD: "pw" })),
    /credentials in its URL/,
  );
  t.regex(refused(() => redisTargetFrom({ "redis-cluster": "" }, {})), /comma-separated list of host:port/);
});

const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const files = (path: string) => {
  if (path === "/etc/redis-ca.pem") return CA_PEM;
  if (path === "/etc/not-a-cert.pem") return "-----BEGIN PRIVATE KEY-----\n";
  throw new Error(`ENOENT: no such file or directory, open '${path}'`);
};

test("TLS: a rediss:// URL turns it on; --redis-ca or MESHGATE_REDIS_CA says which CA to trust", (t) => {
  t.deepEqual(redisTargetFrom({ redis: "rediss://cache:6380", "redis-ca": "/etc/redis-ca.pem" }, {}, files), {
    mode: "standalone",
    url: "rediss://cache:6380",
    tls: { ca: CA_PEM },
  });
  t.deepEqual(redisTargetFrom({}, { MESHGATE_REDIS_URL: "rediss://cache:6380", MESHGATE_REDIS_CA: "/etc/redis-ca.pem" }, files), {
    mode: "standalone",
    url: "rediss://cache:6380",
    tls: { ca: CA_PEM },
  });
  // Redundant but consistent.
  t.like(redisTargetFrom({ redis: "rediss://cache:6380", "redis-tls": true }, {}, files), { tls: {} });
});

test("TLS for Sentinel and Cluster: --redis-tls or MESHGATE_REDIS_TLS, or a CA to trust; off otherwise", (t) => {
  t.like(redisTargetFrom({ "redis-cluster": "a:1", "redis-tls": true }, {}, files), { mode: "cluster", tls: {} });
  t.like(redisTargetFrom({}, { MESHGATE_REDIS_CLUSTER: "a:1", MESHGATE_REDIS_TLS: "TRUE" }, files), { tls: {} });
  t.like(redisTargetFrom({}, { MESHGATE_REDIS_CLUSTER: "a:1", MESHGATE_REDIS_TLS: "1" }, files), { tls: {} });
  t.deepEqual(redisTargetFrom({ "redis-sentinels": "s:1", "redis-sentinel-name": "m", "redis-ca": "/etc/redis-ca.pem" }, {}, files), {
    mode: "sentinel",
    sentinels: [{ host: "s", port: 1 }],
    name: "m",
    tls: { ca: CA_PEM },
  });
  for (const off of ["false", "0", "no", ""]) {
    t.false("tls" in (redisTargetFrom({}, { MESHGATE_REDIS_CLUSTER: "a:1", MESHGATE_REDIS_TLS: off }, files) ?? {}), off);
  }
});

test("TLS settings that cannot hold are refused with the reason", (t) => {
  t.regex(
    refused(() => redisTargetFrom({ redis: "redis://cache:6379", "redis-tls": true }, {}, files)),
    /^--redis is a redis:\/\/ URL \(no TLS\), but Redis TLS settings are given: write rediss:\/\/ for TLS$/,
  );
  t.regex(refused(() => redisTargetFrom({}, { MESHGATE_REDIS_URL: "redis://c:1", MESHGATE_REDIS_CA: "/etc/redis-ca.pem" }, files)), /write rediss:\/\//);
  t.regex(refused(() => redisTargetFrom({ "redis-tls": true }, {}, files)), /Redis TLS settings given, but no Redis/);
  t.regex(refused(() => redisTargetFrom({}, { MESHGATE_REDIS_CLUSTER: "a:1", MESHGATE_REDIS_TLS: "sometimes" }, files)), /MESHGATE_REDIS_TLS must be true or false, got "sometimes"/);
  t.is(
    refused(() => redisTargetFrom({ "redis-cluster": "a:1", "redis-ca": "/etc/missing.pem" }, {}, files)),
    "Redis CA file /etc/missing.pem: ENOENT: no such file or directory, open '/etc/missing.pem'",
  );
  t.is(refused(() => redisTargetFrom({ "redis-cluster": "a:1", "redis-ca": "/etc/not-a-cert.pem" }, {}, files)), "Redis CA file /etc/not-a-cert.pem holds no PEM certificate");
});

test("--redis-timeout or MESHGATE_REDIS_TIMEOUT_MS sets the Redis call timeout, in milliseconds", (t) => {
  t.like(redisTargetFrom({ redis: "redis://a:1", "redis-timeout": "40" }, {}), { mode: "standalone", timeoutMs: 40 });
  t.like(redisTargetFrom({ "redis-cluster": "a:1" }, { MESHGATE_REDIS_TIMEOUT_MS: "1500" }), { mode: "cluster", timeoutMs: 1500 });
  t.like(redisTargetFrom({ "redis-cluster": "a:1", "redis-timeout": "20" }, { MESHGATE_REDIS_TIMEOUT_MS: "1500" }), { timeoutMs: 20 });
  t.false("timeoutMs" in (redisTargetFrom({ redis: "redis://a:1" }, {}) ?? {}));
  for (const bad of ["0", "-5", "1.5", "60001", "fast", ""]) {
    t.regex(refused(() => redisTargetFrom({ redis: "redis://a:1", "redis-timeout": bad }, {})), /^--redis-timeout must be milliseconds from 1 to 60000/, bad);
  }
  t.regex(refused(() => redisTargetFrom({ redis: "redis://a:1" }, { MESHGATE_REDIS_TIMEOUT_MS: "soon" })), /^MESHGATE_REDIS_TIMEOUT_MS must be/);
  t.regex(refused(() => redisTargetFrom({ "redis-timeout": "40" }, {})), /a Redis timeout given, but no Redis/);
});

test("addresses: host:port lists, bracketed IPv6, bad entries named", (t) => {
  t.deepEqual(addressList("a:1,b.example:65535", "--x"), [
    { host: "a", port: 1 },
    { host: "b.example", port: 65535 },
  ]);
  t.deepEqual(addressList("[fd00::2]:7000", "--x"), [{ host: "fd00::2", port: 7000 }]);
  for (const bad of ["a", "a:", ":1", "a:0", "a:65536", "a:12x", "a:1,,b:2", "a:1,", "::1:6379", "a b:1", "redis://a:1"]) {
    const message = refused(() => addressList(bad, "--redis-cluster"));
    t.true(message.startsWith("--redis-cluster"), `${bad}: ${message}`);
  }
});

test("the meshgate process refuses a bad Redis setting with exit code 2 and the reason", async (t) => {
  const config = mkdtempSync(join(tmpdir(), "meshgate-config-"));
  t.teardown(() => rmSync(config, { recursive: true, force: true }));
  const cli = fileURLToPath(new URL("../../cli.js", import.meta.url));
  const runCli = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cli, "standalone", "--config", config, "--admin-port", "0", ...args], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, MESHGATE_REDIS_URL: "", ...env },
        timeout: 8000,
      });
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("exit", (code) => resolve({ code, stderr }));
    });
  const twoModes = await runCli(["--redis-cluster", "127.0.0.1:7000", "--redis-sentinels", "127.0.0.1:26379"], {});
  t.is(twoModes.code, 2);
  t.regex(twoModes.stderr, /meshgate: give one Redis mode, not --redis-sentinels and --redis-cluster/);
  t.regex(twoModes.stderr, /--redis-cluster HOST:PORT/);
  const badEnv = await runCli([], { MESHGATE_REDIS_CLUSTER: "127.0.0.1" });
  t.is(badEnv.code, 2);
  t.regex(badEnv.stderr, /MESHGATE_REDIS_CLUSTER: "127.0.0.1" is not host:port/);
});
