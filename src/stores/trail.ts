/**
 * The memory store's position trails: one append-only log for every tag, in fixed-size chunks of
 * a Float64Array (8 numbers, one 64-byte cache line, a point), with each tag's points chained
 * newest to oldest.
 *
 * Why a log and not an array per tag: ingest writes positions in arrival order, and with tens of
 * thousands of tags each ping's own array is cold in the CPU's cache, grows by reallocation, and
 * evicts the zone index and tag states the engine needs next. Appending to one log writes memory
 * in sequence and touches nothing else: at 100 pings a request, 10,000 zones and 50,000 tags, HTTP
 * ingest rose by a median 18% over six alternating pairs (bench/README, 2026-12-04 07:40).
 *
 * The price is paid by the reader, which is rare (the trail endpoint, the console's map): a tag's
 * points are found by walking its chain, then sorted by ts. What a reader sees is what the per-tag
 * arrays gave: points ascending by ts, one per ts (the first written wins; a later duplicate is
 * ignored), only the newest `maxPerTag` by ts, none older than the retention cutoff.
 *
 * Memory. A tag whose chain grows past twice its cap (+64) is compacted: its visible points are
 * appended afresh as a new chain and the old chain is dead, so a read walks at most about twice
 * the cap. Each chunk counts its points still on a chain; a chunk whose count falls to zero is
 * freed at once, in any order (nothing links into it). Separately, chunks are freed oldest first
 * once every point in them is past retention. So a tag that keeps pinging costs about two to
 * three times its cap, whatever the retention; what a silent tag left in a chunk keeps that chunk
 * until its points pass retention.
 */
import type { FixSource, Ping } from '../../geo/types.ts';
import type { StoredPosition } from '../../streams/ports.ts';
import { storedPosition } from './common.ts';

const FIX: readonly FixSource[] = ['gps', 'wifi', 'cell', 'rf', 'none'];
const FIX_CODE: Record<FixSource, number> = { gps: 0, wifi: 1, cell: 2, rf: 3, none: 4 };

/** columns of one point */
const TS = 0;
const LAT = 1;
const LON = 2;
const ACC = 3;
const BAT = 4;
const SEQ = 5;
const RECV = 6;
/**
 * (previous point of the same tag + 1) * 16 + codes, where codes = fix code * 3 + strap code
 * (0 null, 1 ok, 2 tampered) < 15, and 0 in the link part ends the chain. Exact in a double while
 * the log holds fewer than 2^49 points.
 */
const LINK = 7;
const W = 8;

/** the part of a tag's record the log reads and writes */
export interface TrailHead {
  /** position of the tag's newest appended point in the log; -1: none */
  head: number;
  /** points in the chain (some may be in freed chunks, duplicates or past the cap) */
  count: number;
}

export interface TrailLogOptions {
  /** points a chunk holds (2 MiB a chunk by default; tests use tiny chunks to see them freed) */
  chunkPoints?: number;
  /** a chain is compacted when longer than twice the cap plus this (default 64) */
  compactSlack?: number;
}

export class TrailLog {
  private readonly chunkPoints: number;
  private readonly compactSlack: number;
  /** chunks from number `firstChunk` on; null: freed early, every position in it dead */
  private readonly chunks: (Float64Array | null)[] = [];
  /** the newest ts in each chunk, aligned with `chunks` */
  private readonly chunkMaxTs: number[] = [];
  /** positions of each chunk still on a chain (a compaction leaves the old ones dead), aligned with `chunks` */
  private readonly chunkLive: number[] = [];
  private firstChunk = 0;
  /** position of the next point */
  private next = 0;
  /** pass-through fields of the few points that have any, by position (insertion order = position order) */
  private readonly extras = new Map<number, Record<string, unknown>>();

  constructor(opts: TrailLogOptions = {}) {
    const chunkPoints = opts.chunkPoints ?? 1 << 15;
    if (!Number.isInteger(chunkPoints) || chunkPoints < 1) throw new RangeError('chunkPoints must be a positive integer');
    this.chunkPoints = chunkPoints;
    this.compactSlack = opts.compactSlack ?? 64;
  }

  /** chunks held in memory, for tests */
  get heldChunks(): number {
    let n = 0;
    for (const d of this.chunks) if (d !== null) n++;
    return n;
  }

  /** the first position still held */
  private get firstHeld(): number {
    return this.firstChunk * this.chunkPoints;
  }

  /** appends one point to the tag's chain */
  add(tag: TrailHead, p: Ping, extras: Record<string, unknown> | null, receivedAt: number): void {
    const codes = FIX_CODE[p.fix] * 3 + (p.strap === null ? 0 : p.strap === 'ok' ? 1 : 2);
    this.put(tag, p.ts, p.lat ?? NaN, p.lon ?? NaN, p.accuracyM, p.battery ?? NaN, p.seq ?? NaN, receivedAt, codes, extras);
  }

  private put(tag: TrailHead, ts: number, lat: number, lon: number, acc: number, bat: number, seq: number, recv: number, codes: number, extras: Record<string, unknown> | null): void {
    const g = this.next;
    const n = this.chunkPoints;
    const c = Math.floor(g / n) - this.firstChunk;
    let d = this.chunks[c];
    if (d === null) throw new Error('trail log: the chunk being written was freed');
    if (d === undefined) {
      d = new Float64Array(n * W);
      this.chunks.push(d);
      this.chunkMaxTs.push(ts);
      this.chunkLive.push(1);
    } else {
      if (ts > (this.chunkMaxTs[c] as number)) this.chunkMaxTs[c] = ts;
      this.chunkLive[c] = (this.chunkLive[c] as number) + 1;
    }
    const o = (g - (c + this.firstChunk) * n) * W;
    const prev = tag.head >= this.firstHeld ? tag.head : -1;
    d[o + TS] = ts;
    d[o + LAT] = lat;
    d[o + LON] = lon;
    d[o + ACC] = acc;
    d[o + BAT] = bat;
    d[o + SEQ] = seq;
    d[o + RECV] = recv;
    d[o + LINK] = (prev + 1) * 16 + codes;
    if (extras !== null) this.extras.set(g, extras);
    tag.head = g;
    tag.count = prev === -1 ? 1 : tag.count + 1;
    this.next = g + 1;
  }

  /** the chunk and offset of held position g */
  private at(g: number): [Float64Array, number] {
    const n = this.chunkPoints;
    const chunk = Math.floor(g / n);
    return [this.chunks[chunk - this.firstChunk] as Float64Array, (g - chunk * n) * W];
  }

  /**
   * The tag's visible points, ascending by ts: one per ts (the earliest written), ts >= cutoff,
   * the newest `max` of them. As positions in the log.
   */
  private visible(tag: TrailHead, cutoff: number, max: number, chain: number[] | null = null): number[] {
    const first = this.firstHeld;
    const found: number[] = [];
    const tsOf: number[] = [];
    for (let g = tag.head; g >= first; ) {
      chain?.push(g);
      const [d, o] = this.at(g);
      const ts = d[o + TS] as number;
      if (ts >= cutoff) {
        found.push(g);
        tsOf.push(ts);
      }
      g = Math.floor((d[o + LINK] as number) / 16) - 1;
    }
    const order = found.map((_, i) => i);
    // by ts, then by position (the earliest written first among equal ts)
    order.sort((a, b) => (tsOf[a] as number) - (tsOf[b] as number) || (found[a] as number) - (found[b] as number));
    const out: number[] = [];
    let lastTs = NaN;
    for (const i of order) {
      const ts = tsOf[i] as number;
      if (ts === lastTs) continue;
      lastTs = ts;
      out.push(found[i] as number);
    }
    return out.length > max ? out.slice(out.length - max) : out;
  }

  /**
   * Compacts the tag's chain when it has grown past twice `max` (plus the slack, so a tiny cap
   * does not compact every few points): its visible points are appended afresh, in ts order, and
   * the old chain is dead. A chunk left with no live position is freed at once (nothing links
   * into it), so memory follows the per-tag cap for tags that keep pinging, not the retention.
   */
  compactIfLong(tag: TrailHead, cutoff: number, max: number): void {
    if (!this.holds(tag) || tag.count <= 2 * max + this.compactSlack) return;
    const chain: number[] = [];
    const keep = this.visible(tag, cutoff, max, chain);
    tag.head = -1;
    tag.count = 0;
    for (const g of keep) {
      const [d, o] = this.at(g);
      const ex = this.extras.get(g) ?? null;
      const link = d[o + LINK] as number;
      this.put(tag, d[o + TS] as number, d[o + LAT] as number, d[o + LON] as number, d[o + ACC] as number, d[o + BAT] as number, d[o + SEQ] as number, d[o + RECV] as number, link % 16, ex);
    }
    const n = this.chunkPoints;
    const live = this.chunkLive;
    const last = this.chunks.length - 1;
    for (const g of chain) {
      this.extras.delete(g);
      const c = Math.floor(g / n) - this.firstChunk;
      const left = (live[c] as number) - 1;
      live[c] = left;
      if (left === 0 && c !== last) this.chunks[c] = null;
    }
    this.release(-Infinity); // forgets the leading chunks just freed, if any
  }

  private shift(k: number): void {
    this.chunks.splice(0, k);
    this.chunkMaxTs.splice(0, k);
    this.chunkLive.splice(0, k);
    this.firstChunk += k;
    const first = this.firstHeld;
    for (const g of this.extras.keys()) {
      if (g >= first) break;
      this.extras.delete(g);
    }
  }

  /**
   * Frees the oldest chunks whose every point is older than `cutoff`, and forgets those already
   * freed by a compaction (never the chunk being written). Returns how many it dropped.
   */
  release(cutoff: number): number {
    let freed = 0;
    while (this.chunks.length - freed > 1 && (this.chunks[freed] === null || (this.chunkMaxTs[freed] as number) < cutoff)) freed++;
    if (freed > 0) this.shift(freed);
    return freed;
  }

  /** the tag's points with from <= ts <= to, ascending, at most `limit` (see `visible` for which) */
  range(tagId: string, tag: TrailHead, from: number, to: number, limit: number, cutoff: number, max: number): StoredPosition[] {
    const out: StoredPosition[] = [];
    if (!this.holds(tag) || limit <= 0) return out;
    for (const g of this.visible(tag, cutoff, max)) {
      if (out.length >= limit) break;
      const [d, o] = this.at(g);
      const ts = d[o + TS] as number;
      if (ts < from) continue;
      if (ts > to) break;
      const lat = d[o + LAT] as number;
      const lon = d[o + LON] as number;
      const bat = d[o + BAT] as number;
      const seq = d[o + SEQ] as number;
      const codes = (d[o + LINK] as number) % 16;
      const strap = codes % 3;
      const ping: Ping = {
        tagId,
        ts,
        lat: Number.isNaN(lat) ? null : lat,
        lon: Number.isNaN(lon) ? null : lon,
        accuracyM: d[o + ACC] as number,
        fix: FIX[(codes - strap) / 3] as FixSource,
        battery: Number.isNaN(bat) ? null : bat,
        strap: strap === 0 ? null : strap === 1 ? 'ok' : 'tampered',
        seq: Number.isNaN(seq) ? null : seq,
      };
      out.push(storedPosition(ping, this.extras.get(g) ?? null, d[o + RECV] as number));
    }
    return out;
  }

  /** whether the tag has any point still held (visible or not) */
  holds(tag: TrailHead): boolean {
    return tag.head >= this.firstHeld;
  }
}
