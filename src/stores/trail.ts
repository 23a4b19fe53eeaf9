/**
 * One tag's position trail for the memory store, in one typed array (8 numbers a point) sorted by ts: 64 bytes
 * a point and nothing for the garbage collector to trace, so millions of kept positions do not
 * slow ingest down. Pass-through fields are kept in a side array allocated only when a ping had any.
 */
import type { FixSource, Ping } from '../../geo/types.ts';
import type { StoredPosition } from '../../streams/ports.ts';
import { storedPosition } from './common.ts';

const FIX: readonly FixSource[] = ['gps', 'wifi', 'cell', 'rf', 'none'];
const FIX_CODE: Record<FixSource, number> = { gps: 0, wifi: 1, cell: 2, rf: 3, none: 4 };

/** columns of one point, interleaved in one Float64Array (one allocation per growth) */
const TS = 0;
const LAT = 1;
const LON = 2;
const ACC = 3;
const BAT = 4;
const SEQ = 5;
const RECV = 6;
/** fix code * 3 + strap code (0 null, 1 ok, 2 tampered) */
const CODES = 7;
const W = 8;

export class Trail {
  private cap: number;
  /** live entries are [start, end) */
  private start = 0;
  private end = 0;
  private d: Float64Array;
  private extras: (Record<string, unknown> | null)[] | null = null;
  /** free for the owner's bookkeeping (the memory store stamps the commit that last wrote it) */
  mark = 0;

  constructor(
    readonly tagId: string,
    initial = 16,
  ) {
    this.cap = initial;
    this.d = new Float64Array(initial * W);
  }

  get length(): number {
    return this.end - this.start;
  }

  /** first index in [start, end) with ts >= t */
  private lowerBound(t: number): number {
    let lo = this.start;
    let hi = this.end;
    const d = this.d;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((d[mid * W + TS] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** room for one more at the end: compact to the front or grow */
  private makeRoom(): void {
    if (this.end < this.cap) return;
    const n = this.length;
    const cap = n * 2 > this.cap ? this.cap * 2 : this.cap;
    const live = this.d.subarray(this.start * W, this.end * W);
    if (cap !== this.cap) {
      const d = new Float64Array(cap * W);
      d.set(live, 0);
      this.d = d;
    } else this.d.copyWithin(0, this.start * W, this.end * W);
    if (this.extras) this.extras = this.extras.slice(this.start, this.end);
    this.cap = cap;
    this.start = 0;
    this.end = n;
  }

  /** false when a point with the same ts is already kept (a duplicate changes nothing) */
  add(p: Ping, extras: Record<string, unknown> | null, receivedAt: number): boolean {
    this.makeRoom();
    const d = this.d;
    let at = this.end;
    if (this.end > this.start && (d[(this.end - 1) * W + TS] as number) >= p.ts) {
      at = this.lowerBound(p.ts);
      if (at < this.end && d[at * W + TS] === p.ts) return false;
      d.copyWithin((at + 1) * W, at * W, this.end * W);
      if (this.extras) this.extras.splice(at, 0, null);
    }
    const o = at * W;
    d[o + TS] = p.ts;
    d[o + LAT] = p.lat ?? NaN;
    d[o + LON] = p.lon ?? NaN;
    d[o + ACC] = p.accuracyM;
    d[o + BAT] = p.battery ?? NaN;
    d[o + SEQ] = p.seq ?? NaN;
    d[o + RECV] = receivedAt;
    d[o + CODES] = FIX_CODE[p.fix] * 3 + (p.strap === null ? 0 : p.strap === 'ok' ? 1 : 2);
    if (extras !== null || this.extras !== null) {
      if (this.extras === null) this.extras = new Array<Record<string, unknown> | null>(this.cap).fill(null);
      if (this.extras.length < this.end + 1) this.extras.length = this.cap;
      this.extras[at] = extras;
    }
    this.end++;
    return true;
  }

  /** drops points older than `cutoff` and beyond the newest `max` */
  trim(cutoff: number, max: number): void {
    let s = this.start;
    if (this.end - s > max) s = this.end - max;
    while (s < this.end && (this.d[s * W + TS] as number) < cutoff) s++;
    if (this.extras) for (let i = this.start; i < s; i++) this.extras[i] = null;
    this.start = s;
  }

  /** points with from <= ts <= to, ascending, at most `limit` */
  range(from: number, to: number, limit: number): StoredPosition[] {
    const out: StoredPosition[] = [];
    const d = this.d;
    for (let i = this.lowerBound(from); i < this.end && out.length < limit; i++) {
      const o = i * W;
      const ts = d[o + TS] as number;
      if (ts > to) break;
      const lat = d[o + LAT] as number;
      const lon = d[o + LON] as number;
      const bat = d[o + BAT] as number;
      const seq = d[o + SEQ] as number;
      const codes = d[o + CODES] as number;
      const strap = codes % 3;
      const ping: Ping = {
        tagId: this.tagId,
        ts,
        lat: Number.isNaN(lat) ? null : lat,
        lon: Number.isNaN(lon) ? null : lon,
        accuracyM: d[o + ACC] as number,
        fix: FIX[(codes - strap) / 3] as FixSource,
        battery: Number.isNaN(bat) ? null : bat,
        strap: strap === 0 ? null : strap === 1 ? 'ok' : 'tampered',
        seq: Number.isNaN(seq) ? null : seq,
      };
      out.push(storedPosition(ping, this.extras?.[i] ?? null, d[o + RECV] as number));
    }
    return out;
  }
}
