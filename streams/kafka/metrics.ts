import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The Kafka adapter's Prometheus collectors. Created on a registry the caller owns (the
 * HTTP app's `/metrics` registry in the service, a fresh one in tests), so several
 * consumers in one process never collide on names.
 */
export interface KafkaMetrics {
  readonly registry: Registry;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly batchSeconds: Histogram<'topic'>;
  readonly batchMessages: Histogram<'topic'>;
  readonly messages: Counter<'topic' | 'outcome'>;
  readonly retries: Counter<'topic' | 'reason'>;
  readonly produced: Counter<'topic' | 'outcome'>;
  /** produce requests sent (each carries the pings of every request that queued behind the one before) */
  readonly produceSends: Counter<'topic'>;
  readonly rebalances: Counter<'group'>;
}

const cache = new WeakMap<Registry, KafkaMetrics>();

/** Registers (once per registry) and returns the Kafka collectors. */
export function kafkaMetrics(registry: Registry = new Registry()): KafkaMetrics {
  const known = cache.get(registry);
  if (known) return known;
  const registers = [registry];
  const m: KafkaMetrics = {
    registry,
    lag: new Gauge({
      name: 'cordon_kafka_consumer_lag',
      help: 'Messages behind the partition high watermark after the last handled batch',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'cordon_kafka_batch_duration_seconds',
      help: 'Time to decode, process, durably write and dead-letter one Kafka batch',
      labelNames: ['topic'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    batchMessages: new Histogram({
      name: 'cordon_kafka_batch_messages',
      help: 'Messages per handled Kafka batch',
      labelNames: ['topic'],
      buckets: [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000],
      registers,
    }),
    messages: new Counter({
      name: 'cordon_kafka_messages_total',
      help: 'Kafka messages handled, by outcome (processed | dead_lettered)',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    retries: new Counter({
      name: 'cordon_kafka_batch_retries_total',
      help: 'Batch attempts that failed and were retried (the partition was held meanwhile)',
      labelNames: ['topic', 'reason'],
      registers,
    }),
    produced: new Counter({
      name: 'cordon_kafka_produced_total',
      help: 'Messages produced by Cordon (pings from HTTP, dead letters), by outcome',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    produceSends: new Counter({
      name: 'cordon_kafka_produce_sends_total',
      help: 'Produce requests sent by Cordon; produced messages / sends = messages per request',
      labelNames: ['topic'],
      registers,
    }),
    rebalances: new Counter({
      name: 'cordon_kafka_group_joins_total',
      help: 'Consumer group joins (each rebalance that reaches this instance)',
      labelNames: ['group'],
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
