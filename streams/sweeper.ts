/**
 * Clock-driven checks (CONTRACT §3): signal lost, no fix, grace expiry with no further ping, window
 * starts and ends. Each tag's next check time lives in the store's due set (written with every
 * commit from tracker.nextTickAt; a new assignment is due at once, so signal-lost also fires for a
 * tag that never sent a ping). Each pass takes the due tags, claims a lease per (tag, due time) —
 * so with several instances on one Redis exactly one of them ticks each due check — and ticks the
 * claimed tags in one batch through the pipeline (one state load, one commit). Idempotent opens
 * guard the rest: even a double tick cannot raise a second alert.
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
}

export interface SweepResult extends BatchResult {
  /** due checks found */
  due: number;
  /** of those, claimed and ticked by this instance */
  ticked: number;
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

  async function runOnce(now: number = clock.now()): Promise<SweepResult> {
    const due = await opts.store.dueTags(now, batchSize);
    if (due.length === 0) return { due: 0, ticked: 0, processed: 0, unknownTags: 0, events: [], alerts: [] };
    const won = await opts.store.claimMany(
      due.map((d) => `tick:${d.tagId}@${d.dueAt}`),
      leaseMs,
    );
    const mine = due.filter((_, i) => won[i]);
    const r = await pipeline.tickTags(mine, now);
    return { ...r, due: due.length, ticked: mine.length };
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
