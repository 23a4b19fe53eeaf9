/**
 * `npm run bench:kafka-produce` — the producer behind `POST /v1/pings` when Kafka is configured
 * (the 202 path): what producing a request's pings costs this process, and how long it holds the
 * event loop (which every other request waits behind).
 *
 * Sends requests of 100, 1,000 and 10,000 pings (10,000 spread over many tags, and one tag's
 * week-long backlog on one partition) through `createKafkaProducer` to librdkafka's mock cluster
 * (the real wire protocol; acks from the mock broker), one request at a time, then 100-ping
 * requests eight at a time for throughput.
 *
 *   npm run bench:kafka-produce [-- --partitions 12 --tags 5000 --seed 42 --json]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createKafkaClient, createKafkaProducer, type PingRecord } from '../streams/kafka/index.ts';
import { startKafkaMock } from '../test/support/kafka-mock.ts';
import { Rng } from './lib/engine-world.ts';
import { emitJson, fmtNum, formatTable, machine, progress } from './lib/table.ts';

const { values: args } = parseArgs({
  options: {
    partitions: { type: 'string', default: '12' },
    tags: { type: 'string', default: '5000' },
    seed: { type: 'string', default: '42' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const TOPIC = 'em.pings';

interface Scenario {
  name: string;
  pingsPerRequest: number;
  requests: number;
  /** requests in flight at once */
  concurrency: number;
  /** every ping of a request from one tag */
  oneTag: boolean;
}

interface Row {
  scenario: string;
  pings: number;
  pingsPerSec: number;
  cpuUsPerPing: number;
  maxStallMs: number;
}

async function main(): Promise<void> {
  const quick = args.quick;
  const partitions = Number(args.partitions);
  const nTags = Number(args.tags);
  const rng = new Rng(Number(args.seed));
  const random = () => rng.next();
  const tags = Array.from({ length: nTags }, (_, i) => `TAG-${String(i).padStart(6, '0')}`);
  let ts = Date.UTC(2026, 11, 1);
  const request = (n: number, oneTag: boolean): PingRecord[] => {
    const tag = tags[Math.floor(random() * nTags)] as string;
    const out: PingRecord[] = new Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = {
        tagId: oneTag ? tag : (tags[Math.floor(random() * nTags)] as string),
        ts: (ts += 60_000),
        lat: 51.3 + random() * 0.4,
        lon: -0.5 + random() * 0.6,
        accuracyM: 5 + Math.round(random() * 200) / 10,
        fix: 'gps',
        battery: 80,
      };
    }
    return out;
  };
  const scale = quick ? 0.25 : 1;
  const scenarios: Scenario[] = [
    { name: '100 pings, one request at a time', pingsPerRequest: 100, requests: Math.ceil(400 * scale), concurrency: 1, oneTag: false },
    { name: '100 pings, 8 requests in flight', pingsPerRequest: 100, requests: Math.ceil(2_000 * scale), concurrency: 8, oneTag: false },
    { name: '1,000 pings', pingsPerRequest: 1_000, requests: Math.ceil(40 * scale), concurrency: 1, oneTag: false },
    { name: '10,000 pings, many tags', pingsPerRequest: 10_000, requests: Math.ceil(8 * scale), concurrency: 1, oneTag: false },
    { name: "10,000 pings, one tag's backlog", pingsPerRequest: 10_000, requests: Math.ceil(8 * scale), concurrency: 1, oneTag: true },
  ];

  progress(`kafka mock cluster: topic ${TOPIC} with ${partitions} partitions`);
  const cluster = await startKafkaMock({ topics: { [TOPIC]: partitions, [`${TOPIC}.dlq`]: 1 } });
  const producer = createKafkaProducer({ kafka: createKafkaClient({ brokers: cluster.brokers, clientId: 'bench-produce' }), topic: TOPIC, dlqTopic: `${TOPIC}.dlq` });
  const rows: Row[] = [];
  try {
    await producer.connect();
    await producer.sendPings(request(100, false)); // metadata and connections
    for (const s of scenarios) {
      const bodies = Array.from({ length: s.requests }, () => request(s.pingsPerRequest, s.oneTag));
      // warm-up: the same code paths, not measured
      for (let i = 0; i < 3; i++) await producer.sendPings(request(s.pingsPerRequest, s.oneTag));
      const stall = monitorEventLoopDelay({ resolution: 1 });
      stall.enable();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: s.concurrency }, async () => {
          while (next < bodies.length) await producer.sendPings(bodies[next++] as PingRecord[]);
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      stall.disable();
      const pings = s.requests * s.pingsPerRequest;
      const row: Row = {
        scenario: s.name,
        pings,
        pingsPerSec: pings / seconds,
        cpuUsPerPing: (cpu.user + cpu.system) / pings,
        maxStallMs: stall.max / 1e6,
      };
      rows.push(row);
      progress(`${s.name}: ${fmtNum(row.pingsPerSec)} pings/s, ${row.cpuUsPerPing.toFixed(2)} µs of CPU a ping, longest event-loop stall ${row.maxStallMs.toFixed(1)} ms`);
    }
  } finally {
    await producer.close().catch(() => {});
    await cluster.stop();
  }

  const m = await machine();
  process.stdout.write(`\nKafka produce (the 202 path of POST /v1/pings), ${partitions} partitions, ${nTags} tags (${m.cpu}, ${m.cores} cores, node ${m.node}); broker: librdkafka mock cluster\n\n`);
  process.stdout.write(
    formatTable(
      ['request', 'pings', 'pings/s', 'CPU µs/ping', 'longest stall ms'],
      rows.map((r) => [r.scenario, r.pings, r.pingsPerSec, r.cpuUsPerPing.toFixed(2), r.maxStallMs.toFixed(1)]),
    ) + '\n',
  );
  emitJson(args.json, {
    partitions,
    tags: nTags,
    seed: Number(args.seed),
    byScenario: rows.map((r) => ({ ...r, pingsPerSec: Math.round(r.pingsPerSec), cpuUsPerPing: Number(r.cpuUsPerPing.toFixed(2)), maxStallMs: Number(r.maxStallMs.toFixed(1)) })),
  });
}

main().catch((err: Error) => {
  process.stderr.write(`bench:kafka-produce failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
