import { describe, expect, it } from 'vitest';
import { compileZone } from '../../geo/compile.ts';
import { circularWidth, validateGeometry } from '../../geo/validate.ts';
import type { GeometryProblem, ZoneDef, ZoneGeometry } from '../../geo/types.ts';

const sq = (w: number, s: number, e: number, n: number) => [[w, s], [e, s], [e, n], [w, n], [w, s]];
const codes = (ps: GeometryProblem[]) => ps.map((p) => `${p.code}@${JSON.stringify(p.path)}`);

describe('validateGeometry', () => {
  it('accepts sound polygons, multipolygons with holes, and circles', () => {
    expect(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 1, 1)] })).toEqual([]);
    expect(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 10, 10), sq(2, 2, 4, 4), sq(5, 5, 7, 7)] })).toEqual([]);
    expect(validateGeometry({ type: 'MultiPolygon', coordinates: [[sq(0, 0, 1, 1)], [sq(2, 0, 3, 1), sq(2.2, 0.2, 2.8, 0.8)]] })).toEqual([]);
    expect(validateGeometry({ type: 'Circle', center: [-0.1, 51.5], radiusM: 250 })).toEqual([]);
    // repeated consecutive positions are tolerated
    expect(validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 0], [1, 1], [0, 0]]] })).toEqual([]);
    // a hole touching its shell at one point is allowed (OGC)
    expect(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 10, 10), [[0, 5], [3, 4], [3, 6], [0, 5]]] })).toEqual([]);
  });

  it('invalid_type: not an object, unknown type, malformed arrays and non-numbers', () => {
    expect(codes(validateGeometry(null))).toEqual(['invalid_type@[]']);
    expect(codes(validateGeometry('Polygon'))).toEqual(['invalid_type@[]']);
    expect(codes(validateGeometry([1, 2]))).toEqual(['invalid_type@[]']);
    expect(codes(validateGeometry({ type: 'Point', coordinates: [0, 0] }))).toEqual(['invalid_type@["type"]']);
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: 'x' }))).toEqual(['invalid_type@["coordinates"]']);
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [5] }))).toEqual(['invalid_type@["coordinates",0]']);
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1, '0'], [1, 1], [0, 0]]] }))).toEqual(['invalid_type@["coordinates",0,1,1]']);
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1], [1, 1], [0, 0]]] }))).toEqual(['invalid_type@["coordinates",0,1]']);
    expect(codes(validateGeometry({ type: 'MultiPolygon', coordinates: [] }))).toEqual(['invalid_type@["coordinates"]']);
    expect(codes(validateGeometry({ type: 'Circle', center: 'here', radiusM: 5 }))).toEqual(['invalid_type@["center"]']);
    expect(codes(validateGeometry({ type: 'Circle', center: [0, 0], radiusM: '5' }))).toEqual(['invalid_type@["radiusM"]']);
  });

  it('ring_not_closed points at the last position', () => {
    const ps = validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] });
    expect(codes(ps)).toEqual(['ring_not_closed@["coordinates",0,3]']);
    expect(ps[0]!.message).toMatch(/not closed/);
  });

  it('ring_too_short: under 4 positions, or under 3 distinct ones', () => {
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [0, 0]]] }))).toEqual(['ring_too_short@["coordinates",0]']);
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 5, 5), [[1, 1], [2, 2], [1, 1], [1, 1]]] }))).toEqual([
      'ring_too_short@["coordinates",1]',
    ]);
    expect(codes(validateGeometry({ type: 'MultiPolygon', coordinates: [[sq(0, 0, 1, 1)], [[[5, 5], [6, 6], [5, 5]]]] }))).toEqual([
      'ring_too_short@["coordinates",1,0]',
    ]);
  });

  it('self_intersection: bow-tie, self-touching ring and a spike', () => {
    const bowtie = validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]] });
    expect(codes(bowtie)).toEqual(['self_intersection@["coordinates",0,0]']);
    // ring passes through one of its own vertices
    const touching = validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [4, 0], [4, 4], [2, 0], [0, 4], [0, 0]]] });
    expect(touching.map((p) => p.code)).toContain('self_intersection');
    expect(touching.every((p) => p.path[0] === 'coordinates' && p.path[1] === 0)).toBe(true);
    // an edge folding back along the previous one
    const spike = validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [4, 0], [4, 4], [4, 2], [0, 4], [0, 0]]] });
    expect(spike.map((p) => p.code)).toContain('self_intersection');
    // all positions on one line
    expect(validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [2, 0], [0, 0]]] }).map((p) => p.code)).toContain('self_intersection');
  });

  it('self_intersection between rings: hole crossing the shell, hole outside, holes crossing, nested holes', () => {
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 10, 10), sq(8, 8, 12, 9)] }))).toEqual(['self_intersection@["coordinates",1]']);
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 10, 10), sq(20, 20, 21, 21)] }))).toEqual(['self_intersection@["coordinates",1]']);
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 10, 10), sq(1, 1, 5, 5), sq(4, 4, 8, 8)] }))).toEqual(['self_intersection@["coordinates",2]']);
    const nested = validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 10, 10), sq(1, 1, 9, 9), sq(3, 3, 4, 4)] });
    expect(codes(nested)).toEqual(['self_intersection@["coordinates",2]']);
    expect(nested[0]!.message).toMatch(/inside hole 1/);
    // a hole sharing a stretch of the shell's edge
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [sq(0, 0, 10, 10), sq(0, 2, 3, 4)] }))).toEqual(['self_intersection@["coordinates",1]']);
    // inside a MultiPolygon the path names the part
    expect(codes(validateGeometry({ type: 'MultiPolygon', coordinates: [[sq(0, 0, 1, 1)], [sq(0, 0, 10, 10), sq(8, 8, 12, 9)]] }))).toEqual([
      'self_intersection@["coordinates",1,1]',
    ]);
  });

  it('coordinate_out_of_range: longitude, latitude, NaN and Infinity, each with its path', () => {
    const ps = validateGeometry({ type: 'Polygon', coordinates: [[[0, 0], [181, 0], [1, -91], [Number.NaN, 1], [0, Infinity], [0, 0]]] });
    expect(codes(ps)).toEqual([
      'coordinate_out_of_range@["coordinates",0,1,0]',
      'coordinate_out_of_range@["coordinates",0,2,1]',
      'coordinate_out_of_range@["coordinates",0,3,0]',
      'coordinate_out_of_range@["coordinates",0,4,1]',
    ]);
    expect(codes(validateGeometry({ type: 'Circle', center: [0, 95], radiusM: 10 }))).toEqual(['coordinate_out_of_range@["center",1]']);
  });

  it('radius_not_positive: zero, negative, NaN, Infinity', () => {
    for (const r of [0, -5, Number.NaN, Infinity]) {
      expect(codes(validateGeometry({ type: 'Circle', center: [0, 0], radiusM: r }))).toEqual(['radius_not_positive@["radiusM"]']);
    }
  });

  it('too_wide: polygons over 180° of longitude; split multipolygons measured across ±180', () => {
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [sq(-100, 0, 90, 1)] }))).toEqual(['too_wide@["coordinates"]']);
    expect(validateGeometry({ type: 'Polygon', coordinates: [sq(-90, 0, 90, 1)] })).toEqual([]); // exactly 180 is allowed
    // a polygon "crossing" the antimeridian by going the long way round
    expect(codes(validateGeometry({ type: 'Polygon', coordinates: [sq(-175, 0, 175, 1)] }))).toEqual(['too_wide@["coordinates"]']);
    // split at ±180: [170,180] + [-180,-170] is 20° wide
    expect(validateGeometry({ type: 'MultiPolygon', coordinates: [[sq(170, -20, 180, -10)], [sq(-180, -20, -170, -10)]] })).toEqual([]);
    // two far-apart parts whose shortest covering arc exceeds 180°
    expect(codes(validateGeometry({ type: 'MultiPolygon', coordinates: [[sq(-170, 0, -100, 1)], [sq(0, 0, 20, 1)], [sq(100, 0, 170, 1)]] }))).toEqual([
      'too_wide@["coordinates"]',
    ]);
    expect(codes(validateGeometry({ type: 'Circle', center: [0, 0], radiusM: 2e7 }))).toEqual(['too_wide@["radiusM"]']);
  });

  it('circularWidth joins ±180 and takes the largest gap', () => {
    expect(circularWidth([[170, 180], [-180, -170]])).toBe(20);
    expect(circularWidth([[-10, 10]])).toBe(20);
    expect(circularWidth([[-180, 180]])).toBe(360);
    expect(circularWidth([[0, 10], [20, 30]])).toBe(30);
  });

  it('reports every problem at once', () => {
    const ps = validateGeometry({
      type: 'MultiPolygon',
      coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 1]]], [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]], [[[0, 0], [200, 0], [1, 1], [0, 0]]]],
    });
    expect(codes(ps)).toEqual(['ring_not_closed@["coordinates",0,0,3]', 'self_intersection@["coordinates",1,0,0]', 'coordinate_out_of_range@["coordinates",2,0,1,0]']);
  });
});

describe('compileZone', () => {
  const def = (geometry: ZoneGeometry): ZoneDef => ({
    id: 'z1', version: 3, name: 'z', kind: 'exclusion', subjectIds: ['a', 'b'], geometry, schedule: null,
    graceSeconds: 0, minConfidence: 'possible', validFrom: null, validTo: null, effectiveFrom: 0,
  });

  it('throws a clear error naming the problem and its path', () => {
    expect(() => compileZone(def({ type: 'Circle', center: [0, 0], radiusM: -1 }))).toThrow(/z1 v3.*radius_not_positive at \["radiusM"\]/);
  });

  it('splits boxes at ±180 and keeps subjects as a set', () => {
    const am = compileZone(def({ type: 'MultiPolygon', coordinates: [[sq(170, -20, 180, -10)], [sq(-180, -20, -170, -10)]] }));
    expect(am.boxes).toEqual([[170, -20, 180, -10], [-180, -20, -170, -10]]);
    expect([...am.subjects]).toEqual(['a', 'b']);
    const one = compileZone(def({ type: 'MultiPolygon', coordinates: [[sq(0, 0, 1, 1)], [sq(2, 2, 3, 3)]] }));
    expect(one.boxes).toEqual([[0, 0, 3, 3]]);
    const c = compileZone(def({ type: 'Circle', center: [179.99, 0], radiusM: 5000 }));
    expect(c.boxes.length).toBe(2);
    expect(c.boxes[0]![2]).toBe(180);
    expect(c.boxes[1]![0]).toBe(-180);
    // around the pole: all longitudes
    const p = compileZone(def({ type: 'Circle', center: [0, 89.99], radiusM: 5000 }));
    expect(p.boxes).toEqual([[-180, expect.closeTo(89.945, 2), 180, 90]]);
  });
});
