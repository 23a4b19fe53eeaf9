/**
 * `npm run bench:http` — HTTP ingest through the real service.
 *
 * Starts Cordon as a child process (`src/main.ts`, memory store unless --redis) on a free
 * loopback port, so the load generator (autocannon, in this process) and the service each
 * have their own core. Loads zones and subjects through the API, then posts pings with
 * batch sizes 1, 100 and 1,000 for a fixed time each. Every ping has a fresh event time
 * (tags' clocks move forward), so nothing is short-circuited as a duplicate.
 *
 *   npm run bench:http [-- --zones 10000 --tags 50000 --seconds 10 --quick --json]
 *   npm run bench:http -- --redis redis://127.0.0.1:6379     (Redis store)
 *   npm run bench:http -- --profile /tmp/prof                 (node --cpu-prof in the service)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuSecondsOf, emitJson, fmtNum, formatTable, machine, progress } from './lib/table.ts';
import { makePings, makeWorld, pingAt } from './lib/engine-world.ts';

const { values: args } = parseArgs({
  options: {
    zones: { type: 'string', default: '10000' },
    tags: { type: 'string', default: '50000' },
    seconds: { type: 'string', default: '10' },
    batches: { type: 'string', default: '1,100,1000' },
    connections: { type: 'string' },
    seed: { type: 'string', default: '42' },
    redis: { type: 'string' },
    profile: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const quick = args.quick;
const nZones = quick ? 2000 : Number(args.zones);
const nTags = quick ? 10000 : Number(args.tags);
const seconds = quick ? 3 : Number(args.seconds);
const batches = (args.batches ?? '1,100,1000').split(',').map(Number).filter((n) => n >= 1 && n <= 10_000);
const KEY = 'bench-admin-key-0123456789';

/** Connections per batch size: enough to keep the service busy, few enough to keep latency honest. */
function connectionsFor(batch: number): number {
  if (args.connections) return Number(args.connections);
  return batch === 1 ? 32 : batch <= 100 ? 8 : 4;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function startService(port: number): Promise<ChildProcess> {
  // as `npm start` and the Dockerfile run it (V8's default young generation: see bench/README.md)
  const nodeArgs = ['--import', 'tsx'];
  if (args.profile) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${args.profile}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    CORDON_API_KEYS: `admin:${KEY}`,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '0',
    SIGNAL_LOST_AFTER_S: '86400',
    NO_FIX_AFTER_S: '86400',
  };
  delete env.KAFKA_BROKERS;
  if (args.redis) env.REDIS_URL = args.redis;
  else delete env.REDIS_URL;
  const child = spawn(process.execPath, [...nodeArgs, 'src/main.ts'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return child;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not answer /healthz within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function put(base: string, path: string, body: unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(`${base}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(body) });
    const text = await r.text();
    if (r.status === 200 || r.status === 201) return;
    if (attempt >= 3 || r.status < 500) throw new Error(`PUT ${path}: ${r.status} ${text.slice(0, 300)}`);
  }
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

interface Phase {
  batch: number;
  connections: number;
  requestsPerSec: number;
  pingsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** pings per CPU-second of the service process (stable when other work shares the cores) */
  pingsPerServiceCpuSec: number | null;
  errors: number;
  non2xx: number;
}

async function main(): Promise<void> {
  progress(`workload: ${nZones} zones, ${nTags} tags (seed ${args.seed})`);
  const world = makeWorld({ seed: Number(args.seed), zones: nZones, tags: nTags });
  const stream = makePings(world, { seed: Number(args.seed) + 1, pings: nTags * 4, start: Date.now() - 2 * 86_400_000 });
  const tagIds = world.subjects.map((s) => s.tagId);
  // each pool entry is one ping without its ts ("...,"ts":" + ts + "}"); later passes over the
  // pool shift ts by the pool's span, so late and duplicate pings stay as generated (2% / 1%)
  const parts: string[] = [];
  let tsMin = Infinity;
  let tsMax = -Infinity;
  for (let i = 0; i < stream.n; i++) {
    const p = pingAt(stream, i, tagIds);
    const rest = p;
    const o: Record<string, unknown> = { tagId: rest.tagId, fix: rest.fix, accuracyM: Math.round(rest.accuracyM * 10) / 10 };
    if (rest.lat !== null && rest.lon !== null) {
      o.lat = Math.round(rest.lat * 1e6) / 1e6;
      o.lon = Math.round(rest.lon * 1e6) / 1e6;
    }
    if (rest.battery !== null) o.battery = rest.battery;
    if (rest.strap !== null) o.strap = rest.strap;
    parts.push(`${JSON.stringify(o).slice(0, -1)},"ts":`);
    tsMin = Math.min(tsMin, stream.ts[i]!);
    tsMax = Math.max(tsMax, stream.ts[i]!);
  }
  const span = tsMax - tsMin + 60_000;
  const w = { tags: world.subjects.map((s) => ({ tagId: s.tagId, subjectId: s.id })), zones: world.zones };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  progress(`starting the service on ${base}${args.redis ? ' (Redis store)' : ' (memory store)'}`);
  const child = await startService(port);
  const phases: Phase[] = [];
  try {
    const t0 = Date.now();
    await pool(w.tags, 32, (t) => put(base, `/v1/subjects/${t.subjectId}`, { tagId: t.tagId, name: t.subjectId }));
    progress(`${w.tags.length} subjects in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const t1 = Date.now();
    await pool(w.zones, 32, (z) =>
      put(base, `/v1/zones/${z.id}`, { name: z.name, kind: z.kind, subjectIds: z.subjectIds, geometry: z.geometry, ...(z.schedule ? { schedule: z.schedule } : {}), graceSeconds: z.graceSeconds, minConfidence: z.minConfidence }),
    );
    progress(`${w.zones.length} zones in ${((Date.now() - t1) / 1000).toFixed(1)} s`);

    let counter = 0;
    const body = (n: number): string => {
      let s = '[';
      for (let i = 0; i < n; i++) {
        const c = counter++;
        const k = c % parts.length;
        s += (i ? ',' : '') + parts[k] + (stream.ts[k]! + Math.floor(c / parts.length) * span) + '}';
      }
      return s + ']';
    };

    const phase = async (batch: number, secs: number, record: boolean): Promise<void> => {
      const connections = connectionsFor(batch);
      progress(`batch ${batch}: ${connections} connections for ${secs} s${record ? '' : ' (warm-up)'}`);
      const cpu0 = cpuSecondsOf(child.pid);
      const result = await autocannon({
        url: base,
        connections,
        duration: secs,
        requests: [
          {
            method: 'POST',
            path: '/v1/pings',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
            setupRequest: (req) => ({ ...req, body: body(batch) }),
          },
        ],
      });
      const ok = result['2xx'];
      const cpu1 = cpuSecondsOf(child.pid);
      const cpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
      const p: Phase = {
        batch,
        connections,
        requestsPerSec: ok / secs,
        pingsPerSec: (ok * batch) / secs,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        pingsPerServiceCpuSec: cpuS ? (ok * batch) / cpuS : null,
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
      };
      progress(`batch ${batch}: ${fmtNum(p.pingsPerSec)} pings/s (${p.pingsPerServiceCpuSec ? fmtNum(p.pingsPerServiceCpuSec) : '?'} per service CPU-second), p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, ${p.non2xx} non-2xx, ${p.errors} errors`);
      if (record) phases.push(p);
    };
    await phase(100, Math.min(3, seconds), false);
    for (const b of batches) await phase(b, seconds, true);
  } finally {
    await stopService(child);
  }

  const m = await machine();
  process.stdout.write(`\nCordon HTTP ingest — ${args.redis ? 'Redis' : 'memory'} store, ${nZones} zones, ${nTags} tags, ${m.cpu} x${m.cores}\n\n`);
  process.stdout.write(
    formatTable(
      ['pings/request', 'connections', 'requests/s', 'pings/s', 'pings/service-CPU-s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors'],
      phases.map((p) => [p.batch, p.connections, p.requestsPerSec, p.pingsPerSec, p.pingsPerServiceCpuSec ?? 'n/a', p.p50Ms, p.p99Ms, p.non2xx, p.errors]),
    ) + '\n',
  );
  const main100 = phases.find((p) => p.batch === 100) ?? phases[0];
  if (main100) process.stdout.write(`\n100/request: ${fmtNum(main100.pingsPerSec)} pings/s, p99 ${main100.p99Ms} ms (target ≥ 150,000 pings/s with p99 < 25 ms)\n`);
  emitJson(args.json, {
    store: args.redis ? 'redis' : 'memory',
    zones: nZones,
    tags: nTags,
    pingsPerSec: Math.round(main100?.pingsPerSec ?? 0),
    pingsPerServiceCpuSec: main100?.pingsPerServiceCpuSec ? Math.round(main100.pingsPerServiceCpuSec) : null,
    p50Ms: main100?.p50Ms ?? null,
    p99Ms: main100?.p99Ms ?? null,
    byBatch: phases.map((p) => ({ ...p, pingsPerSec: Math.round(p.pingsPerSec), requestsPerSec: Math.round(p.requestsPerSec), pingsPerServiceCpuSec: p.pingsPerServiceCpuSec && Math.round(p.pingsPerServiceCpuSec) })),
  });
}

main().catch((err: Error) => {
  process.stderr.write(`bench:http failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
