/**
 * A small seeded workload with object pings (used by bench:kafka): zones around real towns
 * of England and Wales, subjects/tags living there, and pings near them, with a chosen
 * share of pings inside one of the subject's zones. (bench:engine, bench:http,
 * bench:postgis and bench:scaling use bench/lib/engine-world.ts.)
 *
 * Shape (what an order book looks like): most zones are personal (a victim's home, a
 * curfew address), some are shared by many subjects of a town (every school and
 * playground), and a small share of pings falls inside a zone.
 */
import type { Ping, ZoneDef } from '../../geo/types.ts';
import { Rng } from '../simulate/rng.ts';
import { TOWNS } from '../simulate/towns.ts';

export interface BenchPing extends Ping {
  lat: number;
  lon: number;
  subjectId: string;
}

export interface Workload {
  zones: ZoneDef[];
  tags: { tagId: string; subjectId: string }[];
  pings: BenchPing[];
}

export interface WorkloadOptions {
  seed: number;
  zones: number;
  tags: number;
  pings: number;
  /** epoch ms of the first ping (default 2026-06-01T10:00Z); pings are 1 ms apart */
  startTs?: number;
  /** share of pings placed inside one of the subject's zones (default 0.02) */
  insideShare?: number;
}

const RAD = Math.PI / 180;
const M_PER_DEG = 111_320;

function offset(lon: number, lat: number, bearingDeg: number, d: number): [number, number] {
  return [lon + (d * Math.sin(bearingDeg * RAD)) / (M_PER_DEG * Math.cos(lat * RAD)), lat + (d * Math.cos(bearingDeg * RAD)) / M_PER_DEG];
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export function makeWorkload(o: WorkloadOptions): Workload {
  const rng = new Rng(o.seed);
  const start = o.startTs ?? Date.UTC(2026, 5, 1, 10);
  const insideShare = o.insideShare ?? 0.02;
  const tags: Workload['tags'] = [];
  const home: [number, number][] = [];
  const townOf: number[] = [];
  const byTown: number[][] = TOWNS.map(() => []);
  for (let i = 0; i < o.tags; i++) {
    const t = rng.int(0, TOWNS.length - 1);
    const town = TOWNS[t]!;
    tags.push({ tagId: `T${i}`, subjectId: `S${i}` });
    home.push(offset(town.lon, town.lat, rng.uniform(0, 360), rng.uniform(0, 5000)));
    townOf.push(t);
    byTown[t]!.push(i);
  }
  const zones: ZoneDef[] = [];
  const zonesOf: number[][] = tags.map(() => []);
  for (let z = 0; z < o.zones; z++) {
    const u = rng.next();
    const owner = rng.int(0, o.tags - 1);
    const t = townOf[owner]!;
    const town = TOWNS[t]!;
    let subjectIds: string[];
    let kind: ZoneDef['kind'] = 'exclusion';
    let centre: [number, number];
    let schedule: ZoneDef['schedule'] = null;
    if (u < 0.15) {
      // shared: a school excluded for many subjects of the town
      const peers = byTown[t]!;
      const n = Math.min(peers.length, rng.int(5, 50));
      const chosen = new Set<number>([owner]);
      for (let k = 0; k < n; k++) chosen.add(peers[rng.int(0, peers.length - 1)]!);
      subjectIds = [...chosen].map((i) => `S${i}`);
      centre = offset(town.lon, town.lat, rng.uniform(0, 360), rng.uniform(0, 6000));
      for (const i of chosen) zonesOf[i]!.push(z);
    } else if (u < 0.3) {
      // a curfew address: inclusion zone at home with a night window
      kind = 'inclusion';
      subjectIds = [`S${owner}`];
      centre = home[owner]!;
      schedule = { timezone: 'Europe/London', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '19:00', end: '07:00' }] };
      zonesOf[owner]!.push(z);
    } else {
      // personal: a victim's home or an area, a few km from the subject's home
      subjectIds = [`S${owner}`];
      centre = offset(home[owner]![0], home[owner]![1], rng.uniform(0, 360), rng.uniform(500, 8000));
      zonesOf[owner]!.push(z);
    }
    const polygon = kind === 'exclusion' && rng.chance(0.5);
    const radius = rng.uniform(80, 500);
    let geometry: ZoneDef['geometry'];
    if (polygon) {
      const n = rng.int(5, 12);
      const ring: number[][] = [];
      for (let k = 0; k < n; k++) {
        const p = offset(centre[0], centre[1], (k * 360) / n + rng.uniform(-10, 10), radius * rng.uniform(0.6, 1));
        ring.push([round6(p[0]), round6(p[1])]);
      }
      ring.push([...ring[0]!]);
      geometry = { type: 'Polygon', coordinates: [ring] };
    } else {
      geometry = { type: 'Circle', center: [round6(centre[0]), round6(centre[1])], radiusM: Math.round(radius) };
    }
    zones.push({
      id: `Z${z}`,
      version: 1,
      name: kind === 'inclusion' ? 'Curfew address' : u < 0.15 ? 'School' : "Victim's home",
      kind,
      subjectIds,
      geometry,
      schedule,
      graceSeconds: 0,
      minConfidence: 'possible',
      validFrom: null,
      validTo: null,
      effectiveFrom: 0,
    });
  }
  const pings: BenchPing[] = [];
  for (let i = 0; i < o.pings; i++) {
    const tag = i % o.tags;
    const h = home[tag]!;
    let p: [number, number];
    const mine = zonesOf[tag]!;
    if (mine.length > 0 && rng.chance(insideShare)) {
      const z = zones[mine[rng.int(0, mine.length - 1)]!]!;
      const g = z.geometry;
      const c: [number, number] = g.type === 'Circle' ? g.center : (g.coordinates[0]![0] as [number, number]);
      p = g.type === 'Circle' ? offset(c[0], c[1], rng.uniform(0, 360), rng.uniform(0, g.radiusM * 0.9)) : c;
    } else {
      p = offset(h[0], h[1], rng.uniform(0, 360), rng.uniform(0, 6000));
    }
    const a = rng.next();
    const accuracyM = a < 0.8 ? Math.round(rng.uniform(4, 20)) : a < 0.95 ? Math.round(rng.uniform(20, 80)) : Math.round(rng.uniform(300, 1000));
    pings.push({
      tagId: tags[tag]!.tagId,
      subjectId: tags[tag]!.subjectId,
      ts: start + i,
      lat: round6(p[1]),
      lon: round6(p[0]),
      accuracyM,
      fix: accuracyM >= 300 ? 'cell' : 'gps',
      battery: 80,
      strap: 'ok',
      seq: null,
    });
  }
  return { zones, tags, pings };
}
