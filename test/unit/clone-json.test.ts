import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cloneJson } from '../../src/stores/common.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { TestClock, zoneInput } from '../support/store-fixtures.ts';

describe('cloneJson (the memory store copies JSON data, sharing strings)', () => {
  it('gives an equal value that shares no object or array with the original', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = cloneJson(v);
        expect(c).toEqual(v);
        const walk = (a: unknown, b: unknown) => {
          if (typeof a !== 'object' || a === null) return;
          expect(b).not.toBe(a);
          for (const k of Object.keys(a)) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
        };
        walk(v, c);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('keeps a stored zone apart from what a caller does with the copies it gets', async () => {
    const store = createMemoryStore({ clock: new TestClock() });
    await store.putSubject('S1', { tagId: 'T1', name: null, orderRef: null, timezone: 'Europe/London' });
    const input = zoneInput({ subjectIds: ['S1', 'S2'] });
    const put = await store.putZone('Z1', input, { by: 'test' });
    input.subjectIds.push('S3');
    put.value.subjectIds.push('S4');
    const got = await store.getZone('Z1');
    expect(got?.subjectIds).toEqual(['S1', 'S2']);
    (got as { subjectIds: string[] }).subjectIds.length = 0;
    const h = await store.zoneHistory('Z1');
    expect(h?.defs[0]?.subjectIds).toEqual(['S1', 'S2']);
    // the history and its defs are one copy: the same def objects
    expect(h?.history[0]?.def).toBe(h?.defs[0]);
    (h?.defs[0]?.subjectIds as string[]).push('S5');
    expect((await store.zoneHistory('Z1'))?.defs[0]?.subjectIds).toEqual(['S1', 'S2']);
    expect((await store.listZones({ limit: 10 })).items[0]?.subjectIds).toEqual(['S1', 'S2']);
    await store.close();
  });
});
