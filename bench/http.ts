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
 *   npm run bench:http -- --kafka                             (Kafka: the 202 path, see below)
 *   npm run bench:http -- --kafka --produce-only              (the same with KAFKA_CONSUME=false)
 *   npm run bench:http -- --profile /tmp/prof                 (node --cpu-prof in the service)
 *
 * --kafka runs the service as a Kafka instance: librdkafka's mock cluster (topic em.pings, 12
 * partitions) and a Redis of its own (or --redis). Every request is produced and answered 202,
 * and the same process consumes the topic and judges the pings, as each instance does in
 * production. Reported: requests answered (accepted pings/s) and the pings the instance's
 * consumer judged in the same time (cordon_kafka_messages_total). The consumer shares the event
 * loop with the requests, and each of its rounds has several round trips (fetch, Redis commit,
 * offset commit) whose replies wait their turn behind the requests, so at full HTTP load it
 * falls far behind; the mock also serves only one record batch per partition per fetch (a real
 * broker fills the fetch), which makes the judged figure a floor. --produce-only starts the
 * service with KAFKA_CONSUME=false (no consumer in it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startKafkaMock, type KafkaMockCluster } from '../test/support/kafka-mock.ts';
import { startRedisServer, type RedisServer } from '../test/support/redis.ts';
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
    kafka: { type: 'boolean', default: false },
    'produce-only': { type: 'boolean', default: false },
    profile: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

if (args['produce-only'] && !args.kafka) {
  process.stderr.write('bench:http: --produce-only needs --kafka\n');
  process.exit(2);
}
/** --kafka with a consumer in the service: its judged pings are counted */
const judging = args.kafka && !args['produce-only'];

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

const KAFKA_TOPIC = 'em.pings';

/** --kafka: the service's brokers and Redis (null without --kafka) */
let kafkaEnv: { brokers: string; redisUrl: string } | null = null;

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
  if (kafkaEnv) {
    Object.assign(env, { KAFKA_BROKERS: kafkaEnv.brokers, KAFKA_TOPIC: KAFKA_TOPIC, KAFKA_DLQ_TOPIC: `${KAFKA_TOPIC}.dlq`, KAFKA_GROUP_ID: 'bench-http', REDIS_URL: kafkaEnv.redisUrl });
    if (args['produce-only']) env.KAFKA_CONSUME = 'false';
  }
  const child = spawn(process.execPath, [...nodeArgs, 'src/main.ts'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/${kafkaEnv ? 'readyz' : 'healthz'}`);
      if (r.ok) return child;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not answer /${kafkaEnv ? 'readyz' : 'healthz'} within 60 s: ${stderr}`);
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
  /** --kafka: pings the instance's consumer judged per second over the phase */
  judgedPerSec: number | null;
}

/** --kafka: pings the service's consumer has judged so far (its /metrics) */
async function judgedSoFar(base: string): Promise<number> {
  const r = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
  const text = await r.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('cordon_kafka_messages_total{') && line.includes('outcome="processed"')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
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
  let cluster: KafkaMockCluster | null = null;
  let ownRedis: RedisServer | null = null;
  if (args.kafka) {
    progress(`kafka mock cluster: topic ${KAFKA_TOPIC} with 12 partitions`);
    cluster = await startKafkaMock({ topics: { [KAFKA_TOPIC]: 12, [`${KAFKA_TOPIC}.dlq`]: 1 } });
    if (!args.redis) ownRedis = await startRedisServer();
    kafkaEnv = { brokers: cluster.bootstrap, redisUrl: args.redis ?? ownRedis!.url };
  }
  const storeName = args.kafka ? `Kafka (202)${args['produce-only'] ? ', KAFKA_CONSUME=false' : ''}, Redis store` : args.redis ? 'Redis store' : 'memory store';
  progress(`starting the service on ${base} (${storeName})`);
  let child: ChildProcess;
  try {
    child = await startService(port);
  } catch (err) {
    await cluster?.stop();
    await ownRedis?.stop();
    throw err;
  }
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
      const judged0 = judging ? await judgedSoFar(base) : 0;
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
      const judged = judging ? ((await judgedSoFar(base)) - judged0) / secs : null;
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
        judgedPerSec: judged,
      };
      progress(`batch ${batch}: ${fmtNum(p.pingsPerSec)} pings/s (${p.pingsPerServiceCpuSec ? fmtNum(p.pingsPerServiceCpuSec) : '?'} per service CPU-second), p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, ${p.non2xx} non-2xx, ${p.errors} errors${p.judgedPerSec !== null ? `; the consumer judged ${fmtNum(p.judgedPerSec)} pings/s meanwhile` : ''}`);
      if (record) phases.push(p);
    };
    await phase(100, Math.min(3, seconds), false);
    for (const b of batches) await phase(b, seconds, true);
  } finally {
    await stopService(child);
    await cluster?.stop();
    await ownRedis?.stop();
  }

  const m = await machine();
  process.stdout.write(`\nCordon HTTP ingest — ${storeName}, ${nZones} zones, ${nTags} tags, ${m.cpu} x${m.cores}\n\n`);
  const judgedCol = judging ? ['judged pings/s'] : [];
  process.stdout.write(
    formatTable(
      ['pings/request', 'connections', 'requests/s', 'pings/s', 'pings/service-CPU-s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', ...judgedCol],
      phases.map((p) => [p.batch, p.connections, p.requestsPerSec, p.pingsPerSec, p.pingsPerServiceCpuSec ?? 'n/a', p.p50Ms, p.p99Ms, p.non2xx, p.errors, ...(judging ? [p.judgedPerSec ?? 0] : [])]),
    ) + '\n',
  );
  if (args.kafka) process.stdout.write(`\npings/s: answered 202 (produced)${judging ? "; judged pings/s: what the same process's consumer judged meanwhile" : ''}\n`);
  const main100 = phases.find((p) => p.batch === 100) ?? phases[0];
  if (main100 && !args.kafka) process.stdout.write(`\n100/request: ${fmtNum(main100.pingsPerSec)} pings/s, p99 ${main100.p99Ms} ms (target ≥ 150,000 pings/s with p99 < 25 ms)\n`);
  emitJson(args.json, {
    store: args.kafka ? 'kafka' : args.redis ? 'redis' : 'memory',
    zones: nZones,
    tags: nTags,
    pingsPerSec: Math.round(main100?.pingsPerSec ?? 0),
    pingsPerServiceCpuSec: main100?.pingsPerServiceCpuSec ? Math.round(main100.pingsPerServiceCpuSec) : null,
    p50Ms: main100?.p50Ms ?? null,
    p99Ms: main100?.p99Ms ?? null,
    byBatch: phases.map((p) => ({ ...p, pingsPerSec: Math.round(p.pingsPerSec), requestsPerSec: Math.round(p.requestsPerSec), pingsPerServiceCpuSec: p.pingsPerServiceCpuSec && Math.round(p.pingsPerServiceCpuSec), judgedPerSec: p.judgedPerSec === null ? null : Math.round(p.judgedPerSec) })),
  });
}

main().catch((err: Error) => {
  process.stderr.write(`bench:http failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
