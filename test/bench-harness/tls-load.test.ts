import test from "ava";
import {
  checkHttpAnswer,
  handshakeArgs,
  parseHandshakes,
  parsePump,
  percentile,
  pumpArgs,
  wrkTlsArgs,
} from "../bench/harness-tls-load.js";

test("percentile takes the nearest rank and is NaN without values", (t) => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  t.is(percentile(sorted, 50), 50);
  t.is(percentile(sorted, 99), 99);
  t.is(percentile(sorted, 100), 100);
  t.is(percentile([7], 99), 7);
  t.is(percentile([1, 2, 3], 0), 1);
  t.true(Number.isNaN(percentile([], 50)));
});

const OK_HEAD = "HTTP/1.1 200 OK\r\nserver: nginx\r\nContent-Length: 5\r\n\r\n";

test("an answer is good when it is a 200 whose body matches its content-length", (t) => {
  t.is(checkHttpAnswer(`${OK_HEAD}hello`), undefined);
  t.is(checkHttpAnswer("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), undefined);
  // Read until close, no length: whatever came is the body.
  t.is(checkHttpAnswer("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nanything"), undefined);
  t.is(checkHttpAnswer(`${OK_HEAD}hell`), "body 4 bytes, content-length 5");
  t.is(checkHttpAnswer("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"), "status 503");
  t.is(checkHttpAnswer("garbage\r\n\r\n"), "status line missing");
  t.is(checkHttpAnswer("HTTP/1.1 200 OK\r\ncontent-le"), "incomplete answer");
  t.is(checkHttpAnswer(""), "closed before an answer");
});

// What tls-handshakes printed against nginx on this machine (3 s, 64 connections).
const HANDSHAKES_CLEAN =
  '{"completed":1141,"seconds":3.01708883,"connections":64,"failed":0,"resumed":0,' +
  '"p50Ms":169.54636000000005,"p99Ms":218.51043600000003}\n';

test("a clean handshake report gives new connections per second and the latencies", (t) => {
  const r = parseHandshakes(HANDSHAKES_CLEAN);
  t.is(Math.round(r.perS), 378);
  t.is(r.p50Ms, 169.54636000000005);
  t.is(r.p99Ms, 218.51043600000003);
  t.is(r.errors, 0);
  t.is(r.problem, undefined);
});

test("failed and resumed connections are counted and explained", (t) => {
  const r = parseHandshakes(
    'warning first\n{"completed":90,"seconds":2,"connections":64,"failed":3,"resumed":45,' +
      '"p50Ms":10,"p99Ms":20,"error":"status 502"}\n',
  );
  t.is(r.perS, 45);
  t.is(r.errors, 3);
  t.is(r.problem, "3 failed (first: status 502); 45 resumed sessions: not all were full handshakes");
});

test("a handshake report without completions has no latencies and says why", (t) => {
  const r = parseHandshakes('{"completed":0,"seconds":3,"connections":64,"failed":0,"resumed":0,"p50Ms":null,"p99Ms":null}');
  t.is(r.perS, 0);
  t.true(Number.isNaN(r.p50Ms));
  t.is(r.problem, "no connection completed");
});

test("without a report the handshake figures are NaN and the first line is the reason", (t) => {
  const r = parseHandshakes("tls-handshakes: --host and --ca are required\n");
  t.true(Number.isNaN(r.perS));
  t.is(r.errors, 1);
  t.is(r.problem, "no figures from tls-handshakes: tls-handshakes: --host and --ca are required");
  t.is(parseHandshakes("").problem, "no figures from tls-handshakes: no output");
  // A JSON line of another shape is not a report.
  t.true(Number.isNaN(parseHandshakes('{"completed":"many"}').perS));
});

test("a clean pump report gives MB/s in 10^6 bytes", (t) => {
  const r = parsePump('{"bytes":1500000000,"seconds":3,"connections":8,"established":8,"failed":0}\n');
  t.is(r.mbPerS, 500);
  t.is(r.errors, 0);
  t.is(r.problem, undefined);
});

test("pump connections that failed or never opened are errors with the first reason", (t) => {
  const r = parsePump(
    '{"bytes":100000000,"seconds":2,"connections":8,"established":6,"failed":2,"error":"ECONNRESET"}',
  );
  t.is(r.mbPerS, 50);
  t.is(r.errors, 2);
  t.is(r.problem, "6/8 connections established, 2 failed (first: ECONNRESET)");
  t.is(parsePump('{"bytes":0,"seconds":2,"connections":8,"established":8,"failed":0}').problem, "no bytes received");
});

test("without a pump report MB/s is NaN and the first line is the reason", (t) => {
  const r = parsePump("Error: connect ECONNREFUSED 127.0.0.1:1\n    at stack\n");
  t.true(Number.isNaN(r.mbPerS));
  t.is(r.problem, "no figures from tls-pump: Error: connect ECONNREFUSED 127.0.0.1:1");
});

test("wrk gets the certificate's name in the URL and the loopback script", (t) => {
  t.deepEqual(
    wrkTlsArgs({
      core: 1,
      host: "bench.example.com",
      port: 8443,
      path: "/100",
      connections: 64,
      seconds: 10,
      script: "/w/loopback.lua",
    }),
    ["-t1", "-c64", "-d10s", "--latency", "-s", "/w/loopback.lua", "https://bench.example.com:8443/100"],
  );
});

test("the Node load generators get every setting on their command line", (t) => {
  t.deepEqual(
    handshakeArgs(
      {
        core: 1,
        host: "bench.example.com",
        port: 8443,
        path: "/100",
        caFile: "/w/ca.crt",
        connections: 64,
        warmupS: 0.5,
        seconds: 10,
      },
      "hs.js",
    ),
    [
      "hs.js",
      "--port",
      "8443",
      "--host",
      "bench.example.com",
      "--ca",
      "/w/ca.crt",
      "--path",
      "/100",
      "--connections",
      "64",
      "--warmup",
      "0.5",
      "--seconds",
      "10",
    ],
  );
  t.deepEqual(
    pumpArgs(
      { core: 1, port: 9443, servername: "pass.example.com", caFile: "/w/ca.crt", connections: 8, warmupS: 0, seconds: 2 },
      "pump.js",
    ),
    [
      "pump.js",
      "--port",
      "9443",
      "--servername",
      "pass.example.com",
      "--ca",
      "/w/ca.crt",
      "--connections",
      "8",
      "--warmup",
      "0",
      "--seconds",
      "2",
    ],
  );
});
