/** Small pieces both store implementations share, so they answer byte-for-byte alike. */
import type { Ping } from '../../geo/types.ts';
import type { StoredPosition } from '../../streams/ports.ts';

export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

/** Decoded cursor parts, or null when absent or malformed (callers throw BadCursorError for malformed). */
export function decodeCursor(cursor: string | null | undefined): unknown[] | null {
  if (cursor == null || cursor === '') return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Id cursor (lists ordered by id): the last id returned. */
export function idAfter(cursor: string | null | undefined): string | null {
  const c = decodeCursor(cursor);
  return c && typeof c[0] === 'string' ? c[0] : null;
}

/** Alert list cursor: [openedAtMs, id] of the last alert returned. */
export function alertAfter(cursor: string | null | undefined): { ms: number; id: string } | null {
  const c = decodeCursor(cursor);
  if (!c || typeof c[0] !== 'number' || typeof c[1] !== 'string') return null;
  return { ms: c[0], id: c[1] };
}

/** Event ids are Redis stream ids `<ms>-<seq>`; compare numerically. */
export function parseEventId(id: string): [number, number] | null {
  const m = /^(\d+)-(\d+)$/.exec(id);
  if (!m) return null;
  return [Number(m[1]), Number(m[2])];
}

export function compareEventIds(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** The stored trail point for a ping: extras first so known fields always win. */
export function storedPosition(ping: Ping, extras: Record<string, unknown> | null, receivedAt: number | string): StoredPosition {
  return {
    ...(extras ?? {}),
    tagId: ping.tagId,
    ts: new Date(ping.ts).toISOString(),
    lat: ping.lat,
    lon: ping.lon,
    accuracyM: ping.accuracyM,
    fix: ping.fix,
    battery: ping.battery,
    strap: ping.strap,
    seq: ping.seq,
    receivedAt: typeof receivedAt === 'string' ? receivedAt : new Date(receivedAt).toISOString(),
  };
}

/**
 * A deep copy of JSON data (plain objects, arrays, primitives) that shares its strings, which are
 * immutable: structuredClone copies every string, and a zone listing a town's ~1,000 subjects kept
 * that many strings again in every copy, a large part of the heap the collector walks.
 */
export function cloneJson<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = cloneJson(v[i] as unknown);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = cloneJson((v as Record<string, unknown>)[k]);
    // an own "__proto__" key stays a key (assigning it would set the prototype)
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
  return out as T;
}
