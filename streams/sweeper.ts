/**
 * Clock-driven checks (CONTRACT §3): signal lost, no fix, grace expiry with no further ping, window
 * starts and ends. Each tag's next check time lives in the store's due set (written with every
 * commit from tracker.nextTickAt; a new assignment is due at once, so signal-lost also fires for a
 * tag that never sent a ping). Each pass takes the due tags, claims a lease per (tag, due time) —
 * so with several instances on one Redis exactly one of them ticks each due check — and ticks the
 * claimed tags in one batch through the pipeline (one state load, one commit). Idempotent opens
 * guard the rest: even a double tick cannot raise a second alert.
 *
 * With the Kafka ingest (`followIngest`) the checks run at the least progress the consumers
 * report (CordonStore.ingestProgress), never ahead of it: a tag whose pings still wait in Kafka
 * (a backlog after an outage, a rebalance) is not silent, and a breach one of them clears must not
 * be raised by the clock. No report at all (no consumer has joined yet) holds every check.
 * Alerts raised keep the wall clock as their detectedAt.
 */
import type { TrackerConfig, ZoneLookup } from '../geo/types.ts';
import { createIngestPipeline } from './pipeline.ts';
import type { BatchResult, IngestPipeline, LogLike } from './pipeline.ts';
import type { Clock, CordonStore } from './ports.ts';
import { systemClock } from './ports.ts';

export interface SweeperOptions {
  store: CordonStore;
  zones: ZoneLookup;
  config: TrackerConfig;
  clock?: Clock;
  logger?: LogLike;
  /** share the ingest pipeline so ticks and pings on one tag never interleave in this process */
  pipeline?: IngestPipeline;
  /** pause between passes when nothing was due (default 1000 ms) */
  intervalMs?: number;
  /** tags per pass (default 500); a full pass is followed at once by another */
  batchSize?: number;
  /** lease per due check; another instance may retry it after this long (default 30 s) */
  leaseMs?: number;
  /** run the checks no later than the Kafka consumers' reported progress (set with Kafka ingest) */
  followIngest?: boolean;
  /**
   * each pass: how far the checks' instant was held behind the wall clock (ms; 0 = not held), or,
   * while no consumer has reported at all, for how long that has been so
   */
  onHeld?: (behindMs: number) => void;
  /** log a warning when the checks fall this far behind the wall clock (default 60 s) */
  warnBehindMs?: number;
}

export interface SweepResult extends BatchResult {
  /** due checks found */
  due: number;
  /** of those, claimed and ticked by this instance */
  ticked: number;
  /** the instant the checks ran at (the wall clock unless held back by the ingest; 0: all held) */
  at: number;
}

export interface Sweeper {
  /** one pass at `now` (default clock.now()); for tests and the timer */
  runOnce(now?: number): Promise<SweepResult>;
  /** alias of runOnce */
  tick(now?: number): Promise<SweepResult>;
  start(): void;
  /** stops the timer and waits for a pass in progress; idempotent */
  stop(): Promise<void>;
}

export function createSweeper(opts: SweeperOptions): Sweeper {
  const clock = opts.clock ?? systemClock;
  const intervalMs = opts.intervalMs ?? 1000;
  const batchSize = opts.batchSize ?? 500;
  const leaseMs = opts.leaseMs ?? 30_000;
  const ownPipeline = opts.pipeline
    ? null
    : createIngestPipeline({ store: opts.store, zones: opts.zones, config: opts.config, clock, ...(opts.logger ? { logger: opts.logger } : {}) });
  const pipeline = opts.pipeline ?? (ownPipeline as IngestPipeline);

  const warnBehindMs = opts.warnBehindMs ?? 60_000;
  let warnedAt = 0;
  /** since when no consumer has reported (null: one has) */
  let unreportedSince: number | null = null;

  /** the instant the checks may run at: `now`, or the ingest's progress when that is earlier */
  async function instant(now: number): Promise<number> {
    if (!opts.followIngest) return now;
    const through = await opts.store.ingestProgress();
    const at = through === null ? 0 : Math.max(0, Math.min(now, through));
    // everything held (no report yet, or one that knows nothing yet): how long that has lasted
    if (at === 0) unreportedSince ??= now;
    else unreportedSince = null;
    const behind = unreportedSince === null ? now - at : now - unreportedSince;
    opts.onHeld?.(behind);
    if (behind >= warnBehindMs && now - warnedAt >= warnBehindMs) {
      warnedAt = now;
      opts.logger?.warn(
        { behindS: at === 0 ? null : Math.round(behind / 1000), reported: through !== null },
        at === 0
          ? 'clock-driven checks held: no Kafka consumer has reported its progress yet'
          : 'clock-driven checks held behind the wall clock: the Kafka ingest has not judged every ping that arrived since',
      );
    }
    return at;
  }

  async function runOnce(now: number = clock.now()): Promise<SweepResult> {
    const at = await instant(now);
    if (at <= 0) return { due: 0, ticked: 0, processed: 0, unknownTags: 0, events: [], alerts: [], at };
    const due = await opts.store.dueTags(at, batchSize);
    if (due.length === 0) return { due: 0, ticked: 0, processed: 0, unknownTags: 0, events: [], alerts: [], at };
    const won = await opts.store.claimMany(
      due.map((d) => `tick:${d.tagId}@${d.dueAt}`),
      leaseMs,
    );
    const mine = due.filter((_, i) => won[i]);
    const r = await pipeline.tickTags(mine, at, now);
    return { ...r, due: due.length, ticked: mine.length, at };
  }

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = true;

  const loop = (): void => {
    if (stopped) return;
    running = runOnce()
      .then(
        (r) => (r.due >= batchSize ? 0 : intervalMs),
        (err: unknown) => {
          opts.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'sweeper pass failed; will retry');
          return intervalMs;
        },
      )
      .then((wait) => {
        running = null;
        if (!stopped) timer = setTimeout(loop, wait);
      });
  };

  return {
    runOnce,
    tick: runOnce,
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setTimeout(loop, 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await running;
      ownPipeline?.close();
    },
  };
}
