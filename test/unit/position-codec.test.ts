import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FixSource, Ping } from '../../geo/types.ts';
import { storedPosition } from '../../src/stores/common.ts';
import { ArgWriter } from '../../src/stores/arg-writer.ts';
import { decodePosition, encodePosition, writePosition } from '../../src/stores/position-codec.ts';

const double = fc.double({ noNaN: true, noDefaultInfinity: true });
const pingArb = fc.record({
  tagId: fc.constant('BUD-7'),
  ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  lat: fc.option(fc.double({ min: -90, max: 90, noNaN: true }), { nil: null }),
  lon: fc.option(fc.double({ min: -180, max: 180, noNaN: true }), { nil: null }),
  accuracyM: fc.oneof(fc.double({ min: 0, max: 5000, noNaN: true }), fc.integer({ min: 0, max: 5000 })),
  fix: fc.constantFrom<FixSource>('gps', 'wifi', 'cell', 'rf', 'none'),
  battery: fc.option(fc.oneof(fc.integer({ min: 0, max: 100 }), double), { nil: null }),
  strap: fc.constantFrom<Ping['strap']>(null, 'ok', 'tampered'),
  seq: fc.option(fc.integer({ min: 0, max: 2 ** 31 }), { nil: null }),
});
const extrasArb = fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: null });

describe('Redis trail member codec', () => {
  it('reads back exactly the stored position of the ping (numbers lossless, extras kept, known fields win)', () => {
    fc.assert(
      fc.property(pingArb, extrasArb, fc.integer({ min: 0, max: 4_102_444_800_000 }), (ping, extras, receivedAt) => {
        const member = encodePosition({ ping, extras }, receivedAt);
        const back = decodePosition(ping.tagId, member);
        // the reference: what the memory store keeps, through JSON like every API answer
        expect(back).toEqual(JSON.parse(JSON.stringify(storedPosition(ping, extras, receivedAt))));
        expect(Object.keys(back)).toEqual(Object.keys(storedPosition(ping, extras, receivedAt)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is compact for a plain fix, and has no | outside the extras', () => {
    const ping: Ping = { tagId: 'BUD-7', ts: 1_780_335_597_768, lat: 53.3756072, lon: -0.8274569, accuracyM: 12, fix: 'gps', battery: 80, strap: 'ok', seq: 4411 };
    const member = encodePosition({ ping, extras: null }, 1_780_335_601_670);
    expect(member).toBe('~1780335597768|53.3756072|-0.8274569|12|g|80|o|4411|1780335601670');
    expect(member.length).toBeLessThan(JSON.stringify(storedPosition(ping, null, 1_780_335_601_670)).length / 2);
    const withBars = encodePosition({ ping, extras: { note: 'a|b|c', n: [1, '|'] } }, 5);
    expect(decodePosition('BUD-7', withBars)).toMatchObject({ note: 'a|b|c', n: [1, '|'], seq: 4411, receivedAt: new Date(5).toISOString() });
  });

  it('still reads members written as JSON by earlier versions', () => {
    const old = storedPosition({ tagId: 'BUD-7', ts: 1000, lat: 1, lon: 2, accuracyM: 3, fix: 'wifi', battery: null, strap: null, seq: null }, { speedKph: 4 }, 2000);
    expect(decodePosition('BUD-7', JSON.stringify(old))).toEqual(old);
  });

  it('refuses a truncated member instead of inventing fields', () => {
    expect(() => decodePosition('BUD-7', '~1000|1|2')).toThrow(/malformed trail member/);
  });

  it('writes numbers by its digit paths as exactly the numbers they are', () => {
    const numText = (x: number): string => new ArgWriter().num(x).done().toString('latin1');
    const coordText = (x: number): string => new ArgWriter().coord(x).done().toString('latin1');
    // every number as String() prints it: integers (epoch ms, counters) by the digit path, the rest by String()
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.maxSafeInteger(), fc.maxSafeNat(), fc.integer(), double), (x) => {
        expect(numText(x)).toBe(String(x));
      }),
      { numRuns: 3000 },
    );
    for (const x of [0, -0, 9, 10, 99, 100, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, -1.5, 1e-7, Infinity, NaN]) expect(numText(x)).toBe(String(x));
    // coordinates as tags send them (up to 7 decimals) and any other double
    const coords = fc.oneof(
      fc.integer({ min: -1_800_000_000, max: 1_800_000_000 }).map((n) => n / 1e7),
      fc.integer({ min: -180_000_000, max: 180_000_000 }).map((n) => n / 1e6),
      fc.double({ noNaN: true }),
    );
    fc.assert(
      fc.property(coords, (x) => {
        const text = coordText(x);
        expect(Number(text)).toBe(x === 0 ? 0 : x);
        // the same digits JavaScript prints, except that it writes 1e-7 where this writes 0.0000001
        if (!String(x).includes('e')) expect(text).toBe(String(x === 0 ? 0 : x));
      }),
      { numRuns: 5000 },
    );
    expect(coordText(-1e-7)).toBe('-0.0000001');
    // above 2^29 two 7-decimal values can read back to one double: String()'s digits, not the other
    expect(coordText(-547855015.329387)).toBe('-547855015.329387');
    expect(coordText(-0)).toBe('0');
    expect(coordText(-12)).toBe('-12');
    expect(coordText(0.5)).toBe('0.5');
    expect(coordText(-0.0000123)).toBe('-0.0000123');
    expect(numText(1_780_335_597_768)).toBe('1780335597768');
    expect(numText(10_000_000)).toBe('10000000');
    expect(numText(1_780_000_000_007)).toBe('1780000000007');
    // the split at 10^9 above 2^31, up to 2^53
    for (const x of [2 ** 31 - 1, 2 ** 31, 1e9 - 1, 1e9, 1e9 + 1, 2 ** 53 - 2, 9_007_199_000_000_000, 9_007_198_999_999_999, 9_007_199_254_740_991 - 1e9]) {
      expect(numText(x)).toBe(String(x));
      expect(numText(-x)).toBe(String(-x));
    }
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9_007_199 }), fc.integer({ min: -3, max: 3 }), (k, d) => {
        const x = k * 1e9 + d;
        expect(numText(x)).toBe(String(x));
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * the items as one commit argument (strings as str, numbers as num), joined by \x1f or packed
 * (a MessagePack array of strings, as the Redis commit writes them)
 */
function writtenBytes(items: readonly (string | number)[], packed = false): Buffer {
  const w = new ArgWriter(false, packed);
  for (const x of items) {
    w.next();
    if (typeof x === 'number') w.num(x);
    else w.str(x);
  }
  return w.done();
}
const joinedBytes = (items: readonly (string | number)[]): Buffer => writtenBytes(items);
const packedBytes = (items: readonly (string | number)[]): Buffer => writtenBytes(items, true);

/** an item of a commit argument: any text (grapheme clusters, lone surrogates) or number */
const itemArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }), // lone surrogates too
  fc.integer(),
  fc.double({ noNaN: true }),
);

/** MessagePack array 32 of str 16 / str 32, the only forms packed writers make; throws on anything else */
function unpack(b: Buffer): Buffer[] {
  expect(b[0]).toBe(0xdd);
  const n = b.readUInt32BE(1);
  const out: Buffer[] = [];
  let o = 5;
  for (let k = 0; k < n; k++) {
    let len: number;
    if (b[o] === 0xda) {
      len = b.readUInt16BE(o + 1);
      o += 3;
    } else if (b[o] === 0xdb) {
      len = b.readUInt32BE(o + 1);
      expect(len).toBeGreaterThan(0xffff);
      o += 5;
    } else {
      throw new Error(`unexpected type byte ${b[o]} at ${o}`);
    }
    out.push(b.subarray(o, o + len));
    o += len;
  }
  expect(o).toBe(b.length);
  return out;
}

describe('the commit argument (ArgWriter)', () => {
  it('packed: one MessagePack array holding the UTF-8 of each item, of any length', () => {
    // Buffer#equals per item (toEqual compares buffers byte by byte in JavaScript: slow)
    const readsBack = (items: readonly (string | number)[]): boolean => {
      const got = unpack(packedBytes(items));
      return got.length === items.length && got.every((b, k) => b.equals(Buffer.from(String(items[k]), 'utf8')));
    };
    fc.assert(
      fc.property(fc.array(itemArb, { maxLength: 60 }), (items) => {
        expect(readsBack(items)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expect(unpack(packedBytes([]))).toEqual([]);
    // str 16 up to 65,535 bytes, then str 32 (the item moved two bytes on); 'é' is two bytes
    for (const big of ['x'.repeat(0xffff), 'x'.repeat(0x10000), 'é'.repeat(0x8000), 'y'.repeat(200_000)]) {
      expect(readsBack(['a', big, 'b', 12_345, big, ''])).toBe(true);
    }
    // the scratch buffer grows in the middle of many items
    const many = Array.from({ length: 20_000 }, (_, i) => `é-${i}-` + 'x'.repeat(i % 70));
    expect(readsBack(many)).toBe(true);
    // and the check can fail: one byte changed
    const bytes = packedBytes(['abc', 'def']);
    bytes[bytes.length - 1] = 0x65;
    expect(unpack(bytes).map(String)).toEqual(['abc', 'dee']);
  });


  it('is the UTF-8 of the items joined by \\x1f, whatever characters they hold', () => {
    fc.assert(
      fc.property(fc.array(itemArb, { maxLength: 60 }), (items) => {
        const expected = Buffer.from(items.join('\x1f'), 'utf8');
        expect(joinedBytes([...items]).equals(expected)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // a big ASCII commit after a small one (the scratch buffer grows) and a small one after it
    const big = Array.from({ length: 5000 }, (_, i) => `item-${i}`);
    expect(joinedBytes([...big]).toString()).toBe(big.join('\x1f'));
    expect(joinedBytes(['é', 1, '']).toString()).toBe('é\x1f1\x1f');
    // a big non-ASCII one: the scratch grows in the middle of an item
    const wide = Array.from({ length: 3000 }, (_, i) => `é-${i}-` + 'x'.repeat(i % 70));
    expect(joinedBytes(wide).toString()).toBe(wide.join('\x1f'));
  });

  it('writes a trail member as one item among others, byte for byte what encodePosition gives', () => {
    fc.assert(
      fc.property(pingArb, extrasArb, fc.integer({ min: 0, max: 4_102_444_800_000 }), (ping, extras, receivedAt) => {
        const w = new ArgWriter();
        w.next().str('before');
        // encodePosition has a buffer of its own: calling it here leaves w's bytes alone
        const member = encodePosition({ ping, extras }, receivedAt);
        w.next();
        writePosition(w, { ping, extras }, receivedAt);
        w.next().num(7);
        expect(w.done().toString('utf8')).toBe(['before', member, '7'].join('\x1f'));
      }),
      { numRuns: 500 },
    );
  });
});
