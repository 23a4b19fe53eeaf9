import { describe, expect, it } from 'vitest';
import { backoffDelayMs, parseRetryAfterMs } from '../../streams/webhooks/backoff.ts';
import { compareEventIds } from '../../streams/webhooks/outbox.ts';
import { deliveryId, maskSecret, webhookUrlProblem } from '../../streams/webhooks/subscription.ts';

describe('webhook backoff', () => {
  it('doubles per attempt within [half, full] of the step, capped', () => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      const step = 100 * 2 ** (attempt - 1);
      expect(backoffDelayMs(attempt, 100, 1e9, () => 0)).toBe(step / 2);
      expect(backoffDelayMs(attempt, 100, 1e9, () => 0.999999)).toBe(Math.round(step / 2 + 0.999999 * (step / 2)));
    }
    expect(backoffDelayMs(30, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffDelayMs(2000, 1000, 60_000, () => 0)).toBe(30_000);
  });

  it('spreads retries (jitter) with a seeded random', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelayMs(4, 1000, 1e9, rnd)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('3', now)).toBe(3000);
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 00:00:10 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon', now)).toBeNull();
    expect(parseRetryAfterMs(null, now)).toBeNull();
  });
});

describe('webhook subscription rules', () => {
  it('accepts http(s) URLs only, without credentials', () => {
    expect(webhookUrlProblem('https://hooks.example.test/cordon?x=1')).toBeNull();
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook')).toBeNull();
    expect(webhookUrlProblem('ftp://example.test/')).toMatch(/http/);
    expect(webhookUrlProblem('javascript:alert(1)')).toMatch(/http/);
    expect(webhookUrlProblem('https://user:pass@example.test/')).toMatch(/credentials/);
    expect(webhookUrlProblem('https://user@example.test/')).toMatch(/credentials/);
    expect(webhookUrlProblem('/relative')).toMatch(/absolute/);
  });

  it('never shows more than the last 4 characters of a secret', () => {
    expect(maskSecret('0123456789abcdefWXYZ')).toBe('****WXYZ');
    expect(maskSecret('short')).toBe('****');
  });

  it('derives one delivery id per (subscription, event)', () => {
    expect(deliveryId('s1', '1-0')).toBe(deliveryId('s1', '1-0'));
    expect(deliveryId('s1', '1-0')).not.toBe(deliveryId('s2', '1-0'));
    expect(deliveryId('s1', '1-0')).not.toBe(deliveryId('s1', '1-1'));
    expect(deliveryId('s1', '1-0')).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('event id order', () => {
  it('orders stream ids numerically, not as strings', () => {
    expect(compareEventIds('999-0', '1000-0')).toBeLessThan(0);
    expect(compareEventIds('1000-10', '1000-9')).toBeGreaterThan(0);
    expect(compareEventIds('1000-1', '1000-1')).toBe(0);
  });
});
