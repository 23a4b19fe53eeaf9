/**
 * Regenerates the geo fixture corpus against a live PostGIS and compares it with the committed
 * expectations (test/fixtures/geo) and with judge(). Skipped, with the reason printed, when
 * PostGIS cannot be reached or started (see test/support/postgis.ts).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileZone } from '../../geo/compile.ts';
import { judge } from '../../geo/contain.ts';
import { FIXTURE_DIR, buildCorpus, evaluateWithPostgis, zonesGeoJson } from '../../scripts/gen-fixtures.ts';
import type { Expected } from '../../scripts/gen-fixtures.ts';
import { connectPostgis } from '../support/postgis.ts';
import type { Postgis } from '../support/postgis.ts';

const conn = await connectPostgis();
if (!conn.ok) console.warn(`[postgis-oracle] skipped: ${conn.reason}`);

describe.skipIf(!conn.ok)('PostGIS oracle (live)', () => {
  let postgis: Postgis;
  let fresh: Expected;
  const corpus = buildCorpus();

  beforeAll(async () => {
    if (!conn.ok) return;
    postgis = conn.postgis;
    fresh = await evaluateWithPostgis(postgis.client, corpus);
  });
  afterAll(async () => {
    await postgis?.close();
  });

  it('the committed zones are what the generator builds', () => {
    const committed = JSON.parse(readFileSync(resolve(FIXTURE_DIR, 'zones.geojson'), 'utf8')) as unknown;
    expect(committed).toEqual(zonesGeoJson(corpus.zones));
  });

  it('a fresh PostGIS run reproduces the committed expectations', () => {
    const committed = (JSON.parse(readFileSync(resolve(FIXTURE_DIR, 'expected.json'), 'utf8')) as { cases: Expected }).cases;
    expect(Object.keys(fresh)).toEqual(Object.keys(committed));
    for (const [id, cases] of Object.entries(fresh)) {
      const old = committed[id]!;
      expect(cases.length, id).toBe(old.length);
      const diffs: string[] = [];
      cases.forEach((c, i) => {
        const o = old[i]!;
        // same points; same answers (distances to 0.1 mm, allowing a PostGIS upgrade's last-digit noise)
        if (c[0] !== o[0] || c[1] !== o[1] || c[2] !== o[2] || Math.abs(c[3] - o[3]) > 1e-3) diffs.push(`${JSON.stringify(c)} vs ${JSON.stringify(o)}`);
      });
      expect(diffs.slice(0, 5), `${id}: ${diffs.length} differences`).toEqual([]);
    }
  });

  it('judge() agrees with the live PostGIS (same tolerances as the unit test)', () => {
    let total = 0;
    for (const z of corpus.zones) {
      const zone = compileZone({
        id: z.id, version: 1, name: z.id, kind: 'exclusion', subjectIds: [], geometry: z.geometry, schedule: null,
        graceSeconds: 0, minConfidence: 'possible', validFrom: null, validTo: null, effectiveFrom: 0,
      });
      const bad: string[] = [];
      for (const [lon, lat, inside, dist] of fresh[z.id]!) {
        total++;
        const j = judge(zone, lon, lat, Infinity);
        const onEdge = dist < 1e-3 && j.distanceM < 1e-3;
        if (j.inside !== (inside === 1) && !onEdge) bad.push(`inside [${lon}, ${lat}]`);
        if (!(Math.abs(j.distanceM - dist) <= 0.005 * dist + 0.5)) bad.push(`distance [${lon}, ${lat}] ${j.distanceM} vs ${dist}`);
      }
      expect(bad.slice(0, 5), `${z.id}: ${bad.length} disagreements`).toEqual([]);
    }
    expect(total).toBeGreaterThanOrEqual(10_000);
  });
});
