import * as crypto from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { defaultConfig } from '../../src/config.ts';
import { webhooksPlugin } from '../../src/http/webhooks.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { MemoryWebhookStore } from '../../src/stores/webhooks-memory.ts';
import { FANOUT_CURSOR } from '../../streams/webhooks/outbox.ts';
import type { WebhookService } from '../../streams/webhooks/service.ts';
import { waitFor } from '../support/redis.ts';
import { TestReceiver } from '../support/webhook-receiver.ts';

const ADMIN = 'admin-key-for-webhook-tests';
const MONITOR = 'monitor-key-for-webhook-tests';
const SECRET = 'whsec_0123456789abcdef0123456789abcdef';
const auth = (key = ADMIN) => ({ authorization: `Bearer ${key}` });

/** from the contract text, independent of the signer */
function verifies(secret: string, raw: string, header: unknown): boolean {
  const m = typeof header === 'string' ? /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) : null;
  if (!m) return false;
  const mac = crypto.createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest('hex');
  return crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(m[2]!));
}

describe('webhooks through the HTTP API', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  async function app(opts: { maxAttempts?: number } = {}) {
    const store = createMemoryStore();
    let svc: WebhookService | undefined;
    const a: FastifyInstance = await buildApp({
      store,
      config: defaultConfig({
        apiKeys: [
          { role: 'admin', key: ADMIN },
          { role: 'monitor', key: MONITOR },
        ],
        webhookMaxAttempts: opts.maxAttempts ?? 3,
        webhookBackoffMs: 10,
        rateLimitMax: 0,
      }),
      runSweeper: false,
      closeStore: true,
      plugins: [
        webhooksPlugin({
          store: new MemoryWebhookStore(),
          service: { pollIntervalMs: 20, fanoutPollIntervalMs: 50, requestTimeoutMs: 2_000, closeGraceMs: 100 },
          onService: (s) => (svc = s),
        }),
      ],
    });
    cleanups.push(() => a.close());
    return { app: a, store, svc: svc! };
  }

  async function receiver() {
    const r = await TestReceiver.start();
    cleanups.push(() => r.down());
    return r;
  }

  async function breach(a: FastifyInstance, n = 1) {
    for (let i = 0; i < n; i++) {
      const s = await a.inject({ method: 'PUT', url: `/v1/subjects/S${i}`, headers: auth(), payload: { tagId: `TAG-${i}` } });
      expect(s.statusCode).toBe(201);
    }
    const z = await a.inject({
      method: 'PUT',
      url: '/v1/zones/Z1',
      headers: auth(),
      payload: {
        name: 'Victim home',
        kind: 'exclusion',
        subjectIds: Array.from({ length: n }, (_, i) => `S${i}`),
        geometry: { type: 'Circle', center: [-0.1276, 51.5072], radiusM: 200 },
      },
    });
    expect(z.statusCode).toBe(201);
    const ts = Date.now();
    const pings = Array.from({ length: n }, (_, i) => ({ tagId: `TAG-${i}`, ts, lat: 51.5072, lon: -0.1276, accuracyM: 5 }));
    const p = await a.inject({ method: 'POST', url: '/v1/pings', headers: auth(), payload: pings });
    expect(p.statusCode).toBe(200);
    return p.json() as { accepted: number; alerts: { id: string }[] };
  }

  it('manages subscriptions: create, read (secret masked), list, replace, validate, delete; admin only', async () => {
    const { app: a } = await app();
    const put = await a.inject({
      method: 'PUT',
      url: '/v1/webhooks/mc',
      headers: auth(),
      payload: { url: 'https://mc.example.test/hook', secret: SECRET, events: ['alert.opened'] },
    });
    expect(put.statusCode).toBe(201);
    expect(put.json()).toMatchObject({ id: 'mc', url: 'https://mc.example.test/hook', events: ['alert.opened'], active: true, secret: '****cdef' });
    expect(put.body).not.toContain(SECRET);
    const got = await a.inject({ method: 'GET', url: '/v1/webhooks/mc', headers: auth() });
    expect(got.statusCode).toBe(200);
    expect(got.body).not.toContain(SECRET);
    // replace without the secret keeps it
    const re = await a.inject({ method: 'PUT', url: '/v1/webhooks/mc', headers: auth(), payload: { url: 'https://mc.example.test/v2', active: false } });
    expect(re.statusCode).toBe(200);
    expect(re.json()).toMatchObject({ url: 'https://mc.example.test/v2', active: false, events: null, secret: '****cdef' });
    await a.inject({ method: 'PUT', url: '/v1/webhooks/other', headers: auth(), payload: { url: 'http://127.0.0.1:1/x', secret: 's' } });
    const list = await a.inject({ method: 'GET', url: '/v1/webhooks?limit=1', headers: auth() });
    expect(list.json()).toMatchObject({ items: [{ id: 'mc' }], nextCursor: 'mc' });
    const list2 = await a.inject({ method: 'GET', url: '/v1/webhooks?limit=1&cursor=mc', headers: auth() });
    expect(list2.json()).toMatchObject({ items: [{ id: 'other', secret: '****' }], nextCursor: null });

    for (const [payload, field] of [
      [{ url: 'ftp://x.test/', secret: 's' }, 'url'],
      [{ url: 'https://user:pw@x.test/', secret: 's' }, 'url'],
      [{ url: 'not a url', secret: 's' }, 'url'],
      [{ url: 'https://x.test/', secret: 's', events: ['alert.exploded'] }, 'events.0'],
      [{ url: 'https://x.test/', secret: 's', events: [] }, 'events'],
      [{ url: 'https://x.test/' }, 'secret'],
    ] as const) {
      const bad = await a.inject({ method: 'PUT', url: '/v1/webhooks/new', headers: auth(), payload });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
      expect((bad.json() as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain(field);
    }
    expect((await a.inject({ method: 'GET', url: '/v1/webhooks/new', headers: auth() })).statusCode).toBe(404);

    expect((await a.inject({ method: 'GET', url: '/v1/webhooks', headers: auth(MONITOR) })).statusCode).toBe(403);
    expect((await a.inject({ method: 'GET', url: '/v1/webhooks' })).statusCode).toBe(401);
    expect((await a.inject({ method: 'DELETE', url: '/v1/webhooks/mc', headers: auth() })).statusCode).toBe(204);
    expect((await a.inject({ method: 'DELETE', url: '/v1/webhooks/mc', headers: auth() })).statusCode).toBe(404);
    expect((await a.inject({ method: 'GET', url: '/v1/webhooks/mc/deliveries', headers: auth() })).statusCode).toBe(404);

    const docs = (await a.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/v1/webhooks/{id}', '/v1/webhooks', '/v1/webhooks/{id}/deliveries', '/v1/webhooks/{id}/deliveries/{deliveryId}/retry']));
  });

  it('a breach becomes a signed webhook; deliveries are listed; a dead one is retried by hand', async () => {
    const r = await receiver();
    r.behaviour = { status: 503 };
    const { app: a } = await app({ maxAttempts: 2 });
    expect((await a.inject({ method: 'PUT', url: '/v1/webhooks/mc', headers: auth(), payload: { url: r.url, secret: SECRET } })).statusCode).toBe(201);
    const res = await breach(a);
    expect(res.alerts).toHaveLength(1);
    const alertId = res.alerts[0]!.id;

    const deadUrl = '/v1/webhooks/mc/deliveries?status=dead';
    await waitFor(async () => ((await a.inject({ method: 'GET', url: deadUrl, headers: auth() })).json() as { items: unknown[] }).items.length === 1, 10_000, 'dead delivery');
    const dead = ((await a.inject({ method: 'GET', url: deadUrl, headers: auth() })).json() as { items: Record<string, unknown>[] }).items[0]!;
    expect(dead).toMatchObject({ status: 'dead', attempts: 2, lastStatusCode: 503, eventType: 'alert.opened', nextAttemptAt: null });
    expect(r.arrived).toBe(2);

    r.behaviour = { status: 200 };
    const retry = await a.inject({ method: 'POST', url: `/v1/webhooks/mc/deliveries/${String(dead.id)}/retry`, headers: auth() });
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ status: 'pending' });
    await waitFor(() => r.deliveredEventIds().length === 1, 10_000, 'delivered after retry');
    const req = r.requests.at(-1)!;
    const event = JSON.parse(req.body) as { id: string; type: string; alert: { id: string } };
    expect(event).toMatchObject({ id: dead.eventId, type: 'alert.opened', alert: { id: alertId } });
    expect(req.headers['cordon-event-id']).toBe(event.id);
    expect(verifies(SECRET, req.body, req.headers['cordon-signature'])).toBe(true);
    expect(req.headers.authorization).toBeUndefined();
    expect(JSON.stringify(req.headers)).not.toContain(ADMIN);

    const listAll = async () => ((await a.inject({ method: 'GET', url: '/v1/webhooks/mc/deliveries', headers: auth() })).json() as { items: Record<string, unknown>[] });
    await waitFor(async () => (await listAll()).items[0]?.status === 'delivered', 5_000, 'delivered record');
    const all = await listAll();
    expect(all.items[0]).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200 });
    expect((await a.inject({ method: 'POST', url: '/v1/webhooks/mc/deliveries/0123456789abcdef0123456789abcdef/retry', headers: auth() })).statusCode).toBe(404);

    const metrics = (await a.inject({ method: 'GET', url: '/metrics', headers: auth() })).body;
    expect(metrics).toMatch(/cordon_webhook_deliveries_total\{outcome="delivered"\} 1/);
    expect(metrics).toMatch(/cordon_webhook_deliveries_total\{outcome="dead"\} 1/);
    expect(metrics).toMatch(/cordon_webhook_outbox_depth 0/);
    expect(metrics).toMatch(/cordon_webhook_delivery_duration_seconds_bucket/);
  });

  it('a new subscription gets the events after it, not the ones already in the log', async () => {
    const r = await receiver();
    const { app: a, store, svc } = await app();
    await breach(a);
    const [before] = await store.readEventsAfter(null, 10);
    await waitFor(async () => (await svc.store.getCursor(FANOUT_CURSOR)) === before!.id, 5_000, 'fan-out past the first event');
    expect((await a.inject({ method: 'PUT', url: '/v1/webhooks/late', headers: auth(), payload: { url: r.url, secret: SECRET } })).statusCode).toBe(201);
    // the tag leaves the zone (certain): alert.ended, written after the subscription
    const out = await a.inject({
      method: 'POST',
      url: '/v1/pings',
      headers: auth(),
      payload: { tagId: 'TAG-0', ts: Date.now() + 1000, lat: 51.52, lon: -0.1276, accuracyM: 5 },
    });
    expect(out.statusCode).toBe(200);
    await waitFor(() => r.deliveredEventIds().length === 1, 5_000, 'one delivery');
    const got = JSON.parse(r.requests[0]!.body) as { id: string; type: string };
    expect(got.type).toBe('alert.ended');
    expect(got.id).not.toBe(before!.id);
  });

  it('410 Gone deactivates the subscription (visible in the API)', async () => {
    const r = await receiver();
    r.behaviour = { status: 410 };
    const { app: a } = await app();
    await a.inject({ method: 'PUT', url: '/v1/webhooks/mc', headers: auth(), payload: { url: r.url, secret: SECRET } });
    await breach(a);
    await waitFor(async () => ((await a.inject({ method: 'GET', url: '/v1/webhooks/mc', headers: auth() })).json() as { active: boolean }).active === false, 10_000, 'deactivated');
    const sub = (await a.inject({ method: 'GET', url: '/v1/webhooks/mc', headers: auth() })).json();
    expect(sub).toMatchObject({ active: false, deactivatedReason: expect.stringMatching(/410/) });
    const ds = (await a.inject({ method: 'GET', url: '/v1/webhooks/mc/deliveries', headers: auth() })).json() as { items: Record<string, unknown>[] };
    expect(ds.items).toHaveLength(1);
    expect(ds.items[0]).toMatchObject({ status: 'dead', lastStatusCode: 410, attempts: 1 });
    const retry = await a.inject({ method: 'POST', url: `/v1/webhooks/mc/deliveries/${String(ds.items[0]!.id)}/retry`, headers: auth() });
    expect(retry.statusCode).toBe(409);
    expect(r.arrived).toBe(1);
  });

  it('a slow receiver does not slow ping processing (measured)', async () => {
    const TAGS = 50;
    const ROUNDS = 40;
    async function measure(kind: 'none' | 'fast' | 'slow'): Promise<{ p50: number; p95: number; max: number; deliveriesWaiting: number }> {
      const { app: a } = await app();
      let r: TestReceiver | null = null;
      if (kind !== 'none') {
        r = await receiver();
        r.behaviour = { status: 200, delayMs: kind === 'slow' ? 5_000 : 0 };
        await a.inject({ method: 'PUT', url: '/v1/webhooks/hook', headers: auth(), payload: { url: r.url, secret: SECRET } });
      }
      await breach(a, TAGS);
      const lat: number[] = [];
      const WARMUP = 6;
      for (let round = 0; round < WARMUP + ROUNDS; round++) {
        // alternate far outside (certain: episode ends) and inside (new episode): every ping makes an event
        const inside = round % 2 === 1;
        const ts = Date.now() + 1000 * (round + 1);
        const pings = Array.from({ length: TAGS }, (_, i) => ({
          tagId: `TAG-${i}`,
          ts,
          lat: inside ? 51.5072 : 51.52,
          lon: -0.1276,
          accuracyM: 5,
        }));
        const t0 = performance.now();
        const res = await a.inject({ method: 'POST', url: '/v1/pings', headers: auth(), payload: pings });
        if (round >= WARMUP) lat.push(performance.now() - t0);
        expect(res.statusCode).toBe(200);
        expect((res.json() as { alerts: unknown[] }).alerts).toHaveLength(TAGS);
      }
      lat.sort((x, y) => x - y);
      const deliveriesWaiting = r ? r.arrived - r.requests.length : 0;
      return { p50: lat[Math.floor(lat.length / 2)]!, p95: lat[Math.floor(lat.length * 0.95)]!, max: lat.at(-1)!, deliveriesWaiting };
    }
    const none = await measure('none');
    const fast = await measure('fast');
    const slow = await measure('slow');
    const f = (m: { p50: number; p95: number; max: number }) => `p50 ${m.p50.toFixed(1)} ms, p95 ${m.p95.toFixed(1)} ms, max ${m.max.toFixed(1)} ms`;
    console.log(
      `[webhooks] POST /v1/pings latency, ${TAGS} pings → ${TAGS} alert events per request, ${ROUNDS} requests each:\n` +
        `  no webhook:                      ${f(none)}\n` +
        `  receiver answering at once:      ${f(fast)}\n` +
        `  receiver answering after 5 s:    ${f(slow)} (${slow.deliveriesWaiting} requests held at the receiver at the end)`,
    );
    // every batch was answered while deliveries sat at the 5-second receiver: processing never waited for them
    expect(slow.deliveriesWaiting).toBeGreaterThan(0);
    expect(slow.max).toBeLessThan(5_000);
  });
});
