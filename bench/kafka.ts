/**
 * `npm run bench:kafka` — Kafka ingest through one Cordon consumer process with Redis writes.
 *
 * Everything is real except the Kafka broker, which is librdkafka's mock cluster (the real wire
 * protocol, in memory; no Kafka package exists here): kafkajs consumer group, the codec, the
 * engine, the Redis store (events, tag state, positions), offset commits.
 *
 * Two phases on one seeded workload (zones around towns, subjects living there; see
 * bench/lib/bench-workload.ts):
 *  1. throughput: N pings are produced first, then one consumer drains the backlog;
 *     pingsPerSec = N / (first batch → last batch durable).
 *  2. latency: a producer in another process offers --rate pings/s for --seconds while the
 *     consumer keeps up; each ping carries its produce time as event time, so for every
 *     `alert.opened` event, latency = the event's Redis stream-entry time − its alert's openedAt.
 *
 *   npm run bench:kafka [-- --pings 500000 --rate 10000 --seconds 10 --partitions 32 --seed 42 --json]
 *   npm run bench:kafka -- --redis redis://127.0.0.1:6379    (an existing Redis; keys under bench-kafka-*)
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app.ts';
import { defaultConfig } from '../src/config.ts';
import { createRedisStore } from '../src/stores/redis.ts';
import { createKafkaClient, createKafkaProducer, createPingIngest, kafkaMetrics, type PingRecord } from '../streams/kafka/index.ts';
import type { PingBatchProcessor } from '../streams/kafka/ingest.ts';
import type { ZoneInput } from '../streams/ports.ts';
import { startKafkaMock } from '../test/support/kafka-mock.ts';
import { startRedisServer } from '../test/support/redis.ts';
import { makeWorkload, type BenchPing } from './lib/bench-workload.ts';
import { cpuSecondsOf, emitJson, formatTable, machine, percentile, progress, redisCpuSeconds } from './lib/table.ts';

const { values: args } = parseArgs({
  options: {
    pings: { type: 'string', default: '500000' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '32' },
    'live-partitions': { type: 'string', default: '4' },
    'tick-ms': { type: 'string', default: '50' },
    tags: { type: 'string', default: '10000' },
    zones: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '42' },
    concurrency: { type: 'string', default: '4' },
    slice: { type: 'string', default: '2000' },
    redis: { type: 'string' },
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    // internal: run as the phase-2 producer process
    producer: { type: 'string' },
  },
});

const TOPIC = 'em.pings';
/** phase 2 runs on its own topic with fewer partitions (the mock returns one message set per partition per fetch) */
const LIVE_TOPIC = 'em.pings.live';
/** warnings and errors of the consumer (a held batch, a rebuild) show up in the progress output */
const stderrLogger = {
  debug() {},
  info() {},
  warn: (o: object, m?: string) => progress(`WARN ${m ?? ''} ${JSON.stringify(o).slice(0, 300)}`),
  error: (o: object, m?: string) => progress(`ERROR ${m ?? ''} ${JSON.stringify(o).slice(0, 300)}`),
};
/** share of pings placed inside one of the subject's zones */
const INSIDE_SHARE = 0.05;
const DLQ = 'em.pings.dlq';

function wire(p: BenchPing, ts: number): PingRecord {
  return { tagId: p.tagId, ts, lat: p.lat, lon: p.lon, accuracyM: p.accuracyM, fix: p.fix, battery: p.battery, strap: p.strap };
}

interface ProducerPlan {
  brokers: string[];
  seed: number;
  tags: number;
  zones: number;
  /** pings of the workload already used by phase 1 (phase 2 continues the same tags' walks) */
  skip: number;
  /** the producer sends what is due every tickMs */
  tickMs: number;
  rate: number;
  seconds: number;
}

/** Phase-2 producer (its own process): `rate` pings/s sent every `tickMs`, event time = send time. */
async function runProducer(plan: ProducerPlan): Promise<void> {
  const total = plan.rate * plan.seconds;
  // the same seeded world as phase 1 (same zones, tags, homes), continuing where phase 1 stopped
  const w = makeWorkload({ seed: plan.seed, zones: plan.zones, tags: plan.tags, pings: plan.skip + total, insideShare: INSIDE_SHARE });
  w.pings.splice(0, plan.skip);
  const kafka = createKafkaClient({ brokers: plan.brokers, clientId: 'bench-producer' });
  const producer = createKafkaProducer({ kafka, topic: LIVE_TOPIC, dlqTopic: DLQ });
  await producer.connect();
  const started = Date.now();
  let sent = 0;
  const inflight = new Set<Promise<void>>();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * plan.rate));
    if (due > sent) {
      const now = Date.now();
      const batch = w.pings.slice(sent, due).map((p) => wire(p, now));
      sent = due;
      const p = producer.sendPings(batch).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((r) => setTimeout(r, plan.tickMs));
  }
  await Promise.all(inflight);
  const elapsed = (Date.now() - started) / 1000;
  await producer.close();
  process.stdout.write(`${JSON.stringify({ sent, seconds: elapsed })}\n`);
}

/** Runs the phase-2 producer as a child process (so it does not share the consumer's core). */
function spawnProducer(plan: ProducerPlan): Promise<{ sent: number; seconds: number }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--producer', JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`producer exited with ${code}`));
      resolve(JSON.parse(line) as { sent: number; seconds: number });
    });
  });
}

/** Drains the backlog with a fresh group whose handler does nothing: the adapter's own ceiling. */
async function drainWithoutPipeline(kafka: ReturnType<typeof createKafkaClient>, total: number, concurrency: number, slice: number): Promise<{ seconds: number; cpuSeconds: number }> {
  let seen = 0;
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  const ingest = createPingIngest({
    kafka,
    topic: TOPIC,
    groupId: 'bench-kafka-only',
    pipeline: {
      async processBatch(pings) {
        if (first === 0) {
          first = performance.now();
          cpuFirst = processCpuMicros();
        }
        seen += pings.length;
        last = performance.now();
        cpuLast = processCpuMicros();
        return { events: [] };
      },
    },
    producer: { sendDeadLetters: async () => {} },
    partitionsConsumedConcurrently: concurrency,
    maxBatchMessages: slice,
    maxWaitTimeInMs: 20,
    logger: stderrLogger,
  });
  await ingest.start();
  while (seen < total) await new Promise((r) => setTimeout(r, 50));
  await ingest.stop();
  return { seconds: (last - first) / 1000, cpuSeconds: (cpuLast - cpuFirst) / 1e6 };
}

/** this process's CPU time in µs (every thread: kafkajs, decoding, the pipeline, the GC's helpers) */
function processCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function main(): Promise<void> {
  const quick = args.quick;
  const seed = Number(args.seed);
  const nPings = quick ? 100_000 : Number(args.pings);
  const rate = Number(args.rate);
  const seconds = quick ? 5 : Number(args.seconds);
  // librdkafka's mock keeps about 5 MB per partition and drops older messages (like a tiny
  // retention); the backlog must fit, so it gets enough partitions (~200 bytes per ping).
  const partitions = Math.max(Number(args.partitions), Math.ceil((nPings * 200) / 4_000_000));
  const nTags = Number(args.tags);
  const nZones = Number(args.zones);
  const concurrency = Number(args.concurrency);

  progress(`kafka mock cluster: topic ${TOPIC} with ${partitions} partitions`);
  const livePartitions = Number(args['live-partitions']);
  const cluster = await startKafkaMock({ topics: { [TOPIC]: partitions, [LIVE_TOPIC]: livePartitions, [DLQ]: 1 } });
  const ownRedis = args.redis ? null : await startRedisServer();
  const redisUrl = args.redis ?? ownRedis!.url;
  const id = `bench-kafka-${Date.now().toString(36)}`;
  const names = { prefix: `${id}:`, eventsKey: `${id}:events` };

  // Phase 1 is the backlog a consumer finds after an outage: the pings reached Kafka over the
  // last ~10 minutes (each record is stamped 200 ms after its fix; the consumer takes that as the
  // arrival) and nobody read them. The tags were assigned a minute before their first ping and the
  // zones an hour ago, so every ping is judged against them. (Until 2026-12-04 the backlog was
  // stamped with its produce time, all within a few seconds, and the subjects assigned an hour
  // before: every tag's first ping then found 50 minutes without an arrival and opened and ended a
  // true signal-lost episode, 20,000 of phase 1's 48,768 events.)
  const startTs = Date.now() - 600_000;
  let setupAt = startTs - 60_000;
  const w = makeWorkload({ seed, zones: nZones, tags: nTags, pings: nPings, startTs, insideShare: INSIDE_SHARE });
  progress(`workload: ${nZones} zones, ${nTags} tags, ${nPings} pings (seed ${seed})`);
  const setupStore = await createRedisStore({ url: redisUrl, ...names, clock: { now: () => setupAt } });
  for (let i = 0; i < w.tags.length; i += 200) {
    await Promise.all(
      w.tags.slice(i, i + 200).map((t) => setupStore.putSubject(t.subjectId, { tagId: t.tagId, name: null, orderRef: null, timezone: 'Europe/London' })),
    );
  }
  setupAt = Date.now() - 3_600_000;
  for (let i = 0; i < w.zones.length; i += 200) {
    await Promise.all(
      w.zones.slice(i, i + 200).map((z) => {
        const input: ZoneInput = {
          name: z.name,
          kind: z.kind,
          subjectIds: z.subjectIds,
          geometry: z.geometry,
          schedule: z.schedule,
          graceSeconds: z.graceSeconds,
          minConfidence: z.minConfidence,
          validFrom: null,
          validTo: null,
        };
        return setupStore.putZone(z.id, input, { by: 'bench' });
      }),
    );
  }
  await setupStore.close();

  // phase 1: backlog
  const kafka = createKafkaClient({ brokers: cluster.brokers, clientId: 'bench' });
  // Each send writes one record batch a partition of about two slices (2 × --slice pings):
  // librdkafka's mock serves one record batch per partition per fetch, where a real broker fills
  // a fetch of a backlog with up to maxBytesPerPartition (4 MB, ~20,000 pings) a partition, which
  // the consumer handles in slices of --slice. (Until 2026-12-04 the record batches held ~1,500
  // pings, under one slice: the drain ran 352 slices of 1,420 pings that wrote 110,000 tag states,
  // where a real broker's fetches give ~250 slices of 2,000 that write ~80,000.)
  const chunk = 2 * Number(args.slice) * partitions;
  const loader = createKafkaProducer({ kafka, topic: TOPIC, dlqTopic: DLQ, maxMessagesPerSend: chunk });
  await loader.connect();
  const loadStart = Date.now();
  for (let i = 0; i < w.pings.length; i += chunk) {
    await loader.sendPingBytes(w.pings.slice(i, i + chunk).map((p) => ({ tagId: p.tagId, value: Buffer.from(JSON.stringify(wire(p, p.ts))), arrivedAt: p.ts + 200 })));
    progress(`produced ${i + Math.min(chunk, w.pings.length - i)} / ${w.pings.length}`);
  }
  await loader.close();
  progress(`backlog of ${w.pings.length} pings produced in ${((Date.now() - loadStart) / 1000).toFixed(1)} s; starting the consumer`);
  // The pings are in Kafka now. A consumer process does not hold half a million of them in its
  // heap: keeping them (~150 MB of small objects) made every major GC of the measured process slower.
  w.pings.length = 0;

  // phase 0: the Kafka side alone (fetch, decode, validate, commit) with a handler that does nothing
  const raw = await drainWithoutPipeline(kafka, nPings, concurrency, Number(args.slice));
  const kafkaOnlyUsPerPing = ((raw.cpuSeconds * 1e6) / nPings).toFixed(1);
  progress(`phase 0: ${nPings} pings consumed and decoded in ${raw.seconds.toFixed(2)} s = ${Math.round(nPings / raw.seconds)} pings/s (no pipeline, no Redis; consumer CPU ${kafkaOnlyUsPerPing} µs a ping)`);

  // as main.ts opens it for a Kafka consumer (TAG_STATE_CACHE)
  const store = await createRedisStore({ url: redisUrl, ...names, tagStateCache: defaultConfig().tagStateCache });
  const app = await buildApp({ store, config: defaultConfig(), runSweeper: false });
  const metrics = kafkaMetrics(app.cordon.metrics.registry);
  let processed = 0;
  let firstBatchAt = 0;
  let lastBatchAt = 0;
  // when the first fifth of the backlog was durable: the rest is the rate once tags, Redis keys
  // and the catch-up alerts of the backlog's start are behind it
  let fifthAt = 0;
  let fifthProcessed = 0;
  let batches = 0;
  let inPipelineMs = 0;
  // this process's CPU time (the consumer: kafkajs, decoding, the pipeline) from the first batch to the last
  let cpuAtFirst = 0;
  let cpuAtLast = 0;
  const counting: PingBatchProcessor = {
    async processBatch(pings, extras, options) {
      const t = performance.now();
      if (firstBatchAt === 0) {
        firstBatchAt = t;
        cpuAtFirst = processCpuMicros();
      }
      const r = await app.pipeline.processBatch(pings, extras, options);
      processed += pings.length;
      batches++;
      if (fifthAt === 0 && processed >= nPings / 5) {
        fifthAt = performance.now();
        fifthProcessed = processed;
      }
      if (processed <= nPings) cpuAtLast = processCpuMicros();
      lastBatchAt = performance.now();
      inPipelineMs += lastBatchAt - t;
      return r;
    },
  };
  const dlqProducer = createKafkaProducer({ kafka, topic: TOPIC, dlqTopic: DLQ, metrics });
  const ingest = createPingIngest({
    kafka,
    topic: TOPIC,
    groupId: 'bench',
    pipeline: counting,
    producer: dlqProducer,
    metrics,
    partitionsConsumedConcurrently: concurrency,
    maxBatchMessages: Number(args.slice),
    maxWaitTimeInMs: 20,
    logger: stderrLogger,
    heartbeatInterval: 1_000,
  });
  // the Redis server's CPU over the drain (it shares this machine's two cores with the consumer)
  const redis = new Redis(redisUrl);
  const redisCpuBefore = await redisCpuSeconds(redis);
  const brokerCpuBefore = cpuSecondsOf(cluster.pid);
  await ingest.start();
  let lastReport = 0;
  while (processed < nPings) {
    await new Promise((r) => setTimeout(r, 100));
    if (performance.now() - lastReport > 2000) {
      lastReport = performance.now();
      progress(`consumed ${processed} / ${nPings}`);
    }
  }
  const drainSeconds = (lastBatchAt - firstBatchAt) / 1000;
  const pingsPerSec = nPings / drainSeconds;
  const laterPingsPerSec = (nPings - fifthProcessed) / ((lastBatchAt - fifthAt) / 1000);
  const drainCpuSeconds = (cpuAtLast - cpuAtFirst) / 1e6;
  const redisCpuDrain = (await redisCpuSeconds(redis)) - redisCpuBefore;
  const brokerCpuAfter = cpuSecondsOf(cluster.pid);
  const brokerCpuSeconds = brokerCpuBefore === null || brokerCpuAfter === null ? null : brokerCpuAfter - brokerCpuBefore;
  const usPerPing = (cpuS: number): string => ((cpuS * 1e6) / nPings).toFixed(1);
  const phase1Events = await redis.xlen(names.eventsKey);
  progress(`phase 1: ${nPings} pings in ${drainSeconds.toFixed(2)} s = ${Math.round(pingsPerSec)} pings/s (${phase1Events} events; ${batches} batches, ${Math.round(processed / batches)} pings each, ${(inPipelineMs / 1000).toFixed(2)} s in the pipeline; consumer CPU ${drainCpuSeconds.toFixed(2)} s = ${Math.round(nPings / drainCpuSeconds)} pings per CPU-second)`);
  const cpuLine =
    `phase 1 CPU per ping: consumer ${usPerPing(drainCpuSeconds)} µs, redis-server ${usPerPing(redisCpuDrain)} µs, ` +
    `broker ${brokerCpuSeconds === null ? 'n/a' : usPerPing(brokerCpuSeconds)} µs (all three share this machine's ${cpus().length} cores)`;
  progress(cpuLine);
  const laterLine = `phase 1 after its first fifth: ${Math.round(laterPingsPerSec)} pings/s (the first ${fifthProcessed} pings took ${((fifthAt - firstBatchAt) / 1000).toFixed(2)} s)`;
  progress(laterLine);

  // phase 2: offered load, latency (same store, pipeline and tag states; the live topic)
  await ingest.stop();
  const live = createPingIngest({
    kafka,
    topic: LIVE_TOPIC,
    groupId: 'bench-live',
    pipeline: counting,
    producer: dlqProducer,
    metrics,
    partitionsConsumedConcurrently: concurrency,
    maxBatchMessages: Number(args.slice),
    maxWaitTimeInMs: 10,
    logger: stderrLogger,
    heartbeatInterval: 1_000,
  });
  await live.start();
  progress(`phase 2: offering ${rate} pings/s for ${seconds} s from a producer process (topic ${LIVE_TOPIC}, ${livePartitions} partitions)`);
  const phase2Start = Date.now();
  const before = processed;
  const prod = await spawnProducer({ brokers: cluster.brokers, seed, tags: nTags, zones: nZones, skip: nPings, tickMs: Number(args['tick-ms']), rate, seconds });
  while (processed - before < prod.sent) await new Promise((r) => setTimeout(r, 50));
  // give the last XADDs their turn, then read every event raised by phase-2 pings
  const latencies: number[] = [];
  let start = '-';
  for (;;) {
    const page = (await redis.xrange(names.eventsKey, start, '+', 'COUNT', 10_000)) as [string, string[]][];
    for (const [sid, fields] of page) {
      const json = fields[fields.indexOf('event') + 1];
      if (!json) continue;
      const e = JSON.parse(json) as { type: string; alert: { openedAt: string } };
      if (e.type !== 'alert.opened') continue;
      const opened = Date.parse(e.alert.openedAt);
      if (opened < phase2Start) continue;
      latencies.push(Number(sid.split('-')[0]) - opened);
    }
    if (page.length < 10_000) break;
    start = `(${page[page.length - 1]![0]}`;
  }
  const p50Ms = percentile(latencies, 50);
  const p99Ms = percentile(latencies, 99);
  const maxMs = latencies.length ? Math.max(...latencies) : Number.NaN;
  const offered = prod.sent / prod.seconds;

  await live.stop();
  await dlqProducer.close();
  await app.close();
  await store.close();
  if (!args.redis) {
    await ownRedis?.stop();
  } else {
    // leave a shared Redis as we found it
    const keys = await redis.keys(`${id}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  }
  redis.disconnect();
  await cluster.stop();

  const m = await machine();
  process.stdout.write(`\nKafka ingest, one consumer process (${m.cpu}, ${m.cores} cores, node ${m.node}); broker: librdkafka mock cluster\n\n`);
  process.stdout.write(
    formatTable(
      ['phase', 'pings', 'seconds', 'pings/s', 'alert events', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['0: Kafka + codec only', nPings, raw.seconds, nPings / raw.seconds, 0, '-', '-', '-'],
        ['1: backlog drain', nPings, drainSeconds, pingsPerSec, phase1Events, '-', '-', '-'],
        [`2: offered ${rate}/s`, prod.sent, prod.seconds, offered, latencies.length, p50Ms, p99Ms, maxMs],
      ],
    ) + '\n\n',
  );
  process.stdout.write(`p50/p99: produce time → alert.opened entry in the Redis events stream (${latencies.length} alerts)\n${cpuLine}\n${laterLine}\n`);
  emitJson(args.json, {
    pingsPerSec: Math.round(pingsPerSec),
    laterPingsPerSec: Math.round(laterPingsPerSec),
    drainPingsPerCpuSec: Math.round(nPings / drainCpuSeconds),
    drainRedisCpuUsPerPing: Number(usPerPing(redisCpuDrain)),
    drainBrokerCpuUsPerPing: brokerCpuSeconds === null ? null : Number(usPerPing(brokerCpuSeconds)),
    kafkaOnlyPingsPerSec: Math.round(nPings / raw.seconds),
    kafkaOnlyCpuUsPerPing: Number(kafkaOnlyUsPerPing),
    p50Ms,
    p99Ms,
    maxMs,
    offeredPerSec: Math.round(offered),
    latencySamples: latencies.length,
    backlogPings: nPings,
    partitions,
    seed,
  });
}

if (args.producer) {
  runProducer(JSON.parse(args.producer) as ProducerPlan).catch((e: unknown) => {
    process.stderr.write(`producer failed: ${String(e)}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench:kafka failed: ${String((e as Error)?.stack ?? e)}\n`);
      process.exit(1);
    },
  );
}
