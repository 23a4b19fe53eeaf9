/**
 * Containment and distance to the boundary, per CONTRACT §2–3.
 *
 * - inside: Turf's booleanPointInPolygon is the reference (boundary counts as inside; a hole
 *   is outside). The hot path runs the same algorithm over the typed rings, skipping runs of
 *   edges that cannot cross the point's ray, and hands the point to Turf itself whenever the
 *   floating-point orientation is too close to call; test/unit/geo-contain.test.ts checks it
 *   gives Turf's answer on the whole corpus. lon 180 and -180 are the same meridian. Circles:
 *   geodesic distance d on WGS84, inside iff d <= radiusM, distanceM = |d - radiusM|. inside and
 *   certain are always GeographicLib's (Inverse) answer; a flat-ellipsoid distance (error
 *   <= 1e-5 relative within 10 km and 80° latitude) is used only when it is clear of both
 *   thresholds by more than that bound, so distanceM may then differ from Inverse by <= 1e-5.
 * - distanceM: metres from the point to the nearest ring edge (shell or hole). Edges are
 *   straight lines in lon/lat (GeoJSON semantics). The nearest point on the edges is found
 *   in a local plane scaled at the point's latitude, then measured on the ellipsoid
 *   (flat-ellipsoid formula below 10 km, GeographicLib beyond), so the result is the length
 *   of a real path to a real boundary point. Beyond 1 km, or above 80° of latitude, where the
 *   plane can mislead, the candidate edges are searched on the ellipsoid (golden section),
 *   unless the plane estimate is already 4x the accuracy radius (certain either way).
 * - certain: distanceM >= accuracyM.
 * - fast path: a point farther than accuracyM from every part box is outside and certain;
 *   distanceM is then a lower bound (>= accuracyM) and no edge is looked at.
 */
import { booleanPointInPolygon } from '@turf/turf';
import { CHUNK, boxDistanceLowerBound, isCompiledZoneShape } from './compile.ts';
import type { CompiledPart, CompiledShape } from './compile.ts';
import { FLAT_REL_ERROR, distanceM as pointDistance, flatDistance, flatIsAccurate, geodesicDistance, meridianRadius, primeVerticalRadius } from './geodesy.ts';
import type { CompiledZone, Judgement } from './types.ts';

const RAD = Math.PI / 180;
/** reused for every Turf call: no allocation per judgement */
const scratch: [number, number] = [0, 0];

function shapeOf(zone: CompiledZone): CompiledShape {
  if (!isCompiledZoneShape(zone)) throw new Error(`zone ${zone.id} was not built by compileZone`);
  return zone.shape;
}

/** Judge one point against one zone. accuracyM = Infinity forces the exact distance. */
export function judge(zone: CompiledZone, lon: number, lat: number, accuracyM: number): Judgement {
  return judgeInto(zone, lon, lat, accuracyM, { inside: false, distanceM: 0, certain: false });
}

/** judge() writing into `out` (returned): for loops that must not allocate. */
export function judgeInto(zone: CompiledZone, lon: number, lat: number, accuracyM: number, out: Judgement): Judgement {
  const shape = shapeOf(zone);
  if (shape.type === 'circle') {
    const boxes = zone.boxes;
    let nearest = Infinity;
    for (let i = 0; i < boxes.length; i++) {
      const b = boxDistanceLowerBound(boxes[i]!, lon, lat);
      if (b < nearest) nearest = b;
    }
    if (nearest > accuracyM) return set(out, false, nearest, true);
    // The cheap flat distance decides when it is clear of both thresholds (the radius and the
    // accuracy) by more than its error bound, so inside and certain are always exactly what
    // GeographicLib would say; otherwise (near a threshold, far, or polar) GeographicLib decides.
    const r = shape.radiusM;
    const flat = flatDistance(shape.lon, shape.lat, lon, lat);
    if (accuracyM !== Infinity && flatIsAccurate(shape.lat, lat, flat)) {
      const margin = flat * FLAT_REL_ERROR + 1e-6;
      const dist = Math.abs(flat - r);
      if (dist > margin && Math.abs(dist - accuracyM) > margin) return set(out, flat <= r, dist, dist >= accuracyM);
    }
    const d = geodesicDistance(shape.lon, shape.lat, lon, lat);
    const distanceM = Math.abs(d - r);
    return set(out, d <= r, distanceM, distanceM >= accuracyM);
  }
  const parts = shape.parts;
  // Fast path: far from every part box.
  let nearestBox = Infinity;
  for (let i = 0; i < parts.length; i++) {
    const b = boxDistanceLowerBound(parts[i]!.box, lon, lat);
    if (b < nearestBox) nearestBox = b;
  }
  if (nearestBox > accuracyM) return set(out, false, nearestBox, true);
  const inside = insidePolygon(parts, lon, lat);
  const distanceM = boundaryDistance(parts, lon, lat, accuracyM);
  return set(out, inside, distanceM, distanceM >= accuracyM);
}

function set(out: Judgement, inside: boolean, distanceM: number, certain: boolean): Judgement {
  out.inside = inside;
  out.distanceM = distanceM;
  out.certain = certain;
  return out;
}

/** Boundary rule, per part (a hole is outside), with lon ±180 treated as one meridian. */
export function insidePolygon(parts: readonly CompiledPart[], lon: number, lat: number): boolean {
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (pipPart(part, lon, lat)) return true;
    if (lon === 180 && pipPart(part, -180, lat)) return true;
    if (lon === -180 && pipPart(part, 180, lat)) return true;
  }
  return false;
}

function pipPart(part: CompiledPart, lon: number, lat: number): boolean {
  const b = part.box;
  if (lon < b[0] || lon > b[2] || lat < b[1] || lat > b[3]) return false;
  const r = pipTyped(part, lon, lat);
  if (r !== UNSURE) return r === 1;
  return pipTurf(part, lon, lat);
}

/** Turf's booleanPointInPolygon on the part: the reference. */
export function pipTurf(part: CompiledPart, lon: number, lat: number): boolean {
  scratch[0] = lon;
  scratch[1] = lat;
  return booleanPointInPolygon(scratch, part.feature);
}

const UNSURE = -1;
/** Shewchuk's error bound for the orientation filter (as robust-predicates uses). */
const CCW_ERRBOUND_A = (3 + 16 * 1.1102230246251565e-16) * 1.1102230246251565e-16;

/**
 * Turf's algorithm (point-in-polygon-hao, called by booleanPointInPolygon) over the typed
 * rings, skipping runs of edges whose latitude range misses the point (they cannot cross its
 * ray). The orientation is computed in floating point with robust-predicates' error filter;
 * when the filter cannot vouch for the sign this returns UNSURE and the caller asks Turf, so
 * the answer is always Turf's. 1 = inside or on the boundary, 0 = outside.
 */
export function pipTyped(part: CompiledPart, x: number, y: number): number {
  const rings = part.rings;
  const chunks = part.chunks;
  let k = 0;
  for (let r = 0; r < rings.length; r++) {
    const ring = rings[r]!;
    const ch = chunks[r]!;
    const edges = ring.length / 2 - 1;
    for (let c = 0; c < ch.length; c += 4) {
      if (ch[c + 1]! > y || ch[c + 3]! < y) continue;
      const first = (c / 4) * CHUNK;
      const last = first + CHUNK < edges ? first + CHUNK : edges;
      let u1 = ring[2 * first]! - x;
      let v1 = ring[2 * first + 1]! - y;
      for (let i = first + 1; i <= last; i++) {
        const u2 = ring[2 * i]! - x;
        const v2 = ring[2 * i + 1]! - y;
        if (v1 === 0 && v2 === 0) {
          if ((u2 <= 0 && u1 >= 0) || (u1 <= 0 && u2 >= 0)) return 1;
        } else if ((v2 >= 0 && v1 <= 0) || (v2 <= 0 && v1 >= 0)) {
          const detleft = u2 * v1;
          const detright = u1 * v2;
          const f = detleft - detright;
          if (!(detleft === 0 || detright === 0 || detleft > 0 !== detright > 0)) {
            const detsum = Math.abs(detleft + detright);
            if (Math.abs(f) < CCW_ERRBOUND_A * detsum) return UNSURE;
          }
          if (f === 0) return 1;
          if ((f > 0 && v2 > 0 && v1 <= 0) || (f < 0 && v2 <= 0 && v1 > 0)) k++;
        }
        u1 = u2;
        v1 = v2;
      }
    }
  }
  return k % 2 === 0 ? 0 : 1;
}

/** Where the plane at the point's latitude may mislead by more than the tolerance: refine on the ellipsoid. */
const REFINE_BEYOND_M = 1000;
const REFINE_POLAR_LAT = 80;

/**
 * Distance in metres from the point to the nearest edge of any ring of any part.
 * `accuracyM` only decides how much effort is worth it: when the plane estimate is at least
 * 4x the accuracy the answer is certain either way and is returned unrefined (an upper
 * estimate, within a few % even near the poles).
 */
export function boundaryDistance(parts: readonly CompiledPart[], lon: number, lat: number, accuracyM = Infinity): number {
  const kx = primeVerticalRadius(lat) * Math.cos(lat * RAD) * RAD;
  const ky = meridianRadius(lat) * RAD;
  const best = nearestInPlane(parts, lon, lat, kx, ky, 0);
  if (best.ring === null) return Infinity;
  const d = pointOnSegmentDistance(best.ring, best.i, best.t, lon, lat);
  if ((d <= REFINE_BEYOND_M && Math.abs(lat) < REFINE_POLAR_LAT) || d >= 4 * accuracyM) return d;
  // Far away or near a pole: minimise the true distance along every edge that the plane puts
  // within 1.5x of the best one.
  return refineOnEllipsoid(parts, lon, lat, kx, ky, Math.sqrt(best.d2) * 1.5 + 1, d);
}

interface PlaneBest {
  ring: Float64Array | null;
  i: number;
  t: number;
  d2: number;
}
/** the search's running best (module state: the hot path allocates nothing) */
const planeBest: PlaneBest = { ring: null, i: 0, t: 0, d2: Infinity };
let onEdgeWithin2 = -1;
let onEdgeFn: ((ring: Float64Array, i: number, d2: number) => void) | undefined;

function pointOnSegmentDistance(ring: Float64Array, i: number, t: number, lon: number, lat: number): number {
  const aLon = ring[i]!;
  const aLat = ring[i + 1]!;
  return pointDistance(lon, lat, aLon + t * (ring[i + 2]! - aLon), aLat + t * (ring[i + 3]! - aLat));
}

/** squared plane distance from the point to run c's box (c = offset into the chunk array) */
function chunkGap2(ch: Float64Array, c: number, lon: number, lat: number, kx: number, ky: number): number {
  let gx = 0;
  const minLon = ch[c]!;
  const maxLon = ch[c + 2]!;
  if (lon < minLon || lon > maxLon) {
    let d1 = minLon - lon;
    if (d1 < 0) d1 += 360;
    let d2 = lon - maxLon;
    if (d2 < 0) d2 += 360;
    gx = (d1 < d2 ? d1 : d2) * kx;
  }
  const gLat = lat < ch[c + 1]! ? ch[c + 1]! - lat : lat > ch[c + 3]! ? lat - ch[c + 3]! : 0;
  const gy = gLat * ky;
  return gx * gx + gy * gy;
}

/** the edges of run c of a ring against the running best (or the refinement callback) */
function scanChunk(ring: Float64Array, c: number, lon: number, lat: number, kx: number, ky: number): void {
  const edges = ring.length / 2 - 1;
  const first = (c / 4) * CHUNK;
  const last = first + CHUNK < edges ? first + CHUNK : edges;
  let prevLon = ring[2 * first]!;
  let dl = prevLon - lon;
  if (dl > 180) dl -= 360;
  else if (dl < -180) dl += 360;
  let x1 = dl * kx;
  let y1 = (ring[2 * first + 1]! - lat) * ky;
  for (let v = first + 1; v <= last; v++) {
    const i = 2 * v;
    const curLon = ring[i]!;
    // edges are straight in lon/lat: advance by the edge's own longitude delta
    const x2 = x1 + (curLon - prevLon) * kx;
    const y2 = (ring[i + 1]! - lat) * ky;
    const ex = x2 - x1;
    const ey = y2 - y1;
    const len2 = ex * ex + ey * ey;
    let t = len2 > 0 ? -(x1 * ex + y1 * ey) / len2 : 0;
    if (t < 0) t = 0;
    else if (t > 1) t = 1;
    const qx = x1 + t * ex;
    const qy = y1 + t * ey;
    const d2 = qx * qx + qy * qy;
    if (onEdgeFn !== undefined) {
      if (d2 <= onEdgeWithin2) onEdgeFn(ring, i - 2, d2);
    } else if (d2 < planeBest.d2) {
      planeBest.d2 = d2;
      planeBest.ring = ring;
      planeBest.i = i - 2;
      planeBest.t = t;
    }
    x1 = x2;
    y1 = y2;
    prevLon = curLon;
  }
}

/**
 * Nearest edge point in a plane scaled at the point's latitude (edges are straight in lon/lat).
 * The run of edges with the nearest box goes first, so the others are mostly skipped by their
 * box. With onEdge, instead calls back for every edge within `within` metres (the refinement).
 * Returns the shared planeBest: read it before the next call.
 */
function nearestInPlane(
  parts: readonly CompiledPart[],
  lon: number,
  lat: number,
  kx: number,
  ky: number,
  within: number,
  onEdge?: (ring: Float64Array, i: number, d2: number) => void,
): PlaneBest {
  planeBest.ring = null;
  planeBest.d2 = Infinity;
  onEdgeFn = onEdge;
  onEdgeWithin2 = within * within;
  let seedRing: Float64Array | null = null;
  let seedC = -1;
  if (onEdge === undefined) {
    let g = Infinity;
    for (let p = 0; p < parts.length; p++) {
      const { rings, chunks } = parts[p]!;
      for (let r = 0; r < rings.length; r++) {
        const ch = chunks[r]!;
        for (let c = 0; c < ch.length; c += 4) {
          const g2 = chunkGap2(ch, c, lon, lat, kx, ky);
          if (g2 < g) {
            g = g2;
            seedRing = rings[r]!;
            seedC = c;
          }
        }
      }
    }
    if (seedRing !== null) scanChunk(seedRing, seedC, lon, lat, kx, ky);
  }
  for (let p = 0; p < parts.length; p++) {
    const { rings, chunks } = parts[p]!;
    for (let r = 0; r < rings.length; r++) {
      const ring = rings[r]!;
      const ch = chunks[r]!;
      for (let c = 0; c < ch.length; c += 4) {
        if (ring === seedRing && c === seedC) continue;
        const g2 = chunkGap2(ch, c, lon, lat, kx, ky);
        if (onEdge !== undefined ? g2 > onEdgeWithin2 : g2 >= planeBest.d2) continue;
        scanChunk(ring, c, lon, lat, kx, ky);
      }
    }
  }
  onEdgeFn = undefined;
  return planeBest;
}

const GOLDEN = (Math.sqrt(5) - 1) / 2;

/** edges refined on the ellipsoid: the nearest few in the plane (distortion only reorders near-ties) */
const REFINE_K = 6;
const topRing: (Float64Array | null)[] = new Array<Float64Array | null>(REFINE_K).fill(null);
const topI = new Int32Array(REFINE_K);
const topD2 = new Float64Array(REFINE_K);
let topN = 0;

function keepTop(ring: Float64Array, i: number, d2: number): void {
  let j: number;
  if (topN < REFINE_K) j = topN++;
  else if (d2 >= topD2[REFINE_K - 1]!) return;
  else j = REFINE_K - 1;
  while (j > 0 && topD2[j - 1]! > d2) {
    topRing[j] = topRing[j - 1]!;
    topI[j] = topI[j - 1]!;
    topD2[j] = topD2[j - 1]!;
    j--;
  }
  topRing[j] = ring;
  topI[j] = i;
  topD2[j] = d2;
}

function refineOnEllipsoid(parts: readonly CompiledPart[], lon: number, lat: number, kx: number, ky: number, within: number, start: number): number {
  let best = start;
  topN = 0;
  nearestInPlane(parts, lon, lat, kx, ky, within, keepTop);
  for (let e = 0; e < topN; e++) {
    const ring = topRing[e]!;
    const i = topI[e]!;
    // golden-section search of t in [0, 1] on the true distance (unimodal along one edge)
    let a = 0;
    let b = 1;
    let c = b - GOLDEN * (b - a);
    let d = a + GOLDEN * (b - a);
    let fc = pointOnSegmentDistance(ring, i, c, lon, lat);
    let fd = pointOnSegmentDistance(ring, i, d, lon, lat);
    for (let k = 0; k < 40; k++) {
      if (fc < fd) {
        b = d;
        d = c;
        fd = fc;
        c = b - GOLDEN * (b - a);
        fc = pointOnSegmentDistance(ring, i, c, lon, lat);
      } else {
        a = c;
        c = d;
        fc = fd;
        d = a + GOLDEN * (b - a);
        fd = pointOnSegmentDistance(ring, i, d, lon, lat);
      }
    }
    const f0 = pointOnSegmentDistance(ring, i, 0, lon, lat);
    const f1 = pointOnSegmentDistance(ring, i, 1, lon, lat);
    const m = Math.min(fc, fd, f0, f1);
    if (m < best) best = m;
  }
  for (let e = 0; e < topN; e++) topRing[e] = null;
  return best;
}
