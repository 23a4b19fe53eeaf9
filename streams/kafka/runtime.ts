import type { Registry } from 'prom-client';
import { createKafkaClient, type KafkaLogger } from './client.ts';
import type { KafkaIngest } from './consumer.ts';
import { createPingIngest, type PingBatchProcessor, type PingIngestOptions } from './ingest.ts';
import { kafkaMetrics } from './metrics.ts';
import { createKafkaProducer, type KafkaProducer } from './producer.ts';

export interface KafkaRuntimeOptions {
  brokers: string[];
  topic: string;
  dlqTopic: string;
  groupId: string;
  clientId?: string;
  logger?: KafkaLogger;
  /** the service's /metrics registry: the Kafka collectors are registered on it */
  registry?: Registry;
  defaultAccuracyM?: number;
  /** false: produce only, never join the group (startConsumer is not called); readiness is the producer's */
  consume?: boolean;
}

/**
 * Cordon's Kafka side in one object, for the composition root: the producer behind
 * `POST /v1/pings` (202) and the consumer group feeding the ingest pipeline.
 * Shutdown order: `stopConsumer()` (drain + commit + leave), then the HTTP server, then `close()`.
 */
export interface KafkaRuntime {
  /** the ping sink for the HTTP 202 path */
  readonly producer: KafkaProducer;
  /** connects the producer; rejects when no broker answers */
  connect(): Promise<void>;
  /**
   * Joins the group and starts judging pings with `pipeline`. `reportProgress` is called at once,
   * then every `progressEveryMs` (default 1 s), with how far this consumer has judged (see
   * KafkaIngest.through), and with null once it has stopped: the service shares it through the
   * store so that every instance's sweeper waits for the slowest consumer.
   */
  startConsumer(
    pipeline: PingBatchProcessor,
    hooks?: Pick<PingIngestOptions, 'onBatch' | 'onDeadLetters' | 'onFatal'> & {
      reportProgress?: (through: number | null) => Promise<void>;
      progressEveryMs?: number;
    },
  ): Promise<void>;
  /** producer connected and consumer in its group (producer only with `consume: false`) */
  isReady(): boolean;
  /** drains in-flight batches, commits, leaves the group (idempotent) */
  stopConsumer(): Promise<void>;
  /** stops the consumer if still running, then the producer (idempotent) */
  close(): Promise<void>;
}

export function createKafkaRuntime(opts: KafkaRuntimeOptions): KafkaRuntime {
  const kafka = createKafkaClient({ brokers: opts.brokers, clientId: opts.clientId ?? 'cordon', logger: opts.logger });
  const metrics = opts.registry ? kafkaMetrics(opts.registry) : undefined;
  const producer = createKafkaProducer({ kafka, topic: opts.topic, dlqTopic: opts.dlqTopic, metrics, logger: opts.logger });
  let ingest: KafkaIngest | null = null;
  let closing: Promise<void> | null = null;
  let reporter: { timer: NodeJS.Timeout; report: (through: number | null) => Promise<void> } | null = null;
  // one report at a time, in order: the final null must not be overtaken by an earlier value
  let reporting: Promise<void> = Promise.resolve();
  let failures = 0;
  const report = (through: number | null): Promise<void> => {
    const r = reporter;
    if (!r) return reporting;
    reporting = reporting.then(() =>
      r.report(through).then(
        () => {
          failures = 0;
        },
        (err: unknown) => {
          // once a second while the store is down: the first failure and every minute after at warn
          const log = failures++ % 60 === 0 ? opts.logger?.warn : opts.logger?.debug;
          log?.call(opts.logger, { err: (err as Error).message, failures }, "could not report the consumer's progress; the next report retries");
        },
      ),
    );
    return reporting;
  };
  const stopConsumer = async () => {
    await ingest?.stop();
    if (reporter) {
      clearInterval(reporter.timer);
      await report(null);
      reporter = null;
    }
  };
  return {
    producer,
    connect: () => producer.connect(),
    async startConsumer(pipeline, { reportProgress, progressEveryMs, ...hooks } = {}) {
      if (ingest) throw new Error('the Kafka consumer is already started');
      if (opts.consume === false) throw new Error('this Kafka runtime produces only (consume: false)');
      const started = createPingIngest({
        kafka,
        topic: opts.topic,
        groupId: opts.groupId,
        pipeline,
        producer,
        metrics,
        logger: opts.logger,
        defaultAccuracyM: opts.defaultAccuracyM,
        ...hooks,
      });
      ingest = started;
      if (reportProgress) {
        reporter = { timer: setInterval(() => void report(started.through()), progressEveryMs ?? 1000), report: reportProgress };
        reporter.timer.unref();
        await report(started.through());
      }
      await started.start();
    },
    isReady: () => producer.isConnected() && (opts.consume === false || (ingest?.isReady() ?? false)),
    stopConsumer,
    close() {
      closing ??= (async () => {
        await stopConsumer();
        await producer.close();
      })();
      return closing;
    },
  };
}
