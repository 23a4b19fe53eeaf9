/**
 * A compact text form of a tag state, for stores that keep states as text (the Redis store).
 *
 * A state's JSON is mostly its duplicate-detection window: up to 64 ping timestamps of 13
 * digits each (~900 of ~1,100 bytes for a tag that has pinged for an hour), and turning those
 * doubles into decimal text is the slowest part of JSON.stringify (~5 µs a state). Here every
 * time is written as its difference from the one before (a minute apart → "60000"), small
 * integers that print and parse fast:
 *
 *   ~[3, tagId, subjectId, base, [6 times − base | null], lat|null, lon|null, acc|null,
 *     [recent as deltas from base], [recentOld as deltas], zones, dev]
 *
 * with `base` the newest ping ts (0 before the first). Zone tracks and device episodes
 * (present only for tags that ever broke a condition) stay as they are. About 400 instead of
 * 900 bytes, and ~1.2 µs to encode instead of ~5.
 *
 * The form is only used when it round-trips exactly (every time a safe integer, so the
 * differences are exact); anything else — a state with a fractional time, an older version, or
 * a value that is not a tag state at all (a store's conformance tests write arbitrary values) —
 * is written as plain JSON. `decodeTagState` reads both, so states written before this form
 * existed still load.
 */

/** marks the compact form; JSON text never starts with it */
const MARK = '~';
/** its char code */
export const TAG_STATE_MARK = 126;
/** TagState.t: six times (NaN = none), then latitude, longitude, accuracy */
const TIMES = 6;
const T_LEN = 9;

type Obj = Record<string, unknown>;

function isTagStateV2(s: unknown): s is { v: 2; tagId: string; subjectId: string; t: number[]; recent: number[]; recentOld: number[]; zones: unknown; dev: unknown } {
  if (typeof s !== 'object' || s === null) return false;
  const o = s as Obj;
  return (
    o.v === 2 &&
    typeof o.tagId === 'string' &&
    typeof o.subjectId === 'string' &&
    Array.isArray(o.t) &&
    o.t.length === T_LEN &&
    Array.isArray(o.recent) &&
    Array.isArray(o.recentOld) &&
    Array.isArray(o.zones) &&
    typeof o.dev === 'object' &&
    o.dev !== null
  );
}

/** a finite number, else null (JSON.stringify's rule: NaN means none) */
function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/**
 * Scratch arrays for one encode (reused: an encode allocates little more than its result).
 * The text is made by one JSON.stringify of small integers: built by concatenation it left
 * ~5 KB of string pieces per state for the young generation to collect.
 */
const scratchTimes: (number | null)[] = [];
const scratchRecent: number[] = [];
const scratchOld: number[] = [];

/** `a` as differences into `out`, the first from `prev`; false when an element or a difference is not a safe integer */
function deltas(a: readonly number[], prev: number, out: number[]): boolean {
  out.length = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const d = x - prev;
    // both the time and its difference exact: summing the differences gives the times back
    if (!Number.isSafeInteger(x) || !Number.isSafeInteger(d)) return false;
    out.push(d);
    prev = x;
  }
  return true;
}

/** The text to store for a tag state (any value is accepted: what is not a tag state is JSON). */
export function encodeTagState(state: unknown): string {
  const compact = compactTagState(state);
  return compact === null ? JSON.stringify(state) : MARK + compact;
}

/**
 * The compact form without its leading mark ('~', char code TAG_STATE_MARK), or null when the
 * state takes the JSON form: for a writer of bytes, which then need not join the two.
 */
export function compactTagState(state: unknown): string | null {
  if (!isTagStateV2(state)) return null;
  const t = state.t;
  const newest = t[0] as number;
  // a state without pings yet (a tick of a silent tag) has no newest ts: its times are none or absolute
  const base = newest !== newest ? 0 : newest;
  if (!Number.isSafeInteger(base)) return null;
  const times = scratchTimes;
  times.length = 0;
  for (let i = 0; i < TIMES; i++) {
    const x = t[i] as number;
    if (x !== x) times.push(null);
    else if (Number.isSafeInteger(x) && Number.isSafeInteger(x - base)) times.push(x - base);
    else return null;
  }
  if (!deltas(state.recent, base, scratchRecent)) return null;
  const old = state.recentOld;
  if (old.length === 0) {
    return JSON.stringify([3, state.tagId, state.subjectId, base, times, finite(t[6] as number), finite(t[7] as number), finite(t[8] as number), scratchRecent, old, state.zones, state.dev]);
  }
  // recentOld's differences after its first are the same text for each of the ~16 writes the
  // list lives through: made once. Only its first, from the newest ts, is new each time.
  const rest = oldRest(old);
  const first = (old[0] as number) - base;
  if (rest === null || !Number.isSafeInteger(first)) return null;
  const head = JSON.stringify([3, state.tagId, state.subjectId, base, times, finite(t[6] as number), finite(t[7] as number), finite(t[8] as number), scratchRecent]);
  const tail = JSON.stringify([state.zones, state.dev]);
  return `${head.slice(0, -1)},[${first}${rest},${tail.slice(1)}`;
}

/** an old list's text after its first difference, with its `]`: ",d1,d2,…]" */
interface OldRest {
  length: number;
  first: number;
  last: number;
  text: string | null;
}
const oldRests = new WeakMap<readonly number[], OldRest>();

/**
 * ",d1,d2,…]" for a non-empty recentOld (its differences after the first), null when one is not a
 * safe integer. Kept per list: the tracker replaces a recentOld list, never changes it; a list
 * that changed length or ends anyway is worked out again.
 */
function oldRest(old: readonly number[]): string | null {
  const n = old.length;
  const first = old[0] as number;
  const last = old[n - 1] as number;
  const known = oldRests.get(old);
  if (known !== undefined && known.length === n && known.first === first && known.last === last) return known.text;
  let text: string | null = null;
  if (deltas(old, first, scratchOld)) {
    // "[0,d1,…]" from its second character on: ",d1,…]" ("]" alone for a list of one)
    text = JSON.stringify(scratchOld).slice(2);
  }
  oldRests.set(old, { length: n, first, last, text });
  return text;
}

/** differences back to times, in place (the parsed array becomes the state's array) */
function undelta(d: unknown, prev: number): number[] {
  if (!Array.isArray(d)) throw new Error('tag state: a time list is not an array');
  for (let i = 0; i < d.length; i++) {
    prev += d[i] as number;
    d[i] = prev;
  }
  return d as number[];
}

/**
 * A stored tag state from its text (compact or JSON). The compact form comes back as the
 * version-2 state it was written from, NaN where a time or position is none (the JSON form has
 * null there, which the tracker reads as none too).
 */
export function decodeTagState(text: string): unknown {
  if (text.charCodeAt(0) !== TAG_STATE_MARK) return JSON.parse(text);
  const a = JSON.parse(text.slice(1)) as unknown[];
  if (!Array.isArray(a) || a[0] !== 3 || a.length !== 12) throw new Error('tag state: not a compact state of version 3');
  const base = a[3] as number;
  const times = a[4] as (number | null)[];
  const t = [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN];
  for (let i = 0; i < TIMES; i++) {
    const x = times[i];
    if (typeof x === 'number') t[i] = base + x;
  }
  for (let i = TIMES; i < T_LEN; i++) {
    const x = a[i - 1];
    if (typeof x === 'number') t[i] = x;
  }
  return {
    v: 2,
    tagId: a[1],
    subjectId: a[2],
    t,
    recent: undelta(a[8], base),
    recentOld: undelta(a[9], base),
    zones: a[10],
    dev: a[11],
  };
}
