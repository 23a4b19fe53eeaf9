import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CHECK_VALUES, decodeBothWays, encodeVarLong, speedUpKafkajsDecoding } from '../../streams/kafka/kafkajs-decode.ts';

const require = createRequire(import.meta.url);

describe("kafkajs's record decoding with less garbage", () => {
  it('applies to the kafkajs this project is locked to (a kafkajs upgrade that moves its internals shows here)', () => {
    expect(speedUpKafkajsDecoding()).toBe(true);
    expect(speedUpKafkajsDecoding()).toBe(true); // once per process, idempotent
  });

  it('reads every 64-bit varlong as kafkajs does: same value, same bytes consumed', () => {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    // deltas between record times are small: weight them, but cover the whole range
    const value = fc.oneof(fc.integer({ min: -100_000, max: 100_000 }).map(BigInt), fc.bigInt({ min: -(2n ** 49n), max: 2n ** 49n }), int64);
    const check = (v: bigint) => {
      const buf = encodeVarLong(String(v));
      expect(buf).not.toBeNull();
      // a byte after it: the decoder must stop where the varlong ends
      const r = decodeBothWays(Buffer.concat([buf!, Buffer.from([0x7f])]));
      expect(r?.fast).toEqual([String(v), buf!.length]);
      expect(r?.original).toEqual([String(v), buf!.length]);
    };
    for (const v of CHECK_VALUES) check(BigInt(v));
    fc.assert(fc.property(value, check), { numRuns: 2_000 });
  });

  it('parses a string once for a run of records, and still gives each caller a Long of its own', () => {
    expect(speedUpKafkajsDecoding()).toBe(true);
    const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): { value: bigint; toString(): string } };
    const seen = new Set<object>();
    for (let i = 0; i < 5; i++) {
      for (const s of ['1764800000000', '123456', '-1', '9223372036854775807']) {
        const l = Long.fromValue(s);
        expect(l.toString()).toBe(s);
        expect(seen.has(l)).toBe(false);
        seen.add(l);
      }
    }
  });
});
