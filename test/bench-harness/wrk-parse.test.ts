import test from "ava";
import { parseWrk, wrkArgs } from "../bench/harness-wrk.js";

// Real reports from wrk 4.1.0 (Debian) on this machine: an nginx origin, a Node server that is slow
// (1.2-1.5 s), and one that answers some requests with 503, drops some connections and lets others
// run into wrk's 1 s timeout.
const CLEAN = `Running 1s test @ http://127.0.0.1:38111/100
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.77ms    2.49ms  21.18ms   89.52%
    Req/Sec    39.88k    10.53k   59.58k    72.73%
  Latency Distribution
     50%  778.00us
     75%    1.75ms
     90%    4.45ms
     99%   13.02ms
  44340 requests in 1.13s, 6.43MB read
Requests/sec:  39381.86
Transfer/sec:      5.71MB
`;

const WITH_ERRORS = `Running 3s test @ http://127.0.0.1:38989/
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   910.26ms    7.18ms 921.86ms   36.36%
    Req/Sec    22.00     19.52    60.00     83.33%
  Latency Distribution
     50%  910.34ms
     75%  918.27ms
     90%  918.31ms
     99%  921.86ms
  46 requests in 3.05s, 5.67KB read
  Socket errors: connect 0, read 1, write 0, timeout 13
  Non-2xx or 3xx responses: 6
Requests/sec:     15.07
Transfer/sec:      1.86KB
`;

// wrk pads durations printed in seconds with a trailing space.
const SECONDS = `Running 3s test @ http://127.0.0.1:38439/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.30s   141.33ms   1.52s    70.00%
    Req/Sec     7.80      4.82    13.00     60.00%
  Latency Distribution
     50%    1.21s 
     75%    1.51s 
     90%    1.51s 
     99%    1.52s 
  20 requests in 3.04s, 2.46KB read
  Non-2xx or 3xx responses: 2
Requests/sec:      6.58
Transfer/sec:     827.00B
`;

const REFUSED = `unable to connect to 127.0.0.1:38111 Connection refused
`;

test("a clean run gives requests per second, p50 in microseconds and p99 in milliseconds", (t) => {
  const r = parseWrk(CLEAN);
  t.is(r.rps, 39381.86);
  t.is(r.p50Ms, 0.778);
  t.is(r.p99Ms, 13.02);
  t.is(r.requests, 44340);
  t.is(r.errors, 0);
});

test("non-2xx responses and every kind of socket error are counted", (t) => {
  const r = parseWrk(WITH_ERRORS);
  t.is(r.rps, 15.07);
  t.is(r.non2xx, 6);
  t.deepEqual(r.socket, { connect: 0, read: 1, write: 0, timeout: 13 });
  t.is(r.errors, 20);
  t.is(r.p99Ms, 921.86);
});

test("latencies printed in seconds convert to milliseconds", (t) => {
  const r = parseWrk(SECONDS);
  t.is(r.p50Ms, 1210);
  t.is(r.p99Ms, 1520);
  t.is(r.non2xx, 2);
});

test("a run that could not connect has no figures rather than zeros", (t) => {
  const r = parseWrk(REFUSED);
  t.true(Number.isNaN(r.rps));
  t.true(Number.isNaN(r.p50Ms));
  t.true(Number.isNaN(r.p99Ms));
});

test("wrk is asked for one thread, the connections, the duration and the latency percentiles", (t) => {
  t.deepEqual(wrkArgs({ core: 1, port: 8080, path: "/16k", connections: 256, seconds: 3 }), [
    "-t1",
    "-c256",
    "-d3s",
    "--latency",
    "http://127.0.0.1:8080/16k",
  ]);
});
