/**
 * ZoneIndex: every zone version, found by place, subject and event time.
 *
 * - Per subject, one slab of a shared Float64Array pool holds its personal exclusion boxes
 *   (zones of at most PERSONAL_MAX subjects) and its inclusion zones (as a box covering the
 *   world: always returned), each entry minX,minY,maxX,maxY,from,until, scanned linearly:
 *   a query never meets other people's personal zones and touches few cache lines. A subject
 *   with more than PERSONAL_SCAN_MAX entries gets a small packed R-tree of them instead
 *   (rebuilt lazily after a change).
 * - Shared exclusion zones (more subjects) sit in the global rbush R-tree (one entry per box;
 *   two when split at ±180); a subject with none of them skips the tree walk.
 *   rbush builds and updates the tree; queries walk a packed copy of it (boxes in one
 *   Float64Array, child ranges in Int32Arrays, as flatbush does) because chasing rbush's
 *   node objects costs a cache miss per child at 100k zones. Zones added since the last
 *   packing sit in a short pending list scanned linearly; the copy is repacked after
 *   PENDING_MAX additions, on load and on prune. candidates() allocates nothing.
 * - Subject filter inside the packed copy: each tree version has a serial number, each zone
 *   box carries it, and each subject keeps the ascending serials of its tree versions; a box
 *   of other people's zones is skipped by a binary search in that short list (which stays in
 *   cache during the walk) without touching the zone's objects.
 * - Inclusion zones are kept per subject and always returned: they matter most when the
 *   point is far from them.
 * - Versions: each zone id holds a time-ordered list of versions [from, until); a deletion
 *   is a tombstone. A ping is judged against the version in force at its own event time,
 *   so late pings see the zone as it was. prune() forgets versions that ended earlier.
 */
import RBush from 'rbush';
import type { CompiledZone, ZoneLookup } from './types.ts';

interface Version {
  /** null = tombstone (zone deleted from `from` on) */
  zone: CompiledZone | null;
  from: number;
  until: number;
  /** query stamp: dedupes a zone found through two boxes */
  seen: number;
  items: Item[];
  /** replaced or pruned: still referenced by the packed copy until it is rebuilt */
  dropped: boolean;
  /** exclusion version kept in the subjects' personal lists instead of the tree */
  personal: boolean;
  /** serial number of a tree version (0 = not in the tree) */
  ser: number;
}

/** a packed R-tree (see repack): zone entry e refers to version items[-1 - ref[e]] */
interface Packed {
  boxes: Float64Array<ArrayBuffer>;
  ref: Int32Array<ArrayBuffer>;
  count: Int32Array<ArrayBuffer>;
  items: Version[];
  rootCount: number;
}

interface Item {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  v: Version;
}

interface TreeNode {
  children: (TreeNode | Item)[];
  leaf: boolean;
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

const RAD = Math.PI / 180;
const MIN_M_PER_DEG_LAT = 110_574;
/** a sphere smaller than WGS84 anywhere: longitude reach computed on it is conservative */
const R_LOW = 6_335_000;

const NO_ZONES: CompiledZone[] = [];
const NO_SERIALS = new Int32Array(0);
/** additions kept out of the packed copy before it is rebuilt */
const PENDING_MAX = 256;
/** zones of at most this many subjects are personal: kept per subject, not in the global tree */
const PERSONAL_MAX = 4;
/** above this many personal boxes a subject's boxes get their own packed R-tree */
const PERSONAL_SCAN_MAX = 48;
/** doubles per slab entry: minX, minY, maxX, maxY, from, until */
const ES = 6;
/** an inclusion zone's entry box: contains every query box */
const WORLD = 1e9;

function inForce(v: Version, at: number): boolean {
  return v.zone !== null && v.from <= at && at < v.until;
}

export class ZoneIndex implements ZoneLookup {
  private readonly tree = new RBush<Item>(16);
  private readonly records = new Map<string, Version[]>();
  private readonly bySubject = new Map<string, Version[]>();
  /** per subject: its inclusion versions with a schedule or validity bounds (see scheduledInclusions) */
  private readonly schedBySubject = new Map<string, Version[]>();
  /** per subject: its inclusion versions (see inclusions) */
  private readonly inclBySubject = new Map<string, Version[]>();
  // per-subject slabs in one pool: subject int i owns entries [sOff[i], sOff[i] + sLen[i])
  // (capacity sCap[i]); entry e is pool[ES*e .. ES*e+5] with version poolVs[e]
  private pool = new Float64Array(ES * 1024);
  private poolVs: (Version | undefined)[] = [];
  private poolEnd = 0;
  private sOff = new Int32Array(64);
  private sLen = new Int32Array(64);
  private sCap = new Int32Array(64);
  /** packed R-tree of a subject's slab when sLen > PERSONAL_SCAN_MAX (undefined/null = stale) */
  private readonly sTree: (Packed | null | undefined)[] = [];
  /** per interned subject int: versions in the global tree that apply to it (0 = skip the walk) */
  private treeCount = new Int32Array(64);
  private stamp = 0;
  private live = 0;
  // packed copy of the tree: entry e has box pBoxes[4e..4e+3]; an inner node's children are
  // entries [pRef[e], pRef[e] + pCount[e]); a zone box has pRef[e] = -1 - (index in pItems)
  private pBoxes = new Float64Array(0);
  private pRef = new Int32Array(0);
  private pCount = new Int32Array(0);
  private pItems: Version[] = [];
  /** per entry: the serial number of the zone box's version (see sharedBySubject) */
  private pSer = new Int32Array(0);
  /**
   * per interned subject int: the serial numbers of the tree versions applying to it, ascending
   * (serials only grow, so appending keeps the order). A tree box of another subject is
   * skipped by a binary search in this short list, which stays in cache during a walk.
   */
  private readonly sharedBySubject: (Int32Array | undefined)[] = [];
  private serial = 0;
  /** subject id -> small int, so most zones of other subjects are skipped without leaving the arrays */
  private readonly subjectInts = new Map<string, number>();
  private rootCount = 0;
  private pending: Item[] = [];
  private stack = new Int32Array(256);
  // the query in progress (fields instead of closures keep the walk allocation-free)
  private qSubject = '';
  private qSubjectInt = -2;
  private qN = 0;
  private qAt = 0;
  private qOut: CompiledZone[] = [];
  private readonly qBoxes = new Float64Array(12);

  /** number of zones whose latest version is not a deletion */
  get size(): number {
    return this.live;
  }

  /** number of stored versions, deletions included (for memory accounting) */
  get versionCount(): number {
    let n = 0;
    for (const vs of this.records.values()) n += vs.length;
    return n;
  }

  /** Bulk insert (at start). Equivalent to upsert of each zone, with one tree build. */
  load(zones: CompiledZone[]): void {
    const collected: Item[] = [];
    for (const z of zones) this.addVersion(z.id, z, z.def.effectiveFrom, collected);
    // a version replaced within the same load left its items behind
    const items = collected.filter((it) => it.v.items.includes(it));
    if (items.length === 0) return;
    if (this.tree.all().length === 0) {
      this.tree.load(items);
    } else {
      // rbush merges a bulk load as a subtree, which degrades queries; rebuild instead
      const all = this.tree.all().concat(items);
      this.tree.clear();
      this.tree.load(all);
    }
    this.repack();
  }

  /** A new version of a zone, in force from zone.def.effectiveFrom; earlier versions stay for earlier times. */
  upsert(zone: CompiledZone): void {
    const items: Item[] = [];
    this.addVersion(zone.id, zone, zone.def.effectiveFrom, items);
    for (const it of items) {
      this.tree.insert(it);
      this.pending.push(it);
    }
    if (this.pending.length > PENDING_MAX) this.repack();
  }

  /** The zone is deleted from `at` on; its history stays for earlier event times. */
  remove(zoneId: string, at: number): void {
    if (!this.records.has(zoneId)) return;
    this.addVersion(zoneId, null, at, []);
  }

  /** Forget every version that ended before `before` (and zones wholly deleted by then). */
  prune(before: number): void {
    let dropped = false;
    for (const [id, versions] of this.records) {
      const wasLive = versions[versions.length - 1]?.zone != null;
      const keep: Version[] = [];
      for (const v of versions) {
        if (v.until <= before) {
          this.dropVersion(v);
          dropped = true;
        } else keep.push(v);
      }
      if (keep.every((v) => v.zone === null)) {
        for (const v of keep) this.dropVersion(v);
        dropped = true;
        this.records.delete(id);
        if (wasLive) this.live--;
      } else {
        this.records.set(id, keep);
      }
    }
    if (dropped) this.repack();
  }

  candidates(subjectId: string, lon: number, lat: number, radiusM: number, at: number, out: CompiledZone[] = []): CompiledZone[] {
    // out is overwritten in place and shortened with pop(): setting length = 0 would make V8
    // drop and reallocate its backing store on every query
    let n = 0;
    const stamp = ++this.stamp;
    const sid = this.subjectInts.get(subjectId) ?? -2;
    const len = sid >= 0 ? this.sLen[sid]! : 0;
    const inTree = sid >= 0 && this.treeCount[sid]! > 0;
    if (inTree || len > 0) {
      const q = this.qBoxes;
      const nb = queryBoxes(lon, lat, radiusM, q);
      if (len > PERSONAL_SCAN_MAX) {
        const pt = this.sTree[sid] ?? (this.sTree[sid] = this.packSlab(sid));
        this.qSubject = subjectId;
        this.qSubjectInt = sid;
        this.qAt = at;
        this.qOut = out;
        this.qN = n;
        for (let b = 0; b < nb; b++) this.walkPacked(pt, q[4 * b]!, q[4 * b + 1]!, q[4 * b + 2]!, q[4 * b + 3]!, stamp);
        n = this.qN;
      } else if (len > 0) {
        const pool = this.pool;
        const pv = this.poolVs;
        const first = this.sOff[sid]!;
        const last = first + len;
        for (let b = 0; b < nb; b++) {
          const minX = q[4 * b]!;
          const minY = q[4 * b + 1]!;
          const maxX = q[4 * b + 2]!;
          const maxY = q[4 * b + 3]!;
          for (let e = first; e < last; e++) {
            const o = ES * e;
            if (maxX < pool[o]! || minX > pool[o + 2]! || maxY < pool[o + 1]! || minY > pool[o + 3]!) continue;
            if (pool[o + 4]! > at || at >= pool[o + 5]!) continue;
            const v = pv[e]!;
            if (v.seen === stamp) continue;
            v.seen = stamp;
            out[n++] = v.zone!;
          }
        }
      }
      if (inTree) {
        this.qSubject = subjectId;
        this.qSubjectInt = sid;
        this.qAt = at;
        this.qOut = out;
        this.qN = n;
        for (let b = 0; b < nb; b++) this.walk(q[4 * b]!, q[4 * b + 1]!, q[4 * b + 2]!, q[4 * b + 3]!, stamp);
        n = this.qN;
      }
      this.qOut = NO_ZONES;
    }
    while (out.length > n) out.pop();
    return out;
  }

  forSubject(subjectId: string, at: number): CompiledZone[] {
    const res: CompiledZone[] = [];
    const vs = this.bySubject.get(subjectId);
    if (vs) for (const v of vs) if (inForce(v, at)) res.push(v.zone!);
    return res;
  }

  /**
   * The subject's inclusion zones that have a schedule, validFrom or validTo, in the version in
   * force at `at` (a subset of forSubject, same order), written to `out` (reused: no allocation).
   */
  scheduledInclusions(subjectId: string, at: number, out: CompiledZone[]): CompiledZone[] {
    return inForceInto(this.schedBySubject.get(subjectId), at, out);
  }

  /** The subject's inclusion zones in the version in force at `at` (a subset of forSubject, same order), written to `out`. */
  inclusions(subjectId: string, at: number, out: CompiledZone[]): CompiledZone[] {
    return inForceInto(this.inclBySubject.get(subjectId), at, out);
  }

  get(zoneId: string, at: number): CompiledZone | undefined {    const vs = this.records.get(zoneId);
    if (!vs) return undefined;
    for (let i = vs.length - 1; i >= 0; i--) {
      const v = vs[i]!;
      if (v.from <= at) return at < v.until && v.zone ? v.zone : undefined;
    }
    return undefined;
  }

  // ---- internals ----

  private walk(minX: number, minY: number, maxX: number, maxY: number, stamp: number): void {
    const subject = this.qSubject;
    const at = this.qAt;
    const out = this.qOut;
    const boxes = this.pBoxes;
    const ref = this.pRef;
    const count = this.pCount;
    const items = this.pItems;
    const ser = this.pSer;
    const mine = this.sharedBySubject[this.qSubjectInt] ?? NO_SERIALS;
    const mineHi = this.treeCount[this.qSubjectInt]! - 1;
    let stack = this.stack;
    // stack of entry ranges [start, end)
    let sp = 0;
    let start = 0;
    let end = this.rootCount;
    for (;;) {
      for (let e = start; e < end; e++) {
        const o = 4 * e;
        if (maxX < boxes[o]! || minX > boxes[o + 2]! || maxY < boxes[o + 1]! || minY > boxes[o + 3]!) continue;
        const r = ref[e]!;
        if (r >= 0) {
          if (sp + 2 > stack.length) {
            const bigger = new Int32Array(stack.length * 2);
            bigger.set(stack);
            this.stack = stack = bigger;
          }
          stack[sp++] = r;
          stack[sp++] = r + count[e]!;
        } else {
          // binary search of the subject's serials for this box's version
          const k = ser[e]!;
          let lo = 0;
          let hi = mineHi;
          while (lo <= hi) {
            const mid = (lo + hi) >>> 1;
            const m = mine[mid]!;
            if (m < k) lo = mid + 1;
            else if (m > k) hi = mid - 1;
            else break;
          }
          if (lo > hi) continue;
          const v = items[-1 - r]!;
          if (v.seen === stamp || v.dropped || v.from > at || at >= v.until) continue;
          const z = v.zone;
          if (z !== null) {
            v.seen = stamp;
            out[this.qN++] = z;
          }
        }
      }
      if (sp === 0) break;
      end = stack[--sp]!;
      start = stack[--sp]!;
    }
    // additions since the last packing
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) {
      const c = pending[i]!;
      if (maxX < c.minX || minX > c.maxX || maxY < c.minY || minY > c.maxY) continue;
      const v = c.v;
      if (v.seen === stamp || v.dropped || v.from > at || at >= v.until) continue;
      const z = v.zone;
      if (z !== null && z.subjects.has(subject)) {
        v.seen = stamp;
        out[this.qN++] = z;
      }
    }
  }

  /** a subject's personal packed tree (every entry is the subject's own zone) */
  private walkPacked(pt: Packed, minX: number, minY: number, maxX: number, maxY: number, stamp: number): void {
    const at = this.qAt;
    const out = this.qOut;
    const boxes = pt.boxes;
    const ref = pt.ref;
    const count = pt.count;
    const items = pt.items;
    let stack = this.stack;
    let sp = 0;
    let start = 0;
    let end = pt.rootCount;
    for (;;) {
      for (let e = start; e < end; e++) {
        const o = 4 * e;
        if (maxX < boxes[o]! || minX > boxes[o + 2]! || maxY < boxes[o + 1]! || minY > boxes[o + 3]!) continue;
        const r = ref[e]!;
        if (r >= 0) {
          if (sp + 2 > stack.length) {
            const bigger = new Int32Array(stack.length * 2);
            bigger.set(stack);
            this.stack = stack = bigger;
          }
          stack[sp++] = r;
          stack[sp++] = r + count[e]!;
        } else {
          const v = items[-1 - r]!;
          if (v.seen === stamp || v.from > at || at >= v.until) continue;
          v.seen = stamp;
          out[this.qN++] = v.zone!;
        }
      }
      if (sp === 0) break;
      end = stack[--sp]!;
      start = stack[--sp]!;
    }
  }

  /** Copy rbush's tree into the packed arrays, plus each leaf entry's version serial. */
  private repack(): void {
    const p = packTree((this.tree as unknown as { data: TreeNode }).data);
    const ser = new Int32Array(p.ref.length);
    for (let e = 0; e < ser.length; e++) {
      const r = p.ref[e]!;
      if (r < 0) ser[e] = p.items[-1 - r]!.ser;
    }
    this.pBoxes = p.boxes;
    this.pRef = p.ref;
    this.pCount = p.count;
    this.pItems = p.items;
    this.pSer = ser;
    this.rootCount = p.rootCount;
    this.pending = [];
  }

  private internSubject(id: string): number {
    let n = this.subjectInts.get(id);
    if (n === undefined) {
      n = this.subjectInts.size;
      this.subjectInts.set(id, n);
      if (n >= this.sLen.length) {
        const size = 2 * this.sLen.length;
        this.sOff = grown(this.sOff, size);
        this.sLen = grown(this.sLen, size);
        this.sCap = grown(this.sCap, size);
        this.treeCount = grown(this.treeCount, size);
      }
    }
    return n;
  }

  /** Insert a version (or tombstone) at `from`; collects the new tree items for the caller to insert. */
  private addVersion(id: string, zone: CompiledZone | null, from: number, items: Item[]): void {
    let vs = this.records.get(id);
    const wasLive = vs !== undefined && vs[vs.length - 1]?.zone != null;
    if (!vs) {
      vs = [];
      this.records.set(id, vs);
    }
    if (zone === null) {
      // a deletion also cancels versions written to start after it
      while (vs.length > 0 && vs[vs.length - 1]!.from >= from) this.dropVersion(vs.pop()!);
    }
    const personal = zone !== null && zone.kind === 'exclusion' && zone.subjects.size <= PERSONAL_MAX;
    const v: Version = { zone, from, until: Infinity, seen: 0, items: [], dropped: false, personal, ser: 0 };
    let pos = vs.length;
    while (pos > 0 && vs[pos - 1]!.from > from) pos--;
    if (pos > 0 && vs[pos - 1]!.from === from) {
      this.dropVersion(vs[pos - 1]!);
      vs.splice(pos - 1, 1);
      pos--;
    }
    vs.splice(pos, 0, v);
    for (let i = 0; i < vs.length; i++) vs[i]!.until = i + 1 < vs.length ? vs[i + 1]!.from : Infinity;
    if (zone !== null) {
      if (personal || zone.kind === 'inclusion') {
        for (const s of zone.subjects) this.addToSlab(this.internSubject(s), v, zone);
      } else {
        v.ser = ++this.serial;
        for (const s of zone.subjects) {
          const i = this.internSubject(s);
          // the list holds treeCount[i] serials (ascending: serials only grow)
          const n = this.treeCount[i]!;
          let list = this.sharedBySubject[i];
          if (list === undefined || n === list.length) {
            const bigger = new Int32Array(Math.max(8, 2 * n));
            if (list !== undefined) bigger.set(list);
            this.sharedBySubject[i] = list = bigger;
          }
          list[n] = v.ser;
          this.treeCount[i] = n + 1;
        }
        for (const b of zone.boxes) {
          const it: Item = { minX: b[0], minY: b[1], maxX: b[2], maxY: b[3], v };
          v.items.push(it);
          items.push(it);
        }
      }
      for (const s of zone.subjects) pushTo(this.bySubject, s, v);
      if (zone.kind === 'inclusion') for (const s of zone.subjects) pushTo(this.inclBySubject, s, v);
      if (isScheduledInclusion(zone)) for (const s of zone.subjects) pushTo(this.schedBySubject, s, v);
    }
    // the slabs keep a copy of each version's until
    for (const x of vs) if (x.zone !== null && (x.personal || x.zone.kind === 'inclusion')) this.syncSlab(x);
    const isLive = vs[vs.length - 1]?.zone != null;
    if (isLive && !wasLive) this.live++;
    else if (!isLive && wasLive) this.live--;
  }

  /** append the version's entries to the subject's slab (moved to the pool's end when full) */
  private addToSlab(sid: number, v: Version, zone: CompiledZone): void {
    const incl = zone.kind === 'inclusion';
    const boxes = incl ? WORLD_BOXES : zone.boxes;
    let len = this.sLen[sid]!;
    if (len + boxes.length > this.sCap[sid]!) {
      const cap = Math.max(4, 2 * (len + boxes.length));
      const at = this.reserve(cap);
      const from = this.sOff[sid]!;
      this.pool.copyWithin(ES * at, ES * from, ES * (from + len));
      for (let i = 0; i < len; i++) {
        this.poolVs[at + i] = this.poolVs[from + i];
        this.poolVs[from + i] = undefined;
      }
      this.sOff[sid] = at;
      this.sCap[sid] = cap;
    }
    const pool = this.pool;
    for (const b of boxes) {
      const e = this.sOff[sid]! + len++;
      const o = ES * e;
      pool[o] = b[0];
      pool[o + 1] = b[1];
      pool[o + 2] = b[2];
      pool[o + 3] = b[3];
      pool[o + 4] = v.from;
      pool[o + 5] = v.until;
      this.poolVs[e] = v;
    }
    this.sLen[sid] = len;
    this.sTree[sid] = null;
  }

  /** `cap` free entries at the pool's end (the pool doubles when full) */
  private reserve(cap: number): number {
    const at = this.poolEnd;
    if (ES * (at + cap) > this.pool.length) {
      const bigger = new Float64Array(Math.max(2 * this.pool.length, ES * (at + cap)));
      bigger.set(this.pool);
      this.pool = bigger;
    }
    this.poolEnd = at + cap;
    return at;
  }

  /** copy the version's from/until into its slab entries */
  private syncSlab(v: Version): void {
    for (const s of v.zone!.subjects) {
      const sid = this.internSubject(s);
      const first = this.sOff[sid]!;
      const last = first + this.sLen[sid]!;
      for (let e = first; e < last; e++) {
        if (this.poolVs[e] !== v) continue;
        this.pool[ES * e + 4] = v.from;
        this.pool[ES * e + 5] = v.until;
      }
    }
  }

  private removeFromSlab(sid: number, v: Version): void {
    // keep the order of the remaining entries (results come out in insertion order)
    const first = this.sOff[sid]!;
    const last = first + this.sLen[sid]!;
    let k = first;
    for (let e = first; e < last; e++) {
      if (this.poolVs[e] === v) continue;
      if (k !== e) {
        this.poolVs[k] = this.poolVs[e];
        this.pool.copyWithin(ES * k, ES * e, ES * e + ES);
      }
      k++;
    }
    for (let e = k; e < last; e++) this.poolVs[e] = undefined;
    this.sLen[sid] = k - first;
    this.sTree[sid] = null;
  }

  /** A packed R-tree over a subject's slab (built with rbush, packed like repack). */
  private packSlab(sid: number): Packed {
    const its: Item[] = [];
    const first = this.sOff[sid]!;
    const last = first + this.sLen[sid]!;
    for (let e = first; e < last; e++) {
      const o = ES * e;
      const p = this.pool;
      its.push({ minX: p[o]!, minY: p[o + 1]!, maxX: p[o + 2]!, maxY: p[o + 3]!, v: this.poolVs[e]! });
    }
    return packItems(its);
  }

  private dropVersion(v: Version): void {
    v.dropped = true;
    for (const it of v.items) this.tree.remove(it);
    v.items = [];
    const z = v.zone;
    if (z === null) return;
    if (v.personal || z.kind === 'inclusion') {
      for (const s of z.subjects) this.removeFromSlab(this.internSubject(s), v);
    } else {
      for (const s of z.subjects) {
        const i = this.internSubject(s);
        const n = this.treeCount[i]!;
        const list = this.sharedBySubject[i];
        const at = list === undefined ? -1 : list.subarray(0, n).indexOf(v.ser);
        if (at >= 0) {
          list!.copyWithin(at, at + 1, n);
          this.treeCount[i] = n - 1;
        }
      }
    }
    for (const s of z.subjects) removeFrom(this.bySubject, s, v);
    if (z.kind === 'inclusion') for (const s of z.subjects) removeFrom(this.inclBySubject, s, v);
    if (isScheduledInclusion(z)) for (const s of z.subjects) removeFrom(this.schedBySubject, s, v);
  }
}

/** the versions in force at `at`, written to out in place (shortened with pop(): keeps its backing store) */
function inForceInto(vs: Version[] | undefined, at: number, out: CompiledZone[]): CompiledZone[] {
  let n = 0;
  if (vs) {
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i]!;
      if (inForce(v, at)) out[n++] = v.zone!;
    }
  }
  while (out.length > n) out.pop();
  return out;
}

function isScheduledInclusion(z: CompiledZone): boolean {
  return z.kind === 'inclusion' && (z.def.schedule !== null || z.def.validFrom !== null || z.def.validTo !== null);
}

function pushTo(m: Map<string, Version[]>, key: string, v: Version): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

function removeFrom(m: Map<string, Version[]>, key: string, v: Version): void {
  const list = m.get(key);
  if (!list) return;
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) m.delete(key);
}

/**
 * The lon/lat boxes (up to 3, written to `out` as minX,minY,maxX,maxY) that contain every point
 * within `radiusM` metres of (lon, lat): degrees of latitude at their shortest, longitude reach
 * of a circle on a sphere smaller than the Earth (+1%), all longitudes when the circle reaches
 * a pole, and the far side of ±180 when the box touches it. Returns the box count.
 */
export function queryBoxes(lon: number, lat: number, radiusM: number, out: Float64Array): number {
  const r = radiusM > 0 ? radiusM : 0;
  const dLat = r / MIN_M_PER_DEG_LAT + 1e-12;
  const minLat = lat - dLat;
  const maxLat = lat + dLat;
  const x = r / (R_LOW * Math.cos(lat * RAD));
  if (maxLat >= 90 || minLat <= -90 || x >= 0.99) {
    out[0] = -180;
    out[1] = minLat;
    out[2] = 180;
    out[3] = maxLat;
    return 1;
  }
  const dLon = ((x < 1e-3 ? x : Math.asin(x)) / RAD) * 1.01 + 1e-12;
  const w = lon - dLon;
  const e = lon + dLon;
  out[0] = w;
  out[1] = minLat;
  out[2] = e;
  out[3] = maxLat;
  let n = 1;
  // lon 180 and -180 are one meridian: search the other side when the box reaches it
  if (w <= -180) {
    out[4] = w + 360;
    out[5] = minLat;
    out[6] = 180;
    out[7] = maxLat;
    n++;
  }
  if (e >= 180) {
    out[4 * n] = -180;
    out[4 * n + 1] = minLat;
    out[4 * n + 2] = e - 360;
    out[4 * n + 3] = maxLat;
    n++;
  }
  return n;
}


const WORLD_BOXES: ReadonlyArray<readonly [number, number, number, number]> = [[-WORLD, -WORLD, WORLD, WORLD]];

/** A packed R-tree over items (built with rbush). */
function packItems(its: Item[]): Packed {
  const t = new RBush<Item>(16);
  t.load(its);
  return packTree((t as unknown as { data: TreeNode }).data);
}

/** Packs an rbush tree breadth first: each node's children are contiguous entries. */
function packTree(root: TreeNode): Packed {
  const queue: TreeNode[] = [root];
  let total = 0;
  for (let qi = 0; qi < queue.length; qi++) {
    const node = queue[qi]!;
    total += node.children.length;
    if (!node.leaf) for (const c of node.children) queue.push(c as TreeNode);
  }
  const boxes = new Float64Array(4 * total);
  const ref = new Int32Array(total);
  const count = new Int32Array(total);
  const items: Version[] = [];
  let next = root.children.length;
  const starts: number[] = [0];
  for (let qi = 0; qi < queue.length; qi++) {
    const node = queue[qi]!;
    const first = starts[qi]!;
    const children = node.children;
    for (let i = 0; i < children.length; i++) {
      const c = children[i]!;
      const e = first + i;
      boxes[4 * e] = c.minX;
      boxes[4 * e + 1] = c.minY;
      boxes[4 * e + 2] = c.maxX;
      boxes[4 * e + 3] = c.maxY;
      if (node.leaf) {
        ref[e] = -1 - items.length;
        items.push((c as Item).v);
      } else {
        const child = c as TreeNode;
        ref[e] = next;
        count[e] = child.children.length;
        next += child.children.length;
      }
    }
    if (!node.leaf) for (let i = 0; i < children.length; i++) starts.push(ref[first + i]!);
  }
  return { boxes, ref, count, items, rootCount: root.children.length };
}

function grown(a: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}
