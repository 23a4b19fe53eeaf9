/**
 * Clock-driven checks on both stores: signal lost for a tag that never pinged, grace expiry with no
 * further ping, and several sweeper instances on one store raising each alert exactly once.
 */
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { ZoneIndex } from '../../geo/zone-index.ts';
import type { CordonStore } from '../../streams/ports.ts';
import { createIngestPipeline } from '../../streams/pipeline.ts';
import { createSweeper, type Sweeper } from '../../streams/sweeper.ts';
import { waitFor } from '../support/redis.ts';
import { INSIDE, TRACKER_CONFIG, TestClock, memoryKit, ping, redisKit, seedEngine } from '../support/store-fixtures.ts';
import type { StoreKit } from '../support/store-fixtures.ts';

const kits: StoreKit[] = [memoryKit, redisKit(inject('redisUrl')), redisKit(inject('redisUrl'), { tagStateCache: 1000 })];
const LOST = TRACKER_CONFIG.signalLostAfterMs;

describe.each(kits)('sweeper on $name', (kit) => {
  let clock: TestClock;
  let store: CordonStore;
  let twin: () => Promise<CordonStore>;
  let cleanup: () => Promise<void>;
  const sweepers: Sweeper[] = [];
  const mk = (s: CordonStore, index: ZoneIndex, leaseMs = 30_000) => {
    const sw = createSweeper({ store: s, zones: index, config: TRACKER_CONFIG, clock, intervalMs: 10, leaseMs });
    sweepers.push(sw);
    return sw;
  };

  beforeEach(async () => {
    clock = new TestClock();
    ({ store, twin, cleanup } = await kit.make(clock));
  });
  afterEach(async () => {
    for (const s of sweepers.splice(0)) await s.stop();
    await cleanup();
  });

  it('raises signal lost for an assigned tag that never sent a ping, counted from assignment', async () => {
    const assignedAt = clock.t;
    const index = await seedEngine(store);
    const sw = mk(store, index);
    const first = await sw.runOnce(clock.t);
    expect(first.ticked).toBe(1);
    expect(first.events).toEqual([]);
    expect(await store.dueTags(assignedAt + LOST, 10)).toEqual([{ tagId: 'T1', dueAt: assignedAt + LOST }]);
    expect((await sw.runOnce(clock.advance(LOST - 1))).events).toEqual([]);
    const r = await sw.runOnce(clock.advance(1));
    expect(r.events.map((e) => e.type)).toEqual(['alert.opened']);
    expect(r.alerts[0]).toMatchObject({
      type: 'tag.signal_lost',
      tagId: 'T1',
      subjectId: 'S1',
      severity: 'medium',
      openedAt: new Date(assignedAt + LOST).toISOString(),
      status: 'open',
    });
    // nothing more to raise; the next ping ends it
    expect((await sw.runOnce(clock.advance(LOST * 3))).events).toEqual([]);
    const p = createIngestPipeline({ store, zones: index, config: TRACKER_CONFIG, clock });
    const back = await p.processBatch([ping('T1', clock.t - 1000, { lat: 51.6, lon: -0.12 })]);
    p.close();
    expect(back.events.map((e) => `${e.type} ${e.alert.type}`)).toContain('alert.ended tag.signal_lost');
  });

  it('opens a breach when the grace period expires with no further ping', async () => {
    const index = await seedEngine(store, 'T1', { graceSeconds: 60 });
    clock.advance(60_000);
    const p = createIngestPipeline({ store, zones: index, config: TRACKER_CONFIG, clock });
    const ts = clock.t - 1000;
    const r = await p.processBatch([ping('T1', ts, INSIDE)]);
    p.close();
    expect(r.events).toEqual([]);
    const sw = mk(store, index);
    expect((await sw.runOnce(clock.advance(30_000))).events).toEqual([]);
    const fired = await sw.runOnce(clock.advance(31_000));
    expect(fired.events.map((e) => e.type)).toEqual(['alert.opened']);
    expect(fired.alerts[0]).toMatchObject({ type: 'exclusion.breach', zoneId: 'Z1', openedAt: new Date(ts).toISOString() });
  });

  it('following the Kafka ingest: checks wait for the slowest consumer, and raise with the wall clock as detectedAt', async () => {
    const assignedAt = clock.t;
    const index = await seedEngine(store, 'T1', { graceSeconds: 60 });
    const held: number[] = [];
    const sw = createSweeper({ store, zones: index, config: TRACKER_CONFIG, clock, intervalMs: 10, followIngest: true, onHeld: (ms) => held.push(ms) });
    sweepers.push(sw);
    // no consumer has reported: everything waits
    const none = await sw.runOnce(clock.advance(LOST + 1));
    expect(none).toMatchObject({ at: 0, due: 0, events: [] });
    expect(held.at(-1)).toBe(0); // held since this pass
    expect((await sw.runOnce(clock.advance(5_000))).at).toBe(0);
    expect(held.at(-1)).toBe(5_000);
    // one consumer is 2 minutes behind, another has judged up to just before the deadline
    const other = await twin();
    await store.reportIngestProgress('c1', clock.t - 120_000, 60_000);
    await other.reportIngestProgress('c2', assignedAt + LOST - 1, 60_000);
    const behind = await sw.runOnce(clock.t);
    expect(behind.at).toBe(clock.t - 120_000);
    expect(behind.events).toEqual([]);
    expect(held.at(-1)).toBe(120_000);
    // the slow one catches up past the other: the other's report is now the least, still short of the deadline
    await store.reportIngestProgress('c1', clock.t, 60_000);
    expect((await sw.runOnce(clock.t)).events).toEqual([]);
    // both have judged past the deadline: signal lost, opened at the deadline, detected now
    const wall = clock.advance(10_000);
    await store.reportIngestProgress('c1', wall, 60_000);
    await other.reportIngestProgress('c2', assignedAt + LOST + 5_000, 60_000);
    const r = await sw.runOnce(wall);
    expect(r.at).toBe(assignedAt + LOST + 5_000);
    expect(r.events.map((e) => `${e.type} ${e.alert.type}`)).toEqual(['alert.opened tag.signal_lost']);
    expect(r.alerts[0]).toMatchObject({ openedAt: new Date(assignedAt + LOST).toISOString(), detectedAt: new Date(wall).toISOString() });
    // a consumer withdrawing its report leaves the other's
    await store.reportIngestProgress('c1', null, 60_000);
    expect((await sw.runOnce(clock.t)).at).toBe(assignedAt + LOST + 5_000);
  });

  it('following the Kafka ingest: a grace period is not ended by the clock while the ping that clears it waits in Kafka', async () => {
    const index = await seedEngine(store, 'T1', { graceSeconds: 60 });
    clock.advance(60_000);
    const p = createIngestPipeline({ store, zones: index, config: TRACKER_CONFIG, clock });
    const entered = clock.t - 1000;
    // inside at `entered` (arrived at once); grace runs out 60 s later
    expect((await p.processBatch([ping('T1', entered, INSIDE)], undefined, { arrivals: [entered] })).events).toEqual([]);
    const sw = createSweeper({ store, zones: index, config: TRACKER_CONFIG, clock, intervalMs: 10, followIngest: true });
    sweepers.push(sw);
    // the consumer has judged only up to 10 s after the entry: the clearing ping (30 s in) is still in Kafka
    await store.reportIngestProgress('c1', entered + 10_000, 60_000);
    expect((await sw.runOnce(clock.advance(120_000))).events).toEqual([]);
    // it is judged (it arrived 30 s after the entry), and the consumer reports its progress
    const left = await p.processBatch([ping('T1', entered + 30_000, { lat: 51.6, lon: -0.12 })], undefined, { arrivals: [entered + 30_000] });
    p.close();
    expect(left.events).toEqual([]);
    await store.reportIngestProgress('c1', clock.t, 60_000);
    const after = await sw.runOnce(clock.advance(1_000));
    expect(after.at).toBe(clock.t - 1_000);
    expect(after.events).toEqual([]);
  });

  it('with two instances, exactly one raises each alert', async () => {
    const index = await seedEngine(store);
    for (let i = 2; i <= 20; i++) await store.putSubject(`S${i}`, { tagId: `T${i}`, name: null, orderRef: null, timezone: 'Europe/London' });
    const other = await twin();
    const a = mk(store, index);
    const b = mk(other, index);
    clock.advance(LOST + 1000);
    const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
    expect(ra.due).toBe(20);
    expect(ra.ticked + rb.ticked).toBe(20);
    const opened = [...ra.events, ...rb.events].filter((e) => e.type === 'alert.opened');
    expect(opened).toHaveLength(20);
    expect(new Set(opened.map((e) => e.alert.tagId)).size).toBe(20);
    // again, later, and both at once: nothing new
    clock.advance(LOST);
    const [ra2, rb2] = await Promise.all([a.runOnce(), b.runOnce()]);
    expect([...ra2.events, ...rb2.events]).toEqual([]);
    expect((await store.listAlerts({ limit: 100, type: 'tag.signal_lost' })).items).toHaveLength(20);
    expect((await store.readEventsAfter(null, 100)).filter((e) => e.type === 'alert.opened')).toHaveLength(20);
  });

  it('even when leases expire instantly, a double tick raises nothing twice', async () => {
    const index = await seedEngine(store);
    const other = await twin();
    const a = mk(store, index, 1);
    const b = mk(other, index, 1);
    clock.advance(LOST + 1);
    await a.runOnce();
    await b.runOnce(); // a new due time was written; nothing due, or a no-op tick
    await Promise.all([a.runOnce(clock.advance(5)), b.runOnce()]);
    expect((await store.listAlerts({ limit: 10 })).items).toHaveLength(1);
    expect(await store.readEventsAfter(null, 10)).toHaveLength(1);
  });

  it('start() runs passes on a timer until stop()', async () => {
    const index = await seedEngine(store);
    const sw = mk(store, index);
    clock.advance(LOST + 1);
    sw.start();
    await waitFor(async () => (await store.listAlerts({ limit: 10 })).items.length === 1, 5000, 'timer sweep');
    await sw.stop();
    await sw.stop();
    await store.putSubject('S2', { tagId: 'T2', name: null, orderRef: null, timezone: 'Europe/London' });
    clock.advance(LOST + 1);
    expect((await store.dueTags(clock.t, 10)).map((d) => d.tagId)).toContain('T2');
  });
});
