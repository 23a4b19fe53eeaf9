/**
 * The ingest pipeline on both stores, and the Redis-specific promises: events land in the
 * contract's stream with their ids, tag state moves between instances, and two instances
 * processing the same batch still raise one alert.
 */
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import type { ZoneIndex } from '../../geo/zone-index.ts';
import type { AlertEvent, CordonStore } from '../../streams/ports.ts';
import { createIngestPipeline, type IngestPipeline } from '../../streams/pipeline.ts';
import { createRedisStore, type RedisStore } from '../../src/stores/redis.ts';
import { waitFor } from '../support/redis.ts';
import { FAR, INSIDE, TRACKER_CONFIG, TestClock, memoryKit, ping, redisKit, seedEngine } from '../support/store-fixtures.ts';
import type { StoreKit } from '../support/store-fixtures.ts';

const url = inject('redisUrl');
const kits: StoreKit[] = [memoryKit, redisKit(url), redisKit(url, { tagStateCache: 1000 })];

describe.each(kits)('ingest pipeline on $name', (kit) => {
  let clock: TestClock;
  let store: CordonStore;
  let twin: () => Promise<CordonStore>;
  let cleanup: () => Promise<void>;
  let index: ZoneIndex;
  const pipelines: IngestPipeline[] = [];
  const mk = (s: CordonStore) => {
    const p = createIngestPipeline({ store: s, zones: index, config: TRACKER_CONFIG, clock });
    pipelines.push(p);
    return p;
  };

  beforeEach(async () => {
    clock = new TestClock();
    const made = await kit.make(clock);
    ({ store, twin, cleanup } = made);
    index = await seedEngine(store);
    clock.advance(120_000);
  });
  afterEach(async () => {
    for (const p of pipelines.splice(0)) p.close();
    await cleanup();
  });

  it('a replayed batch yields no second alert and no second event, even after the tag state is lost', async () => {
    const p = mk(store);
    const t = clock.t - 60_000;
    const batch = [ping('T1', t, INSIDE), ping('T1', t + 1000, INSIDE), ping('T1', t + 2000, INSIDE)];
    const first = await p.processBatch(batch);
    expect(first.events.map((e) => e.type)).toEqual(['alert.opened']);
    expect(first.alerts[0]?.pingCount).toBe(3);
    expect((await p.processBatch(batch)).events).toEqual([]);
    await store.commitBatch({ states: [{ tagId: 'T1', state: null, dueAt: null }], changes: [], positions: [] });
    expect((await mk(store).processBatch(batch)).events).toEqual([]);
    expect((await store.listAlerts({ limit: 10 })).items).toHaveLength(1);
    expect(await store.readEventsAfter(null, 10)).toHaveLength(1);
  });

  it('tag state carries over to another instance (partition moved)', async () => {
    const other = await twin();
    const a = mk(store);
    const b = mk(other);
    const t = clock.t - 60_000;
    const r1 = await a.processBatch([ping('T1', t, INSIDE)]);
    expect(r1.events.map((e) => e.type)).toEqual(['alert.opened']);
    const r2 = await b.processBatch([ping('T1', t + 1000, { ...FAR, accuracyM: 5 })]);
    expect(r2.events.map((e) => e.type)).toEqual(['alert.ended']);
    expect(r2.alerts[0]?.id).toBe(r1.alerts[0]?.id);
  });

  it('two instances judging the same pings at once raise exactly one alert', async () => {
    const other = await twin();
    const a = mk(store);
    const b = mk(other);
    const t = clock.t - 60_000;
    const batch = [ping('T1', t, INSIDE), ping('T1', t + 1000, INSIDE)];
    const [ra, rb] = await Promise.all([a.processBatch(batch), b.processBatch(batch)]);
    const opened = [...ra.events, ...rb.events].filter((e) => e.type === 'alert.opened');
    expect(opened).toHaveLength(1);
    expect((await store.listAlerts({ limit: 10 })).items).toHaveLength(1);
    expect((await store.readEventsAfter(null, 10)).filter((e) => e.type === 'alert.opened')).toHaveLength(1);
  });

  it('two instances writing one tag at once lose nothing (revision check, judged again)', async () => {
    const other = await twin();
    const a = mk(store);
    const b = mk(other);
    const t = clock.t - 60_000;
    for (let round = 0; round < 8; round++) {
      const base = t + round * 10;
      // different pings of one tag on two instances at the same moment (a partition handed over)
      await Promise.all([
        a.processBatch([ping('T1', base, INSIDE), ping('T1', base + 1, INSIDE)]),
        b.processBatch([ping('T1', base + 2, INSIDE)]),
      ]);
    }
    const all = (await store.listAlerts({ limit: 10 })).items;
    expect(all).toHaveLength(1);
    expect(all[0]?.pingCount).toBe(24);
    expect((await store.readEventsAfter(null, 10)).map((e) => e.type)).toEqual(['alert.opened']);
  });
});

describe('Redis tag-state cache (a Kafka consumer keeps the states it wrote)', () => {
  let clock: TestClock;
  let cleanup: () => Promise<void>;
  let twin: () => Promise<CordonStore>;
  let store: RedisStore;
  let index: ZoneIndex;
  const pipelines: IngestPipeline[] = [];
  const mk = (s: CordonStore) => {
    const p = createIngestPipeline({ store: s, zones: index, config: TRACKER_CONFIG, clock });
    pipelines.push(p);
    return p;
  };
  const far = { ...FAR, accuracyM: 5 };

  beforeEach(async () => {
    clock = new TestClock();
    const made = await redisKit(url, { tagStateCache: 2 }).make(clock);
    store = made.store as RedisStore;
    ({ twin, cleanup } = made);
    index = await seedEngine(store);
    clock.advance(120_000);
  });
  afterEach(async () => {
    for (const p of pipelines.splice(0)) p.close();
    vi.restoreAllMocks();
    await cleanup();
  });

  it('judges a tag\'s next batch from memory, without reading Redis', async () => {
    const p = mk(store);
    const t = clock.t - 60_000;
    await p.processBatch([ping('T1', t, far)]);
    const hmget = vi.spyOn(store.redis, 'hmget');
    const r = await p.processBatch([ping('T1', t + 1000, INSIDE)]);
    expect(r.events.map((e) => e.type)).toEqual(['alert.opened']);
    expect(hmget.mock.calls.filter((c) => String(c[0]).endsWith('state'))).toEqual([]);
    // what Redis holds is what the cache holds
    const fresh = await twin();
    const stored = (await fresh.loadTagStates(['T1'])).get('T1');
    const cached = (await store.loadTagStates(['T1'])).get('T1');
    expect(cached?.cached).toBe(true);
    expect(stored?.rev).toBe(cached?.rev);
    expect(stored?.state).toEqual(cached?.state);
  });

  it('a stale entry (another instance wrote the tag) fails the revision check and the tag is judged again', async () => {
    const other = await twin(); // its own cache
    const a = mk(store);
    const b = mk(other);
    const t = clock.t - 60_000;
    await a.processBatch([ping('T1', t, far)]);
    // the partition moved: B judges the tag and opens the alert; A's cached state knows nothing of it
    const rb = await b.processBatch([ping('T1', t + 1000, INSIDE)]);
    expect(rb.events.map((e) => e.type)).toEqual(['alert.opened']);
    // and came back: from its stale state A would open a second alert for the same episode
    const ra = await a.processBatch([ping('T1', t + 2000, INSIDE)]);
    expect(ra.events.map((e) => e.type)).not.toContain('alert.opened');
    const all = (await store.listAlerts({ limit: 10 })).items;
    expect(all).toHaveLength(1);
    expect(all[0]?.pingCount).toBe(2);
  });

  it('a batch that fails after updating cached states forgets them: Redis\'s state is judged again', async () => {
    const p = mk(store);
    const t = clock.t - 60_000;
    await p.processBatch([ping('T1', t, far)]);
    const batch = [ping('T1', t + 1000, INSIDE)];
    vi.spyOn(store, 'commitBatch').mockRejectedValueOnce(new Error('Redis went away'));
    await expect(p.processBatch(batch)).rejects.toThrow('Redis went away');
    // replayed (Kafka did not commit the offset): the updated-in-place state must not make it a duplicate
    const r = await p.processBatch(batch);
    expect(r.events.map((e) => e.type)).toEqual(['alert.opened']);
  });

  it('keeps at most the configured number of states, forgetting the oldest writes', async () => {
    const p = mk(store);
    const t = clock.t - 60_000;
    for (const tag of ['T2', 'T3']) {
      await store.putSubject('S-' + tag, { tagId: tag, name: null, orderRef: null, timezone: 'Europe/London' });
    }
    await p.processBatch([ping('T1', t, far), ping('T2', t, far), ping('T3', t, far)]);
    const m = await store.loadTagStates(['T1', 'T2', 'T3']);
    expect([...m].map(([tag, s]) => `${tag}:${s.cached === true}`)).toEqual(['T2:true', 'T3:true', 'T1:false']);
  });

  it('a reassigned tag\'s state is dropped but its revision keeps rising, so an old write cannot match it', async () => {
    const p = mk(store);
    const t = clock.t - 60_000;
    await p.processBatch([ping('T1', t, far)]);
    const before = (await store.loadTagStates(['T1'])).get('T1');
    expect(before?.rev).toBe(1);
    // another instance moves the tag to a new subject (this instance may hear of it late)
    const other = await twin();
    await other.putSubject('S1', { tagId: 'T9', name: null, orderRef: null, timezone: 'Europe/London' });
    await other.putSubject('S2', { tagId: 'T1', name: null, orderRef: null, timezone: 'Europe/London' });
    const after = (await other.loadTagStates(['T1'])).get('T1');
    expect(after).toEqual({ state: null, rev: 3 });
    const r = await other.commitBatch({ states: [{ tagId: 'T1', state: before?.state, expectRev: 1, dueAt: null }], changes: [], positions: [] });
    expect(r.conflicts).toEqual(['T1']);
  });
});

describe('Redis events are in the contract stream and channel', () => {
  it('XADDs field `event` (JSON whose id is the stream id) and PUBLISHes the same JSON', async () => {
    const clock = new TestClock();
    const prefix = `t:evt:${Date.now()}:`;
    // the real contract key: cordon:events (the default); other tests use their own keys
    const store = await createRedisStore({ url, clock, prefix });
    const raw = new Redis(url);
    const sub = new Redis(url);
    const published: string[] = [];
    try {
      await sub.subscribe('cordon:events');
      sub.on('message', (_c: string, m: string) => published.push(m));
      const index = await seedEngine(store, 'EVT-1');
      clock.advance(120_000);
      const p = createIngestPipeline({ store, zones: index, config: TRACKER_CONFIG, clock });
      const r = await p.processBatch([ping('EVT-1', clock.t - 1000, INSIDE)]);
      p.close();
      const ev = r.events[0] as AlertEvent;
      expect(ev.type).toBe('alert.opened');
      const entries = await raw.xrange('cordon:events', ev.id, ev.id);
      expect(entries).toHaveLength(1);
      const [id, fields] = entries[0]!;
      expect(id).toBe(ev.id);
      expect(fields[0]).toBe('event');
      const stored = JSON.parse(fields[1]!) as AlertEvent;
      expect(stored).toEqual(ev);
      expect(stored.alert.tagId).toBe('EVT-1');
      await waitFor(() => published.some((m) => (JSON.parse(m) as AlertEvent).id === ev.id), 2000, 'PUBLISH cordon:events');
      await raw.xdel('cordon:events', ev.id);
    } finally {
      const keys = await raw.keys(prefix + '*');
      if (keys.length) await raw.del(...keys);
      await store.close();
      raw.disconnect();
      sub.disconnect();
    }
  });
});

describe('Redis config changes survive a dropped subscriber connection', () => {
  it('re-announces subjects and zones after the subscriber reconnects', async () => {
    const clock = new TestClock();
    const prefix = `t:resync:${Date.now()}:`;
    const opts = { url, clock, prefix, eventsKey: prefix + 'events' };
    const a = await createRedisStore({ ...opts, redisOptions: { retryStrategy: () => 300 } });
    const b = await createRedisStore(opts);
    const raw = new Redis(url);
    const seen: string[] = [];
    try {
      a.onConfigChange((c) => seen.push(`${c.kind}:${c.id}`));
      await a.subscribed();
      await b.putZone('Z-before', zoneInputFor(), { by: null });
      await waitFor(() => seen.includes('zone:Z-before'), 2000, 'live change');
      // drop every pub/sub connection; A reconnects only after 300 ms
      await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await b.putZone('Z-during', zoneInputFor(), { by: null });
      await b.putSubject('S-during', { tagId: 'T-during', name: null, orderRef: null, timezone: 'Europe/London' });
      await waitFor(() => seen.includes('zone:Z-during') && seen.includes('subject:S-during'), 5000, 're-announced changes');
    } finally {
      const keys = await raw.keys(prefix + '*');
      if (keys.length) await raw.del(...keys);
      await a.close();
      await b.close();
      raw.disconnect();
    }
  });
});

function zoneInputFor() {
  return {
    name: 'z',
    kind: 'exclusion' as const,
    subjectIds: ['S1'],
    geometry: { type: 'Circle' as const, center: [0, 0] as [number, number], radiusM: 10 },
    schedule: null,
    graceSeconds: 0,
    minConfidence: 'possible' as const,
    validFrom: null,
    validTo: null,
  };
}
