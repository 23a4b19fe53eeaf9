/**
 * Two Cordon instances on one Redis: a zone change made on one reaches the other's engine within a
 * second, and the clock-driven sweeper raises a signal-lost alert exactly once between them.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../src/stores/redis.ts';
import { HOME, ManualClock, exclusionZone, json, makeTestApp, square, type TestApp } from '../support/http.ts';
import { waitFor } from '../support/redis.ts';

describe('two instances on one Redis', () => {
  let clock: ManualClock;
  let prefix: string;
  let stores: RedisStore[];
  let a: TestApp;
  let b: TestApp;

  beforeEach(async () => {
    clock = new ManualClock();
    prefix = `t-two-${randomUUID().slice(0, 8)}:`;
    const open = () => createRedisStore({ url: inject('redisUrl'), prefix, eventsKey: `${prefix}events`, clock });
    stores = [await open(), await open()];
    a = await makeTestApp({ store: stores[0]!, clock });
    b = await makeTestApp({ store: stores[1]!, clock });
  });

  afterEach(async () => {
    await a.close();
    await b.close();
    for (const s of stores) await s.close();
    const r = new Redis(inject('redisUrl'));
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  });

  it('a zone created, replaced and deleted on A is in force on B within a second', async () => {
    await a.call('manager', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'BUD-1' } });
    const started = Date.now();
    expect((await a.call('manager', { method: 'PUT', url: '/v1/zones/Z1', payload: exclusionZone(['S1']) })).statusCode).toBe(201);
    await waitFor(() => b.app.cordon.zoneIndex.get('Z1', clock.now())?.version === 1, 1000, 'zone v1 on B');
    const lag1 = Date.now() - started;

    // B judges a ping against it
    const r = json(
      await b.call('ingest', { method: 'POST', url: '/v1/pings', payload: { tagId: 'BUD-1', ts: clock.now() + 1000, lat: HOME.lat, lon: HOME.lon, accuracyM: 5 } }),
    );
    expect(r.alerts).toHaveLength(1);
    expect(r.alerts[0]).toMatchObject({ zoneId: 'Z1', zoneVersion: 1, type: 'exclusion.breach' });

    clock.advance(10_000);
    const t2 = Date.now();
    await a.call('manager', { method: 'PUT', url: '/v1/zones/Z1', payload: exclusionZone(['S1'], { geometry: { type: 'Polygon', coordinates: square(10, 10) } }) });
    await waitFor(() => b.app.cordon.zoneIndex.get('Z1', clock.now())?.version === 2, 1000, 'zone v2 on B');
    const lag2 = Date.now() - t2;

    clock.advance(10_000);
    await a.call('manager', { method: 'DELETE', url: '/v1/zones/Z1' });
    await waitFor(() => b.app.cordon.zoneIndex.get('Z1', clock.now()) === undefined, 1000, 'zone deleted on B');
    // history stays for earlier event times
    expect(b.app.cordon.zoneIndex.get('Z1', clock.now() - 15_000)?.version).toBe(1);
    expect(Math.max(lag1, lag2)).toBeLessThan(1000);
  });

  it('the sweeper raises signal-lost exactly once across both instances', async () => {
    await a.call('manager', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'BUD-1' } });
    // first passes at assignment time: nothing is due yet beyond scheduling the check
    await Promise.all([a.app.sweeper.tick(), b.app.sweeper.tick()]);
    expect(json(await a.call('monitor', { method: 'GET', url: '/v1/alerts' })).items).toEqual([]);

    clock.advance(601_000);
    const passes = [];
    for (let i = 0; i < 5; i++) passes.push(...(await Promise.all([a.app.sweeper.tick(), b.app.sweeper.tick()])));
    const raised = passes.reduce((n, p) => n + p.events.filter((e) => e.type === 'alert.opened').length, 0);
    expect(raised).toBe(1);

    const alerts = json(await b.call('monitor', { method: 'GET', url: '/v1/alerts?type=tag.signal_lost' })).items;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ type: 'tag.signal_lost', tagId: 'BUD-1', subjectId: 'S1', severity: 'medium', status: 'open' });
    const events = await stores[0]!.readEventsAfter(null, 100);
    expect(events.filter((e) => e.type === 'alert.opened' && e.alert.type === 'tag.signal_lost')).toHaveLength(1);
  });
});
