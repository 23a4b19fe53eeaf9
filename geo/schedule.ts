/**
 * Zone schedules (CONTRACT §2): weekly windows of local wall-clock time in an IANA zone,
 * bounded by validFrom/validTo.
 *
 * Semantics
 * - A window belongs to the local day it starts on; `end <= start` crosses midnight and
 *   ends on the next local day (so 19:00–07:00 lasts 13 h / 11 h on the DST change nights).
 *   `start === end` is a 24-hour window.
 * - A start or end local time that does not exist (inside a spring-forward gap) resolves
 *   to the first instant after the gap. A local time that occurs twice (fall-back) resolves
 *   to its first occurrence.
 * - Active intervals are half-open: [start, end). validFrom is inclusive, validTo exclusive.
 * - Time zones come from luxon (IANA data of the runtime's Intl); offsets are never
 *   written by hand. An unknown schedule timezone falls back to the subject's, an unknown
 *   subject timezone to UTC (validateSchedule rejects bad zones at the edge).
 *
 * Hot path: isActive() memoises, per zone version (ZoneDef object) and time zone, the
 * current maximal interval of constant activity, so the usual call is a WeakMap lookup and
 * two comparisons.
 */
import { IANAZone } from 'luxon';
import type { GeometryProblem, Schedule, ScheduleWindow, Weekday, ZoneDef } from './types.ts';

const DAY_MS = 86_400_000;
const MIN_MS = 60_000;
const OFFSET_MAX_MS = 15 * 3_600_000;
/** local days searched either side of t when building an interval */
const SPAN_DAYS = 8;
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** A maximal stretch [from, to) of constant activity (±Infinity = unbounded). */
export interface ActivityInterval {
  from: number;
  to: number;
  active: boolean;
}

// ---------------------------------------------------------------- time-zone helpers

const zoneCache = new Map<string, IANAZone | null>();
function zoneOf(name: string): IANAZone | null {
  let z = zoneCache.get(name);
  if (z === undefined) {
    z = IANAZone.isValidZone(name) ? IANAZone.create(name) : null;
    if (zoneCache.size > 1000) zoneCache.clear();
    zoneCache.set(name, z);
  }
  return z;
}

/** The zone a schedule is evaluated in. */
function effectiveZone(schedule: Schedule, subjectTz: string): IANAZone {
  const own = schedule.timezone ? zoneOf(schedule.timezone) : null;
  return own ?? zoneOf(subjectTz) ?? (zoneOf('UTC') as IANAZone);
}

function offsetMs(zone: IANAZone, ts: number): number {
  return zone.offset(ts) * MIN_MS;
}

/** Offset at UTC midnight of day `day` (days since epoch), memoised per zone. */
const dayOffsets = new Map<IANAZone, Map<number, number>>();
function dayOffsetMs(zone: IANAZone, day: number): number {
  let m = dayOffsets.get(zone);
  if (m === undefined) {
    m = new Map();
    dayOffsets.set(zone, m);
  }
  let o = m.get(day);
  if (o === undefined) {
    o = offsetMs(zone, day * DAY_MS);
    if (m.size > 20_000) m.clear();
    m.set(day, o);
  }
  return o;
}

/**
 * The instant of local wall-clock time `wall` (expressed as if it were UTC ms) in `zone`.
 * Ambiguous (fall-back) → first occurrence; non-existent (gap) → first instant after the gap.
 */
export function localToInstant(zone: IANAZone, wall: number): number {
  // Fast path: the offset is the same a day or more either side (no transition nearby).
  const da = Math.floor(wall / DAY_MS) - 1;
  const qa = dayOffsetMs(zone, da);
  if (qa === dayOffsetMs(zone, da + 3)) return wall - qa;
  const oa = offsetMs(zone, wall - DAY_MS);
  const ob = offsetMs(zone, wall + DAY_MS);
  const t1 = wall - oa;
  const t2 = wall - ob;
  const ok1 = offsetMs(zone, t1) + t1 === wall;
  const ok2 = offsetMs(zone, t2) + t2 === wall;
  if (ok1 && ok2) return Math.min(t1, t2);
  if (ok1) return t1;
  if (ok2) return t2;
  // In a gap: find the transition instant T (first instant whose offset is the later one).
  let lo = Math.min(t1, t2) - DAY_MS / 2;
  let hi = Math.max(t1, t2) + DAY_MS / 2;
  const after = offsetMs(zone, hi);
  // invariant: offset(lo) != after, offset(hi) == after; transitions are on whole minutes
  lo = Math.floor(lo / MIN_MS);
  hi = Math.ceil(hi / MIN_MS);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetMs(zone, mid * MIN_MS) === after) hi = mid;
    else lo = mid;
  }
  return hi * MIN_MS;
}

function parseHHMM(s: string): number {
  const m = HHMM.exec(s);
  if (!m) return NaN;
  return Number(m[1]) * 60 + Number(m[2]);
}

// ---------------------------------------------------------------- interval computation

interface ParsedWindow {
  days: boolean[]; // index = JS getUTCDay() of the local date
  startMin: number;
  endMin: number;
}

const parsedCache = new WeakMap<Schedule, ParsedWindow[]>();
function parsedWindows(s: Schedule): ParsedWindow[] {
  let p = parsedCache.get(s);
  if (!p) {
    p = [];
    for (const w of s.windows as ScheduleWindow[]) {
      const startMin = parseHHMM(w.start);
      const endMin = parseHHMM(w.end);
      if (!Number.isFinite(startMin) || !Number.isFinite(endMin)) continue;
      const days = WEEKDAYS.map((d) => w.days.includes(d));
      p.push({ days, startMin, endMin });
    }
    parsedCache.set(s, p);
  }
  return p;
}

/** Schedule-only activity interval around t (ignores validFrom/validTo). */
function scheduleInterval(schedule: Schedule, subjectTz: string, t: number): ActivityInterval {
  const windows = parsedWindows(schedule);
  if (windows.length === 0) return { from: -Infinity, to: Infinity, active: false };
  const zone = effectiveZone(schedule, subjectTz);
  const local = t + offsetMs(zone, t);
  const localDay = Math.floor(local / DAY_MS); // days since epoch of the local date
  const spans: [number, number][] = [];
  for (let d = localDay - SPAN_DAYS; d <= localDay + SPAN_DAYS; d++) {
    const dow = (((d + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
    for (const w of windows) {
      if (!w.days[dow]) continue;
      const startWall = d * DAY_MS + w.startMin * MIN_MS;
      const endWall = (w.endMin <= w.startMin ? d + 1 : d) * DAY_MS + w.endMin * MIN_MS;
      const s = localToInstant(zone, startWall);
      const e = localToInstant(zone, endWall);
      if (e > s) spans.push([s, e]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  // merge touching/overlapping spans
  const merged: [number, number][] = [];
  for (const sp of spans) {
    const last = merged[merged.length - 1];
    if (last && sp[0] <= last[1]) last[1] = Math.max(last[1], sp[1]);
    else merged.push([sp[0], sp[1]]);
  }
  // the searched range is only trusted well inside [lowBound, highBound]
  // (a window ends at most two local days after its start day; offsets stay within ±14 h)
  const lowBound = (localDay - SPAN_DAYS + 1) * DAY_MS + OFFSET_MAX_MS;
  const highBound = (localDay + SPAN_DAYS + 1) * DAY_MS - OFFSET_MAX_MS;
  let prevEnd = -Infinity;
  for (const [s, e] of merged) {
    if (t < s) return { from: Math.max(prevEnd, lowBound), to: Math.min(s, highBound), active: false };
    if (t < e) return { from: Math.max(s, lowBound), to: Math.min(e, highBound), active: true };
    prevEnd = e;
  }
  return { from: Math.max(prevEnd, lowBound), to: highBound, active: false };
}

/**
 * The activity interval containing t, combining schedule and validFrom/validTo. `to` is
 * not always a true edge (ranges are searched ±8 days); nextEdge() walks on when it is not.
 */
export function activityInterval(def: ZoneDef, subjectTz: string, t: number): ActivityInterval {
  const vf = def.validFrom ?? -Infinity;
  const vt = def.validTo ?? Infinity;
  if (vt <= vf) return { from: -Infinity, to: Infinity, active: false };
  if (t >= vt) return { from: vt, to: Infinity, active: false };
  if (t < vf) return { from: -Infinity, to: vf, active: false };
  if (!def.schedule) return { from: vf, to: vt, active: true };
  const s = scheduleInterval(def.schedule, subjectTz, t);
  if (s.active) return { from: Math.max(s.from, vf), to: Math.min(s.to, vt), active: true };
  return { from: Math.max(s.from, vf), to: s.to >= vt ? Infinity : s.to, active: false };
}

// ---------------------------------------------------------------- memoised hot path

interface Memo {
  tz: string;
  from: number;
  to: number;
  active: boolean;
  /** the interval seen before (late pings, tags whose clocks differ): swapped back in on a hit */
  pFrom: number;
  pTo: number;
  pActive: boolean;
  others: Map<string, ActivityInterval> | null;
}
const memo = new WeakMap<ZoneDef, Memo>();

/** Is the zone (this version) active at instant t? */
export function isActive(def: ZoneDef, subjectTz: string, t: number): boolean {
  if (def.schedule === null) {
    return (def.validFrom === null || t >= def.validFrom) && (def.validTo === null || t < def.validTo);
  }
  const tz = def.schedule.timezone || subjectTz;
  let m = memo.get(def);
  if (m !== undefined && m.tz === tz) {
    if (t >= m.from && t < m.to) return m.active;
    const from = m.from;
    const to = m.to;
    const active = m.active;
    if (t >= m.pFrom && t < m.pTo) {
      m.from = m.pFrom;
      m.to = m.pTo;
      m.active = m.pActive;
    } else {
      const iv = activityInterval(def, subjectTz, t);
      m.from = iv.from;
      m.to = iv.to;
      m.active = iv.active;
    }
    m.pFrom = from;
    m.pTo = to;
    m.pActive = active;
    return m.active;
  }
  if (m !== undefined) {
    // a second time zone for the same zone version (shared zone, subjects in other zones)
    const o = (m.others ??= new Map());
    const c = o.get(tz);
    if (c && t >= c.from && t < c.to) return c.active;
    const iv = activityInterval(def, subjectTz, t);
    if (o.size > 64) o.clear();
    o.set(tz, iv);
    return iv.active;
  }
  const iv = activityInterval(def, subjectTz, t);
  m = { tz, from: iv.from, to: iv.to, active: iv.active, pFrom: 0, pTo: 0, pActive: false, others: null };
  memo.set(def, m);
  return iv.active;
}

/**
 * activityInterval() through isActive()'s memo: no luxon work while t stays inside the
 * interval last seen for this zone version and time zone. The result must not be modified.
 */
export function activityIntervalCached(def: ZoneDef, subjectTz: string, t: number): Readonly<ActivityInterval> {
  if (def.schedule === null) return activityInterval(def, subjectTz, t);
  isActive(def, subjectTz, t);
  const tz = def.schedule.timezone || subjectTz;
  const m = memo.get(def);
  if (m !== undefined && m.tz === tz && t >= m.from && t < m.to) return m;
  const o = m?.others?.get(tz);
  if (o !== undefined && t >= o.from && t < o.to) return o;
  return activityInterval(def, subjectTz, t);
}

/**
 * The next instant > after at which the zone's activity changes (window start or end,
 * validFrom, validTo), or null when it never changes again.
 */
export function nextEdge(def: ZoneDef, subjectTz: string, after: number): number | null {
  // memo per zone version and time zone: the answer r found from `after` holds for every
  // instant in [after, r) (activity is constant there), and for every later one when null
  let byTz = edgeMemo.get(def);
  if (byTz === undefined) {
    byTz = new Map();
    edgeMemo.set(def, byTz);
  }
  const m = byTz.get(subjectTz);
  if (m !== undefined && after >= m.lo && (m.r === null || after < m.r)) return m.r;
  const r = nextEdgeUncached(def, subjectTz, after);
  if (byTz.size > 64) byTz.clear();
  byTz.set(subjectTz, { lo: after, r });
  return r;
}

const edgeMemo = new WeakMap<ZoneDef, Map<string, { lo: number; r: number | null }>>();

function nextEdgeUncached(def: ZoneDef, subjectTz: string, after: number): number | null {
  let iv = activityInterval(def, subjectTz, after);
  const active = iv.active;
  // an interval's `to` may be a search-range limit rather than a real edge: walk on
  for (let i = 0; i < 500; i++) {
    if (iv.to === Infinity) return null;
    const next = activityInterval(def, subjectTz, iv.to);
    if (next.active !== active) return iv.to;
    if (next.to <= iv.to) return null; // no progress (cannot happen; guards a loop)
    iv = next;
  }
  // ~11 years of unchanged activity: only validTo can still change it
  return def.validTo !== null && def.validTo > after ? def.validTo : null;
}

// ---------------------------------------------------------------- validation

/**
 * Checks a schedule as received at the edge; returns every problem (empty = valid).
 * `null`/absent schedules are valid (always active). Paths are relative to the schedule.
 */
export function validateSchedule(s: unknown): GeometryProblem[] {
  const problems: GeometryProblem[] = [];
  if (s === null || s === undefined) return problems;
  if (typeof s !== 'object' || Array.isArray(s)) {
    problems.push({ code: 'invalid_type', path: [], message: 'schedule must be an object or null' });
    return problems;
  }
  const o = s as Record<string, unknown>;
  if (o.timezone !== undefined && o.timezone !== null) {
    if (typeof o.timezone !== 'string' || !IANAZone.isValidZone(o.timezone)) {
      problems.push({ code: 'invalid_timezone', path: ['timezone'], message: `unknown IANA time zone ${JSON.stringify(o.timezone)}` });
    }
  }
  if (!Array.isArray(o.windows)) {
    problems.push({ code: 'invalid_type', path: ['windows'], message: 'windows must be an array' });
    return problems;
  }
  if (o.windows.length === 0) {
    problems.push({ code: 'windows_empty', path: ['windows'], message: 'a schedule needs at least one window (omit schedule for always active)' });
  }
  o.windows.forEach((w: unknown, i: number) => {
    if (typeof w !== 'object' || w === null || Array.isArray(w)) {
      problems.push({ code: 'invalid_type', path: ['windows', i], message: 'window must be an object' });
      return;
    }
    const win = w as Record<string, unknown>;
    for (const key of ['start', 'end'] as const) {
      const v = win[key];
      if (typeof v !== 'string' || !HHMM.test(v)) {
        problems.push({ code: 'invalid_time', path: ['windows', i, key], message: `${key} must be "HH:MM" (00:00–23:59), got ${JSON.stringify(v)}` });
      }
    }
    if (!Array.isArray(win.days)) {
      problems.push({ code: 'invalid_type', path: ['windows', i, 'days'], message: 'days must be an array of mon..sun' });
    } else {
      if (win.days.length === 0) problems.push({ code: 'days_empty', path: ['windows', i, 'days'], message: 'days must not be empty' });
      win.days.forEach((d: unknown, j: number) => {
        if (typeof d !== 'string' || !(WEEKDAYS as readonly string[]).includes(d)) {
          problems.push({ code: 'invalid_day', path: ['windows', i, 'days', j], message: `day must be one of mon,tue,wed,thu,fri,sat,sun, got ${JSON.stringify(d)}` });
        }
      });
    }
  });
  return problems;
}

/** Checks validFrom < validTo when both are set (epoch ms). */
export function validateValidity(validFrom: number | null, validTo: number | null): GeometryProblem[] {
  if (validFrom !== null && validTo !== null && validTo <= validFrom) {
    return [{ code: 'invalid_validity', path: ['validTo'], message: 'validTo must be after validFrom' }];
  }
  return [];
}
