/**
 * Kafka ingest end to end over the real wire protocol (librdkafka mock cluster) with a real
 * Redis: alerts land in the events stream exactly once, offsets are committed after the
 * writes, poison messages go to the dead-letter topic, restarts resume from the commit and a
 * full replay changes nothing.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { startKafkaMock, type KafkaMockCluster } from '../support/kafka-mock.ts';
import { freePort, startRedisServer, waitFor } from '../support/redis.ts';
import {
  adminClient,
  countByAlert,
  expectedAlertCount,
  offsetsOf,
  pingStream,
  putFixture,
  readEvents,
  startConsumer,
  tagIds,
  uniqueNames,
  type RunningConsumer,
  type ScenarioNames,
} from '../support/kafka-scenario.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { Registry } from 'prom-client';
import { createKafkaClient, createKafkaProducer, kafkaMetrics, type KafkaProducer } from '../../streams/kafka/index.ts';
import { MAX_MESSAGES_PER_SEND } from '../../streams/kafka/producer.ts';
import { murmur2 } from '../../streams/kafka/partitioner.ts';

let cluster: KafkaMockCluster;
let redis: Redis;
const redisUrl = inject('redisUrl');
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cluster = await startKafkaMock({
    topics: { chunks: 3, 'chunks.dlq': 1, together: 3, 'together.dlq': 1, front: 2, 'front.dlq': 1, e2e: 4, 'e2e.dlq': 1, poison: 2, 'poison.dlq': 1, restart: 4, 'restart.dlq': 1, 'main.pings': 3, 'main.pings.dlq': 1, 'outage.pings': 2, 'outage.pings.dlq': 1, stamps: 2, 'stamps.dlq': 1 },
  });
  redis = new Redis(redisUrl);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  redis?.disconnect();
  await cluster?.stop();
});

async function fixture(label: string, tags: string[]): Promise<{ names: ScenarioNames; fromTs: number }> {
  const names = uniqueNames(label);
  const store = await createRedisStore({ url: redisUrl, prefix: names.prefix, eventsKey: names.eventsKey, tagStateCache: 10_000 });
  try {
    const fromTs = (await putFixture(store, tags)) + 1;
    return { names, fromTs };
  } finally {
    await store.close();
  }
}

function testProducer(topic: string): KafkaProducer {
  const p = createKafkaProducer({ kafka: createKafkaClient({ brokers: cluster.brokers, clientId: 'test-producer' }), topic, dlqTopic: `${topic}.dlq` });
  cleanups.push(() => p.close());
  return p;
}

async function consumer(topic: string, groupId: string, names: ScenarioNames, maxBatchMessages?: number): Promise<RunningConsumer> {
  const c = await startConsumer({ brokers: cluster.brokers, topic, dlqTopic: `${topic}.dlq`, groupId, redisUrl, names, maxBatchMessages });
  cleanups.push(() => c.stop());
  return c;
}

async function metricValue(c: RunningConsumer, name: string, labels: Record<string, string>): Promise<number> {
  const m = await c.registry.getSingleMetric(name)?.get();
  // summed over the series that carry these labels (e.g. every partition of a topic)
  return (m?.values ?? [])
    .filter((x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val))
    .reduce((sum, x) => sum + x.value, 0);
}

/** The first `n` messages of `topic` (a fresh group from the beginning): partition, offset, key, the ping's seq, the value and the record's timestamp. */
async function readTopic(topic: string, n: number): Promise<{ partition: number; offset: number; key: string; seq: number; value: string; timestamp: number }[]> {
  const kafka = createKafkaClient({ brokers: cluster.brokers, clientId: 'test-reader' });
  const reader = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}`, maxWaitTimeInMs: 100 });
  cleanups.push(() => reader.disconnect());
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  const got: { partition: number; offset: number; key: string; seq: number; value: string; timestamp: number }[] = [];
  await reader.run({
    eachMessage: async ({ partition, message }) => {
      const value = String(message.value);
      got.push({ partition, offset: Number(message.offset), key: String(message.key), seq: (JSON.parse(value) as { seq: number }).seq, value, timestamp: Number(message.timestamp) });
    },
  });
  await waitFor(() => got.length >= n, 30_000, `${n} messages on ${topic}`);
  await reader.stop();
  return got;
}

/** `src/main.ts` as a Kafka instance on `topic` (its own Redis unless given one, key test-admin-key); killed at cleanup. */
async function startInstance(topic: string, groupId: string, extraEnv: Record<string, string> = {}, sharedRedisUrl?: string) {
  let own: { url: string } | undefined;
  if (sharedRedisUrl) own = { url: sharedRedisUrl };
  else {
    const started = await startRedisServer();
    cleanups.push(() => started.stop());
    own = started;
  }
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: own.url,
      KAFKA_BROKERS: cluster.bootstrap,
      KAFKA_TOPIC: topic,
      KAFKA_DLQ_TOPIC: `${topic}.dlq`,
      KAFKA_GROUP_ID: groupId,
      CORDON_API_KEYS: 'admin:test-admin-key',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const out = { stderr: '' };
  child.stderr?.on('data', (d: Buffer) => (out.stderr = (out.stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 40_000, `service ready (stderr: ${out.stderr})`);
  return { child, exited, base, redisUrl: own.url, out, headers: { authorization: 'Bearer test-admin-key', 'content-type': 'application/json' } };
}

describe('kafka producer', () => {
  it('sends calls made while a send is in flight together, each call whole and in call order', async () => {
    const registry = new Registry();
    const producer = createKafkaProducer({
      kafka: createKafkaClient({ brokers: cluster.brokers, clientId: 'test-producer' }),
      topic: 'together',
      dlqTopic: 'together.dlq',
      metrics: kafkaMetrics(registry),
    });
    cleanups.push(() => producer.close());
    await producer.connect();
    // 40 requests at once, 25 pings each: each has its own tag, and all share TAG-SHARED (call order = seq order)
    let seq = 0;
    const calls = Array.from({ length: 40 }, (_, c) => Array.from({ length: 25 }, (_, k) => ({ tagId: k % 5 === 0 ? 'TAG-SHARED' : `TAG-C${c}`, ts: 1_000 + seq, seq: seq++ })));
    await Promise.all(calls.map((pings) => producer.sendPings(pings)));
    const sends = (await registry.getSingleMetric('cordon_kafka_produce_sends_total')?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;
    expect(sends).toBeGreaterThan(0);
    expect(sends).toBeLessThan(calls.length / 4);

    const got = await readTopic('together', seq);
    expect(got.length).toBe(seq);
    expect(new Set(got.map((g) => g.seq)).size).toBe(seq);
    for (const p of [0, 1, 2]) {
      const seqs = got.filter((g) => g.partition === p).sort((a, b) => a.offset - b.offset).map((g) => g.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it('produces a list longer than one send whole and in order, each tag on the partition murmur2 names', async () => {
    // one tag with most of the pings (a week's backlog uploaded at once), a few others around it
    const pings = [];
    for (let k = 0; k < 2_400; k++) pings.push({ tagId: k % 6 === 0 ? 'TAG-B' : 'TAG-BULK', ts: 1_000_000 + k, seq: k });
    for (let k = 0; k < 100; k++) pings.push({ tagId: `TAG-${k % 7}`, ts: 2_000_000 + k, seq: 2_400 + k });
    expect(pings.length).toBeGreaterThan(2 * MAX_MESSAGES_PER_SEND);
    await testProducer('chunks').sendPings(pings);

    const got = await readTopic('chunks', pings.length);

    // whole, once each
    expect(got.length).toBe(pings.length);
    expect(new Set(got.map((g) => g.seq)).size).toBe(pings.length);
    for (const g of got) {
      // where the Java client (and kafkajs's DefaultPartitioner) would put the key
      expect(g.partition, g.key).toBe((murmur2(g.key) & 0x7fffffff) % 3);
    }
    // in the order sent, on each partition
    for (const p of [0, 1, 2]) {
      const seqs = got.filter((g) => g.partition === p).sort((a, b) => a.offset - b.offset).map((g) => g.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });
});

describe('kafka producer: record times', () => {
  it('stamps each record with its produce time, or with the arrival a relay gives it', async () => {
    const producer = testProducer('stamps');
    const before = Date.now();
    await producer.sendPings([{ tagId: 'TAG-1', ts: 1, seq: 0 }]);
    const after = Date.now();
    const relayed = [1_700_000_000_000, 1_700_000_060_000];
    await producer.sendPingBytes(relayed.map((arrivedAt, i) => ({ tagId: 'TAG-1', value: Buffer.from(JSON.stringify({ tagId: 'TAG-1', ts: 2 + i, seq: 1 + i })), arrivedAt })));
    const got = (await readTopic('stamps', 3)).sort((a, b) => a.seq - b.seq);
    expect(got[0]!.timestamp).toBeGreaterThanOrEqual(before);
    expect(got[0]!.timestamp).toBeLessThanOrEqual(after);
    expect(got.slice(1).map((g) => g.timestamp)).toEqual(relayed);
  });
});

describe('kafka ingest', () => {
  it('turns produced pings into alert events exactly once and commits the offsets after writing', async () => {
    const tags = tagIds(20);
    const perTag = 40;
    const { names, fromTs } = await fixture('ke2e', tags);
    // small slices: each fetched batch is written and resolved in several units of work
    const c = await consumer('e2e', 'g-e2e', names, 50);
    const pings = pingStream(tags, perTag, fromTs);
    await testProducer('e2e').sendPings(pings);

    const expected = expectedAlertCount(tags.length, perTag);
    await waitFor(async () => countByAlert(await readEvents(redis, names.eventsKey), 'alert.ended').size === expected, 30_000, 'all alerts ended');
    const kafka = adminClient(cluster.brokers);
    await waitFor(async () => {
      const o = await offsetsOf(kafka, 'g-e2e', 'e2e');
      return o.committed.every((v, i) => v === o.end[i]);
    }, 15_000, 'offsets committed to the end');

    const events = await readEvents(redis, names.eventsKey);
    const opened = countByAlert(events, 'alert.opened');
    const ended = countByAlert(events, 'alert.ended');
    expect(opened.size).toBe(expected);
    expect([...opened.values()].every((n) => n === 1)).toBe(true);
    expect([...ended.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(events.filter((e) => e.type === 'alert.opened').map((e) => e.alert.tagId))).toEqual(new Set(tags));
    expect(events.every((e) => e.alert.type === 'exclusion.breach')).toBe(true);

    const o = await offsetsOf(kafka, 'g-e2e', 'e2e');
    expect(o.end.reduce((a, b) => a + b, 0)).toBe(pings.length);
    expect(await metricValue(c, 'cordon_kafka_messages_total', { topic: 'e2e', outcome: 'processed' })).toBe(pings.length);
    expect(await metricValue(c, 'cordon_kafka_consumer_lag', { topic: 'e2e' })).toBe(0);
    const text = await c.registry.metrics();
    expect(text).toContain('cordon_kafka_batch_duration_seconds_bucket');
    // no slice was larger than asked
    const sizes = ((await c.registry.getSingleMetric('cordon_kafka_batch_messages')?.get())?.values ?? []) as {
      metricName?: string;
      labels: Record<string, string | number>;
      value: number;
    }[];
    const over50 = sizes.filter((v) => v.metricName === 'cordon_kafka_batch_messages_bucket' && v.labels.le === 50).reduce((a, v) => a + v.value, 0);
    const count = sizes.filter((v) => v.metricName === 'cordon_kafka_batch_messages_count').reduce((a, v) => a + v.value, 0);
    expect(count).toBeGreaterThan(pings.length / 50 - 1);
    expect(over50).toBe(count);
  });

  it('sends poison messages to the dead-letter topic with their bytes and headers while good pings flow', async () => {
    const tags = tagIds(6);
    const perTag = 8;
    const { names, fromTs } = await fixture('kpoison', tags);
    const c = await consumer('poison', 'g-poison', names);
    const good = pingStream(tags, perTag, fromTs);
    const raw = adminClient(cluster.brokers).producer({ allowAutoTopicCreation: false });
    await raw.connect();
    cleanups.push(() => raw.disconnect());

    const poison: { key: string; value: Buffer | null; reason: RegExp }[] = [
      { key: 'TAG-00000', value: Buffer.from('{"tagId": "TAG-00000", "ts": '), reason: /^not JSON/ },
      { key: 'TAG-00001', value: Buffer.from(JSON.stringify({ tagId: 'TAG-00001', lat: 51.5, lon: -0.1 })), reason: /^invalid ping: .*ts/ },
      { key: 'TAG-00002', value: Buffer.from(JSON.stringify({ tagId: 'TAG-00002', ts: fromTs, lat: 51.5, lon: -0.1, pad: 'x'.repeat(70_000) })), reason: /too large/ },
      { key: 'TAG-00003', value: null, reason: /^empty/ },
      { key: 'TAG-00004', value: Buffer.from('[1,2,3]'), reason: /^not a ping/ },
    ];
    const half = good.length / 2;
    await raw.send({ topic: 'poison', messages: good.slice(0, half).map((p) => ({ key: p.tagId, value: JSON.stringify(p) })) });
    const sources = new Map<string, string>();
    for (const p of poison) {
      const [meta] = await raw.send({ topic: 'poison', messages: [{ key: p.key, value: p.value, headers: { origin: 'test' } }] });
      sources.set(p.key, `poison/${meta?.partition}/${meta?.baseOffset}`);
    }
    await raw.send({ topic: 'poison', messages: good.slice(half).map((p) => ({ key: p.tagId, value: JSON.stringify(p) })) });

    const expected = expectedAlertCount(tags.length, perTag);
    await waitFor(async () => countByAlert(await readEvents(redis, names.eventsKey), 'alert.ended').size === expected, 30_000, 'good pings processed');

    // read the dead-letter topic back
    const letters: { key: string; value: Buffer | null; headers: Record<string, string> }[] = [];
    const reader = adminClient(cluster.brokers).consumer({ groupId: `dlq-reader-${names.prefix}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
    await reader.connect();
    cleanups.push(() => reader.disconnect());
    await reader.subscribe({ topic: 'poison.dlq', fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        letters.push({ key: String(message.key), value: message.value, headers });
      },
    });
    await waitFor(() => letters.length >= poison.length, 20_000, 'dead letters');
    await reader.disconnect();

    expect(letters).toHaveLength(poison.length);
    for (const p of poison) {
      const l = letters.find((x) => x.key === p.key);
      expect(l, p.key).toBeDefined();
      if (!l) continue;
      if (p.value === null) expect(l.value === null || l.value.length === 0).toBe(true);
      else expect(l.value?.equals(p.value)).toBe(true);
      expect(l.headers['cordon-error']).toMatch(p.reason);
      expect(l.headers['cordon-source']).toBe(sources.get(p.key));
      expect(l.headers.origin).toBe('test');
    }
    const opened = countByAlert(await readEvents(redis, names.eventsKey), 'alert.opened');
    expect(opened.size).toBe(expected);
    expect([...opened.values()].every((n) => n === 1)).toBe(true);
    expect(await metricValue(c, 'cordon_kafka_messages_total', { topic: 'poison', outcome: 'dead_lettered' })).toBe(poison.length);
    expect(await metricValue(c, 'cordon_kafka_messages_total', { topic: 'poison', outcome: 'processed' })).toBe(good.length);
  });

  it('resumes from committed offsets after a restart, and a full replay adds no event', async () => {
    const tags = tagIds(12);
    const perTag = 16;
    const { names, fromTs } = await fixture('krestart', tags);
    const producer = testProducer('restart');
    const all = pingStream(tags, perTag, fromTs);
    const firstHalf = all.slice(0, all.length / 2); // whole rounds: perTag/2 pings of every tag
    const secondHalf = all.slice(all.length / 2);
    const kafka = adminClient(cluster.brokers);
    const committedToEnd = async () => {
      const o = await offsetsOf(kafka, 'g-restart', 'restart');
      return o.committed.every((v, i) => v === o.end[i]);
    };

    const first = await consumer('restart', 'g-restart', names);
    await producer.sendPings(firstHalf);
    await waitFor(async () => countByAlert(await readEvents(redis, names.eventsKey), 'alert.ended').size === expectedAlertCount(tags.length, perTag / 2), 30_000, 'first half');
    await waitFor(committedToEnd, 15_000, 'first half committed');
    await first.stop();

    await producer.sendPings(secondHalf);
    const second = await consumer('restart', 'g-restart', names);
    const expected = expectedAlertCount(tags.length, perTag);
    await waitFor(async () => countByAlert(await readEvents(redis, names.eventsKey), 'alert.ended').size === expected, 30_000, 'second half');
    await waitFor(committedToEnd, 15_000, 'second half committed');
    // the second consumer started at the commit: it never saw the first half
    expect(await metricValue(second, 'cordon_kafka_messages_total', { topic: 'restart', outcome: 'processed' })).toBe(secondHalf.length);
    await second.stop();
    const before = await readEvents(redis, names.eventsKey);

    // a full replay, as after losing every commit: a group with no offsets reads the topic from the
    // start (the mock cluster has no DescribeGroups, so the old group cannot be rewound by admin)
    const third = await consumer('restart', 'g-restart-replay', names);
    await waitFor(
      async () => (await metricValue(third, 'cordon_kafka_messages_total', { topic: 'restart', outcome: 'processed' })) === all.length,
      30_000,
      'full replay',
    );
    await waitFor(async () => {
      const o = await offsetsOf(kafka, 'g-restart-replay', 'restart');
      return o.committed.every((v, i) => v === o.end[i]);
    }, 15_000, 'replay committed');
    const after = await readEvents(redis, names.eventsKey);
    expect(after.length).toBe(before.length);
    const opened = countByAlert(after, 'alert.opened');
    expect(opened.size).toBe(expected);
    expect([...opened.values()].every((n) => n === 1)).toBe(true);
    expect([...countByAlert(after, 'alert.ended').values()].every((n) => n === 1)).toBe(true);
  });

  it('with KAFKA_CONSUME=false the service produces POST /v1/pings (202) and is ready, but joins no consumer group', async () => {
    const { child, exited, base, out, headers } = await startInstance('front', 'g-front', { KAFKA_CONSUME: 'false' });
    expect(((await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, boolean> }).checks.kafka).toBe(true);
    await waitFor(() => out.stderr.includes('producing only'), 10_000, 'the start banner');
    expect((await fetch(`${base}/v1/subjects/S1`, { method: 'PUT', headers, body: JSON.stringify({ tagId: 'FRONT-1' }) })).status).toBe(201);
    // as a gateway might send them: spaces, a field of its own
    const items = [0, 1, 2].map((k) => `{ "tagId": "FRONT-1", "ts": ${Date.now() + k},\n  "lat": 51.5, "lon": -0.12, "accuracyM": 8, "seq": ${k}, "gw": "north-${k}" }`);
    const accepted = await fetch(`${base}/v1/pings`, { method: 'POST', headers, body: `[\n${items.join(' ,\n')}\n]` });
    expect(accepted.status).toBe(202);
    // a body the scanner leaves to the general path (an escape) is produced as its JSON
    const escaped = await fetch(`${base}/v1/pings`, { method: 'POST', headers, body: '{"tagId":"FRONT-1","ts":1764800000000,"lat":51.5,"lon":-0.12,"seq":3,"gw":"\\u0041"}' });
    expect(escaped.status).toBe(202);

    // on the topic, in order, each ping exactly as it was sent
    const got = await readTopic('front', 4);
    expect(got.map((g) => g.seq)).toEqual([0, 1, 2, 3]);
    expect(got.slice(0, 3).map((g) => g.value)).toEqual(items);
    expect(JSON.parse(got[3]!.value)).toMatchObject({ tagId: 'FRONT-1', seq: 3, gw: 'A' });
    // and nobody here judged them: no group join, nothing consumed or committed
    const o = await offsetsOf(adminClient(cluster.brokers), 'g-front', 'front');
    expect(o.committed.every((c) => c <= 0)).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`, { headers })).text();
    expect(metrics).not.toMatch(/cordon_kafka_messages_total\{topic="front"/);
    expect(metrics).not.toMatch(/cordon_kafka_group_joins_total\{/);
    expect(metrics).toMatch(/cordon_kafka_produced_total\{topic="front",outcome="ok"\} 4/);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('runs in the service: POST /v1/pings answers 202, the consumer raises the alert, /readyz and /metrics show Kafka, SIGTERM commits and exits 0', async () => {
    const { child, exited, base, redisUrl: ownUrl, headers } = await startInstance('main.pings', 'g-main');
    const ownRedis = new Redis(ownUrl);
    cleanups.push(async () => ownRedis.disconnect());
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, boolean> };
    expect(ready.checks.kafka).toBe(true);

    expect((await fetch(`${base}/v1/subjects/S1`, { method: 'PUT', headers, body: JSON.stringify({ tagId: 'BUD-1' }) })).status).toBe(201);
    const zone = { name: 'Victim home', kind: 'exclusion', subjectIds: ['S1'], geometry: { type: 'Circle', center: [-0.1276, 51.5072], radiusM: 200 } };
    expect((await fetch(`${base}/v1/zones/Z1`, { method: 'PUT', headers, body: JSON.stringify(zone) })).status).toBe(201);
    const ts = Date.now() + 1000;
    const pings = [
      { tagId: 'BUD-1', ts, lat: 51.5172, lon: -0.1276, accuracyM: 8 },
      { tagId: 'BUD-1', ts: ts + 1000, lat: 51.5072, lon: -0.1276, accuracyM: 8, vendor: 'acme' },
    ];
    const accepted = await fetch(`${base}/v1/pings`, { method: 'POST', headers, body: JSON.stringify(pings) });
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ accepted: 2 });
    const invalid = await fetch(`${base}/v1/pings`, { method: 'POST', headers, body: JSON.stringify([{ tagId: 'BUD-1' }]) });
    expect(invalid.status).toBe(400);

    type AlertList = { items: { id: string; type: string; tagId: string }[] };
    await waitFor(async () => ((await (await fetch(`${base}/v1/alerts`, { headers })).json()) as AlertList).items.length === 1, 20_000, 'the alert');
    const [alert] = ((await (await fetch(`${base}/v1/alerts`, { headers })).json()) as AlertList).items;
    expect(alert?.type).toBe('exclusion.breach');
    const events = await readEvents(ownRedis, 'cordon:events');
    expect(events.filter((e) => e.type === 'alert.opened').map((e) => e.alert.id)).toEqual([alert?.id]);

    const metrics = await (await fetch(`${base}/metrics`, { headers })).text();
    expect(metrics).toMatch(/cordon_kafka_messages_total\{topic="main.pings",outcome="processed"\} 2/);
    expect(metrics).toMatch(/cordon_pings_processed_total\{source="kafka"\} 2/);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // the 400 produced nothing; everything produced was committed before the exit
    const o = await offsetsOf(adminClient(cluster.brokers), 'g-main', 'main.pings');
    expect(o.end.reduce((a, b) => a + b, 0)).toBe(2);
    expect(o.end.every((end, i) => end === 0 || o.committed[i] === end)).toBe(true);
  });

  it('after a consumer outage longer than SIGNAL_LOST_AFTER_S, a tag that kept sending gets no signal-lost alert and a tag that fell silent gets exactly one', async () => {
    // 4 s to lose a signal, sweeps every 100 ms: the outage below lasts longer than that
    const env = { SIGNAL_LOST_AFTER_S: '4', SWEEP_INTERVAL_MS: '100' };
    const first = await startInstance('outage.pings', 'g-outage', env);
    const { headers } = first;
    for (const [subject, tagId] of [['S1', 'ALIVE'], ['S2', 'SILENT']] as const) {
      expect((await fetch(`${first.base}/v1/subjects/${subject}`, { method: 'PUT', headers, body: JSON.stringify({ tagId }) })).status).toBe(201);
    }
    const producer = testProducer('outage.pings');
    await producer.connect();
    const send = (tagId: string) => producer.sendPings([{ tagId, ts: Date.now(), lat: 51.6, lon: -0.1, accuracyM: 10 }]);
    await send('SILENT');
    // ALIVE sends every 300 ms throughout, outage or not (the pings wait in Kafka)
    let sending = true;
    const sender = (async () => {
      while (sending) {
        await send('ALIVE');
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    const judged = async (base: string, tagId: string) =>
      (((await (await fetch(`${base}/v1/tags/${tagId}/positions`, { headers })).json()) as { items: unknown[] }).items ?? []).length;
    await waitFor(async () => (await judged(first.base, 'SILENT')) === 1 && (await judged(first.base, 'ALIVE')) > 0, 20_000, 'the first pings judged');

    // the outage: the only consumer stops (graceful: it commits, leaves and withdraws its progress)
    const own = new Redis(first.redisUrl);
    cleanups.push(async () => own.disconnect());
    expect(await own.hlen('cordon:ingest:progress')).toBe(1); // the running consumer reports its progress
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(await own.hlen('cordon:ingest:progress')).toBe(0); // and withdrew it when it stopped
    const outageFrom = Date.now();
    await new Promise((r) => setTimeout(r, 6_000));
    const outageTo = Date.now();
    const second = await startInstance('outage.pings', 'g-outage', env, first.redisUrl);
    await new Promise((r) => setTimeout(r, 1_500));
    sending = false;
    await sender;
    // the backlog is judged and committed, and the sweeper has caught up with the silent tag
    const admin = adminClient(cluster.brokers);
    await waitFor(async () => {
      const o = await offsetsOf(admin, 'g-outage', 'outage.pings');
      return o.end.every((end, i) => o.committed[i] === end);
    }, 30_000, 'the backlog committed');
    const lost = async () => (await readEvents(own, 'cordon:events')).filter((e) => e.alert.type === 'tag.signal_lost');
    await waitFor(async () => (await lost()).some((e) => e.type === 'alert.opened'), 20_000, 'signal lost for the silent tag');
    await new Promise((r) => setTimeout(r, 1_000)); // ten more sweeps
    const events = await lost();
    expect(events.map((e) => `${e.type} ${e.alert.tagId}`)).toEqual(['alert.opened SILENT']);
    // opened 4 s after the silent tag's one ping reached Kafka (during the outage), detected after it
    const alert = events[0]!.alert as unknown as { openedAt: string; detectedAt: string };
    expect(Date.parse(alert.detectedAt) - Date.parse(alert.openedAt)).toBeGreaterThan(0);
    // the trail keeps when each ping reached Kafka: those sent during the outage say so
    const trail = ((await (await fetch(`${second.base}/v1/tags/ALIVE/positions`, { headers })).json()) as { items: { receivedAt: string }[] }).items;
    const duringOutage = trail.filter((p) => Date.parse(p.receivedAt) >= outageFrom && Date.parse(p.receivedAt) <= outageTo).length;
    expect(duringOutage).toBeGreaterThan(10);
    const metrics = await (await fetch(`${second.base}/metrics`, { headers })).text();
    // caught up: the checks run a fetch round, a report and the 2 s margin behind the wall clock
    const behind = Number(/^cordon_clock_checks_behind_seconds (\S+)$/m.exec(metrics)?.[1]);
    console.log(`[outage] clock-driven checks ${behind} s behind the wall clock once caught up`);
    expect(behind).toBeGreaterThanOrEqual(0);
    expect(behind).toBeLessThan(5);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);
});
