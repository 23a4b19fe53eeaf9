/**
 * Kafka ingest under faults, over the real wire protocol (librdkafka mock cluster) with real
 * Redis servers: a consumer killed mid-stream (SIGKILL: no commit, no goodbye) and Redis
 * killed and restarted mid-stream. In both, every expected alert is raised exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startKafkaMock, type KafkaMockCluster } from '../support/kafka-mock.ts';
import { freePort, startRedisServer, waitFor, type RedisServer } from '../support/redis.ts';
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
  type ScenarioNames,
} from '../support/kafka-scenario.ts';
import { spawnWorker } from '../support/kafka-worker.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { createKafkaClient, createKafkaProducer } from '../../streams/kafka/index.ts';

let cluster: KafkaMockCluster;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cluster = await startKafkaMock({ topics: { kill: 6, 'kill.dlq': 1, redisdown: 4, 'redisdown.dlq': 1 } });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await cluster?.stop();
});

async function fixture(url: string, label: string, tags: string[]): Promise<{ names: ScenarioNames; fromTs: number }> {
  const names = uniqueNames(label);
  const store = await createRedisStore({ url, prefix: names.prefix, eventsKey: names.eventsKey, tagStateCache: 10_000 });
  try {
    return { names, fromTs: (await putFixture(store, tags)) + 1 };
  } finally {
    await store.close();
  }
}

/**
 * A redis-server that survives kill -9 with its data (AOF, fsync on every write), as a
 * production Redis would be configured for Cordon. (startRedisServer's restart() starts empty.)
 */
async function startDurableRedis(): Promise<RedisServer & { kill(): Promise<void>; start(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cordon-redis-'));
  let child: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' });
    await waitFor(async () => {
      const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } finally {
        c.disconnect();
      }
    }, 10_000, 'durable redis-server');
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    port,
    start,
    kill,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await kill();
      await start();
    },
  };
}

function expectExactlyOnce(events: Awaited<ReturnType<typeof readEvents>>, expected: number): void {
  const opened = countByAlert(events, 'alert.opened');
  const ended = countByAlert(events, 'alert.ended');
  expect(opened.size).toBe(expected);
  expect(ended.size).toBe(expected);
  expect([...opened.values()].filter((n) => n !== 1)).toEqual([]);
  expect([...ended.values()].filter((n) => n !== 1)).toEqual([]);
}

describe('kafka ingest under faults', () => {
  it('two consumers in one group, one killed mid-stream: every alert exactly once', async () => {
    const redisServer = await startRedisServer();
    cleanups.push(() => redisServer.stop());
    const redis = new Redis(redisServer.url);
    cleanups.push(async () => redis.disconnect());
    const tags = tagIds(60);
    const perTag = 40;
    const { names, fromTs } = await fixture(redisServer.url, 'kkill', tags);
    const opts = { brokers: cluster.brokers, topic: 'kill', dlqTopic: 'kill.dlq', groupId: 'g-kill', redisUrl: redisServer.url, names };

    const victim = await spawnWorker(opts);
    cleanups.push(() => victim.kill());
    const survivor = await startConsumer(opts);
    cleanups.push(() => survivor.stop());
    // both members hold partitions before the stream starts
    await waitFor(() => survivor.ingest.status().joined && survivor.ingest.status().assigned.some((a) => a.partitions.length > 0 && a.partitions.length < 6), 30_000, 'two-member group');

    const producer = createKafkaProducer({ kafka: createKafkaClient({ brokers: cluster.brokers }), topic: 'kill', dlqTopic: 'kill.dlq' });
    cleanups.push(() => producer.close());
    const pings = pingStream(tags, perTag, fromTs);
    const chunks = 8;
    const size = pings.length / chunks;
    for (let i = 0; i < chunks; i++) {
      await producer.sendPings(pings.slice(i * size, (i + 1) * size));
      if (i === 2) {
        // the victim is working: some of its alerts are in Redis
        await waitFor(async () => (await readEvents(redis, names.eventsKey)).length > 0, 20_000, 'first alerts');
        await victim.kill();
      }
      await waitFor(async () => (await readEvents(redis, names.eventsKey)).length > 0, 20_000, 'alerts flowing');
    }

    const expected = expectedAlertCount(tags.length, perTag);
    await waitFor(async () => countByAlert(await readEvents(redis, names.eventsKey), 'alert.ended').size === expected, 45_000, 'every alert after the takeover');
    const kafka = adminClient(cluster.brokers);
    await waitFor(async () => {
      const o = await offsetsOf(kafka, 'g-kill', 'kill');
      return o.committed.every((v, i) => v === o.end[i]);
    }, 20_000, 'offsets committed to the end');
    expect(survivor.ingest.status().assigned.flatMap((a) => a.partitions).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expectExactlyOnce(await readEvents(redis, names.eventsKey), expected);
  });

  it('Redis killed and restarted mid-stream: the partition holds, nothing is lost or doubled', async () => {
    const redisServer = await startDurableRedis();
    cleanups.push(() => redisServer.stop());
    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
    redis.on('error', () => {});
    cleanups.push(async () => redis.disconnect());
    const tags = tagIds(24);
    const perTag = 24;
    const { names, fromTs } = await fixture(redisServer.url, 'kredis', tags);
    const c = await startConsumer({ brokers: cluster.brokers, topic: 'redisdown', dlqTopic: 'redisdown.dlq', groupId: 'g-redis', redisUrl: redisServer.url, names });
    cleanups.push(() => c.stop());
    const producer = createKafkaProducer({ kafka: createKafkaClient({ brokers: cluster.brokers }), topic: 'redisdown', dlqTopic: 'redisdown.dlq' });
    cleanups.push(() => producer.close());

    const pings = pingStream(tags, perTag, fromTs);
    const third = pings.length / 3;
    await producer.sendPings(pings.slice(0, third));
    await waitFor(async () => countByAlert(await readEvents(redis, names.eventsKey), 'alert.ended').size === expectedAlertCount(tags.length, perTag / 3), 30_000, 'first third');

    await redisServer.kill();
    await producer.sendPings(pings.slice(third, 2 * third));
    // the consumer has the batch and cannot write it: the partition is held and the write retried
    const retries = async () => (await c.registry.getSingleMetric('cordon_kafka_batch_retries_total')?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;
    await waitFor(async () => c.ingest.status().holding && (await retries()) > 0, 20_000, 'batch held and retried while Redis is down');
    const kafka = adminClient(cluster.brokers);
    const whileDown = await offsetsOf(kafka, 'g-redis', 'redisdown');
    await redisServer.start();
    await producer.sendPings(pings.slice(2 * third));

    const expected = expectedAlertCount(tags.length, perTag);
    await waitFor(async () => countByAlert(await readEvents(redis, names.eventsKey), 'alert.ended').size === expected, 45_000, 'every alert after Redis is back');
    await waitFor(async () => {
      const o = await offsetsOf(kafka, 'g-redis', 'redisdown');
      return o.committed.every((v, i) => v === o.end[i]);
    }, 20_000, 'offsets committed to the end');
    // nothing was committed past unwritten work while Redis was down
    expect(whileDown.committed.reduce((a, b) => a + Math.max(0, b), 0)).toBeLessThanOrEqual(third);
    expectExactlyOnce(await readEvents(redis, names.eventsKey), expected);
  });
});
