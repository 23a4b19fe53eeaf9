import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOME, exclusionZone, expectProblem, json, makeTestApp, type TestApp } from '../support/http.ts';

describe('ops endpoints, docs and metrics', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  it('/readyz is 503 problem+json when a check fails', async () => {
    expect(json(await t.app.inject({ method: 'GET', url: '/readyz' }))).toEqual({ status: 'ready', checks: { store: true } });
    t.app.cordon.addReadinessCheck('kafka', () => false);
    const p = expectProblem(await t.app.inject({ method: 'GET', url: '/readyz' }), 503);
    expect(p.detail).toContain('kafka');
    expect(p.checks).toEqual({ store: true, kafka: false });
  });

  it('/docs/json is an OpenAPI 3 document covering every contract route, from the zod schemas', async () => {
    const d = json(await t.app.inject({ method: 'GET', url: '/docs/json' }));
    expect(d.openapi).toMatch(/^3\./);
    for (const p of [
      '/v1/subjects/{id}',
      '/v1/subjects',
      '/v1/zones/{id}',
      '/v1/zones',
      '/v1/zones/{id}/versions',
      '/v1/pings',
      '/v1/alerts',
      '/v1/alerts/{id}',
      '/v1/alerts/{id}/acknowledge',
      '/v1/alerts/{id}/resolve',
      '/v1/alerts/stream',
      '/v1/tags/{tagId}/positions',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      expect(d.paths[p], p).toBeDefined();
    }
    const zoneBody = d.paths['/v1/zones/{id}'].put.requestBody.content['application/json'].schema;
    expect(zoneBody.properties.kind.enum).toEqual(['exclusion', 'inclusion']);
    expect(zoneBody.required).toEqual(expect.arrayContaining(['kind', 'geometry']));
    const ui = await t.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it('/metrics counts processed and rejected pings, unknown tags, alerts by type and latency', async () => {
    await t.call('manager', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'BUD-1' } });
    await t.call('manager', { method: 'PUT', url: '/v1/zones/Z1', payload: exclusionZone(['S1']) });
    const ts = t.clock.now() + 1000;
    await t.call('ingest', {
      method: 'POST',
      url: '/v1/pings',
      payload: [
        { tagId: 'BUD-1', ts, lat: HOME.lat, lon: HOME.lon, accuracyM: 5 },
        { tagId: 'STRANGER', ts, lat: 0, lon: 0 },
      ],
    });
    await t.call('ingest', { method: 'POST', url: '/v1/pings', payload: [{ tagId: 'BUD-1', ts, lat: 100, lon: 0 }, { tagId: 'x' }] });
    const r = await t.call('ops', { method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toMatch(/cordon_pings_processed_total\{source="http"\} 2/);
    expect(r.body).toMatch(/cordon_pings_rejected_total\{source="http"\} 2/);
    expect(r.body).toMatch(/cordon_pings_unknown_tag_total\{source="http"\} 1/);
    expect(r.body).toMatch(/cordon_alert_events_total\{type="exclusion.breach",event="opened"\} 1/);
    expect(r.body).toMatch(/cordon_ping_batch_processing_seconds_count\{source="http"\} 1/);
  });

  it('unknown routes are 404 problem+json; a body not sent as JSON is 400 or 415', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/v1/nothing' }), 404);
    const p = expectProblem(await t.call('ingest', { method: 'POST', url: '/v1/pings', payload: 'tagId=1', headers: { 'content-type': 'text/plain' } }), 400);
    expect(p.detail).toMatch(/application\/json/);
    expectProblem(await t.call('ingest', { method: 'POST', url: '/v1/pings', payload: 'x', headers: { 'content-type': 'application/xml' } }), 415);
    expectProblem(await t.call('manager', { method: 'PUT', url: '/v1/zones/Z1' }), 400);
  });

  it('a body over the size limit is 413', async () => {
    const small = await makeTestApp({ config: { bodyLimitBytes: 2048 } });
    try {
      const pings = Array.from({ length: 100 }, (_, i) => ({ tagId: 'BUD-1', ts: i, lat: 0, lon: 0 }));
      expectProblem(await small.call('ingest', { method: 'POST', url: '/v1/pings', payload: pings }), 413);
    } finally {
      await small.close();
    }
  });
});

describe('pings with a sink (Kafka)', () => {
  it('answers 202 {accepted} and hands the pings as received to the sink', async () => {
    const sent: unknown[][] = [];
    const t = await makeTestApp({
      deps: {
        pingSink: {
          sendPings: async (p) => {
            sent.push([...p]);
          },
        },
      },
    });
    try {
      const body = [
        { tagId: 'BUD-1', ts: '2026-03-02T12:00:00Z', lat: 1, lon: 2, extra: 'kept' },
        { tagId: 'BUD-2', ts: 5, fix: 'none' },
      ];
      const r = await t.call('ingest', { method: 'POST', url: '/v1/pings', payload: body });
      expect(r.statusCode).toBe(202);
      expect(json(r)).toEqual({ accepted: 2 });
      expect(sent).toEqual([body]);
      expectProblem(await t.call('ingest', { method: 'POST', url: '/v1/pings', payload: [{ tagId: 'BUD-1' }] }), 400);
      expect(sent).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});

describe('plugins seam', () => {
  it('registers deps.plugins after the core routes with app.cordon (requireRole, store, metrics) and maps their errors', async () => {
    const t = await makeTestApp({
      deps: {
        plugins: [
          async (app) => {
            const { requireRole, store, metrics } = app.cordon;
            app.post(
              '/v1/extra',
              {
                preHandler: requireRole('ops'),
                schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } },
              },
              async () => ({ kind: store.kind, hasRegistry: typeof metrics.registry.metrics === 'function' }),
            );
          },
        ],
      },
    });
    try {
      expect(json(await t.call('ops', { method: 'POST', url: '/v1/extra', payload: { n: 1 } }))).toEqual({ kind: 'memory', hasRegistry: true });
      expectProblem(await t.call('monitor', { method: 'POST', url: '/v1/extra', payload: { n: 1 } }), 403);
      const bad = expectProblem(await t.call('ops', { method: 'POST', url: '/v1/extra', payload: {} }), 400);
      expect(bad.errors[0]).toMatchObject({ in: 'body', field: 'n', code: 'required' });
    } finally {
      await t.close();
    }
  });
});

describe('buildApp failure', () => {
  it('a plugin that fails to load rejects buildApp with its error', async () => {
    const { createMemoryStore } = await import('../../src/stores/memory.ts');
    const { buildApp } = await import('../../src/app.ts');
    const store = createMemoryStore();
    await expect(
      buildApp({
        store,
        runSweeper: false,
        plugins: [
          async () => {
            throw new Error('plugin boom');
          },
        ],
      }),
    ).rejects.toThrow('plugin boom');
    await store.close();
  });
});
