// The header values that decide framing and reuse, and the request queue.
import test from "ava";
import {
  chunkedIsFinal,
  hasToken,
  keepAliveTimeoutMs,
  parseContentLength,
} from "../../../../gateway/upstream/h1/header-values.js";
import { Fifo } from "../../../../gateway/upstream/h1/queue.js";

test("hasToken finds whole tokens in a list, case-insensitively", (t) => {
  t.true(hasToken("close", "close"));
  t.true(hasToken("Keep-Alive, CLOSE", "close"));
  t.true(hasToken("upgrade ,close ", "close"));
  t.false(hasToken("closed", "close"));
  t.false(hasToken("x-close-y", "close"));
  t.false(hasToken("", "close"));
});

test("chunked counts only as the final transfer coding", (t) => {
  t.true(chunkedIsFinal("chunked"));
  t.true(chunkedIsFinal("gzip, Chunked "));
  t.false(chunkedIsFinal("chunked, gzip"));
  t.false(chunkedIsFinal("xchunked"));
  t.false(chunkedIsFinal("identity"));
});

test("content-length must be plain digits", (t) => {
  t.is(parseContentLength("0"), 0);
  t.is(parseContentLength("1234567"), 1234567);
  for (const bad of ["", "-1", "+1", "1.0", "1 2", "0x10", "9999999999999999"]) t.is(parseContentLength(bad), -1, bad);
});

test("keep-alive timeout is read in milliseconds", (t) => {
  t.is(keepAliveTimeoutMs("timeout=5"), 5000);
  t.is(keepAliveTimeoutMs("max=100, Timeout=30"), 30000);
  t.is(keepAliveTimeoutMs("max=100"), -1);
  t.is(keepAliveTimeoutMs("timeout="), -1);
});

test("the queue is first in, first out, with removal from anywhere and put-back in front", (t) => {
  const q = new Fifo<number>();
  for (let i = 0; i < 3000; i++) q.push(i);
  for (let i = 0; i < 2000; i++) t.is(q.shift(), i);
  t.is(q.length, 1000);
  t.true(q.remove(2500));
  t.false(q.remove(2500));
  q.unshift(-1);
  t.is(q.shift(), -1);
  t.is(q.shift(), 2000);
  const rest = q.drain();
  t.is(rest.length, 998);
  t.is(rest[0], 2001);
  t.is(q.length, 0);
  t.is(q.shift(), undefined);
});
