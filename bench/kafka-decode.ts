/**
 * `npm run bench:kafka-decode` — kafkajs's decoding of one record batch (1,500 pings with their own
 * record times, as a backlog after an outage holds them), as kafkajs ships it and with
 * streams/kafka/kafkajs-decode.ts applied, alternating in one process. CPU µs a record.
 *
 *   npm run bench:kafka-decode [-- --rounds 6 --batches 200 --json]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { speedUpKafkajsDecoding, useFastKafkajsDecoding } from '../streams/kafka/kafkajs-decode.ts';
import { emitJson, formatTable, machine, progress } from './lib/table.ts';

const require = createRequire(import.meta.url);
const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '6' }, batches: { type: 'string', default: '400' }, json: { type: 'boolean', default: false } },
});

type Rec = { timestamp: string; offset: string };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => unknown;
const Decoder = require('kafkajs/src/protocol/decoder.js') as { new (b: Buffer): unknown };
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): unknown };
// before kafkajs's batch decoder is loaded: it takes the record decoder when it is
const applied = speedUpKafkajsDecoding();
if (!applied.longs || !applied.records) throw new Error(`kafkajs internals not as expected: nothing to compare (${JSON.stringify(applied)})`);
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{ records: Rec[] }>;

async function main(): Promise<void> {
  const rounds = Number(args.rounds);
  const batches = Number(args.batches);
  const first = Date.UTC(2026, 11, 4, 12);
  const n = 1_500;
  // records ~7 ms apart (a partition's share of a busy topic), each a ping as Cordon's producer writes it
  const records = Array.from({ length: n }, (_, i) =>
    Record({ offsetDelta: i, timestampDelta: i * 7 + (i % 3), key: Buffer.from(`TAG-${i % 300}`), value: Buffer.from(JSON.stringify({ tagId: `TAG-${i % 300}`, ts: first + i * 7, lat: 51.5, lon: -0.1, accuracyM: 10 })) }),
  );
  const bytes = (await RecordBatch({ firstOffset: Long.fromValue(1_234_567), firstTimestamp: first, maxTimestamp: first + n * 7, lastOffsetDelta: n - 1, records })).buffer;
  const use = (fast: boolean) => useFastKafkajsDecoding(fast);
  const measure = async (): Promise<{ us: number; last: string }> => {
    const c0 = process.cpuUsage();
    let count = 0;
    let last = '';
    for (let k = 0; k < batches; k++) {
      const r = await decodeBatch(new Decoder(bytes));
      count += r.records.length;
      last = `${r.records[r.records.length - 1]?.offset}@${r.records[r.records.length - 1]?.timestamp}`;
    }
    const c = process.cpuUsage(c0);
    return { us: (c.user + c.system) / count, last };
  };
  const rows: (string | number)[][] = [];
  const result = { shipped: [] as number[], patched: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    use(false);
    const a = await measure();
    use(true);
    const b = await measure();
    if (a.last !== b.last) throw new Error(`the two decodings differ: ${a.last} against ${b.last}`);
    result.shipped.push(a.us);
    result.patched.push(b.us);
    rows.push([r + 1, a.us.toFixed(3), b.us.toFixed(3)]);
    progress(`round ${r + 1}/${rounds}`);
  }
  use(true);
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  const m = await machine();
  console.log(`\nkafkajs record decoding, ${n} records a batch, ${batches} batches a measurement (${m.cpu}, ${m.cores} cores, node ${m.node})\n`);
  console.log(formatTable(['round', 'as shipped, CPU µs/record', 'kafkajs-decode.ts, CPU µs/record'], rows));
  console.log(`\nmedian: ${median(result.shipped).toFixed(3)} → ${median(result.patched).toFixed(3)} µs a record; best: ${Math.min(...result.shipped).toFixed(3)} → ${Math.min(...result.patched).toFixed(3)} (round 1 includes the JIT's warm-up; the VM's speed swings)`);
  emitJson(args.json, { recordsPerBatch: n, shippedUsPerRecord: median(result.shipped), patchedUsPerRecord: median(result.patched), rounds: rows });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
