import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodePingBytes, decodePings } from '../../streams/codec.ts';
import { scanPingBody, scanPingMessage } from '../../streams/ping-scan.ts';

const ws = fc.constantFrom('', '', '', ' ', '\n', '\t', ' \r\n ');

/** a JSON number as text, in forms JSON.stringify never prints too */
const numberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,19}$/)),
    fc.option(fc.stringMatching(/^[0-9]{1,12}$/), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.stringMatching(/^[0-9]{1,3}$/)), { nil: undefined }),
  )
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac !== undefined ? '.' + frac : ''}${exp ? exp.join('') : ''}`);

/** field values: mostly what devices send, plus everything that must take the general path */
const value = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -200, max: 200, noNaN: true }).map((x) => JSON.stringify(x)) },
  { weight: 3, arbitrary: numberText },
  { weight: 2, arbitrary: fc.integer({ min: -1, max: 2_000_000_000_000 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom('null', 'true', 'false', '"gps"', '"none"', '"ok"', '"tampered"', '"wifi"', '"cell"', '"rf"', '"gpsx"', '"gp"', '"Ok"', '"nonE"', '"rF"', '"cel"', '"BUD-1"', '"2026-03-01T12:00:00Z"', '"2026-02-30T12:00:00Z"') },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
);

const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('tagId', 'ts', 'lat', 'lon', 'accuracyM', 'fix', 'battery', 'strap', 'seq') },
  { weight: 1, arbitrary: fc.constantFrom('firmware', 'x', '7', '__proto__', 'constructor', 'täg', 'a"b', 'tagid') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

/** a ping object as text: a valid base (so most are valid pings), some fields replaced or added */
const pingText = fc
  .tuple(
    fc.record({
      tagId: fc.constantFrom('"BUD-1"', '"T:2.a_b"'),
      ts: fc.constantFrom('1780335597768', '"2026-03-01T12:00:00.123+01:00"', '0'),
      lat: fc.double({ min: -90, max: 90, noNaN: true }).map((x) => JSON.stringify(x)),
      lon: fc.double({ min: -180, max: 180, noNaN: true }).map((x) => JSON.stringify(x)),
    }),
    fc.array(fc.tuple(key, value), { maxLength: 5 }),
    fc.array(ws, { minLength: 40, maxLength: 40 }),
  )
  .map(([base, more, spaces]) => {
    const entries: [string, string][] = [...Object.entries(base), ...more];
    let w = 0;
    const sp = () => spaces[w++ % spaces.length] as string;
    return `${sp()}{${sp()}${entries.map(([k, v]) => `${JSON.stringify(k)}${sp()}:${sp()}${v}`).join(`${sp()},${sp()}`)}${sp()}}${sp()}`;
  });

/** Object.is all the way down (toEqual would let -0 pass for 0) */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join('\u0000') !== kb.join('\u0000')) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

describe('ping scanner', () => {
  it('a Kafka message: the same ping and extras as the general path (JSON.parse), or no answer', () => {
    let scanned = 0;
    fc.assert(
      fc.property(pingText, (text) => {
        const buf = Buffer.from(text);
        const s = scanPingMessage(buf, 10);
        // decodePingBytes scans first and parses the rest: same verdict as JSON.parse + the codec
        const decoded = decodePingBytes(buf);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          expect(s).toBeNull();
          expect(decoded.ok).toBe(false);
          return;
        }
        const general = decodePings(parsed);
        expect(decoded.ok).toBe(general.ok);
        if (decoded.ok && general.ok) {
          expect(same(decoded.ping, general.pings[0])).toBe(true);
          expect(same(decoded.extras, general.extras[0])).toBe(true);
        }
        if (s === null) return;
        scanned++;
        expect(general.ok).toBe(true);
        if (!general.ok) return;
        expect(same(s.ping, general.pings[0])).toBe(true);
        expect(same(s.extras, general.extras[0])).toBe(true);
      }),
      { numRuns: 5000 },
    );
    // the usual forms do take the scanner's path
    expect(scanned).toBeGreaterThan(1000);
  });

  it('reads numbers exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(numberText, (t) => {
        const s = scanPingMessage(Buffer.from(`{"tagId":"T","ts":0,"fix":"none","n":${t}}`), 10);
        expect(s).not.toBeNull();
        expect(Object.is(s?.extras?.n, JSON.parse(t))).toBe(true);
      }),
      { numRuns: 5000 },
    );
    for (const t of ['-0', '0.1', '51.5012345', '1e400', '123456789012345678', '0.30000000000000004', '4.35', '-0.0000001']) {
      expect(Object.is(scanPingMessage(Buffer.from(`{"tagId":"T","ts":0,"fix":"none","n":${t}}`), 10)?.extras?.n, JSON.parse(t))).toBe(true);
    }
  });

  it('reads fix and strap values, the usual ones shared, as the general path does', () => {
    const texts = ['gps', 'wifi', 'cell', 'rf', 'none', 'ok', 'tampered', 'gpx', 'gp', 'gpss', 'wifx', 'celL', 'nonf', 'rg', 'of', 'OK', 'ok ', '', 'x'];
    for (const field of ['fix', 'strap', 'mode']) {
      for (const t of texts) {
        const text = `{"tagId":"T","ts":0,"lat":1,"lon":2,${JSON.stringify(field)}:${JSON.stringify(t)}}`;
        const general = decodePings(JSON.parse(text), { defaultAccuracyM: 10 });
        const s = scanPingMessage(Buffer.from(text), 10);
        if (!general.ok) expect(s, text).toBeNull();
        else {
          expect(s, text).not.toBeNull();
          expect(same(s!.ping, general.pings[0]), text).toBe(true);
          expect(same(s!.extras, general.extras[0]), text).toBe(true);
        }
      }
    }
  });

  it('an HTTP body (one ping or an array): the same pings and extras as the general path, or no answer', () => {
    let scanned = 0;
    fc.assert(
      fc.property(fc.array(pingText, { maxLength: 6 }), fc.boolean(), ws, (items, single, sp) => {
        const text = single && items.length > 0 ? `${sp}${items[0] as string}${sp}` : `${sp}[${sp}${items.join(`${sp},${sp}`)}]${sp}`;
        const bytes = Buffer.from(text);
        const spans: number[] = [];
        const s = scanPingBody(bytes, 10, 4, spans);
        const alone = scanPingBody(bytes, 10, 4);
        expect(alone === null).toBe(s === null);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          expect(s).toBeNull();
          return;
        }
        const general = decodePings(parsed, { maxBatch: 4 });
        if (s === null) return;
        scanned++;
        expect(general.ok).toBe(true);
        if (!general.ok) return;
        expect(same(s.pings, general.pings)).toBe(true);
        expect(same(s.extras, general.extras)).toBe(true);
        // each item's bytes, exactly as sent: the same JSON value as that item of the body
        expect(spans.length).toBe(2 * s.pings.length);
        const values = Array.isArray(parsed) ? parsed : [parsed];
        for (let k = 0; k < s.pings.length; k++) {
          const item = bytes.subarray(spans[2 * k], spans[2 * k + 1]).toString('utf8');
          expect(item.startsWith('{') && item.endsWith('}'), item).toBe(true);
          expect(JSON.parse(item)).toEqual(values[k]);
        }
      }),
      { numRuns: 3000 },
    );
    expect(scanned).toBeGreaterThan(300);
  });

  it('leaves to the general path what it does not read exactly', () => {
    const ok = '{"tagId":"T","ts":0,"lat":1,"lon":2}';
    expect(scanPingMessage(Buffer.from(ok), 10)?.ping).toMatchObject({ tagId: 'T', ts: 0, lat: 1, lon: 2, accuracyM: 10, fix: 'gps' });
    for (const text of [
      '{"tagId":"T","ts":0,"lat":1,"lon":2,"lat":3}', // repeated field: JSON.parse keeps the last
      '{"tagId":"T\\u0041","ts":0,"lat":1,"lon":2}', // escape
      '{"tagId":"T","ts":0,"lat":1,"lon":2,"note":"café"}', // non-ASCII
      '{"tagId":"T","ts":0,"lat":1,"lon":2,"meta":{"a":1}}', // nested
      '{"tagId":"T","ts":0,"lat":1,"lon":2,"__proto__":1}',
      '{"tagId":"T","ts":0,"lat":1,"lon":2}x', // trailing bytes
      '{"tagId":"T","ts":0,"lat":91,"lon":2}', // invalid ping: the general path says why
      '{"tagId":"T","ts":0,"lat":01,"lon":2}', // not JSON
      '\ufeff{"tagId":"T","ts":0,"lat":1,"lon":2}', // BOM
      '{}',
    ]) {
      expect(scanPingMessage(Buffer.from(text), 10), text).toBeNull();
    }
    expect(scanPingBody(Buffer.from(`[${ok},${ok}]`), 10, 1)).toBeNull(); // over the limit: the 413 comes from the general path
    expect(scanPingBody(Buffer.from(' [ ] '), 10, 1)).toEqual({ pings: [], extras: [] });
    expect(scanPingBody(Buffer.from(`[${ok},]`), 10, 5)).toBeNull();
  });
});
