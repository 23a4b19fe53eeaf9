/**
 * kafkajs's record decoding, done with less work and garbage. kafkajs 2 keeps 64-bit integers as
 * a `Long` wrapping a BigInt, and every operation makes a new BigInt and a new wrapper:
 *  - `Decoder#readVarLong` (each record's timestamp delta) built its value with an add, a shift
 *    and a `fromInt` per byte, ~1 KB of BigInts a record when records carry their own arrival
 *    times (a quarter of everything the consumer allocated while draining a backlog). Here a
 *    varlong of up to 7 bytes (|value| < 2^48: any delta between two record times) is summed in
 *    a double, exactly, and wrapped once; a longer one goes to kafkajs's own code.
 *  - `Long.fromString` parses each record batch's first offset and first timestamp again for
 *    every record of the batch (`Long.fromValue(firstTimestamp).add(delta)`). The last two strings
 *    parsed are remembered, so a batch's records parse them once (BigInts are immutable; each
 *    call still gets a `Long` of its own).
 *  - The record decoder itself (`recordBatch/record/v0/decoder.js`) adds each record's deltas to
 *    its batch's first offset and first timestamp as Longs and prints the sums back to text: two
 *    BigInt additions, two BigInt-to-text conversions and four wrappers a record. Here the sums are
 *    made in doubles when exact (every offset and epoch-millisecond time below 2^53), else by
 *    kafkajs's own Long arithmetic; the record it returns is the same, field for field.
 *    kafkajs's batch decoder takes the record decoder once, when it is first loaded (at the first
 *    fetch), so this one is put in its place in the module cache before that; when something
 *    loaded it already, this part is left out.
 * Each returns what kafkajs's own code returns (a self-check compares them at start, and tests do
 * on random values); if kafkajs's internals are not where this expects them, or the check fails,
 * that part is not changed. kafkajs is pinned by the lockfile; `speedUpKafkajsDecoding()` is
 * called when a client is made (streams/kafka/client.ts).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface LongValue {
  value: bigint;
  toString(): string;
  add(addend: LongValue | number): LongValue;
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
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): LongValue;
  readVarIntBytes(): Buffer | null;
  readVarIntArray<T>(item: (d: DecoderInstance) => T): T[];
}
interface DecoderClass {
  new (buffer: Buffer): DecoderInstance;
  prototype: DecoderInstance;
}
interface EncoderClass {
  new (): { writeVarLong(v: LongValue): unknown; buffer: Buffer };
}
/** what kafkajs's record decoder is given about the record's batch */
export interface RecordContext {
  firstOffset: string;
  firstTimestamp: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
  [k: string]: unknown;
}
type RecordDecoder = (decoder: DecoderInstance, ctx?: RecordContext) => Record<string, unknown>;
type HeaderDecoder = (decoder: DecoderInstance) => { key: string; value: Buffer | null };

const RECORD_DECODER = 'kafkajs/src/protocol/recordBatch/record/v0/decoder';
const BATCH_DECODER = 'kafkajs/src/protocol/recordBatch/v0/decoder';

interface Internals {
  Decoder: DecoderClass;
  Encoder: EncoderClass;
  Long: LongClass;
  HeaderDecoder: HeaderDecoder;
  RecordEncoder: (o: { offsetDelta: number; timestampDelta: LongValue; key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown> }) => { buffer: Buffer };
  LOG_APPEND_TIME: number;
}

/** kafkajs's own classes (internal modules of kafkajs 2.x), null when they are not there */
function internals(): Internals | null {
  try {
    const Decoder = require('kafkajs/src/protocol/decoder') as DecoderClass;
    const Encoder = require('kafkajs/src/protocol/encoder') as EncoderClass;
    const Long = require('kafkajs/src/utils/long') as LongClass;
    const HeaderDecoder = require('kafkajs/src/protocol/recordBatch/header/v0/decoder') as HeaderDecoder;
    const RecordEncoder = require('kafkajs/src/protocol/recordBatch/record/v0') as Internals['RecordEncoder'];
    const types = require('kafkajs/src/protocol/timestampTypes') as { LOG_APPEND_TIME?: unknown };
    if (typeof Decoder?.prototype?.readVarLong !== 'function' || typeof Long?.fromString !== 'function' || typeof Long.fromNumber !== 'function') return null;
    if (typeof HeaderDecoder !== 'function' || typeof RecordEncoder !== 'function' || typeof types?.LOG_APPEND_TIME !== 'number') return null;
    return { Decoder, Encoder, Long, HeaderDecoder, RecordEncoder, LOG_APPEND_TIME: types.LOG_APPEND_TIME };
  } catch {
    return null;
  }
}

/**
 * The zigzag varlong at the decoder's offset as a double when it has at most 7 bytes (|value| <
 * 2^48, exact), the offset moved past it; NaN, the offset unmoved, when it is longer.
 */
function readShortVarLong(d: DecoderInstance): number {
  const buf = d.buffer;
  let off = d.offset;
  let u = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    const b = buf[off++] as number;
    u += (b & 0x7f) * mul;
    if (b < 0x80) {
      d.offset = off;
      // zigzag: even → u / 2, odd → -(u + 1) / 2
      return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    }
    mul *= 128;
  }
  return NaN;
}

/** readVarLong with a double for up to 7 bytes (49 bits: exact), kafkajs's own code beyond */
function fastReadVarLong(Long: LongClass, original: () => LongValue): (this: DecoderInstance) => LongValue {
  return function readVarLong(this: DecoderInstance): LongValue {
    const v = readShortVarLong(this);
    return v === v ? Long.fromNumber(v) : original.call(this);
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

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000'];

/**
 * The decimal text of an integer, fast for epoch-millisecond times. V8 prints a double beyond the
 * small-integer range (±2^30) with its general shortest-form algorithm, ~150–230 ns for a
 * 13-digit time on this project's 2-core machine (more than a BigInt's toString); as two small
 * integers it is ~45 ns. The text is String(n)'s for every safe integer (a property test holds it).
 */
export function integerText(n: number): string {
  if (n >= 0 && n < 1e9) return `${n}`;
  if (n < 0 || !Number.isSafeInteger(n)) return String(n);
  const hi = Math.floor(n / 1e7);
  const lo = `${n - hi * 1e7}`;
  return `${hi}${ZEROS[7 - lo.length] as string}${lo}`;
}

/** a canonical decimal integer below 2^53 in magnitude as a number; NaN for anything else */
function safeIntegerOf(s: string): number {
  if (typeof s !== 'string' || s.length === 0 || s.length > 16) return NaN;
  const n = Number(s);
  // the text must be the number's own ("007", "1e3", " 1" and "-0" go to kafkajs's Long)
  return Number.isSafeInteger(n) && String(n) === s ? n : NaN;
}

/**
 * kafkajs's record decoder (recordBatch/record/v0/decoder.js) with the offset and timestamp sums
 * made in doubles where exact. Same reads in the same order; same record, key for key.
 */
function fastRecordDecoder(k: Internals, original: RecordDecoder, st: { useFast: boolean }): RecordDecoder {
  const { Long, HeaderDecoder, LOG_APPEND_TIME } = k;
  // the batch's first offset and timestamp as numbers, for the batch's run of records
  let offText = '';
  let offNum = NaN;
  let tsText = '';
  let tsNum = NaN;
  return function decodeRecord(decoder: DecoderInstance, batchContext: RecordContext = {} as RecordContext) {
    if (!st.useFast) return original(decoder, batchContext);
    const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const attributes = decoder.readInt8();
    let delta: number | LongValue = readShortVarLong(decoder);
    if (delta !== delta) delta = decoder.readVarLong();
    let timestamp: string;
    if (timestampType === LOG_APPEND_TIME && maxTimestamp) timestamp = maxTimestamp;
    else {
      if (firstTimestamp !== tsText) {
        tsText = firstTimestamp;
        tsNum = safeIntegerOf(firstTimestamp);
      }
      const sum = typeof delta === 'number' ? tsNum + delta : NaN;
      timestamp = Number.isSafeInteger(sum) ? integerText(sum) : Long.fromValue(firstTimestamp).add(typeof delta === 'number' ? Long.fromNumber(delta) : delta).toString();
    }
    const offsetDelta = decoder.readVarInt();
    if (firstOffset !== offText) {
      offText = firstOffset;
      offNum = safeIntegerOf(firstOffset);
    }
    const offSum = offNum + offsetDelta;
    const offset = Number.isSafeInteger(offSum) ? integerText(offSum) : Long.fromValue(firstOffset).add(offsetDelta).toString();
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const list = decoder.readVarIntArray(HeaderDecoder);
    // kafkajs's own fold, for the same object (a repeated key collects its values in an array)
    const headers =
      list.length === 0
        ? {}
        : list.reduce(
            (obj: Record<string, unknown>, { key: hk, value: hv }) => ({
              ...obj,
              [hk]: obj[hk] === undefined ? hv : Array.isArray(obj[hk]) ? (obj[hk] as unknown[]).concat([hv]) : [obj[hk], hv],
            }),
            {},
          );
    return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
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
  const st = state(k);
  const original = (st.readVarLong ?? k.Decoder.prototype.readVarLong) as () => LongValue;
  const a = new k.Decoder(buf);
  const b = new k.Decoder(buf);
  const va = original.call(a).toString();
  const vb = fastReadVarLong(k.Long, original).call(b).toString();
  return { original: [va, a.offset], fast: [vb, b.offset] };
}

/** one record as a test or the start-up check gives it */
export interface RecordSample {
  ctx: RecordContext;
  offsetDelta: number;
  timestampDelta: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string | string[]>;
}

/** a decoded record as comparable text (buffers as hex), its keys in order */
function recordText(r: Record<string, unknown>): string {
  return JSON.stringify(r, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return `hex:${Buffer.from((v as { data: number[] }).data).toString('hex')}`;
    return v;
  });
}

/**
 * The sample encoded by kafkajs and decoded by kafkajs's record decoder and by ours: each result
 * as text and where each left the offset. Null when kafkajs's internals are not there.
 */
export function decodeRecordBothWays(sample: RecordSample): { original: [string, number]; fast: [string, number] } | null {
  const k = internals();
  if (!k) return null;
  const st = state(k);
  const original = st.recordOriginal ?? (require(RECORD_DECODER) as RecordDecoder);
  const body = new k.Decoder(k.RecordEncoder({ offsetDelta: sample.offsetDelta, timestampDelta: k.Long.fromString(sample.timestampDelta), key: sample.key, value: sample.value, headers: sample.headers }).buffer).readVarIntBytes() as Buffer;
  // kafkajs's record decoder with kafkajs's own Long steps; ours with what is applied
  const applied = { readVarLong: k.Decoder.prototype.readVarLong, fromString: k.Long.fromString };
  const a = new k.Decoder(body);
  let ra: Record<string, unknown>;
  try {
    if (st.readVarLong && st.fromString) {
      k.Decoder.prototype.readVarLong = st.readVarLong;
      k.Long.fromString = st.fromString;
    }
    ra = original(a, { ...sample.ctx });
  } finally {
    k.Decoder.prototype.readVarLong = applied.readVarLong;
    k.Long.fromString = applied.fromString;
  }
  const b = new k.Decoder(body);
  const rb = fastRecordDecoder(k, original, { useFast: true })(b, { ...sample.ctx });
  return { original: [recordText(ra), a.offset], fast: [recordText(rb), b.offset] };
}

/** record samples the start-up check decodes both ways: the sums in doubles and every fallback */
export function recordCheckSamples(LOG_APPEND_TIME = 1): RecordSample[] {
  const v = Buffer.from('{"tagId":"T1","ts":1764800000000,"lat":51.5,"lon":-0.1}');
  const base = { magicByte: 2, isControlBatch: false, timestampType: 0, maxTimestamp: '1764800009999' };
  const out: RecordSample[] = [];
  const firsts: [string, string][] = [
    ['0', '1764800000000'],
    ['1234567', '-1'],
    ['9007199254740990', '9007199254740990'],
    ['9223372036854775000', '9223372036854775000'],
    ['007', '0042'],
  ];
  for (const [firstOffset, firstTimestamp] of firsts) {
    for (const [offsetDelta, timestampDelta] of [
      [0, '0'],
      [5, '-7'],
      [2_000_000, '281474976710655'],
      [17, '9007199254740993'],
    ] as const) {
      out.push({ ctx: { ...base, firstOffset, firstTimestamp }, offsetDelta, timestampDelta, key: Buffer.from('T1'), value: v });
    }
  }
  out.push({ ctx: { ...base, firstOffset: '10', firstTimestamp: '1764800000000', timestampType: LOG_APPEND_TIME }, offsetDelta: 3, timestampDelta: '12', key: null, value: v });
  out.push({ ctx: { ...base, firstOffset: '10', firstTimestamp: '1764800000000', isControlBatch: true }, offsetDelta: 1, timestampDelta: '1', key: Buffer.alloc(0), value: null, headers: { a: 'x', b: ['y', 'z'], c: '' } });
  return out;
}

/**
 * What is applied, kept with kafkajs's own module (so a module graph loaded twice, as a test
 * runner may, finds it and does not wrap kafkajs twice).
 */
interface AppliedState {
  readVarLong: (() => LongValue) | null;
  fromString: ((s: string) => LongValue) | null;
  recordOriginal: RecordDecoder | null;
  patched: { readVarLong: () => LongValue; fromString: (s: string) => LongValue } | null;
  records: boolean;
  /** the Long steps' start-up check ran (it is not run again when it failed) */
  longsChecked: boolean;
  /** false: the installed record decoder hands every record to kafkajs's own (bench:kafka-decode) */
  useFast: boolean;
}
const STATE = Symbol.for('cordon.kafkajs-decode');
function state(k: Internals): AppliedState {
  const holder = k.Long as unknown as Record<symbol, AppliedState | undefined>;
  return (holder[STATE] ??= { readVarLong: null, fromString: null, recordOriginal: null, patched: null, records: false, longsChecked: false, useFast: true });
}

/** What speedUpKafkajsDecoding changed: the Long steps, the record decoder. */
export interface DecodingApplied {
  longs: boolean;
  records: boolean;
}

/** Applies them (once per process); false parts are left as kafkajs ships them. */
export function speedUpKafkajsDecoding(): DecodingApplied {
  const k = internals();
  if (!k) return { longs: false, records: false };
  const st = state(k);
  if (!st.longsChecked) {
    st.longsChecked = true;
    const original = k.Decoder.prototype.readVarLong as () => LongValue;
    let ok = true;
    for (const v of CHECK_VALUES) {
      const buf = encodeVarLong(v);
      const r = buf && decodeBothWays(Buffer.concat([buf, Buffer.from([0x01])]));
      if (!r || r.original[0] !== v || r.fast[0] !== v || r.original[1] !== r.fast[1]) ok = false;
    }
    if (ok) {
      st.readVarLong = original;
      st.fromString = k.Long.fromString;
      st.patched = { readVarLong: fastReadVarLong(k.Long, original), fromString: rememberingFromString(k.Long, k.Long.fromString) };
      k.Decoder.prototype.readVarLong = st.patched.readVarLong;
      k.Long.fromString = st.patched.fromString;
    }
  }
  if (!st.records) st.records = installRecordDecoder(k, st);
  return { longs: st.patched !== null, records: st.records };
}

/** Puts the fast record decoder in the module cache before kafkajs's batch decoder takes it. */
function installRecordDecoder(k: Internals, st: AppliedState): boolean {
  try {
    const recPath = require.resolve(RECORD_DECODER);
    if (require.cache[require.resolve(BATCH_DECODER)] !== undefined) return false; // it took kafkajs's own already
    const original = require(RECORD_DECODER) as RecordDecoder;
    const entry = require.cache[recPath];
    if (typeof original !== 'function' || entry === undefined) return false;
    st.recordOriginal = original;
    for (const sample of recordCheckSamples(k.LOG_APPEND_TIME)) {
      const r = decodeRecordBothWays(sample);
      if (!r || r.original[0] !== r.fast[0] || r.original[1] !== r.fast[1]) {
        st.recordOriginal = null;
        return false;
      }
    }
    entry.exports = fastRecordDecoder(k, original, st);
    return true;
  } catch {
    return false;
  }
}

/**
 * For bench:kafka-decode's comparison: kafkajs's decoding as shipped (false) or as applied here
 * (true). Needs speedUpKafkajsDecoding() first; the record decoder is switched inside ours.
 */
export function useFastKafkajsDecoding(on: boolean): void {
  const k = internals();
  if (!k) return;
  const st = state(k);
  if (st.patched && st.readVarLong && st.fromString) {
    k.Decoder.prototype.readVarLong = on ? st.patched.readVarLong : st.readVarLong;
    k.Long.fromString = on ? st.patched.fromString : st.fromString;
  }
  st.useFast = on;
}
