import test from "ava";
import { parseWrk } from "../bench/wrk.js";

const SAMPLE = `Running 3s test @ http://127.0.0.1:8080/100
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.32ms  204.11us   6.01ms   91.25%
    Req/Sec    48.52k     1.35k   50.12k    80.00%
  Latency Distribution
     50%    1.29ms
     75%    1.38ms
     90%    1.50ms
     99%  950.00us
  144822 requests in 3.00s, 33.43MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  48271.90
Transfer/sec:     11.14MB
`;

test("parses rps, percentiles in mixed units and errors from wrk's output", (t) => {
  const r = parseWrk(SAMPLE);
  t.is(r.rps, 48271.9);
  t.is(r.p50Ms, 1.29);
  t.is(r.p99Ms, 0.95);
  t.is(r.non2xx, 7);
  t.is(r.socketErrors, 3);
});

test("missing figures come back as NaN, not zero", (t) => {
  const r = parseWrk("unable to connect to 127.0.0.1:1 Connection refused");
  t.true(Number.isNaN(r.rps));
  t.true(Number.isNaN(r.p99Ms));
});
