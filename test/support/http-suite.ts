/**
 * The HTTP API suite, run against every store: test/unit/http-api.test.ts (memory) and
 * test/integration/http-redis.test.ts (real Redis). Each test starts from an empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CordonStore } from '../../streams/ports.ts';
import type { AddressInfo } from 'node:net';
import { HOME, KEYS, ManualClock, exclusionZone, expectProblem, json, makeTestApp, openStream, square, type TestApp } from './http.ts';
import { waitFor } from './redis.ts';

export interface StoreFactory {
  (clock: ManualClock): Promise<{ store: CordonStore; cleanup: () => Promise<void> }>;
}

export function httpApiSuite(makeStore: StoreFactory): void {
  let t: TestApp;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const clock = new ManualClock();
    const s = await makeStore(clock);
    cleanup = s.cleanup;
    t = await makeTestApp({ store: s.store, clock });
  });
  afterEach(async () => {
    await t.close();
    await cleanup();
  });

  const putSubject = (id: string, body: Record<string, unknown>) =>
    t.call('manager', { method: 'PUT', url: `/v1/subjects/${id}`, payload: body });
  const putZone = (id: string, body: unknown) => t.call('manager', { method: 'PUT', url: `/v1/zones/${id}`, payload: body as object });
  const ping = (body: unknown) => t.call('ingest', { method: 'POST', url: '/v1/pings', payload: body as object });
  const ts = (offsetMs: number) => new Date(t.clock.now() + offsetMs).toISOString();

  async function breach(subject = 'S1', tag = 'BUD-1', zone = 'Z1') {
    expect((await putSubject(subject, { tagId: tag })).statusCode).toBe(201);
    expect((await putZone(zone, exclusionZone([subject]))).statusCode).toBe(201);
    const res = await ping({ tagId: tag, ts: ts(1000), lat: HOME.lat, lon: HOME.lon, accuracyM: 5 });
    expect(res.statusCode).toBe(200);
    const body = json(res);
    expect(body.alerts).toHaveLength(1);
    return body.alerts[0];
  }

  describe('subjects', () => {
    it('PUT creates (201) then replaces (200); GET, list and DELETE', async () => {
      const a = await putSubject('S1', { tagId: 'BUD-1', name: 'A. Person', orderRef: 'SHPO-42' });
      expect(a.statusCode).toBe(201);
      expect(json(a)).toMatchObject({ id: 'S1', tagId: 'BUD-1', name: 'A. Person', orderRef: 'SHPO-42', timezone: 'Europe/London' });
      const b = await putSubject('S1', { tagId: 'BUD-1', timezone: 'Europe/Paris' });
      expect(b.statusCode).toBe(200);
      expect(json(b)).toMatchObject({ id: 'S1', timezone: 'Europe/Paris', name: null });
      const g = await t.call('monitor', { method: 'GET', url: '/v1/subjects/S1' });
      expect(g.statusCode).toBe(200);
      expect(json(g).timezone).toBe('Europe/Paris');
      const d = await t.call('manager', { method: 'DELETE', url: '/v1/subjects/S1' });
      expect(d.statusCode).toBe(204);
      expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/subjects/S1' }), 404);
      expectProblem(await t.call('manager', { method: 'DELETE', url: '/v1/subjects/S1' }), 404);
    });

    it('lists with limit and cursor', async () => {
      for (const id of ['S3', 'S1', 'S2']) await putSubject(id, { tagId: `T-${id}` });
      const p1 = json(await t.call('ops', { method: 'GET', url: '/v1/subjects?limit=2' }));
      expect(p1.items.map((s: { id: string }) => s.id)).toEqual(['S1', 'S2']);
      expect(typeof p1.nextCursor).toBe('string');
      const p2 = json(await t.call('ops', { method: 'GET', url: `/v1/subjects?limit=2&cursor=${encodeURIComponent(p1.nextCursor)}` }));
      expect(p2.items.map((s: { id: string }) => s.id)).toEqual(['S3']);
      expect(p2.nextCursor).toBeNull();
      const bad = expectProblem(await t.call('ops', { method: 'GET', url: '/v1/subjects?limit=0' }), 400);
      expect(bad.errors[0]).toMatchObject({ in: 'query', field: 'limit' });
      expectProblem(await t.call('ops', { method: 'GET', url: '/v1/subjects?limit=1001' }), 400);
    });

    it('a tag already assigned to another subject is 409 and changes nothing', async () => {
      await putSubject('S1', { tagId: 'BUD-1' });
      const r = expectProblem(await putSubject('S2', { tagId: 'BUD-1' }), 409);
      expect(r.detail).toContain('BUD-1');
      expectProblem(await t.call('manager', { method: 'GET', url: '/v1/subjects/S2' }), 404);
      expect(json(await t.call('manager', { method: 'GET', url: '/v1/subjects/S1' })).tagId).toBe('BUD-1');
    });

    it('wrong types and bad values are 400 listing every field, and nothing is stored', async () => {
      const r = expectProblem(await putSubject('S1', { tagId: 'has space', name: 7, timezone: 'Mars/Olympus' }), 400);
      const fields = r.errors.map((e: { field: string }) => e.field).sort();
      expect(fields).toEqual(['name', 'tagId', 'timezone']);
      const badId = expectProblem(await putSubject('bad%20id', { tagId: 'X' }), 400);
      expect(badId.errors[0]).toMatchObject({ in: 'params', field: 'id' });
      expectProblem(await t.call('manager', { method: 'GET', url: '/v1/subjects/S1' }), 404);
    });

    it('a body that is not JSON is 400', async () => {
      const r = expectProblem(
        await t.call('manager', { method: 'PUT', url: '/v1/subjects/S1', payload: '{"tagId": ', headers: { 'content-type': 'application/json' } }),
        400,
      );
      expect(r.detail).toMatch(/JSON/);
      expectProblem(await t.call('manager', { method: 'GET', url: '/v1/subjects/S1' }), 404);
    });
  });

  describe('zones', () => {
    beforeEach(async () => {
      await putSubject('S1', { tagId: 'BUD-1' });
    });

    it('PUT creates version 1, replaces with version 2; versions list who/when/what; delete keeps history', async () => {
      const a = await putZone('Z1', exclusionZone(['S1']));
      expect(a.statusCode).toBe(201);
      expect(json(a)).toMatchObject({ id: 'Z1', version: 1, kind: 'exclusion', subjectIds: ['S1'], graceSeconds: 0, minConfidence: 'possible', schedule: null });
      const b = await putZone('Z1', exclusionZone(['S1'], { name: 'School', graceSeconds: 30 }));
      expect(b.statusCode).toBe(200);
      expect(json(b)).toMatchObject({ version: 2, name: 'School', graceSeconds: 30 });
      expect(json(b).updatedBy).toMatch(/^manager:/);

      const v = json(await t.call('monitor', { method: 'GET', url: '/v1/zones/Z1/versions' }));
      expect(v.items.map((x: { version: number; action: string }) => [x.version, x.action])).toEqual([
        [1, 'created'],
        [2, 'replaced'],
      ]);
      expect(v.items[1].by).toMatch(/^manager:/);
      expect(v.items[1].zone.name).toBe('School');
      expect(Date.parse(v.items[0].at)).toBeGreaterThan(0);

      expect((await t.call('manager', { method: 'DELETE', url: '/v1/zones/Z1' })).statusCode).toBe(204);
      expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/zones/Z1' }), 404);
      const after = json(await t.call('monitor', { method: 'GET', url: '/v1/zones/Z1/versions' }));
      expect(after.items.map((x: { action: string }) => x.action)).toEqual(['created', 'replaced', 'deleted']);
      expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/zones/NOPE/versions' }), 404);
    });

    it('lists by subject', async () => {
      await putSubject('S2', { tagId: 'BUD-2' });
      await putZone('Z1', exclusionZone(['S1']));
      await putZone('Z2', exclusionZone(['S2']));
      await putZone('Z3', { kind: 'inclusion', subjectIds: ['S1', 'S2'], geometry: { type: 'Circle', center: [HOME.lon, HOME.lat], radiusM: 250 } });
      const all = json(await t.call('ops', { method: 'GET', url: '/v1/zones' }));
      expect(all.items.map((z: { id: string }) => z.id)).toEqual(['Z1', 'Z2', 'Z3']);
      const s2 = json(await t.call('ops', { method: 'GET', url: '/v1/zones?subjectId=S2' }));
      expect(s2.items.map((z: { id: string }) => z.id)).toEqual(['Z2', 'Z3']);
      expect(s2.nextCursor).toBeNull();
    });

    it('accepts a schedule, a circle, a multipolygon and validity bounds', async () => {
      const r = await putZone('Z1', {
        name: 'Curfew',
        kind: 'inclusion',
        subjectIds: ['S1'],
        geometry: { type: 'Circle', center: [HOME.lon, HOME.lat], radiusM: 100 },
        schedule: { timezone: 'Europe/London', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '19:00', end: '07:00' }] },
        validFrom: '2026-01-01T00:00:00Z',
        validTo: null,
      });
      expect(r.statusCode).toBe(201);
      expect(json(r)).toMatchObject({ schedule: { windows: [{ start: '19:00', end: '07:00' }] }, validFrom: '2026-01-01T00:00:00.000Z', validTo: null });
      const m = await putZone('Z2', {
        kind: 'exclusion',
        subjectIds: ['S1'],
        geometry: {
          type: 'MultiPolygon',
          coordinates: [
            [[[179, 0], [180, 0], [180, 1], [179, 1], [179, 0]]],
            [[[-180, 0], [-179, 0], [-179, 1], [-180, 1], [-180, 0]]],
          ],
        },
      });
      expect(m.statusCode).toBe(201);
    });

    const badZones: [string, Record<string, unknown>, string[]][] = [
      ['unknown zone kind', exclusionZone(['S1'], { kind: 'forbidden' }), ['kind']],
      ['wrong types', exclusionZone(['S1'], { graceSeconds: 'ten', minConfidence: 3, name: 5 }), ['graceSeconds', 'minConfidence', 'name']],
      [
        'unclosed ring',
        exclusionZone(['S1'], { geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] } }),
        ['geometry.coordinates.0'],
      ],
      [
        'self-intersecting ring',
        exclusionZone(['S1'], { geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]] } }),
        ['geometry.coordinates.0'],
      ],
      [
        'out-of-range coordinates',
        exclusionZone(['S1'], { geometry: { type: 'Polygon', coordinates: [[[0, 0], [200, 0], [200, 95], [0, 1], [0, 0]]] } }),
        ['geometry.coordinates.0'],
      ],
      ['radius <= 0', exclusionZone(['S1'], { geometry: { type: 'Circle', center: [0, 0], radiusM: 0 } }), ['geometry.radiusM']],
      ['unknown geometry type', exclusionZone(['S1'], { geometry: { type: 'Triangle', coordinates: [] } }), ['geometry']],
      [
        'bad schedule times and days',
        exclusionZone(['S1'], { schedule: { windows: [{ days: ['mon', 'funday'], start: '25:00', end: '7pm' }] } }),
        ['schedule.windows.0.days.1', 'schedule.windows.0.start', 'schedule.windows.0.end'],
      ],
      ['unknown subjects', exclusionZone(['S1', 'GHOST', 'NOBODY']), ['subjectIds.1', 'subjectIds.2']],
      ['validTo before validFrom', exclusionZone(['S1'], { validFrom: '2026-02-01T00:00:00Z', validTo: '2026-01-01T00:00:00Z' }), ['validTo']],
    ];
    for (const [name, body, fields] of badZones) {
      it(`rejects ${name} with 400 naming the fields, and changes nothing`, async () => {
        const r = expectProblem(await putZone('ZB', body), 400);
        const got: string[] = r.errors.map((e: { field: string }) => e.field);
        for (const f of fields) expect(got.some((g) => g === f || g.startsWith(`${f}.`)), `${f} in ${JSON.stringify(got)}`).toBe(true);
        expectProblem(await t.call('manager', { method: 'GET', url: '/v1/zones/ZB' }), 404);
        expectProblem(await t.call('manager', { method: 'GET', url: '/v1/zones/ZB/versions' }), 404);
      });
    }

    it('a rejected replacement leaves the previous version in force', async () => {
      await putZone('Z1', exclusionZone(['S1']));
      expectProblem(await putZone('Z1', exclusionZone(['S1'], { kind: 'nope' })), 400);
      const z = json(await t.call('manager', { method: 'GET', url: '/v1/zones/Z1' }));
      expect(z.version).toBe(1);
      expect(z.kind).toBe('exclusion');
    });

    it('a zone change is used by the engine at once', async () => {
      // version 1 far away: no alert; version 2 over the tag: alert judged against version 2
      await putZone('Z1', exclusionZone(['S1'], { geometry: { type: 'Polygon', coordinates: square(10, 10) } }));
      const r1 = json(await ping({ tagId: 'BUD-1', ts: ts(1000), lat: HOME.lat, lon: HOME.lon, accuracyM: 5 }));
      expect(r1.alerts).toEqual([]);
      t.clock.advance(5000);
      await putZone('Z1', exclusionZone(['S1']));
      const r2 = json(await ping({ tagId: 'BUD-1', ts: ts(1000), lat: HOME.lat, lon: HOME.lon, accuracyM: 5 }));
      expect(r2.alerts).toHaveLength(1);
      expect(r2.alerts[0]).toMatchObject({ type: 'exclusion.breach', zoneId: 'Z1', zoneVersion: 2 });
    });
  });

  describe('pings', () => {
    it('a single ping answers 200 {accepted, alerts}; a breach returns the opened alert, stored', async () => {
      const a = await breach();
      expect(a).toMatchObject({ type: 'exclusion.breach', subjectId: 'S1', tagId: 'BUD-1', zoneId: 'Z1', zoneVersion: 1, status: 'open', active: true });
      const stored = json(await t.call('monitor', { method: 'GET', url: `/v1/alerts/${encodeURIComponent(a.id)}` }));
      expect(stored.id).toBe(a.id);
      // a further violating ping updates the same alert and raises no second one
      const again = json(await ping({ tagId: 'BUD-1', ts: ts(2000), lat: HOME.lat, lon: HOME.lon, accuracyM: 5 }));
      expect(again.accepted).toBe(1);
      const list = json(await t.call('monitor', { method: 'GET', url: '/v1/alerts' }));
      expect(list.items).toHaveLength(1);
      expect(list.items[0].pingCount).toBe(2);
    });

    it('an array is processed as one batch; unknown tags are accepted and ignored', async () => {
      await putSubject('S1', { tagId: 'BUD-1' });
      const items = Array.from({ length: 50 }, (_, i) => ({ tagId: i % 2 ? 'BUD-1' : 'NOBODY', ts: t.clock.now() + i * 1000, lat: 50, lon: 0 }));
      const r = await ping(items);
      expect(r.statusCode).toBe(200);
      expect(json(r)).toEqual({ accepted: 50, alerts: [] });
      const trail = json(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions' }));
      expect(trail.items).toHaveLength(25);
    });

    it('one invalid item rejects the whole batch: 400 naming index and field, nothing stored', async () => {
      await putSubject('S1', { tagId: 'BUD-1' });
      const good = { tagId: 'BUD-1', ts: ts(1000), lat: 50, lon: 0 };
      const r = expectProblem(
        await ping([good, { ...good, ts: ts(2000), lat: 91 }, good, { tagId: 'BUD-1', ts: 'yesterday', lat: 'x', lon: 0 }]),
        400,
      );
      const pairs = r.errors.map((e: { index: number; field: string }) => `${e.index}:${e.field}`).sort();
      expect(pairs).toEqual(['1:lat', '3:lat', '3:ts']);
      const trail = json(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions' }));
      expect(trail.items).toEqual([]);
    });

    it('out-of-range coordinates, wrong types and missing fields are 400', async () => {
      const single = expectProblem(await ping({ tagId: 'BUD-1', ts: Date.now(), lat: 10, lon: 181 }), 400);
      expect(single.errors).toEqual([expect.objectContaining({ index: 0, field: 'lon' })]);
      const types = expectProblem(await ping({ tagId: 5, ts: true }), 400);
      expect(types.errors.map((e: { field: string }) => e.field).sort()).toEqual(expect.arrayContaining(['tagId', 'ts']));
      expectProblem(await ping([1, 'x']), 400);
    });

    it('a body that is not JSON is 400; more than 10,000 pings is 413; nothing processed', async () => {
      await putSubject('S1', { tagId: 'BUD-1' });
      const nj = expectProblem(
        await t.call('ingest', { method: 'POST', url: '/v1/pings', payload: '[{"tagId":"BUD-1",', headers: { 'content-type': 'application/json' } }),
        400,
      );
      expect(nj.detail).toMatch(/JSON/);
      const many = Array.from({ length: 10_001 }, (_, i) => ({ tagId: 'BUD-1', ts: t.clock.now() + i, lat: 50, lon: 0 }));
      const big = expectProblem(await ping(many), 413);
      expect(big.detail).toContain('10000');
      const trail = json(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions' }));
      expect(trail.items).toEqual([]);
    });

    it('a body read straight from its bytes and one that needs JSON.parse give the same trail; __proto__ is refused', async () => {
      await putSubject('S1', { tagId: 'BUD-1' });
      const t0 = t.clock.now();
      const post = (payload: string) => t.call('ingest', { method: 'POST', url: '/v1/pings', payload, headers: { 'content-type': 'application/json' } });
      // the usual form (the byte scanner), then escapes, non-ASCII and nested extras (the general path)
      expect((await post(`[{"tagId":"BUD-1","ts":${t0 + 1000},"lat":50.0000001,"lon":-0.5,"firmware":"1.2.3","rssi":-71}]`)).statusCode).toBe(200);
      expect((await post(`\n[ {"tagId":"BUD\\u002d1","ts":${t0 + 2000},"lat":50,"lon":0,"note":"café","meta":{"v":[1,2]}} ]`)).statusCode).toBe(200);
      const items = json(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions' })).items;
      expect(items).toHaveLength(2);
      expect(items[0]).toMatchObject({ lat: 50.0000001, lon: -0.5, firmware: '1.2.3', rssi: -71 });
      expect(items[1]).toMatchObject({ lat: 50, lon: 0, note: 'café', meta: { v: [1, 2] } });
      const poisoned = expectProblem(await post(`[{"tagId":"BUD-1","ts":${t0 + 3000},"lat":50,"lon":0,"__proto__":{"x":1}}]`), 400);
      expect(poisoned.detail).toMatch(/JSON/);
      expect(json(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions' })).items).toHaveLength(2);
    });

    it('extra fields are kept in the stored trail; from/to filter it', async () => {
      await putSubject('S1', { tagId: 'BUD-1' });
      const t0 = t.clock.now();
      await ping([
        { tagId: 'BUD-1', ts: t0 + 1000, lat: 50, lon: 0, firmware: '1.2.3' },
        { tagId: 'BUD-1', ts: t0 + 2000, lat: 50.1, lon: 0 },
        { tagId: 'BUD-1', ts: t0 + 3000, fix: 'none', battery: 80 },
      ]);
      const all = json(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions' }));
      expect(all.items).toHaveLength(3);
      expect(all.items[0]).toMatchObject({ tagId: 'BUD-1', lat: 50, lon: 0, firmware: '1.2.3' });
      expect(all.items[2]).toMatchObject({ fix: 'none', lat: null, battery: 80 });
      const mid = json(
        await t.call('monitor', { method: 'GET', url: `/v1/tags/BUD-1/positions?from=${t0 + 1500}&to=${new Date(t0 + 2500).toISOString()}` }),
      );
      expect(mid.items.map((p: { lat: number }) => p.lat)).toEqual([50.1]);
      const page = json(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions?limit=2' }));
      expect(page.items).toHaveLength(2);
      const rest = json(await t.call('monitor', { method: 'GET', url: `/v1/tags/BUD-1/positions?limit=2&cursor=${page.nextCursor}` }));
      expect(rest.items).toHaveLength(1);
      expect(rest.nextCursor).toBeNull();
      expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/tags/BUD-1/positions?from=soon' }), 400);
    });
  });

  describe('alerts', () => {
    it('acknowledge then resolve with an outcome; wrong-state transitions are 409 and change nothing', async () => {
      const a = await breach();
      const url = `/v1/alerts/${encodeURIComponent(a.id)}`;
      const ack = await t.call('monitor', { method: 'POST', url: `${url}/acknowledge`, payload: { by: 'Officer Jones', note: 'called subject' } });
      expect(ack.statusCode).toBe(200);
      expect(json(ack)).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'Officer Jones' });
      expect(json(ack).notes).toEqual([expect.objectContaining({ by: 'Officer Jones', text: 'called subject', action: 'acknowledge' })]);

      const again = expectProblem(await t.call('monitor', { method: 'POST', url: `${url}/acknowledge`, payload: { by: 'X' } }), 409);
      expect(again.detail).toMatch(/acknowledged/);

      const badOutcome = expectProblem(await t.call('monitor', { method: 'POST', url: `${url}/resolve`, payload: { by: 'X', outcome: 'meh' } }), 400);
      expect(badOutcome.errors[0].field).toBe('outcome');
      const noBy = expectProblem(await t.call('monitor', { method: 'POST', url: `${url}/resolve`, payload: { outcome: 'false_alert' } }), 400);
      expect(noBy.errors[0].field).toBe('by');

      const res = await t.call('monitor', { method: 'POST', url: `${url}/resolve`, payload: { by: 'Sgt Smith', outcome: 'breach_confirmed' } });
      expect(res.statusCode).toBe(200);
      expect(json(res)).toMatchObject({ status: 'resolved', resolvedBy: 'Sgt Smith', outcome: 'breach_confirmed' });

      expectProblem(await t.call('monitor', { method: 'POST', url: `${url}/resolve`, payload: { by: 'X', outcome: 'false_alert' } }), 409);
      expectProblem(await t.call('monitor', { method: 'POST', url: `${url}/acknowledge`, payload: { by: 'X' } }), 409);
      const now = json(await t.call('monitor', { method: 'GET', url }));
      expect(now).toMatchObject({ status: 'resolved', outcome: 'breach_confirmed', resolvedBy: 'Sgt Smith' });
    });

    it('an open alert can be resolved directly', async () => {
      const a = await breach();
      const r = await t.call('admin', {
        method: 'POST',
        url: `/v1/alerts/${encodeURIComponent(a.id)}/resolve`,
        payload: { by: 'A', outcome: 'equipment_fault' },
      });
      expect(json(r).status).toBe('resolved');
    });

    it('unknown alert id is 404 for get, acknowledge and resolve', async () => {
      expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/alerts/nope' }), 404);
      expectProblem(await t.call('monitor', { method: 'POST', url: '/v1/alerts/nope/acknowledge', payload: { by: 'X' } }), 404);
      expectProblem(await t.call('monitor', { method: 'POST', url: '/v1/alerts/nope/resolve', payload: { by: 'X', outcome: 'false_alert' } }), 404);
    });

    it('lists newest first with filters and a cursor', async () => {
      const a1 = await breach('S1', 'BUD-1', 'Z1');
      t.clock.advance(60_000);
      const a2 = await breach('S2', 'BUD-2', 'Z2');
      const all = json(await t.call('monitor', { method: 'GET', url: '/v1/alerts' }));
      expect(all.items.map((a: { id: string }) => a.id)).toEqual([a2.id, a1.id]);
      const p1 = json(await t.call('monitor', { method: 'GET', url: '/v1/alerts?limit=1' }));
      expect(p1.items[0].id).toBe(a2.id);
      const p2 = json(await t.call('monitor', { method: 'GET', url: `/v1/alerts?limit=1&cursor=${encodeURIComponent(p1.nextCursor)}` }));
      expect(p2.items[0].id).toBe(a1.id);
      const bySubject = json(await t.call('monitor', { method: 'GET', url: '/v1/alerts?subjectId=S1' }));
      expect(bySubject.items.map((a: { id: string }) => a.id)).toEqual([a1.id]);
      const byType = json(await t.call('monitor', { method: 'GET', url: '/v1/alerts?type=tag.tamper' }));
      expect(byType.items).toEqual([]);
      await t.call('monitor', { method: 'POST', url: `/v1/alerts/${encodeURIComponent(a1.id)}/acknowledge`, payload: { by: 'X' } });
      const acked = json(await t.call('monitor', { method: 'GET', url: '/v1/alerts?status=acknowledged' }));
      expect(acked.items.map((a: { id: string }) => a.id)).toEqual([a1.id]);
      const since = json(await t.call('monitor', { method: 'GET', url: `/v1/alerts?since=${encodeURIComponent(a2.openedAt)}` }));
      expect(since.items.map((a: { id: string }) => a.id)).toEqual([a2.id]);
      const bad = expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/alerts?status=closed&type=x' }), 400);
      expect(bad.errors.map((e: { field: string }) => e.field).sort()).toEqual(['status', 'type']);
      expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/alerts?cursor=garbage' }), 400);
    });
  });
}

/** SSE on a real socket: live events and Last-Event-ID resume (run against every store). */
export function sseSuite(makeStore: StoreFactory): void {
  it('streams alert events and resumes after Last-Event-ID', async () => {
    const clock = new ManualClock();
    const s = await makeStore(clock);
    const t = await makeTestApp({ store: s.store, clock });
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (t.app.server.address() as AddressInfo).port;
      await t.call('manager', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'BUD-1' } });
      await t.call('manager', { method: 'PUT', url: '/v1/zones/Z1', payload: exclusionZone(['S1']) });
      const s1 = openStream(port, { authorization: `Bearer ${KEYS.monitor}` });
      await waitFor(() => s1.ready(), 5000, 'stream open');
      const r = await t.call('ingest', {
        method: 'POST',
        url: '/v1/pings',
        payload: { tagId: 'BUD-1', ts: clock.now() + 1000, lat: HOME.lat, lon: HOME.lon, accuracyM: 5 },
      });
      const alert = json(r).alerts[0];
      await waitFor(() => s1.frames.length >= 1, 5000, 'opened event');
      const first = s1.frames[0]!;
      expect(first).toMatchObject({ event: 'alert.opened', id: first.data.id });
      s1.close();
      await t.call('monitor', { method: 'POST', url: `/v1/alerts/${encodeURIComponent(alert.id)}/acknowledge`, payload: { by: 'A' } });
      const s2 = openStream(port, { authorization: `Bearer ${KEYS.monitor}`, 'last-event-id': first.id });
      await waitFor(() => s2.frames.length >= 1, 5000, 'backlog');
      expect(s2.frames.map((f) => f.event)).toEqual(['alert.acknowledged']);
      s2.close();
    } finally {
      await t.close();
      await s.cleanup();
    }
  });
}
