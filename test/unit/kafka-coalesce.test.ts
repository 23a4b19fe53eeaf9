import { describe, expect, it } from 'vitest';
import type { Ping } from '../../geo/types.ts';
import { coalescer } from '../../streams/kafka/ingest.ts';

const pings = (tag: string, n: number): Ping[] =>
  Array.from({ length: n }, (_, i) => ({ tagId: tag, ts: i, lat: 51.5, lon: -0.1, accuracyM: 10, fix: 'gps', battery: null, strap: null, seq: null }));
/** arrival times of a caller's pings: `base` + the ping's index */
const times = (base: number, n: number): number[] => Array.from({ length: n }, (_, i) => base + i);

describe('Kafka ingest: merging partitions ready in the same turn', () => {
  it('merges small batches into one pipeline call, lets big ones run alone and side by side', async () => {
    const calls: { tags: string[]; n: number }[] = [];
    const asked: { alerts?: boolean; arrivals?: ArrayLike<number> }[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const gate: (() => void)[] = [];
    const pipeline = {
      async processBatch(ps: readonly Ping[], _extras: unknown, options?: { alerts?: boolean; arrivals?: ArrayLike<number> }) {
        calls.push({ tags: [...new Set(ps.map((p) => p.tagId))], n: ps.length });
        asked.push(options ?? {});
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise<void>((r) => gate.push(r));
        inFlight--;
        return { events: [{ n: ps.length }] as never[], unknownTags: 0 };
      },
    };
    const judge = coalescer(pipeline, 1000);
    const results = [
      judge(pings('A', 600), [], times(10_000, 600)),
      judge(pings('B', 300), [], times(20_000, 300)),
      judge(pings('C', 500), [], times(30_000, 500)),
      judge(pings('D', 2500), [], times(40_000, 2500)),
      judge(pings('E', 10), [], times(50_000, 10)),
    ];
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // A+B (900) fit, C would make 1400: a new group; D is over the cap: alone; E starts the next
    expect(calls).toEqual([
      { tags: ['A', 'B'], n: 900 },
      { tags: ['C'], n: 500 },
      { tags: ['D'], n: 2500 },
      { tags: ['E'], n: 10 },
    ]);
    expect(maxInFlight).toBe(4); // all started before any finished
    // merged or alone, each call asks for the events only (the ingest reports no alerts)
    expect(asked.map((o) => o.alerts)).toEqual([false, false, false, false]);
    // and carries each ping's arrival, merged in the same order as the pings
    expect(asked.map((o) => Array.from(o.arrivals ?? []))).toEqual([[...times(10_000, 600), ...times(20_000, 300)], times(30_000, 500), times(40_000, 2500), times(50_000, 10)]);
    for (const g of gate) g();
    const out = await Promise.all(results);
    // the merged call's events are reported once, by its first caller
    expect(out.map((r) => r.events.length)).toEqual([1, 0, 1, 1, 1]);
  });

  it('a failed merged write fails each of its callers, and only them', async () => {
    const pipeline = {
      async processBatch(ps: readonly Ping[]) {
        if (ps.some((p) => p.tagId === 'BAD')) throw new Error('redis down');
        return { events: [], unknownTags: 0 };
      },
    };
    const judge = coalescer(pipeline, 100);
    const r = await Promise.allSettled([judge(pings('BAD', 10), [], times(0, 10)), judge(pings('OK1', 10), [], times(0, 10)), judge(pings('OK2', 200), [], times(0, 200))]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });
});
