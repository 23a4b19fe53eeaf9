/**
 * The ingest pipeline: decoded pings → tracker (geo) → one atomic store commit (alerts, events,
 * tag states, positions). A batch (an HTTP array, a Kafka batch) is one unit of work: one state
 * load, one commit, whatever its size.
 *
 *   processBatch(pings)  resolve tag → subject (cached; refreshed on config changes)
 *                        load every touched tag's state in one call
 *                        applyPing per ping in arrival order
 *                        commit once (events are written before it resolves)
 *   tickTags(due, now)   the same for clock-driven checks (used by the sweeper)
 *
 * Within one process, work on a tag is serialised: a batch waits for earlier in-flight batches
 * that touch any of its tags (shared by every pipeline on one store object, the sweeper's too).
 * Across processes (a sweeper elsewhere, a partition handed over mid-batch) each tag's state is
 * written compare-and-set on its revision; a tag that changed underneath is judged again from its
 * fresh state. Replays are harmless because commits are idempotent.
 */
import { applyPing, applyPingInPlace, newestTs, nextTickAt, tick } from '../geo/tracker.ts';
import type { TagState } from '../geo/tracker.ts';
import type { AlertChange, Ping, TagContext, TrackerConfig, ZoneLookup } from '../geo/types.ts';
import type { Alert, AlertEvent, Clock, CordonStore, DueTag, PositionWrite, StoredTagState, TagStateWrite, Unsubscribe } from './ports.ts';
import { systemClock } from './ports.ts';

/** The slice of a pino logger the pipeline uses. */
export interface LogLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface IngestPipelineOptions {
  store: CordonStore;
  zones: ZoneLookup;
  config: TrackerConfig;
  clock?: Clock;
  logger?: LogLike;
  /** called once per batch for each unassigned tag with its ping count (metrics) */
  onUnknownTag?: (tagId: string, pings: number) => void;
  /** how long a "not assigned" answer is trusted before asking the store again (ms, default 1000) */
  negativeTtlMs?: number;
  /**
   * The tag cache follows config changes; it is also reloaded whole this often (ms, default 60 000)
   * in the background, so a change missed while the pub/sub connection was down does not linger.
   */
  cacheRefreshMs?: number;
}

export interface BatchResult {
  /** pings judged (assigned tags) */
  processed: number;
  /** pings of unassigned tags, ignored */
  unknownTags: number;
  /** events written by this batch, in order */
  events: AlertEvent[];
  /** alerts opened, updated or ended by this batch, final state, once each */
  alerts: Alert[];
}

/** per-call options of processBatch */
export interface ProcessOptions {
  /** false: the result's `alerts` stays empty (CommitBatch.alerts); the events are complete either way */
  alerts?: boolean;
  /**
   * When each ping reached the system (epoch ms, one per ping; default: the wall clock now).
   * The Kafka ingest passes the records' times: a backlog judged late is not silence.
   */
  arrivals?: ArrayLike<number>;
}

export interface IngestPipeline {
  processBatch(pings: readonly Ping[], extras?: readonly (Record<string, unknown> | null)[], options?: ProcessOptions): Promise<BatchResult>;
  /**
   * clock-driven checks for these tags at `now` (the caller holds their leases); alerts raised
   * get `detectedAt` (default `now`; the sweeper's `now` may be held back behind the wall clock)
   */
  tickTags(due: readonly DueTag[], now: number, detectedAt?: number): Promise<BatchResult>;
  /** the engine context of a tag, null when unassigned */
  contextOf(tagId: string): Promise<TagContext | null>;
  /** stops listening for config changes */
  close(): void;
}

/** A batch in flight on a store in this process: its tags, and a promise settled when it is done. */
interface InFlight {
  tags: { has(tag: string): boolean; readonly size: number; keys(): Iterable<string> };
  done: Promise<unknown>;
}

const inFlightByStore = new WeakMap<CordonStore, Set<InFlight>>();

/** judging attempts per batch when other writers keep changing its tags */
const MAX_ATTEMPTS = 5;

/** whether two tag sets share a tag (walks the smaller) */
function overlaps(a: InFlight['tags'], b: InFlight['tags']): boolean {
  if (a.size > b.size) return overlaps(b, a);
  for (const t of a.keys()) if (b.has(t)) return true;
  return false;
}

const EMPTY: BatchResult = { processed: 0, unknownTags: 0, events: [], alerts: [] };

export function createIngestPipeline(opts: IngestPipelineOptions): IngestPipeline {
  const { store, zones, config } = opts;
  const clock = opts.clock ?? systemClock;
  const negativeTtl = opts.negativeTtlMs ?? 1000;
  const cacheRefreshMs = opts.cacheRefreshMs ?? 60_000;

  // ---- tag → subject cache: warmed once, kept current by config changes
  const contexts = new Map<string, TagContext>();
  /** subject → its cached tag, so a subject change drops its old tag without scanning the cache */
  const tagOfSubject = new Map<string, string>();
  const setContext = (tag: string, ctx: TagContext): void => {
    const prev = contexts.get(tag);
    if (prev !== undefined && tagOfSubject.get(prev.subjectId) === tag) tagOfSubject.delete(prev.subjectId);
    // a subject wears one tag: a context cached for its previous tag is stale
    const other = tagOfSubject.get(ctx.subjectId);
    if (other !== undefined && other !== tag) contexts.delete(other);
    contexts.set(tag, ctx);
    tagOfSubject.set(ctx.subjectId, tag);
  };
  const dropContext = (tag: string): void => {
    const prev = contexts.get(tag);
    if (prev === undefined) return;
    contexts.delete(tag);
    if (tagOfSubject.get(prev.subjectId) === tag) tagOfSubject.delete(prev.subjectId);
  };
  const unassignedUntil = new Map<string, number>();
  let warm: Promise<void> | null = null;
  let warmDone = false;
  let generation = 0;
  let warmedAt = 0;
  let refreshing = false;
  const warmUp = (): Promise<void> => {
    warm ??= store.allAssignments().then(
      (all) => {
        warmedAt = clock.now();
        for (const c of all) if (!contexts.has(c.tagId)) setContext(c.tagId, c);
        warmDone = true;
      },
      (err: unknown) => {
        // a store outage during warm-up must not poison every later batch: retry next time
        warm = null;
        throw err;
      },
    );
    if (!refreshing && warmedAt > 0 && clock.now() - warmedAt >= cacheRefreshMs) {
      refreshing = true;
      const gen = generation;
      warmedAt = clock.now();
      void store
        .allAssignments()
        .then((all) => {
          if (gen !== generation) return; // a change landed meanwhile; the next refresh catches up
          contexts.clear();
          tagOfSubject.clear();
          for (const c of all) setContext(c.tagId, c);
        })
        .catch(() => {})
        .finally(() => {
          refreshing = false;
        });
    }
    return warm;
  };
  const unsubscribe: Unsubscribe = store.onConfigChange((c) => {
    if (c.kind !== 'subject') return;
    generation++;
    if (c.previousTagId) {
      dropContext(c.previousTagId);
      unassignedUntil.delete(c.previousTagId);
    }
    const cached = tagOfSubject.get(c.id);
    if (cached !== undefined && cached !== c.tagId) dropContext(cached);
    if (c.tagId) {
      dropContext(c.tagId);
      unassignedUntil.delete(c.tagId);
      const tag = c.tagId;
      const gen = generation;
      void store.subjectByTag(tag).then(
        (ctx) => {
          if (ctx && gen === generation) setContext(tag, ctx);
        },
        () => {},
      );
    }
  });

  /** the context of each tag (undefined = unassigned), aligned with `tags` */
  async function resolveList(tags: readonly string[]): Promise<(TagContext | undefined)[]> {
    const w = warmUp();
    if (!warmDone) await w;
    const out: (TagContext | undefined)[] = new Array(tags.length);
    const now = clock.now();
    let misses: number[] | null = null;
    for (let k = 0; k < tags.length; k++) {
      const t = tags[k] as string;
      const c = contexts.get(t);
      out[k] = c;
      if (c === undefined && (unassignedUntil.get(t) ?? 0) <= now) (misses ??= []).push(k);
    }
    if (misses) {
      const found = await Promise.all(misses.map((k) => store.subjectByTag(tags[k] as string)));
      for (let i = 0; i < misses.length; i++) {
        const k = misses[i] as number;
        const t = tags[k] as string;
        const c = found[i];
        if (c) {
          setContext(t, c);
          out[k] = c;
        } else {
          unassignedUntil.set(t, now + negativeTtl);
          if (unassignedUntil.size > 100_000) unassignedUntil.clear();
        }
      }
    }
    return out;
  }

  async function resolve(tags: readonly string[]): Promise<Map<string, TagContext>> {
    const list = await resolveList(tags);
    const out = new Map<string, TagContext>();
    for (let k = 0; k < tags.length; k++) {
      const c = list[k];
      if (c !== undefined) out.set(tags[k] as string, c);
    }
    return out;
  }

  // ---- per-tag serialisation inside this process (shared by every pipeline on this store object,
  // so the sweeper's ticks and HTTP/Kafka batches never interleave on one tag). A batch waits for
  // every batch that came before it (running or waiting) and shares a tag with it. Only whole
  // batches are registered, not each tag: a handful are in flight at a time, and a per-tag map
  // (set and deleted for each tag of every batch) cost ~4% of ingest.
  let inFlight = inFlightByStore.get(store);
  if (!inFlight) {
    inFlight = new Set<InFlight>();
    inFlightByStore.set(store, inFlight);
  }
  const running = inFlight;
  /** a sink for touchStates (so its loads are not optimised away) */
  let touched = 0;
  async function exclusive<T>(tags: InFlight['tags'], work: () => Promise<T>): Promise<T> {
    let waits: Promise<unknown>[] | null = null;
    for (const other of running) if (overlaps(tags, other.tags)) (waits ??= []).push(other.done);
    const run = (waits ? Promise.allSettled(waits) : Promise.resolve()).then(work);
    const me: InFlight = { tags, done: run };
    running.add(me);
    try {
      return await run;
    } finally {
      running.delete(me);
    }
  }

  async function processBatch(pings: readonly Ping[], extras?: readonly (Record<string, unknown> | null)[], options?: ProcessOptions): Promise<BatchResult> {
    if (pings.length === 0) return EMPTY;
    // each distinct tag gets a slot k (first-seen order); per-ping work then indexes arrays by slot
    const n = pings.length;
    const slotOfTag = new Map<string, number>();
    const tags: string[] = [];
    const pingSlot = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const t = (pings[i] as Ping).tagId;
      let k = slotOfTag.get(t);
      if (k === undefined) {
        k = tags.length;
        slotOfTag.set(t, k);
        tags.push(t);
      }
      pingSlot[i] = k;
    }
    return exclusive(slotOfTag, async () => {
      const ctxs = await resolveList(tags);
      // The context's tag id is the string the stores keep as their key: handing that same
      // string on (in `tags` and in the pings themselves: the same text, another string object)
      // lets their map lookups match by identity, without reading the key's text from memory.
      for (let k = 0; k < tags.length; k++) {
        const c = ctxs[k];
        if (c !== undefined) tags[k] = c.tagId;
      }
      let unknown = 0;
      let unknownByTag: Map<string, number> | null = null;
      let mine: number[] = [];
      for (let i = 0; i < n; i++) {
        const k = pingSlot[i] as number;
        if (ctxs[k] !== undefined) {
          (pings[i] as Ping).tagId = tags[k] as string;
          mine.push(i);
        } else {
          unknown++;
          if (opts.onUnknownTag) {
            const t = (pings[i] as Ping).tagId;
            (unknownByTag ??= new Map()).set(t, (unknownByTag.get(t) ?? 0) + 1);
          }
        }
      }
      if (unknownByTag) for (const [t, c] of unknownByTag) opts.onUnknownTag?.(t, c);
      if (mine.length === 0) return { ...EMPTY, unknownTags: unknown };
      let known: number[] = [];
      for (let k = 0; k < tags.length; k++) if (ctxs[k] !== undefined) known.push(k);
      const processed = mine.length;
      const events: AlertEvent[] = [];
      const alerts = new Map<string, Alert>();
      // Compare-and-set on each tag's revision: if another instance wrote a tag meanwhile (a sweeper
      // tick elsewhere, a partition handed over mid-batch), judge that tag's pings again from its
      // fresh state. Commits are idempotent, so re-judging never duplicates an alert.
      for (let attempt = 1; ; attempt++) {
        const res = await judgeAndCommit(tags, known, mine, pingSlot, pings, extras, ctxs, options?.alerts !== false, options?.arrivals);
        for (const e of res.events) events.push(e);
        for (const a of res.alerts) {
          alerts.delete(a.id);
          alerts.set(a.id, a);
        }
        if (res.conflicts.length === 0) break;
        if (attempt >= MAX_ATTEMPTS) {
          throw new Error(`tag state kept changing under this batch (tags ${res.conflicts.slice(0, 5).join(', ')}); retry the batch`);
        }
        opts.logger?.debug({ tags: res.conflicts.length, attempt }, 'tag state conflict; judging again');
        const again = new Uint8Array(tags.length);
        known = [];
        for (const t of res.conflicts) {
          const k = slotOfTag.get(t);
          if (k !== undefined && again[k] === 0) {
            again[k] = 1;
            known.push(k);
          }
        }
        mine = mine.filter((i) => again[pingSlot[i] as number] === 1);
      }
      logAlerts(events);
      return { processed, unknownTags: unknown, events, alerts: [...alerts.values()] };
    });
  }

  /**
   * One attempt: load the states of the tags in slots `known`, judge the pings `todo` (indexes,
   * arrival order), commit.
   */
  async function judgeAndCommit(
    tags: readonly string[],
    known: readonly number[],
    todo: readonly number[],
    pingSlot: Int32Array,
    pings: readonly Ping[],
    extras: readonly (Record<string, unknown> | null)[] | undefined,
    ctxs: readonly (TagContext | undefined)[],
    wantAlerts: boolean,
    arrivals: ArrayLike<number> | undefined,
  ) {
    const knownTags: string[] = new Array(known.length);
    for (let j = 0; j < known.length; j++) knownTags[j] = tags[known[j] as number] as string;
    const loaded = await store.loadTagStates(knownTags);
    const states: (TagState | null)[] = new Array(tags.length);
    const revs: number[] = new Array(tags.length);
    // 1 where states[k] may be updated in place: the batch's own object (a result of applyPing,
    // for a tag's later pings) or a state the store lent (memory store: no copy per ping at all)
    const own = new Uint8Array(tags.length);
    // 1 = a lent state, 2 = a lent state this batch has begun to update
    let lent: Uint8Array | null = null;
    for (let j = 0; j < known.length; j++) {
      const k = known[j] as number;
      const cur = loaded.get(knownTags[j] as string);
      states[k] = (cur?.state as TagState | undefined) ?? null;
      revs[k] = cur?.rev ?? 0;
      if (cur?.lent === true) {
        own[k] = 1;
        (lent ??= new Uint8Array(tags.length))[k] = 1;
      }
    }
    touchStates(states, known);
    const now = clock.now();
    const changes: AlertChange[] = [];
    const positions: PositionWrite[] = [];
    try {
      for (let j = 0; j < todo.length; j++) {
        const i = todo[j] as number;
        const p = pings[i] as Ping;
        const k = pingSlot[i] as number;
        const prev = states[k] ?? null;
        const prevNewest = prev === null ? null : newestTs(prev);
        const ctx = ctxs[k] as TagContext;
        if (lent !== null && lent[k] === 1) lent[k] = 2;
        // a ping cannot have reached the system after now (a producer's clock ahead, a test's clock)
        const arrival = arrivals === undefined ? now : Math.min(arrivals[i] as number, now);
        const r = own[k] === 1 ? applyPingInPlace(prev, p, ctx, zones, config, now, arrival) : applyPing(prev, p, ctx, zones, config, now, arrival);
        // a duplicate (same tag and ts, CONTRACT §1) changes nothing: the tracker hands its state
        // back untouched, and the position is in the trail already (committed with that state)
        if (r.duplicate) continue;
        states[k] = r.state;
        own[k] = 1;
        const ch = r.changes;
        for (let c = 0; c < ch.length; c++) changes.push(ch[c] as AlertChange);
        const fresh = prevNewest !== null && p.ts > prevNewest && p.ts > ctx.assignedAt;
        // received: with Kafka the record's time; over HTTP (undefined) the store's commit time
        positions.push({ ping: p, extras: extras === undefined ? null : (extras[i] ?? null), fresh, receivedAt: arrivals === undefined ? undefined : arrival });
      }
      const writes: TagStateWrite[] = new Array(known.length);
      for (let j = 0; j < known.length; j++) {
        const k = known[j] as number;
        const s = states[k] as TagState;
        writes[j] = { tagId: knownTags[j] as string, state: s, expectRev: revs[k] as number, dueAt: nextTickAt(s, ctxs[k] as TagContext, zones, config, now) };
      }
      return await store.commitBatch({ states: writes, changes, positions, alerts: wantAlerts });
    } catch (err) {
      // A lent state may now hold pings whose alerts and positions will not be written: going on
      // from it could lose an alert (the tracker would think it raised it). So the lent states
      // this batch began to update are dropped: the tag's next ping starts afresh, and a breach
      // in progress is seen anew (at worst a second alert for it, never a lost one).
      if (lent !== null) await dropLent(tags, lent, loaded);
      throw err;
    }
  }

  /**
   * For each lent state a failed batch began to update (lent[k] === 2): a cache entry is forgotten
   * (the stored state is intact), the store's own state is written as null.
   */
  async function dropLent(tags: readonly string[], lent: Uint8Array, loaded: Map<string, StoredTagState>): Promise<void> {
    const writes: TagStateWrite[] = [];
    const forget: string[] = [];
    for (let k = 0; k < tags.length; k++) {
      if (lent[k] !== 2) continue;
      const t = tags[k] as string;
      const cur = loaded.get(t);
      if (cur?.cached === true) forget.push(t);
      else writes.push({ tagId: t, state: null, expectRev: cur?.rev ?? 0, dueAt: null });
    }
    if (forget.length > 0) store.forgetTagStates?.(forget);
    if (writes.length === 0) return;
    try {
      await store.commitBatch({ states: writes, changes: [], positions: [] });
      opts.logger?.error({ tags: writes.length }, 'judging failed: the batch\'s tag states were dropped');
    } catch (e) {
      opts.logger?.error({ err: e, tags: writes.length }, 'judging failed and its tag states could not be dropped');
    }
  }

  /**
   * Read every loaded state once before judging. With tens of thousands of tags the states are
   * not in the CPU's cache; these loads do not depend on one another, so the CPU overlaps their
   * misses here instead of taking them one at a time, ping by ping, in the judging loop.
   */
  function touchStates(states: readonly (TagState | null)[], known: readonly number[]): void {
    let n = 0;
    for (let j = 0; j < known.length; j++) {
      const s = states[known[j] as number];
      if (s != null) n += s.recent.length + (s.t?.[0] ?? 0);
    }
    touched += n;
  }

  async function tickTags(due: readonly DueTag[], now: number, detectedAt: number = now): Promise<BatchResult> {
    if (due.length === 0) return EMPTY;
    const tagSet = new Set(due.map((d) => d.tagId));
    const tags = [...tagSet];
    return exclusive(tagSet, async () => {
      const ctxs = await resolve(tags);
      const known = tags.filter((t) => ctxs.has(t));
      const loaded = known.length ? await store.loadTagStates(known) : new Map<string, StoredTagState>();
      const changes: AlertChange[] = [];
      const writes: TagStateWrite[] = [];
      for (const t of tags) {
        const ctx = ctxs.get(t);
        if (!ctx) {
          // no longer assigned: nothing to check any more
          writes.push({ tagId: t, dueAt: null });
          continue;
        }
        const cur = loaded.get(t);
        const r = tick((cur?.state as TagState | undefined) ?? null, ctx, zones, config, now, detectedAt);
        for (const c of r.changes) changes.push(c);
        // a conflict means a ping batch just wrote this tag (and its next due time): the tick is moot
        writes.push({ tagId: t, state: r.state, expectRev: cur?.rev ?? 0, dueAt: nextTickAt(r.state, ctx, zones, config, now) });
      }
      const res = await store.commitBatch({ states: writes, changes, positions: [] });
      logAlerts(res.events);
      return { processed: 0, unknownTags: 0, events: res.events, alerts: res.alerts };
    });
  }

  function logAlerts(events: readonly AlertEvent[]): void {
    const log = opts.logger;
    if (!log) return;
    for (const e of events) {
      const a = e.alert;
      log.info({ alertId: a.id, tagId: a.tagId, subjectId: a.subjectId, zoneId: a.zoneId, type: a.type, event: e.type }, 'alert event');
    }
  }

  return {
    processBatch,
    tickTags,
    async contextOf(tagId) {
      return (await resolve([tagId])).get(tagId) ?? null;
    },
    close() {
      unsubscribe();
    },
  };
}
