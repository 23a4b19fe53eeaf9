/**
 * Shared pieces of the Kafka integration tests and the Kafka benchmark: a fixture of subjects
 * with one exclusion zone, a deterministic ping stream whose alerts are known in advance, an
 * in-process Cordon consumer (store + app pipeline + Kafka ingest, like main.ts), and readers
 * for what ended up in Redis and Kafka.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { ZoneIndex } from '../../geo/zone-index.ts';
import { silentLogger } from '../../src/logger.ts';
import { CordonService } from '../../src/service.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { createIngestPipeline, type IngestPipeline } from '../../streams/pipeline.ts';
import type { CordonStore } from '../../streams/ports.ts';
import {
  createKafkaClient,
  createKafkaProducer,
  createPingIngest,
  kafkaMetrics,
  type KafkaIngest,
  type KafkaLogger,
  type KafkaProducer,
  type PingRecord,
} from '../../streams/kafka/index.ts';

/** Zone centre (London) and radius: a ping at the centre is inside and certain, one 0.01° north is outside and certain. */
export const ZONE_CENTER: [number, number] = [-0.1276, 51.5072];
export const ZONE_RADIUS_M = 200;
/** out, in, in, out: one exclusion episode (one alert) per four pings of a tag */
const PATTERN = [false, true, true, false] as const;

export interface ScenarioNames {
  /** Redis key prefix, e.g. "t1a2b:" */
  prefix: string;
  /** events stream + channel */
  eventsKey: string;
}

export function uniqueNames(label: string): ScenarioNames {
  const id = `${label}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  return { prefix: `${id}:`, eventsKey: `${id}:events` };
}

export function tagIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `TAG-${String(i).padStart(5, '0')}`);
}

/** One subject per tag and one always-active exclusion circle naming them all. Returns the zone's write time. */
export async function putFixture(store: CordonStore, tags: readonly string[]): Promise<number> {
  for (const [i, tagId] of tags.entries()) {
    await store.putSubject(`S-${i}`, { tagId, name: null, orderRef: null, timezone: 'Europe/London' });
  }
  await store.putZone(
    'Z-home',
    {
      name: 'Victim home',
      kind: 'exclusion',
      subjectIds: tags.map((_, i) => `S-${i}`),
      geometry: { type: 'Circle', center: ZONE_CENTER, radiusM: ZONE_RADIUS_M },
      schedule: null,
      graceSeconds: 0,
      minConfidence: 'possible',
      validFrom: null,
      validTo: null,
    },
    { by: 'test' },
  );
  return Date.now();
}

/**
 * `perTag` pings for each tag (a multiple of 4), interleaved across tags, event times from
 * `fromTs` in 10 ms steps per round. Every tag makes perTag/4 exclusion episodes.
 */
export function pingStream(tags: readonly string[], perTag: number, fromTs: number): PingRecord[] {
  const out: PingRecord[] = [];
  for (let k = 0; k < perTag; k++) {
    const inside = PATTERN[k % 4];
    for (const tagId of tags) {
      out.push({
        tagId,
        ts: fromTs + k * 10,
        lat: inside ? ZONE_CENTER[1] : ZONE_CENTER[1] + 0.01,
        lon: ZONE_CENTER[0],
        accuracyM: 8,
        fix: 'gps',
      });
    }
  }
  return out;
}

export function expectedAlertCount(tags: number, perTag: number): number {
  return tags * Math.floor(perTag / 4);
}

export interface StoredEvent {
  streamId: string;
  id: string;
  type: string;
  alert: { id: string; type: string; tagId: string; openedAt: string };
}

/** Every event in the stream, oldest first. */
export async function readEvents(redis: Redis, eventsKey: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let start = '-';
  for (;;) {
    const page = (await redis.xrange(eventsKey, start, '+', 'COUNT', 5000)) as [string, string[]][];
    for (const [streamId, fields] of page) {
      const i = fields.indexOf('event');
      const json = i >= 0 ? fields[i + 1] : undefined;
      if (json === undefined) continue;
      const e = JSON.parse(json) as Omit<StoredEvent, 'streamId'>;
      out.push({ streamId, ...e });
    }
    if (page.length < 5000) return out;
    const last = page[page.length - 1]?.[0] ?? '';
    start = `(${last}`;
  }
}

/** alert id → number of events of `type` for it */
export function countByAlert(events: readonly StoredEvent[], type: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) if (e.type === type) m.set(e.alert.id, (m.get(e.alert.id) ?? 0) + 1);
  return m;
}

export function adminClient(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'cordon-test', brokers, logLevel: logLevel.NOTHING });
}

/** committed offset of the group per partition (-1 = none) vs the topic's end offsets */
export async function offsetsOf(kafka: Kafka, groupId: string, topic: string): Promise<{ committed: number[]; end: number[] }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const committed: number[] = [];
    const end: number[] = [];
    for (const p of ends) end[p.partition] = Number(p.high);
    for (const p of group?.partitions ?? []) committed[p.partition] = Number(p.offset);
    return { committed: end.map((_, i) => committed[i] ?? -1), end };
  } finally {
    await admin.disconnect();
  }
}

/** the contract's default thresholds */
const TRACKER = { batteryLowPct: 15, batteryClearPct: 20, signalLostAfterMs: 600_000, noFixAfterMs: 900_000 };

/** Tuning that makes kafkajs groups settle fast on the mock cluster (short sessions, quick heartbeats). */
export const FAST_GROUP = {
  sessionTimeout: 3_000,
  rebalanceTimeout: 6_000,
  heartbeatInterval: 300,
  maxWaitTimeInMs: 100,
  assignDelayMs: 300,
  backoff: { initialMs: 50, maxMs: 500 },
} as const;

export interface ConsumerOptions {
  brokers: string[];
  topic: string;
  dlqTopic: string;
  groupId: string;
  redisUrl: string;
  names: ScenarioNames;
  logger?: KafkaLogger;
  partitionsConsumedConcurrently?: number;
  maxBatchMessages?: number;
}

export interface RunningConsumer {
  ingest: KafkaIngest;
  producer: KafkaProducer;
  pipeline: IngestPipeline;
  store: CordonStore;
  /** the Kafka metrics' registry */
  registry: Registry;
  /** graceful: drains in-flight batches, commits, leaves the group, closes everything */
  stop(): Promise<void>;
}

/**
 * A Cordon consumer composed as the service does it (Redis store, zone index kept live by the
 * service, the ingest pipeline, Kafka ingest), without the HTTP layer.
 */
export async function startConsumer(o: ConsumerOptions): Promise<RunningConsumer> {
  // as main.ts opens it for a Kafka consumer: with its tag-state cache
  const store = await createRedisStore({ url: o.redisUrl, prefix: o.names.prefix, eventsKey: o.names.eventsKey, tagStateCache: 10_000 });
  const zoneIndex = new ZoneIndex();
  const service = new CordonService({ store, zoneIndex, clock: { now: () => Date.now() }, logger: silentLogger() });
  await service.start();
  const pipeline = createIngestPipeline({ store, zones: zoneIndex, config: TRACKER });
  const kafka = createKafkaClient({ brokers: o.brokers, clientId: 'cordon-test', logger: o.logger });
  const registry = new Registry();
  const metrics = kafkaMetrics(registry);
  const producer = createKafkaProducer({ kafka, topic: o.topic, dlqTopic: o.dlqTopic, metrics, logger: o.logger });
  const ingest = createPingIngest({
    kafka,
    topic: o.topic,
    groupId: o.groupId,
    pipeline,
    producer,
    metrics,
    logger: o.logger,
    partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 2,
    maxBatchMessages: o.maxBatchMessages,
    ...FAST_GROUP,
  });
  await ingest.start();
  let stopping: Promise<void> | null = null;
  return {
    ingest,
    producer,
    pipeline,
    store,
    registry,
    stop() {
      stopping ??= (async () => {
        await ingest.stop();
        await producer.close();
        pipeline.close();
        service.stop();
        await store.close();
      })();
      return stopping;
    },
  };
}
