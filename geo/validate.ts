/**
 * Geometry validation for zones (CONTRACT §2). Returns every problem found, each with a
 * machine code and a JSON path into the input, e.g. ['coordinates', 0, 3, 1]. Topology
 * checks (self-intersection) run only on polygons whose rings are structurally sound.
 *
 * Rules beyond the obvious ones:
 * - repeated consecutive positions are tolerated (zero-length edges are skipped);
 * - within one ring, any contact between non-adjacent edges is a self-intersection
 *   (a ring may not touch itself), as is an adjacent edge folding back on the previous one;
 * - between rings of one polygon, crossings and shared stretches of edge are
 *   self-intersections; a single touching point is allowed (OGC);
 * - every hole must lie within its shell and outside the other holes;
 * - longitude width: a Polygon's plain lon extent; a MultiPolygon's parts are measured on the
 *   circle, so parts split at ±180 count their width across the antimeridian.
 */
import type { GeometryProblem } from './types.ts';

type Path = (string | number)[];
type Pt = [number, number];

/** Radii beyond a quarter meridian make "circle" meaningless for a fence. */
const MAX_RADIUS_M = 10_000_000;

export function validateGeometry(g: unknown): GeometryProblem[] {
  const out: GeometryProblem[] = [];
  if (typeof g !== 'object' || g === null || Array.isArray(g)) {
    out.push({ code: 'invalid_type', path: [], message: 'geometry must be an object' });
    return out;
  }
  const o = g as Record<string, unknown>;
  switch (o.type) {
    case 'Circle':
      validateCircle(o, out);
      break;
    case 'Polygon': {
      const poly = readPolygon(o.coordinates, ['coordinates'], out);
      if (poly) {
        checkPolygonTopology(poly, ['coordinates'], out);
        const w = poly[0] ? lonExtent(poly[0]) : null;
        if (w && w[1] - w[0] > 180) {
          out.push({ code: 'too_wide', path: ['coordinates'], message: `polygon spans ${fmt(w[1] - w[0])}° of longitude (max 180; split at ±180 as a MultiPolygon to cross the antimeridian)` });
        }
      }
      break;
    }
    case 'MultiPolygon': {
      if (!Array.isArray(o.coordinates) || o.coordinates.length === 0) {
        out.push({ code: 'invalid_type', path: ['coordinates'], message: 'MultiPolygon coordinates must be a non-empty array of polygons' });
        break;
      }
      const extents: [number, number][] = [];
      let allOk = true;
      o.coordinates.forEach((pc: unknown, p: number) => {
        const poly = readPolygon(pc, ['coordinates', p], out);
        if (!poly) {
          allOk = false;
          return;
        }
        checkPolygonTopology(poly, ['coordinates', p], out);
        if (poly[0]) extents.push(lonExtent(poly[0]));
      });
      if (allOk) {
        const width = circularWidth(extents);
        if (width > 180) {
          out.push({ code: 'too_wide', path: ['coordinates'], message: `multipolygon spans ${fmt(width)}° of longitude (max 180)` });
        }
      }
      break;
    }
    default:
      out.push({ code: 'invalid_type', path: ['type'], message: `geometry type must be Polygon, MultiPolygon or Circle, got ${JSON.stringify(o.type ?? null)}` });
  }
  return out;
}

function fmt(n: number): string {
  return String(Math.round(n * 1e6) / 1e6);
}

function validateCircle(o: Record<string, unknown>, out: GeometryProblem[]): void {
  readPosition(o.center, ['center'], out);
  const r = o.radiusM;
  if (typeof r !== 'number') {
    out.push({ code: 'invalid_type', path: ['radiusM'], message: 'radiusM must be a number of metres' });
  } else if (!Number.isFinite(r) || r <= 0) {
    out.push({ code: 'radius_not_positive', path: ['radiusM'], message: `radiusM must be a finite number > 0, got ${r}` });
  } else if (r > MAX_RADIUS_M) {
    out.push({ code: 'too_wide', path: ['radiusM'], message: `radiusM ${r} exceeds ${MAX_RADIUS_M} m` });
  }
}

/** A position [lon, lat, ...]; returns it when valid, else records the problems. */
function readPosition(v: unknown, path: Path, out: GeometryProblem[]): Pt | null {
  if (!Array.isArray(v) || v.length < 2) {
    out.push({ code: 'invalid_type', path, message: 'position must be an array [lon, lat]' });
    return null;
  }
  let ok = true;
  for (let k = 0; k < 2; k++) {
    const n: unknown = v[k];
    const limit = k === 0 ? 180 : 90;
    if (typeof n !== 'number') {
      out.push({ code: 'invalid_type', path: [...path, k], message: `${k === 0 ? 'longitude' : 'latitude'} must be a number` });
      ok = false;
    } else if (!Number.isFinite(n) || n < -limit || n > limit) {
      out.push({ code: 'coordinate_out_of_range', path: [...path, k], message: `${k === 0 ? 'longitude' : 'latitude'} ${n} is outside [-${limit}, ${limit}]` });
      ok = false;
    }
  }
  return ok ? [v[0] as number, v[1] as number] : null;
}

/** Structural checks of a polygon's rings; returns the rings when all are sound. */
function readPolygon(v: unknown, path: Path, out: GeometryProblem[]): Pt[][] | null {
  if (!Array.isArray(v) || v.length === 0) {
    out.push({ code: 'invalid_type', path, message: 'polygon must be a non-empty array of rings' });
    return null;
  }
  const rings: Pt[][] = [];
  let ok = true;
  v.forEach((rv: unknown, r: number) => {
    const rp = [...path, r];
    if (!Array.isArray(rv)) {
      out.push({ code: 'invalid_type', path: rp, message: 'ring must be an array of positions' });
      ok = false;
      return;
    }
    const ring: Pt[] = [];
    let posOk = true;
    rv.forEach((pv: unknown, j: number) => {
      const p = readPosition(pv, [...rp, j], out);
      if (p) ring.push(p);
      else posOk = false;
    });
    if (rv.length < 4) {
      out.push({ code: 'ring_too_short', path: rp, message: `ring has ${rv.length} positions (needs at least 4, first = last)` });
      ok = false;
      return;
    }
    if (!posOk) {
      ok = false;
      return;
    }
    const a = ring[0]!;
    const z = ring[ring.length - 1]!;
    if (a[0] !== z[0] || a[1] !== z[1]) {
      out.push({ code: 'ring_not_closed', path: [...rp, ring.length - 1], message: `ring is not closed: last position ${JSON.stringify(z)} differs from first ${JSON.stringify(a)}` });
      ok = false;
      return;
    }
    const distinct = new Set(ring.map((p) => `${p[0]},${p[1]}`));
    if (distinct.size < 3) {
      out.push({ code: 'ring_too_short', path: rp, message: `ring has ${distinct.size} distinct positions (needs at least 3)` });
      ok = false;
      return;
    }
    rings.push(ring);
  });
  return ok ? rings : null;
}

function lonExtent(ring: Pt[]): [number, number] {
  let a = Infinity;
  let b = -Infinity;
  for (const p of ring) {
    if (p[0] < a) a = p[0];
    if (p[0] > b) b = p[0];
  }
  return [a, b];
}

/** Width in degrees of the smallest arc of the longitude circle covering all intervals (±180 joined). */
export function circularWidth(intervals: [number, number][]): number {
  if (intervals.length === 0) return 0;
  const s = [...intervals].sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const iv of s) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  let maxGap = merged[0]![0] + 360 - merged[merged.length - 1]![1]; // across ±180
  for (let i = 1; i < merged.length; i++) maxGap = Math.max(maxGap, merged[i]![0] - merged[i - 1]![1]);
  return 360 - maxGap;
}

// ---- topology ----

interface Seg {
  ring: number;
  /** index of this edge among the ring's deduplicated edges */
  k: number;
  /** edge count of the ring */
  n: number;
  /** index of the start position in the input ring (for the path) */
  src: number;
  ax: number;
  ay: number;
  bx: number;
  by: number;
  minX: number;
  maxX: number;
}

function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const v = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

/** c is on segment ab (given collinear) */
function within(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): boolean {
  return Math.min(ax, bx) <= cx && cx <= Math.max(ax, bx) && Math.min(ay, by) <= cy && cy <= Math.max(ay, by);
}

type Contact = 'none' | 'point' | 'cross' | 'overlap';

/** How two segments meet: not at all, at one endpoint-touch, properly crossing, or along a stretch. */
function contact(s: Seg, t: Seg): Contact {
  const o1 = orient(s.ax, s.ay, s.bx, s.by, t.ax, t.ay);
  const o2 = orient(s.ax, s.ay, s.bx, s.by, t.bx, t.by);
  const o3 = orient(t.ax, t.ay, t.bx, t.by, s.ax, s.ay);
  const o4 = orient(t.ax, t.ay, t.bx, t.by, s.bx, s.by);
  if (o1 === 0 && o2 === 0) {
    // collinear: overlap length?
    const horizontal = s.ax !== s.bx ? 0 : 1;
    const s0 = horizontal === 0 ? Math.min(s.ax, s.bx) : Math.min(s.ay, s.by);
    const s1 = horizontal === 0 ? Math.max(s.ax, s.bx) : Math.max(s.ay, s.by);
    const t0 = horizontal === 0 ? Math.min(t.ax, t.bx) : Math.min(t.ay, t.by);
    const t1 = horizontal === 0 ? Math.max(t.ax, t.bx) : Math.max(t.ay, t.by);
    const lo = Math.max(s0, t0);
    const hi = Math.min(s1, t1);
    if (hi > lo) return 'overlap';
    if (hi === lo) return 'point';
    return 'none';
  }
  if (o1 * o2 < 0 && o3 * o4 < 0) return 'cross';
  if (
    (o1 === 0 && within(s.ax, s.ay, s.bx, s.by, t.ax, t.ay)) ||
    (o2 === 0 && within(s.ax, s.ay, s.bx, s.by, t.bx, t.by)) ||
    (o3 === 0 && within(t.ax, t.ay, t.bx, t.by, s.ax, s.ay)) ||
    (o4 === 0 && within(t.ax, t.ay, t.bx, t.by, s.bx, s.by))
  ) {
    return 'point';
  }
  return 'none';
}

/** -1 outside, 0 on the boundary, 1 inside (planar lon/lat). */
function pointInRing(x: number, y: number, ring: Pt[]): -1 | 0 | 1 {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (orient(xj, yj, xi, yi, x, y) === 0 && within(xj, yj, xi, yi, x, y)) return 0;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside ? 1 : -1;
}

function checkPolygonTopology(rings: Pt[][], path: Path, out: GeometryProblem[]): void {
  const segs: Seg[] = [];
  rings.forEach((ring, r) => {
    // edges between consecutive distinct positions
    const idx: number[] = [];
    for (let j = 0; j < ring.length; j++) {
      const prev = idx.length ? ring[idx[idx.length - 1]!]! : null;
      const p = ring[j]!;
      if (!prev || prev[0] !== p[0] || prev[1] !== p[1]) idx.push(j);
    }
    const n = idx.length - 1;
    for (let k = 0; k < n; k++) {
      const a = ring[idx[k]!]!;
      const b = ring[idx[k + 1]!]!;
      segs.push({ ring: r, k, n, src: idx[k]!, ax: a[0], ay: a[1], bx: b[0], by: b[1], minX: Math.min(a[0], b[0]), maxX: Math.max(a[0], b[0]) });
    }
  });
  segs.sort((s, t) => s.minX - t.minX);
  const reported = new Set<string>();
  const crossed = new Set<string>(); // ring pairs already reported as crossing
  const report = (p: Path, message: string) => {
    const key = JSON.stringify(p);
    if (reported.has(key)) return;
    reported.add(key);
    out.push({ code: 'self_intersection', path: p, message });
  };
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const sMinY = Math.min(s.ay, s.by);
    const sMaxY = Math.max(s.ay, s.by);
    for (let j = i + 1; j < segs.length; j++) {
      const t = segs[j]!;
      if (t.minX > s.maxX) break;
      if (Math.max(t.ay, t.by) < sMinY || Math.min(t.ay, t.by) > sMaxY) continue;
      const c = contact(s, t);
      if (c === 'none') continue;
      if (s.ring === t.ring) {
        const d = Math.abs(s.k - t.k);
        const adjacent = d === 1 || d === s.n - 1;
        if (adjacent && c === 'point') continue; // they share their common vertex
        const first = s.src < t.src ? s : t;
        const second = first === s ? t : s;
        report([...path, s.ring, first.src], `ring ${s.ring} intersects itself: edge at position ${first.src} meets edge at position ${second.src}`);
      } else if (c === 'cross' || c === 'overlap') {
        const hole = Math.max(s.ring, t.ring);
        const other = Math.min(s.ring, t.ring);
        crossed.add(`${other},${hole}`);
        report([...path, hole], other === 0 ? `hole ${hole} crosses its shell` : `hole ${hole} crosses hole ${other}`);
      }
    }
  }
  // holes must lie inside the shell and outside each other
  const shell = rings[0]!;
  for (let h = 1; h < rings.length; h++) {
    const hole = rings[h]!;
    if (crossed.has(`0,${h}`)) continue;
    if (hole.some((p) => pointInRing(p[0], p[1], shell) < 0)) {
      report([...path, h], `hole ${h} lies (partly) outside its shell`);
      continue;
    }
    for (let o = 1; o < rings.length; o++) {
      if (o === h || crossed.has(`${Math.min(o, h)},${Math.max(o, h)}`)) continue;
      if (hole.some((p) => pointInRing(p[0], p[1], rings[o]!) > 0)) {
        report([...path, h], `hole ${h} lies inside hole ${o}`);
        break;
      }
    }
  }
}
