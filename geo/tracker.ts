/**
 * TagTracker: the per-tag state machine of CONTRACT §3, pure.
 *
 *   applyPing(state, ping, ctx, zones, cfg, now, arrival?) → { state', changes }
 *       now = wall clock (detectedAt); arrival = when the ping reached the system (default now:
 *       HTTP ingest; the Kafka ingest passes the record's time, so a consumer that was down or
 *       lagging does not make its backlog look like silence)
 *   tick(state, ctx, zones, cfg, now, detectedAt?) → { state', changes }   (clock-driven rules at
 *       `now`; the sweeper holds `now` back while the Kafka ingest has not judged every ping that
 *       arrived before it, and passes the wall clock as detectedAt)
 *
 * The input state is never modified (copy-on-write); the returned state is a plain
 * JSON-serialisable object with bounded histories, meant to live in Redis.
 *
 * applyPingInPlace is the same function for a caller that holds the only reference to the
 * state's top-level object and its `recent` array (a state it got back from an earlier
 * applyPing/applyPingInPlace, or decoded itself): it updates those two in place instead of
 * copying them, and leaves everything deeper copy-on-write. Same states, same changes
 * (a property test holds the two to that); it saves the two allocations per ping that
 * otherwise dominate the engine's cost at 50,000 tags (young-generation churn and cache misses).
 *
 * Triggers (EngineAlert.trigger):
 *   entered          exclusion.breach opened by a ping inside an active exclusion zone
 *   left             inclusion.breach opened by a ping outside an active inclusion zone
 *   window_started   inclusion.breach opened by tick: a window started while the last known
 *                    position was outside (openedAt = the window start)
 *   strap_tampered   tag.tamper: a ping with strap "tampered"
 *   battery_low      tag.battery_low: battery <= batteryLowPct
 *   signal_lost      tag.signal_lost: nothing arrived for signalLostAfterMs
 *                    (openedAt = last arrival, or assignment, + signalLostAfterMs)
 *   no_fix           tag.no_fix: pings arrived but none with a position for noFixAfterMs
 *                    (openedAt = max(last positioned arrival or assignment + noFixAfterMs,
 *                    first position-less arrival since))
 *
 * Zone episodes. A ping "violates" a zone when the zone is active at the ping's ts and the
 * ping is inside (exclusion) / outside (inclusion), certain or not; it "clears" it when it
 * is on the allowed side and certain. Uncertain allowed-side pings are neutral: they never
 * end an episode. An episode raises its one alert once it has lasted graceSeconds of event
 * time (and, for minConfidence "confirmed", once one of its pings was certain); openedAt is
 * its first violating ping's ts. It ends on a clearing ping or when the zone stops being
 * active (endedAt = that edge).
 *
 * Late pings (ts < newest seen) are judged against the zone version and schedule in force at
 * their ts and never touch the live episode's position/end. Every episode remembers the
 * stretch of event time it may cover: (after, to) where `after` is the last instant known
 * not to violate before it and `to` the first known after it. A late violating ping inside
 * such a stretch is covered (it joins the episode, or is ignored when the episode is history);
 * otherwise it starts a late episode whose alert has `late: true`. Later late pings of the
 * same upload fall inside that episode's stretch and join it, so one breach never gets two
 * alerts whatever the delivery order.
 *
 * Device alerts (tamper, battery) follow the newest ping only: late pings do not change them.
 */
import { alertId } from './alert-id.ts';
import { judge, judgeInto } from './contain.ts';
import { activityIntervalCached as activityInterval, isActive, nextEdge } from './schedule.ts';
import type {
  AlertChange,
  AlertType,
  CompiledZone,
  Confidence,
  EngineAlert,
  Judgement,
  Ping,
  Position,
  Severity,
  TagContext,
  TrackerConfig,
  ZoneKind,
  ZoneLookup,
} from './types.ts';

// ---------------------------------------------------------------- state

/** Recent ping timestamps kept for duplicate detection (newest chunk + older chunk). */
export const RECENT_TS_CAP = 64;
/** size of the newest chunk: only it is copied per ping (the older chunk is shared) */
const RECENT_CHUNK = 16;
/** Ended episode stretches kept per zone (for late-ping coverage). */
export const HISTORY_CAP = 8;
/** Open late episodes kept per zone. */
export const LATE_CAP = 4;
/** Zone tracks kept per tag (those without open episodes are evicted first, oldest first). */
export const ZONE_TRACK_CAP = 32;

/** A zone episode (pending or alerted). Short keys: this lives in Redis for every tag. */
export interface Episode {
  /** alert id once raised, else null (pending: grace or confidence not met yet) */
  id: string | null;
  trg: string;
  /** zone version judged against */
  v: number;
  /** first violating ts (openedAt) */
  f: number;
  /** newest violating ts (lastPingAt) */
  l: number;
  /** last instant known not to violate before f (null = unknown) */
  a: number | null;
  /** first instant known not to violate after f (null = unknown / still going) */
  t: number | null;
  /** when the zone's activity at f ends (null = never) */
  u: number | null;
  /** confirmed (a certain ping seen) */
  c: boolean;
  n: number;
  fp: Position | null;
  lp: Position | null;
  /** detectedAt once raised */
  d: number | null;
  late: boolean;
  /** grace in ms and minConfidence "confirmed", copied from the zone version at f */
  g: number;
  mc: boolean;
}

/** An ended episode's stretch, kept to recognise late pings it covers. */
export interface Span {
  id: string | null;
  a: number | null;
  f: number;
  t: number | null;
}

export interface ZoneTrack {
  /** zone id */
  id: string;
  k: ZoneKind;
  /** newest live clearing ping ts */
  clr: number | null;
  live: Episode | null;
  late: Episode[];
  hist: Span[];
}

export interface DeviceEpisode {
  id: string;
  trg: string;
  f: number;
  d: number;
  n: number;
  l: number | null;
  fp: Position | null;
  lp: Position | null;
}

type DeviceType = 'tag.tamper' | 'tag.battery_low' | 'tag.signal_lost' | 'tag.no_fix';

/**
 * Indexes into TagState.t, the tag's times and last known position. NaN = none (null in JSON).
 *   NEWEST   newest ping ts seen (event time)
 *   ARR      last arrival (wall clock) of any ping
 *   FIX_ARR  last arrival of a positioned ping
 *   FL       first arrival of a position-less ping since the last positioned one
 *   CERT     ts of the newest live positioned ping at which every judgement was certain
 *   POS_TS   ts of the last known (newest live) position, and that position:
 *   POS_LAT, POS_LON, POS_ACC
 */
const NEWEST = 0;
const ARR = 1;
const FIX_ARR = 2;
const FL = 3;
const CERT = 4;
const POS_TS = 5;
const POS_LAT = 6;
const POS_LON = 7;
const POS_ACC = 8;
const T_LEN = 9;

/** NaN (none) as null */
function opt(x: number): number | null {
  return x === x ? x : null;
}

/** A tag state as written before version 2 (the numbers as named fields); read, never written. */
interface TagStateV1 {
  v: 1;
  tagId: string;
  subjectId: string;
  newest: number | null;
  arr: number | null;
  fixArr: number | null;
  fl: number | null;
  cert: number | null;
  posTs: number | null;
  posLat: number;
  posLon: number;
  posAcc: number;
  recent: number[];
  recentOld: number[];
  zones: ZoneTrack[];
  dev: Partial<Record<DeviceType, DeviceEpisode>>;
}

export interface TagState {
  v: 2;
  tagId: string;
  subjectId: string;
  /**
   * The times and the last position (see NEWEST … POS_ACC), in one array of doubles. V8 keeps
   * every number that is not a small integer in an object field as a separate heap object;
   * an array of doubles holds them unboxed in one block, so a ping reads and writes one
   * allocation here instead of eight scattered ones (and allocates none).
   */
  t: number[];
  /** recent ping ts for duplicate detection: newest chunk (<= 16) and older ones (<= 48) */
  recent: number[];
  recentOld: number[];
  /** per-zone episode tracks (bounded); only zones that were ever violated */
  zones: ZoneTrack[];
  dev: Partial<Record<DeviceType, DeviceEpisode>>;
}

export interface TrackerResult {
  state: TagState;
  changes: AlertChange[];
}

export interface PingResult extends TrackerResult {
  /** the ping was a duplicate (same tag and ts, CONTRACT §1): nothing changed, `state` is the input state */
  duplicate: boolean;
}

/**
 * Shared empty parts of new states. Copy-on-write never writes into `zones`, `dev` or
 * `recentOld` (it replaces them), so every new state can start with the same ones: fewer
 * objects per tag, and the ones read on every ping stay in cache. Frozen, so a write by
 * mistake throws instead of leaking into other tags.
 */
const NO_TRACKS: ZoneTrack[] = Object.freeze([]) as unknown as ZoneTrack[];
const NO_DEVICES: Partial<Record<DeviceType, DeviceEpisode>> = Object.freeze({});
const NO_TIMES: number[] = Object.freeze([]) as unknown as number[];

export function newTagState(ctx: TagContext): TagState {
  return {
    v: 2,
    tagId: ctx.tagId,
    subjectId: ctx.subjectId,
    t: [NaN, NaN, NaN, NaN, NaN, NaN, 0, 0, 0],
    recent: [],
    recentOld: NO_TIMES,
    zones: NO_TRACKS,
    dev: NO_DEVICES,
  };
}

// ---------------------------------------------------------------- alerts

const SEVERITY: Record<AlertType, Severity> = {
  'exclusion.breach': 'high',
  'inclusion.breach': 'high',
  'tag.tamper': 'high',
  'tag.signal_lost': 'medium',
  'tag.no_fix': 'medium',
  'tag.battery_low': 'low',
};

function zoneType(k: ZoneKind): AlertType {
  return k === 'exclusion' ? 'exclusion.breach' : 'inclusion.breach';
}

function conf(c: boolean): Confidence {
  return c ? 'confirmed' : 'possible';
}

function zoneAlert(ctx: TagContext, zoneId: string, k: ZoneKind, ep: Episode, endedAt: number | null): EngineAlert {
  const type = zoneType(k);
  return {
    id: ep.id as string,
    type,
    subjectId: ctx.subjectId,
    tagId: ctx.tagId,
    zoneId,
    zoneVersion: ep.v,
    severity: SEVERITY[type],
    confidence: conf(ep.c),
    trigger: ep.trg,
    late: ep.late,
    active: endedAt === null,
    openedAt: ep.f,
    detectedAt: ep.d as number,
    lastPingAt: ep.n > 0 ? ep.l : null,
    endedAt,
    pingCount: ep.n,
    firstPosition: ep.fp,
    lastPosition: ep.lp,
  };
}

function deviceAlert(ctx: TagContext, type: DeviceType, ep: DeviceEpisode, endedAt: number | null): EngineAlert {
  return {
    id: ep.id,
    type,
    subjectId: ctx.subjectId,
    tagId: ctx.tagId,
    zoneId: null,
    zoneVersion: null,
    severity: SEVERITY[type],
    confidence: 'confirmed',
    trigger: ep.trg,
    late: false,
    active: endedAt === null,
    openedAt: ep.f,
    detectedAt: ep.d,
    lastPingAt: ep.l,
    endedAt,
    pingCount: ep.n,
    firstPosition: ep.fp,
    lastPosition: ep.lp,
  };
}

// ---------------------------------------------------------------- copy-on-write helpers

class Work {
  s!: TagState;
  changes!: AlertChange[];
  /** zone tracks already copied in this call (few: a plain array beats a Set here) */
  private copied: string[] | null = null;
  private devCopied = false;
  private zonesCopied = false;
  ctx!: TagContext;
  zones!: ZoneLookup;
  cfg!: TrackerConfig;
  now = 0;

  /**
   * One instance serves every (synchronous, non-reentrant) call: no allocation per ping.
   * `inPlace`: the caller owns src's top-level object, which becomes the result.
   */
  init(src: TagState, ctx: TagContext, zones: ZoneLookup, cfg: TrackerConfig, now: number, inPlace = false): this {
    this.changes = [];
    this.copied = null;
    this.devCopied = false;
    this.zonesCopied = false;
    this.ctx = ctx;
    this.zones = zones;
    this.cfg = cfg;
    this.now = now;
    if (inPlace) {
      this.s = src;
      return this;
    }
    // explicit literal (one hidden class) is much cheaper than an object spread here
    this.s = {
      v: 2,
      tagId: src.tagId,
      subjectId: src.subjectId,
      t: src.t.slice(),
      recent: src.recent,
      recentOld: src.recentOld,
      zones: src.zones,
      dev: src.dev,
    };
    return this;
  }

  /** a writable copy of the zone track (created when absent and `kind` given) */
  track(zoneId: string, kind?: ZoneKind): ZoneTrack | undefined {
    const zones = this.s.zones;
    const i = trackIndex(zones, zoneId);
    const cur = i < 0 ? undefined : zones[i];
    if (cur && this.copied !== null && this.copied.includes(zoneId)) return cur;
    if (!cur && kind === undefined) return undefined;
    if (!this.zonesCopied) {
      this.s.zones = zones.slice();
      this.zonesCopied = true;
    }
    const t: ZoneTrack = cur
      ? { id: zoneId, k: cur.k, clr: cur.clr, live: cur.live && { ...cur.live }, late: cur.late.map((e) => ({ ...e })), hist: cur.hist.slice() }
      : { id: zoneId, k: kind as ZoneKind, clr: null, live: null, late: [], hist: [] };
    if (i < 0) this.s.zones.push(t);
    else this.s.zones[i] = t;
    (this.copied ??= []).push(zoneId);
    return t;
  }

  /** true while s.zones is still the input state's (unmodified) array */
  zonesShared(): boolean {
    return !this.zonesCopied;
  }

  /** replace the zone track list (eviction) */
  setZones(zones: ZoneTrack[]): void {
    this.s.zones = zones;
    this.zonesCopied = true;
  }

  dev(): Partial<Record<DeviceType, DeviceEpisode>> {
    if (!this.devCopied) {
      const d: Partial<Record<DeviceType, DeviceEpisode>> = {};
      for (const [k, v] of Object.entries(this.s.dev) as [DeviceType, DeviceEpisode][]) d[k] = { ...v };
      this.s.dev = d;
      this.devCopied = true;
    }
    return this.s.dev;
  }

  openDevice(type: DeviceType, trigger: string, openedAt: number, ping: Ping | null, pos: Position | null): void {
    const ep: DeviceEpisode = {
      id: alertId(this.ctx.tagId, type, null, openedAt),
      trg: trigger,
      f: openedAt,
      d: this.now,
      n: ping ? 1 : 0,
      l: ping ? ping.ts : null,
      fp: pos,
      lp: pos,
    };
    this.dev()[type] = ep;
    this.changes.push({ kind: 'opened', alert: deviceAlert(this.ctx, type, ep, null) });
  }

  endDevice(type: DeviceType, endedAt: number): void {
    const d = this.dev();
    const ep = d[type];
    if (!ep) return;
    delete d[type];
    this.changes.push({ kind: 'ended', alert: deviceAlert(this.ctx, type, ep, endedAt) });
  }

  touchDevice(type: DeviceType, ping: Ping, pos: Position | null): void {
    const ep = this.dev()[type];
    if (!ep) return;
    ep.n++;
    ep.l = ping.ts;
    if (pos) ep.lp = pos;
    this.changes.push({ kind: 'touched', alert: deviceAlert(this.ctx, type, ep, null) });
  }
}

const work = new Work();

// ---------------------------------------------------------------- episode mechanics

function trackIndex(zones: readonly ZoneTrack[], zoneId: string): number {
  for (let i = 0; i < zones.length; i++) if (zones[i]!.id === zoneId) return i;
  return -1;
}

function findTrack(s: TagState, zoneId: string): ZoneTrack | undefined {
  const i = trackIndex(s.zones, zoneId);
  return i < 0 ? undefined : s.zones[i];
}

function maxN(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}
function minN(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}
function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function covers(a: number | null, t: number | null, ts: number): boolean {
  return (a === null || a < ts) && (t === null || ts < t);
}

/** Raise the episode's alert if grace and confidence allow. */
function maybeRaise(w: Work, zoneId: string, tr: ZoneTrack, ep: Episode, graceMet = false): void {
  if (ep.id !== null) return;
  if (!graceMet && ep.l - ep.f < ep.g) return;
  if (ep.mc && !ep.c) return;
  ep.id = alertId(w.ctx.tagId, zoneType(tr.k), zoneId, ep.f);
  ep.d = w.now;
  w.changes.push({ kind: 'opened', alert: zoneAlert(w.ctx, zoneId, tr.k, ep, null) });
}

function joinEpisode(w: Work, zoneId: string, tr: ZoneTrack, ep: Episode, ts: number, pos: Position, certain: boolean, late: boolean): void {
  const wasConfirmed = ep.c;
  ep.n++;
  if (certain) ep.c = true;
  if (ep.id === null) {
    // pending: a late ping may start the episode earlier
    if (ts < ep.f) {
      ep.f = ts;
      ep.fp = pos;
    }
    if (ts >= ep.l) {
      ep.l = ts;
      ep.lp = pos;
    }
    maybeRaise(w, zoneId, tr, ep);
    return;
  }
  if (!late && ts >= ep.l) {
    ep.l = ts;
    ep.lp = pos;
  }
  const alert = zoneAlert(w.ctx, zoneId, tr.k, ep, null);
  w.changes.push({ kind: !wasConfirmed && ep.c ? 'updated' : 'touched', alert });
}

/** End an episode at `endedAt`: emit 'ended' if it was alerted, keep its stretch in history. */
function endEpisode(w: Work, zoneId: string, tr: ZoneTrack, ep: Episode, endedAt: number, to: number | null): void {
  if (ep.id !== null) w.changes.push({ kind: 'ended', alert: zoneAlert(w.ctx, zoneId, tr.k, ep, endedAt) });
  tr.hist.push({ id: ep.id, a: ep.a, f: ep.f, t: to });
  if (tr.hist.length > HISTORY_CAP) tr.hist.splice(0, tr.hist.length - HISTORY_CAP);
}

function newEpisode(z: CompiledZone, trigger: string, ts: number, pos: Position, certain: boolean, a: number | null, t: number | null, u: number | null, late: boolean): Episode {
  return {
    id: null,
    trg: trigger,
    v: z.version,
    f: ts,
    l: ts,
    a,
    t,
    u,
    c: certain,
    n: 1,
    fp: pos,
    lp: pos,
    d: null,
    late,
    g: Math.max(0, z.def.graceSeconds) * 1000,
    mc: z.def.minConfidence === 'confirmed',
  };
}

function violationTrigger(k: ZoneKind): string {
  return k === 'exclusion' ? 'entered' : 'left';
}

// ---------------------------------------------------------------- applyPing

const candBuf: CompiledZone[] = [];
/** reused for every judgement in judgeZones (read before the next one) */
const scratchJudgement: Judgement = { inside: false, distanceM: 0, certain: false };

/** Judge one ping (pure: `state` is not modified). */
export function applyPing(state: TagState | null, ping: Ping, ctx: TagContext, zones: ZoneLookup, cfg: TrackerConfig, now: number, arrival: number = now): PingResult {
  return apply(state, ping, ctx, zones, cfg, now, arrival, false);
}

/**
 * applyPing for a caller that owns `state`'s top-level object and its `recent` array (nobody
 * else reads them afterwards: a state this caller got back from applyPing or
 * applyPingInPlace and has not handed on, or one it decoded itself). The result's state is
 * then usually `state` itself, updated. Nested parts (zone tracks, device episodes, older
 * timestamps) stay copy-on-write, so they may be shared with earlier states.
 */
export function applyPingInPlace(state: TagState | null, ping: Ping, ctx: TagContext, zones: ZoneLookup, cfg: TrackerConfig, now: number, arrival: number = now): PingResult {
  return apply(state, ping, ctx, zones, cfg, now, arrival, true);
}

/**
 * The state to go on from: a new one when there is none or it is another subject's (the tag
 * was reassigned); one decoded from JSON (null where NaN was) or of version 1 in the current
 * form, as a new object (the input is never modified).
 */
function current(state: TagState | null, ctx: TagContext): TagState {
  if (state === null || state.subjectId !== ctx.subjectId) return newTagState(ctx);
  if (state.v !== 2) return fromV1(state as unknown as TagStateV1);
  const t = state.t as (number | null)[];
  for (let i = 0; i < T_LEN; i++) {
    if (typeof t[i] !== 'number') {
      return { v: 2, tagId: state.tagId, subjectId: state.subjectId, t: doubles(t), recent: state.recent, recentOld: state.recentOld, zones: state.zones, dev: state.dev };
    }
  }
  return state;
}

/** an array of T_LEN doubles (null and missing as NaN) */
function doubles(src: readonly (number | null | undefined)[]): number[] {
  const t = [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN];
  for (let i = 0; i < T_LEN; i++) {
    const x = src[i];
    if (typeof x === 'number') t[i] = x;
  }
  return t;
}

function fromV1(o: TagStateV1): TagState {
  return {
    v: 2,
    tagId: o.tagId,
    subjectId: o.subjectId,
    t: doubles([o.newest, o.arr, o.fixArr, o.fl, o.cert, o.posTs, o.posLat, o.posLon, o.posAcc]),
    recent: o.recent,
    recentOld: o.recentOld,
    zones: o.zones,
    dev: o.dev,
  };
}

/** The newest ping ts the state has seen (event time), null when none. */
export function newestTs(state: TagState): number | null {
  return state.v === 2 ? opt(state.t[NEWEST] ?? NaN) : (state as unknown as TagStateV1).newest;
}

/** The last known (newest live) position and its ts, null when none. */
export function lastPosition(state: TagState): (Position & { ts: number }) | null {
  const c = state.v === 2 ? state : fromV1(state as unknown as TagStateV1);
  const ts = opt(c.t[POS_TS] ?? NaN);
  return ts === null ? null : { ts, lat: c.t[POS_LAT]!, lon: c.t[POS_LON]!, accuracyM: c.t[POS_ACC]! };
}

function apply(state: TagState | null, ping: Ping, ctx: TagContext, zones: ZoneLookup, cfg: TrackerConfig, now: number, arrival: number, inPlace: boolean): PingResult {
  const src = current(state, ctx);
  const ts = ping.ts;
  const newest = src.t[NEWEST]!;
  // a ping newer than the newest seen cannot be a duplicate (the usual case: no scan; NaN: none seen)
  if (ts <= newest && (ts === newest || src.recent.includes(ts) || src.recentOld.includes(ts))) {
    return { state: src, changes: [], duplicate: true };
  }
  // a state current() had to make (new, upgraded or normalised) has a top-level object and `t`
  // of its own already: no second copy. Its `recent` may still be the input's (pushed in place
  // only when the caller owns it).
  const w = work.init(src, ctx, zones, cfg, now, inPlace || src !== state);
  const s = w.s;
  const t = s.t;
  const late = ts < newest;
  const positioned = ping.lat !== null && ping.lon !== null && ping.fix !== 'none';
  // Position objects are made only when an alert needs one (allocation is the hot path's cost)

  // --- arrival: signal lost / no fix (wall clock; an arrival never goes back: NaN compares false)
  const arr = arrival < t[ARR]! ? t[ARR]! : arrival;
  clockRules(w, arr);
  if (s.dev['tag.signal_lost']) w.endDevice('tag.signal_lost', arr);
  t[ARR] = arr;
  if (positioned) {
    t[FIX_ARR] = arr;
    t[FL] = NaN;
    if (s.dev['tag.no_fix']) w.endDevice('tag.no_fix', arr);
  } else if (t[FL] !== t[FL]) {
    t[FL] = arr;
  }

  // --- device status (newest pings only)
  if (!late) {
    if (ping.strap === 'tampered') {
      if (s.dev['tag.tamper']) w.touchDevice('tag.tamper', ping, positioned ? posOf(ping) : null);
      else w.openDevice('tag.tamper', 'strap_tampered', ts, ping, positioned ? posOf(ping) : null);
    } else if (ping.strap === 'ok' && s.dev['tag.tamper']) {
      w.endDevice('tag.tamper', ts);
    }
    if (ping.battery !== null) {
      if (s.dev['tag.battery_low']) {
        if (ping.battery >= cfg.batteryClearPct) w.endDevice('tag.battery_low', ts);
        else if (ping.battery <= cfg.batteryLowPct) w.touchDevice('tag.battery_low', ping, positioned ? posOf(ping) : null);
      } else if (ping.battery <= cfg.batteryLowPct) {
        w.openDevice('tag.battery_low', 'battery_low', ts, ping, positioned ? posOf(ping) : null);
      }
    }
  }

  // --- zones
  if (positioned) judgeZones(w, ping, late);

  // --- bookkeeping
  if (!late) {
    t[NEWEST] = ts;
    if (positioned) {
      t[POS_TS] = ts;
      t[POS_LAT] = ping.lat as number;
      t[POS_LON] = ping.lon as number;
      t[POS_ACC] = ping.accuracyM;
    }
    // live episodes whose zone's activity ended before this ping were ended in judgeZones;
    // late episodes whose activity ended are closed here
    closeExpiredLate(w, ts);
  }
  if (s.recent.length >= RECENT_CHUNK) {
    const keep = RECENT_TS_CAP - RECENT_CHUNK - s.recent.length;
    s.recentOld = s.recent.concat(keep > 0 ? s.recentOld.slice(0, keep) : []);
    s.recent = [ts];
  } else if (inPlace) {
    s.recent.push(ts);
  } else {
    const recent = s.recent.slice();
    recent.push(ts);
    s.recent = recent;
  }
  return { state: s, changes: w.changes, duplicate: false };
}

function posOf(ping: Ping): Position {
  return { lat: ping.lat as number, lon: ping.lon as number, accuracyM: ping.accuracyM };
}

function judgeZones(w: Work, ping: Ping, late: boolean): void {
  const s = w.s;
  const ts = ping.ts;
  const tz = w.ctx.timezone;
  const lon = ping.lon as number;
  const lat = ping.lat as number;
  const acc = ping.accuracyM;
  const cands = w.zones.candidates(w.ctx.subjectId, lon, lat, acc, ts, candBuf);
  let allCertain = true;
  const prevCert = opt(s.t[CERT]!);
  // tracks that existed before this ping (new ones made below are judged already): the input
  // state's array, which copy-on-write never modifies (copied only if written to already)
  const tracked = s.zones.length === 0 ? null : w.zonesShared() ? s.zones : s.zones.slice();
  for (let i = 0; i < cands.length; i++) {
    const z = cands[i]!;
    const hasTrack = tracked !== null && trackIndex(tracked, z.id) >= 0;
    const active = isActive(z.def, tz, ts);
    if (!active) {
      if (hasTrack) inactiveAt(w, z.id, z, ts, late);
      continue;
    }
    const j = judgeInto(z, lon, lat, acc, scratchJudgement);
    if (!j.certain) allCertain = false;
    const violating = z.kind === 'exclusion' ? j.inside : !j.inside;
    if (violating) onViolation(w, z, ts, posOf(ping), j.certain, late, prevCert);
    else if (j.certain && hasTrack) onClear(w, z.id, ts, late);
  }
  // zones with a track that the index did not return: outside and certain (exclusion), or
  // no longer applicable / removed (treated as not active)
  if (tracked === null) return finishJudging(s, late, allCertain, ts);
  for (let k = 0; k < tracked.length; k++) {
    const zoneId = tracked[k]!.id;
    const tr = findTrack(s, zoneId);
    if (!tr || (tr.live === null && tr.late.length === 0)) continue;
    if (isCandidate(cands, zoneId)) continue;
    const z = w.zones.get(zoneId, ts);
    if (!z || !z.subjects.has(w.ctx.subjectId) || !isActive(z.def, tz, ts)) inactiveAt(w, zoneId, z, ts, late);
    else if (z.kind === 'exclusion') onClear(w, zoneId, ts, late);
    // an inclusion zone is always a candidate; if the index did not return it, leave it be
  }
  finishJudging(s, late, allCertain, ts);
}

function finishJudging(s: TagState, late: boolean, allCertain: boolean, ts: number): void {
  if (!late && allCertain) s.t[CERT] = ts;
}

function isCandidate(cands: CompiledZone[], zoneId: string): boolean {
  for (let i = 0; i < cands.length; i++) if (cands[i]!.id === zoneId) return true;
  return false;
}

/** The zone is not active (or gone) at ts: a live episode ends at the edge. */
function inactiveAt(w: Work, zoneId: string, z: CompiledZone | undefined, ts: number, late: boolean): void {
  if (late) return; // a late ping outside the zone's activity says nothing about episodes
  const cur = findTrack(w.s, zoneId);
  if (!cur || cur.live === null) return;
  const tr = w.track(zoneId)!;
  const ep = tr.live!;
  let edge = ts;
  if (z) {
    const iv = activityInterval(z.def, w.ctx.timezone, ts);
    if (Number.isFinite(iv.from) && iv.from > ep.l && iv.from <= ts) edge = iv.from;
  } else if (ep.u !== null && ep.u > ep.l && ep.u <= ts) {
    edge = ep.u;
  }
  tr.live = null;
  endEpisode(w, zoneId, tr, ep, edge, edge);
  tr.clr = maxN(tr.clr, edge);
}

function onViolation(w: Work, z: CompiledZone, ts: number, pos: Position, certain: boolean, late: boolean, prevCert: number | null): void {
  const existing = findTrack(w.s, z.id);
  if (!late) {
    if (existing?.live) {
      const tr = w.track(z.id)!;
      joinEpisode(w, z.id, tr, tr.live!, ts, pos, certain, false);
      return;
    }
    const tr = w.track(z.id, z.kind)!;
    const iv = activityInterval(z.def, w.ctx.timezone, ts);
    const a = maxN(maxN(tr.clr, prevCert), Number.isFinite(iv.from) ? iv.from - 1 : null);
    const ep = newEpisode(z, violationTrigger(z.kind), ts, pos, certain, a, null, finiteOrNull(iv.to), false);
    tr.live = ep;
    maybeRaise(w, z.id, tr, ep);
    evictTracks(w);
    return;
  }
  // late: covered by a known episode?
  if (existing) {
    let best: { ep: Episode | null; a: number } | null = null;
    const consider = (ep: Episode | null, a: number | null, t: number | null): void => {
      if (!covers(a, t, ts)) return;
      const av = a ?? -Infinity;
      if (best === null || av > best.a) best = { ep, a: av };
    };
    if (existing.live) consider(existing.live, existing.live.a, null);
    for (const ep of existing.late) consider(ep, ep.a, ep.t);
    for (const sp of existing.hist) consider(null, sp.a, sp.t);
    const found = best as { ep: Episode | null; a: number } | null;
    if (found) {
      if (found.ep) {
        const tr = w.track(z.id)!;
        const idx = existing.live === found.ep ? -1 : existing.late.indexOf(found.ep);
        const ep = idx === -1 ? tr.live! : tr.late[idx]!;
        joinEpisode(w, z.id, tr, ep, ts, pos, certain, ep === tr.live);
        if (ep.late && ep.id !== null && ep.t !== null) {
          // a late episode whose end was already known: it is over once raised
          tr.late.splice(tr.late.indexOf(ep), 1);
          endEpisode(w, z.id, tr, ep, ep.t, ep.t);
        }
      }
      return;
    }
  }
  // not covered: a late episode of its own, bounded by what is known around ts
  const tr = w.track(z.id, z.kind)!;
  const iv = activityInterval(z.def, w.ctx.timezone, ts);
  let a: number | null = Number.isFinite(iv.from) ? iv.from - 1 : null;
  let t: number | null = Number.isFinite(iv.to) ? iv.to : null;
  const known = (x: number | null): void => {
    if (x === null) return;
    if (x < ts) a = maxN(a, x);
    else if (x > ts) t = minN(t, x);
  };
  known(tr.clr);
  if (tr.live) known(tr.live.a);
  for (const ep of tr.late) {
    known(ep.a);
    known(ep.t);
  }
  for (const sp of tr.hist) {
    known(sp.a);
    known(sp.t);
  }
  const ep = newEpisode(z, violationTrigger(z.kind), ts, pos, certain, a, t, finiteOrNull(iv.to), true);
  maybeRaise(w, z.id, tr, ep);
  if (ep.id !== null && ep.t !== null) {
    endEpisode(w, z.id, tr, ep, ep.t, ep.t);
  } else {
    tr.late.push(ep);
    if (tr.late.length > LATE_CAP) {
      const old = tr.late.shift()!;
      endEpisode(w, z.id, tr, old, old.l, old.t ?? old.l + 1);
    }
  }
  evictTracks(w);
}

function onClear(w: Work, zoneId: string, ts: number, late: boolean): void {
  const cur = findTrack(w.s, zoneId);
  if (!cur) return;
  const tr = w.track(zoneId)!;
  if (!late) {
    if (tr.live && ts > tr.live.f) {
      const ep = tr.live;
      tr.live = null;
      endEpisode(w, zoneId, tr, ep, ts, ts);
    }
    tr.clr = maxN(tr.clr, ts);
  } else {
    // a late clearing ping narrows what episodes may cover
    if (tr.live && tr.live.f > ts) tr.live.a = maxN(tr.live.a, ts);
    // spans are shared with the input state (track() copies the list, not its items): replace, never write
    const hist = tr.hist;
    for (let i = 0; i < hist.length; i++) {
      const sp = hist[i]!;
      if (sp.f > ts) hist[i] = { id: sp.id, a: maxN(sp.a, ts), f: sp.f, t: sp.t };
    }
  }
  // open late episodes: a clear after their start ends them; before it narrows them
  for (let i = 0; i < tr.late.length; ) {
    const ep = tr.late[i]!;
    if (ts > ep.f && (ep.t === null || ts < ep.t)) {
      tr.late.splice(i, 1);
      endEpisode(w, zoneId, tr, ep, ts, ts);
      continue;
    }
    if (ts < ep.f) ep.a = maxN(ep.a, ts);
    i++;
  }
}

/** Late episodes whose zone activity ended before `upTo` are over. */
function closeExpiredLate(w: Work, upTo: number): void {
  const zones = w.s.zones;
  for (let zi = 0; zi < zones.length; zi++) {
    const cur = zones[zi]!;
    if (cur.late.length === 0 || !cur.late.some((ep) => ep.u !== null && ep.u <= upTo)) continue;
    const zoneId = cur.id;
    const tr = w.track(zoneId)!;
    for (let i = 0; i < tr.late.length; ) {
      const ep = tr.late[i]!;
      if (ep.u !== null && ep.u <= upTo) {
        tr.late.splice(i, 1);
        endEpisode(w, zoneId, tr, ep, ep.u, ep.u);
        continue;
      }
      i++;
    }
  }
}

/** Keep the number of zone tracks bounded: drop tracks with nothing open, oldest first. */
function evictTracks(w: Work): void {
  const zones = w.s.zones;
  if (zones.length <= ZONE_TRACK_CAP) return;
  const idle = zones.filter((t) => t.live === null && t.late.length === 0).sort((x, y) => lastTouch(x) - lastTouch(y));
  const drop = new Set(idle.slice(0, zones.length - ZONE_TRACK_CAP).map((t) => t.id));
  w.setZones(zones.filter((t) => !drop.has(t.id)));
}

function lastTouch(tr: ZoneTrack): number {
  let m = tr.clr ?? -Infinity;
  for (const sp of tr.hist) m = Math.max(m, sp.t ?? sp.f);
  return m;
}

// ---------------------------------------------------------------- clock rules

function signalDeadline(s: TagState, ctx: TagContext, cfg: TrackerConfig): number {
  const arr = s.t[ARR]!;
  return (arr === arr ? arr : ctx.assignedAt) + cfg.signalLostAfterMs;
}

function noFixDeadline(s: TagState, ctx: TagContext, cfg: TrackerConfig): number | null {
  const fl = s.t[FL]!;
  if (fl !== fl) return null;
  const fixArr = s.t[FIX_ARR]!;
  return Math.max((fixArr === fixArr ? fixArr : ctx.assignedAt) + cfg.noFixAfterMs, fl);
}

/**
 * How far the tag's event time runs behind the wall clock: the last ping's arrival minus its
 * ts. Grace is event time, tick() runs on the wall clock: a ping still on its way (it left
 * the zone before grace ran out) must not be overtaken by the clock, so grace expiry waits
 * for this lag too.
 */
function deliveryLag(s: TagState): number {
  const arr = s.t[ARR]!;
  const newest = s.t[NEWEST]!;
  return arr > newest ? arr - newest : 0; // false when either is NaN (none)
}

/** signal lost / no fix due at `now` (wall clock) */
function clockRules(w: Work, now: number): void {
  const s = w.s;
  if (!s.dev['tag.signal_lost']) {
    const dl = signalDeadline(s, w.ctx, w.cfg);
    if (now >= dl) w.openDevice('tag.signal_lost', 'signal_lost', dl, null, null);
  }
  if (!s.dev['tag.no_fix']) {
    const dl = noFixDeadline(s, w.ctx, w.cfg);
    if (dl !== null && now >= dl) w.openDevice('tag.no_fix', 'no_fix', dl, null, null);
  }
}

/** optional fast path of a ZoneLookup (ZoneIndex): the subset of forSubject that is inclusion zones */
interface InclusionLookup {
  inclusions(subjectId: string, at: number, out: CompiledZone[]): CompiledZone[];
}
/** reused by tick (only tick writes it; nothing in its loop re-enters tick) */
const tickInclBuf: CompiledZone[] = [];

/**
 * Clock-driven checks at wall-clock `now`: signal lost, no fix, grace expiry with no further
 * ping, windows that ended, and inclusion windows that started while the last known position
 * is outside. Alerts raised get `detectedAt` (default `now`): the sweeper judges at an instant
 * held back to the Kafka ingest's progress and raises at the wall clock.
 */
export function tick(state: TagState | null, ctx: TagContext, zones: ZoneLookup, cfg: TrackerConfig, now: number, detectedAt: number = now): TrackerResult {
  const src = current(state, ctx);
  const w = work.init(src, ctx, zones, cfg, detectedAt);
  const s = w.s;
  clockRules(w, now);
  const tz = ctx.timezone;

  for (const cur of src.zones) {
    const zoneId = cur.id;
    const ep0 = cur.live;
    if (ep0 === null) continue;
    const z = zones.get(zoneId, now);
    if (!z || !z.subjects.has(ctx.subjectId) || !isActive(z.def, tz, now)) {
      inactiveAt(w, zoneId, z, now, false);
      continue;
    }
    if (ep0.id === null && now >= ep0.f + ep0.g + deliveryLag(src) && (ep0.u === null || ep0.u > ep0.f + ep0.g)) {
      // grace expired with no further ping: the last known position still violates
      const tr = w.track(zoneId)!;
      maybeRaise(w, zoneId, tr, tr.live!, true);
    }
  }
  closeExpiredLate(w, now);

  // inclusion windows that started while the last known position is outside
  if (s.t[POS_TS] === s.t[POS_TS]) {
    const p = { lat: s.t[POS_LAT]!, lon: s.t[POS_LON]!, acc: s.t[POS_ACC]!, ts: s.t[POS_TS]! };
    // ZoneIndex keeps the subject's inclusion zones apart: no array of all its zones
    const fast = zones as ZoneLookup & Partial<InclusionLookup>;
    const zs = typeof fast.inclusions === 'function' ? fast.inclusions(ctx.subjectId, now, tickInclBuf) : zones.forSubject(ctx.subjectId, now);
    for (const z of zs) {
      if (z.kind !== 'inclusion' || !z.subjects.has(ctx.subjectId)) continue;
      if (!isActive(z.def, tz, now)) continue; // memoised: the usual answer, cheaply
      const iv = activityInterval(z.def, tz, now);
      if (!iv.active || !Number.isFinite(iv.from) || iv.from <= p.ts) continue;
      const cur = findTrack(s, z.id);
      if (cur?.live) continue;
      if (cur && cur.hist.some((sp) => sp.f === iv.from)) continue;
      const j = judge(z, p.lon, p.lat, p.acc);
      if (j.inside) continue;
      const grace = Math.max(0, z.def.graceSeconds) * 1000;
      if (now < iv.from + grace) continue;
      const tr = w.track(z.id, 'inclusion')!;
      const pos: Position = { lat: p.lat, lon: p.lon, accuracyM: p.acc };
      const ep = newEpisode(z, 'window_started', iv.from, pos, j.certain, maxN(tr.clr, iv.from - 1), null, finiteOrNull(iv.to), false);
      ep.n = 0; // no ping of this episode yet: the position is the last known one
      tr.live = ep;
      maybeRaise(w, z.id, tr, ep, true);
      evictTracks(w);
    }
  }
  return { state: w.changes.length > 0 || s !== src ? s : src, changes: w.changes };
}

/** optional fast path of a ZoneLookup (ZoneIndex): a subset of forSubject holding every inclusion zone with a schedule or validity bounds */
interface ScheduledInclusionLookup {
  scheduledInclusions(subjectId: string, at: number, out: CompiledZone[]): CompiledZone[];
}
/** reused by nextTickAt (nothing in its loop calls back into the lookup) */
const schedBuf: CompiledZone[] = [];

/**
 * The earliest wall-clock instant > after at which tick() could change something
 * (null = nothing scheduled). The sweeper schedules the tag's next tick at it.
 */
export function nextTickAt(state: TagState | null, ctx: TagContext, zones: ZoneLookup, cfg: TrackerConfig, after: number): number | null {
  const s = current(state, ctx);
  // candidates are folded with dueAfter() (no closure: this runs once per ping on ingest)
  let next = Infinity;
  if (!s.dev['tag.signal_lost']) next = dueAfter(next, signalDeadline(s, ctx, cfg), after);
  if (!s.dev['tag.no_fix']) next = dueAfter(next, noFixDeadline(s, ctx, cfg), after);
  const tz = ctx.timezone;
  const tracks = s.zones;
  for (let i = 0; i < tracks.length; i++) {
    const tr = tracks[i]!;
    const live = tr.live;
    if (live) {
      if (live.id === null) next = dueAfter(next, live.f + live.g + deliveryLag(s), after);
      const z = zones.get(tr.id, after);
      next = dueAfter(next, z ? nextEdge(z.def, tz, after) : after + 1, after);
    }
    const late = tr.late;
    for (let k = 0; k < late.length; k++) next = dueAfter(next, late[k]!.u, after);
  }
  if (s.t[POS_TS] === s.t[POS_TS]) {
    // ZoneIndex keeps the subject's scheduled inclusion zones apart: no array of all its zones
    const fast = zones as ZoneLookup & Partial<ScheduledInclusionLookup>;
    const zs =
      typeof fast.scheduledInclusions === 'function'
        ? fast.scheduledInclusions(ctx.subjectId, after, schedBuf)
        : zones.forSubject(ctx.subjectId, after);
    for (let i = 0; i < zs.length; i++) {
      const z = zs[i]!;
      if (z.kind !== 'inclusion' || (z.def.schedule === null && z.def.validFrom === null)) continue;
      const e = nextEdge(z.def, tz, after);
      if (e !== null) next = dueAfter(next, e + Math.max(0, z.def.graceSeconds) * 1000, after);
    }
  }
  return next === Infinity ? null : next;
}

/** min(next, x clamped to > after: overdue = as soon as possible); null / non-finite x ignored */
function dueAfter(next: number, x: number | null, after: number): number {
  if (x === null || !Number.isFinite(x)) return next;
  const v = x > after ? x : after + 1;
  return v < next ? v : next;
}
