/**
 * Delay before attempt number `attempt + 1`, after `attempt` (>= 1) failed attempts:
 * exponential (base · 2^(attempt-1)), capped at `maxMs`, with "equal jitter": half fixed, half
 * random, so retries of many deliveries spread out but never come back sooner than half the step.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(n - 1, 52));
  const half = exp / 2;
  return Math.round(half + random() * half);
}

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date. Null when absent
 * or unparsable; never negative.
 */
export function parseRetryAfterMs(value: string | null | undefined, now: number): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (v === '') return null;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}
