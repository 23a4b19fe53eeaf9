/**
 * Builds the geo fixture corpus and asks PostGIS for the expected answers.
 *
 *   npx tsx scripts/gen-fixtures.ts          # writes test/fixtures/geo/{zones.geojson,expected.json}
 *
 * Zones and points are generated from a fixed seed (buildCorpus, pure). PostGIS is the oracle:
 * - polygons: inside = ST_Covers(geometry, point) (GeoJSON edges are straight in lon/lat, which
 *   is the planar geometry model; a point on lon ±180 is tried at both 180 and -180),
 *   distance = ST_Distance(point::geography, boundary::geography) on the WGS84 spheroid, with
 *   the boundary densified (ST_Segmentize, 0.002°) so its great-circle pieces follow the straight
 *   lon/lat edges to within a few millimetres;
 * - circles: d = ST_Distance(point::geography, centre::geography); inside = d <= radius,
 *   distance = |d - radius|.
 * The integration test test/integration/postgis-oracle.test.ts reruns this and compares.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { geodesicDestination, meridianRadius, primeVerticalRadius } from '../geo/geodesy.ts';
import type { ZoneGeometry } from '../geo/types.ts';

export const SEED = 20260101;
export const SEGMENTIZE_DEG = 0.002;
const RAD = Math.PI / 180;

export interface FixtureZone {
  id: string;
  note: string;
  geometry: ZoneGeometry;
}

export interface Corpus {
  zones: FixtureZone[];
  /** per zone id: the points [lon, lat] to judge against that zone */
  points: Record<string, [number, number][]>;
}

/** per zone id: [lon, lat, inside 0|1, distance to boundary in metres] */
export type Expected = Record<string, [number, number, number, number][]>;

export interface ExpectedFile {
  generator: string;
  postgis: string;
  seed: number;
  cases: Expected;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const wrapLon = (x: number) => (x > 180 ? x - 360 : x < -180 ? x + 360 : x);

function rect(w: number, s: number, e: number, n: number): number[][] {
  return [[w, s], [e, s], [e, n], [w, n], [w, s]];
}

/** a closed ring approximating a circle in local metres (planar lon/lat vertices) */
function ringAround(lon: number, lat: number, radiusM: number, n: number, jitter: number, rnd: () => number, clockwise = false): number[][] {
  const kx = primeVerticalRadius(lat) * Math.cos(lat * RAD) * RAD;
  const ky = meridianRadius(lat) * RAD;
  const ring: number[][] = [];
  for (let i = 0; i < n; i++) {
    const a = ((clockwise ? -1 : 1) * 2 * Math.PI * i) / n;
    const r = radiusM * (1 - jitter * rnd());
    ring.push([lon + (r * Math.cos(a)) / kx, lat + (r * Math.sin(a)) / ky]);
  }
  ring.push([ring[0]![0]!, ring[0]![1]!]);
  return ring;
}

export function buildZones(): FixtureZone[] {
  const rnd = mulberry32(SEED);
  const zones: FixtureZone[] = [];
  const poly = (id: string, note: string, coordinates: number[][][]) => zones.push({ id, note, geometry: { type: 'Polygon', coordinates } });
  const multi = (id: string, note: string, coordinates: number[][][][]) => zones.push({ id, note, geometry: { type: 'MultiPolygon', coordinates } });
  const circle = (id: string, note: string, lon: number, lat: number, radiusM: number) =>
    zones.push({ id, note, geometry: { type: 'Circle', center: [lon, lat], radiusM } });

  poly('square-london', 'axis-aligned square ~700 m', [rect(-0.13, 51.5, -0.12, 51.506)]);
  poly('concave-u', 'U shape with sloped edges', [[[2.33, 48.85], [2.35, 48.851], [2.352, 48.87], [2.346, 48.87], [2.344, 48.857], [2.338, 48.857], [2.336, 48.869], [2.33, 48.868], [2.33, 48.85]]]);
  poly('holes', 'polygon with two holes, one sloped', [
    rect(13.38, 52.5, 13.42, 52.52),
    rect(13.385, 52.505, 13.39, 52.51),
    [[13.4, 52.505], [13.41, 52.506], [13.405, 52.515], [13.4, 52.505]],
  ]);
  multi('multi-3', 'three parts, one with a hole', [
    [rect(-74.01, 40.7, -74.0, 40.71)],
    [rect(-73.99, 40.7, -73.98, 40.71), rect(-73.987, 40.703, -73.983, 40.707)],
    [[[-73.97, 40.7], [-73.96, 40.705], [-73.97, 40.71], [-73.97, 40.7]]],
  ]);
  multi('am-fiji', 'antimeridian split at ±180, 20° wide in total', [
    [[[170, -20], [180, -20], [180, -10], [170, -10], [170, -20]]],
    [[[-180, -20], [-170, -20], [-170, -10], [-180, -10], [-180, -20]]],
  ]);
  multi('am-small', 'small antimeridian split with sloped edges and unequal halves', [
    [[[179.99, 65.0], [180, 65.0], [180, 65.012], [179.993, 65.01], [179.99, 65.0]]],
    [[[-180, 65.0], [-179.985, 65.002], [-179.98, 65.008], [-180, 65.01], [-180, 65.0]]],
  ]);
  poly('north-polar', 'high Arctic band 88–89.9°N, 90° of longitude', [rect(0, 88, 90, 89.9)]);
  poly('north-tiny', 'small zone at 89.99°N', [[[10, 89.99], [11, 89.99], [10.5, 89.995], [10, 89.99]]]);
  poly('south-polar', 'Antarctic zone -89.5..-85, lon -60..60, with a hole', [
    rect(-60, -89.5, 60, -85),
    rect(-10, -88, 10, -86.5),
  ]);
  poly('tiny-triangle', 'triangle with ~3 m sides', [[[-0.1, 51.5], [-0.099957, 51.5], [-0.09998, 51.500027], [-0.1, 51.5]]]);
  poly('tiny-holed', '5 m square with a 1 m hole', [
    rect(4.9, 52.37, 4.900073, 52.370045),
    rect(4.9000292, 52.3700180, 4.9000438, 52.3700270),
  ]);
  poly('v500', '500-vertex irregular polygon, ~5 km radius', [ringAround(-3.7, 40.42, 5000, 499, 0.3, rnd)]);
  poly('large-sahara', 'large zone 20°×10° with long edges', [[[0, 15], [20, 16], [19, 25], [1, 24], [0, 15]]]);
  poly('equator-meridian', 'crosses the equator and the prime meridian', [[[-0.5, -0.5], [0.5, -0.4], [0.4, 0.5], [-0.45, 0.45], [-0.5, -0.5]]]);
  poly('west-edge', 'touches lon -180 without a partner (planar semantics)', [rect(-180, 10, -179.9, 10.1)]);

  circle('c-50m', '50 m circle, London', -0.1276, 51.5072, 50);
  circle('c-20km', '20 km circle, mid latitude', 10, 45, 20_000);
  circle('c-am', '10 km circle across the antimeridian', 179.95, 0.0, 10_000);
  circle('c-polar', '10 km circle around the north pole', 45, 89.95, 10_000);
  circle('c-3m', '3 m circle', 151.2093, -33.8688, 3);
  return zones;
}

const EDGE_OFFSETS = [0, 0.05, -0.05, 0.5, -0.5, 3, -3, 20, -20, 200, -200];
const CIRCLE_OFFSETS = [0, 0.01, -0.01, 0.1, -0.1, 1, -1, 10, -10, 100, -100];

function edgePoints(rings: number[][][], budgetEdges: number, rnd: () => number, out: [number, number][]): void {
  const edges: [number[], number[]][] = [];
  for (const ring of rings) for (let i = 0; i + 1 < ring.length; i++) edges.push([ring[i]!, ring[i + 1]!]);
  const step = Math.max(1, Math.floor(edges.length / budgetEdges));
  for (let e = 0; e < edges.length; e += step) {
    const [a, b] = edges[e]!;
    out.push([a[0]!, a[1]!]); // exactly on a vertex
    for (const t of [0.5, rnd()]) {
      const lon = a[0]! + t * (b[0]! - a[0]!);
      const lat = a[1]! + t * (b[1]! - a[1]!);
      const kx = primeVerticalRadius(lat) * Math.cos(lat * RAD) * RAD;
      const ky = meridianRadius(lat) * RAD;
      const ex = (b[0]! - a[0]!) * kx;
      const ey = (b[1]! - a[1]!) * ky;
      const len = Math.hypot(ex, ey);
      for (const o of EDGE_OFFSETS) {
        const plon = lon + (o * -ey) / len / kx;
        const plat = lat + (o * ex) / len / ky;
        if (plat > 90 || plat < -90) continue;
        out.push([wrapLon(plon), plat]);
      }
    }
  }
}

export function buildCorpus(): Corpus {
  const rnd = mulberry32(SEED + 1);
  const zones = buildZones();
  const points: Record<string, [number, number][]> = {};
  for (const z of zones) {
    const pts: [number, number][] = [];
    const g = z.geometry;
    if (g.type === 'Circle') {
      const [lon, lat] = g.center;
      pts.push([lon, lat]);
      for (let i = 0; i < 100; i++) {
        const az = i * 3.6 + rnd();
        for (const o of CIRCLE_OFFSETS) {
          const [plon, plat] = geodesicDestination(lon, lat, az, g.radiusM + o);
          pts.push([plon, plat]);
        }
      }
      for (let i = 0; i < 100; i++) {
        const [plon, plat] = geodesicDestination(lon, lat, rnd() * 360, g.radiusM * 3 * rnd());
        pts.push([plon, plat]);
      }
    } else {
      const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
      let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
      for (const poly of polys) {
        edgePoints(poly, z.id === 'v500' ? 250 : 60, rnd, pts);
        for (const p of poly[0]!) {
          w = Math.min(w, p[0]!); e = Math.max(e, p[0]!); s = Math.min(s, p[1]!); n = Math.max(n, p[1]!);
        }
        // centres of holes
        for (const hole of poly.slice(1)) {
          const c = hole.slice(0, -1).reduce((acc, p) => [acc[0]! + p[0]! / (hole.length - 1), acc[1]! + p[1]! / (hole.length - 1)], [0, 0]);
          pts.push([c[0]!, c[1]!]);
        }
      }
      // random points in the box grown by 20% (lon wrapped), and on ±180 for antimeridian zones
      const split = e - w > 180;
      const dw = split ? 0 : (e - w) * 0.2;
      const dh = (n - s) * 0.2;
      for (let i = 0; i < 300; i++) {
        const lat = Math.max(-90, Math.min(90, s - dh + rnd() * (n - s + 2 * dh)));
        let lon: number;
        if (split) {
          const east = polys.filter((p) => p[0]![0]![0]! > 0).flatMap((p) => p[0]!.map((q) => q[0]!));
          const west = polys.filter((p) => p[0]![0]![0]! <= 0).flatMap((p) => p[0]!.map((q) => q[0]!));
          const from = Math.min(...east);
          const to = Math.max(...west) + 360;
          lon = wrapLon(from + rnd() * (to - from));
        } else {
          lon = wrapLon(w - dw + rnd() * (e - w + 2 * dw));
        }
        pts.push([lon, lat]);
      }
      if (split || w === -180 || e === 180) {
        for (let i = 0; i <= 40; i++) {
          const lat = s - dh + ((n - s + 2 * dh) * i) / 40;
          pts.push([180, lat], [-180, lat], [179.9999999, lat], [-179.9999999, lat]);
        }
      }
    }
    points[z.id] = pts;
  }
  return { zones, points };
}

/** Ask PostGIS for inside/distance of every corpus point against its zone. */
export async function evaluateWithPostgis(client: pg.Client, corpus: Corpus): Promise<Expected> {
  const expected: Expected = {};
  for (const z of corpus.zones) {
    const pts = corpus.points[z.id] ?? [];
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const g = z.geometry;
    let rows: { x: number; y: number; inside: boolean; d: number }[];
    if (g.type === 'Circle') {
      const res = await client.query<{ x: number; y: number; d: number }>(
        `SELECT x, y, ST_Distance(ST_SetSRID(ST_MakePoint(x, y), 4326)::geography,
                                  ST_SetSRID(ST_MakePoint($3, $4), 4326)::geography) AS d
           FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, i) ORDER BY i`,
        [xs, ys, g.center[0], g.center[1]],
      );
      rows = res.rows.map((r) => ({ x: r.x, y: r.y, inside: r.d <= g.radiusM, d: Math.abs(r.d - g.radiusM) }));
    } else {
      const res = await client.query<{ x: number; y: number; inside: boolean; d: number }>(
        `WITH z AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON($3), 4326) AS g),
              b AS (SELECT g, ST_Segmentize(ST_Boundary(g), $4)::geography AS bnd FROM z)
         SELECT x, y,
                ST_Covers(b.g, ST_SetSRID(ST_MakePoint(x, y), 4326))
                  OR (abs(x) = 180 AND ST_Covers(b.g, ST_SetSRID(ST_MakePoint(-x, y), 4326))) AS inside,
                ST_Distance(ST_SetSRID(ST_MakePoint(x, y), 4326)::geography, b.bnd) AS d
           FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, i), b ORDER BY i`,
        [xs, ys, JSON.stringify(g), SEGMENTIZE_DEG],
      );
      rows = res.rows;
    }
    expected[z.id] = rows.map((r) => [r.x, r.y, r.inside ? 1 : 0, Math.round(r.d * 1e4) / 1e4]);
  }
  return expected;
}

export const FIXTURE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/geo');

export function zonesGeoJson(zones: FixtureZone[]): unknown {
  // Circles are not GeoJSON: stored as a Point with the radius in properties.
  return {
    type: 'FeatureCollection',
    features: zones.map((z) =>
      z.geometry.type === 'Circle'
        ? { type: 'Feature', properties: { id: z.id, note: z.note, radiusM: z.geometry.radiusM }, geometry: { type: 'Point', coordinates: z.geometry.center } }
        : { type: 'Feature', properties: { id: z.id, note: z.note }, geometry: z.geometry },
    ),
  };
}

async function main(): Promise<void> {
  const { connectPostgis } = await import('../test/support/postgis.ts');
  const conn = await connectPostgis();
  if (!conn.ok) {
    console.error(`gen-fixtures: PostGIS not available: ${conn.reason}`);
    process.exit(1);
  }
  const { postgis } = conn;
  try {
    const corpus = buildCorpus();
    const cases = await evaluateWithPostgis(postgis.client, corpus);
    const file: ExpectedFile = { generator: 'scripts/gen-fixtures.ts', postgis: postgis.version.split(' ').slice(0, 2).join(' '), seed: SEED, cases };
    mkdirSync(FIXTURE_DIR, { recursive: true });
    writeFileSync(resolve(FIXTURE_DIR, 'zones.geojson'), JSON.stringify(zonesGeoJson(corpus.zones), null, 1) + '\n');
    // one line per case keeps diffs readable and the file compact
    const lines = Object.entries(cases).map(([id, cs]) => `${JSON.stringify(id)}:[\n${cs.map((c) => JSON.stringify(c)).join(',\n')}\n]`);
    writeFileSync(
      resolve(FIXTURE_DIR, 'expected.json'),
      `{"generator":${JSON.stringify(file.generator)},"postgis":${JSON.stringify(file.postgis)},"seed":${file.seed},"cases":{\n${lines.join(',\n')}\n}}\n`,
    );
    const n = Object.values(cases).reduce((a, c) => a + c.length, 0);
    console.log(`gen-fixtures: ${corpus.zones.length} zones, ${n} points -> ${FIXTURE_DIR}`);
  } finally {
    await postgis.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
