/**
 * The tag simulator's world: subjects living near real towns, their curfew (inclusion) and
 * exclusion zones, what they do each day, and what their tags record and upload.
 *
 * Pure and deterministic for a seed and a start time: no clock, no I/O. The driver
 * (bench/simulate/main.ts) sends what this produces and compares alerts.
 *
 * Ground truth. The simulator knows where each person really is. It keeps the truth crisp
 * so "expected alerts" are exact, not guesses:
 * - reported positions drift by at most 0.9 × the fix's accuracy radius, so a ping the
 *   service judges "certain" always agrees with the truth;
 * - outside scripted visits, people keep CLEARANCE_M (more than the worst cell accuracy)
 *   away from their exclusion zones, and near a zone only GPS fixes are produced, so drift
 *   alone never breaks a condition;
 * - uploads are shuffled or delivered late only when they carry nothing near a breach
 *   (late pings are exercised on quiet data; the breach count stays exact).
 * Expected alerts are then counted from what was actually sent (a flat battery during a
 * visit means no pings and no alert).
 */
import { DateTime } from 'luxon';
import { meridianRadius, primeVerticalRadius } from '../../geo/geodesy.ts';
import { Rng } from './rng.ts';
import { TOWNS, type Town } from './towns.ts';

const MIN = 60_000;
const RAD = Math.PI / 180;
/** Worst cell accuracy is 1000 m; drift ≤ 900 m. Keep truth this far from exclusion zones. */
export const CLEARANCE_M = 1200;
/** Longest extra delay of an upload (late split) plus network delay, in ms. */
const MAX_DELAY_MS = 4 * MIN;
const ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export interface SimRates {
  /** chance per subject-day of a scripted visit into an exclusion zone */
  exclusionVisit: number;
  /** chance per subject-day of coming home 30–90 min after curfew starts */
  curfewBreach: number;
  /** chance per subject-day of a strap tamper lasting 5–20 min */
  tamper: number;
  /** chance per subject (once per run) of starting low and letting the battery go flat */
  flatBattery: number;
  /** chance per subject-day of 30–120 min with no signal (fixes buffered, uploaded late) */
  signalLoss: number;
  /** chance per upload of a quiet upload arriving shuffled or split with its first half late */
  disorder: number;
}

export const DEFAULT_RATES: SimRates = {
  exclusionVisit: 0.12,
  curfewBreach: 0.1,
  tamper: 0.03,
  flatBattery: 0.05,
  signalLoss: 0.1,
  disorder: 0.05,
};

export interface SimConfig {
  seed: number;
  subjects: number;
  /** epoch ms of the first fix minute (floored to the minute) */
  startMs: number;
  durationMin: number;
  /** prefix of subject, tag and zone ids (keeps runs apart on one service) */
  idPrefix: string;
  timezone?: string;
  rates?: Partial<SimRates>;
}

/** A ping as sent on the wire (CONTRACT §1). */
export interface WirePing {
  tagId: string;
  ts: string | number;
  lat?: number;
  lon?: number;
  accuracyM?: number;
  fix: 'gps' | 'wifi' | 'cell' | 'none';
  battery: number;
  strap: 'ok' | 'tampered';
  seq: number;
}

/** The body of PUT /v1/zones/{id}. */
export interface ZoneBody {
  name: string;
  kind: 'exclusion' | 'inclusion';
  subjectIds: string[];
  geometry: { type: 'Circle'; center: [number, number]; radiusM: number } | { type: 'Polygon'; coordinates: number[][][] };
  schedule?: { timezone: string; windows: { days: string[]; start: string; end: string }[] };
  graceSeconds: number;
  minConfidence: 'possible' | 'confirmed';
}

export interface SimZone {
  id: string;
  body: ZoneBody;
}

export interface SimSubject {
  id: string;
  tagId: string;
  name: string;
  town: string;
  timezone: string;
  home: { lat: number; lon: number };
  zones: SimZone[];
}

/** What the simulator knows about one sent fix (never sent on the wire). */
export interface FixTruth {
  /** trip key when the person was truly deep inside an exclusion zone */
  visit?: string;
  zoneId?: string;
  /** window key when the person was truly, certainly outside the curfew zone during its window */
  curfew?: string;
  tamper?: string;
}

export interface Upload {
  subjectId: string;
  tagId: string;
  /** epoch ms the upload reaches the gateway (sim time) */
  arrivalMs: number;
  pings: WirePing[];
  truth: FixTruth[];
  disorder: 'none' | 'shuffled' | 'late-half';
}

export type ExpectedType = 'exclusion.breach' | 'inclusion.breach' | 'tag.tamper' | 'tag.battery_low';

/** One expected alert (one episode). */
export interface ExpectedAlert {
  subjectId: string;
  tagId: string;
  type: ExpectedType;
  zoneId: string | null;
  /** the episode's identity in the simulator (trip, window or tamper key) */
  episode: string;
}

// ------------------------------------------------------------------ local geometry

interface XY {
  x: number;
  y: number;
}

/** Local east/north metres around a town centre, with the ellipsoid's radii at that latitude. */
class LocalFrame {
  private readonly mPerDegLat: number;
  private readonly mPerDegLon: number;
  constructor(readonly town: Town) {
    this.mPerDegLat = meridianRadius(town.lat) * RAD;
    this.mPerDegLon = primeVerticalRadius(town.lat) * Math.cos(town.lat * RAD) * RAD;
  }
  toLonLat(p: XY): [number, number] {
    return [this.town.lon + p.x / this.mPerDegLon, this.town.lat + p.y / this.mPerDegLat];
  }
}

const dist = (a: XY, b: XY) => Math.hypot(a.x - b.x, a.y - b.y);
const polar = (o: XY, bearingDeg: number, d: number): XY => ({ x: o.x + d * Math.sin(bearingDeg * RAD), y: o.y + d * Math.cos(bearingDeg * RAD) });

function segDist(p: XY, a: XY, b: XY): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const l2 = dx * dx + dy * dy;
  const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2));
  return Math.hypot(a.x + t * dx - p.x, a.y + t * dy - p.y);
}

function pointInRing(p: XY, ring: XY[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i] as XY;
    const b = ring[j] as XY;
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

interface LocalExclusion {
  id: string;
  centre: XY;
  /** circumscribed radius (for clearance) */
  outer: number;
  /** inscribed radius (deep inside = within inner - 2 × accuracy of the centre) */
  inner: number;
  ring: XY[] | null;
}

function insideExclusion(z: LocalExclusion, p: XY): boolean {
  return z.ring ? pointInRing(p, z.ring) : dist(p, z.centre) <= z.outer;
}

// ------------------------------------------------------------------ itinerary

interface Dwell {
  kind: 'dwell';
  from: number;
  to: number;
  at: XY;
  place: 'home' | 'dest';
  trip: string | null;
}
interface Travel {
  kind: 'travel';
  from: number;
  to: number;
  path: XY[];
  cum: number[];
  trip: string;
}
type Seg = Dwell | Travel;

interface Window {
  from: number;
  to: number;
  key: string;
}

interface Interval {
  from: number;
  to: number;
  key: string;
}

function makeTravel(from: number, to: number, path: XY[], trip: string): Travel {
  const cum = [0];
  for (let i = 1; i < path.length; i++) cum.push((cum[i - 1] as number) + dist(path[i - 1] as XY, path[i] as XY));
  return { kind: 'travel', from, to, path, cum, trip };
}

function travelAt(s: Travel, t: number): XY {
  const total = s.cum[s.cum.length - 1] as number;
  const d = total * Math.min(1, Math.max(0, (t - s.from) / Math.max(1, s.to - s.from)));
  for (let i = 1; i < s.path.length; i++) {
    const c = s.cum[i] as number;
    if (d <= c || i === s.path.length - 1) {
      const c0 = s.cum[i - 1] as number;
      const a = s.path[i - 1] as XY;
      const b = s.path[i] as XY;
      const f = c - c0 === 0 ? 0 : (d - c0) / (c - c0);
      return { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f };
    }
  }
  return s.path[s.path.length - 1] as XY;
}

// ------------------------------------------------------------------ one subject

class SubjectSim {
  readonly subject: SimSubject;
  private readonly rng: Rng;
  private readonly frame: LocalFrame;
  private readonly home: XY;
  private readonly homeRadius: number;
  private readonly homeZoneId: string;
  private readonly exclusions: LocalExclusion[];
  private readonly segs: Seg[] = [];
  private readonly windows: Window[] = [];
  private readonly tampers: Interval[] = [];
  private readonly signalLoss: Interval[] = [];
  private segI = 0;
  private winI = 0;
  private readonly isoTs: boolean;
  private readonly phaseMs: number;
  // device state
  private battery: number;
  private neverCharge: boolean;
  private offUntil = 0;
  private seq = 0;
  private nextUploadAt: number;
  private buffer: { ping: WirePing; truth: FixTruth; quiet: boolean }[] = [];

  constructor(
    index: number,
    private readonly cfg: Required<Omit<SimConfig, 'rates'>> & { rates: SimRates },
    endMs: number,
  ) {
    const rng = Rng.derive(cfg.seed, index);
    this.rng = rng;
    const town = rng.pick(TOWNS);
    this.frame = new LocalFrame(town);
    const n = String(index + 1).padStart(5, '0');
    const subjectId = `${cfg.idPrefix}S${n}`;
    const tagId = `${cfg.idPrefix}BUD-${n}`;
    this.home = polar({ x: 0, y: 0 }, rng.uniform(0, 360), rng.uniform(0, 3000));
    this.homeRadius = Math.round(rng.uniform(120, 150));
    this.homeZoneId = `${cfg.idPrefix}Z${n}-curfew`;
    const startH = rng.pick([19, 20, 21]);
    const endH = rng.pick([6, 7]);

    // exclusion zones: a victim's home (circle) and, for some, an area (hexagon)
    this.exclusions = [];
    const victimBearing = rng.uniform(0, 360);
    const vr = Math.round(rng.uniform(250, 450));
    this.exclusions.push({ id: `${cfg.idPrefix}Z${n}-victim`, centre: polar(this.home, victimBearing, rng.uniform(4000, 7000)), outer: vr, inner: vr, ring: null });
    if (rng.chance(0.5)) {
      const c = polar(this.home, victimBearing + rng.uniform(60, 300), rng.uniform(3500, 6000));
      const R = rng.uniform(350, 600);
      const ring: XY[] = [];
      for (let k = 0; k < 6; k++) ring.push(polar(c, k * 60 + rng.uniform(-10, 10), R * rng.uniform(0.8, 1)));
      this.exclusions.push({ id: `${cfg.idPrefix}Z${n}-area`, centre: c, outer: R, inner: R * 0.8 * Math.cos(40 * RAD), ring });
    }

    const tz = cfg.timezone;
    const zones: SimZone[] = [];
    const hc = this.frame.toLonLat(this.home);
    zones.push({
      id: this.homeZoneId,
      body: {
        name: 'Curfew address',
        kind: 'inclusion',
        subjectIds: [subjectId],
        geometry: { type: 'Circle', center: [round6(hc[0]), round6(hc[1])], radiusM: this.homeRadius },
        schedule: { timezone: tz, windows: [{ days: [...ALL_DAYS], start: `${startH}:00`, end: `0${endH}:00` }] },
        graceSeconds: 0,
        // cell fixes at home are uncertain by hundreds of metres: only a certain fix breaks curfew
        minConfidence: 'confirmed',
      },
    });
    for (const z of this.exclusions) {
      if (z.ring) {
        const ring = z.ring.map((p) => this.frame.toLonLat(p).map(round6));
        ring.push(ring[0] as number[]);
        zones.push({ id: z.id, body: { name: 'Exclusion area', kind: 'exclusion', subjectIds: [subjectId], geometry: { type: 'Polygon', coordinates: [ring] }, graceSeconds: 0, minConfidence: 'possible' } });
      } else {
        const c = this.frame.toLonLat(z.centre);
        zones.push({ id: z.id, body: { name: "Victim's home", kind: 'exclusion', subjectIds: [subjectId], geometry: { type: 'Circle', center: [round6(c[0]), round6(c[1])], radiusM: z.outer }, graceSeconds: 0, minConfidence: 'possible' } });
      }
    }
    this.subject = { id: subjectId, tagId, name: `Subject ${n}`, town: town.name, timezone: tz, home: { lat: round6(hc[1]), lon: round6(hc[0]) }, zones };

    this.isoTs = rng.chance(0.5);
    this.phaseMs = rng.int(0, 59) * 1000;
    this.neverCharge = rng.chance(cfg.rates.flatBattery);
    this.battery = this.neverCharge ? rng.uniform(17, 30) : rng.uniform(70, 100);
    this.nextUploadAt = cfg.startMs + rng.int(0, 9) * MIN;
    this.plan(startH, endH, endMs);
  }

  // ---- the plan: days of home, trips, scripted breaches

  private plan(startH: number, endH: number, endMs: number): void {
    const { rng, cfg } = this;
    const tz = cfg.timezone;
    let day = DateTime.fromMillis(cfg.startMs, { zone: tz }).startOf('day').minus({ days: 1 });
    let t = day.toMillis();
    let tripNo = 0;
    const homeDwell = (to: number) => {
      if (to > t) this.segs.push({ kind: 'dwell', from: t, to, at: this.home, place: 'home', trip: null });
      t = Math.max(t, to);
    };
    while (day.toMillis() < endMs + MAX_DELAY_MS) {
      const next = day.plus({ days: 1 });
      const curfewEnd = day.set({ hour: endH, minute: 0 }).toMillis();
      const curfewStart = day.set({ hour: startH, minute: 0 }).toMillis();
      const date = day.toISODate() ?? String(day.toMillis());
      this.windows.push({ from: curfewStart, to: next.set({ hour: endH, minute: 0 }).toMillis(), key: `${this.homeZoneId}@${date}` });
      if (rng.chance(cfg.rates.tamper)) {
        const from = day.set({ hour: 9 }).toMillis() + rng.int(0, 9 * 60) * MIN;
        this.tampers.push({ from, to: from + rng.int(5, 20) * MIN, key: `tamper@${date}` });
      }
      if (rng.chance(cfg.rates.signalLoss)) {
        const from = day.set({ hour: 8 }).toMillis() + rng.int(0, 12 * 60) * MIN;
        this.signalLoss.push({ from, to: from + rng.int(30, 120) * MIN, key: `loss@${date}` });
      }
      const late = rng.chance(cfg.rates.curfewBreach) ? rng.int(30, 90) * MIN : 0;
      const homeBy = late ? curfewStart + late : curfewStart - rng.int(15, 60) * MIN;
      const visitZone = rng.chance(cfg.rates.exclusionVisit) ? rng.pick(this.exclusions) : null;
      const trips = rng.int(1, 3) + (visitZone ? 1 : 0);
      const visitAt = visitZone ? rng.int(0, trips - 1) : -1;
      homeDwell(curfewEnd + rng.int(20, 150) * MIN);
      for (let k = 0; k < trips; k++) {
        if (k > 0) homeDwell(t + rng.int(20, 90) * MIN);
        const isLast = k === trips - 1;
        const target = k === visitAt ? visitZone : null;
        const trip = this.trip(target);
        if (!trip) continue;
        const tripKey = target ? `${target.id}#${date}#${tripNo++}` : `trip#${tripNo++}`;
        const outMs = Math.max(1, Math.ceil(trip.outLen / trip.speed / 60)) * MIN;
        const backMs = Math.max(1, Math.ceil(trip.backLen / trip.speed / 60)) * MIN;
        let dwell = (target ? rng.int(10, 25) : rng.int(20, 180)) * MIN;
        // the late-return trip leaves before curfew starts and comes home `late` after it
        const by = isLast && late ? homeBy : late ? curfewStart - 90 * MIN : homeBy;
        if (isLast && late) dwell = homeBy - backMs - (t + outMs);
        else if (t + outMs + dwell + backMs > by) dwell = by - t - outMs - backMs;
        if (dwell < 10 * MIN) continue;
        const leave = t;
        this.segs.push(makeTravel(leave, leave + outMs, trip.out, tripKey));
        this.segs.push({ kind: 'dwell', from: leave + outMs, to: leave + outMs + dwell, at: trip.dest, place: 'dest', trip: tripKey });
        this.segs.push(makeTravel(leave + outMs + dwell, leave + outMs + dwell + backMs, trip.back, tripKey));
        t = leave + outMs + dwell + backMs;
      }
      day = next;
      homeDwell(day.toMillis());
    }
    homeDwell(Number.MAX_SAFE_INTEGER);
  }

  /** A destination and L-shaped street-like paths there and back that respect clearance. */
  private trip(target: LocalExclusion | null): { dest: XY; out: XY[]; back: XY[]; outLen: number; backLen: number; speed: number } | null {
    const { rng } = this;
    for (let attempt = 0; attempt < 30; attempt++) {
      const dest = target ? target.centre : polar(this.home, rng.uniform(0, 360), rng.uniform(400, 5000));
      const c1 = rng.chance(0.5) ? { x: dest.x, y: this.home.y } : { x: this.home.x, y: dest.y };
      const c2 = c1.x === dest.x && c1.y === this.home.y ? { x: this.home.x, y: dest.y } : { x: dest.x, y: this.home.y };
      const out = [this.home, c1, dest];
      const back = [dest, c2, this.home];
      const ok = (path: XY[]) =>
        this.exclusions.every((z) => {
          if (z === target) return true;
          for (let i = 1; i < path.length; i++) if (segDist(z.centre, path[i - 1] as XY, path[i] as XY) < z.outer + CLEARANCE_M) return false;
          return true;
        });
      if (!ok(out) || !ok(back)) continue;
      const outLen = dist(this.home, c1) + dist(c1, dest);
      const backLen = dist(dest, c2) + dist(c2, this.home);
      const speed = outLen < 1500 ? rng.uniform(1.2, 1.5) : rng.uniform(7, 11);
      return { dest, out, back, outLen, backLen, speed };
    }
    return null;
  }

  private segAt(t: number): Seg {
    while ((this.segs[this.segI] as Seg).to <= t && this.segI < this.segs.length - 1) this.segI++;
    return this.segs[this.segI] as Seg;
  }

  private windowAt(t: number): Window | null {
    while (this.winI < this.windows.length && (this.windows[this.winI] as Window).to <= t) this.winI++;
    const w = this.windows[this.winI];
    return w && w.from <= t && t < w.to ? w : null;
  }

  private nearExclusion(p: XY): boolean {
    return this.exclusions.some((z) => dist(p, z.centre) < z.outer + CLEARANCE_M);
  }

  // ---- one minute of the device

  /** Advances to minute `t`: maybe records a fix, maybe uploads. */
  step(t: number, emit: (u: Upload) => void): void {
    const { rng } = this;
    const seg = this.segAt(t);
    const atHome = seg.kind === 'dwell' && seg.place === 'home';
    const inWindow = this.windowAt(t);
    // battery: drains ~0.05 %/min (a day and a bit); charges at home overnight
    if (t < this.offUntil) return;
    if (this.offUntil !== 0 && t >= this.offUntil) {
      this.offUntil = 0;
      this.battery = 50;
      this.neverCharge = false;
    }
    if (atHome && inWindow && !this.neverCharge) this.battery = Math.min(100, this.battery + 0.5);
    else this.battery -= 0.05;
    if (this.battery <= 0) {
      this.battery = 0;
      this.offUntil = t + rng.int(60, 180) * MIN;
      return;
    }

    // where the person truly is
    let truth: XY;
    if (seg.kind === 'travel') truth = travelAt(seg, t);
    else {
      const spread = seg.place === 'home' ? 7 : 12;
      truth = { x: seg.at.x + clamp(rng.normal() * spread, 20), y: seg.at.y + clamp(rng.normal() * spread, 20) };
    }
    const near = this.nearExclusion(truth);

    // what the tag reports
    let fix: WirePing['fix'];
    if (near) fix = 'gps';
    else {
      const u = rng.next();
      if (seg.kind === 'travel') fix = u < 0.93 ? 'gps' : u < 0.98 ? 'cell' : 'none';
      else if (atHome) fix = u < 0.6 ? 'wifi' : u < 0.9 ? 'gps' : u < 0.98 ? 'cell' : 'none';
      else fix = u < 0.4 ? 'gps' : u < 0.75 ? 'wifi' : u < 0.95 ? 'cell' : 'none';
    }
    const tamper = this.tampers.find((iv) => iv.from <= t && t < iv.to);
    const ts = t + this.phaseMs;
    const ping: WirePing = {
      tagId: this.subject.tagId,
      ts: this.isoTs ? new Date(ts).toISOString() : ts,
      fix,
      battery: Math.floor(this.battery),
      strap: tamper ? 'tampered' : 'ok',
      seq: ++this.seq,
    };
    const note: FixTruth = {};
    if (tamper) note.tamper = tamper.key;
    if (fix !== 'none') {
      const acc = fix === 'gps' ? rng.uniform(3, near ? 12 : 15) : fix === 'wifi' ? rng.uniform(15, 60) : rng.uniform(300, 1000);
      const drift = Math.min(0.9, Math.abs(rng.normal()) * 0.45) * acc;
      const rep = polar(truth, rng.uniform(0, 360), drift);
      const [lon, lat] = this.frame.toLonLat(rep);
      ping.lat = round6(lat);
      ping.lon = round6(lon);
      ping.accuracyM = Math.round(acc * 10) / 10;
      // deep inside an exclusion zone (certain even with drift and 6-decimal rounding)
      for (const z of this.exclusions) {
        const deep = z.ring ? insideExclusion(z, truth) && dist(truth, z.centre) <= z.inner - 2 * acc - 1 : dist(truth, z.centre) <= z.outer - 2 * acc - 1;
        if (deep) {
          note.visit = seg.trip ?? `stray#${t}`;
          note.zoneId = z.id;
        }
      }
      if (inWindow && dist(truth, this.home) >= this.homeRadius + 2 * acc + 1) note.curfew = inWindow.key;
    }
    const quiet = !near && !tamper && !(inWindow && !atHome) && this.battery > 22;
    this.buffer.push({ ping, truth: note, quiet });

    // upload every 1–10 minutes unless out of signal
    const noSignal = this.signalLoss.some((iv) => iv.from <= t && t < iv.to);
    if (t >= this.nextUploadAt && !noSignal) {
      this.nextUploadAt = t + rng.int(1, 10) * MIN;
      this.flush(t, emit);
    }
  }

  private flush(t: number, emit: (u: Upload) => void): void {
    const { rng } = this;
    const items = this.buffer;
    this.buffer = [];
    if (items.length === 0) return;
    const arrival = t + this.phaseMs + rng.int(500, 20_000);
    const base = { subjectId: this.subject.id, tagId: this.subject.tagId };
    const canDisorder = items.length >= 2 && items.every((i) => i.quiet);
    if (canDisorder && rng.chance(this.cfg.rates.disorder)) {
      if (rng.chance(0.5)) {
        rng.shuffle(items);
        emit({ ...base, arrivalMs: arrival, pings: items.map((i) => i.ping), truth: items.map((i) => i.truth), disorder: 'shuffled' });
      } else {
        const half = Math.floor(items.length / 2);
        const first = items.slice(0, half);
        const second = items.slice(half);
        emit({ ...base, arrivalMs: arrival + rng.int(60, 180) * 1000, pings: first.map((i) => i.ping), truth: first.map((i) => i.truth), disorder: 'late-half' });
        emit({ ...base, arrivalMs: arrival, pings: second.map((i) => i.ping), truth: second.map((i) => i.truth), disorder: 'none' });
      }
      return;
    }
    emit({ ...base, arrivalMs: arrival, pings: items.map((i) => i.ping), truth: items.map((i) => i.truth), disorder: 'none' });
  }
}

function clamp(v: number, m: number): number {
  return Math.max(-m, Math.min(m, v));
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

// ------------------------------------------------------------------ the whole run

export interface SimStats {
  fixes: number;
  uploads: number;
  pings: number;
  shuffledUploads: number;
  lateUploads: number;
  byFix: Record<string, number>;
}

/**
 * A simulation: subjects and zones up front, then uploads in arrival order (a generator, so
 * national-scale runs stream instead of holding every fix), and the alerts its ground
 * truth expects from what was sent so far.
 */
export class Simulation {
  readonly subjects: SimSubject[];
  readonly startMs: number;
  readonly endMs: number;
  readonly stats: SimStats = { fixes: 0, uploads: 0, pings: 0, shuffledUploads: 0, lateUploads: 0, byFix: {} };
  private readonly sims: SubjectSim[];
  private readonly expectedKeys = new Map<string, ExpectedAlert>();
  private readonly batteryLow = new Map<string, { low: boolean; n: number }>();

  constructor(config: SimConfig) {
    const cfg = {
      seed: config.seed,
      subjects: config.subjects,
      startMs: Math.floor(config.startMs / MIN) * MIN,
      durationMin: config.durationMin,
      idPrefix: config.idPrefix,
      timezone: config.timezone ?? 'Europe/London',
      rates: { ...DEFAULT_RATES, ...config.rates },
    };
    if (!Number.isInteger(cfg.subjects) || cfg.subjects < 1) throw new Error(`subjects must be a positive integer, got ${config.subjects}`);
    if (!(cfg.durationMin > 0)) throw new Error(`durationMin must be > 0, got ${config.durationMin}`);
    this.startMs = cfg.startMs;
    this.endMs = cfg.startMs + Math.round(cfg.durationMin) * MIN;
    this.sims = [];
    for (let i = 0; i < cfg.subjects; i++) this.sims.push(new SubjectSim(i, cfg, this.endMs));
    this.subjects = this.sims.map((s) => s.subject);
  }

  get zones(): SimZone[] {
    return this.subjects.flatMap((s) => s.zones);
  }

  /** Uploads in arrival order (ties by tag, then by time). Each is counted as sent when yielded. */
  *uploads(): Generator<Upload> {
    let pending: Upload[] = [];
    const emit = (u: Upload) => pending.push(u);
    const release = function* (this: Simulation, upTo: number): Generator<Upload> {
      const ready = pending.filter((u) => u.arrivalMs <= upTo);
      if (ready.length === 0) return;
      pending = pending.filter((u) => u.arrivalMs > upTo);
      ready.sort((a, b) => a.arrivalMs - b.arrivalMs || (a.tagId < b.tagId ? -1 : a.tagId > b.tagId ? 1 : 0));
      for (const u of ready) {
        this.account(u);
        yield u;
      }
    }.bind(this);
    for (let t = this.startMs; t < this.endMs; t += MIN) {
      for (const s of this.sims) s.step(t, emit);
      yield* release(t - MAX_DELAY_MS);
    }
    yield* release(Number.MAX_SAFE_INTEGER);
  }

  private account(u: Upload): void {
    const st = this.stats;
    st.uploads++;
    st.pings += u.pings.length;
    if (u.disorder === 'shuffled') st.shuffledUploads++;
    if (u.disorder === 'late-half') st.lateUploads++;
    const bl = this.batteryLow.get(u.tagId) ?? { low: false, n: 0 };
    for (let i = 0; i < u.pings.length; i++) {
      const p = u.pings[i] as WirePing;
      const tr = u.truth[i] as FixTruth;
      st.fixes++;
      st.byFix[p.fix] = (st.byFix[p.fix] ?? 0) + 1;
      if (tr.visit && tr.zoneId) this.expect(u, 'exclusion.breach', tr.zoneId, tr.visit);
      if (tr.curfew) this.expect(u, 'inclusion.breach', tr.curfew.slice(0, tr.curfew.indexOf('@')), tr.curfew);
      if (tr.tamper) this.expect(u, 'tag.tamper', null, tr.tamper);
      // battery hysteresis exactly as CONTRACT §3 (≤ 15 opens, ≥ 20 ends)
      if (!bl.low && p.battery <= 15) {
        bl.low = true;
        bl.n++;
        this.expect(u, 'tag.battery_low', null, `battery#${bl.n}`);
      } else if (bl.low && p.battery >= 20) bl.low = false;
    }
    this.batteryLow.set(u.tagId, bl);
  }

  private expect(u: Upload, type: ExpectedType, zoneId: string | null, episode: string): void {
    const key = `${u.subjectId}|${type}|${zoneId ?? ''}|${episode}`;
    if (!this.expectedKeys.has(key)) this.expectedKeys.set(key, { subjectId: u.subjectId, tagId: u.tagId, type, zoneId, episode });
  }

  /** Alerts the ground truth expects from everything yielded so far. */
  expected(): ExpectedAlert[] {
    return [...this.expectedKeys.values()];
  }
}

/** Groups alerts by (subjectId, type, zoneId) and counts them. */
export function countByKey(items: { subjectId: string; type: string; zoneId: string | null }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of items) {
    const k = `${a.subjectId}|${a.type}|${a.zoneId ?? ''}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

export interface Comparison {
  byType: Record<string, { expected: number; raised: number; matched: number; missing: number; unexpected: number }>;
  missing: string[];
  unexpected: string[];
}

/** Compares expected episodes with raised alerts per (subject, type, zone); other types are informational. */
export function compareAlerts(expected: ExpectedAlert[], raised: { subjectId: string; type: string; zoneId: string | null }[]): Comparison {
  const e = countByKey(expected);
  const r = countByKey(raised);
  const byType: Comparison['byType'] = {};
  const missing: string[] = [];
  const unexpected: string[] = [];
  const row = (type: string) => (byType[type] ??= { expected: 0, raised: 0, matched: 0, missing: 0, unexpected: 0 });
  for (const t of ['exclusion.breach', 'inclusion.breach', 'tag.tamper', 'tag.battery_low']) row(t);
  for (const k of new Set([...e.keys(), ...r.keys()])) {
    const type = k.split('|')[1] as string;
    const ne = e.get(k) ?? 0;
    const nr = r.get(k) ?? 0;
    const b = row(type);
    b.expected += ne;
    b.raised += nr;
    const tracked = type === 'exclusion.breach' || type === 'inclusion.breach' || type === 'tag.tamper' || type === 'tag.battery_low';
    if (!tracked) continue;
    b.matched += Math.min(ne, nr);
    if (ne > nr) {
      b.missing += ne - nr;
      missing.push(`${k} (expected ${ne}, raised ${nr})`);
    } else if (nr > ne) {
      b.unexpected += nr - ne;
      unexpected.push(`${k} (expected ${ne}, raised ${nr})`);
    }
  }
  return { byType, missing, unexpected };
}
