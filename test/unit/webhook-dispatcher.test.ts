import * as crypto from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryWebhookStore } from '../../src/stores/webhooks-memory.ts';
import { FANOUT_CURSOR } from '../../streams/webhooks/outbox.ts';
import { WebhookService, type WebhookServiceOptions } from '../../streams/webhooks/service.ts';
import type { WebhookSubscription } from '../../streams/webhooks/types.ts';
import { waitFor } from '../support/redis.ts';
import { TestEventLog } from '../support/webhook-events.ts';
import { TestReceiver } from '../support/webhook-receiver.ts';

const logger = pino({ level: 'silent' });
const SECRET = 'test-secret-0123456789abcdef';

function subscription(id: string, url: string, over: Partial<WebhookSubscription> = {}): WebhookSubscription {
  const now = Date.now() - 1000;
  return { id, url, secret: SECRET, events: null, active: true, deactivatedReason: null, fromEventId: null, createdAt: now, updatedAt: now, ...over };
}

/** written from the contract text, independently of streams/webhooks/signing.ts */
function signatureValid(secret: string, raw: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${m[1]}.`).update(raw).digest();
  return crypto.timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

describe('webhook dispatcher (real loopback receivers)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(over: Partial<WebhookServiceOptions> = {}) {
    const store = new MemoryWebhookStore();
    const events = new TestEventLog();
    const registry = new Registry();
    const svc = new WebhookService({
      store,
      events,
      logger,
      registry,
      maxAttempts: 5,
      backoffBaseMs: 20,
      requestTimeoutMs: 2_000,
      pollIntervalMs: 20,
      fanoutPollIntervalMs: 50,
      ...over,
    });
    await svc.start();
    cleanups.push(async () => {
      await svc.close();
      await store.close();
    });
    return { store, events, registry, svc };
  }

  async function receiver(port?: number) {
    const r = await TestReceiver.start(port);
    cleanups.push(() => r.down());
    return r;
  }

  async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
    return Number(v?.value ?? NaN);
  }

  it('POSTs the event JSON with the contract headers, signed, and no credentials', async () => {
    const r = await receiver();
    const { store, events, registry } = await setup();
    await store.putSubscription(subscription('s1', r.url));
    const e = events.append('alert.opened', { id: 'A1', type: 'exclusion.breach' });
    await waitFor(() => r.deliveredEventIds().length === 1, 5_000, 'delivery');
    const req = r.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['cordon-event-id']).toBe(e.id);
    expect(JSON.parse(req.body)).toEqual(e);
    expect(signatureValid(SECRET, req.body, req.headers['cordon-signature'])).toBe(true);
    expect(signatureValid('wrong', req.body, req.headers['cordon-signature'])).toBe(false);
    const t = Number(/t=(\d+)/.exec(String(req.headers['cordon-signature']))![1]);
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(60);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.headers.cookie).toBeUndefined();
    await waitFor(async () => (await store.listDeliveries('s1', { limit: 10, cursor: null })).items[0]?.status === 'delivered', 5_000, 'delivered record');
    const d = (await store.listDeliveries('s1', { limit: 10, cursor: null })).items[0]!;
    expect(d).toMatchObject({ eventId: e.id, eventType: 'alert.opened', attempts: 1, lastStatusCode: 200, lastError: null });
    expect(await metric(registry, 'cordon_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(await metric(registry, 'cordon_webhook_outbox_depth')).toBe(0);
    const hist = (await registry.getMetricsAsJSON()).find((x) => x.name === 'cordon_webhook_delivery_duration_seconds');
    expect(hist?.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count') && v.labels.outcome === 'delivered')?.value).toBe(1);
  });

  it('receiver down, then up: delivered after retries, every attempt recorded', async () => {
    const r = await receiver();
    await r.down();
    const { store, events, registry } = await setup({ maxAttempts: 20, backoffBaseMs: 30, backoffMaxMs: 200 });
    await store.putSubscription(subscription('s1', r.url));
    const e = events.append();
    await waitFor(async () => ((await store.listDeliveries('s1', { limit: 1, cursor: null })).items[0]?.attempts ?? 0) >= 3, 10_000, '3 failed attempts');
    const failing = (await store.listDeliveries('s1', { limit: 1, cursor: null })).items[0]!;
    expect(failing.status).toBe('retrying');
    expect(failing.lastError).toMatch(/ECONNREFUSED|fetch failed/);
    expect(failing.nextAttemptAt).not.toBeNull();
    expect(await metric(registry, 'cordon_webhook_outbox_depth')).toBe(1);
    await r.up();
    await waitFor(() => r.deliveredEventIds().includes(e.id), 10_000, 'delivery after the receiver came back');
    await waitFor(async () => (await store.getDelivery('s1', failing.id))?.status === 'delivered', 5_000, 'delivered record');
    const done = (await store.getDelivery('s1', failing.id))!;
    expect(done.attempts).toBeGreaterThanOrEqual(4);
    expect(done.history.length).toBe(Math.min(done.attempts, 20));
    expect(done.history.slice(0, -1).every((a) => a.statusCode === null && a.error)).toBe(true);
    expect(done.history.at(-1)).toMatchObject({ statusCode: 200, error: null });
    // never sooner than the backoff allows: after the n-th failure at least half of 30·2^(n-1) ms (cap 200)
    done.history.slice(1).forEach((a, i) => {
      const minWait = Math.min(200, 30 * 2 ** i) / 2;
      expect(a.at - done.history[i]!.at).toBeGreaterThanOrEqual(minWait - 2);
    });
    expect(r.deliveredEventIds()).toEqual([e.id]);
    expect(await metric(registry, 'cordon_webhook_deliveries_total', { outcome: 'retry' })).toBe(done.attempts - 1);
  });

  it('dead after the last attempt, listed, and a manual retry sends it again', async () => {
    const r = await receiver();
    r.behaviour = { status: 500, body: 'boom' };
    const { store, events, svc } = await setup({ maxAttempts: 3, backoffBaseMs: 10 });
    await store.putSubscription(subscription('s1', r.url));
    const e = events.append();
    await waitFor(async () => (await store.listDeliveries('s1', { limit: 1, cursor: null, status: 'dead' })).items.length === 1, 10_000, 'dead');
    const dead = (await store.listDeliveries('s1', { limit: 1, cursor: null, status: 'dead' })).items[0]!;
    expect(dead).toMatchObject({ attempts: 3, lastStatusCode: 500, lastError: 'HTTP 500: boom', nextAttemptAt: null });
    expect(r.arrived).toBe(3);
    r.behaviour = { status: 204 };
    const again = await svc.retry('s1', dead.id);
    expect(again).toMatchObject({ status: 'pending', cycleAttempts: 0 });
    await waitFor(async () => (await store.getDelivery('s1', dead.id))?.status === 'delivered', 5_000, 'delivered after manual retry');
    expect((await store.getDelivery('s1', dead.id))!.attempts).toBe(4);
    expect(r.deliveredEventIds()).toEqual([e.id]);
  });

  it('410 Gone kills the delivery and deactivates the subscription; nothing more is sent to it', async () => {
    const r = await receiver();
    r.behaviour = { status: 410 };
    const { store, events, registry } = await setup();
    await store.putSubscription(subscription('s1', r.url));
    events.append();
    await waitFor(async () => (await store.getSubscription('s1'))?.active === false, 5_000, 'deactivated');
    expect(await store.getSubscription('s1')).toMatchObject({ active: false, deactivatedReason: expect.stringMatching(/410/) });
    const d = (await store.listDeliveries('s1', { limit: 5, cursor: null })).items;
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ status: 'dead', attempts: 1, lastStatusCode: 410 });
    expect(await metric(registry, 'cordon_webhook_deliveries_total', { outcome: 'gone' })).toBe(1);
    const before = r.arrived;
    events.append();
    const cursorAfter = events.events.at(-1)!.id;
    await waitFor(async () => (await store.getCursor(FANOUT_CURSOR)) === cursorAfter, 5_000, 'fan-out past the new event');
    expect((await store.listDeliveries('s1', { limit: 5, cursor: null })).items).toHaveLength(1);
    expect(r.arrived).toBe(before);
  });

  it('honours Retry-After over a shorter backoff', async () => {
    const r = await receiver();
    r.behaviour = (n) => (n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 });
    const { store, events } = await setup({ backoffBaseMs: 10 });
    await store.putSubscription(subscription('s1', r.url));
    events.append();
    await waitFor(() => r.deliveredEventIds().length === 1, 10_000, 'delivery');
    const gap = r.requests[1]!.at - r.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(950);
  });

  it('times out a receiver that does not answer and retries', async () => {
    const r = await receiver();
    r.behaviour = (n) => (n === 1 ? { status: 200, delayMs: 2_000 } : { status: 200 });
    const { store, events } = await setup({ requestTimeoutMs: 200, backoffBaseMs: 10 });
    await store.putSubscription(subscription('s1', r.url));
    events.append();
    await waitFor(async () => (await store.listDeliveries('s1', { limit: 1, cursor: null })).items[0]?.status === 'delivered', 10_000, 'delivered');
    const d = (await store.listDeliveries('s1', { limit: 1, cursor: null })).items[0]!;
    expect(d.attempts).toBe(2);
    expect(d.history[0]!.error).toMatch(/timed out after 200 ms/);
    expect(d.history[0]!.durationMs).toBeLessThan(1_500);
  });

  it('bounds requests in flight per endpoint and does not let a slow endpoint hold up another', async () => {
    const slow = await receiver();
    slow.behaviour = { status: 200, delayMs: 300 };
    const fast = await receiver();
    const { store, events } = await setup({ concurrencyPerEndpoint: 2 });
    await store.putSubscription(subscription('slow', slow.url));
    await store.putSubscription(subscription('fast', fast.url));
    for (let i = 0; i < 8; i++) events.append();
    await waitFor(() => fast.deliveredEventIds().length === 8, 5_000, 'fast endpoint done');
    expect(slow.deliveredEventIds().length).toBeLessThan(8);
    await waitFor(() => slow.deliveredEventIds().length === 8, 10_000, 'slow endpoint done');
    expect(slow.maxConcurrent).toBe(2);
    expect(new Set(slow.deliveredEventIds()).size).toBe(8);
  });

  it('filters by event type and skips events from before the subscription', async () => {
    const r = await receiver();
    const { store, events } = await setup();
    const old = events.append('alert.opened');
    await waitFor(async () => (await store.getCursor(FANOUT_CURSOR)) === old.id, 5_000, 'fan-out past the old event');
    // as the API does: the new subscription starts after the fan-out cursor
    await store.putSubscription(subscription('s1', r.url, { events: ['alert.resolved'], fromEventId: await store.getCursor(FANOUT_CURSOR) }));
    events.append('alert.opened');
    const resolved = events.append('alert.resolved');
    await waitFor(async () => (await store.getCursor(FANOUT_CURSOR)) === resolved.id, 5_000, 'fan-out');
    await waitFor(() => r.deliveredEventIds().length === 1, 5_000, 'delivery');
    expect(r.deliveredEventIds()).toEqual([resolved.id]);
    expect(r.deliveredEventIds()).not.toContain(old.id);
  });

  it('parks deliveries of a paused subscription as dead; after reactivation a manual retry sends them', async () => {
    const r = await receiver();
    await r.down();
    const { store, events, svc } = await setup({ maxAttempts: 50, backoffBaseMs: 20, backoffMaxMs: 50 });
    await store.putSubscription(subscription('s1', r.url));
    const e = events.append();
    await waitFor(async () => ((await store.listDeliveries('s1', { limit: 1, cursor: null })).items[0]?.attempts ?? 0) >= 1, 5_000, 'first failure');
    await store.setSubscriptionActive('s1', false, 'paused by test', Date.now());
    await waitFor(async () => (await store.listDeliveries('s1', { limit: 1, cursor: null })).items[0]?.status === 'dead', 5_000, 'parked');
    const parked = (await store.listDeliveries('s1', { limit: 1, cursor: null })).items[0]!;
    expect(parked.lastError).toBe('subscription inactive');
    expect(await store.outboxDepth()).toBe(0);
    await r.up();
    await store.setSubscriptionActive('s1', true, null, Date.now());
    expect(await svc.retry('s1', parked.id)).toMatchObject({ status: 'pending' });
    await waitFor(() => r.deliveredEventIds().length === 1, 5_000, 'delivered after reactivation');
    expect(r.deliveredEventIds()).toEqual([e.id]);
  });

  it('drops delivered records after the retention period', async () => {
    const r = await receiver();
    const { store, events } = await setup({ deliveredRetentionMs: 100, pruneIntervalMs: 50 });
    await store.putSubscription(subscription('s1', r.url));
    events.append();
    await waitFor(() => r.deliveredEventIds().length === 1, 5_000, 'delivery');
    await waitFor(async () => (await store.listDeliveries('s1', { limit: 10, cursor: null })).items.length === 0, 5_000, 'record pruned');
    expect(r.deliveredEventIds()).toHaveLength(1);
  });

  it('fan-out is idempotent: replaying the log after a crash creates no second delivery', async () => {
    const r = await receiver();
    const { store, events, svc } = await setup();
    await store.putSubscription(subscription('s1', r.url));
    const es = [events.append(), events.append(), events.append()];
    await waitFor(() => r.deliveredEventIds().length === 3, 5_000, 'deliveries');
    // as if the process died after writing deliveries but before saving the cursor
    await store.setCursor(FANOUT_CURSOR, '0-0');
    const created = await svc.fanout.runOnce();
    expect(created).toBe(0);
    expect((await store.listDeliveries('s1', { limit: 10, cursor: null })).items).toHaveLength(3);
    expect(await store.getCursor(FANOUT_CURSOR)).toBe(es[2]!.id);
    expect(r.deliveredEventIds().sort()).toEqual(es.map((e) => e.id).sort());
  });
});
