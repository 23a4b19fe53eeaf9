/**
 * The rules of one ping (CONTRACT §1) as plain checks: pingOf is the hot path shared by the codec
 * (parsed JSON) and the byte scanner (ping-scan.ts); the codec's zod schema states the same rules
 * for error messages and the OpenAPI document, and test/unit/codec.test.ts holds them to the same
 * verdict.
 */
import type { FixSource, Ping } from '../geo/types.ts';

export const TAG_RE = /^[A-Za-z0-9._:-]{1,64}$/;
/** ISO-8601 date-time with a required offset or Z (a local time without offset is ambiguous) */
const ISO_WITH_OFFSET_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:\d{2})$/;
const FIXES: readonly FixSource[] = ['gps', 'wifi', 'cell', 'rf', 'none'];

export function isoToMs(s: string): number {
  if (!ISO_WITH_OFFSET_RE.test(s)) return NaN;
  // Date.parse rolls 2026-02-30 over to March; a calendar day that does not exist is an error.
  const y = +s.slice(0, 4);
  const m = +s.slice(5, 7);
  const d = +s.slice(8, 10);
  if (m < 1 || m > 12 || d < 1 || d > new Date(Date.UTC(y, m, 0)).getUTCDate()) return NaN;
  return Date.parse(s);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * The ping made of these field values (as JSON.parse gives them; undefined = absent), or null
 * when any breaks pingSchema's rules. fastPing and the byte scanner (ping-scan.ts) share it.
 */
export function pingOf(
  tagId: unknown,
  rawTs: unknown,
  rf: unknown,
  lat: unknown,
  lon: unknown,
  ra: unknown,
  rb: unknown,
  rs: unknown,
  rq: unknown,
  defAcc: number,
): Ping | null {
  if (typeof tagId !== 'string' || !TAG_RE.test(tagId)) return null;
  let ts: number;
  if (typeof rawTs === 'number') {
    if (!Number.isInteger(rawTs) || rawTs < 0 || rawTs > 8.64e15) return null;
    ts = rawTs;
  } else if (typeof rawTs === 'string') {
    ts = isoToMs(rawTs);
    if (!Number.isFinite(ts)) return null;
  } else return null;
  let fix: FixSource = 'gps';
  if (rf != null) {
    if (typeof rf !== 'string' || !FIXES.includes(rf as FixSource)) return null;
    fix = rf as FixSource;
  }
  if (lat != null && (!isNum(lat) || lat < -90 || lat > 90)) return null;
  if (lon != null && (!isNum(lon) || lon < -180 || lon > 180)) return null;
  if (fix !== 'none' && (lat == null || lon == null)) return null;
  let accuracyM = defAcc;
  if (ra != null) {
    if (!isNum(ra) || ra <= 0) return null;
    accuracyM = ra;
  }
  let battery: number | null = null;
  if (rb != null) {
    if (!isNum(rb) || rb < 0 || rb > 100) return null;
    battery = rb;
  }
  let strap: 'ok' | 'tampered' | null = null;
  if (rs != null) {
    if (rs !== 'ok' && rs !== 'tampered') return null;
    strap = rs;
  }
  let seq: number | null = null;
  if (rq != null) {
    if (typeof rq !== 'number' || !Number.isSafeInteger(rq)) return null;
    seq = rq;
  }
  // A heartbeat carries no position even when a device sends stale coordinates with it.
  const hasPos = fix !== 'none';
  return {
    tagId,
    ts,
    lat: hasPos ? (lat as number) : null,
    lon: hasPos ? (lon as number) : null,
    accuracyM,
    fix,
    battery,
    strap,
    seq,
  };
}
