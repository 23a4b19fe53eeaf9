/**
 * Zone compilation: turn a validated ZoneDef into the compact form judge() and the ZoneIndex
 * read on the hot path. Rings become flat Float64Arrays [lon0, lat0, lon1, lat1, ...] (closed),
 * each polygon part keeps its own box and a Turf feature (Turf's point-in-polygon is the
 * reference test for inside/outside), circles keep centre and radius (exact geodesic distance).
 */
import type { CompiledZone, ZoneDef } from './types.ts';
import { validateGeometry } from './validate.ts';

export type Box = readonly [number, number, number, number];

/** A GeoJSON Polygon feature as Turf reads it (bbox lets Turf skip far points). */
export interface PolygonFeature {
  type: 'Feature';
  bbox: [number, number, number, number];
  properties: Record<string, never>;
  geometry: { type: 'Polygon'; coordinates: number[][][] };
}

export interface CompiledPart {
  /** [minLon, minLat, maxLon, maxLat] of the shell */
  readonly box: Box;
  /** shell first, then holes; closed, flat lon/lat pairs */
  readonly rings: readonly Float64Array[];
  /**
   * per ring: a box [minLon, minLat, maxLon, maxLat] for each run of CHUNK edges, so the
   * ray-crossing test and the distance search skip runs that cannot matter
   */
  readonly chunks: readonly Float64Array[];
  /** the part as a Turf feature (with bbox) for booleanPointInPolygon */
  readonly feature: PolygonFeature;
}

/** edges per chunk */
export const CHUNK = 16;

function chunkBoxes(ring: Float64Array): Float64Array {
  const edges = ring.length / 2 - 1;
  const n = Math.ceil(edges / CHUNK);
  const out = new Float64Array(4 * n);
  for (let c = 0; c < n; c++) {
    let a = Infinity;
    let b = Infinity;
    let d = -Infinity;
    let e = -Infinity;
    const last = Math.min(edges, (c + 1) * CHUNK); // vertex index of the last edge's end
    for (let v = c * CHUNK; v <= last; v++) {
      const x = ring[2 * v]!;
      const y = ring[2 * v + 1]!;
      if (x < a) a = x;
      if (x > d) d = x;
      if (y < b) b = y;
      if (y > e) e = y;
    }
    out[4 * c] = a;
    out[4 * c + 1] = b;
    out[4 * c + 2] = d;
    out[4 * c + 3] = e;
  }
  return out;
}

export type CompiledShape =
  | { readonly type: 'polygon'; readonly parts: readonly CompiledPart[]; readonly vertexCount: number }
  | { readonly type: 'circle'; readonly lon: number; readonly lat: number; readonly radiusM: number };

/** What compileZone really returns; the extra field is private to geo/. */
export interface CompiledZoneShape extends CompiledZone {
  readonly shape: CompiledShape;
}

export function isCompiledZoneShape(z: CompiledZone): z is CompiledZoneShape {
  return (z as Partial<CompiledZoneShape>).shape !== undefined;
}

/** The smallest radius of curvature of WGS84 (meridian, equator), minus a margin: makes boxes conservative. */
const R_LOW = 6_335_000;
const MIN_M_PER_DEG_LAT = 110_574;
const RAD = Math.PI / 180;

/**
 * Compile a zone definition. The geometry must be valid (validateGeometry); otherwise this
 * throws an Error naming the first problem and its path.
 */
export function compileZone(def: ZoneDef): CompiledZone {
  const problems = validateGeometry(def.geometry);
  const first = problems[0];
  if (first) {
    throw new Error(
      `zone ${def.id} v${def.version}: invalid geometry: ${first.code} at ${JSON.stringify(first.path)}: ${first.message}` +
        (problems.length > 1 ? ` (+${problems.length - 1} more)` : ''),
    );
  }
  const g = def.geometry;
  let shape: CompiledShape;
  let boxes: Box[];
  if (g.type === 'Circle') {
    shape = { type: 'circle', lon: g.center[0], lat: g.center[1], radiusM: g.radiusM };
    boxes = circleBoxes(g.center[0], g.center[1], g.radiusM);
  } else {
    const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
    const parts: CompiledPart[] = [];
    let vertexCount = 0;
    for (const poly of polys) {
      const rings: Float64Array[] = [];
      for (const ring of poly) {
        const flat = new Float64Array(ring.length * 2);
        for (let i = 0; i < ring.length; i++) {
          const p = ring[i]!;
          flat[2 * i] = p[0]!;
          flat[2 * i + 1] = p[1]!;
        }
        rings.push(flat);
        vertexCount += ring.length;
      }
      const shell = rings[0]!;
      let minLon = Infinity;
      let minLat = Infinity;
      let maxLon = -Infinity;
      let maxLat = -Infinity;
      for (let i = 0; i < shell.length; i += 2) {
        const x = shell[i]!;
        const y = shell[i + 1]!;
        if (x < minLon) minLon = x;
        if (x > maxLon) maxLon = x;
        if (y < minLat) minLat = y;
        if (y > maxLat) maxLat = y;
      }
      const box: Box = [minLon, minLat, maxLon, maxLat];
      const coordinates = poly.map((ring) => ring.map((p) => [p[0]!, p[1]!]));
      parts.push({ box, rings, chunks: rings.map(chunkBoxes), feature: { type: 'Feature', bbox: [box[0], box[1], box[2], box[3]], properties: {}, geometry: { type: 'Polygon', coordinates } } });
    }
    shape = { type: 'polygon', parts, vertexCount };
    boxes = mergePartBoxes(parts.map((p) => p.box));
  }
  const zone: CompiledZoneShape = {
    def,
    id: def.id,
    version: def.version,
    kind: def.kind,
    boxes,
    subjects: new Set(def.subjectIds),
    shape,
  };
  return zone;
}

/**
 * One box for all parts, or two when the parts sit on both sides of ±180 (their plain
 * bounding box would be wider than 180°, which validation forbids for a real zone).
 */
function mergePartBoxes(parts: Box[]): Box[] {
  const all = unionBox(parts);
  if (all[2] - all[0] <= 180) return [all];
  const east = parts.filter((b) => b[0] + b[2] >= 0);
  const west = parts.filter((b) => b[0] + b[2] < 0);
  return [unionBox(east), unionBox(west)];
}

function unionBox(boxes: Box[]): Box {
  let a = Infinity;
  let b = Infinity;
  let c = -Infinity;
  let d = -Infinity;
  for (const x of boxes) {
    if (x[0] < a) a = x[0];
    if (x[1] < b) b = x[1];
    if (x[2] > c) c = x[2];
    if (x[3] > d) d = x[3];
  }
  return [a, b, c, d];
}

/** Conservative (slightly larger) boxes around a geodesic circle, split at ±180. */
export function circleBoxes(lon: number, lat: number, radiusM: number): Box[] {
  const dLat = (radiusM / MIN_M_PER_DEG_LAT) * 1.001;
  const south = lat - dLat;
  const north = lat + dLat;
  if (north >= 90 || south <= -90) {
    return [[-180, Math.max(-90, south), 180, Math.min(90, north)]];
  }
  // Widest longitude reach of a spherical circle: asin(sin(r/R) / cos(lat)), with R small and a margin.
  const s = Math.sin(Math.min(radiusM / R_LOW, Math.PI / 2)) / Math.cos(lat * RAD);
  if (s >= 0.99) return [[-180, south, 180, north]];
  const dLon = (Math.asin(s) / RAD) * 1.01 + 1e-9;
  const w = lon - dLon;
  const e = lon + dLon;
  if (w < -180) return [[w + 360, south, 180, north], [-180, south, e, north]];
  if (e > 180) return [[w, south, 180, north], [-180, south, e - 360, north]];
  return [[w, south, e, north]];
}

/**
 * A lower bound in metres of the distance from (lon, lat) to anything inside `box`
 * (0 when the point is in it). Any path into the box crosses its latitude band (>= 110 574 m
 * per degree) and, when outside its longitude range, one of its two bounding meridians
 * (>= the cross-track distance to that meridian's great circle on a small sphere).
 * 0.5% is taken off for the sphere-vs-ellipsoid difference.
 */
export function boxDistanceLowerBound(box: Box, lon: number, lat: number): number {
  let latGap = 0;
  if (lat < box[1]) latGap = box[1] - lat;
  else if (lat > box[3]) latGap = lat - box[3];
  const latM = latGap * MIN_M_PER_DEG_LAT;
  if (lon >= box[0] && lon <= box[2]) return latM;
  // lon 180 and -180 are the same meridian
  if ((lon === 180 && box[0] === -180) || (lon === -180 && box[2] === 180)) return latM;
  let d1 = box[0] - lon; // eastward from the point to the west edge
  if (d1 < 0) d1 += 360;
  let d2 = lon - box[2]; // westward from the point to the east edge
  if (d2 < 0) d2 += 360;
  const s1 = Math.abs(Math.sin(d1 * RAD));
  const s2 = Math.abs(Math.sin(d2 * RAD));
  const lonM = R_LOW * Math.asin(Math.cos(lat * RAD) * (s1 < s2 ? s1 : s2)) * 0.995;
  return lonM > latM ? lonM : latM;
}
