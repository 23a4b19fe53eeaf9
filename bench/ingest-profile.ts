/**
 * Where the synchronous ingest path spends its time, without HTTP: the same work a
 * POST /v1/pings request does once Fastify has the body (JSON.parse → decodePings →
 * pipeline.processBatch on the memory store), on a seeded world (10k zones, 50k tags
 * assigned to subjects), 100 pings per batch, pings with advancing timestamps.
 *
 *   npx tsx bench/ingest-profile.ts [--zones 10000 --tags 50000 --pings 1000000 --batch 100 --seed 42 --json]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/ingest-profile.ts   (then read the .cpuprofile)
 *
 * Prints µs of wall and CPU time per ping for: the whole path, JSON.parse alone, decode alone,
 * the engine alone (applyPing + nextTickAt on plain Maps, no store) and the GC share, so the
 * store/pipeline overhead is the difference. `--json` prints one JSON object as the last line.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { compileZone } from '../geo/compile.ts';
import { applyPing, nextTickAt } from '../geo/tracker.ts';
import type { TagState } from '../geo/tracker.ts';
import type { CompiledZone, Ping, TagContext, TrackerConfig } from '../geo/types.ts';
import { ZoneIndex } from '../geo/zone-index.ts';
import { createMemoryStore } from '../src/stores/memory.ts';
import { decodePings } from '../streams/codec.ts';
import { createIngestPipeline } from '../streams/pipeline.ts';
import { emitJson, fmtNum, formatTable, progress } from './lib/table.ts';
import { makePings, makeWorld, pingAt } from './lib/engine-world.ts';

const { values: args } = parseArgs({
  options: {
    zones: { type: 'string', default: '10000' },
    tags: { type: 'string', default: '50000' },
    pings: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '42' },
    /** run only the whole-path stage (for --cpu-prof) */
    'full-only': { type: 'boolean', default: false },
    /** with --full-only: write a .cpuprofile of the measured loop alone (no set-up) to this file */
    prof: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const FULL_ONLY = args['full-only'];

const N_ZONES = Number(args.zones);
const N_TAGS = Number(args.tags);
const N_PINGS = Number(args.pings);
const BATCH = Number(args.batch);
const SEED = Number(args.seed);
const cfg: TrackerConfig = { batteryLowPct: 15, batteryClearPct: 20, signalLostAfterMs: 86_400_000, noFixAfterMs: 86_400_000 };

// ---- world
progress(`seed ${SEED}: ${N_ZONES} zones, ${N_TAGS} tags, ${N_PINGS} pings in batches of ${BATCH}`);
const world = makeWorld({ seed: SEED, zones: N_ZONES, tags: N_TAGS });
const start = Date.now() - 2 * 86_400_000;
const stream = makePings(world, { seed: SEED + 1, pings: N_PINGS, start });
const tagIds = world.subjects.map((s) => s.tagId);
const compiled: CompiledZone[] = world.zones.map((z) => compileZone({ ...z, effectiveFrom: 0 }));

// request bodies as the wire carries them (the bench:http shape)
progress('building request bodies');
const bodies: string[] = [];
for (let b = 0; b * BATCH < N_PINGS; b++) {
  const items: string[] = [];
  for (let i = b * BATCH; i < Math.min(N_PINGS, (b + 1) * BATCH); i++) {
    const p = pingAt(stream, i, tagIds);
    const o: Record<string, unknown> = { tagId: p.tagId, fix: p.fix, accuracyM: Math.round(p.accuracyM * 10) / 10 };
    if (p.lat !== null && p.lon !== null) {
      o.lat = Math.round(p.lat * 1e6) / 1e6;
      o.lon = Math.round(p.lon * 1e6) / 1e6;
    }
    if (p.battery !== null) o.battery = p.battery;
    if (p.strap !== null) o.strap = p.strap;
    o.ts = p.ts;
    items.push(JSON.stringify(o));
  }
  bodies.push(`[${items.join(',')}]`);
}

// ---- GC accounting
let gcMs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
obs.observe({ entryTypes: ['gc'] });

interface Stage {
  name: string;
  wallUsPerPing: number;
  cpuUsPerPing: number;
  gcShare: number;
}
const stages: Stage[] = [];

async function measure(name: string, n: number, fn: () => Promise<void> | void): Promise<Stage> {
  await new Promise((r) => setTimeout(r, 50)); // let GC observer entries of the previous stage land
  gcMs = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 50));
  const s: Stage = { name, wallUsPerPing: (wall * 1000) / n, cpuUsPerPing: (c.user + c.system) / n, gcShare: gcMs / wall };
  stages.push(s);
  progress(`${name}: ${s.wallUsPerPing.toFixed(2)} µs/ping wall, ${s.cpuUsPerPing.toFixed(2)} µs/ping CPU, GC ${(s.gcShare * 100).toFixed(1)}%`);
  return s;
}

async function main(): Promise<void> {
  if (FULL_ONLY) return fullOnly();
  // stage 1: JSON.parse alone
  const parsed: unknown[] = new Array(bodies.length);
  await measure('JSON.parse', N_PINGS, () => {
    for (let b = 0; b < bodies.length; b++) parsed[b] = JSON.parse(bodies[b] as string);
  });
  // stage 2: decode alone
  const decoded: { pings: Ping[]; extras: (Record<string, unknown> | null)[] }[] = new Array(bodies.length);
  await measure('decodePings', N_PINGS, () => {
    for (let b = 0; b < bodies.length; b++) {
      const r = decodePings(parsed[b]);
      if (!r.ok) throw new Error(`batch ${b} rejected: ${JSON.stringify(r.errors.slice(0, 3))}`);
      decoded[b] = r;
    }
  });
  parsed.length = 0;

  // stage 3: engine alone (applyPing + nextTickAt per tag per batch, plain Map of states, no store)
  {
    const index = new ZoneIndex();
    index.load(compiled);
    const ctxs = new Map<string, TagContext>();
    const assignedAt = Date.now();
    for (const s of world.subjects) ctxs.set(s.tagId, { tagId: s.tagId, subjectId: s.id, timezone: 'Europe/London', assignedAt });
    const states = new Map<string, TagState>();
    const now = Date.now();
    await measure('engine only (applyPing+nextTickAt)', N_PINGS, () => {
      for (const d of decoded) {
        const touched = new Set<string>();
        for (const p of d.pings) {
          const ctx = ctxs.get(p.tagId) as TagContext;
          const r = applyPing(states.get(p.tagId) ?? null, p, ctx, index, cfg, now);
          states.set(p.tagId, r.state);
          touched.add(p.tagId);
        }
        for (const t of touched) nextTickAt(states.get(t) ?? null, ctxs.get(t) as TagContext, index, cfg, now);
      }
    });
  }

  // stage 4: the pipeline on the memory store (tracker + store commit), decoded input
  const store = createMemoryStore();
  const index = new ZoneIndex();
  index.load(compiled);
  for (const s of world.subjects) await store.putSubject(s.id, { tagId: s.tagId, name: s.id, orderRef: null, timezone: 'Europe/London' });
  // time spent inside the store's hot calls (synchronous on the memory store)
  let storeMs = 0;
  const load0 = store.loadTagStates.bind(store);
  const commit0 = store.commitBatch.bind(store);
  store.loadTagStates = (tags) => {
    const t = performance.now();
    const r = load0(tags);
    storeMs += performance.now() - t;
    return r;
  };
  store.commitBatch = (batch) => {
    const t = performance.now();
    const r = commit0(batch);
    storeMs += performance.now() - t;
    return r;
  };
  const pipeline = createIngestPipeline({ store, zones: index, config: cfg });
  let alerts = 0;
  let events = 0;
  // half the batches warm the store (tag states, trails) so the measured half sees a steady state
  const half = Math.floor(decoded.length / 2);
  for (let b = 0; b < Math.min(half, 200); b++) {
    const d = decoded[b]!;
    await pipeline.processBatch(d.pings, d.extras);
  }
  const measuredPings = (decoded.length - Math.min(half, 200)) * BATCH;
  storeMs = 0;
  const pipe = await measure('pipeline.processBatch (memory store)', measuredPings, async () => {
    for (let b = Math.min(half, 200); b < decoded.length; b++) {
      const d = decoded[b]!;
      const r = await pipeline.processBatch(d.pings, d.extras);
      alerts += r.alerts.length;
      events += r.events.length;
    }
  });

  const storeUsPerPing = (storeMs * 1000) / measuredPings;
  progress(`  of which inside store.loadTagStates+commitBatch: ${storeUsPerPing.toFixed(2)} µs/ping wall`);
  // stage 5: the whole request minus HTTP (parse + decode + pipeline), fresh timestamps, new store
  const store2 = createMemoryStore();
  for (const s of world.subjects) await store2.putSubject(s.id, { tagId: s.tagId, name: s.id, orderRef: null, timezone: 'Europe/London' });
  const pipeline2 = createIngestPipeline({ store: store2, zones: index, config: cfg });
  const full = await measure('JSON.parse+decode+processBatch', N_PINGS, async () => {
    for (let b = 0; b < bodies.length; b++) {
      const r = decodePings(JSON.parse(bodies[b] as string));
      if (!r.ok) throw new Error('rejected');
      await pipeline2.processBatch(r.pings, r.extras);
    }
  });
  obs.disconnect();
  pipeline.close();
  pipeline2.close();

  const engine = stages[2]!;
  process.stdout.write(`\nCordon ingest profile — ${N_ZONES} zones, ${N_TAGS} tags, ${N_PINGS} pings, ${BATCH}/batch, node ${process.version}\n\n`);
  process.stdout.write(
    formatTable(
      ['stage', 'µs/ping wall', 'µs/ping CPU', 'GC %', 'pings/s (CPU)'],
      stages.map((s) => [s.name, s.wallUsPerPing.toFixed(2), s.cpuUsPerPing.toFixed(2), (s.gcShare * 100).toFixed(1), fmtNum(1e6 / s.cpuUsPerPing)]),
    ) + '\n',
  );
  process.stdout.write(
    `\nstore+pipeline overhead over the engine: ${(pipe.cpuUsPerPing - engine.cpuUsPerPing).toFixed(2)} µs/ping CPU ` +
      `(inside the memory store's loadTagStates+commitBatch: ${storeUsPerPing.toFixed(2)} µs/ping wall); ` +
      `alerts in measured batches ${alerts}, events ${events}\n`,
  );
  emitJson(args.json, {
    zones: N_ZONES,
    tags: N_TAGS,
    pings: N_PINGS,
    batch: BATCH,
    parseUsPerPing: round(stages[0]!.cpuUsPerPing),
    decodeUsPerPing: round(stages[1]!.cpuUsPerPing),
    engineUsPerPing: round(engine.cpuUsPerPing),
    processBatchUsPerPing: round(pipe.cpuUsPerPing),
    processBatchGcShare: round(pipe.gcShare),
    storeUsPerPing: round(storeUsPerPing),
    fullUsPerPing: round(full.cpuUsPerPing),
    fullWallUsPerPing: round(full.wallUsPerPing),
    pingsPerCpuSec: Math.round(1e6 / full.cpuUsPerPing),
  });
}

/** the whole-path stage alone: a clean profile of what one request costs past Fastify */
async function fullOnly(): Promise<void> {
  const index = new ZoneIndex();
  index.load(compiled);
  const store = createMemoryStore();
  for (const s of world.subjects) await store.putSubject(s.id, { tagId: s.tagId, name: s.id, orderRef: null, timezone: 'Europe/London' });
  const pipeline = createIngestPipeline({ store, zones: index, config: cfg });
  let session: Session | null = null;
  if (args.prof) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  const full = await measure('JSON.parse+decode+processBatch', N_PINGS, async () => {
    for (let b = 0; b < bodies.length; b++) {
      const r = decodePings(JSON.parse(bodies[b] as string));
      if (!r.ok) throw new Error('rejected');
      await pipeline.processBatch(r.pings, r.extras);
    }
  });
  if (session && args.prof) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(args.prof, JSON.stringify(profile));
    session.disconnect();
    progress(`profile of the measured loop written to ${args.prof}`);
  }
  obs.disconnect();
  pipeline.close();
  emitJson(args.json, { zones: N_ZONES, tags: N_TAGS, pings: N_PINGS, batch: BATCH, fullUsPerPing: round(full.cpuUsPerPing), fullWallUsPerPing: round(full.wallUsPerPing), gcShare: round(full.gcShare) });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

main().catch((e: Error) => {
  process.stderr.write(`ingest-profile failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
