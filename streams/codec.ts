/**
 * Pings in (CONTRACT §1): one zod schema is the rule book (and the OpenAPI source); a hand-written
 * check with the same rules is the hot path. A batch that the fast check accepts is decoded without
 * zod; anything it rejects is run through zod, so every error message comes from the schema.
 * test/unit/codec.test.ts holds the two to the same verdict on random input.
 *
 * The plain checks live in ping-rules.ts (pingOf); decodePingBytes first tries the byte scanner
 * (ping-scan.ts), which reads the usual message without JSON.parse and leaves the rest here.
 *
 * Shared by HTTP ingest (decodePings) and Kafka (decodePingBytes). Also converts stored zone
 * records into engine ZoneDefs (toZoneDef), the one other edge where ISO meets epoch ms.
 */
import { z } from 'zod';
import type { FixSource, Ping, ZoneDef } from '../geo/types.ts';
import type { ZoneInput } from './ports.ts';
import { TAG_RE, isoToMs, pingOf } from './ping-rules.ts';
import { scanPingMessage } from './ping-scan.ts';

export const DEFAULT_ACCURACY_M = 10;
export const MAX_PINGS_PER_REQUEST = 10_000;
export const MAX_PING_BYTES = 64 * 1024;

const KNOWN = new Set(['tagId', 'ts', 'lat', 'lon', 'accuracyM', 'fix', 'battery', 'strap', 'seq']);

const tsSchema = z.union([
  z
    .string()
    .refine((s) => Number.isFinite(isoToMs(s)), { message: 'must be ISO-8601 with offset or Z, e.g. 2026-01-01T12:00:00Z' }),
  z.number().int('epoch milliseconds must be an integer').min(0).max(8.64e15),
]);

/** One ping as received (JSON). Unknown fields pass through. */
export const pingSchema = z
  .looseObject({
    tagId: z.string().regex(TAG_RE, 'must be 1-64 chars of A-Za-z0-9._:-'),
    ts: tsSchema.describe('fix time: ISO-8601 with offset/Z, or epoch milliseconds'),
    lat: z.number().min(-90).max(90).nullish(),
    lon: z.number().min(-180).max(180).nullish(),
    accuracyM: z.number().positive().finite().nullish().describe(`horizontal accuracy radius, metres; default ${DEFAULT_ACCURACY_M}`),
    fix: z.enum(['gps', 'wifi', 'cell', 'rf', 'none']).nullish(),
    battery: z.number().min(0).max(100).nullish(),
    strap: z.enum(['ok', 'tampered']).nullish(),
    seq: z.number().int().nullish(),
  })
  .superRefine((p, ctx) => {
    if ((p.fix ?? 'gps') === 'none') return;
    if (p.lat == null) ctx.addIssue({ code: 'custom', path: ['lat'], message: 'required unless fix is "none"' });
    if (p.lon == null) ctx.addIssue({ code: 'custom', path: ['lon'], message: 'required unless fix is "none"' });
  });

export type PingJson = z.input<typeof pingSchema>;

export interface DecodeOptions {
  defaultAccuracyM?: number;
  /** max items in an array body (default MAX_PINGS_PER_REQUEST) */
  maxBatch?: number;
}

export interface PingError {
  /** index in the batch (0 for a single-object body) */
  index: number;
  /** dotted field path, '' for the item itself */
  field: string;
  message: string;
}

export type DecodeResult =
  | {
      ok: true;
      pings: Ping[];
      /** extras[i]: the unknown fields of pings[i], null when none */
      extras: (Record<string, unknown> | null)[];
    }
  | { ok: false; reason: 'invalid' | 'too_many'; errors: PingError[] };

// ---- fast path

/** Same rules as pingSchema; returns null when the item breaks any. Allocation: the Ping only. */
function fastPing(o: unknown, defAcc: number): Ping | null {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return null;
  const r = o as Record<string, unknown>;
  return pingOf(r.tagId, r.ts, r.fix, r.lat, r.lon, r.accuracyM, r.battery, r.strap, r.seq, defAcc);
}

function extrasOf(o: object): Record<string, unknown> | null {
  let out: Record<string, unknown> | null = null;
  for (const k in o) {
    if (KNOWN.has(k)) continue;
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    out ??= {};
    out[k] = (o as Record<string, unknown>)[k];
  }
  return out;
}

/** The zod verdict on one item, as PingErrors (empty = valid). */
export function explainPing(item: unknown, index: number): PingError[] {
  const r = pingSchema.safeParse(item);
  if (r.success) return [];
  return r.error.issues.map((i) => ({ index, field: i.path.map(String).join('.'), message: i.message }));
}

/**
 * Decodes a parsed JSON body: one ping object or an array of them. All-or-nothing: any bad item
 * makes the whole result an error listing every bad item by index and field.
 */
export function decodePings(body: unknown, opts: DecodeOptions = {}): DecodeResult {
  const defAcc = opts.defaultAccuracyM ?? DEFAULT_ACCURACY_M;
  const max = opts.maxBatch ?? MAX_PINGS_PER_REQUEST;
  const items: unknown[] = Array.isArray(body) ? body : [body];
  if (items.length > max) {
    return { ok: false, reason: 'too_many', errors: [{ index: -1, field: '', message: `at most ${max} pings per request; got ${items.length}` }] };
  }
  const pings: Ping[] = new Array(items.length);
  const extras: (Record<string, unknown> | null)[] = new Array(items.length);
  let bad = false;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const p = fastPing(it, defAcc);
    if (p === null) {
      bad = true;
      break;
    }
    pings[i] = p;
    extras[i] = extrasOf(it as object);
  }
  if (!bad) return { ok: true, pings, extras };
  const errors: PingError[] = [];
  for (let i = 0; i < items.length; i++) {
    const e = explainPing(items[i], i);
    if (e.length === 0 && fastPing(items[i], defAcc) === null) {
      // Cannot happen while both rule sets agree (tested); never let it pass silently.
      errors.push({ index: i, field: '', message: 'invalid ping' });
    }
    for (const x of e) errors.push(x);
  }
  return { ok: false, reason: 'invalid', errors };
}

export type DecodeBytesResult =
  | { ok: true; ping: Ping; extras: Record<string, unknown> | null }
  | { ok: false; reason: string };

/** One Kafka message value → one ping, or a reason string for the dead-letter header. */
export function decodePingBytes(buf: Uint8Array | null | undefined, opts: DecodeOptions & { maxBytes?: number } = {}): DecodeBytesResult {
  if (buf == null || buf.length === 0) return { ok: false, reason: 'empty message' };
  const maxBytes = opts.maxBytes ?? MAX_PING_BYTES;
  if (buf.length > maxBytes) return { ok: false, reason: `message too large: ${buf.length} bytes > ${maxBytes}` };
  const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const defAcc = opts.defaultAccuracyM ?? DEFAULT_ACCURACY_M;
  // the usual message straight from its bytes (ping-scan.ts); anything else, and every error, as JSON
  const scanned = scanPingMessage(bytes, defAcc);
  if (scanned !== null) return { ok: true, ping: scanned.ping, extras: scanned.extras };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'not a ping: expected one JSON object' };
  }
  const p = fastPing(parsed, defAcc);
  if (p) return { ok: true, ping: p, extras: extrasOf(parsed) };
  const errs = explainPing(parsed, 0);
  const reason = errs.length ? errs.map((e) => `${e.field || 'ping'}: ${e.message}`).join('; ') : 'invalid ping';
  return { ok: false, reason: `invalid ping: ${reason}` };
}

// ---- zone records → engine defs

function isoOrNull(s: string | null): number | null {
  return s == null ? null : Date.parse(s);
}

/** The engine view of one stored zone version. `effectiveFrom` = when that version was written. */
export function toZoneDef(id: string, version: number, input: ZoneInput, effectiveFrom: number): ZoneDef {
  return {
    id,
    version,
    name: input.name,
    kind: input.kind,
    subjectIds: input.subjectIds,
    geometry: input.geometry,
    schedule: input.schedule,
    graceSeconds: input.graceSeconds,
    minConfidence: input.minConfidence,
    validFrom: isoOrNull(input.validFrom),
    validTo: isoOrNull(input.validTo),
    effectiveFrom,
  };
}
