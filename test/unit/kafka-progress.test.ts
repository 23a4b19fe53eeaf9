import { describe, expect, it } from 'vitest';
import { IngestProgress } from '../../streams/kafka/progress.ts';

const T = 1_800_000_000_000;

describe("Kafka ingest progress: the instant before which every ping that reached Kafka is judged", () => {
  it('holds everything until the group is joined and each fetcher has finished a round', () => {
    const p = new IngestProgress({ maxOutMs: 90_000, marginMs: 0 });
    expect(p.through(T, 0)).toBe(0);
    p.onJoin(4);
    expect(p.through(T + 10, 0)).toBe(0); // no fetch yet
    p.onFetchStart(1, T + 100);
    p.onFetchStart(2, T + 110);
    expect(p.through(T + 200, 1)).toBe(0); // first rounds in progress
    p.onFetchStart(1, T + 300); // node 1's first round is handled
    expect(p.through(T + 310, 0)).toBe(0); // node 2's is not
    p.onFetchStart(2, T + 400);
    expect(p.through(T + 410, 0)).toBe(T + 100); // the older of the two rounds' starts
    p.onFetchStart(1, T + 500);
    expect(p.through(T + 510, 0)).toBe(T + 110);
  });

  it('a partition cut short by the fetch size holds it at its last judged record', () => {
    const p = new IngestProgress({ maxOutMs: 90_000, marginMs: 0 });
    p.onJoin(2);
    p.onFetchStart(1, T);
    p.onHandled('pings', 0, T - 600_000, 5_000); // a backlog: 5,000 records left behind
    p.onHandled('pings', 1, T - 10, 0);
    p.onFetchStart(1, T + 1_000);
    expect(p.through(T + 1_000, 0)).toBe(T - 600_000);
    p.onHandled('pings', 0, T - 300_000, 2_000);
    p.onFetchStart(1, T + 2_000);
    expect(p.through(T + 2_000, 0)).toBe(T - 300_000);
    p.onHandled('pings', 0, T + 1_500, 0); // caught up
    p.onFetchStart(1, T + 3_000);
    expect(p.through(T + 3_000, 0)).toBe(T + 2_000);
  });

  it('never goes back, holds its value through a rebalance, and reports nothing once out too long or without partitions', () => {
    const p = new IngestProgress({ maxOutMs: 90_000, marginMs: 0 });
    p.onJoin(3);
    p.onFetchStart(1, T);
    p.onFetchStart(1, T + 1_000);
    expect(p.through(T + 1_000, 0)).toBe(T);
    p.onLeave(T + 2_000); // rebalancing
    expect(p.through(T + 5_000, 0)).toBe(T);
    p.onJoin(2);
    p.onFetchStart(1, T + 6_000);
    p.onHandled('pings', 2, T - 50_000, 10); // a new partition, behind: its value is older, but ours never goes back
    expect(p.through(T + 6_500, 1)).toBe(T);
    p.onFetchStart(1, T + 7_000);
    expect(p.through(T + 7_000, 0)).toBe(T);
    p.onHandled('pings', 2, T + 6_900, 0);
    p.onFetchStart(1, T + 8_000);
    expect(p.through(T + 8_000, 0)).toBe(T + 7_000);
    p.onLeave(T + 9_000);
    expect(p.through(T + 9_000 + 90_000, 0)).toBe(T + 7_000);
    expect(p.through(T + 9_000 + 90_001, 0)).toBeNull(); // its partitions are someone else's by now
    p.onJoin(0); // more members than partitions: nothing to hold back
    expect(p.through(T + 200_000, 0)).toBeNull();
  });

  it('forgets a broker whose fetcher stopped while nothing is in flight, but not while a batch is held', () => {
    const p = new IngestProgress({ maxOutMs: 90_000, staleFetcherMs: 30_000, marginMs: 0 });
    p.onJoin(2);
    p.onFetchStart(1, T);
    p.onFetchStart(2, T);
    p.onFetchStart(1, T + 1_000);
    p.onFetchStart(2, T + 1_000);
    // broker 2's fetcher stops (its partitions moved); broker 1 keeps fetching
    for (let t = T + 2_000; t <= T + 40_000; t += 1_000) p.onFetchStart(1, t);
    expect(p.through(T + 40_000, 1)).toBe(T); // a batch in flight (Redis down?): still held at node 2's round
    expect(p.through(T + 40_000, 0)).toBe(T + 39_000); // node 2 forgotten
  });

  it('stays a margin behind what the fetches show: a record stamped before a fetch may reach the broker after it', () => {
    const p = new IngestProgress({ maxOutMs: 90_000 });
    p.onJoin(1);
    p.onFetchStart(1, T);
    p.onFetchStart(1, T + 500);
    expect(p.through(T + 500, 0)).toBe(T - 2_000);
    const q = new IngestProgress({ maxOutMs: 90_000, marginMs: 5_000 });
    q.onJoin(1);
    q.onFetchStart(1, T);
    q.onFetchStart(1, T + 500);
    expect(q.through(T + 500, 0)).toBe(T - 5_000);
  });
});
