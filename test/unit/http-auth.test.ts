import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEYS, expectProblem, json, makeTestApp, type TestApp } from '../support/http.ts';

describe('auth and roles', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  it('no key is 401 problem+json with a WWW-Authenticate challenge', async () => {
    const r = await t.call(null, { method: 'GET', url: '/v1/subjects' });
    const p = expectProblem(r, 401);
    expect(p.detail).toMatch(/API key is required/);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('an unknown key is 401', async () => {
    const p = expectProblem(await t.app.inject({ method: 'GET', url: '/v1/alerts', headers: { authorization: 'Bearer nope' } }), 401);
    expect(p.detail).toMatch(/not valid/);
    expectProblem(await t.app.inject({ method: 'GET', url: '/v1/alerts', headers: { authorization: `Basic ${KEYS.admin}` } }), 401);
  });

  it('a wrong role is 403 and changes nothing', async () => {
    expectProblem(await t.call('ingest', { method: 'GET', url: '/v1/subjects' }), 403);
    expectProblem(await t.call('monitor', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'T1' } }), 403);
    expectProblem(await t.call('ops', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'T1' } }), 403);
    expectProblem(await t.call('manager', { method: 'POST', url: '/v1/pings', payload: { tagId: 'T1', ts: 0, lat: 0, lon: 0 } }), 403);
    expectProblem(await t.call('manager', { method: 'POST', url: '/v1/alerts/x/acknowledge', payload: { by: 'x' } }), 403);
    expectProblem(await t.call('monitor', { method: 'GET', url: '/metrics' }), 403);
    expect((await t.call('admin', { method: 'GET', url: '/v1/subjects/S1' })).statusCode).toBe(404);
  });

  it('each role reaches what the contract gives it', async () => {
    expect((await t.call('manager', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'T1' } })).statusCode).toBe(201);
    for (const role of ['manager', 'monitor', 'ops', 'admin'] as const) {
      expect((await t.call(role, { method: 'GET', url: '/v1/subjects/S1' })).statusCode, role).toBe(200);
      expect((await t.call(role, { method: 'GET', url: '/v1/alerts' })).statusCode, role).toBe(200);
      expect((await t.call(role, { method: 'GET', url: '/v1/zones' })).statusCode, role).toBe(200);
    }
    expect((await t.call('ingest', { method: 'POST', url: '/v1/pings', payload: { tagId: 'T1', ts: 0, lat: 0, lon: 0 } })).statusCode).toBe(200);
    expect((await t.call('ops', { method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    // monitors act on alerts (404 here: the id does not exist, but the role passed)
    expect((await t.call('monitor', { method: 'POST', url: '/v1/alerts/x/acknowledge', payload: { by: 'x' } })).statusCode).toBe(404);
  });

  it('health endpoints and docs are open', async () => {
    expect(json(await t.app.inject({ method: 'GET', url: '/healthz' }))).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });
});

describe('per-key rate limit', () => {
  it('answers 429 with Retry-After past the limit, per key, and recovers after the window', async () => {
    const t = await makeTestApp({ config: { rateLimitMax: 3, rateLimitWindowS: 60 } });
    try {
      for (let i = 0; i < 3; i++) expect((await t.call('monitor', { method: 'GET', url: '/v1/alerts' })).statusCode).toBe(200);
      const r = await t.call('monitor', { method: 'GET', url: '/v1/alerts' });
      expectProblem(r, 429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      // another key has its own budget
      expect((await t.call('ops', { method: 'GET', url: '/v1/alerts' })).statusCode).toBe(200);
      t.clock.advance(61_000);
      expect((await t.call('monitor', { method: 'GET', url: '/v1/alerts' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
