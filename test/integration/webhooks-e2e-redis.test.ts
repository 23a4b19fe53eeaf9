import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { defaultConfig } from '../../src/config.ts';
import { webhooksPlugin } from '../../src/http/webhooks.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { RedisWebhookStore } from '../../src/stores/webhooks-redis.ts';
import { waitFor } from '../support/redis.ts';
import { TestReceiver } from '../support/webhook-receiver.ts';

const ADMIN = 'admin-key-webhooks-e2e';
const auth = { authorization: `Bearer ${ADMIN}` };

/** The whole service on Redis: pings → alert → cordon:events → outbox → receiver. */
describe('webhooks end to end on Redis (the real store and app)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  async function instance(prefix: string): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
    const url = inject('redisUrl');
    const store = await createRedisStore({ url, prefix, eventsKey: `${prefix}events` });
    const redis = new Redis(url);
    const app = await buildApp({
      store,
      config: defaultConfig({ apiKeys: [{ role: 'admin', key: ADMIN }], webhookMaxAttempts: 100, webhookBackoffMs: 25, rateLimitMax: 0 }),
      runSweeper: false,
      closeStore: true,
      plugins: [
        webhooksPlugin({
          store: new RedisWebhookStore({ redis, prefix, ownsClient: true }),
          service: { pollIntervalMs: 20, fanoutPollIntervalMs: 50, backoffMaxMs: 150, requestTimeoutMs: 1_000, closeGraceMs: 100 },
        }),
      ],
    });
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await app.close();
    };
    cleanups.push(close);
    return { app, close };
  }

  async function receiver() {
    const r = await TestReceiver.start();
    cleanups.push(() => r.down());
    return r;
  }

  async function configure(app: FastifyInstance, tags: number, hookUrl: string) {
    for (let i = 0; i < tags; i++) {
      expect((await app.inject({ method: 'PUT', url: `/v1/subjects/S${i}`, headers: auth, payload: { tagId: `T-${i}` } })).statusCode).toBe(201);
    }
    const zone = {
      name: 'School',
      kind: 'exclusion',
      subjectIds: Array.from({ length: tags }, (_, i) => `S${i}`),
      geometry: { type: 'Circle', center: [-1.5, 53.8], radiusM: 300 },
    };
    expect((await app.inject({ method: 'PUT', url: '/v1/zones/Z1', headers: auth, payload: zone })).statusCode).toBe(201);
    expect((await app.inject({ method: 'PUT', url: '/v1/webhooks/mc', headers: auth, payload: { url: hookUrl, secret: 'e2e-secret-0123456789abcdef' } })).statusCode).toBe(201);
  }

  async function breach(app: FastifyInstance, tags: number): Promise<string[]> {
    const ts = Date.now();
    const pings = Array.from({ length: tags }, (_, i) => ({ tagId: `T-${i}`, ts, lat: 53.8, lon: -1.5, accuracyM: 5 }));
    const res = await app.inject({ method: 'POST', url: '/v1/pings', headers: auth, payload: pings });
    expect(res.statusCode).toBe(200);
    return (res.json() as { alerts: { id: string }[] }).alerts.map((a) => a.id);
  }

  const deliveries = async (app: FastifyInstance) =>
    ((await app.inject({ method: 'GET', url: '/v1/webhooks/mc/deliveries?limit=1000', headers: auth })).json() as {
      items: { status: string; attempts: number; eventId: string }[];
    }).items;

  it('restart with pending deliveries: delivered after the restart, each event exactly once', async () => {
    const prefix = `t-${randomUUID()}:`;
    const r = await receiver();
    await r.down();
    const a = await instance(prefix);
    await configure(a.app, 3, r.url);
    const alerts = await breach(a.app, 3);
    expect(alerts).toHaveLength(3);
    await waitFor(async () => {
      const ds = await deliveries(a.app);
      return ds.length === 3 && ds.every((d) => d.status === 'retrying' && d.attempts >= 1);
    }, 10_000, 'three deliveries retrying');
    await a.close();

    await r.up();
    const b = await instance(prefix);
    await waitFor(async () => (await deliveries(b.app)).every((d) => d.status === 'delivered'), 10_000, 'delivered after restart');
    const ds = await deliveries(b.app);
    expect(ds.every((d) => d.attempts >= 2)).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    const got = r.deliveredEventIds();
    expect(got.sort()).toEqual(ds.map((d) => d.eventId).sort());
    expect(new Set(got).size).toBe(3);
    const alertIds = r.requests.map((q) => (JSON.parse(q.body) as { alert: { id: string } }).alert.id);
    expect(new Set(alertIds)).toEqual(new Set(alerts));
  });

  it('two instances on one Redis: every event delivered once', async () => {
    const prefix = `t-${randomUUID()}:`;
    const r = await receiver();
    r.behaviour = { status: 200, delayMs: 20 };
    const a = await instance(prefix);
    const b = await instance(prefix);
    await configure(a.app, 20, r.url);
    const alerts = [...(await breach(a.app, 20))];
    expect(alerts).toHaveLength(20);
    await waitFor(async () => (await deliveries(b.app)).filter((d) => d.status === 'delivered').length === 20, 15_000, '20 delivered');
    await new Promise((res) => setTimeout(res, 300));
    expect(r.requests).toHaveLength(20);
    expect(new Set(r.deliveredEventIds()).size).toBe(20);
  });
});
