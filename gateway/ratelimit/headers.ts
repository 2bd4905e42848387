// Response headers for rate-limited answers. The RateLimit fields follow
// draft-ietf-httpapi-ratelimit-headers-07 (2023-10-23), section 3 and 4:
//   RateLimit-Policy: 100;w=60
//   RateLimit: limit=100, remaining=0, reset=37
// Retry-After is RFC 9110 section 10.2.3 (delay-seconds).

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** Whole seconds, rounded up so a client never retries before the window has reset. */
export function secondsUntil(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/**
 * Headers that describe the quota; sent on every answer of a limited route. Lower-case names,
 * as response header modifiers take them (field names are case-insensitive).
 */
export function rateLimitHeaders(state: RateLimitState, windowSeconds: number): Record<string, string> {
  return { "ratelimit-policy": quotaPolicy(state.limit, windowSeconds), ratelimit: quotaValue(state) };
}

/** The RateLimit-Policy value: the quota and its window. */
export function quotaPolicy(limit: number, windowSeconds: number): string {
  return `${limit};w=${windowSeconds}`;
}

/** The RateLimit value: what is left of the quota and when it resets. */
export function quotaValue(state: RateLimitState): string {
  const remaining = Math.max(0, Math.floor(state.remaining));
  return `limit=${state.limit}, remaining=${remaining}, reset=${secondsUntil(state.resetMs)}`;
}

/** Headers of the 429 answer: the quota plus Retry-After. */
export function tooManyRequestsHeaders(state: RateLimitState, windowSeconds: number): Record<string, string> {
  return {
    ...rateLimitHeaders(state, windowSeconds),
    "retry-after": String(secondsUntil(state.resetMs)),
  };
}

