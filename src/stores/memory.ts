/**
 * The embedded store: everything in process memory, nothing persists. Same port, same semantics
 * and same ids/cursors as the Redis store (held together by the conformance suite). Hot methods
 * (loadTagStates, commitBatch) do their work synchronously and hand back a settled promise: no
 * per-ping async hop.
 */
import type { AlertChange, EngineAlert, TagContext, ZoneDef } from '../../geo/types.ts';
import { enginePart, iso, joinAlert, mergeVerdict, newHumanPart } from '../../streams/alerts.ts';
import type { AlertEnginePart, AlertHumanPart } from '../../streams/alerts.ts';
import { toZoneDef } from '../../streams/codec.ts';
import {
  BadCursorError,
  ConflictError,
  InvalidTransitionError,
  NotFoundError,
  STORE_DEFAULTS,
  systemClock,
} from '../../streams/ports.ts';
import type {
  AcknowledgeInput,
  Alert,
  AlertEvent,
  AlertEventType,
  AlertQuery,
  AlertStatus,
  Clock,
  CommitBatch,
  CommitResult,
  ConfigChange,
  CordonStore,
  DueTag,
  Page,
  PageQuery,
  PutResult,
  ResolveInput,
  StoredPosition,
  StoreOptions,
  StoredTagState,
  TagStateBlob,
  Subject,
  SubjectInput,
  TransitionResult,
  Unsubscribe,
  WriteMeta,
  ZoneHistory,
  ZoneInput,
  ZoneResource,
  ZoneVersionRecord,
} from '../../streams/ports.ts';
import { alertAfter, cloneJson, compareEventIds, decodeCursor, encodeCursor, idAfter, parseEventId } from './common.ts';
import { TrailLog, type TrailHead, type TrailLogOptions } from './trail.ts';

interface StoredAlert {
  /** the engine's latest view (epoch ms; a shallow copy of what the change carried) */
  raw: EngineAlert;
  /** raw in contract form, made when first read (ISO formatting is not paid for silent touches) */
  engine: AlertEnginePart | null;
  human: AlertHumanPart;
  openedAtMs: number;
  pingCount: number;
  active: boolean;
  confidence: 'possible' | 'confirmed';
}

interface ZoneEntry {
  records: ZoneVersionRecord[];
  history: { version: number; at: number; def: ZoneDef | null }[];
  live: ZoneResource | null;
}


/** Everything kept per tag, behind one map lookup (the ingest path touches all of it per ping). */
interface TagSlot extends TrailHead {
  /** the tracker state (undefined = none: never written, or cleared by a new assignment) */
  state: TagStateBlob | undefined;
  /** its revision (0 while state is undefined); on the slot itself: one object less to reach per ping */
  rev: number;
  /**
   * next sweeper check; NaN = none. Always a number, so V8 keeps the field as an unboxed double
   * written in place: `number | undefined` made every write allocate a heap number that the old
   * slot then kept alive through the next young-generation collection.
   */
  due: number;
  // and, from TrailHead, where its positions are in the store's trail log
}

/** the contract engine part of a stored alert: openedAt stays the episode's first, confidence never falls */
function engineOf(a: StoredAlert): AlertEnginePart {
  let e = a.engine;
  if (e === null) {
    e = enginePart(a.raw);
    e.openedAt = iso(a.openedAtMs);
    e.confidence = a.confidence;
    a.engine = e;
  }
  return e;
}

interface StoredEvent {
  ms: number;
  seq: number;
  event: AlertEvent;
}

const MEMORY_EVENTS_MAX_LEN = 100_000;

function checkLimit(limit: number): number {
  return Math.max(1, Math.min(1000, Math.floor(limit)));
}

/** index of the first element for which `before(el)` is false (array ordered so that `before` is monotone) */
function lowerBound<T>(arr: readonly T[], before: (el: T) => boolean): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(arr[mid] as T)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface MemoryStoreOptions extends StoreOptions {
  /** the trail log's chunk size and compaction slack (tests use tiny ones) */
  trail?: TrailLogOptions;
}

export class MemoryStore implements CordonStore {
  readonly kind = 'memory' as const;
  private readonly clock: Clock;
  private readonly retentionMs: number;
  private readonly maxPerTag: number;
  private readonly eventsMaxLen: number;

  private readonly subjects = new Map<string, Subject>();
  private readonly tagOwner = new Map<string, TagContext>();
  private readonly zones = new Map<string, ZoneEntry>();
  /** tag state, due time and trail head of each tag */
  private readonly tags = new Map<string, TagSlot>();
  /** every tag's positions, in arrival order (trail.ts) */
  private readonly trails: TrailLog;
  private readonly alerts = new Map<string, StoredAlert>();
  /** alerts ordered oldest first: openedAt asc, id asc (lists walk it backwards) */
  private readonly alertOrder: StoredAlert[] = [];
  private readonly events: StoredEvent[] = [];
  private lastEvent: [number, number] = [0, 0];
  private readonly leases = new Map<string, number>();
  private readonly configListeners = new Set<(c: ConfigChange) => void>();
  private readonly eventListeners = new Set<(e: AlertEvent) => void>();
  private closed = false;

  constructor(opts: MemoryStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.retentionMs = opts.positionRetentionMs ?? STORE_DEFAULTS.positionRetentionMs;
    this.maxPerTag = opts.positionsMaxPerTag ?? STORE_DEFAULTS.positionsMaxPerTag;
    this.trails = new TrailLog(opts.trail);
    // whole alert objects live on the heap here: keep fewer than the Redis stream does by default
    this.eventsMaxLen = opts.eventsMaxLen ?? MEMORY_EVENTS_MAX_LEN;
  }

  // ---------------------------------------------------------------- subjects

  async putSubject(id: string, input: SubjectInput): Promise<PutResult<Subject>> {
    const owner = this.tagOwner.get(input.tagId);
    if (owner && owner.subjectId !== id) {
      throw new ConflictError(`tag ${JSON.stringify(input.tagId)} is assigned to subject ${JSON.stringify(owner.subjectId)}`, {
        tagId: input.tagId,
        subjectId: owner.subjectId,
      });
    }
    const now = this.clock.now();
    const prev = this.subjects.get(id);
    const nowIso = iso(now);
    const tagChanged = !prev || prev.tagId !== input.tagId;
    const subject: Subject = {
      id,
      tagId: input.tagId,
      name: input.name,
      orderRef: input.orderRef,
      timezone: input.timezone,
      createdAt: prev?.createdAt ?? nowIso,
      updatedAt: nowIso,
      assignedAt: tagChanged ? nowIso : (prev as Subject).assignedAt,
    };
    if (prev && tagChanged) this.freeTag(prev.tagId);
    this.subjects.set(id, subject);
    if (tagChanged) {
      // A fresh assignment starts a fresh history for the tag; the sweeper looks at it from now
      // (signal lost counts from assignment).
      const slot = this.slotOf(input.tagId);
      slot.state = undefined;
      slot.rev = 0;
      slot.due = now;
    }
    this.tagOwner.set(input.tagId, { tagId: input.tagId, subjectId: id, timezone: input.timezone, assignedAt: Date.parse(subject.assignedAt) });
    this.emitConfig({ kind: 'subject', id, tagId: input.tagId, previousTagId: prev && prev.tagId !== input.tagId ? prev.tagId : null });
    return { created: !prev, value: { ...subject } };
  }

  private freeTag(tagId: string): void {
    this.tagOwner.delete(tagId);
    const slot = this.tags.get(tagId);
    if (slot) {
      slot.state = undefined;
      slot.rev = 0;
      slot.due = NaN;
      if (!this.trails.holds(slot)) this.tags.delete(tagId);
    }
  }

  private slotOf(tagId: string): TagSlot {
    let slot = this.tags.get(tagId);
    if (slot === undefined) {
      slot = { state: undefined, rev: 0, due: NaN, head: -1, count: 0 };
      this.tags.set(tagId, slot);
    }
    return slot;
  }

  async getSubject(id: string): Promise<Subject | null> {
    const s = this.subjects.get(id);
    return s ? { ...s } : null;
  }

  async deleteSubject(id: string): Promise<boolean> {
    const s = this.subjects.get(id);
    if (!s) return false;
    this.subjects.delete(id);
    this.freeTag(s.tagId);
    this.emitConfig({ kind: 'subject', id, tagId: null, previousTagId: s.tagId });
    return true;
  }

  async listSubjects(q: PageQuery): Promise<Page<Subject>> {
    return this.pageById([...this.subjects.values()], q, (s) => ({ ...s }));
  }

  async subjectByTag(tagId: string): Promise<TagContext | null> {
    const c = this.tagOwner.get(tagId);
    return c ? { ...c } : null;
  }

  async allAssignments(): Promise<TagContext[]> {
    return [...this.tagOwner.values()].map((c) => ({ ...c }));
  }

  private pageById<T extends { id: string }, R>(all: T[], q: PageQuery, map: (t: T) => R): Page<R> {
    const limit = checkLimit(q.limit);
    const after = idAfter(q.cursor);
    if (q.cursor && after === null) throw new BadCursorError();
    const sorted = all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const start = after === null ? 0 : lowerBound(sorted, (x) => x.id <= after);
    const slice = sorted.slice(start, start + limit);
    const more = start + limit < sorted.length;
    const last = slice[slice.length - 1];
    return { items: slice.map(map), nextCursor: more && last ? encodeCursor([last.id]) : null };
  }

  // ---------------------------------------------------------------- zones

  async putZone(id: string, input: ZoneInput, meta: WriteMeta): Promise<PutResult<ZoneResource>> {
    const now = this.clock.now();
    const nowIso = iso(now);
    let entry = this.zones.get(id);
    if (!entry) {
      entry = { records: [], history: [], live: null };
      this.zones.set(id, entry);
    }
    const last = entry.records[entry.records.length - 1];
    const version = (last?.version ?? 0) + 1;
    const created = entry.live === null;
    const zone: ZoneResource = {
      ...cloneJson(input),
      // the subjects' own id strings, not the request's copies (a shared zone lists hundreds)
      subjectIds: input.subjectIds.map((s) => this.subjects.get(s)?.id ?? s),
      id,
      version,
      createdAt: created ? nowIso : (entry.live as ZoneResource).createdAt,
      updatedAt: nowIso,
      updatedBy: meta.by,
    };
    entry.live = zone;
    entry.records.push({ version, action: created ? 'created' : 'replaced', at: nowIso, by: meta.by, zone });
    entry.history.push({ version, at: now, def: toZoneDef(id, version, zone, now) });
    this.emitConfig({ kind: 'zone', id, version, deleted: false });
    return { created, value: cloneJson(zone) };
  }

  async getZone(id: string): Promise<ZoneResource | null> {
    const z = this.zones.get(id)?.live;
    return z ? cloneJson(z) : null;
  }

  async deleteZone(id: string, meta: WriteMeta): Promise<boolean> {
    const entry = this.zones.get(id);
    if (!entry?.live) return false;
    const now = this.clock.now();
    const last = entry.records[entry.records.length - 1];
    const version = (last?.version ?? 0) + 1;
    entry.records.push({ version, action: 'deleted', at: iso(now), by: meta.by, zone: entry.live });
    entry.history.push({ version, at: now, def: null });
    entry.live = null;
    this.emitConfig({ kind: 'zone', id, version, deleted: true });
    return true;
  }

  async listZones(q: PageQuery & { subjectId?: string }): Promise<Page<ZoneResource>> {
    const all: ZoneResource[] = [];
    for (const e of this.zones.values()) {
      if (e.live && (q.subjectId === undefined || e.live.subjectIds.includes(q.subjectId))) all.push(e.live);
    }
    return this.pageById(all, q, (z) => cloneJson(z));
  }

  async zoneVersions(id: string, q: PageQuery): Promise<Page<ZoneVersionRecord> | null> {
    const entry = this.zones.get(id);
    if (!entry) return null;
    const limit = checkLimit(q.limit);
    const c = decodeCursor(q.cursor);
    if (q.cursor && (!c || typeof c[0] !== 'number')) throw new BadCursorError();
    const afterVersion = c ? (c[0] as number) : 0;
    const rest = entry.records.filter((r) => r.version > afterVersion);
    const slice = rest.slice(0, limit);
    const last = slice[slice.length - 1];
    return { items: cloneJson(slice), nextCursor: rest.length > limit && last ? encodeCursor([last.version]) : null };
  }

  private historyOf(id: string, e: ZoneEntry): ZoneHistory {
    // one copy: `defs` are the same objects as the history's
    const history = cloneJson(e.history);
    const defs: ZoneDef[] = [];
    for (const h of history) if (h.def) defs.push(h.def);
    const lastH = history[history.length - 1];
    return {
      zoneId: id,
      defs,
      deletedAt: lastH && lastH.def === null ? lastH.at : null,
      history,
    };
  }

  async allZoneDefs(): Promise<ZoneHistory[]> {
    return [...this.zones].map(([id, e]) => this.historyOf(id, e));
  }

  async zoneHistory(id: string): Promise<ZoneHistory | null> {
    const e = this.zones.get(id);
    return e ? this.historyOf(id, e) : null;
  }

  onConfigChange(listener: (change: ConfigChange) => void): Unsubscribe {
    this.configListeners.add(listener);
    return () => this.configListeners.delete(listener);
  }

  private emitConfig(c: ConfigChange): void {
    for (const l of this.configListeners) {
      try {
        l(c);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  // ---------------------------------------------------------------- tag state

  /**
   * The states themselves, lent (see StoredTagState.lent): the pipeline updates them in place
   * instead of copying one per ping. With 50,000 tags a copy lives until the tag's next ping,
   * outlives a young-generation collection and dies in the old one: GC was ~18% of ingest time.
   */
  loadTagStates(tagIds: readonly string[]): Promise<Map<string, StoredTagState>> {
    const out = new Map<string, StoredTagState>();
    for (const t of tagIds) {
      const slot = this.tags.get(t);
      if (slot !== undefined && slot.state !== undefined) out.set(t, { state: slot.state, rev: slot.rev, lent: true });
    }
    return Promise.resolve(out);
  }

  async dueTags(now: number, limit: number): Promise<DueTag[]> {
    const due: DueTag[] = [];
    for (const [tagId, slot] of this.tags) {
      const dueAt = slot.due;
      if (dueAt <= now) due.push({ tagId, dueAt });
    }
    due.sort((a, b) => a.dueAt - b.dueAt || (a.tagId < b.tagId ? -1 : 1));
    return due.slice(0, limit);
  }

  commitBatch(batch: CommitBatch): Promise<CommitResult> {
    const now = this.clock.now();
    let conflicts: Set<string> | null = null;
    const writes = batch.states;
    const slots: (TagSlot | undefined)[] = new Array(writes.length);
    for (let i = 0; i < writes.length; i++) {
      const s = writes[i] as CommitBatch['states'][number];
      const slot = this.tags.get(s.tagId);
      slots[i] = slot;
      if (s.state !== undefined && s.expectRev !== undefined && (slot?.rev ?? 0) !== s.expectRev) {
        (conflicts ??= new Set()).add(s.tagId);
      }
    }
    for (let i = 0; i < writes.length; i++) {
      const s = writes[i] as CommitBatch['states'][number];
      if (conflicts?.has(s.tagId)) continue;
      let slot = slots[i] ?? this.tags.get(s.tagId);
      if (s.state !== undefined) {
        slot ??= this.slotOf(s.tagId);
        slot.rev++;
        slot.state = s.state;
      }
      if (s.dueAt === null) {
        if (slot !== undefined) slot.due = NaN;
      } else (slot ?? this.slotOf(s.tagId)).due = s.dueAt;
    }
    const events: AlertEvent[] = [];
    const touchedIds: string[] = [];
    const seen = new Set<string>();
    for (const ch of batch.changes) {
      if (conflicts?.has(ch.alert.tagId)) continue;
      const type = this.applyChange(ch);
      if (type === null) continue;
      const stored = this.alerts.get(ch.alert.id) as StoredAlert;
      events.push(this.appendEvent(type, joinAlert(engineOf(stored), stored.human), now));
      if (!seen.has(ch.alert.id)) {
        seen.add(ch.alert.id);
        touchedIds.push(ch.alert.id);
      }
    }
    const positions = conflicts ? batch.positions.filter((p) => !conflicts.has(p.ping.tagId)) : batch.positions;
    if (positions.length) this.addPositions(positions, now);
    const alerts: Alert[] = batch.alerts === false ? [] : touchedIds.map((id) => {
      const a = this.alerts.get(id) as StoredAlert;
      return joinAlert(engineOf(a), a.human);
    });
    for (const e of events) this.emitEvent(e);
    return Promise.resolve({ conflicts: conflicts ? [...conflicts] : [], events, alerts });
  }

  /** applies one engine change; returns the event type to emit (null = silent or ignored) */
  private applyChange(ch: AlertChange): AlertEventType | null {
    const a = ch.alert;
    const stored = this.alerts.get(a.id) ?? null;
    const v = mergeVerdict(stored, ch);
    if (!v.apply) return null;
    if (stored === null) {
      const rec: StoredAlert = {
        raw: { ...a },
        engine: null,
        human: newHumanPart(),
        openedAtMs: a.openedAt,
        pingCount: a.pingCount,
        active: a.active,
        confidence: a.confidence,
      };
      this.alerts.set(a.id, rec);
      // ascending order: a new episode is nearly always the newest, so this is an append
      const order = this.alertOrder;
      const tail = order[order.length - 1];
      if (tail === undefined || tail.openedAtMs < a.openedAt || (tail.openedAtMs === a.openedAt && tail.raw.id < a.id)) order.push(rec);
      else order.splice(lowerBound(order, (x) => x.openedAtMs < a.openedAt || (x.openedAtMs === a.openedAt && x.raw.id < a.id)), 0, rec);
    } else {
      // keep openedAt (the list order) stable: it identifies the episode (engineOf applies it)
      stored.raw = { ...a };
      stored.engine = null;
      stored.pingCount = a.pingCount;
      stored.active = a.active;
      if (a.confidence === 'confirmed') stored.confidence = 'confirmed';
    }
    return v.event;
  }

  private appendEvent(type: AlertEventType, alert: Alert, now: number): AlertEvent {
    let [ms, seq] = this.lastEvent;
    if (now > ms) {
      ms = now;
      seq = 0;
    } else seq += 1;
    this.lastEvent = [ms, seq];
    const event: AlertEvent = { id: `${ms}-${seq}`, type, createdAt: iso(now), alert };
    this.events.push({ ms, seq, event });
    if (this.events.length > this.eventsMaxLen + 1000) this.events.splice(0, this.events.length - this.eventsMaxLen);
    return event;
  }

  private emitEvent(e: AlertEvent): void {
    if (this.eventListeners.size === 0) return;
    // one copy for every listener, as the Redis store hands them one decoded message
    const copy = structuredClone(e);
    for (const l of this.eventListeners) {
      try {
        l(copy);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  // ---------------------------------------------------------------- alerts

  async getAlert(id: string): Promise<Alert | null> {
    const a = this.alerts.get(id);
    return a ? joinAlert(engineOf(a), a.human) : null;
  }

  async listAlerts(q: AlertQuery): Promise<Page<Alert>> {
    const limit = checkLimit(q.limit);
    const after = alertAfter(q.cursor);
    if (q.cursor && after === null) throw new BadCursorError();
    // newest first = walking the ascending array backwards, from just below the cursor
    let i = after
      ? lowerBound(this.alertOrder, (x) => x.openedAtMs < after.ms || (x.openedAtMs === after.ms && x.raw.id < after.id)) - 1
      : this.alertOrder.length - 1;
    const items: Alert[] = [];
    let last: StoredAlert | null = null;
    let more = false;
    for (; i >= 0; i--) {
      const a = this.alertOrder[i] as StoredAlert;
      if (q.since !== undefined && a.openedAtMs < q.since) break;
      if (q.status && a.human.status !== q.status) continue;
      if (q.type && a.raw.type !== q.type) continue;
      if (q.subjectId && a.raw.subjectId !== q.subjectId) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(joinAlert(engineOf(a), a.human));
      last = a;
    }
    return { items, nextCursor: more && last ? encodeCursor([last.openedAtMs, last.raw.id]) : null };
  }

  async acknowledgeAlert(id: string, input: AcknowledgeInput): Promise<TransitionResult> {
    return this.transition(id, 'acknowledged', (h, nowIso) => {
      h.status = 'acknowledged';
      h.acknowledgedBy = input.by;
      h.acknowledgedAt = nowIso;
      if (input.note) h.notes.push({ at: nowIso, by: input.by, action: 'acknowledge', text: input.note });
    });
  }

  async resolveAlert(id: string, input: ResolveInput): Promise<TransitionResult> {
    return this.transition(id, 'resolved', (h, nowIso) => {
      h.status = 'resolved';
      h.resolvedBy = input.by;
      h.resolvedAt = nowIso;
      h.outcome = input.outcome;
      if (input.note) h.notes.push({ at: nowIso, by: input.by, action: 'resolve', text: input.note });
    });
  }

  private transition(id: string, to: AlertStatus, apply: (h: AlertHumanPart, nowIso: string) => void): TransitionResult {
    const a = this.alerts.get(id);
    if (!a) throw new NotFoundError('alert', id);
    const from = a.human.status;
    const allowed = to === 'acknowledged' ? from === 'open' : from === 'open' || from === 'acknowledged';
    if (!allowed) throw new InvalidTransitionError(id, from, to);
    const now = this.clock.now();
    const h: AlertHumanPart = { ...a.human, notes: a.human.notes.slice() };
    apply(h, iso(now));
    a.human = h;
    const alert = joinAlert(engineOf(a), a.human);
    const event = this.appendEvent(to === 'acknowledged' ? 'alert.acknowledged' : 'alert.resolved', alert, now);
    this.emitEvent(event);
    return { alert: joinAlert(engineOf(a), a.human), event: structuredClone(event) };
  }

  // ---------------------------------------------------------------- events

  async readEventsAfter(afterId: string | null, limit: number): Promise<AlertEvent[]> {
    let start = 0;
    if (afterId !== null) {
      const p = parseEventId(afterId);
      if (!p) throw new BadCursorError();
      start = lowerBound(this.events, (e) => compareEventIds([e.ms, e.seq], p) <= 0);
    }
    return this.events.slice(start, start + Math.max(0, limit)).map((e) => structuredClone(e.event));
  }

  subscribeEvents(listener: (event: AlertEvent) => void): Unsubscribe {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  // ---------------------------------------------------------------- positions

  /** appends the batch's positions to the trail log, compacts a tag's chain grown long, frees chunks past retention */
  private addPositions(written: CommitBatch['positions'], now: number): void {
    const log = this.trails;
    const cutoff = now - this.retentionMs;
    const max = this.maxPerTag;
    let prevTag = '';
    let slot: TagSlot | undefined;
    for (const { ping, extras, receivedAt } of written) {
      if (ping.tagId !== prevTag || slot === undefined) {
        prevTag = ping.tagId;
        slot = this.slotOf(ping.tagId);
      }
      log.add(slot, ping, extras, receivedAt ?? now);
      log.compactIfLong(slot, cutoff, max);
    }
    // a tag nobody holds any more keeps its slot only while its trail does
    if (log.release(cutoff) > 0) {
      for (const [tagId, sl] of this.tags) if (sl.state === undefined && Number.isNaN(sl.due) && !log.holds(sl)) this.tags.delete(tagId);
    }
  }

  async positions(tagId: string, from: number, to: number, limit: number): Promise<StoredPosition[]> {
    const slot = this.tags.get(tagId);
    if (!slot) return [];
    const cutoff = this.clock.now() - this.retentionMs;
    return this.trails.range(tagId, slot, Math.max(from, cutoff), to, Math.max(0, limit), cutoff, this.maxPerTag);
  }

  // ---------------------------------------------------------------- coordination

  async claim(key: string, ttlMs: number): Promise<boolean> {
    return this.claimOne(key, ttlMs);
  }

  async claimMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    return keys.map((k) => this.claimOne(k, ttlMs));
  }

  private readonly progress = new Map<string, { through: number; until: number }>();

  async reportIngestProgress(consumer: string, through: number | null, ttlMs: number): Promise<void> {
    if (through === null) this.progress.delete(consumer);
    else this.progress.set(consumer, { through, until: this.clock.now() + ttlMs });
  }

  async ingestProgress(): Promise<number | null> {
    const now = this.clock.now();
    let least: number | null = null;
    for (const [k, r] of this.progress) {
      if (r.until <= now) this.progress.delete(k);
      else if (least === null || r.through < least) least = r.through;
    }
    return least;
  }

  private claimOne(key: string, ttlMs: number): boolean {
    const now = this.clock.now();
    const until = this.leases.get(key);
    if (until !== undefined && until > now) return false;
    this.leases.set(key, now + ttlMs);
    if (this.leases.size > 10_000) for (const [k, u] of this.leases) if (u <= now) this.leases.delete(k);
    return true;
  }

  // ---------------------------------------------------------------- lifecycle

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.configListeners.clear();
    this.eventListeners.clear();
  }
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(opts);
}
