import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { KafkaLogger } from './client.ts';
import { silentLogger } from './client.ts';
import { RetriableIngestError, errorMessage } from './errors.ts';
import type { KafkaMetrics } from './metrics.ts';

/** A ping as it goes onto the topic: the caller's JSON object (extra fields kept), keyed by tagId. */
export interface PingRecord {
  tagId: string;
  [field: string]: unknown;
}

/** One poison message on its way to the dead-letter topic. */
export interface DeadLetter {
  /** the original bytes, unchanged */
  value: Buffer | null;
  key: Buffer | null;
  /** human-readable reason, sent as header `cordon-error` */
  reason: string;
  source: { topic: string; partition: number; offset: string };
  /** original headers are kept (ours are added) */
  headers?: Message['headers'];
}

export interface KafkaProducer {
  connect(): Promise<void>;
  /** Produces pings to the ingest topic, key = tagId; resolves when every replica acked. */
  sendPings(pings: readonly PingRecord[]): Promise<void>;
  /** Produces dead letters; resolves when acked (before the source offset may be committed). */
  sendDeadLetters(letters: readonly DeadLetter[]): Promise<void>;
  isConnected(): boolean;
  /** idempotent */
  close(): Promise<void>;
}

export interface KafkaProducerOptions {
  kafka: Kafka;
  topic: string;
  dlqTopic: string;
  metrics?: KafkaMetrics;
  logger?: KafkaLogger;
}

/**
 * The one producer of a Cordon process: pings accepted over HTTP (the 202 path, so the
 * consumer of the tag's partition stays the only owner of its state) and dead letters.
 */
export function createKafkaProducer(opts: KafkaProducerOptions): KafkaProducer {
  const logger = opts.logger ?? silentLogger;
  const producer: Producer = opts.kafka.producer({
    allowAutoTopicCreation: false,
    // murmur2 on the key, as the Java client does: a tag's pings land on one partition whoever produces them
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 5 },
  });
  let connected = false;
  let connecting: Promise<void> | null = null;
  let closing: Promise<void> | null = null;
  producer.on(producer.events.CONNECT, () => {
    connected = true;
  });
  producer.on(producer.events.DISCONNECT, () => {
    connected = false;
  });

  const connect = () => {
    connecting ??= producer.connect().catch((err: unknown) => {
      connecting = null;
      throw new RetriableIngestError(`kafka producer could not connect: ${errorMessage(err)}`, { cause: err });
    });
    return connecting;
  };

  const send = async (topic: string, messages: Message[]) => {
    if (messages.length === 0) return;
    await connect();
    try {
      await producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
      opts.metrics?.produced.inc({ topic, outcome: 'ok' }, messages.length);
    } catch (err) {
      opts.metrics?.produced.inc({ topic, outcome: 'error' }, messages.length);
      throw new RetriableIngestError(`kafka produce to ${topic} failed: ${errorMessage(err)}`, { cause: err });
    }
  };

  return {
    connect,
    isConnected: () => connected,
    async sendPings(pings) {
      const now = String(Date.now());
      await send(
        opts.topic,
        pings.map((p) => ({ key: p.tagId, value: JSON.stringify(p), timestamp: now })),
      );
    },
    async sendDeadLetters(letters) {
      await send(
        opts.dlqTopic,
        letters.map((l) => ({
          key: l.key,
          value: l.value,
          headers: {
            ...l.headers,
            'cordon-error': l.reason,
            'cordon-source': `${l.source.topic}/${l.source.partition}/${l.source.offset}`,
          },
        })),
      );
      for (const l of letters) logger.warn({ source: l.source, reason: l.reason }, 'message dead-lettered');
    },
    close() {
      closing ??= (async () => {
        if (connecting) await connecting.catch(() => {});
        await producer.disconnect();
        connected = false;
      })();
      return closing;
    },
  };
}
