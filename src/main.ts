/**
 * The composition root: the only file that reads the environment, opens sockets and traps
 * signals. `npm start` runs it (node --import tsx src/main.ts: one process, so signals reach it).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { buildApp, type AppDeps } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { HttpProblem } from './http/problem.ts';
import { createMemoryStore } from './stores/memory.ts';
import { MemoryWebhookStore } from './stores/webhooks-memory.ts';
import { webhooksPlugin } from './http/webhooks.ts';
import { consoleOptionsFromEnv, consolePlugin, type ConsoleOptions } from './http/console.ts';
import type { WebhookStore } from '../streams/webhooks/types.ts';
import type { CordonStore, StoreOptions } from '../streams/ports.ts';
import type { KafkaRuntime } from '../streams/kafka/index.ts';
import type { IngestPipeline } from '../streams/pipeline.ts';

async function openStore(config: Config, logger: Logger): Promise<CordonStore> {
  const opts: StoreOptions = {
    prefix: `${config.redisPrefix}:`,
    positionRetentionMs: config.positionRetentionHours * 3_600_000,
    positionsMaxPerTag: config.positionRetentionMax,
  };
  if (!config.redisUrl) return createMemoryStore(opts);
  const { createRedisStore } = await import('./stores/redis.ts');
  // a Kafka consumer owns its partitions' tags: it keeps their states instead of reading them back
  const tagStateCache = config.kafkaBrokers.length > 0 && config.kafkaConsume ? config.tagStateCache : 0;
  return createRedisStore({ ...opts, url: config.redisUrl, tagStateCache, logger: logger.child({ component: 'store' }) });
}

/** Webhook subscriptions and the delivery outbox live next to the events: Redis when configured. */
async function openWebhookStore(config: Config, logger: Logger): Promise<WebhookStore> {
  if (!config.redisUrl) return new MemoryWebhookStore();
  const [{ Redis }, { RedisWebhookStore }] = await Promise.all([import('ioredis'), import('./stores/webhooks-redis.ts')]);
  const redis = new Redis(config.redisUrl);
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'webhook store: Redis connection error'));
  return new RedisWebhookStore({ redis, prefix: `${config.redisPrefix}:`, ownsClient: true });
}

/** Kafka (KAFKA_BROKERS set): the producer behind POST /v1/pings (202) and the consumer group. kafkajs loads only then. */
async function openKafka(config: Config, logger: Logger, metrics: Metrics): Promise<KafkaRuntime> {
  const { createKafkaRuntime } = await import('../streams/kafka/index.ts');
  const kafka = createKafkaRuntime({
    brokers: config.kafkaBrokers,
    topic: config.kafkaTopic,
    dlqTopic: config.kafkaDlqTopic,
    groupId: config.kafkaGroupId,
    logger,
    registry: metrics.registry,
    defaultAccuracyM: config.defaultAccuracyM,
    consume: config.kafkaConsume,
  });
  try {
    await kafka.connect();
  } catch (err) {
    process.stderr.write(`cordon: cannot reach Kafka at ${config.kafkaBrokers.join(',')}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  return kafka;
}

/** A produce that the brokers did not take, as the 503 the client may retry. */
async function unavailableAs503(produced: Promise<void>): Promise<void> {
  try {
    await produced;
  } catch (err) {
    throw new HttpProblem(503, 'kafka-unavailable', `Kafka did not accept the pings (${(err as Error).message}); some may have been; retrying is safe (repeated pings change nothing).`, {
      headers: { 'retry-after': '1' },
    });
  }
}

/** With Kafka, POST /v1/pings produces (503 when the brokers do not take them) and /readyz checks the group. */
function kafkaAppDeps(kafka: KafkaRuntime | null): Pick<AppDeps, 'pingSink' | 'readiness' | 'followIngest'> {
  if (!kafka) return {};
  return {
    followIngest: true,
    pingSink: {
      sendPings: (pings) => unavailableAs503(kafka.producer.sendPings(pings)),
      sendPingBytes: (items) => unavailableAs503(kafka.producer.sendPingBytes(items)),
    },
    readiness: { kafka: () => kafka.isReady() },
  };
}

/** Joins the consumer group; the service counts Kafka batches like HTTP ones. */
async function startKafkaConsumer(kafka: KafkaRuntime, pipeline: IngestPipeline, store: CordonStore, config: Config, metrics: Metrics, logger: Logger): Promise<void> {
  // this process's consumer, in the store's progress reports (a report outlives a dead process by 15 s)
  const consumerId = randomUUID();
  try {
    await kafka.startConsumer(pipeline, {
      reportProgress: (through) => store.reportIngestProgress(consumerId, through, 15_000),
      onBatch: ({ pings, events, unknownTags, seconds }) => {
        metrics.pingsProcessed.inc({ source: 'kafka' }, pings);
        if (unknownTags) metrics.unknownTags.inc({ source: 'kafka' }, unknownTags);
        for (const e of events) metrics.alerts.inc({ type: e.alert.type, event: e.type.slice(6) });
        metrics.processingSeconds.observe({ source: 'kafka' }, seconds);
      },
      onDeadLetters: (letters) => metrics.pingsRejected.inc({ source: 'kafka' }, letters.length),
      onFatal: (err) => {
        logger.fatal({ err: err.message }, 'kafka consumer stopped for good; shutting down');
        process.kill(process.pid, 'SIGTERM');
      },
    });
  } catch (err) {
    process.stderr.write(`cordon: cannot join the Kafka consumer group "${config.kafkaGroupId}": ${(err as Error).message}\n`);
    process.exit(1);
  }
}

function banner(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length));
  const bar = '='.repeat(width + 4);
  return ['', bar, ...lines.map((l) => `| ${l.padEnd(width)} |`), bar, ''].join('\n');
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cordon: ${err.message}\nNothing was started. Fix the variable(s) above and start again.\n`);
      process.exit(1);
    }
    throw err;
  }
  let consoleOptions: ConsoleOptions;
  try {
    consoleOptions = consoleOptionsFromEnv(process.env);
  } catch (err) {
    process.stderr.write(`cordon: ${(err as Error).message}\nNothing was started. Fix the variable(s) above and start again.\n`);
    process.exit(1);
  }

  const logger = createLogger(config.logLevel);
  let generatedKey: string | null = null;
  if (config.apiKeys.length === 0) {
    generatedKey = `cordon_${randomBytes(24).toString('base64url')}`;
    config = { ...config, apiKeys: [{ role: 'admin', key: generatedKey }] };
  }

  let store: CordonStore;
  try {
    store = await openStore(config, logger);
  } catch (err) {
    process.stderr.write(`cordon: cannot open the store (${config.redisUrl ? 'Redis' : 'memory'}): ${(err as Error).message}\n`);
    process.exit(1);
  }

  const metrics = createMetrics({ defaultMetrics: true });
  const webhookStore = await openWebhookStore(config, logger);
  const kafka = config.kafkaBrokers.length ? await openKafka(config, logger, metrics) : null;
  const app = await buildApp({ config, store, logger, metrics, closeStore: true, ...kafkaAppDeps(kafka), plugins: [webhooksPlugin({ store: webhookStore }), consolePlugin(consoleOptions)] });

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    process.stderr.write(`cordon: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`);
    await app.close().catch(() => {});
    process.exit(1);
  }
  if (kafka && config.kafkaConsume) await startKafkaConsumer(kafka, app.pipeline, store, config, metrics, logger);
  const shown = config.host === '0.0.0.0' || config.host === '::' ? address.replace(/\/\/[^:/]+|\/\/\[[^\]]+\]/, '//localhost') : address;

  const lines = [
    `Cordon is listening on ${shown}`,
    `API docs (OpenAPI 3): ${shown}/docs   (JSON: ${shown}/docs/json)`,
    `Console (web): ${shown}/${consoleOptions.tileUrl ? '' : '   (no map tiles: set CONSOLE_TILE_URL)'}`,
    store.kind === 'memory'
      ? 'Store: embedded in-memory store. NOTHING PERSISTS: data is lost when the process stops (set REDIS_URL to keep it).'
      : `Store: Redis (keys under "${config.redisPrefix}:")`,
    config.kafkaBrokers.length
      ? `Kafka: ${config.kafkaBrokers.length} broker(s), topic ${config.kafkaTopic}${config.kafkaConsume ? `, consumer group ${config.kafkaGroupId}` : ' (producing only: KAFKA_CONSUME=false, no consumer here)'}`
      : 'Kafka: not configured (HTTP ingest only)',
  ];
  if (generatedKey) {
    lines.push(
      'No CORDON_API_KEYS configured: generated an admin key for this run only:',
      `  ${generatedKey}`,
      `  try: curl -H "authorization: Bearer ${generatedKey}" ${shown}/v1/subjects`,
    );
  } else {
    lines.push(`API keys: ${config.apiKeys.length} configured (${[...new Set(config.apiKeys.map((k) => k.role))].join(', ')})`);
  }
  // The banner goes to stderr as plain text for a person; the structured line below is for log collectors.
  process.stderr.write(banner(lines));
  logger.info(
    { url: shown, docs: `${shown}/docs`, store: store.kind, kafka: config.kafkaBrokers.length > 0, kafkaConsume: config.kafkaBrokers.length > 0 && config.kafkaConsume, generatedAdminKey: generatedKey !== null },
    'cordon started',
  );
  if (generatedKey) logger.warn({ role: 'admin' }, 'generated an admin API key for this run (printed once in the start banner); set CORDON_API_KEYS to choose your own');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    // Kafka first: finish and commit in-flight batches and leave the group, then drain HTTP, then the producer.
    Promise.resolve(kafka?.stopConsumer())
      .then(() => app.close())
      .then(() => kafka?.close())
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`cordon: failed to start: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
