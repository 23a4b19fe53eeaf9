import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CHECK_VALUES, decodeBothWays, decodeRecordBothWays, encodeVarLong, integerText, recordCheckSamples, speedUpKafkajsDecoding, type RecordSample } from '../../streams/kafka/kafkajs-decode.ts';

const require = createRequire(import.meta.url);

describe("kafkajs's record decoding with less garbage", () => {
  it('applies to the kafkajs this project is locked to (a kafkajs upgrade that moves its internals shows here)', () => {
    expect(speedUpKafkajsDecoding()).toEqual({ longs: true, records: true });
    expect(speedUpKafkajsDecoding()).toEqual({ longs: true, records: true }); // once per process, idempotent
    // kafkajs's batch decoder, loaded after, decodes with ours
    const decoder = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as { name: string };
    expect(decoder.name).toBe('decodeRecord');
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
    expect(speedUpKafkajsDecoding().longs).toBe(true);
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

  it('prints every safe integer as String does', () => {
    for (const n of [0, 1, 9, 10, 999_999_999, 1e9, 1e9 + 1, 10_000_000_000, 10_000_000_001, 1_764_800_000_000, 2 ** 53 - 1, -1, -1_764_800_000_000]) expect(integerText(n)).toBe(String(n));
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), (n) => integerText(n) === String(n)));
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => integerText(n) === String(n)), { numRuns: 5_000 });
  });

  it('decodes every record as kafkajs does: the same record, key for key, and the same bytes consumed', () => {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
    // offsets and epoch-millisecond times (the double path), near 2^53 (both paths), any int64 (kafkajs's Long)
    const first = fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }).map(String), fc.constantFrom('-1', '0', '1764800000000'), fc.bigInt({ min: 2n ** 53n - 5_000n, max: 2n ** 53n + 5n }).map(String), int64);
    const delta = fc.oneof(fc.integer({ min: -100_000, max: 100_000 }).map(String), fc.bigInt({ min: -(2n ** 49n), max: 2n ** 49n }).map(String), int64);
    const bytes = fc.option(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), { nil: null });
    const headers = fc.option(fc.dictionary(fc.constantFrom('a', 'b', 'cordon-error', 'x-1'), fc.oneof(fc.string({ maxLength: 8 }), fc.array(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 3 }))), { nil: undefined });
    const sample = fc.record({
      ctx: fc.record({ firstOffset: first, firstTimestamp: first, magicByte: fc.constant(2), isControlBatch: fc.boolean(), timestampType: fc.constantFrom(0, 1, -1), maxTimestamp: fc.constantFrom('1764800009999', '') }),
      offsetDelta: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      timestampDelta: delta,
      key: bytes,
      value: bytes,
      headers,
    }) as fc.Arbitrary<RecordSample>;
    const check = (s: RecordSample) => {
      const r = decodeRecordBothWays(s);
      expect(r).not.toBeNull();
      expect(r!.fast).toEqual(r!.original);
    };
    for (const s of recordCheckSamples()) check(s);
    fc.assert(fc.property(sample, check), { numRuns: 3_000 });
  });
});
