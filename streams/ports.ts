/**
 * The ports streams/ needs from the outside world, and the record types the API speaks.
 *
 * One narrow store port, `CordonStore`, implemented twice (src/stores/memory.ts, src/stores/redis.ts)
 * and held to one conformance suite (test/integration/store-conformance.test.ts). Record types carry
 * times as ISO-8601 strings exactly as CONTRACT §2–§4 shows them; engine types (geo/types.ts) carry
 * epoch ms. Conversion lives in streams/alerts.ts and streams/codec.ts.
 *
 * Errors a caller must tell apart are typed (`ConflictError`, `NotFoundError`,
 * `InvalidTransitionError`), each with a stable `code` the HTTP layer maps to a status.
 */
import type {
  AlertChange,
  AlertType,
  Confidence,
  EngineAlert,
  Ping,
  Schedule,
  TagContext,
  ZoneDef,
  ZoneGeometry,
  ZoneKind,
} from '../geo/types.ts';

// ---------------------------------------------------------------------------------------------
// clock

/** Wall-clock time source (epoch ms). Injected everywhere so tests control time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

// ---------------------------------------------------------------------------------------------
// pagination

/** Every list answers `{ items, nextCursor }` (CONTRACT §2). `nextCursor` is opaque; null = no more. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageQuery {
  /** 1..1000; the HTTP layer applies the default 100 and the max */
  limit: number;
  /** opaque cursor from a previous page; null/undefined = first page */
  cursor?: string | null;
}

// ---------------------------------------------------------------------------------------------
// subjects (CONTRACT §2)

/** What a caller sends to PUT /v1/subjects/{id} (already validated, defaults applied). */
export interface SubjectInput {
  tagId: string;
  name: string | null;
  orderRef: string | null;
  /** IANA zone, default "Europe/London" (applied by the HTTP layer) */
  timezone: string;
}

/** A stored subject as the API answers it. */
export interface Subject extends SubjectInput {
  id: string;
  /** ISO */
  createdAt: string;
  /** ISO */
  updatedAt: string;
  /** ISO: when the current tagId was assigned (changes only when tagId changes); signal-lost counts from here */
  assignedAt: string;
}

/** Result of a PUT: `created` true → 201, false → 200. */
export interface PutResult<T> {
  created: boolean;
  value: T;
}

// ---------------------------------------------------------------------------------------------
// zones (CONTRACT §2)

/** What a caller sends to PUT /v1/zones/{id} (validated, geometry checked by compileZone, defaults applied). */
export interface ZoneInput {
  name: string;
  kind: ZoneKind;
  subjectIds: string[];
  geometry: ZoneGeometry;
  /** null = always active */
  schedule: Schedule | null;
  graceSeconds: number;
  minConfidence: Confidence;
  /** ISO or null (unbounded) */
  validFrom: string | null;
  validTo: string | null;
}

/** A stored zone (its current version) as the API answers it. */
export interface ZoneResource extends ZoneInput {
  id: string;
  version: number;
  /** ISO of version 1 */
  createdAt: string;
  /** ISO of this version */
  updatedAt: string;
  /** who wrote this version (API key role/name as the HTTP layer decides) */
  updatedBy: string | null;
}

/** One line of the zone audit (GET /v1/zones/{id}/versions): who, when, what. */
export interface ZoneVersionRecord {
  version: number;
  action: 'created' | 'replaced' | 'deleted';
  /** ISO */
  at: string;
  by: string | null;
  /** the zone as it stood after this change (for `deleted`: as it was when deleted) */
  zone: ZoneResource;
}

/**
 * Everything the engine index needs about one zone id: every version ever written (as engine
 * ZoneDefs, `effectiveFrom` = when it was written, ascending by version) and, when the zone is
 * currently deleted, the instant of deletion (pings with ts >= deletedAt match no version).
 * A zone deleted and later re-created has deletedAt null again; the gap is in `history`.
 */
export interface ZoneHistory {
  zoneId: string;
  defs: ZoneDef[];
  /** epoch ms, null = live */
  deletedAt: number | null;
  /** every change in order, engine times (epoch ms); `def` null for a deletion */
  history: { version: number; at: number; def: ZoneDef | null }[];
}

export interface WriteMeta {
  /** who made the change (for the audit); null = unknown */
  by: string | null;
}

// ---------------------------------------------------------------------------------------------
// alerts and events (CONTRACT §3, §4)

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';
export type AlertOutcome =
  | 'breach_confirmed'
  | 'reasonable_excuse'
  | 'authorised_absence'
  | 'false_alert'
  | 'equipment_fault';

export interface AlertNote {
  /** ISO */
  at: string;
  by: string;
  /** which action added it */
  action: 'acknowledge' | 'resolve';
  text: string;
}

/**
 * The contract's alert object (CONTRACT §3), exactly the JSON the API returns: the engine's
 * fields with times as ISO strings, plus the human workflow fields the store owns.
 */
export interface Alert extends Omit<EngineAlert, 'openedAt' | 'detectedAt' | 'lastPingAt' | 'endedAt'> {
  openedAt: string;
  detectedAt: string;
  lastPingAt: string | null;
  endedAt: string | null;
  status: AlertStatus;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  outcome: AlertOutcome | null;
  notes: AlertNote[];
}

export type AlertEventType = 'alert.opened' | 'alert.updated' | 'alert.ended' | 'alert.acknowledged' | 'alert.resolved';

/**
 * One alert change (CONTRACT §4). `id` is the Redis stream id of the entry (`<ms>-<seq>`); the memory
 * store makes ids of the same format, strictly increasing, so `Last-Event-ID` works the same way.
 */
export interface AlertEvent {
  id: string;
  type: AlertEventType;
  /** ISO, wall clock when written */
  createdAt: string;
  alert: Alert;
}

export interface AlertQuery extends PageQuery {
  status?: AlertStatus;
  type?: AlertType;
  subjectId?: string;
  /** epoch ms: only alerts with openedAt >= since */
  since?: number;
}

export interface AcknowledgeInput {
  by: string;
  note?: string | null;
}

export interface ResolveInput {
  by: string;
  outcome: AlertOutcome;
  note?: string | null;
}

/** Result of a human transition: the alert after it and the event written for it. */
export interface TransitionResult {
  alert: Alert;
  event: AlertEvent;
}

// ---------------------------------------------------------------------------------------------
// positions

/**
 * One stored point of a tag's trail (GET /v1/tags/{tagId}/positions): the ping as received
 * (ISO ts, null lat/lon for fix "none") plus every unknown extra field it carried, plus
 * `receivedAt` (ISO wall clock: when the ping reached Cordon, over HTTP, or Kafka, its record's
 * time). Extra fields never override the known ones.
 */
export interface StoredPosition {
  tagId: string;
  ts: string;
  lat: number | null;
  lon: number | null;
  accuracyM: number;
  fix: Ping['fix'];
  battery: number | null;
  strap: 'ok' | 'tampered' | null;
  seq: number | null;
  receivedAt: string;
  [extra: string]: unknown;
}

/** A ping to keep in the trail, with its pass-through fields (null = none). */
export interface PositionWrite {
  ping: Ping;
  extras: Record<string, unknown> | null;
  /**
   * The ping is newer than every ping of its tag's state (and than the tag's assignment), so the
   * trail cannot hold its ts yet: a store may skip its duplicate check. Absent or false = check.
   * Sound because a tag's state and its positions are committed together, atomically.
   */
  fresh?: boolean;
  /** when the ping reached the system (epoch ms; default: the commit's time): the Kafka record's time */
  receivedAt?: number;
}

// ---------------------------------------------------------------------------------------------
// tag state and the batch commit

/**
 * Opaque, JSON-serialisable per-tag tracker state (geo/tracker.ts TagState). The store never looks
 * inside it. The memory store keeps the object itself, so the tracker must not mutate a state
 * after handing it over: the pipeline judges a loaded state with the pure applyPing, and uses
 * applyPingInPlace only on the state that call gave back, for the tag's further pings in the batch.
 */
export type TagStateBlob = unknown;

/** A tag's state as loaded, with the revision a write must expect (compare-and-set). */
export interface StoredTagState {
  state: TagStateBlob;
  /** increases with every state write; a tag never written has revision 0 (and is absent from loads) */
  rev: number;
  /**
   * true when `state` is the store's own object, lent (the memory store): a caller that holds the
   * tag exclusively in this process may update it in place, provided it commits it (the same
   * object) or, when it cannot, writes the tag's state as null. Absent: a copy nobody else sees,
   * or an object to treat as read-only.
   */
  lent?: boolean;
  /**
   * With `lent`: the object is an entry of the store's cache of its own last writes (the Redis store
   * in a Kafka consumer), not the stored state itself. A caller that cannot commit it calls
   * `forgetTagStates` instead of writing null: the stored state is intact, only the entry is spoilt.
   */
  cached?: boolean;
}

export interface TagStateWrite {
  tagId: string;
  /** the new state; absent = keep the stored state, only move the due time (no revision check) */
  state?: TagStateBlob;
  /**
   * The revision this state was computed from (0 = there was none). When the stored revision differs,
   * another writer got there first: this tag's state, due time, alert changes and positions are all
   * left out of the commit and the tag is reported in `conflicts`. Absent = write unconditionally.
   */
  expectRev?: number;
  /** epoch ms of the next clock-driven check for this tag (tracker.nextTickAt); null = none pending */
  dueAt: number | null;
}

/** A tag whose clock-driven check is due, and when it fell due (part of the sweeper's lease key). */
export interface DueTag {
  tagId: string;
  dueAt: number;
}

export interface CommitBatch {
  states: TagStateWrite[];
  /** in order; several changes for one alert id are applied in order */
  changes: AlertChange[];
  positions: PositionWrite[];
  /**
   * false: the caller needs only the events, so the result's `alerts` is left empty (a Kafka
   * consumer: reading every evented alert back and parsing it is work nobody uses). Default true.
   */
  alerts?: boolean;
}

export interface CommitResult {
  /** tags refused by the revision check (recompute from a fresh load and commit again) */
  conflicts: string[];
  /** events written (and published), in order; empty when every change was a replay or silent */
  events: AlertEvent[];
  /** each alert that got an event in this batch, in its final state, once (first-seen order); empty when asked for none */
  alerts: Alert[];
}

// ---------------------------------------------------------------------------------------------
// config change notifications

export type ConfigChange =
  | { kind: 'subject'; id: string; tagId: string | null; previousTagId: string | null }
  | { kind: 'zone'; id: string; version: number; deleted: boolean };

export type Unsubscribe = () => void;

// ---------------------------------------------------------------------------------------------
// errors

export type StoreErrorCode = 'conflict' | 'not_found' | 'invalid_transition' | 'bad_cursor';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** 409: e.g. the tag is already assigned to another subject. */
export class ConflictError extends StoreError {
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('conflict', message);
    this.details = details;
  }
}

/** 404 */
export class NotFoundError extends StoreError {
  readonly resource: 'subject' | 'zone' | 'alert';
  readonly id: string;
  constructor(resource: 'subject' | 'zone' | 'alert', id: string) {
    super('not_found', `${resource} ${JSON.stringify(id)} not found`);
    this.resource = resource;
    this.id = id;
  }
}

/** 409: acknowledge/resolve from a state that does not allow it. */
export class InvalidTransitionError extends StoreError {
  readonly from: AlertStatus;
  readonly to: AlertStatus;
  constructor(alertId: string, from: AlertStatus, to: AlertStatus) {
    super('invalid_transition', `alert ${JSON.stringify(alertId)} is ${from}; cannot move to ${to}`);
    this.from = from;
    this.to = to;
  }
}

/** 400: a `cursor` that this list did not hand out. */
export class BadCursorError extends StoreError {
  constructor() {
    super('bad_cursor', 'cursor is not valid for this list');
  }
}

// ---------------------------------------------------------------------------------------------
// the store port

/**
 * Everything the service keeps. Both implementations pass the same conformance suite.
 *
 * Concurrency: every method is safe to call concurrently; multi-key writes (commitBatch, transitions,
 * puts) are atomic. Several store instances may share one Redis (prefix + events key equal).
 */
export interface CordonStore {
  /** 'memory' | 'redis' — for logs and the start banner */
  readonly kind: 'memory' | 'redis';

  // ---- subjects
  /** Creates or replaces. ConflictError when `input.tagId` belongs to another subject. */
  putSubject(id: string, input: SubjectInput): Promise<PutResult<Subject>>;
  getSubject(id: string): Promise<Subject | null>;
  /** true when it existed. Frees its tag (later pings of that tag are ignored). */
  deleteSubject(id: string): Promise<boolean>;
  /** ordered by id */
  listSubjects(q: PageQuery): Promise<Page<Subject>>;
  /** the engine's view of the subject that owns `tagId`, or null when unassigned */
  subjectByTag(tagId: string): Promise<TagContext | null>;
  /** every current tag assignment (pipeline cache warm-up) */
  allAssignments(): Promise<TagContext[]>;

  // ---- zones
  /** New version + audit record. `created` is true when no live zone had this id. */
  putZone(id: string, input: ZoneInput, meta: WriteMeta): Promise<PutResult<ZoneResource>>;
  /** current live version, null when absent or deleted */
  getZone(id: string): Promise<ZoneResource | null>;
  /** Marks deleted (history kept, audit record added); true when a live zone existed. */
  deleteZone(id: string, meta: WriteMeta): Promise<boolean>;
  /** live zones ordered by id; `subjectId` filters to zones naming that subject */
  listZones(q: PageQuery & { subjectId?: string }): Promise<Page<ZoneResource>>;
  /** audit, ascending by version; null when the id never existed */
  zoneVersions(id: string, q: PageQuery): Promise<Page<ZoneVersionRecord> | null>;
  /** every zone id ever written, with all versions (engine index load) */
  allZoneDefs(): Promise<ZoneHistory[]>;
  /** one zone's engine history (for applying a ConfigChange), null when never written */
  zoneHistory(id: string): Promise<ZoneHistory | null>;

  /**
   * Called after any subject/zone change by this instance (synchronously after the write) or by any
   * other instance sharing the Redis (via pub/sub, within a second). Never called for this instance's
   * own changes twice.
   */
  onConfigChange(listener: (change: ConfigChange) => void): Unsubscribe;

  // ---- tag state
  /**
   * One round trip at most (none when every state is cached); tags without state are absent from
   * the map. A tag whose state was dropped (reassigned) may come back as `state: null` with its
   * revision: revisions keep rising, so a write computed from an older state cannot match again.
   */
  loadTagStates(tagIds: readonly string[]): Promise<Map<string, StoredTagState>>;
  /** drops these tags' cached states (see StoredTagState.cached); stores without a cache leave it out */
  forgetTagStates?(tagIds: readonly string[]): void;
  /** tags whose next clock-driven check is due at or before `now` (ascending by due time) */
  dueTags(now: number, limit: number): Promise<DueTag[]>;

  /**
   * Atomically stores tag states (compare-and-set on `expectRev`), due times, alert changes and
   * positions (a change or position belongs to the tag of its alert / ping), writing one event per
   * evented change (XADD + PUBLISH on Redis) before it resolves. Idempotent: an `opened` for an id
   * that exists, an `ended` for an ended alert, an `updated` whose confidence is already stored and
   * any change older (fewer pings) than what is stored emit nothing and change nothing.
   * Engine fields merge; the human fields (status, acknowledged-, resolved-, outcome, notes) are never touched here.
   */
  commitBatch(batch: CommitBatch): Promise<CommitResult>;

  // ---- alerts
  getAlert(id: string): Promise<Alert | null>;
  /** newest first (openedAt desc, then id desc) */
  listAlerts(q: AlertQuery): Promise<Page<Alert>>;
  /** open → acknowledged. NotFoundError / InvalidTransitionError. Emits alert.acknowledged. */
  acknowledgeAlert(id: string, input: AcknowledgeInput): Promise<TransitionResult>;
  /** open|acknowledged → resolved. NotFoundError / InvalidTransitionError. Emits alert.resolved. */
  resolveAlert(id: string, input: ResolveInput): Promise<TransitionResult>;

  // ---- events (the one source for SSE and the webhook outbox)
  /** events with id > afterId (null = from the oldest kept), ascending, at most `limit` */
  readEventsAfter(afterId: string | null, limit: number): Promise<AlertEvent[]>;
  /**
   * Live events from now on, in order, from every instance. To resume without a gap: subscribe
   * first, then readEventsAfter(lastId) and drop live events with id <= the last one read.
   */
  subscribeEvents(listener: (event: AlertEvent) => void): Unsubscribe;

  // ---- positions
  /** the tag's trail with from <= ts <= to (epoch ms, inclusive), ascending by ts, at most `limit` */
  positions(tagId: string, from: number, to: number, limit: number): Promise<StoredPosition[]>;

  // ---- coordination
  /**
   * Lease: true when this caller now holds `key` for `ttlMs` (nobody held it), false otherwise.
   * Leases are never released early; they expire.
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** many leases in one round trip; result[i] answers keys[i] */
  claimMany(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
  /**
   * A Kafka consumer's progress (streams/kafka/progress.ts): every ping that reached Kafka
   * before `through` (epoch ms; 0 = not known yet) is judged. Kept for `ttlMs` (an instance that
   * dies stops holding the others back); `through` null withdraws the report.
   */
  reportIngestProgress(consumer: string, through: number | null, ttlMs: number): Promise<void>;
  /** the least `through` of the consumers' unexpired reports, null when there is none */
  ingestProgress(): Promise<number | null>;

  // ---- lifecycle
  /** resolves when the store answers (readyz) */
  ping(): Promise<boolean>;
  /** idempotent; closes connections and subscriptions */
  close(): Promise<void>;
}

/** Settings shared by both store implementations. */
export interface StoreOptions {
  clock?: Clock;
  /** key prefix (Redis), default "cordon:" */
  prefix?: string;
  /** events stream + channel name, default exactly "cordon:events" (CONTRACT §4) */
  eventsKey?: string;
  /** positions older than this (by ping ts vs wall clock) are trimmed; default 7 days */
  positionRetentionMs?: number;
  /** at most this many positions kept per tag; default 10 000 */
  positionsMaxPerTag?: number;
  /** approximate cap on the events stream length; default 1 000 000 (memory store: 100 000) */
  eventsMaxLen?: number;
}

export const STORE_DEFAULTS = {
  prefix: 'cordon:',
  eventsKey: 'cordon:events',
  positionRetentionMs: 7 * 24 * 3600 * 1000,
  positionsMaxPerTag: 10_000,
  eventsMaxLen: 1_000_000,
} as const;
