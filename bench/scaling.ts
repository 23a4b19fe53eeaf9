/**
 * `npm run bench:scaling` — how the engine's cost grows: pings/s and heap versus the number
 * of zones (1k → 100k, tags fixed) and of tags (1k → 200k, zones fixed). The engine here is
 * the whole per-ping path of geo/: ZoneIndex candidates, judge, and the TagTracker state
 * machine (applyPingInPlace, as bench:engine's headline), with one state per tag, on one core.
 *
 * Prints a table, writes bench/scaling.svg (drawn by hand, no dependencies), and with --json
 * prints the points as the last line.
 *
 *   npm run bench:scaling [-- --quick --seconds 2 --no-svg --json]
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { applyPingInPlace, compileZone, ZoneIndex, type TagContext, type TagState, type TrackerConfig } from '../geo/mod.ts';
import { emitJson, fmtNum, formatTable, machine, progress } from './lib/table.ts';
import { makePings, makeWorld, pingAt } from './lib/engine-world.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
    svg: { type: 'string', default: 'bench/scaling.svg' },
    'no-svg': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    // internal: measure one point in this (fresh) process and print it as JSON
    point: { type: 'string' },
  },
});

const quick = args.quick;
const seconds = quick ? 0.5 : Number(args.seconds);
const FIXED_TAGS = quick ? 10_000 : 50_000;
const FIXED_ZONES = 10_000;
const ZONE_STEPS = quick ? [1_000, 10_000, 30_000] : [1_000, 3_000, 10_000, 30_000, 100_000];
const TAG_STEPS = quick ? [1_000, 10_000, 50_000] : [1_000, 10_000, 50_000, 100_000, 200_000];
const CFG: TrackerConfig = { batteryLowPct: 15, batteryClearPct: 20, signalLostAfterMs: 600_000, noFixAfterMs: 900_000 };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

interface ScalingPoint {
  series: 'zones' | 'tags';
  zones: number;
  tags: number;
  pingsPerSec: number;
  pingsPerCpuSec: number;
  /** heap held by the engine: compiled zones + index + one tracker state per tag */
  engineHeapMb: number;
  indexHeapMb: number;
  stateHeapMb: number;
}

function measure(series: ScalingPoint['series'], zones: number, tags: number): ScalingPoint {
  const pingsN = Math.max(200_000, tags * 2);
  const world = makeWorld({ seed: Number(args.seed), zones, tags });
  const stream = makePings(world, { seed: Number(args.seed) + 1, pings: pingsN, start: Date.parse('2026-06-01T17:30:00Z') });
  const tagIds = world.subjects.map((s) => s.tagId);
  const ctx: TagContext[] = world.subjects.map((s) => ({ tagId: s.tagId, subjectId: s.id, timezone: 'Europe/London', assignedAt: 0 }));
  let span = 0;
  for (let k = 0; k < stream.n; k++) span = Math.max(span, stream.ts[k]!);
  span = span - stream.ts[0]! + 60_000;
  const before = heapMb();
  const index = new ZoneIndex();
  index.load(world.zones.map(compileZone));
  const afterIndex = heapMb();
  const states: (TagState | null)[] = new Array<TagState | null>(tags).fill(null);
  let i = 0;
  let now = 0;
  const step = () => {
    const k = i % stream.n;
    const ping = pingAt(stream, k, tagIds);
    // later passes over the stream shift event time so they are new pings, not duplicates
    ping.ts += Math.floor(i / stream.n) * span;
    if (ping.ts > now) now = ping.ts;
    const t = stream.tag[k]!;
    const r = applyPingInPlace(states[t]!, ping, ctx[t]!, index, CFG, now + 2000);
    states[t] = r.state;
    i++;
  };
  // a first pass so every tag holds state, then timed
  for (let k = 0; k < stream.n; k++) step();
  const afterStates = heapMb();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 5000; k++) step();
    n += 5000;
  }
  const pingsPerSec = n / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  // per CPU-second of this process: what one core does when nobody else shares it
  const pingsPerCpuSec = n / ((cpu.user + cpu.system) / 1e6);
  const point: ScalingPoint = {
    series,
    zones,
    tags,
    pingsPerSec,
    pingsPerCpuSec,
    engineHeapMb: afterStates - before,
    indexHeapMb: afterIndex - before,
    stateHeapMb: afterStates - afterIndex,
  };
  progress(`${series}: ${zones} zones, ${tags} tags → ${fmtNum(pingsPerSec)} pings/s (${fmtNum(pingsPerCpuSec)} per CPU-second), engine heap ${point.engineHeapMb.toFixed(1)} MB (index ${point.indexHeapMb.toFixed(1)}, states ${point.stateHeapMb.toFixed(1)})`);
  return point;
}

// ------------------------------------------------------------------ chart

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtK(n: number): string {
  return n >= 1e6 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n);
}

/** Two panels (zones, tags); each: pings/s (blue, left axis) and engine heap MB (orange, right axis), log x. */
function drawChart(points: ScalingPoint[], title: string): string {
  const W = 980;
  const H = 380;
  const panelW = 360;
  const panelH = 240;
  const top = 76;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">engine pings per CPU-second (blue, left axis) and engine heap in MB (orange, right axis); log scale of size</text>`);
  const panels: { series: ScalingPoint['series']; label: string; x0: number }[] = [
    { series: 'zones', label: `zones (tags fixed at ${fmtK(points.find((p) => p.series === 'zones')?.tags ?? 0)})`, x0: 80 },
    { series: 'tags', label: `tags (zones fixed at ${fmtK(points.find((p) => p.series === 'tags')?.zones ?? 0)})`, x0: 80 + panelW + 120 },
  ];
  for (const panel of panels) {
    const pts = points.filter((p) => p.series === panel.series).sort((a, b) => a[panel.series] - b[panel.series]);
    if (pts.length === 0) continue;
    const xs = pts.map((p) => p[panel.series]);
    const lx0 = Math.log10(Math.min(...xs));
    const lx1 = Math.log10(Math.max(...xs));
    const X = (v: number) => panel.x0 + (lx1 === lx0 ? panelW / 2 : ((Math.log10(v) - lx0) / (lx1 - lx0)) * panelW);
    const yMax = niceMax(Math.max(...pts.map((p) => p.pingsPerCpuSec)) * 1.05);
    const hMax = niceMax(Math.max(...pts.map((p) => p.engineHeapMb), 1) * 1.05);
    const Y = (v: number) => top + panelH - (v / yMax) * panelH;
    const YH = (v: number) => top + panelH - (v / hMax) * panelH;
    out.push(`<rect x="${panel.x0}" y="${top}" width="${panelW}" height="${panelH}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const y = top + panelH - (k / 4) * panelH;
      out.push(`<line x1="${panel.x0}" y1="${y}" x2="${panel.x0 + panelW}" y2="${y}" stroke="#eee"/>`);
      out.push(`<text x="${panel.x0 - 6}" y="${y + 4}" text-anchor="end" fill="#1f77b4">${fmtK((yMax * k) / 4)}</text>`);
      out.push(`<text x="${panel.x0 + panelW + 6}" y="${y + 4}" fill="#ff7f0e">${Math.round((hMax * k) / 4)}</text>`);
    }
    for (const v of xs) {
      out.push(`<line x1="${X(v)}" y1="${top + panelH}" x2="${X(v)}" y2="${top + panelH + 5}" stroke="#999"/>`);
      out.push(`<text x="${X(v)}" y="${top + panelH + 18}" text-anchor="middle">${fmtK(v)}</text>`);
    }
    out.push(`<text x="${panel.x0 + panelW / 2}" y="${top + panelH + 38}" text-anchor="middle">${esc(panel.label)}</text>`);
    out.push(`<text x="${panel.x0}" y="${top - 8}" fill="#1f77b4">pings/CPU-s</text>`);
    out.push(`<text x="${panel.x0 + panelW}" y="${top - 8}" text-anchor="end" fill="#ff7f0e">heap MB</text>`);
    const line = (f: (p: ScalingPoint) => number, colour: string) => {
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2.5" points="${pts.map((p) => `${X(p[panel.series]).toFixed(1)},${f(p).toFixed(1)}`).join(' ')}"/>`);
      for (const p of pts) out.push(`<circle cx="${X(p[panel.series]).toFixed(1)}" cy="${f(p).toFixed(1)}" r="3.5" fill="${colour}"/>`);
    };
    line((p) => Y(p.pingsPerCpuSec), '#1f77b4');
    line((p) => YH(p.engineHeapMb), '#ff7f0e');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Each point runs in a fresh process, so heap figures and JIT state never leak between points. */
function measureInChild(series: ScalingPoint['series'], zones: number, tags: number): Promise<ScalingPoint> {
  return new Promise((resolve, reject) => {
    const argv = ['--import', 'tsx', fileURLToPath(import.meta.url), '--point', `${series},${zones},${tags}`, '--seconds', String(seconds), '--seed', String(args.seed)];
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ScalingPoint);
      } catch (err) {
        reject(new Error(`scaling point ${series} ${zones}/${tags} failed: ${(err as Error).message}`));
      }
    });
  });
}

async function main(): Promise<void> {
  if (args.point) {
    const [series, zones, tags] = args.point.split(',');
    process.stdout.write(`${JSON.stringify(measure(series === 'tags' ? 'tags' : 'zones', Number(zones), Number(tags)))}\n`);
    return;
  }
  const points: ScalingPoint[] = [];
  progress(`zones series: ${ZONE_STEPS.join(', ')} zones with ${FIXED_TAGS} tags; ${seconds} s each`);
  for (const z of ZONE_STEPS) points.push(await measureInChild('zones', z, FIXED_TAGS));
  progress(`tags series: ${TAG_STEPS.join(', ')} tags with ${FIXED_ZONES} zones`);
  for (const t of TAG_STEPS) points.push(await measureInChild('tags', FIXED_ZONES, t));
  const m = await machine();
  process.stdout.write(`\nCordon engine scaling (index + judge + tracker, 1 core) — ${m.cpu} x${m.cores}, ${m.node}\n\n`);
  process.stdout.write(
    formatTable(
      ['series', 'zones', 'tags', 'pings/s', 'pings/CPU-s', 'engine heap MB', 'index MB', 'tag state MB', 'bytes/tag'],
      points.map((p) => [p.series, p.zones, p.tags, p.pingsPerSec, p.pingsPerCpuSec, p.engineHeapMb, p.indexHeapMb, p.stateHeapMb, (p.stateHeapMb * 2 ** 20) / p.tags]),
    ) + '\n',
  );
  if (!args['no-svg'] && args.svg) {
    writeFileSync(args.svg, drawChart(points, `Cordon engine scaling — ${m.cpu.replace(/\(R\)|\(TM\)/g, '')}, ${m.node}`));
    process.stdout.write(`\nchart written to ${args.svg}\n`);
  }
  emitJson(args.json, { points: points.map((p) => ({ ...p, pingsPerSec: Math.round(p.pingsPerSec), pingsPerCpuSec: Math.round(p.pingsPerCpuSec), engineHeapMb: Math.round(p.engineHeapMb * 10) / 10, indexHeapMb: Math.round(p.indexHeapMb * 10) / 10, stateHeapMb: Math.round(p.stateHeapMb * 10) / 10 })) });
}

main().catch((err: Error) => {
  process.stderr.write(`bench:scaling failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
