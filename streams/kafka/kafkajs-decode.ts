/**
 * Two of kafkajs's record-decoding steps, done with less garbage. kafkajs 2 keeps 64-bit
 * integers as a `Long` wrapping a BigInt, and every operation makes a new BigInt and a new
 * wrapper:
 *  - `Decoder#readVarLong` (each record's timestamp delta) built its value with an add, a shift
 *    and a `fromInt` per byte, ~1 KB of BigInts a record when records carry their own arrival
 *    times (a quarter of everything the consumer allocated while draining a backlog). Here a
 *    varlong of up to 7 bytes (|value| < 2^48: any delta between two record times) is summed in
 *    a double, exactly, and wrapped once; a longer one goes to kafkajs's own code.
 *  - `Long.fromString` parses each record batch's first offset and first timestamp again for
 *    every record of the batch (`Long.fromValue(firstTimestamp).add(delta)`). The last two strings
 *    parsed are remembered, so a batch's records parse them once (BigInts are immutable; each
 *    call still gets a `Long` of its own).
 * Both return what kafkajs's own code returns (a self-check compares them at start, and a test
 * does on random values); if kafkajs's internals are not where this expects them, or the check
 * fails, nothing is changed. kafkajs is pinned by the lockfile; `speedUpKafkajsDecoding()` is
 * called when a client is made (streams/kafka/client.ts).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface LongValue {
  value: bigint;
  toString(): string;
}
interface LongClass {
  new (value: bigint): LongValue;
  fromNumber(n: number): LongValue;
  fromString(s: string): LongValue;
  fromValue(v: unknown): LongValue;
}
interface DecoderInstance {
  buffer: Buffer;
  offset: number;
  readVarLong(): LongValue;
}
interface DecoderClass {
  new (buffer: Buffer): DecoderInstance;
  prototype: DecoderInstance;
}
interface EncoderClass {
  new (): { writeVarLong(v: LongValue): unknown; buffer: Buffer };
}

/** kafkajs's own classes (internal modules of kafkajs 2.x), null when they are not there */
function internals(): { Decoder: DecoderClass; Encoder: EncoderClass; Long: LongClass } | null {
  try {
    const Decoder = require('kafkajs/src/protocol/decoder') as DecoderClass;
    const Encoder = require('kafkajs/src/protocol/encoder') as EncoderClass;
    const Long = require('kafkajs/src/utils/long') as LongClass;
    if (typeof Decoder?.prototype?.readVarLong !== 'function' || typeof Long?.fromString !== 'function' || typeof Long.fromNumber !== 'function') return null;
    return { Decoder, Encoder, Long };
  } catch {
    return null;
  }
}

/** readVarLong with a double for up to 7 bytes (49 bits: exact), kafkajs's own code beyond */
function fastReadVarLong(Long: LongClass, original: () => LongValue): (this: DecoderInstance) => LongValue {
  return function readVarLong(this: DecoderInstance): LongValue {
    const buf = this.buffer;
    let off = this.offset;
    let u = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const b = buf[off++] as number;
      u += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.offset = off;
        // zigzag: even → u / 2, odd → -(u + 1) / 2
        return Long.fromNumber(u % 2 === 0 ? u / 2 : -(u + 1) / 2);
      }
      mul *= 128;
    }
    return original.call(this);
  };
}

/** Long.fromString remembering the last two strings it parsed */
function rememberingFromString(Long: LongClass, original: (s: string) => LongValue): (s: string) => LongValue {
  let s1: string | null = null;
  let v1 = 0n;
  let s2: string | null = null;
  let v2 = 0n;
  return function fromString(s: string): LongValue {
    if (s === s1) return new Long(v1);
    if (s === s2) return new Long(v2);
    const l = original.call(Long, s);
    if (typeof l?.value !== 'bigint') return l;
    s2 = s1;
    v2 = v1;
    s1 = s;
    v1 = l.value;
    return l;
  };
}

/** values the start-up check decodes both ways */
export const CHECK_VALUES = ['0', '1', '-1', '63', '-64', '64', '-65', '8191', '-8192', '1000000', '-1000000', '2147483648', '-2147483649', '140737488355327', '-140737488355328', '140737488355328', '-140737488355329', '281474976710655', '9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775808'];

/** a value as kafkajs writes it on the wire (zigzag varlong) */
export function encodeVarLong(value: string): Buffer | null {
  const k = internals();
  if (!k) return null;
  const e = new k.Encoder();
  e.writeVarLong(k.Long.fromString(value));
  return e.buffer;
}

/**
 * `buf` decoded by kafkajs's original readVarLong and by ours (from offset 0): both results'
 * text and where each left the offset. Null when kafkajs's internals are not there.
 */
export function decodeBothWays(buf: Buffer): { original: [string, number]; fast: [string, number] } | null {
  const k = internals();
  if (!k) return null;
  const original = (originalReadVarLong ?? k.Decoder.prototype.readVarLong) as () => LongValue;
  const a = new k.Decoder(buf);
  const b = new k.Decoder(buf);
  const va = original.call(a).toString();
  const vb = fastReadVarLong(k.Long, original).call(b).toString();
  return { original: [va, a.offset], fast: [vb, b.offset] };
}

let originalReadVarLong: (() => LongValue) | null = null;
let applied: boolean | null = null;

/** Applies both (once per process); false when kafkajs is not as expected and nothing changed. */
export function speedUpKafkajsDecoding(): boolean {
  if (applied !== null) return applied;
  const k = internals();
  applied = false;
  if (!k) return false;
  const original = k.Decoder.prototype.readVarLong as () => LongValue;
  for (const v of CHECK_VALUES) {
    const buf = encodeVarLong(v);
    const r = buf && decodeBothWays(Buffer.concat([buf, Buffer.from([0x01])]));
    if (!r || r.original[0] !== v || r.fast[0] !== v || r.original[1] !== r.fast[1]) return false;
  }
  originalReadVarLong = original;
  k.Decoder.prototype.readVarLong = fastReadVarLong(k.Long, original);
  const fromString = k.Long.fromString;
  k.Long.fromString = rememberingFromString(k.Long, fromString);
  applied = true;
  return true;
}
