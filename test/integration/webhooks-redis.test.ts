import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { RedisWebhookStore } from '../../src/stores/webhooks-redis.ts';
import { WebhookService, type WebhookServiceOptions } from '../../streams/webhooks/service.ts';
import type { WebhookSubscription } from '../../streams/webhooks/types.ts';
import { waitFor } from '../support/redis.ts';
import { RedisStreamEvents } from '../support/webhook-redis-events.ts';
import { TestReceiver } from '../support/webhook-receiver.ts';

const logger = pino({ level: 'silent' });

function subscription(id: string, url: string): WebhookSubscription {
  const now = Date.now() - 1000;
  return { id, url, secret: 'integration-secret-0123456789', events: null, active: true, deactivatedReason: null, fromEventId: null, createdAt: now, updatedAt: now };
}

function countBy(ids: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

describe('webhooks on Redis (real receivers, real Redis)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  const prefixOf = () => `t-${randomUUID()}:`;

  /** one service instance: its own Redis connections, as a separate process would have */
  function instance(prefix: string, over: Partial<WebhookServiceOptions> = {}) {
    const redis = new Redis(inject('redisUrl'));
    const store = new RedisWebhookStore({ redis, prefix, ownsClient: true });
    const events = new RedisStreamEvents(redis, `${prefix}events`);
    const svc = new WebhookService({
      store,
      events,
      logger,
      maxAttempts: 50,
      backoffBaseMs: 25,
      backoffMaxMs: 200,
      requestTimeoutMs: 2_000,
      pollIntervalMs: 20,
      fanoutPollIntervalMs: 50,
      ...over,
    });
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await svc.close();
      await store.close();
    };
    cleanups.push(close);
    return { store, events, svc, close, redis };
  }

  async function spawnInstance(prefix: string): Promise<ChildProcess> {
    const script = fileURLToPath(new URL('../support/webhook-instance.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, WH_REDIS_URL: inject('redisUrl'), WH_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((res) => child.once('exit', res));
        child.kill('SIGKILL');
        await gone;
      }
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('ready'), 20_000, 'child instance ready');
    return child;
  }

  async function receiver() {
    const r = await TestReceiver.start();
    cleanups.push(() => r.down());
    return r;
  }

  it('pending deliveries survive a restart and are delivered once after it', async () => {
    const prefix = prefixOf();
    const r = await receiver();
    await r.down();
    const a = instance(prefix);
    await a.store.putSubscription(subscription('s1', r.url));
    await a.svc.start();
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await a.events.append('alert.opened', { id: `A${i}` }));
    await waitFor(async () => {
      const page = await a.store.listDeliveries('s1', { limit: 10, cursor: null });
      return page.items.length === 5 && page.items.every((d) => d.attempts >= 1 && d.status === 'retrying');
    }, 10_000, 'five failing deliveries');
    await a.close();

    await r.up();
    const b = instance(prefix);
    await b.svc.start();
    await waitFor(() => r.deliveredEventIds().length >= 5, 10_000, 'deliveries after restart');
    await waitFor(async () => (await b.store.outboxDepth()) === 0, 5_000, 'empty outbox');
    // nothing more arrives: each event exactly once
    await b.svc.fanout.runOnce();
    await new Promise((res) => setTimeout(res, 300));
    const got = countBy(r.deliveredEventIds());
    expect([...got.keys()].sort()).toEqual(sent.map((e) => e.id).sort());
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    const page = await b.store.listDeliveries('s1', { limit: 10, cursor: null });
    expect(page.items.every((d) => d.status === 'delivered' && d.attempts >= 2 && d.history.at(-1)?.statusCode === 200)).toBe(true);
  });

  it('an instance killed with SIGKILL loses nothing: its pending deliveries are delivered once by the next', async () => {
    const prefix = prefixOf();
    const r = await receiver();
    await r.down();
    const a = instance(prefix);
    await a.store.putSubscription(subscription('s1', r.url));
    const child = await spawnInstance(prefix);
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await a.events.append('alert.opened', { id: `A${i}` }));
    await waitFor(async () => {
      const page = await a.store.listDeliveries('s1', { limit: 10, cursor: null });
      return page.items.length === 5 && page.items.every((d) => d.attempts >= 2);
    }, 10_000, 'five deliveries failing in the child');
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGKILL');
    await exited;
    // written after the crash: only the log has them
    sent.push(await a.events.append('alert.ended', { id: 'A0' }));
    await r.up();
    await a.svc.start();
    await waitFor(() => new Set(r.deliveredEventIds()).size === 6, 15_000, 'deliveries after the crash');
    await waitFor(async () => (await a.store.outboxDepth()) === 0, 5_000, 'empty outbox');
    await new Promise((res) => setTimeout(res, 300));
    expect(r.deliveredEventIds().sort()).toEqual(sent.map((e) => e.id).sort());
  });

  it('events written while no instance ran are fanned out and delivered after start', async () => {
    const prefix = prefixOf();
    const r = await receiver();
    const a = instance(prefix);
    await a.store.putSubscription(subscription('s1', r.url));
    // the event log is the outbox: events exist before any webhook machinery runs
    const sent = [await a.events.append(), await a.events.append()];
    await a.svc.start();
    await waitFor(() => r.deliveredEventIds().length === 2, 10_000, 'deliveries');
    expect(r.deliveredEventIds().sort()).toEqual(sent.map((e) => e.id).sort());
  });

  it('two instances on one Redis never deliver the same delivery twice', async () => {
    const prefix = prefixOf();
    const r = await receiver();
    r.behaviour = { status: 200, delayMs: 30 };
    const a = instance(prefix, { concurrencyPerEndpoint: 3 });
    const b = instance(prefix, { concurrencyPerEndpoint: 3 });
    await a.store.putSubscription(subscription('s1', r.url));
    await a.svc.start();
    await b.svc.start();
    const sent: string[] = [];
    for (let i = 0; i < 60; i++) sent.push((await (i % 2 ? a : b).events.append('alert.opened', { id: `A${i}` })).id);
    await waitFor(() => r.deliveredEventIds().length >= 60, 20_000, '60 deliveries');
    await waitFor(async () => (await a.store.outboxDepth()) === 0, 5_000, 'empty outbox');
    await new Promise((res) => setTimeout(res, 300));
    const got = countBy(r.deliveredEventIds());
    expect(r.requests.length).toBe(60);
    expect([...got.keys()].sort()).toEqual([...sent].sort());
    expect(Math.max(...got.values())).toBe(1);
    const page = await a.store.listDeliveries('s1', { limit: 100, cursor: null });
    expect(page.items).toHaveLength(60);
    expect(page.items.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
    // more than one instance's limit (3) at once means both instances were sending
    console.log(`[webhooks] two instances: ${r.requests.length} requests for ${got.size} events, max ${r.maxConcurrent} concurrent at the receiver`);
  });

  it('a delivery leased by an instance that died is taken over when the lease ends', async () => {
    const prefix = prefixOf();
    const r = await receiver();
    const a = instance(prefix);
    await a.store.putSubscription(subscription('s1', r.url));
    const e = await a.events.append();
    // fan out without dispatching, then lease the delivery as a crashed instance would have
    await a.svc.fanout.runOnce();
    const [leased] = await a.store.claimDue('s1', Date.now(), 1, 600, 'crashed-instance');
    expect(leased?.eventId).toBe(e.id);
    const t0 = Date.now();
    const b = instance(prefix);
    await b.svc.start();
    await waitFor(() => r.deliveredEventIds().length === 1, 10_000, 'takeover delivery');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(r.deliveredEventIds()).toEqual([e.id]);
  });
});
