import { describe, expect, it } from 'vitest';
import { compileZone } from '../../geo/compile.ts';
import { geodesicDestination } from '../../geo/geodesy.ts';
import { ZoneIndex, queryBoxes } from '../../geo/zone-index.ts';
import type { CompiledZone, ZoneDef, ZoneGeometry, ZoneKind } from '../../geo/types.ts';

const sq = (w: number, s: number, e: number, n: number) => [[w, s], [e, s], [e, n], [w, n], [w, s]];

function zone(id: string, geometry: ZoneGeometry, opts: Partial<ZoneDef> = {}): CompiledZone {
  return compileZone({
    id, version: 1, name: id, kind: 'exclusion', subjectIds: ['s1'], geometry, schedule: null, graceSeconds: 0,
    minConfidence: 'possible', validFrom: null, validTo: null, effectiveFrom: 0, ...opts,
  });
}
const ids = (zs: CompiledZone[]) => zs.map((z) => `${z.id}@${z.version}`).sort();

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

describe('ZoneIndex', () => {
  it('returns nearby exclusion zones of the subject only', () => {
    const idx = new ZoneIndex();
    idx.load([
      zone('a', { type: 'Polygon', coordinates: [sq(0, 0, 0.01, 0.01)] }),
      zone('b', { type: 'Polygon', coordinates: [sq(0, 0, 0.01, 0.01)] }, { subjectIds: ['s2'] }),
      zone('far', { type: 'Polygon', coordinates: [sq(1, 1, 1.01, 1.01)] }),
      zone('c', { type: 'Circle', center: [0.02, 0.005], radiusM: 100 }, { subjectIds: ['s1', 's2'] }),
    ]);
    expect(idx.size).toBe(4);
    expect(ids(idx.candidates('s1', 0.005, 0.005, 10, 0))).toEqual(['a@1']);
    expect(ids(idx.candidates('s2', 0.005, 0.005, 10, 0))).toEqual(['b@1']);
    // grow the radius until the circle's box is reached (~1.57 km east)
    expect(ids(idx.candidates('s1', 0.005, 0.005, 1500, 0))).toEqual(['a@1']);
    expect(ids(idx.candidates('s1', 0.005, 0.005, 1700, 0))).toEqual(['a@1', 'c@1']);
    expect(ids(idx.candidates('nobody', 0.005, 0.005, 1e6, 0))).toEqual([]);
    // the point just outside a box, within radius of it
    expect(ids(idx.candidates('s1', 0.0101, 0.005, 5, 0))).toEqual([]);
    expect(ids(idx.candidates('s1', 0.0101, 0.005, 15, 0))).toEqual(['a@1']);
  });

  it('always returns the subject’s inclusion zones, however far the point', () => {
    const idx = new ZoneIndex();
    idx.load([
      zone('home', { type: 'Circle', center: [10, 50], radiusM: 200 }, { kind: 'inclusion' }),
      zone('other-home', { type: 'Circle', center: [10, 50], radiusM: 200 }, { kind: 'inclusion', subjectIds: ['s2'] }),
    ]);
    expect(ids(idx.candidates('s1', -120, -40, 10, 0))).toEqual(['home@1']);
    expect(ids(idx.candidates('s2', -120, -40, 10, 0))).toEqual(['other-home@1']);
    expect(ids(idx.forSubject('s1', 0))).toEqual(['home@1']);
  });

  it('reuses the out array and returns each zone once even when found through two boxes', () => {
    const idx = new ZoneIndex();
    idx.load([zone('am', { type: 'MultiPolygon', coordinates: [[sq(179.9, 0, 180, 1)], [sq(-180, 0, -179.9, 1)]] })]);
    const out: CompiledZone[] = [zone('junk', { type: 'Polygon', coordinates: [sq(5, 5, 6, 6)] })];
    const res = idx.candidates('s1', 180, 0.5, 50_000, 0, out);
    expect(res).toBe(out);
    expect(ids(res)).toEqual(['am@1']);
  });

  it('finds zones across ±180 and around the poles', () => {
    const idx = new ZoneIndex();
    idx.load([
      zone('east', { type: 'Polygon', coordinates: [sq(179.99, 10, 180, 10.01)] }),
      zone('west', { type: 'Polygon', coordinates: [sq(-180, 20, -179.99, 20.01)] }),
      zone('pole', { type: 'Polygon', coordinates: [sq(100, 89.9, 110, 89.95)] }),
    ]);
    expect(ids(idx.candidates('s1', -179.9999, 10.005, 50, 0))).toEqual(['east@1']);
    expect(ids(idx.candidates('s1', -180, 10.005, 0, 0))).toEqual(['east@1']);
    expect(ids(idx.candidates('s1', 179.9999, 20.005, 50, 0))).toEqual(['west@1']);
    expect(ids(idx.candidates('s1', 180, 20.005, 0, 0))).toEqual(['west@1']);
    // on the other side of the pole, ~10 km away across it
    expect(ids(idx.candidates('s1', -75, 89.95, 12_000, 0))).toEqual(['pole@1']);
    expect(ids(idx.candidates('s1', -75, 89.95, 1_000, 0))).toEqual([]);
  });

  it('judges each event time against the version in force then; remove keeps history; prune forgets it', () => {
    const idx = new ZoneIndex();
    const v1 = zone('z', { type: 'Polygon', coordinates: [sq(0, 0, 0.01, 0.01)] });
    const v2 = zone('z', { type: 'Polygon', coordinates: [sq(5, 5, 5.01, 5.01)] }, { version: 2, effectiveFrom: 1000 });
    idx.load([v1]);
    idx.upsert(v2);
    expect(idx.size).toBe(1);
    expect(idx.get('z', 999)?.version).toBe(1);
    expect(idx.get('z', 1000)?.version).toBe(2);
    expect(ids(idx.candidates('s1', 0.005, 0.005, 10, 500))).toEqual(['z@1']);
    expect(ids(idx.candidates('s1', 0.005, 0.005, 10, 1500))).toEqual([]);
    expect(ids(idx.candidates('s1', 5.005, 5.005, 10, 1500))).toEqual(['z@2']);
    expect(ids(idx.forSubject('s1', 500))).toEqual(['z@1']);
    expect(ids(idx.forSubject('s1', 1500))).toEqual(['z@2']);

    idx.remove('z', 2000);
    expect(idx.size).toBe(0);
    expect(idx.get('z', 2000)).toBeUndefined();
    expect(idx.get('z', 1999)?.version).toBe(2);
    expect(ids(idx.candidates('s1', 5.005, 5.005, 10, 2500))).toEqual([]);
    expect(ids(idx.candidates('s1', 5.005, 5.005, 10, 1500))).toEqual(['z@2']);

    idx.prune(1500); // v1 ended at 1000
    expect(idx.get('z', 500)).toBeUndefined();
    expect(ids(idx.candidates('s1', 0.005, 0.005, 10, 500))).toEqual([]);
    expect(idx.get('z', 1500)?.version).toBe(2);
    expect(idx.versionCount).toBe(2); // v2 + the deletion
    idx.prune(3000); // nothing of z is in force after 2000
    expect(idx.versionCount).toBe(0);
    expect(idx.get('z', 1500)).toBeUndefined();
  });

  it('a new version changes kind and subjects from its effective time on', () => {
    const idx = new ZoneIndex();
    idx.upsert(zone('z', { type: 'Polygon', coordinates: [sq(0, 0, 1, 1)] }, { subjectIds: ['s1'] }));
    idx.upsert(zone('z', { type: 'Polygon', coordinates: [sq(0, 0, 1, 1)] }, { version: 2, kind: 'inclusion', subjectIds: ['s2'], effectiveFrom: 100 }));
    expect(ids(idx.candidates('s1', 50, 50, 10, 50))).toEqual([]);
    expect(ids(idx.candidates('s1', 0.5, 0.5, 10, 50))).toEqual(['z@1']);
    expect(ids(idx.candidates('s1', 0.5, 0.5, 10, 150))).toEqual([]);
    expect(ids(idx.candidates('s2', 50, 50, 10, 150))).toEqual(['z@2']);
    expect(ids(idx.forSubject('s2', 50))).toEqual([]);
    // re-creating after a deletion
    idx.remove('z', 200);
    idx.upsert(zone('z', { type: 'Circle', center: [0, 0], radiusM: 5 }, { version: 3, effectiveFrom: 300 }));
    expect(idx.get('z', 250)).toBeUndefined();
    expect(idx.get('z', 300)?.version).toBe(3);
    expect(idx.size).toBe(1);
  });

  it('queryBoxes cover every point within the radius (poles, ±180)', () => {
    const rnd = mulberry32(7);
    const buf = new Float64Array(12);
    for (let k = 0; k < 400; k++) {
      const lon = k % 10 === 0 ? 180 - rnd() * 0.01 : rnd() * 360 - 180;
      const lat = k % 7 === 0 ? 89.9 + rnd() * 0.1 : rnd() * 178 - 89;
      const r = [1, 50, 1000, 30_000, 300_000][k % 5]!;
      const n = queryBoxes(lon, lat, r, buf);
      for (let a = 0; a < 360; a += 7.5) {
        const [x, y] = geodesicDestination(lon, lat, a, r);
        let hit = false;
        for (let b = 0; b < n; b++) {
          const inLon = (x >= buf[4 * b]! && x <= buf[4 * b + 2]!) || (Math.abs(x) === 180 && -x >= buf[4 * b]! && -x <= buf[4 * b + 2]!);
          if (inLon && y >= buf[4 * b + 1]! && y <= buf[4 * b + 3]!) hit = true;
        }
        expect(hit, `(${lon}, ${lat}) r=${r} az=${a} -> (${x}, ${y})`).toBe(true);
      }
    }
  });

  it('agrees with a brute-force scan on seeded random zones, subjects, versions and deletions', () => {
    const rnd = mulberry32(42);
    const subjects = Array.from({ length: 30 }, (_, i) => `s${i}`);
    const pickSubjects = () => {
      const n = rnd() < 0.1 ? 20 : 1 + Math.floor(rnd() * 3);
      return Array.from({ length: n }, () => subjects[Math.floor(rnd() * subjects.length)]!);
    };
    const all: CompiledZone[] = [];
    const mk = (id: string, version: number, effectiveFrom: number): CompiledZone => {
      const kind: ZoneKind = rnd() < 0.2 ? 'inclusion' : 'exclusion';
      const lon = rnd() * 4 - 2 + (rnd() < 0.1 ? 178 : 0);
      const lat = rnd() * 4 - 2 + (rnd() < 0.05 ? 87.5 : 0);
      const size = rnd() * 0.05;
      const geometry: ZoneGeometry =
        rnd() < 0.4
          ? { type: 'Circle', center: [lon, lat], radiusM: 10 + rnd() * 5000 }
          : { type: 'Polygon', coordinates: [sq(lon, lat, Math.min(180, lon + size), Math.min(90, lat + size))] };
      return zone(id, geometry, { kind, version, effectiveFrom, subjectIds: pickSubjects() });
    };
    const idx = new ZoneIndex();
    const initial = Array.from({ length: 2000 }, (_, i) => mk(`z${i}`, 1, 0));
    all.push(...initial);
    idx.load(initial);
    const deleted = new Map<string, number>();
    // 600 changes: more than PENDING_MAX additions, so the packed copy is rebuilt on the way
    for (let i = 0; i < 600; i++) {
      const id = `z${Math.floor(rnd() * 2000)}`;
      const t = 1000 + i * 10;
      if (rnd() < 0.3) {
        if (!deleted.has(id)) {
          idx.remove(id, t);
          deleted.set(id, t);
        }
      } else if (!deleted.has(id)) {
        const z = mk(id, 2 + i, t);
        all.push(z);
        idx.upsert(z);
      }
    }
    const inForceBrute = (at: number) => {
      const latest = new Map<string, CompiledZone>();
      for (const z of all) {
        if (z.def.effectiveFrom > at) continue;
        const d = deleted.get(z.id);
        if (d !== undefined && at >= d) continue;
        const cur = latest.get(z.id);
        if (!cur || cur.def.effectiveFrom <= z.def.effectiveFrom) latest.set(z.id, z);
      }
      return [...latest.values()];
    };
    const buf = new Float64Array(12);
    const out: CompiledZone[] = [];
    let nonEmpty = 0;
    for (let q = 0; q < 600; q++) {
      const at = q % 3 === 0 ? 500 : 1000 + rnd() * 6500;
      const subject = subjects[Math.floor(rnd() * subjects.length)]!;
      const lon = rnd() < 0.1 ? 179.99 + rnd() * 0.01 : rnd() * 4.2 - 2.1;
      const lat = rnd() < 0.05 ? 89 + rnd() : rnd() * 4.2 - 2.1;
      const r = [5, 100, 2000, 20_000][q % 4]!;
      const n = queryBoxes(lon, lat, r, buf);
      const live = inForceBrute(at);
      const expected = live.filter((z) => {
        if (!z.subjects.has(subject)) return false;
        if (z.kind === 'inclusion') return true;
        return z.boxes.some((b) => {
          for (let k = 0; k < n; k++) {
            if (b[0] <= buf[4 * k + 2]! && b[2] >= buf[4 * k]! && b[1] <= buf[4 * k + 3]! && b[3] >= buf[4 * k + 1]!) return true;
          }
          return false;
        });
      });
      const got = idx.candidates(subject, lon, lat, r, at, out);
      expect(ids(got), `query ${q}`).toEqual(ids(expected));
      if (got.length > 0) nonEmpty++;
      const wrongGet = live.filter((z) => z.subjects.has(subject) && idx.get(z.id, at) !== z).map((z) => z.id);
      expect(wrongGet).toEqual([]);
      const bySubject = ids(idx.forSubject(subject, at));
      expect(bySubject).toEqual(ids(live.filter((z) => z.subjects.has(subject))));
    }
    expect(nonEmpty).toBeGreaterThan(100);
    expect(idx.size).toBe(2000 - deleted.size);
  }, 30_000);
});
