/**
 * Redis store edge cases outside the shared conformance suite: a 30 000-item commit (no argument
 * spread or Lua stack limit may break it), long ids read back as one string each, and connection
 * errors logged through the store's logger while ioredis reconnects.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { AlertChange } from '../../geo/types.ts';
import { ArgWriter } from '../../src/stores/arg-writer.ts';
import { createRedisStore, type StoreLogger } from '../../src/stores/redis.ts';
import type { CommitBatch, CordonStore } from '../../streams/ports.ts';
import { freePort, startRedisServer, waitFor, type RedisServer } from '../support/redis.ts';
import { TestClock, engineAlert, ping, redisKit, zoneInput } from '../support/store-fixtures.ts';

const N = 30_000;

describe('Redis store: a 30 000-item batch', () => {
  let cleanup: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await cleanup?.();
    cleanup = null;
  });

  it('commits 30 000 states, positions and alert changes in one batch, then replays it idempotently', async () => {
    const clock = new TestClock();
    const made = await redisKit(inject('redisUrl')).make(clock);
    cleanup = made.cleanup;
    const store: CordonStore = made.store;
    const t = clock.t;
    const tag = (i: number) => `BIG-${i}`;
    const changes: AlertChange[] = [];
    for (let i = 0; i < N; i++) changes.push({ kind: 'opened', alert: engineAlert({ tagId: tag(i), openedAt: t - 60_000 - i }) });
    const batch = (expectRev: number): CommitBatch => ({
      states: Array.from({ length: N }, (_, i) => ({ tagId: tag(i), state: { i, r: expectRev }, expectRev, dueAt: t + (i % 2 ? 1000 : 0) })),
      changes,
      // 30 000 positions: one per tag, plus (for tag 0) a duplicate ts inside the batch
      positions: [...Array.from({ length: N - 1 }, (_, i) => ({ ping: ping(tag(i), t - 1000 - i), extras: null })), { ping: ping(tag(0), t - 1000), extras: null }],
    });

    const r1 = await store.commitBatch(batch(0));
    expect(r1.conflicts).toEqual([]);
    expect(r1.events).toHaveLength(N);
    expect(r1.alerts).toHaveLength(N);
    expect(r1.events.every((e) => e.type === 'alert.opened')).toBe(true);
    const states = await store.loadTagStates([tag(0), tag(12_345), tag(N - 1)]);
    expect(states.get(tag(12_345))).toEqual({ rev: 1, state: { i: 12_345, r: 0 } });
    expect(states.get(tag(N - 1))?.rev).toBe(1);
    expect((await store.dueTags(t, N + 10)).length).toBe(N / 2);
    expect(await store.positions(tag(0), 0, t, 10)).toHaveLength(1);
    expect((await store.positions(tag(N - 2), 0, t, 10))[0]?.ts).toBe(new Date(t - 1000 - (N - 2)).toISOString());
    expect(await store.getAlert(changes[N - 1]?.alert.id as string)).toMatchObject({ status: 'open', tagId: tag(N - 1) });

    // stale revisions: every tag conflicts, nothing of theirs is written
    const r2 = await store.commitBatch(batch(0));
    expect(r2.conflicts).toHaveLength(N);
    expect(r2.events).toEqual([]);

    // a replay at the right revision: states move on, alerts and positions stay as they were
    const r3 = await store.commitBatch(batch(1));
    expect(r3.conflicts).toEqual([]);
    expect(r3.events).toEqual([]);
    expect((await store.loadTagStates([tag(7)])).get(tag(7))).toEqual({ rev: 2, state: { i: 7, r: 1 } });
    expect(await store.positions(tag(0), 0, t, 10)).toHaveLength(1);
    expect(await store.readEventsAfter(null, N + 10)).toHaveLength(N);
  }, 60_000);
});

describe('Redis store: ids read back', () => {
  it('zones and tag contexts share one string per long subject id (JSON.parse shares only those of up to 10 characters)', async () => {
    const clock = new TestClock();
    const made = await redisKit(inject('redisUrl')).make(clock);
    try {
      const store = made.store;
      // 2,000 subjects with UUID-like ids (36 characters), named by 100 zones: 200,000 references
      const ids = Array.from({ length: 2000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
      for (let i = 0; i < 5; i++) await store.putSubject(ids[i] as string, { tagId: `TAG-${i}-`.padEnd(36, 'x'), name: null, orderRef: null, timezone: 'Europe/London' });
      for (let z = 0; z < 100; z++) await store.putZone(`Z${z}`, zoneInput({ subjectIds: ids }), { by: null });

      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      gc();
      gc();
      const before = process.memoryUsage().heapUsed;
      const all = await store.allZoneDefs();
      const contexts = await store.allAssignments();
      gc();
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      expect(all).toHaveLength(100);
      expect(all.every((h) => h.defs.length === 1 && h.defs[0]!.subjectIds.length === ids.length && h.defs[0]!.subjectIds.every((s, k) => s === ids[k]))).toBe(true);
      expect(contexts.map((c) => c.subjectId).sort()).toEqual(ids.slice(0, 5));
      // a copy per reference would be 200,000 strings of 56 bytes (~11 MB) on top of the ~2 MB
      // the defs' arrays and objects take
      expect(grown).toBeLessThan(6 * 1024 * 1024);
    } finally {
      await made.cleanup();
    }
  }, 60_000);
});

describe('Redis store: the commit payload', () => {
  it("is read by Redis's own cmsgpack.unpack into the items, long (str 32) and non-ASCII ones too", async () => {
    const redis = new Redis(inject('redisUrl'));
    try {
      const items = ['BUD-1', '', 'é'.repeat(40_000), 'x'.repeat(0xffff), 'y'.repeat(0x10000), '1764840000123', '{"a":"\u0000 ☃"}'];
      for (let i = 0; i < 20_000; i++) items.push(`t-${i}`);
      const w = new ArgWriter(false, true);
      for (const x of items) w.next().str(x);
      const got = (await redis.callBuffer('EVAL', 'return cmsgpack.unpack(ARGV[1])', 0, w.done())) as Buffer[];
      expect(got.length).toBe(items.length);
      const wrong = got.findIndex((b, k) => !b.equals(Buffer.from(items[k] as string, 'utf8')));
      expect(wrong).toBe(-1);
    } finally {
      redis.disconnect();
    }
  });
});

describe('Redis store: trail retention', () => {
  it('the janitor prunes positions past the retention (an emptied trail loses its key); fresh positions skip only the duplicate check', async () => {
    const clock = new TestClock();
    const prefix = `jan:${Math.random().toString(36).slice(2, 10)}:`;
    const hour = 3600_000;
    const store = await createRedisStore({ url: inject('redisUrl'), clock, prefix, eventsKey: prefix + 'events', positionRetentionMs: hour, positionsPruneIntervalMs: 0 });
    const redis = new Redis(inject('redisUrl'));
    try {
      const t = clock.t;
      const pos = (tag: string, ts: number, fresh?: boolean) => ({ ping: ping(tag, ts), extras: null, ...(fresh === undefined ? {} : { fresh }) });
      await store.commitBatch({ states: [], changes: [], positions: [pos('T1', t - 2 * hour), pos('T1', t - 2 * hour + 1), pos('T1', t - 1800_000), pos('T2', t - 3 * hour), pos('T2', t - 3 * hour + 5)] });
      expect(await redis.zcard(prefix + 'pos:T1')).toBe(3); // expired ones are hidden on read, kept until pruned
      expect((await store.positions('T1', 0, t, 100)).map((p) => Date.parse(p.ts))).toEqual([t - 1800_000]);
      expect(await store.prunePositions()).toBe(4);
      expect(await redis.zcard(prefix + 'pos:T1')).toBe(1);
      expect(await redis.exists(prefix + 'pos:T2')).toBe(0);
      expect(await store.prunePositions()).toBe(0);

      // fresh: stored without the duplicate check; a repeat of the same ts (not fresh) is still refused
      await store.commitBatch({ states: [], changes: [], positions: [pos('T1', t - 60_000, true)] });
      await store.commitBatch({ states: [], changes: [], positions: [pos('T1', t - 60_000, false), pos('T1', t - 1800_000)] });
      expect((await store.positions('T1', 0, t, 100)).map((p) => Date.parse(p.ts))).toEqual([t - 1800_000, t - 60_000]);

      // the timer: an instance with an interval prunes on its own
      const timed = await createRedisStore({ url: inject('redisUrl'), clock, prefix, eventsKey: prefix + 'events', positionRetentionMs: hour, positionsPruneIntervalMs: 200 });
      try {
        clock.advance(hour);
        await waitFor(async () => (await redis.exists(prefix + 'pos:T1')) === 0, 5000, 'janitor round');
      } finally {
        await timed.close();
      }
    } finally {
      const keys = await redis.keys(prefix + '*');
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      await store.close();
    }
  });
});

describe('Redis store: connection errors', () => {
  let server: RedisServer | null = null;
  let store: CordonStore | null = null;
  afterEach(async () => {
    await store?.close();
    store = null;
    await server?.stop();
    server = null;
  });

  function recordingLogger() {
    const warns: { obj: Record<string, unknown>; msg: string }[] = [];
    const infos: string[] = [];
    const logger: StoreLogger = {
      warn: (obj, msg) => warns.push({ obj: obj as Record<string, unknown>, msg }),
      info: (_obj, msg) => infos.push(msg),
    };
    return { logger, warns, infos };
  }

  it('logs an outage once through the logger (rate-limited), keeps reconnecting and comes back', async () => {
    server = await startRedisServer();
    const { logger, warns, infos } = recordingLogger();
    store = await createRedisStore({ url: server.url, prefix: 'err:', eventsKey: 'err:events', logger });
    expect(warns).toEqual([]);
    // the server exits by itself (so the helper's stop/restart see it gone)
    const admin = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => {});
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => {});
    admin.disconnect();
    await waitFor(() => warns.some((w) => w.obj.connection === 'main'), 10_000, 'a logged connection error');
    expect(warns[0]?.msg).toMatch(/Redis connection error/);
    // ioredis retries every few ms to seconds; within the interval only the first error is logged per connection
    expect(warns.filter((w) => w.obj.connection === 'main')).toHaveLength(1);
    expect(await store.ping()).toBe(false);
    await server.restart?.();
    await waitFor(() => store?.ping() ?? false, 15_000, 'the store to reconnect');
    await waitFor(() => infos.some((m) => /ready again/.test(m)), 5_000, 'the reconnect log line');
  }, 40_000);

  it('at start-up against a dead Redis: rejects with an error and logs instead of an unhandled error event', async () => {
    const port = await freePort();
    const { logger, warns } = recordingLogger();
    await expect(createRedisStore({ url: `redis://127.0.0.1:${port}`, prefix: 'dead:', logger })).rejects.toThrow();
    expect(warns.length).toBeGreaterThanOrEqual(1);
    expect(String(warns[0]?.obj.err)).toMatch(/ECONNREFUSED|connect/i);
  }, 20_000);
});
