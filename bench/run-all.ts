/**
 * `npm run bench` — runs every benchmark in turn (each as its own process, with --json),
 * then writes bench/results.md: machine, date, the headline figures against their targets,
 * and each benchmark's own table.
 *
 *   npm run bench [-- --quick] [-- --only http,postgis] [-- --out bench/results.md]
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { emitJson, fmtNum, formatTable, machine, progress } from './lib/table.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench/results.md' },
    json: { type: 'boolean', default: false },
  },
});

interface Bench {
  name: string;
  file: string;
  /** headline figures: [label, value from the JSON, target text, met?] */
  headline: (j: Record<string, unknown>) => [string, string, string, boolean | null][];
}

const n = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

const BENCHES: Bench[] = [
  {
    name: 'engine',
    file: 'bench/engine.ts',
    headline: (j) => [['engine pings/s (1 core)', fmtNum(n(j.pingsPerSec)), '≥ 300,000', n(j.pingsPerSec) >= 300_000]],
  },
  {
    name: 'http',
    file: 'bench/http.ts',
    headline: (j) => [
      ['HTTP pings/s, 100/request (memory store)', fmtNum(n(j.pingsPerSec)), '≥ 150,000', n(j.pingsPerSec) >= 150_000],
      ['HTTP p50 / p99 ms, 100/request', `${j.p50Ms} / ${j.p99Ms}`, 'p99 < 25', n(j.p99Ms) < 25],
    ],
  },
  {
    name: 'kafka',
    file: 'bench/kafka.ts',
    headline: (j) => [
      ['Kafka pings/s per consumer', fmtNum(n(j.pingsPerSec)), '≥ 100,000', n(j.pingsPerSec) >= 100_000],
      ['Kafka ping→alert p50 / p99 ms', `${j.p50Ms} / ${j.p99Ms}`, 'p99 < 100 at 10k/s', n(j.p99Ms) < 100],
    ],
  },
  {
    name: 'kafka-produce',
    file: 'bench/kafka-produce.ts',
    headline: (j) => {
      const rows = (j.byScenario as { scenario: string; pingsPerSec: number; cpuUsPerPing: number; maxStallMs: number }[] | undefined) ?? [];
      return rows
        .filter((r) => r.scenario.includes('in flight') || r.scenario.includes('one tag'))
        .map((r) => [`HTTP 202 path, produce: ${r.scenario}`, `${fmtNum(r.pingsPerSec)} pings/s, ${r.cpuUsPerPing} µs CPU, stall ${r.maxStallMs} ms`, '', null] as [string, string, string, null]);
    },
  },
  {
    name: 'postgis',
    file: 'bench/postgis.ts',
    headline: (j) => [
      ['Cordon index+judge pings/s', fmtNum(n(j.cordonPingsPerSec)), '', null],
      ['PostGIS best variant pings/s', fmtNum(n(j.postgisPingsPerSec)), '', null],
      ['ratio Cordon / PostGIS', `${n(j.ratio).toFixed(1)}×`, '≥ 25×', n(j.ratio) >= 25],
    ],
  },
  {
    name: 'scaling',
    file: 'bench/scaling.ts',
    headline: (j) => {
      const pts = (j.points as { series: string; zones: number; tags: number; pingsPerSec: number; engineHeapMb: number }[] | undefined) ?? [];
      return pts.map((p) => [`engine @ ${fmtNum(p.zones)} zones, ${fmtNum(p.tags)} tags`, `${fmtNum(p.pingsPerSec)} pings/s, ${p.engineHeapMb} MB`, '', null] as [string, string, string, null]);
    },
  },
];

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  json: Record<string, unknown> | null;
  table: string;
  error: string | null;
}

function runOne(b: Bench): Promise<Outcome> {
  const t0 = Date.now();
  if (!existsSync(b.file)) return Promise.resolve({ name: b.name, ok: false, seconds: 0, json: null, table: '', error: `${b.file} not found` });
  const argv = ['--import', 'tsx', b.file, '--json', ...(args.quick ? ['--quick'] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      process.stderr.write(`  [${b.name}] ${d.toString().replace(/\n(?=.)/g, `\n  [${b.name}] `)}`);
      errTail = (errTail + d.toString()).slice(-2000);
    });
    // bound: no bench may run longer than 20 minutes
    const timer = setTimeout(() => child.kill('SIGKILL'), 20 * 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = out.trimEnd().split('\n');
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
      } catch {
        json = null;
      }
      const table = (json ? lines.slice(0, -1) : lines).join('\n').trim();
      const ok = code === 0 && json !== null;
      resolve({ name: b.name, ok, seconds: (Date.now() - t0) / 1000, json, table, error: ok ? null : `exit ${code}: ${errTail.split('\n').filter(Boolean).slice(-3).join(' / ')}` });
    });
  });
}

async function main(): Promise<void> {
  const only = args.only ? new Set(args.only.split(',')) : null;
  const m = await machine();
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  const started = new Date();
  const outcomes: Outcome[] = [];
  for (const b of BENCHES) {
    if (only && !only.has(b.name)) continue;
    progress(`bench:${b.name} …`);
    const o = await runOne(b);
    progress(`bench:${b.name} ${o.ok ? 'done' : `FAILED (${o.error})`} in ${o.seconds.toFixed(0)} s`);
    outcomes.push(o);
  }
  const rows: (string | number)[][] = [];
  for (const o of outcomes) {
    const b = BENCHES.find((x) => x.name === o.name)!;
    if (!o.json) {
      rows.push([o.name, 'not run', o.error ?? '', '', '']);
      continue;
    }
    for (const [label, value, target, met] of b.headline(o.json)) rows.push([o.name, label, value, target, met === null ? '' : met ? 'yes' : 'NO']);
  }
  const headline = formatTable(['bench', 'figure', 'value', 'target', 'met'], rows);
  process.stdout.write(`\n${headline}\n`);

  const md: string[] = [];
  md.push('# Benchmark results', '');
  md.push(`Written by \`npm run bench${args.quick ? ' -- --quick' : ''}\` on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC.`, '');
  md.push(`- Machine: ${m.cpu}, ${m.cores} cores, ${m.memGb} GB RAM, ${m.os}`);
  md.push(`- Node ${m.node}; load average at start ${load} (figures are noisy when other work shares the cores)`);
  md.push(`- Mode: ${args.quick ? 'quick (small sizes, short runs — for smoke tests, not for quoting)' : 'full sizes'}`, '');
  md.push('| bench | figure | value | target | met |', '|---|---|---|---|---|');
  for (const r of rows) md.push(`| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
  md.push('');
  for (const o of outcomes) {
    md.push(`## ${o.name}${o.ok ? '' : ' (failed)'}`, '');
    if (o.error) md.push(`Error: ${o.error}`, '');
    if (o.table) md.push('```', o.table, '```', '');
    md.push(`Took ${o.seconds.toFixed(0)} s.`, '');
  }
  writeFileSync(args.out ?? 'bench/results.md', md.join('\n'));
  progress(`wrote ${args.out}`);
  emitJson(args.json, { date: started.toISOString(), machine: m, results: Object.fromEntries(outcomes.map((o) => [o.name, o.json ?? { error: o.error }])) });
  if (outcomes.some((o) => !o.ok)) process.exitCode = 1;
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
