// 429 headers as pure functions.
import test from "ava";
import { rateLimitHeaders, secondsUntil, tooManyRequestsHeaders } from "../../../gateway/ratelimit/headers.js";

test("429 headers: Retry-After rounded up, draft-07 RateLimit and RateLimit-Policy", (t) => {
  t.deepEqual(tooManyRequestsHeaders({ limit: 100, remaining: 0, resetMs: 36_001 }, 60), {
    "ratelimit-policy": "100;w=60",
    ratelimit: "limit=100, remaining=0, reset=37",
    "retry-after": "37",
  });
});

test("quota headers without Retry-After; remaining never negative", (t) => {
  t.deepEqual(rateLimitHeaders({ limit: 10, remaining: 7, resetMs: 1000 }, 1), {
    "ratelimit-policy": "10;w=1",
    ratelimit: "limit=10, remaining=7, reset=1",
  });
  t.is(rateLimitHeaders({ limit: 10, remaining: -3, resetMs: 0 }, 1).ratelimit, "limit=10, remaining=0, reset=0");
});

test("secondsUntil rounds up and clamps at zero", (t) => {
  t.is(secondsUntil(0), 0);
  t.is(secondsUntil(1), 1);
  t.is(secondsUntil(1000), 1);
  t.is(secondsUntil(1001), 2);
  t.is(secondsUntil(-5), 0);
});
