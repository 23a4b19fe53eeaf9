import { CompressionTypes, type Kafka, type Message, type Producer } from 'kafkajs';
import type { KafkaLogger } from './client.ts';
import { silentLogger } from './client.ts';
import { RetriableIngestError, errorMessage } from './errors.ts';
import type { KafkaMetrics } from './metrics.ts';
import { Murmur2Partitioner } from './partitioner.ts';

/**
 * Most messages in one kafkajs `send`. kafkajs groups a send's messages by partition by copying
 * each partition's array for every message added to it, so one send costs time in the square of
 * its messages per partition: 10,000 pings in one send held the event loop for 190 ms, against
 * ~20 ms as sends of this many (bench:kafka-produce).
 */
export const MAX_MESSAGES_PER_SEND = 1_000;

interface Waiter {
  messages: Message[];
  /** messages already handed to a send */
  taken: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * One topic's sends, one at a time, in call order. Calls made while a send is in flight wait and
 * then go together in the next one (up to MAX_MESSAGES_PER_SEND messages; a longer list spans
 * consecutive sends). kafkajs's fixed cost is per send and per partition in it (a record batch
 * each): a 100-ping send over 12 partitions cost ~28 µs of CPU a ping, a 1,000-ping one ~10.
 * Sending one at a time also keeps a tag's pings in call order on its partition. A call resolves
 * once all its messages are acknowledged; a failed send fails every call it carried a part of
 * (their earlier parts stay produced: retrying a ping changes nothing).
 */
export class SendQueue {
  private readonly waiting: Waiter[] = [];
  private busy = false;

  constructor(
    private readonly sendOnce: (messages: Message[]) => Promise<void>,
    private readonly maxPerSend: number = MAX_MESSAGES_PER_SEND,
  ) {}

  push(messages: Message[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ messages, taken: 0, resolve, reject });
      if (!this.busy) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.busy = true;
    try {
      while (this.waiting.length > 0) {
        const batch: Message[] = [];
        const carried: Waiter[] = [];
        while (batch.length < this.maxPerSend && this.waiting.length > 0) {
          const w = this.waiting[0] as Waiter;
          const n = Math.min(this.maxPerSend - batch.length, w.messages.length - w.taken);
          for (let i = 0; i < n; i++) batch.push(w.messages[w.taken + i] as Message);
          w.taken += n;
          carried.push(w);
          if (w.taken === w.messages.length) this.waiting.shift();
        }
        let failure: unknown = null;
        try {
          await this.sendOnce(batch);
        } catch (err) {
          failure = err ?? new Error('kafka send failed');
        }
        for (const w of carried) {
          if (failure !== null) {
            // a call with parts still to send is dropped with the failure (it is at the head)
            if (this.waiting[0] === w) this.waiting.shift();
            w.reject(failure);
          } else if (w.taken === w.messages.length) w.resolve();
        }
      }
    } finally {
      this.busy = false;
    }
  }
}

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
  /**
   * The same for pings already in JSON: each value goes as it is (the bytes a client sent).
   * `arrivedAt` (epoch ms) stamps the record instead of the produce time: a relay re-producing
   * pings it had buffered keeps when they reached it (the consumer takes the record's time as the
   * ping's arrival).
   */
  sendPingBytes(items: readonly { tagId: string; value: Buffer; arrivedAt?: number }[]): Promise<void>;
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
  /**
   * Most messages a send (default MAX_MESSAGES_PER_SEND). A bulk loader that wants big record
   * batches may raise it and pay kafkajs's grouping cost (see MAX_MESSAGES_PER_SEND).
   */
  maxMessagesPerSend?: number;
}

/**
 * The one producer of a Cordon process: pings accepted over HTTP (the 202 path, so the
 * consumer of the tag's partition stays the only owner of its state) and dead letters.
 */
export function createKafkaProducer(opts: KafkaProducerOptions): KafkaProducer {
  const logger = opts.logger ?? silentLogger;
  const producer: Producer = opts.kafka.producer({
    allowAutoTopicCreation: false,
    // murmur2 on the key, as the Java client does: a tag's pings land on one partition whoever
    // produces them (kafkajs's DefaultPartitioner, with the hash in 32-bit arithmetic)
    createPartitioner: Murmur2Partitioner,
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

  const queues = new Map<string, SendQueue>();
  const queueOf = (topic: string): SendQueue => {
    let q = queues.get(topic);
    if (q === undefined) {
      q = new SendQueue(async (messages) => {
        opts.metrics?.produceSends.inc({ topic });
        try {
          await producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
          opts.metrics?.produced.inc({ topic, outcome: 'ok' }, messages.length);
        } catch (err) {
          opts.metrics?.produced.inc({ topic, outcome: 'error' }, messages.length);
          throw new RetriableIngestError(`kafka produce to ${topic} failed: ${errorMessage(err)}`, { cause: err });
        }
      }, Math.max(1, opts.maxMessagesPerSend ?? MAX_MESSAGES_PER_SEND));
      queues.set(topic, q);
    }
    return q;
  };

  const send = async (topic: string, messages: Message[]) => {
    if (messages.length === 0) return;
    await connect();
    await queueOf(topic).push(messages);
  };

  /** pings onto the ingest topic, keyed by tag, stamped with one produce time (or their own arrival) */
  const sendKeyed = (items: readonly { tagId: string; value: Buffer | string; arrivedAt?: number }[]) => {
    const now = String(Date.now());
    return send(
      opts.topic,
      items.map((p) => ({ key: p.tagId, value: p.value, timestamp: p.arrivedAt === undefined ? now : String(Math.floor(p.arrivedAt)) })),
    );
  };

  return {
    connect,
    isConnected: () => connected,
    sendPings: (pings) => sendKeyed(pings.map((p) => ({ tagId: p.tagId, value: JSON.stringify(p) }))),
    sendPingBytes: (items) => sendKeyed(items),
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
