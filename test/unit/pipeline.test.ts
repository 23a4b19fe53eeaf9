import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ZoneIndex } from '../../geo/zone-index.ts';
import { createMemoryStore, type MemoryStore } from '../../src/stores/memory.ts';
import { createIngestPipeline, type IngestPipeline } from '../../streams/pipeline.ts';
import { FAR, INSIDE, TRACKER_CONFIG, TestClock, ping, seedEngine } from '../support/store-fixtures.ts';
import { waitFor } from '../support/redis.ts';

describe('ingest pipeline (memory store)', () => {
  let clock: TestClock;
  let store: MemoryStore;
  let index: ZoneIndex;
  let pipeline: IngestPipeline;
  let unknown: [string, number][];

  beforeEach(async () => {
    clock = new TestClock();
    store = createMemoryStore({ clock });
    index = await seedEngine(store);
    clock.advance(120_000); // zone version 1 is in force from when it was written (2 min ago)
    unknown = [];
    pipeline = createIngestPipeline({
      store,
      zones: index,
      config: TRACKER_CONFIG,
      clock,
      onUnknownTag: (t, n) => unknown.push([t, n]),
    });
  });
  afterEach(async () => {
    pipeline.close();
    await store.close();
  });

  it('a ping inside an exclusion zone opens one alert, stored and evented before it resolves', async () => {
    const t = clock.t - 60_000;
    const r = await pipeline.processBatch([ping('T1', t, INSIDE)]);
    expect(r.processed).toBe(1);
    expect(r.events.map((e) => e.type)).toEqual(['alert.opened']);
    expect(r.alerts).toHaveLength(1);
    expect(r.alerts[0]).toMatchObject({
      type: 'exclusion.breach',
      subjectId: 'S1',
      tagId: 'T1',
      zoneId: 'Z1',
      zoneVersion: 1,
      trigger: 'entered',
      openedAt: new Date(t).toISOString(),
      detectedAt: new Date(clock.t).toISOString(),
      status: 'open',
      active: true,
    });
    expect(await store.getAlert(r.alerts[0]!.id)).toEqual(r.alerts[0]);
    expect((await store.readEventsAfter(null, 10)).map((e) => e.id)).toEqual(r.events.map((e) => e.id));
  });

  it('a store failure while warming the tag cache is retried by the next batch, not cached', async () => {
    const fresh = createIngestPipeline({ store, zones: index, config: TRACKER_CONFIG, clock });
    const all = vi.spyOn(store, 'allAssignments').mockRejectedValueOnce(new Error('store down'));
    const t = clock.t - 60_000;
    await expect(fresh.processBatch([ping('T1', t, INSIDE)])).rejects.toThrow('store down');
    const r = await fresh.processBatch([ping('T1', t, INSIDE)]);
    expect(all).toHaveBeenCalledTimes(2);
    expect(r.events.map((e) => e.type)).toEqual(['alert.opened']);
    fresh.close();
  });

  it('one batch = one state load and one commit, pings judged in arrival order', async () => {
    const load = vi.spyOn(store, 'loadTagStates');
    const commit = vi.spyOn(store, 'commitBatch');
    await store.putSubject('S2', { tagId: 'T2', name: null, orderRef: null, timezone: 'Europe/London' });
    const t = clock.t - 60_000;
    const r = await pipeline.processBatch([
      ping('T1', t, INSIDE),
      ping('T2', t, FAR),
      ping('T1', t + 1000, INSIDE),
      ping('T1', t + 2000, { ...FAR, accuracyM: 5 }),
    ]);
    expect(load).toHaveBeenCalledTimes(1);
    expect(load.mock.calls[0]![0]).toEqual(['T1', 'T2']);
    expect(commit).toHaveBeenCalledTimes(1);
    expect(r.events.map((e) => e.type)).toEqual(['alert.opened', 'alert.ended']);
    expect(r.alerts).toHaveLength(1);
    expect(r.alerts[0]).toMatchObject({ active: false, pingCount: 2, endedAt: new Date(t + 2000).toISOString() });
  });

  it('replaying a batch changes nothing: no second alert, no second event', async () => {
    const t = clock.t - 60_000;
    const batch = [ping('T1', t, INSIDE), ping('T1', t + 1000, INSIDE)];
    const first = await pipeline.processBatch(batch);
    expect(first.events).toHaveLength(1);
    clock.advance(5000);
    const again = await pipeline.processBatch(batch);
    expect(again.events).toEqual([]);
    // even when the tag state was lost (crash before state was kept elsewhere), ids are deterministic
    await store.commitBatch({ states: [{ tagId: 'T1', state: null, dueAt: null }], changes: [], positions: [] });
    const afterLoss = await pipeline.processBatch(batch);
    expect(afterLoss.events).toEqual([]);
    const all = await store.listAlerts({ limit: 100 });
    expect(all.items).toHaveLength(1);
    expect(all.items[0]?.pingCount).toBe(2);
    expect(await store.readEventsAfter(null, 100)).toHaveLength(1);
  });

  it('updates a state the memory store lends in place, commits that object and bumps its revision', async () => {
    const t = clock.t - 60_000;
    await pipeline.processBatch([ping('T1', t, INSIDE)]);
    const held = (await store.loadTagStates(['T1'])).get('T1')!;
    expect(held.lent).toBe(true);
    const before = JSON.stringify(held.state);
    await pipeline.processBatch([ping('T1', t + 1000, INSIDE), ping('T1', t + 2000, INSIDE)]);
    const after = (await store.loadTagStates(['T1'])).get('T1')!;
    expect(after.state).toBe(held.state);
    expect(after.rev).toBe(held.rev + 1);
    expect(JSON.stringify(after.state)).not.toBe(before);
  });

  it('when judging throws, the lent states the batch began to update are dropped, the others kept', async () => {
    await store.putSubject('S2', { tagId: 'T2', name: null, orderRef: null, timezone: 'Europe/London' });
    const t = clock.t - 60_000;
    await pipeline.processBatch([ping('T1', t, INSIDE), ping('T2', t, FAR)]);
    const t2 = (await store.loadTagStates(['T2'])).get('T2')!;
    const t2Json = JSON.stringify(t2.state);
    let calls = 0;
    const failing = createIngestPipeline({
      store,
      config: TRACKER_CONFIG,
      clock,
      zones: {
        candidates: (...a) => {
          if (++calls === 2) throw new Error('index broke');
          return index.candidates(...a);
        },
        forSubject: (s, at) => index.forSubject(s, at),
        get: (z, at) => index.get(z, at),
      },
    });
    // T1's first ping is judged (its lent state updated), its second throws; T2's ping is never reached
    await expect(failing.processBatch([ping('T1', t + 1000, INSIDE), ping('T1', t + 2000, INSIDE), ping('T2', t + 1000, FAR)])).rejects.toThrow('index broke');
    failing.close();
    const now = await store.loadTagStates(['T1', 'T2']);
    expect(now.get('T1')?.state ?? null).toBeNull();
    expect(now.get('T2')?.rev).toBe(t2.rev);
    expect(JSON.stringify(now.get('T2')?.state)).toBe(t2Json);
    // nothing of the failed batch was written; the tag goes on from scratch: the presence is seen
    // anew (a second alert rather than a lost one), the first alert stays as it was
    const first = (await store.listAlerts({ limit: 10 })).items;
    expect(first.map((a) => [a.pingCount, a.active])).toEqual([[1, true]]);
    const r = await pipeline.processBatch([ping('T1', t + 3000, INSIDE)]);
    expect(r.events.map((e) => e.type)).toEqual(['alert.opened']);
    expect(r.alerts[0]!.id).not.toBe(first[0]!.id);
  });

  it('never writes into a state a store does not lend, and goes on from a state stored before version 2', async () => {
    const t = clock.t - 60_000;
    const id = (await pipeline.processBatch([ping('T1', t, INSIDE)])).alerts[0]!.id;
    // a store that hands out its states without lending them (as read-only objects)
    const load = store.loadTagStates.bind(store);
    vi.spyOn(store, 'loadTagStates').mockImplementation(async (tags) => {
      const m = await load(tags);
      for (const [k, v] of m) m.set(k, { state: v.state, rev: v.rev });
      return m;
    });
    const held = (await store.loadTagStates(['T1'])).get('T1')!;
    const snapshot = JSON.stringify(held.state);
    // the tag's first ping of a batch is judged by the pure tracker, the next ones in place
    await pipeline.processBatch([ping('T1', t + 1000, INSIDE), ping('T1', t + 2000, INSIDE)]);
    expect(await store.getAlert(id)).toMatchObject({ pingCount: 3, active: true });
    expect(JSON.stringify(held.state)).toBe(snapshot);
    expect((await store.loadTagStates(['T1'])).get('T1')!.state).not.toBe(held.state);
    // the same state as version 1 wrote it (numbers as named fields)
    const cur = (await store.loadTagStates(['T1'])).get('T1')!;
    const { t: nums, ...rest } = cur.state as { t: (number | null)[] } & Record<string, unknown>;
    const n = nums.map((x) => (x === null || Number.isNaN(x) ? null : x));
    const v1 = { ...rest, v: 1, newest: n[0], arr: n[1], fixArr: n[2], fl: n[3], cert: n[4], posTs: n[5], posLat: n[6], posLon: n[7], posAcc: n[8] };
    await store.commitBatch({ states: [{ tagId: 'T1', state: JSON.parse(JSON.stringify(v1)), expectRev: cur.rev, dueAt: null }], changes: [], positions: [] });
    const end = await pipeline.processBatch([ping('T1', t + 3000, { ...FAR, accuracyM: 5 })]);
    expect(end.events.map((e) => e.type)).toEqual(['alert.ended']);
    expect(end.alerts[0]).toMatchObject({ id, pingCount: 3, active: false, endedAt: new Date(t + 3000).toISOString() });
    expect((await store.loadTagStates(['T1'])).get('T1')!.state).toMatchObject({ v: 2 });
  });

  it('counts and ignores pings of unassigned tags', async () => {
    const r = await pipeline.processBatch([ping('NOPE', clock.t, INSIDE), ping('NOPE', clock.t + 1, INSIDE), ping('T1', clock.t, FAR)]);
    expect(r.unknownTags).toBe(2);
    expect(r.processed).toBe(1);
    expect(unknown).toEqual([['NOPE', 2]]);
    expect(await store.positions('NOPE', 0, clock.t + 10, 10)).toEqual([]);
    expect(await store.positions('T1', 0, clock.t + 10, 10)).toHaveLength(1);
  });

  it('keeps extra ping fields in the trail', async () => {
    await pipeline.processBatch([ping('T1', clock.t, FAR)], [{ speedKph: 4, firmware: 'v2' }]);
    const [p] = await store.positions('T1', 0, clock.t, 10);
    expect(p).toMatchObject({ tagId: 'T1', speedKph: 4, firmware: 'v2', lat: FAR.lat });
  });

  it('follows subject changes: a new assignment is seen, a deleted one is ignored', async () => {
    await pipeline.processBatch([ping('T9', clock.t, INSIDE)]); // warms the cache; T9 unknown
    await store.putSubject('S9', { tagId: 'T9', name: null, orderRef: null, timezone: 'Europe/London' });
    const r = await pipeline.processBatch([ping('T9', clock.t + 1, FAR)]);
    expect(r.unknownTags).toBe(0);
    expect(r.processed).toBe(1);
    await store.deleteSubject('S9');
    const gone = await pipeline.processBatch([ping('T9', clock.t + 2, FAR)]);
    expect(gone.unknownTags).toBe(1);
    // moving S1 to another tag frees T1 at once
    await store.putSubject('S1', { tagId: 'T1b', name: null, orderRef: null, timezone: 'Europe/London' });
    expect(await pipeline.contextOf('T1')).toBeNull();
    expect((await pipeline.contextOf('T1b'))?.subjectId).toBe('S1');
  });

  it('reloads its tag cache now and then, so a missed config change does not linger', async () => {
    // a store whose change notifications never arrive (as while a pub/sub connection is down)
    const deaf = Object.assign(Object.create(store) as MemoryStore, { onConfigChange: () => () => {} });
    const p = createIngestPipeline({ store: deaf, zones: index, config: TRACKER_CONFIG, clock, cacheRefreshMs: 1000 });
    try {
      expect((await p.processBatch([ping('T1', clock.t, FAR)])).processed).toBe(1);
      await store.deleteSubject('S1');
      expect((await p.processBatch([ping('T1', clock.t + 1, FAR)])).processed).toBe(1); // stale, for now
      clock.advance(1001);
      await waitFor(async () => (await p.processBatch([ping('T1', clock.advance(1), FAR)])).unknownTags === 1, 2000, 'cache refresh');
    } finally {
      p.close();
    }
  });

  it('concurrent batches on one tag are serialised (no lost state)', async () => {
    const t = clock.t - 60_000;
    const rs = await Promise.all([0, 1, 2, 3].map((i) => pipeline.processBatch([ping('T1', t + i * 1000, INSIDE)])));
    const opened = rs.flatMap((r) => r.events).filter((e) => e.type === 'alert.opened');
    expect(opened).toHaveLength(1);
    const all = await store.listAlerts({ limit: 10 });
    expect(all.items).toHaveLength(1);
    expect(all.items[0]?.pingCount).toBe(4);
  });

  it('a batch waits for earlier batches sharing a tag (transitively), not for the others', async () => {
    for (const n of [2, 3]) await store.putSubject(`S${n}`, { tagId: `T${n}`, name: null, orderRef: null, timezone: 'Europe/London' });
    const t = clock.t - 60_000;
    const log: string[] = [];
    const load = store.loadTagStates.bind(store);
    const commit = store.commitBatch.bind(store);
    // every load is slow, so batches overlap in time unless the pipeline keeps them apart
    vi.spyOn(store, 'loadTagStates').mockImplementation(async (tags) => {
      log.push(`load ${tags.join('+')}`);
      await new Promise((r) => setTimeout(r, 20));
      return load(tags);
    });
    vi.spyOn(store, 'commitBatch').mockImplementation(async (b) => {
      log.push(`commit ${b.states.map((x) => x.tagId).join('+')}`);
      return commit(b);
    });
    const a = pipeline.processBatch([ping('T1', t, INSIDE)]);
    const b = pipeline.processBatch([ping('T1', t + 1000, INSIDE), ping('T2', t, FAR)]);
    const c = pipeline.processBatch([ping('T2', t + 1000, FAR)]);
    const d = pipeline.processBatch([ping('T3', t, FAR)]);
    await Promise.all([a, b, c, d]);
    // T3 shares nothing: it runs beside A; B waits for A, C for B (C shares only T2 with B)
    const at = (e: string): number => {
      expect(log).toContain(e);
      return log.indexOf(e);
    };
    expect(log).toHaveLength(8);
    expect(at('load T3')).toBeLessThan(at('commit T1'));
    expect(at('load T1+T2')).toBeGreaterThan(at('commit T1'));
    expect(at('load T2')).toBeGreaterThan(at('commit T1+T2'));
    expect((await store.listAlerts({ limit: 10 })).items.map((x) => x.pingCount)).toEqual([2]);
  });

  it('schedules the next clock check with every commit', async () => {
    await pipeline.processBatch([ping('T1', clock.t, FAR)]);
    const due = await store.dueTags(clock.t + TRACKER_CONFIG.signalLostAfterMs, 10);
    expect(due).toEqual([{ tagId: 'T1', dueAt: clock.t + TRACKER_CONFIG.signalLostAfterMs }]);
  });
});
