import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_ACCURACY_M, decodePingBytes, decodePings, explainPing, pingSchema, toZoneDef } from '../../streams/codec.ts';

const good = { tagId: 'BUD-1', ts: '2026-03-02T10:00:00Z', lat: 51.5, lon: -0.12 };

describe('decodePings', () => {
  it('decodes one ping or an array, applying defaults and keeping unknown fields', () => {
    const one = decodePings(good);
    expect(one).toEqual({
      ok: true,
      pings: [
        { tagId: 'BUD-1', ts: Date.parse('2026-03-02T10:00:00Z'), lat: 51.5, lon: -0.12, accuracyM: DEFAULT_ACCURACY_M, fix: 'gps', battery: null, strap: null, seq: null },
      ],
      extras: [null],
    });
    const many = decodePings([
      { ...good, ts: 1772445600000, accuracyM: 4, fix: 'wifi', battery: 0, strap: 'tampered', seq: 7, speed: 3, meta: { a: 1 } },
      { tagId: 'a.b:c_d-9', ts: '2026-03-02T11:00:00+01:00', fix: 'none', battery: 100 },
    ]);
    expect(many.ok).toBe(true);
    if (!many.ok) return;
    expect(many.pings[0]).toMatchObject({ ts: 1772445600000, accuracyM: 4, fix: 'wifi', battery: 0, strap: 'tampered', seq: 7 });
    expect(many.extras[0]).toEqual({ speed: 3, meta: { a: 1 } });
    expect(many.pings[1]).toMatchObject({ ts: Date.parse('2026-03-02T10:00:00Z'), lat: null, lon: null, fix: 'none' });
    expect(many.extras[1]).toBeNull();
    expect(decodePings([])).toEqual({ ok: true, pings: [], extras: [] });
    expect(decodePings(good, { defaultAccuracyM: 25 }).ok && (decodePings(good, { defaultAccuracyM: 25 }) as { pings: { accuracyM: number }[] }).pings[0]?.accuracyM).toBe(25);
  });

  it('a heartbeat (fix none) needs no position and keeps none', () => {
    const r = decodePings({ tagId: 'T', ts: 0, fix: 'none', lat: 1, lon: 2 });
    expect(r.ok && r.pings[0]).toMatchObject({ lat: null, lon: null });
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ['tagId too long', { ...good, tagId: 'x'.repeat(65) }, 'tagId'],
    ['tagId bad chars', { ...good, tagId: 'a b' }, 'tagId'],
    ['tagId missing', { ts: good.ts, lat: 1, lon: 1 }, 'tagId'],
    ['ts missing', { tagId: 'T', lat: 1, lon: 1 }, 'ts'],
    ['ts without offset', { ...good, ts: '2026-03-02T10:00:00' }, 'ts'],
    ['ts not a date', { ...good, ts: 'yesterday' }, 'ts'],
    ['ts impossible day', { ...good, ts: '2026-02-30T10:00:00Z' }, 'ts'],
    ['ts fractional ms', { ...good, ts: 1.5 }, 'ts'],
    ['ts negative', { ...good, ts: -1 }, 'ts'],
    ['lat out of range', { ...good, lat: 90.0001 }, 'lat'],
    ['lon out of range', { ...good, lon: -180.5 }, 'lon'],
    ['lat as string', { ...good, lat: '51.5' }, 'lat'],
    ['lon missing with gps fix', { tagId: 'T', ts: 0, lat: 1 }, 'lon'],
    ['accuracy zero', { ...good, accuracyM: 0 }, 'accuracyM'],
    ['unknown fix', { ...good, fix: 'gnss' }, 'fix'],
    ['battery over 100', { ...good, battery: 101 }, 'battery'],
    ['strap unknown', { ...good, strap: 'cut' }, 'strap'],
    ['seq not integer', { ...good, seq: 1.5 }, 'seq'],
  ];
  for (const [name, item, field] of cases) {
    it(`rejects ${name}, naming the field`, () => {
      const r = decodePings([good, item]);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.reason).toBe('invalid');
      expect(r.errors.length).toBeGreaterThan(0);
      for (const e of r.errors) expect(e.index).toBe(1);
      expect(r.errors.map((e) => e.field)).toContain(field);
    });
  }

  it('lists every bad item of a batch, and a non-object item', () => {
    const r = decodePings([{ ...good, lat: 100 }, good, 'nope', { ...good, battery: -1, strap: 'x' }]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.index, e.field])).toEqual([
      [0, 'lat'],
      [2, ''],
      [3, 'battery'],
      [3, 'strap'],
    ]);
  });

  it('refuses more than maxBatch items', () => {
    const r = decodePings([good, good, good], { maxBatch: 2 });
    expect(r).toMatchObject({ ok: false, reason: 'too_many' });
  });

  it('the fast path and the zod schema give the same verdict on arbitrary input', () => {
    const anyValue = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.string({ maxLength: 3 }), fc.double(), fc.integer());
    const pingish = fc.record(
      {
        tagId: fc.oneof(fc.constantFrom('T1', 'a.b:c-d_e', '', 'bad tag', 'x'.repeat(65)), anyValue),
        ts: fc.oneof(
          fc.constantFrom('2026-03-02T10:00:00Z', '2026-03-02T10:00:00.5+05:30', '2026-03-02T10:00', '2026-02-30T00:00:00Z', '2026-03-02T10:00Z'),
          fc.integer({ min: -5, max: 2e12 }),
          anyValue,
        ),
        lat: fc.oneof(fc.double({ min: -100, max: 100, noNaN: false }), anyValue),
        lon: fc.oneof(fc.double({ min: -200, max: 200 }), anyValue),
        accuracyM: fc.oneof(fc.double({ min: -1, max: 100 }), anyValue),
        fix: fc.oneof(fc.constantFrom('gps', 'wifi', 'cell', 'rf', 'none', 'x'), anyValue),
        battery: fc.oneof(fc.double({ min: -1, max: 101 }), anyValue),
        strap: fc.oneof(fc.constantFrom('ok', 'tampered', 'cut'), anyValue),
        seq: fc.oneof(fc.integer(), fc.double(), anyValue),
        extra: anyValue,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(pingish, (item) => {
        const viaZod = pingSchema.safeParse(item).success;
        const viaFast = decodePings(item).ok;
        expect(viaFast).toBe(viaZod);
        expect(explainPing(item, 0).length === 0).toBe(viaZod);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });
});

describe('decodePingBytes (Kafka)', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('decodes one JSON ping with its extras', () => {
    const r = decodePingBytes(enc(JSON.stringify({ ...good, firmware: 'v1' })));
    expect(r).toMatchObject({ ok: true, ping: { tagId: 'BUD-1', lat: 51.5 }, extras: { firmware: 'v1' } });
  });
  it('gives a reason for empty, not-JSON, non-object, oversized and invalid messages', () => {
    expect(decodePingBytes(null)).toEqual({ ok: false, reason: 'empty message' });
    expect(decodePingBytes(enc('{nope'))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) });
    expect(decodePingBytes(enc('[1]'))).toMatchObject({ ok: false, reason: expect.stringMatching(/one JSON object/) });
    expect(decodePingBytes(enc(JSON.stringify(good)), { maxBytes: 10 })).toMatchObject({ ok: false, reason: expect.stringMatching(/too large/) });
    expect(decodePingBytes(enc(JSON.stringify({ ...good, lat: 91 })))).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid ping: lat: /) });
  });
});

describe('toZoneDef', () => {
  it('turns ISO bounds into epoch ms and stamps the version', () => {
    const d = toZoneDef(
      'Z1',
      3,
      {
        name: 'n',
        kind: 'inclusion',
        subjectIds: ['S1'],
        geometry: { type: 'Circle', center: [0, 0], radiusM: 5 },
        schedule: null,
        graceSeconds: 30,
        minConfidence: 'confirmed',
        validFrom: '2026-01-01T00:00:00Z',
        validTo: null,
      },
      1234,
    );
    expect(d).toMatchObject({ id: 'Z1', version: 3, validFrom: Date.parse('2026-01-01T00:00:00Z'), validTo: null, effectiveFrom: 1234, graceSeconds: 30 });
  });
});
