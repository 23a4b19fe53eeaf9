import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Trail } from '../../src/stores/trail.ts';
import { ping } from '../support/store-fixtures.ts';

describe('Trail (memory store positions)', () => {
  it('matches a plain sorted model under random inserts, duplicates and trims', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('add' as const), ts: fc.integer({ min: 0, max: 200 }), extra: fc.boolean() }),
            fc.record({ op: fc.constant('trim' as const), cutoff: fc.integer({ min: 0, max: 120 }), max: fc.integer({ min: 1, max: 40 }) }),
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const trail = new Trail('T', 2);
          let model: { ts: number; extra: boolean }[] = [];
          for (const o of ops) {
            if (o.op === 'add') {
              const added = trail.add(ping('T', o.ts, o.ts % 3 === 0 ? { fix: 'none', lat: null, lon: null } : {}), o.extra ? { k: o.ts } : null, 7);
              const dup = model.some((m) => m.ts === o.ts);
              expect(added).toBe(!dup);
              if (!dup) model = [...model, { ts: o.ts, extra: o.extra }].sort((a, b) => a.ts - b.ts);
            } else {
              trail.trim(o.cutoff, o.max);
              model = model.slice(Math.max(0, model.length - o.max)).filter((m) => m.ts >= o.cutoff);
            }
          }
          const got = trail.range(0, 1000, 1000);
          expect(got.map((p) => Date.parse(p.ts))).toEqual(model.map((m) => m.ts));
          expect(got.map((p) => ('k' in p ? p.k : null))).toEqual(model.map((m) => (m.extra ? m.ts : null)));
          for (const p of got) {
            const ts = Date.parse(p.ts);
            expect(p.fix).toBe(ts % 3 === 0 ? 'none' : 'gps');
            expect(p.lat).toBe(ts % 3 === 0 ? null : 51.5);
          }
          expect(trail.length).toBe(model.length);
        },
      ),
      { numRuns: 300, seed: 3 },
    );
  });
});
