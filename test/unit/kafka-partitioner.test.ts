/**
 * The producer's murmur2 partitioner must put every key where the Java client and kafkajs's
 * DefaultPartitioner put it (a tag's pings on one partition whoever produced them).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { murmur2, murmur2Bytes, Murmur2Partitioner } from '../../streams/kafka/partitioner.ts';

// kafkajs's own murmur2 (64-bit Long arithmetic), the oracle
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: unknown) => number;

const partitions = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: leaderless.includes(i) ? -1 : 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

describe('murmur2', () => {
  it("gives the Java client's values (Kafka's UtilsTest vectors)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, want] of vectors) {
      expect(murmur2(key), key).toBe(want);
      expect(kafkajsMurmur2(key), `kafkajs ${key}`).toBe(want);
    }
  });

  it('equals kafkajs for any string, Buffer or number key (every length mod 4, non-ASCII, lone surrogates)', () => {
    fc.assert(
      fc.property(fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.string({ unit: 'binary', maxLength: 40 }),
          // any UTF-16 units, lone surrogates included
          fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 30 }).map((u) => String.fromCharCode(...u)),
        ), (s) => {
        expect(murmur2(s)).toBe(kafkajsMurmur2(s));
        const b = Buffer.from(s);
        expect(murmur2(b)).toBe(kafkajsMurmur2(b));
        expect(murmur2Bytes(b)).toBe(kafkajsMurmur2(b));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.integer(), (bytes, n) => {
        const b = Buffer.from(bytes);
        expect(murmur2(b)).toBe(kafkajsMurmur2(b));
        expect(murmur2(n)).toBe(kafkajsMurmur2(n));
      }),
      { numRuns: 1000 },
    );
  });

  it('reads a long key whole (the scratch buffer grows)', () => {
    const long = 'x'.repeat(1000) + 'é'.repeat(300);
    expect(murmur2(long)).toBe(kafkajsMurmur2(long));
    expect(murmur2('short')).toBe(kafkajsMurmur2('short'));
  });
});

describe('Murmur2Partitioner', () => {
  it("picks kafkajs's DefaultPartitioner's partition for every keyed message", () => {
    const ours = Murmur2Partitioner();
    const theirs = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 200 }), (key, n) => {
        const args = { topic: 't', partitionMetadata: partitions(n), message: { key, value: 'v' } };
        const p = ours(args);
        expect(p).toBe(theirs(args));
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps an explicit partition, and round-robins unkeyed messages over partitions with a leader', () => {
    const ours = Murmur2Partitioner();
    expect(ours({ topic: 't', partitionMetadata: partitions(4), message: { key: 'k', value: 'v', partition: 3 } })).toBe(3);
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add(ours({ topic: 't', partitionMetadata: partitions(4, [1]), message: { value: 'v' } }));
    expect([...seen].sort()).toEqual([0, 2, 3]);
  });
});
