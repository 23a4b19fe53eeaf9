/**
 * Engine benchmark: index + containment + tracker on one core, seeded.
 *
 *   npm run bench:engine [-- --json] [--quick] [--pings N] [--zones N] [--tags N] [--seed N] [--skip-100k]
 *
 * 1. 10,000 zones (polygons of 5–500 vertices, holes, circles; a share applying to hundreds
 *    of subjects; curfews and school-hours schedules), 50,000 tags, 1,000,000 pings (2% late,
 *    1% duplicates, 2% without a fix) through the tracker (ZoneIndex.candidates → judge →
 *    tracker) on the main thread: once with the pure applyPing (copy-on-write) and once with
 *    applyPingInPlace (the headline figure: how the pipeline runs it), checking they agree.
 * 2. Heap used with those 10k zones + 50k tag states alive (after a forced GC).
 * 3. A tick() sweep over every tag.
 * 4. ZoneIndex.candidates queries/s at 10k and at 100k zones.
 *
 * Progress goes to stderr, a table to stdout, and with --json one JSON object as the last
 * stdout line. Timings are never asserted anywhere; see bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { compileZone } from '../geo/compile.ts';
import { applyPing, applyPingInPlace, tick } from '../geo/tracker.ts';
import type { TagState } from '../geo/tracker.ts';
import type { CompiledZone, TagContext, TrackerConfig } from '../geo/types.ts';
import { ZoneIndex } from '../geo/zone-index.ts';
import { makePings, makeWorld, pingAt, Rng } from './lib/engine-world.ts';
import type { World } from './lib/engine-world.ts';

// ---- a young generation big enough for tag states to die young

// Every ping replaces its tag's state object; with 50k tags a state lives ~50k pings. With
// V8's default 16 MiB semi-space that outlives a scavenge, so states get promoted and die in
// the old generation (full GCs). 128 MiB lets them die young: ~40% less tracker CPU. The
// service is meant to run with the same setting (NODE_OPTIONS, see bench/README.md).
const SEMI_SPACE = '--max-semi-space-size=128';
const hasSemi = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size'));
if (!hasSemi && !process.argv.includes('--no-respawn')) {
  const child = spawnSync(process.execPath, [...process.execArgv, SEMI_SPACE, ...process.argv.slice(1), '--no-respawn'], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

// ---- arguments

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
function num(name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`--${name} needs a positive number, got ${JSON.stringify(argv[i + 1])}\n`);
    process.exit(2);
  }
  return v;
}
const JSON_OUT = flag('json');
/** --quick: small sizes for a smoke test (not for quoting) */
const QUICK = flag('quick');
const SEED = num('seed', 20261123);
const N_ZONES = num('zones', QUICK ? 2_000 : 10_000);
const N_TAGS = num('tags', QUICK ? 10_000 : 50_000);
const N_PINGS = num('pings', QUICK ? 100_000 : 1_000_000);
const N_QUERIES = num('queries', QUICK ? 100_000 : 1_000_000);
const SKIP_100K = flag('skip-100k') || QUICK;
const QUERY_SECONDS = num('query-seconds', 20);
const START = Date.parse('2026-06-01T17:30:00Z'); // a Monday evening: curfews start at 18:00 UTC

const cfg: TrackerConfig = { batteryLowPct: 15, batteryClearPct: 20, signalLostAfterMs: 600_000, noFixAfterMs: 900_000 };

// ---- helpers

function progress(msg: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} engine: ${msg}\n`);
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (() => void) | undefined;
function heapMiB(): number {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed / 1048576;
}

function compileAll(world: World): CompiledZone[] {
  const out: CompiledZone[] = [];
  for (const def of world.zones) out.push(compileZone(def));
  return out;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-GB');
  return n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
}

function table(rows: [string, string | number, string][]): string {
  const cells = rows.map(([a, b, c]) => [a, typeof b === 'number' ? fmt(b) : b, c]);
  const w0 = Math.max(6, ...cells.map((r) => r[0]!.length));
  const w1 = Math.max(5, ...cells.map((r) => r[1]!.length));
  const head = `${'metric'.padEnd(w0)}  ${'value'.padStart(w1)}  target`;
  return [head, `${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ------`, ...cells.map((r) => `${r[0]!.padEnd(w0)}  ${r[1]!.padStart(w1)}  ${r[2]}`)].join('\n');
}

/** ZoneIndex.candidates throughput over `q` queries near subjects' homes. */
function measureQueries(index: ZoneIndex, world: World, q: number, seed: number): { perSec: number; perCpuSec: number; avgCandidates: number } {
  const rng = new Rng(seed);
  const subj = new Int32Array(q);
  const lon = new Float64Array(q);
  const lat = new Float64Array(q);
  const rad = new Float32Array(q);
  for (let i = 0; i < q; i++) {
    const s = rng.int(0, world.subjects.length - 1);
    const sb = world.subjects[s]!;
    subj[i] = s;
    lon[i] = sb.homeLon + rng.range(-0.04, 0.04);
    lat[i] = sb.homeLat + rng.range(-0.03, 0.03);
    rad[i] = rng.chance(0.9) ? rng.range(4, 30) : rng.range(30, 500);
  }
  const ids = world.subjects.map((s) => s.id);
  const out: CompiledZone[] = [];
  const at = START;
  let found = 0;
  // warm-up
  for (let i = 0; i < Math.min(q, 50_000); i++) index.candidates(ids[subj[i]!]!, lon[i]!, lat[i]!, rad[i]!, at, out);
  // bounded in time too: at most QUERY_SECONDS, in chunks of 10,000
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  while (done < q) {
    const end = Math.min(q, done + 10_000);
    for (let i = done; i < end; i++) found += index.candidates(ids[subj[i]!]!, lon[i]!, lat[i]!, rad[i]!, at, out).length;
    done = end;
    if (performance.now() - t0 > QUERY_SECONDS * 1000) break;
  }
  const ms = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  const cpuMs = (c1.user + c1.system) / 1000;
  return { perSec: (done / ms) * 1000, perCpuSec: (done / cpuMs) * 1000, avgCandidates: found / done };
}

// ---- 1. world, zones, index

const load0 = os.loadavg()[0]!;
progress(`seed ${SEED}: generating ${N_ZONES} zones, ${N_TAGS} tags (load average ${load0.toFixed(1)} on ${os.cpus().length} CPUs)`);
let t = performance.now();
const world = makeWorld({ seed: SEED, zones: N_ZONES, tags: N_TAGS });
const compiled = compileAll(world);
const compileMs = performance.now() - t;
t = performance.now();
const index = new ZoneIndex();
index.load(compiled);
const loadMs = performance.now() - t;
const circles = world.zones.filter((z) => z.geometry.type === 'Circle').length;
const holes = world.zones.filter((z) => z.geometry.type === 'Polygon' && z.geometry.coordinates.length > 1).length;
const shared = world.zones.filter((z) => z.subjectIds.length > 1);
const maxSubjects = Math.max(...world.zones.map((z) => z.subjectIds.length));
const zonesPerSubject = new Map<string, number>();
for (const z of world.zones) for (const s of z.subjectIds) zonesPerSubject.set(s, (zonesPerSubject.get(s) ?? 0) + 1);
const maxZonesPerSubject = Math.max(...zonesPerSubject.values());
progress(
  `compiled ${compiled.length} zones (${world.vertexCount} polygon vertices, ${circles} circles, ${holes} with holes, ` +
    `${shared.length} shared, up to ${maxSubjects} subjects/zone, up to ${maxZonesPerSubject} zones/subject) in ${fmt(compileMs)} ms; index load ${fmt(loadMs)} ms`,
);

// ---- 2. pings

t = performance.now();
const stream = makePings(world, { seed: SEED + 1, pings: N_PINGS, start: START });
progress(`generated ${N_PINGS} pings (${stream.lateCount} late swaps, ${stream.dupCount} duplicates) in ${fmt(performance.now() - t)} ms`);
const tagIds = world.subjects.map((s) => s.tagId);
const ctxs: TagContext[] = world.subjects.map((s) => ({ tagId: s.tagId, subjectId: s.id, timezone: 'Europe/London', assignedAt: START - 60_000 }));
const states: (TagState | null)[] = new Array<TagState | null>(N_TAGS).fill(null);

interface PingRun {
  pingsPerSec: number;
  /** per second of CPU time of this process: what one core does when nobody else shares it */
  pingsPerCpuSec: number;
  changes: number;
  changeCounts: Map<string, number>;
  /** every change's kind, type and alert id, in order (to check that both modes agree) */
  digest: string;
  /** the arrival clock after the last ping */
  now: number;
}

/**
 * Every ping through one tracker entry point, from empty states (written to `states`).
 * applyPingInPlace is what the pipeline uses once it holds a tag's state of its own (and what
 * a caller that keeps one state per tag, like this loop, would use); applyPing is the pure,
 * copy-on-write form that keeps every input state intact.
 */
function runPings(apply: typeof applyPing, label: string, states: (TagState | null)[], n = stream.n): PingRun {
  states.fill(null);
  // each run starts from a collected heap: the other run's states are not in the way
  if (gc) gc();
  const changeCounts = new Map<string, number>();
  const seen: string[] = [];
  let changes = 0;
  let now = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let lastReport = t0;
  for (let i = 0; i < n; i++) {
    const ti = stream.tag[i]!;
    const ts = stream.ts[i]!;
    if (ts > now) now = ts; // arrival clock: monotonic
    const r = apply(states[ti]!, pingAt(stream, i, tagIds), ctxs[ti]!, index, cfg, now + 2000);
    states[ti] = r.state;
    const cs = r.changes;
    if (cs.length > 0) {
      changes += cs.length;
      for (let k = 0; k < cs.length; k++) {
        const c = cs[k]!;
        const key = `${c.kind}:${c.alert.type}`;
        changeCounts.set(key, (changeCounts.get(key) ?? 0) + 1);
        seen.push(key, c.alert.id);
      }
    }
    if ((i & 0x3fff) === 0 && i > 0) {
      const tt = performance.now();
      if (tt - lastReport > 2000) {
        lastReport = tt;
        progress(`${label}: ${i.toLocaleString('en-GB')} pings, ${fmt((i / (tt - t0)) * 1000)} pings/s`);
      }
    }
  }
  const pingMs = performance.now() - t0;
  const cpu1 = process.cpuUsage(cpu0);
  const pingCpuMs = (cpu1.user + cpu1.system) / 1000;
  const run = { pingsPerSec: (n / pingMs) * 1000, pingsPerCpuSec: (n / pingCpuMs) * 1000, changes, changeCounts, digest: createHash('sha256').update(seen.join('\n')).digest('hex'), now };
  progress(`${label}: ${n} pings in ${fmt(pingMs)} ms = ${fmt(run.pingsPerSec)} pings/s (${fmt(run.pingsPerCpuSec)} per CPU-second); ${changes} alert changes`);
  return run;
}

// warm-up (JIT, schedule memos) on throwaway states: a running service is past it
const warm = Math.min(stream.n, 100_000);
runPings(applyPingInPlace, 'warm-up', new Array<TagState | null>(N_TAGS), warm);
runPings(applyPing, 'warm-up', new Array<TagState | null>(N_TAGS), warm);
// the in-place form, whose states stay alive for the heap and tick figures; then the pure form
const owned = runPings(applyPingInPlace, 'applyPingInPlace', states);
const pure = runPings(applyPing, 'applyPing (copy-on-write)', new Array<TagState | null>(N_TAGS));
if (owned.digest !== pure.digest || owned.changes !== pure.changes) {
  process.stderr.write(`the two tracker entry points disagree: ${pure.changes} vs ${owned.changes} alert changes\n`);
  process.exit(1);
}
const { pingsPerSec, pingsPerCpuSec, changes, changeCounts, now } = owned;

// ---- 3. heap with 10k zones + 50k tag states alive

const heapUsedMiB = heapMiB();
const stateBytes = states.reduce((a, s) => a + (s ? JSON.stringify(s).length : 0), 0);
progress(`heap used ${fmt(heapUsedMiB)} MiB; tag states ${fmt(stateBytes / N_TAGS)} B/tag as JSON`);

// ---- 4. tick sweep

const tickNow = now + 60_000;
const tTick = performance.now();
let tickChanges = 0;
for (let i = 0; i < N_TAGS; i++) {
  const r = tick(states[i]!, ctxs[i]!, index, cfg, tickNow);
  tickChanges += r.changes.length;
}
const ticksPerSec = (N_TAGS / (performance.now() - tTick)) * 1000;
progress(`tick sweep over ${N_TAGS} tags: ${fmt(ticksPerSec)} ticks/s (${tickChanges} changes)`);

// ---- 5. index queries at 10k and 100k zones

const q10k = measureQueries(index, world, N_QUERIES, SEED + 2);
progress(`index at ${compiled.length} zones: ${fmt(q10k.perSec)} queries/s, ${fmt(q10k.avgCandidates)} candidates/query`);

let q100k = { perSec: NaN, perCpuSec: NaN, avgCandidates: NaN };
let build100kMs = NaN;
if (!SKIP_100K) {
  states.fill(null);
  // the ping runs' garbage collected (and the heap compacted) before the big world is built
  if (gc) gc();
  progress('building a 100,000-zone world for the index measurement (polygons up to 40 vertices, 2,000 shared)');
  const t100 = performance.now();
  // as many shared zones as the 10k world (their subject sets dominate memory), the rest personal
  const big = makeWorld({ seed: SEED + 3, zones: 100_000, tags: N_TAGS, maxVertices: 40, sharedShare: 0.02 });
  const bigIndex = new ZoneIndex();
  bigIndex.load(compileAll(big));
  build100kMs = performance.now() - t100;
  q100k = measureQueries(bigIndex, big, N_QUERIES, SEED + 4);
  progress(`index at 100,000 zones: ${fmt(q100k.perSec)} queries/s, ${fmt(q100k.avgCandidates)} candidates/query (world built in ${fmt(build100kMs)} ms)`);
}

// ---- report

const result = {
  seed: SEED,
  zones: compiled.length,
  tags: N_TAGS,
  pings: stream.n,
  pingsPerSec: Math.round(pingsPerSec),
  pingsPerCpuSec: Math.round(pingsPerCpuSec),
  pingsPerSecCopyOnWrite: Math.round(pure.pingsPerSec),
  pingsPerCpuSecCopyOnWrite: Math.round(pure.pingsPerCpuSec),
  indexQueriesPerSec10k: Math.round(q10k.perSec),
  indexQueriesPerSec100k: Number.isFinite(q100k.perSec) ? Math.round(q100k.perSec) : null,
  indexQueriesPerCpuSec10k: Math.round(q10k.perCpuSec),
  indexQueriesPerCpuSec100k: Number.isFinite(q100k.perCpuSec) ? Math.round(q100k.perCpuSec) : null,
  heapUsedMiB: Math.round(heapUsedMiB * 10) / 10,
  ticksPerSec: Math.round(ticksPerSec),
  candidatesPerQuery10k: Math.round(q10k.avgCandidates * 100) / 100,
  candidatesPerQuery100k: Number.isFinite(q100k.avgCandidates) ? Math.round(q100k.avgCandidates * 100) / 100 : null,
  stateBytesPerTag: Math.round(stateBytes / N_TAGS),
  alertChanges: Object.fromEntries([...changeCounts.entries()].sort()),
  compileMs: Math.round(compileMs),
  indexLoadMs: Math.round(loadMs),
  loadAvgStart: Math.round(load0 * 10) / 10,
  loadAvgEnd: Math.round(os.loadavg()[0]! * 10) / 10,
  cpus: os.cpus().length,
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
};

const rows: [string, string | number, string][] = [
  ['pings/s (index + containment + tracker, 1 core)', pingsPerSec, '>= 300,000'],
  ['  same, per CPU-second of this process', pingsPerCpuSec, ''],
  ['  pure applyPing (copy-on-write), pings/s', pure.pingsPerSec, ''],
  ['  same, per CPU-second of this process', pure.pingsPerCpuSec, ''],
  ['index queries/s at 10k zones', q10k.perSec, ''],
  ['  same, per CPU-second of this process', q10k.perCpuSec, ''],
  ['index queries/s at 100k zones', Number.isFinite(q100k.perSec) ? q100k.perSec : 'skipped', '>= 1,000,000'],
  ['  same, per CPU-second of this process', Number.isFinite(q100k.perCpuSec) ? q100k.perCpuSec : 'skipped', ''],
  ['heap used, 10k zones + 50k tags (MiB)', heapUsedMiB, '< 512'],
  ['tick() sweep, tags/s', ticksPerSec, ''],
  ['candidates per query (10k / 100k)', `${fmt(q10k.avgCandidates)} / ${fmt(q100k.avgCandidates)}`, ''],
  ['tag state as JSON (bytes/tag)', stateBytes / N_TAGS, ''],
  ['zone compile (ms, 10k) / index load (ms)', `${fmt(compileMs)} / ${fmt(loadMs)}`, ''],
  ['alert changes (opened/updated/ended/touched)', changes, ''],
];
process.stdout.write(`Cordon engine benchmark (seed ${SEED}, node ${process.version}, ${result.cpu} x${result.cpus}, load average ${result.loadAvgStart} -> ${result.loadAvgEnd})\n`);
process.stdout.write(`${compiled.length} zones (${world.vertexCount} vertices, ${circles} circles, ${holes} with holes, ${shared.length} shared), ${N_TAGS} tags, ${stream.n} pings (${stream.lateCount} late, ${stream.dupCount} duplicates)\n\n`);
process.stdout.write(`${table(rows)}\n`);
const opened = [...changeCounts.entries()].filter(([k]) => k.startsWith('opened:')).map(([k, v]) => `${k.slice(7)} ${v}`);
process.stdout.write(`\nalerts opened: ${opened.join(', ') || 'none'}\n`);
if (JSON_OUT) process.stdout.write(`${JSON.stringify(result)}\n`);
