/**
 * Seeded generators for the engine benchmark (and any bench that wants the same world):
 * zones of realistic shape and sharing, tags living near them, and a ping stream with late
 * and duplicate pings. Everything is a pure function of the seed.
 *
 * World: `towns` towns spread over England-sized lat/lon; each subject lives in a town.
 * - personal exclusion zones (a victim's home, a workplace): circles or polygons near the
 *   subject's home, one subject each;
 * - personal inclusion zones (curfew address, 19:00–07:00): a circle on the subject's home;
 * - shared exclusion zones (every school and playground of a town): polygons of 5–500
 *   vertices, some with holes, some with school-hours schedules, each applying to every
 *   "SHPO" subject of its town (hundreds) — so one zone applies to many subjects and one
 *   subject to hundreds of zones.
 */
import type { Ping, ScheduleWindow, ZoneDef } from '../../geo/types.ts';

/** mulberry32: small, fast, good enough for workloads */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  int(a: number, b: number): number {
    return Math.floor(this.range(a, b + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const M_PER_DEG_LAT = 111_200;
const mPerDegLon = (lat: number): number => M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180);

export interface Town {
  lon: number;
  lat: number;
}

export interface WorldOptions {
  seed: number;
  zones: number;
  tags: number;
  /** default: 12 per 10,000 zones (at least 12) */
  towns?: number;
  /** share of zones that are shared town zones (schools, playgrounds) */
  sharedShare?: number;
  /** share of subjects who get the town's shared zones (SHPO subjects) */
  shpoShare?: number;
  /** share of subjects with a curfew inclusion zone */
  curfewShare?: number;
  /** max vertices of a polygon (for huge index-only worlds keep it small) */
  maxVertices?: number;
}

export interface Subject {
  id: string;
  tagId: string;
  town: number;
  homeLon: number;
  homeLat: number;
}

export interface World {
  towns: Town[];
  subjects: Subject[];
  zones: ZoneDef[];
  vertexCount: number;
}

const SCHOOL_HOURS: ScheduleWindow[] = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '16:30' }];
const CURFEW: ScheduleWindow[] = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '19:00', end: '07:00' }];

/** A star-shaped (hence simple) ring of n vertices around (lon, lat) with radius ~r metres. */
function starRing(rng: Rng, lon: number, lat: number, n: number, rMin: number, rMax: number): number[][] {
  // evenly spaced sectors with jitter: increasing angles, never too close after rounding
  const uniq: number[] = [];
  for (let i = 0; i < n; i++) uniq.push(((i + rng.range(0.1, 0.9)) / n) * 2 * Math.PI);
  const kx = mPerDegLon(lat);
  const ring = uniq.map((a) => {
    const r = rng.range(rMin, rMax);
    return [round7(lon + (r * Math.cos(a)) / kx), round7(lat + (r * Math.sin(a)) / M_PER_DEG_LAT)];
  });
  ring.push([ring[0]![0]!, ring[0]![1]!]);
  return ring;
}

function round7(x: number): number {
  return Math.round(x * 1e7) / 1e7;
}

/** Vertex counts between 5 and 500, skewed small (most real zones are simple). */
function vertexCount(rng: Rng, max: number): number {
  const u = rng.next();
  const n = u < 0.6 ? rng.int(5, 12) : u < 0.9 ? rng.int(13, 60) : rng.int(61, 500);
  return Math.min(n, max);
}

export function makeWorld(o: WorldOptions): World {
  const rng = new Rng(o.seed);
  // 12 towns per 10,000 zones: more zones means more places, not ever denser towns
  const nTowns = o.towns ?? Math.max(12, Math.round((12 * o.zones) / 10_000));
  const sharedShare = o.sharedShare ?? 0.2;
  const shpoShare = o.shpoShare ?? 0.3;
  const curfewShare = o.curfewShare ?? 0.15;
  const maxV = o.maxVertices ?? 500;
  const towns: Town[] = [];
  for (let i = 0; i < nTowns; i++) towns.push({ lon: round7(rng.range(-4.5, 1.5)), lat: round7(rng.range(50.5, 54.5)) });

  const subjects: Subject[] = [];
  const shpoByTown: string[][] = towns.map(() => []);
  for (let i = 0; i < o.tags; i++) {
    const town = rng.int(0, nTowns - 1);
    const t = towns[town]!;
    const d = rng.range(0, 6000);
    const a = rng.range(0, 2 * Math.PI);
    const s: Subject = {
      id: `S${i}`,
      tagId: `TAG-${i}`,
      town,
      homeLon: t.lon + (d * Math.cos(a)) / mPerDegLon(t.lat),
      homeLat: t.lat + (d * Math.sin(a)) / M_PER_DEG_LAT,
    };
    subjects.push(s);
    if (rng.chance(shpoShare)) shpoByTown[town]!.push(s.id);
  }

  const zones: ZoneDef[] = [];
  let vertices = 0;
  const base = (id: string, kind: 'exclusion' | 'inclusion', subjectIds: string[]): Omit<ZoneDef, 'geometry'> => ({
    id,
    version: 1,
    name: id,
    kind,
    subjectIds,
    schedule: null,
    graceSeconds: rng.chance(0.3) ? 60 : 0,
    minConfidence: rng.chance(0.2) ? 'confirmed' : 'possible',
    validFrom: null,
    validTo: null,
    effectiveFrom: 0,
  });
  const polygon = (lon: number, lat: number, r: number): ZoneDef['geometry'] => {
    const n = vertexCount(rng, maxV);
    vertices += n;
    const shell = starRing(rng, lon, lat, n, r * 0.6, r);
    if (rng.chance(0.1)) {
      const hn = rng.int(4, 12);
      vertices += hn;
      const hole = starRing(rng, lon, lat, hn, r * 0.15, r * 0.3).reverse();
      return { type: 'Polygon', coordinates: [shell, hole] };
    }
    return { type: 'Polygon', coordinates: [shell] };
  };

  const nShared = Math.round(o.zones * sharedShare);
  const nCurfew = Math.min(Math.round(o.zones * curfewShare), subjects.length);
  const nPersonal = o.zones - nShared - nCurfew;
  for (let i = 0; i < nShared; i++) {
    const town = i % nTowns;
    const t = towns[town]!;
    const d = rng.range(0, 5000);
    const a = rng.range(0, 2 * Math.PI);
    const lon = t.lon + (d * Math.cos(a)) / mPerDegLon(t.lat);
    const lat = t.lat + (d * Math.sin(a)) / M_PER_DEG_LAT;
    const z: ZoneDef = { ...base(`shared-${i}`, 'exclusion', shpoByTown[town]!), geometry: polygon(lon, lat, rng.range(60, 300)) };
    if (rng.chance(0.4)) z.schedule = { timezone: 'Europe/London', windows: SCHOOL_HOURS };
    zones.push(z);
  }
  for (let i = 0; i < nCurfew; i++) {
    const s = subjects[i]!;
    zones.push({
      ...base(`curfew-${i}`, 'inclusion', [s.id]),
      geometry: { type: 'Circle', center: [s.homeLon, s.homeLat], radiusM: rng.range(40, 150) },
      schedule: { timezone: null, windows: CURFEW },
    });
  }
  for (let i = 0; i < nPersonal; i++) {
    const s = subjects[rng.int(0, subjects.length - 1)]!;
    const d = rng.range(300, 4000);
    const a = rng.range(0, 2 * Math.PI);
    const lon = s.homeLon + (d * Math.cos(a)) / mPerDegLon(s.homeLat);
    const lat = s.homeLat + (d * Math.sin(a)) / M_PER_DEG_LAT;
    const geometry: ZoneDef['geometry'] = rng.chance(0.5) ? { type: 'Circle', center: [lon, lat], radiusM: rng.range(50, 1000) } : polygon(lon, lat, rng.range(80, 800));
    zones.push({ ...base(`personal-${i}`, 'exclusion', [s.id]), geometry });
  }
  return { towns, subjects, zones, vertexCount: vertices };
}

/** A ping stream held in typed arrays (no per-ping objects until they are used). */
export interface PingStream {
  n: number;
  tag: Int32Array;
  ts: Float64Array;
  lon: Float64Array;
  lat: Float64Array;
  acc: Float32Array;
  /** bit 0: no fix, bit 1: strap tampered, bit 2: strap ok */
  flags: Uint8Array;
  battery: Int8Array; // -1 = absent
  lateCount: number;
  dupCount: number;
}

export interface StreamOptions {
  seed: number;
  pings: number;
  start: number;
  /** seconds between a tag's pings */
  intervalS?: number;
  lateShare?: number;
  dupShare?: number;
}

/**
 * Pings in rounds: every tag pings once per round (random order within a round), walking
 * around its home. A share is delivered late (swapped with the tag's next ping) and a share
 * duplicated.
 */
export function makePings(world: World, o: StreamOptions): PingStream {
  const rng = new Rng(o.seed);
  const n = o.pings;
  const subjects = world.subjects;
  const intervalMs = (o.intervalS ?? 30) * 1000;
  const lateShare = o.lateShare ?? 0.02;
  const dupShare = o.dupShare ?? 0.01;
  const st: PingStream = {
    n,
    tag: new Int32Array(n),
    ts: new Float64Array(n),
    lon: new Float64Array(n),
    lat: new Float64Array(n),
    acc: new Float32Array(n),
    flags: new Uint8Array(n),
    battery: new Int8Array(n),
    lateCount: 0,
    dupCount: 0,
  };
  const curLon = Float64Array.from(subjects, (s) => s.homeLon);
  const curLat = Float64Array.from(subjects, (s) => s.homeLat);
  const order = Int32Array.from(subjects, (_, i) => i);
  const battery = Float64Array.from(subjects, () => rng.range(10, 100));
  let i = 0;
  for (let round = 0; i < n; round++) {
    // shuffle the round's order (Fisher–Yates)
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(rng.next() * (k + 1));
      const t = order[k]!;
      order[k] = order[j]!;
      order[j] = t;
    }
    for (let k = 0; k < order.length && i < n; k++) {
      const ti = order[k]!;
      const s = subjects[ti]!;
      // random walk pulled back towards home
      const step = rng.range(0, 80);
      const a = rng.range(0, 2 * Math.PI);
      curLon[ti] = curLon[ti]! + (step * Math.cos(a)) / mPerDegLon(s.homeLat) + (s.homeLon - curLon[ti]!) * 0.02;
      curLat[ti] = curLat[ti]! + (step * Math.sin(a)) / M_PER_DEG_LAT + (s.homeLat - curLat[ti]!) * 0.02;
      st.tag[i] = ti;
      st.ts[i] = o.start + round * intervalMs + Math.floor((k / order.length) * intervalMs);
      st.lon[i] = curLon[ti]!;
      st.lat[i] = curLat[ti]!;
      const u = rng.next();
      st.acc[i] = u < 0.85 ? rng.range(4, 25) : u < 0.97 ? rng.range(25, 120) : rng.range(120, 800);
      let f = 0;
      if (rng.chance(0.02)) f |= 1;
      if (rng.chance(0.0005)) f |= 2;
      else if (rng.chance(0.01)) f |= 4;
      st.flags[i] = f;
      // battery drains ~0.1%/ping and is recharged below 8%; reported on 10% of pings
      let bat = battery[ti]! - rng.range(0, 0.2);
      if (bat < 8) bat = 100;
      battery[ti] = bat;
      st.battery[i] = rng.chance(0.1) ? Math.round(bat) : -1;
      i++;
    }
  }
  // late: swap with the same tag's next ping (it was buffered and uploaded after it)
  const nextOf = new Int32Array(n).fill(-1);
  const seenAt = new Int32Array(subjects.length).fill(-1);
  for (let k = n - 1; k >= 0; k--) {
    const t = st.tag[k]!;
    nextOf[k] = seenAt[t]!;
    seenAt[t] = k;
  }
  const touched = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    if (!rng.chance(lateShare)) continue;
    const j = nextOf[k]!;
    if (j < 0 || touched[k] || touched[j]) continue;
    swap(st, k, j);
    touched[k] = touched[j] = 1;
    st.lateCount++;
  }
  // duplicates: overwrite a ping with a copy of the tag's previous ping... of another slot
  for (let k = 1; k < n; k++) {
    if (!rng.chance(dupShare)) continue;
    const back = k - 1 - Math.floor(rng.next() * Math.min(k - 1, 200));
    copy(st, back, k);
    st.dupCount++;
  }
  return st;
}

function swap(st: PingStream, a: number, b: number): void {
  const sw = <T extends { [i: number]: number }>(arr: T): void => {
    const t = arr[a]!;
    arr[a] = arr[b]!;
    arr[b] = t;
  };
  sw(st.tag);
  sw(st.ts);
  sw(st.lon);
  sw(st.lat);
  sw(st.acc);
  sw(st.flags);
  sw(st.battery);
}

function copy(st: PingStream, from: number, to: number): void {
  st.tag[to] = st.tag[from]!;
  st.ts[to] = st.ts[from]!;
  st.lon[to] = st.lon[from]!;
  st.lat[to] = st.lat[from]!;
  st.acc[to] = st.acc[from]!;
  st.flags[to] = st.flags[from]!;
  st.battery[to] = st.battery[from]!;
}

/** The i-th ping as the engine's Ping object. */
export function pingAt(st: PingStream, i: number, tagIds: readonly string[]): Ping {
  const f = st.flags[i]!;
  const noFix = (f & 1) !== 0;
  const b = st.battery[i]!;
  return {
    tagId: tagIds[st.tag[i]!]!,
    ts: st.ts[i]!,
    lat: noFix ? null : st.lat[i]!,
    lon: noFix ? null : st.lon[i]!,
    accuracyM: st.acc[i]!,
    fix: noFix ? 'none' : 'gps',
    battery: b < 0 ? null : b,
    strap: (f & 2) !== 0 ? 'tampered' : (f & 4) !== 0 ? 'ok' : null,
    seq: null,
  };
}
