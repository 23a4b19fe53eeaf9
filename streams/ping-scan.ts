/**
 * Pings straight from the bytes, for the form devices and gateways send: flat JSON objects whose
 * values are numbers, null, true/false or strings without escapes, all ASCII. The result is
 * exactly what JSON.parse + the codec's checks give (pingOf, the same unknown fields as extras),
 * without the intermediate string and objects: decoding a Kafka message or an HTTP batch this
 * way costs a fraction of JSON.parse's.
 *
 * Anything else (an escape, a non-ASCII byte, a nested value, a repeated field, __proto__ or
 * constructor as a field, invalid JSON, a ping that breaks a rule) makes the scan answer null,
 * and the caller takes the general path, whose answers and error messages it therefore never
 * changes. test/unit/ping-scan.test.ts holds the two paths to the same result on random input.
 */
import type { Ping } from '../geo/types.ts';
import { pingOf } from './ping-rules.ts';

/** Node's Buffer#latin1Slice (what Buffer#toString('latin1', …) calls after its checks) */
interface Latin1Sliceable {
  latin1Slice(start: number, end: number): string;
}

/** 10^k, exact for k ≤ 22 */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

// field ids (bits of the seen mask)
const F_TAG = 1;
const F_TS = 2;
const F_LAT = 4;
const F_LON = 8;
const F_ACC = 16;
const F_FIX = 32;
const F_BAT = 64;
const F_STRAP = 128;
const F_SEQ = 256;

/** A scanned ping: the ping, its unknown fields (null when none) and the offset after its `}`. */
export interface ScannedPing {
  ping: Ping;
  extras: Record<string, unknown> | null;
  end: number;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(b: Uint8Array, i: number, end: number): number {
  while (i < end && isWs(b[i] as number)) i++;
  return i;
}

/** the offset of the `"` closing a string whose text starts at i; -1 when it has an escape, a control or non-ASCII byte, or no end */
function plainStringEnd(b: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = b[i] as number;
    if (c === 0x22) return i;
    if (c === 0x5c || c < 0x20 || c >= 0x80) return -1;
  }
  return -1;
}

/** the field id of the key b[s..e) (0 = not a ping field) */
function fieldOf(b: Uint8Array, s: number, e: number): number {
  const c0 = b[s];
  switch (e - s) {
    case 2:
      return c0 === 0x74 && b[s + 1] === 0x73 ? F_TS : 0; // ts
    case 3: {
      const c1 = b[s + 1];
      const c2 = b[s + 2];
      if (c0 === 0x6c) {
        if (c1 === 0x61 && c2 === 0x74) return F_LAT; // lat
        if (c1 === 0x6f && c2 === 0x6e) return F_LON; // lon
        return 0;
      }
      if (c0 === 0x66 && c1 === 0x69 && c2 === 0x78) return F_FIX; // fix
      if (c0 === 0x73 && c1 === 0x65 && c2 === 0x71) return F_SEQ; // seq
      return 0;
    }
    case 5:
      if (c0 === 0x74 && b[s + 1] === 0x61 && b[s + 2] === 0x67 && b[s + 3] === 0x49 && b[s + 4] === 0x64) return F_TAG; // tagId
      if (c0 === 0x73 && b[s + 1] === 0x74 && b[s + 2] === 0x72 && b[s + 3] === 0x61 && b[s + 4] === 0x70) return F_STRAP; // strap
      return 0;
    case 7: // battery
      return c0 === 0x62 && b[s + 1] === 0x61 && b[s + 2] === 0x74 && b[s + 3] === 0x74 && b[s + 4] === 0x65 && b[s + 5] === 0x72 && b[s + 6] === 0x79 ? F_BAT : 0;
    case 9: // accuracyM
      return c0 === 0x61 && b[s + 1] === 0x63 && b[s + 2] === 0x63 && b[s + 3] === 0x75 && b[s + 4] === 0x72 && b[s + 5] === 0x61 && b[s + 6] === 0x63 && b[s + 7] === 0x79 && b[s + 8] === 0x4d
        ? F_ACC
        : 0;
    default:
      return 0;
  }
}

/**
 * The usual text of a fix or strap value b[s..e) as one shared string ('gps', 'ok', …), null for
 * any other: each ping need not make its own copy of the same few bytes.
 */
function knownValue(b: Uint8Array, s: number, e: number): string | null {
  const c0 = b[s];
  switch (e - s) {
    case 2:
      if (c0 === 0x6f && b[s + 1] === 0x6b) return 'ok';
      if (c0 === 0x72 && b[s + 1] === 0x66) return 'rf';
      return null;
    case 3:
      return c0 === 0x67 && b[s + 1] === 0x70 && b[s + 2] === 0x73 ? 'gps' : null;
    case 4:
      if (c0 === 0x77 && b[s + 1] === 0x69 && b[s + 2] === 0x66 && b[s + 3] === 0x69) return 'wifi';
      if (c0 === 0x63 && b[s + 1] === 0x65 && b[s + 2] === 0x6c && b[s + 3] === 0x6c) return 'cell';
      if (c0 === 0x6e && b[s + 1] === 0x6f && b[s + 2] === 0x6e && b[s + 3] === 0x65) return 'none';
      return null;
    default:
      return null;
  }
}

/**
 * Scans one ping object starting at b[i] (after any whitespace) and ending before `end`.
 * Returns null when the object is not in the scanner's form or not a valid ping.
 */
export function scanPing(b: Buffer, i: number, end: number, defAcc: number): ScannedPing | null {
  i = skipWs(b, i, end);
  if (b[i] !== 0x7b) return null; // {
  i = skipWs(b, i + 1, end);
  let seen = 0;
  let tagId: unknown;
  let ts: unknown;
  let lat: unknown;
  let lon: unknown;
  let acc: unknown;
  let fix: unknown;
  let battery: unknown;
  let strap: unknown;
  let seq: unknown;
  let extras: Record<string, unknown> | null = null;
  if (b[i] === 0x7d) return null; // {}: not a ping
  for (;;) {
    // key
    if (b[i] !== 0x22) return null;
    const ks = i + 1;
    const k = plainStringEnd(b, ks, end);
    if (k < 0) return null;
    const field = fieldOf(b, ks, k);
    if (field !== 0) {
      if ((seen & field) !== 0) return null; // a repeated field: JSON.parse keeps the last; leave it to it
      seen |= field;
    }
    i = skipWs(b, k + 1, end);
    if (b[i] !== 0x3a) return null; // :
    i = skipWs(b, i + 1, end);
    // value
    let v: unknown;
    const c = b[i] as number;
    if (c === 0x22) {
      const vs = i + 1;
      const j = plainStringEnd(b, vs, end);
      if (j < 0) return null;
      v = ((field === F_FIX || field === F_STRAP) && knownValue(b, vs, j)) || (b as unknown as Latin1Sliceable).latin1Slice(vs, j);
      i = j + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // JSON number: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
      const ns = i;
      let neg = false;
      if (c === 0x2d) {
        neg = true;
        i++;
      }
      let m = 0;
      let digits = 0;
      const d0 = b[i] as number;
      if (d0 === 0x30) {
        i++;
      } else if (d0 >= 0x31 && d0 <= 0x39) {
        while (i < end && (b[i] as number) >= 0x30 && (b[i] as number) <= 0x39) {
          m = m * 10 + ((b[i] as number) - 0x30);
          digits++;
          i++;
        }
      } else return null;
      let frac = 0;
      if (b[i] === 0x2e) {
        i++;
        const fs = i;
        while (i < end && (b[i] as number) >= 0x30 && (b[i] as number) <= 0x39) {
          m = m * 10 + ((b[i] as number) - 0x30);
          digits++;
          i++;
        }
        frac = i - fs;
        if (frac === 0) return null;
      }
      let exp = false;
      if (b[i] === 0x65 || b[i] === 0x45) {
        exp = true;
        i++;
        if (b[i] === 0x2b || b[i] === 0x2d) i++;
        const es = i;
        while (i < end && (b[i] as number) >= 0x30 && (b[i] as number) <= 0x39) i++;
        if (i === es) return null;
      }
      if (!exp && digits <= 15) {
        // m < 10^15 < 2^53 and 10^frac are exact, so one correctly rounded division is the
        // correctly rounded value of the decimal, which is what JSON.parse gives
        const a = frac === 0 ? m : m / (POW10[frac] as number);
        v = neg ? -a : a;
      } else {
        v = Number((b as unknown as Latin1Sliceable).latin1Slice(ns, i));
      }
    } else if (c === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) {
      v = null;
      i += 4;
    } else if (c === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
      v = true;
      i += 4;
    } else if (c === 0x66 && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65) {
      v = false;
      i += 5;
    } else return null; // an object, an array or not JSON
    switch (field) {
      case F_TAG:
        tagId = v;
        break;
      case F_TS:
        ts = v;
        break;
      case F_LAT:
        lat = v;
        break;
      case F_LON:
        lon = v;
        break;
      case F_ACC:
        acc = v;
        break;
      case F_FIX:
        fix = v;
        break;
      case F_BAT:
        battery = v;
        break;
      case F_STRAP:
        strap = v;
        break;
      case F_SEQ:
        seq = v;
        break;
      default: {
        const key = (b as unknown as Latin1Sliceable).latin1Slice(ks, k);
        // JSON.parse makes these own data properties; plain assignment would not (and HTTP refuses them)
        if (key === '__proto__' || key === 'constructor') return null;
        (extras ??= {})[key] = v;
      }
    }
    i = skipWs(b, i, end);
    const sep = b[i];
    if (sep === 0x2c) {
      i = skipWs(b, i + 1, end);
      continue;
    }
    if (sep === 0x7d) break;
    return null;
  }
  const ping = pingOf(tagId, ts, fix, lat, lon, acc, battery, strap, seq, defAcc);
  if (ping === null) return null;
  return { ping, extras, end: i + 1 };
}

/** One Kafka message value: the ping, or null (take the general path). */
export function scanPingMessage(b: Buffer, defAcc: number): ScannedPing | null {
  const r = scanPing(b, 0, b.length, defAcc);
  if (r === null || skipWs(b, r.end, b.length) !== b.length) return null;
  return r;
}

/**
 * An HTTP body: one ping or an array of at most `max`; null = take the general path. With
 * `spans`, each item's bytes are also given as [start, end) offsets into `b`, two numbers an item
 * (the ping object exactly as sent, for forwarding it unchanged).
 */
export function scanPingBody(b: Buffer, defAcc: number, max: number, spans?: number[]): { pings: Ping[]; extras: (Record<string, unknown> | null)[] } | null {
  const end = b.length;
  let i = skipWs(b, 0, end);
  const pings: Ping[] = [];
  const extras: (Record<string, unknown> | null)[] = [];
  if (b[i] === 0x5b) {
    // [
    i = skipWs(b, i + 1, end);
    if (b[i] !== 0x5d) {
      for (;;) {
        if (pings.length >= max) return null;
        const r = scanPing(b, i, end, defAcc);
        if (r === null) return null;
        pings.push(r.ping);
        extras.push(r.extras);
        if (spans !== undefined) spans.push(skipWs(b, i, end), r.end);
        i = skipWs(b, r.end, end);
        if (b[i] === 0x2c) {
          i++;
          continue;
        }
        if (b[i] === 0x5d) break;
        return null;
      }
    }
    i++;
  } else {
    const r = scanPing(b, i, end, defAcc);
    if (r === null) return null;
    pings.push(r.ping);
    extras.push(r.extras);
    if (spans !== undefined) spans.push(i, r.end);
    i = r.end;
  }
  return skipWs(b, i, end) === end ? { pings, extras } : null;
}
