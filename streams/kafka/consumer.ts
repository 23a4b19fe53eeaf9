import { PartitionAssigners, type Batch, type Consumer, type EachBatchPayload, type Kafka, type PartitionAssigner } from 'kafkajs';
import type { KafkaLogger } from './client.ts';
import { silentLogger } from './client.ts';
import { FatalIngestError, errorMessage, isFatal, isRebalanceError } from './errors.ts';
import type { KafkaMetrics } from './metrics.ts';
import type { DeadLetter, KafkaProducer } from './producer.ts';
import { IngestProgress } from './progress.ts';

/** What a decoder says about one message value. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Where a batch came from (for logs and for handlers that care). */
export interface BatchContext {
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  /**
   * When each item reached Kafka (epoch ms, one per item): its record's timestamp, at most the
   * time the slice was handed over (a producer's clock running ahead cannot date a ping ahead).
   */
  arrivals: number[];
}

/**
 * Handles the valid items of one partition's batch, in offset order. It must have made
 * its work durable when it resolves: the offsets are committed right after.
 */
export type BatchHandler<T> = (items: T[], ctx: BatchContext) => Promise<void>;

export interface KafkaIngestOptions<T> {
  kafka: Kafka;
  topic: string;
  groupId: string;
  /** decodes and validates one message value (bytes never empty, never oversized) */
  decode: (value: Buffer) => DecodeResult<T>;
  handle: BatchHandler<T>;
  /** used for the dead-letter topic */
  producer: Pick<KafkaProducer, 'sendDeadLetters'>;
  metrics?: KafkaMetrics;
  logger?: KafkaLogger;
  /** values larger than this go to the DLQ (default 64 KiB) */
  maxMessageBytes?: number;
  /** most messages handed to `handle` at once: a bigger fetched batch is handled in slices (default 2,000) */
  maxBatchMessages?: number;
  /** read from the start when the group has no committed offset (default true: no ping is skipped) */
  fromBeginning?: boolean;
  /** partitions handled at once by this instance (default 4) */
  partitionsConsumedConcurrently?: number;
  /** retry backoff while a batch cannot be written (default 100 ms doubling to 5 s, with jitter) */
  backoff?: { initialMs?: number; maxMs?: number };
  /** kafkajs group timings; defaults suit production, tests shorten them */
  sessionTimeout?: number;
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxWaitTimeInMs?: number;
  maxBytesPerPartition?: number;
  /**
   * Delay before the group leader sends its assignment (default 0). librdkafka's mock
   * cluster (tests, bench) rejects a follower's SyncGroup that arrives after the leader's;
   * a short delay lets followers sync first. Real brokers do not need it.
   */
  assignDelayMs?: number;
  /** after dead letters are acknowledged (metrics) */
  onDeadLetters?: (letters: readonly DeadLetter[]) => void;
  /** called once when the consumer stops for good (fatal error or kafkajs crash without restart) */
  onFatal?: (err: Error) => void;
}

export interface KafkaIngestStatus {
  running: boolean;
  /** member of the group with an assignment (possibly empty) */
  joined: boolean;
  /** a batch is currently held because its writes keep failing */
  holding: boolean;
  /** batches being handled right now */
  inFlight: number;
  memberId: string | null;
  assigned: Array<{ topic: string; partitions: number[] }>;
}

export interface KafkaIngest {
  /** connects, joins the group and starts consuming; resolves once the consumer runs */
  start(): Promise<void>;
  /** finishes the in-flight batches, commits, leaves the group; idempotent */
  stop(): Promise<void>;
  /**
   * Running, not failed, has joined its group, and not waiting to rebuild a failed consumer.
   * A rebalance in progress does not make it unready (every instance rebalances at once;
   * pulling them all out of a load balancer for it would stop HTTP ingest for nothing).
   */
  isReady(): boolean;
  status(): KafkaIngestStatus;
  /**
   * Every ping that reached Kafka before this instant (epoch ms) has been judged and written (see
   * IngestProgress); 0 while that is not known yet, null when this consumer holds no partition.
   */
  through(): number | null;
}

/** a record's time as its ping's arrival: at most `now`, `now` when the record has none */
function arrivalOf(m: Batch['messages'][number], now: number): number {
  const t = Number(m.timestamp);
  return t > 0 && t < now ? t : now;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Consumer-group ingest: one batch per partition at a time, in offset order. For each
 * batch: validate every message (poison → dead-letter topic, original bytes, headers
 * `cordon-error` and `cordon-source`), hand the valid items to `handle` (which writes
 * events, state and positions durably), and only then resolve the batch's offsets; they
 * are committed right after the batch. A failing write holds the partition and is retried
 * with backoff: no offset is committed past unwritten work. A crash at any point replays
 * from the last commit; deterministic alert ids make the replay harmless.
 */
export function createKafkaIngest<T>(opts: KafkaIngestOptions<T>): KafkaIngest {
  const logger = opts.logger ?? silentLogger;
  const metrics = opts.metrics;
  const maxBytes = opts.maxMessageBytes ?? 64 * 1024;
  const maxBatchMessages = Math.max(1, opts.maxBatchMessages ?? 2_000);
  const initialBackoff = opts.backoff?.initialMs ?? 100;
  const maxBackoff = opts.backoff?.maxMs ?? 5_000;
  const stopSignal = new AbortController();

  let fatal: Error | null = null;
  let joined = false;
  let everJoined = false;
  let running = false;
  let holding = 0;
  let inFlight = 0;
  let memberId: string | null = null;
  let assigned: KafkaIngestStatus['assigned'] = [];
  let starting: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;

  let consumer: Consumer | null = null;
  const progress = new IngestProgress({ maxOutMs: (opts.sessionTimeout ?? 30_000) + (opts.rebalanceTimeout ?? 60_000) });
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | null = null;

  const scheduleRebuild = (old: Consumer | null, err: unknown) => {
    if (stopSignal.signal.aborted || restartTimer) return;
    restarts++;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(restarts - 1, 6));
    logger.warn({ err: errorMessage(err), groupId: opts.groupId, restartInMs: delay, restarts }, 'kafka consumer failed; rebuilding it');
    restartTimer = setTimeout(() => {
      restartTimer = null;
      void (async () => {
        await old?.disconnect().catch(() => {});
        if (stopSignal.signal.aborted) return;
        try {
          await launch();
        } catch (launchErr) {
          scheduleRebuild(consumer, launchErr);
        }
      })();
    }, delay);
  };

  const assignDelayMs = opts.assignDelayMs ?? 0;
  /** round-robin (same protocol name, so it mixes with plain members), optionally delayed */
  const assigner: PartitionAssigner = (config) => {
    const inner = PartitionAssigners.roundRobin(config);
    if (assignDelayMs <= 0) return inner;
    return {
      name: inner.name,
      version: inner.version,
      protocol: (subscription) => inner.protocol(subscription),
      assign: async (group) => {
        await new Promise((r) => setTimeout(r, assignDelayMs));
        return inner.assign(group);
      },
    };
  };

  /** A fresh kafkajs consumer with our listeners (a crashed one cannot be reused). */
  const makeConsumer = (): Consumer => {
    const c = opts.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      partitionAssigners: [assigner],
      sessionTimeout: opts.sessionTimeout ?? 30_000,
      rebalanceTimeout: opts.rebalanceTimeout ?? 60_000,
      heartbeatInterval: opts.heartbeatInterval ?? 3_000,
      maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 500,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 4 * 1024 * 1024,
      retry: {
        retries: 8,
        // kafkajs restarts itself after retriable Kafka errors; a FatalIngestError stops it
        restartOnFailure: async (err: Error) => !isFatal(err) && !isFatal((err as { originalError?: unknown }).originalError),
      },
    });
    c.on(c.events.GROUP_JOIN, (e) => {
      joined = true;
      everJoined = true;
      restarts = 0;
      memberId = e.payload.memberId;
      assigned = Object.entries(e.payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions }));
      progress.onJoin(assigned.reduce((n, a) => n + a.partitions.length, 0));
      metrics?.rebalances.inc({ group: opts.groupId });
      // partitions that moved away must not keep reporting their last lag from here
      metrics?.lag.reset();
      logger.info({ groupId: opts.groupId, memberId, assigned, durationMs: e.payload.duration }, 'kafka group joined');
    });
    c.on(c.events.FETCH_START, (e) => progress.onFetchStart(e.payload.nodeId, Date.now()));
    c.on(c.events.REBALANCING, () => {
      joined = false;
      progress.onLeave(Date.now());
      logger.info({ groupId: opts.groupId, memberId }, 'kafka group rebalancing');
    });
    c.on(c.events.CRASH, (e) => {
      joined = false;
      progress.onLeave(Date.now());
      const err = e.payload.error;
      if (e.payload.restart) {
        logger.warn({ err: errorMessage(err), groupId: opts.groupId }, 'kafka consumer crashed; kafkajs restarts it');
        return;
      }
      if (fatal || stopSignal.signal.aborted) return;
      if (isFatal(err) || isFatal((err as { originalError?: unknown }).originalError)) {
        fatal = err;
        running = false;
        logger.error({ err: errorMessage(err), groupId: opts.groupId }, 'kafka consumer stopped (fatal)');
        opts.onFatal?.(err);
        return;
      }
      // A Kafka error kafkajs will not retry (e.g. a coordinator answering INVALID_REQUEST to a
      // late SyncGroup during a rebalance): nothing past the last durable batch was committed,
      // so a fresh consumer rejoining the group is always safe.
      scheduleRebuild(c, err);
    });
    c.on(c.events.STOP, () => {
      joined = false;
      progress.onLeave(Date.now());
    });
    return c;
  };

  const toDeadLetter = (batch: Batch, m: Batch['messages'][number], reason: string): DeadLetter => ({
    value: m.value,
    key: m.key,
    reason,
    source: { topic: batch.topic, partition: batch.partition, offset: m.offset },
    headers: m.headers,
  });

  /** Runs `step` until it succeeds; false when the batch must be abandoned (stop or rebalance). */
  const untilDone = async (step: () => Promise<void>, payload: EachBatchPayload, what: string): Promise<boolean> => {
    const { batch } = payload;
    let attempt = 0;
    let delay = initialBackoff;
    for (;;) {
      try {
        await step();
        if (attempt > 0) {
          holding--;
          logger.info({ topic: batch.topic, partition: batch.partition, attempts: attempt + 1 }, `${what} succeeded after retries; partition resumed`);
        }
        return true;
      } catch (err) {
        if (isFatal(err)) {
          if (attempt > 0) holding--;
          throw err;
        }
        if (attempt === 0) holding++;
        attempt++;
        metrics?.retries.inc({ topic: batch.topic, reason: what });
        const log = attempt === 1 || attempt % 20 === 0 ? logger.warn.bind(logger) : logger.debug.bind(logger);
        log(
          { topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset(), attempt, retryInMs: delay, err: errorMessage(err) },
          `${what} failed; holding the partition and retrying`,
        );
        await sleep(delay * (0.5 + Math.random() / 2), stopSignal.signal);
        delay = Math.min(delay * 2, maxBackoff);
        // not ours any more, or shutting down: leave it uncommitted, it will be replayed
        if (!payload.isRunning() || payload.isStale() || stopSignal.signal.aborted) {
          holding--;
          logger.warn({ topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset() }, 'batch abandoned uncommitted (stop or rebalance); it will be replayed');
          return false;
        }
        try {
          await payload.heartbeat();
        } catch (hbErr) {
          holding--;
          if (isRebalanceError(hbErr)) {
            logger.warn({ topic: batch.topic, partition: batch.partition }, 'rebalance while holding a batch; leaving it uncommitted');
          }
          throw hbErr; // kafkajs rejoins the group; the batch is replayed by its next owner
        }
      }
    }
  };

  /** One slice of a partition's batch, start to end: validate, dead-letter, write, then resolve its offset. */
  const handleSlice = async (payload: EachBatchPayload, messages: Batch['messages'], resolveTo: string): Promise<boolean> => {
    const { batch } = payload;
    const started = performance.now();
    const now = Date.now();
    const items: T[] = [];
    const arrivals: number[] = [];
    const letters: DeadLetter[] = [];
    for (const m of messages) {
      const v = m.value;
      if (!v || v.length === 0) letters.push(toDeadLetter(batch, m, 'empty message'));
      else if (v.length > maxBytes) letters.push(toDeadLetter(batch, m, `message too large: ${v.length} bytes > ${maxBytes}`));
      else {
        const r = opts.decode(v);
        if (r.ok) {
          items.push(r.value);
          arrivals.push(arrivalOf(m, now));
        } else letters.push(toDeadLetter(batch, m, r.reason));
      }
    }
    const ctx: BatchContext = { topic: batch.topic, partition: batch.partition, firstOffset: messages[0]?.offset ?? resolveTo, lastOffset: resolveTo, arrivals };
    // dead letters first: once they are acked, the handler's success may commit past them
    if (letters.length > 0) {
      if (!(await untilDone(() => opts.producer.sendDeadLetters(letters), payload, 'dead-letter produce'))) return false;
      opts.onDeadLetters?.(letters);
    }
    if (items.length > 0 && !(await untilDone(() => opts.handle(items, ctx), payload, 'batch write'))) return false;
    // everything in the slice is durable (or dead-lettered): now the offset may move
    payload.resolveOffset(resolveTo);
    const lag = Math.max(0, Number(batch.highWatermark) - Number(resolveTo) - 1);
    const lastMessage = messages[messages.length - 1];
    if (lastMessage) progress.onHandled(batch.topic, batch.partition, arrivalOf(lastMessage, now), lag);
    metrics?.messages.inc({ topic: batch.topic, outcome: 'processed' }, items.length);
    if (letters.length > 0) metrics?.messages.inc({ topic: batch.topic, outcome: 'dead_lettered' }, letters.length);
    metrics?.batchMessages.observe({ topic: batch.topic }, messages.length);
    metrics?.batchSeconds.observe({ topic: batch.topic }, (performance.now() - started) / 1000);
    metrics?.lag.set({ topic: batch.topic, partition: String(batch.partition) }, lag);
    return true;
  };

  /**
   * One OffsetCommit for the partitions whose batches finish in the same turn (they usually do:
   * the ingest merges them into one store write). Left to kafkajs, each partition's batch sends
   * its own commit of the same offsets at the same moment, and the broker answers the extra
   * concurrent requests late (tens of ms with librdkafka's cluster), which the next fetch waits
   * for. Once this commit is done, kafkajs's own commit after each batch finds nothing left.
   */
  let pendingCommit: Promise<void> | null = null;
  const commitTogether = (payload: EachBatchPayload): Promise<void> => {
    pendingCommit ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        pendingCommit = null;
        payload.commitOffsetsIfNecessary().then(resolve, reject);
      });
    });
    return pendingCommit;
  };

  /**
   * A fetched batch can hold tens of thousands of messages (up to maxBytesPerPartition); it is
   * handled in slices of at most `maxBatchMessages`, each one unit of work (one store commit),
   * its offset resolved as soon as it is durable.
   */
  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload;
    const all = batch.messages;
    for (let i = 0; i < all.length; i += maxBatchMessages) {
      const slice = all.slice(i, i + maxBatchMessages);
      const last = i + maxBatchMessages >= all.length;
      // the last slice resolves the batch's last offset (it also covers filtered control records)
      const resolveTo = last ? batch.lastOffset() : (slice[slice.length - 1] as Batch['messages'][number]).offset;
      if (!(await handleSlice(payload, slice, resolveTo))) return;
      if (last) return commitTogether(payload);
      if (!payload.isRunning() || payload.isStale()) return; // what is resolved gets committed; the rest is replayed
      await payload.heartbeat();
      await commitTogether(payload);
    }
  };

  const launch = async () => {
    const c = makeConsumer();
    consumer = c;
    await c.connect();
    await c.subscribe({ topics: [opts.topic], fromBeginning: opts.fromBeginning ?? true });
    await c.run({
      autoCommit: true,
      // commitOffsetsIfNecessary() then commits whatever is resolved (only ever durable work)
      autoCommitThreshold: 1,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 4,
      eachBatch: async (payload) => {
        inFlight++;
        try {
          await eachBatch(payload);
        } catch (err) {
          if (isFatal(err)) {
            logger.error(
              { err: errorMessage(err), topic: payload.batch.topic, partition: payload.batch.partition },
              'fatal error handling a batch (nothing committed past it)',
            );
          }
          throw err;
        } finally {
          inFlight--;
        }
      },
    });
  };

  return {
    start() {
      starting ??= (async () => {
        await launch();
        running = true;
      })();
      return starting;
    },
    stop() {
      stopping ??= (async () => {
        stopSignal.abort();
        running = false;
        if (restartTimer) clearTimeout(restartTimer);
        if (starting) await starting.catch(() => {});
        // kafkajs waits for in-flight batches, commits resolved offsets and leaves the group
        await consumer?.disconnect();
        joined = false;
      })();
      return stopping;
    },
    isReady: () => running && everJoined && fatal === null && restartTimer === null,
    status: () => ({ running: running && fatal === null, joined, holding: holding > 0, inFlight, memberId, assigned }),
    through: () => (stopping ? null : progress.through(Date.now(), inFlight)),
  };
}
