/**
 * `tsx bench/redis-commit.ts` — the Redis store's batch commit alone: seeded commits of 100-ping
 * batches over 50k tags (one state write with expectRev + one position per ping, ~1% alert changes),
 * the way the ingest pipeline calls it. Prints pings/s, client CPU µs per ping, Redis server µs per
 * commit (INFO commandstats) and pings per CPU-second (client + redis-server CPU; the machine is shared).
 *
 *   npx tsx bench/redis-commit.ts [--commits 1000] [--batch 100] [--tags 50000] [--concurrency 4] [--seed 7] [--redis URL] [--json]
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { AlertChange, EngineAlert, Ping } from '../geo/types.ts';
import { createRedisStore } from '../src/stores/redis.ts';
import type { CommitBatch } from '../streams/ports.ts';
import { startRedisServer } from '../test/support/redis.ts';
import { emitJson, redisCpuSeconds } from './lib/table.ts';

const { values: args } = parseArgs({
  options: {
    commits: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '100' },
    tags: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '4' },
    seed: { type: 'string', default: '7' },
    redis: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const COMMITS = Number(args.commits);
const BATCH = Number(args.batch);
const TAGS = Number(args.tags);
const CONC = Number(args.concurrency);

let seed = Number(args.seed) >>> 0 || 1;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}

function tagState(tagId: string, ts: number, lat: number, lon: number, n: number): unknown {
  const recent: number[] = [];
  for (let i = 0; i < 16; i++) recent.push(ts - (16 - i) * 30_000);
  return {
    v: 2,
    tagId,
    subjectId: 's-' + tagId,
    // newest, arrival, positioned arrival, first fix-less arrival, certain, position ts, lat, lon, accuracy
    t: [ts, ts + 120, ts + 120, null, ts, ts, lat, lon, 12],
    recent,
    recentOld: recent.map((x) => x - 600_000),
    zones: n % 5 === 0 ? [{ zoneId: 'z-' + (n % 97), st: 'in', since: ts - 60_000, pc: 3, alertId: null }] : [],
    dev: {},
  };
}

async function main(): Promise<void> {
  const server = args.redis ? null : await startRedisServer();
  const url = args.redis ?? (server as { url: string }).url;
  const prefix = `bench-commit-${Date.now()}:`;
  const store = await createRedisStore({ url, prefix, eventsKey: prefix + 'events' });
  const admin = new Redis(url);
  admin.on('error', () => {});
  const revs = new Map<string, number>();
  const base = Date.now() - 3_600_000;
  let tsStep = 0;
  let alertSeq = 0;
  const openAlerts: EngineAlert[] = [];

  function makeBatch(): CommitBatch {
    const b: CommitBatch = { states: [], changes: [], positions: [] };
    const used = new Set<string>();
    for (let i = 0; i < BATCH; i++) {
      let tagId: string;
      do tagId = 't' + Math.floor(rnd() * TAGS);
      while (used.has(tagId));
      used.add(tagId);
      tsStep++;
      const ts = base + tsStep * 10;
      const lat = 52 + rnd();
      const lon = 13 + rnd();
      const ping: Ping = { tagId, ts, lat, lon, accuracyM: 12, fix: 'gps', battery: 0.8, strap: 'ok', seq: tsStep } as Ping;
      const rev = revs.get(tagId) ?? 0;
      // as the pipeline marks it: newer than everything of the tag's (existing) state
      b.positions.push({ ping, extras: null, fresh: rev > 0 });
      revs.set(tagId, rev + 1);
      b.states.push({ tagId, state: tagState(tagId, ts, lat, lon, tsStep), expectRev: rev, dueAt: ts + 300_000 });
      if (rnd() < 0.01) {
        const a = {
          id: 'a-' + ++alertSeq,
          type: 'zone_exit',
          subjectId: 's-' + tagId,
          tagId,
          zoneId: 'z-1',
          zoneVersion: 1,
          severity: 'high',
          confidence: 'probable',
          trigger: 'ping',
          late: false,
          active: true,
          openedAt: ts,
          detectedAt: ts + 100,
          lastPingAt: ts,
          endedAt: null,
          pingCount: 1,
          firstPosition: { lat, lon, accuracyM: 12 },
          lastPosition: { lat, lon, accuracyM: 12 },
        } as unknown as EngineAlert;
        openAlerts.push(a);
        b.changes.push({ kind: 'opened', alert: a } as AlertChange);
      } else if (openAlerts.length && rnd() < 0.01) {
        const a = openAlerts.shift() as EngineAlert;
        const upd: EngineAlert = { ...a, pingCount: a.pingCount + 1, active: false, endedAt: a.openedAt + 1000 };
        b.changes.push({ kind: 'ended', alert: upd } as AlertChange);
      }
    }
    return b;
  }

  // warm-up (scripts loaded, JIT)
  for (let i = 0; i < 20; i++) await store.commitBatch(makeBatch());
  await admin.config('RESETSTAT');
  const cpuRedis0 = await redisCpuSeconds(admin);
  const batches: CommitBatch[] = [];
  for (let i = 0; i < COMMITS; i++) batches.push(makeBatch());
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  let conflicts = 0;
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < batches.length) {
        const b = batches[next++] as CommitBatch;
        const r = await store.commitBatch(b);
        conflicts += r.conflicts.length;
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuRedis = (await redisCpuSeconds(admin)) - cpuRedis0;
  const stats = await admin.info('commandstats');
  let serverUsec = 0;
  const perCmd: Record<string, { calls: number; usec: number }> = {};
  for (const line of stats.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (!m) continue;
    const c = { calls: Number(m[2]), usec: Number(m[3]) };
    if (m[1] === 'info' || m[1] === 'config') continue;
    perCmd[m[1] as string] = c;
    if (m[1] === 'evalsha' || m[1] === 'eval') serverUsec += c.usec;
  }
  const pings = COMMITS * BATCH;
  const clientCpuS = (cpu.user + cpu.system) / 1e6;
  const res = {
    commits: COMMITS,
    batch: BATCH,
    tags: TAGS,
    concurrency: CONC,
    conflicts,
    pingsPerSec: Math.round(pings / (wallMs / 1000)),
    clientCpuUsPerPing: +((clientCpuS * 1e6) / pings).toFixed(2),
    redisServerUsPerCommit: Math.round(serverUsec / COMMITS),
    redisCpuUsPerCommit: Math.round((cpuRedis * 1e6) / COMMITS),
    redisCpuS: +cpuRedis.toFixed(2),
    clientCpuS: +clientCpuS.toFixed(2),
    pingsPerCpuSecond: Math.round(pings / (clientCpuS + cpuRedis)),
    pingsPerClientCpuSecond: Math.round(pings / clientCpuS),
    perCmd,
  };
  console.log(
    `${pings} pings in ${COMMITS} commits of ${BATCH}: ${res.pingsPerSec} pings/s wall, ` +
      `${res.clientCpuUsPerPing} µs client CPU/ping, ${res.redisServerUsPerCommit} µs Redis script time/commit (${res.redisCpuUsPerCommit} µs Redis CPU), ` +
      `${res.pingsPerCpuSecond} pings per CPU-second (client ${res.clientCpuS}s + redis ${res.redisCpuS}s)`,
  );
  for (const [k, v] of Object.entries(perCmd)) console.log(`  ${k}: ${v.calls} calls, ${v.usec} µs`);
  emitJson(args.json === true, res);
  await admin.quit();
  await store.close();
  await server?.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
