import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TrailLog, type TrailHead } from '../../src/stores/trail.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { ping, TestClock } from '../support/store-fixtures.ts';

const TAGS = ['A', 'B', 'C'];

interface ModelPoint {
  ts: number;
  extra: boolean;
  recv: number;
}

/**
 * What a reader must see of a tag, written plainly: one point per ts (the first written), none
 * older than the cutoff, the newest `max` by ts, then the query's window and limit.
 */
function modelRange(points: readonly ModelPoint[], cutoff: number, max: number, from: number, to: number, limit: number): ModelPoint[] {
  const first = new Map<number, ModelPoint>();
  for (const p of points) if (!first.has(p.ts)) first.set(p.ts, p);
  const kept = [...first.values()].filter((p) => p.ts >= cutoff).sort((a, b) => a.ts - b.ts);
  return kept
    .slice(Math.max(0, kept.length - max))
    .filter((p) => p.ts >= from && p.ts <= to)
    .slice(0, limit);
}

const op = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('add' as const), tag: fc.integer({ min: 0, max: 2 }), ts: fc.integer({ min: 0, max: 300 }), extra: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), by: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('read' as const),
      tag: fc.integer({ min: 0, max: 2 }),
      from: fc.integer({ min: 0, max: 300 }),
      span: fc.integer({ min: 0, max: 300 }),
      limit: fc.integer({ min: 0, max: 50 }),
    }),
  },
);

describe('TrailLog (memory store positions)', () => {
  it('answers as a plain per-tag model under random writes, duplicates, retention, caps, frees and compactions', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 400 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 6 }),
        (ops, chunkPoints, max, compactSlack) => {
          const log = new TrailLog({ chunkPoints, compactSlack });
          const heads: TrailHead[] = TAGS.map(() => ({ head: -1, count: 0 }));
          const model: ModelPoint[][] = TAGS.map(() => []);
          let cutoff = 0;
          let recv = 1000;
          const check = (k: number, from: number, to: number, limit: number) => {
            const got = log.range(TAGS[k] as string, heads[k] as TrailHead, from, to, limit, cutoff, max);
            const want = modelRange(model[k] as ModelPoint[], cutoff, max, from, to, limit);
            expect(got.map((p) => Date.parse(p.ts))).toEqual(want.map((m) => m.ts));
            expect(got.map((p) => ('k' in p ? p.k : null))).toEqual(want.map((m) => (m.extra ? `${TAGS[k]}${m.ts}` : null)));
            expect(got.map((p) => Date.parse(p.receivedAt))).toEqual(want.map((m) => m.recv));
            for (const p of got) {
              const ts = Date.parse(p.ts);
              expect(p.tagId).toBe(TAGS[k]);
              expect(p.fix).toBe(ts % 3 === 0 ? 'none' : 'gps');
              expect(p.lat).toBe(ts % 3 === 0 ? null : 51.5);
              expect(p.strap).toBe(ts % 2 === 0 ? 'ok' : 'tampered');
            }
          };
          for (const o of ops) {
            if (o.op === 'add') {
              const tag = TAGS[o.tag] as string;
              const fields = { ...(o.ts % 3 === 0 ? { fix: 'none' as const, lat: null, lon: null } : {}), strap: o.ts % 2 === 0 ? ('ok' as const) : ('tampered' as const) };
              recv++;
              const head = heads[o.tag] as TrailHead;
              log.add(head, ping(tag, o.ts, fields), o.extra ? { k: `${tag}${o.ts}` } : null, recv);
              log.compactIfLong(head, cutoff, max);
              // a compacted chain stays within twice the cap plus the slack
              expect(head.count).toBeLessThanOrEqual(2 * max + compactSlack + 1);
              (model[o.tag] as ModelPoint[]).push({ ts: o.ts, extra: o.extra, recv });
            } else if (o.op === 'advance') cutoff += o.by;
            else if (o.op === 'release') log.release(cutoff);
            else check(o.tag, o.from, o.from + o.span, o.limit);
          }
          for (let k = 0; k < TAGS.length; k++) check(k, 0, 1000, 1000);
        },
      ),
      { numRuns: 400, seed: 3 },
    );
  });

  it('frees a chunk once every point in it is past the cutoff, oldest first, never the one being written', () => {
    const log = new TrailLog({ chunkPoints: 4 });
    const a: TrailHead = { head: -1, count: 0 };
    const b: TrailHead = { head: -1, count: 0 };
    // chunk 0: A 10..13; chunk 1: B 50, A 14, B 51, B 52; chunk 2: A 15
    for (const ts of [10, 11, 12, 13]) log.add(a, ping('A', ts), null, 0);
    log.add(b, ping('B', 50), { n: 1 }, 0);
    log.add(a, ping('A', 14), null, 0);
    log.add(b, ping('B', 51), null, 0);
    log.add(b, ping('B', 52), null, 0);
    log.add(a, ping('A', 15), null, 0);
    expect(log.heldChunks).toBe(3);
    log.release(13); // chunk 0's newest is 13: not yet
    expect(log.heldChunks).toBe(3);
    log.release(14);
    expect(log.heldChunks).toBe(2);
    expect(log.range('A', a, 0, 100, 100, 0, 100).map((p) => Date.parse(p.ts))).toEqual([14, 15]);
    log.release(1000); // chunk 1 goes; chunk 2 is being written and stays
    expect(log.heldChunks).toBe(1);
    expect(log.holds(b)).toBe(false);
    expect(log.range('B', b, 0, 100, 100, 0, 100)).toEqual([]);
    expect(log.range('A', a, 0, 100, 100, 0, 100).map((p) => Date.parse(p.ts))).toEqual([15]);
    // a tag whose points were all freed starts a fresh chain
    log.add(b, ping('B', 60), null, 0);
    expect(b.count).toBe(1);
    expect(log.range('B', b, 0, 100, 100, 0, 100).map((p) => Date.parse(p.ts))).toEqual([60]);
  });

  it('frees a chunk as soon as compactions leave none of its positions on a chain, whatever the retention', () => {
    const log = new TrailLog({ chunkPoints: 4, compactSlack: 0 });
    const a: TrailHead = { head: -1, count: 0 };
    const b: TrailHead = { head: -1, count: 0 };
    let most = 0;
    for (let ts = 1; ts <= 2000; ts++) {
      const t = ts % 3 === 0 ? b : a;
      log.add(t, ping(t === a ? 'A' : 'B', ts), ts % 7 === 0 ? { n: ts } : null, ts);
      log.compactIfLong(t, 0, 3);
      most = Math.max(most, log.heldChunks);
    }
    // two chains of at most 2 × 3 + 1 positions, spread over a few chunks (kept all, it would be ~600)
    expect(most).toBeLessThanOrEqual(10);
    expect(log.range('A', a, 0, 5000, 100, 0, 3).map((p) => Date.parse(p.ts))).toEqual([1997, 1999, 2000]);
    expect(log.range('B', b, 0, 5000, 100, 0, 3).map((p) => [Date.parse(p.ts), p.n ?? null])).toEqual([
      [1992, null],
      [1995, 1995],
      [1998, null],
    ]);
    expect(log.range('A', a, 1990, 1993, 100, 0, 3)).toEqual([]);
  });

  it('compacts a long chain to the visible points, so a reader walks about twice the cap', () => {
    const log = new TrailLog({ chunkPoints: 64, compactSlack: 0 });
    const t: TrailHead = { head: -1, count: 0 };
    for (let ts = 1; ts <= 1000; ts++) {
      log.add(t, ping('T', ts), ts === 999 ? { last: true } : null, ts);
      log.compactIfLong(t, 0, 10);
      expect(t.count).toBeLessThanOrEqual(21);
    }
    const got = log.range('T', t, 0, 2000, 100, 0, 10);
    expect(got.map((p) => Date.parse(p.ts))).toEqual([991, 992, 993, 994, 995, 996, 997, 998, 999, 1000]);
    expect(got[8]).toMatchObject({ last: true, receivedAt: new Date(999).toISOString() });
  });

  it('in the memory store: positions past retention are freed with their chunk, and so is the slot of a tag nobody holds', async () => {
    const clock = new TestClock();
    const store = createMemoryStore({ clock, positionRetentionMs: 60_000, trail: { chunkPoints: 4 } });
    const tags = (store as unknown as { tags: Map<string, unknown> }).tags;
    await store.putSubject('S1', { tagId: 'GONE', name: 'S1', orderRef: null, timezone: 'Europe/London' });
    const put = (tagId: string, ts: number) => store.commitBatch({ states: [], changes: [], positions: [{ ping: ping(tagId, ts), extras: null }] });
    for (let i = 0; i < 4; i++) await put('GONE', clock.t - 1000 + i);
    await store.deleteSubject('S1');
    expect(tags.has('GONE')).toBe(true); // its trail is still held
    expect(await store.positions('GONE', 0, clock.t, 100)).toHaveLength(4);
    clock.advance(120_000);
    for (let i = 0; i < 5; i++) await put('LIVE', clock.t - i);
    expect(await store.positions('GONE', 0, clock.t, 100)).toEqual([]);
    expect(tags.has('GONE')).toBe(false);
    expect(await store.positions('LIVE', 0, clock.t, 100)).toHaveLength(5);
    await store.close();
  });
});
