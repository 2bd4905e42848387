// Circuit breaker: request and queue limits per cluster, kept across limit changes.
import test from "ava";
import { circuitBreakerSchema } from "../../../gateway/snapshot.js";
import { CircuitBreaker } from "../../../gateway/upstream/circuit-breaker.js";

const limits = (maxRequests: number, maxPendingRequests: number) =>
  circuitBreakerSchema.parse({ maxRequests, maxPendingRequests });

test("requests beyond maxRequests are refused until one ends", (t) => {
  const breaker = new CircuitBreaker(limits(2, 0));
  t.is(breaker.tryStartRequest(), "ok");
  t.is(breaker.tryStartRequest(), "ok");
  t.is(breaker.tryStartRequest(), "max-requests");
  t.is(breaker.active, 2);
  breaker.endRequest();
  t.is(breaker.tryStartRequest(), "ok");
});

test("the queue holds at most maxPendingRequests; 0 means no queueing", (t) => {
  const breaker = new CircuitBreaker(limits(10, 1));
  t.is(breaker.tryQueue(), "ok");
  t.is(breaker.tryQueue(), "max-pending");
  breaker.dequeue();
  t.is(breaker.pending, 0);
  t.is(breaker.tryQueue(), "ok");
  t.is(new CircuitBreaker(limits(10, 0)).tryQueue(), "max-pending");
});

test("counters never go negative on unbalanced ends", (t) => {
  const breaker = new CircuitBreaker(limits(1, 1));
  breaker.endRequest();
  breaker.dequeue();
  t.is(breaker.active, 0);
  t.is(breaker.pending, 0);
  t.is(breaker.tryStartRequest(), "ok");
  t.is(breaker.tryStartRequest(), "max-requests");
});

test("new limits keep the counters: a lowered limit refuses until enough requests end", (t) => {
  const breaker = new CircuitBreaker(limits(5, 5));
  for (let i = 0; i < 4; i++) breaker.tryStartRequest();
  breaker.update(limits(2, 5));
  t.is(breaker.active, 4);
  t.is(breaker.tryStartRequest(), "max-requests");
  breaker.endRequest();
  breaker.endRequest();
  t.is(breaker.tryStartRequest(), "max-requests");
  breaker.endRequest();
  t.is(breaker.tryStartRequest(), "ok");
  breaker.update(limits(10, 5));
  t.is(breaker.tryStartRequest(), "ok");
});
