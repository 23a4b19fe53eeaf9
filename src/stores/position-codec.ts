/**
 * The Redis store's trail member: one compact line per stored position, instead of the JSON of
 * the StoredPosition (~190 bytes for a plain fix, of which the key names, the tag id that the
 * key already holds and two ISO dates are most). The line is
 *
 *   ~ts|lat|lon|accuracyM|fix|battery|strap|seq|receivedAt[|extrasJson]
 *
 * with ts and receivedAt in epoch ms, numbers as JavaScript prints them (the shortest form that
 * reads back to the same double: lossless; only 1e-7 and the like are written 0.0000001), '' for
 * null, fix and strap as one letter, and the pass-through fields (if any) as JSON at the end (the
 * only field that may hold a '|').
 * Typically 60–80 bytes: under Redis' 64-byte listpack limit for many fixes, and no date
 * formatting per ping on the write path. decodePosition also reads the older JSON members.
 */
import type { FixSource, Ping } from '../../geo/types.ts';
import type { PositionWrite, StoredPosition } from '../../streams/ports.ts';
import { storedPosition } from './common.ts';
import { coordText, intText } from './number-text.ts';

const FIX_CODE: Record<FixSource, string> = { gps: 'g', wifi: 'w', cell: 'c', rf: 'r', none: 'n' };
const FIX_OF: Record<string, FixSource> = { g: 'gps', w: 'wifi', c: 'cell', r: 'rf', n: 'none' };

const num = (v: number | null): string => (v === null ? '' : String(v));
const coord = (v: number | null): string => (v === null ? '' : coordText(v));
const numOrNull = (s: string): number | null => (s === '' ? null : Number(s));

/** The trail member for a position received (committed) at `receivedAt` (epoch ms). */
export function encodePosition(p: PositionWrite, receivedAt: number): string {
  const g = p.ping;
  let line =
    '~' +
    intText(g.ts) +
    '|' +
    coord(g.lat) +
    '|' +
    coord(g.lon) +
    '|' +
    g.accuracyM +
    '|' +
    FIX_CODE[g.fix] +
    '|' +
    num(g.battery) +
    '|' +
    (g.strap === null ? '' : g.strap === 'ok' ? 'o' : 't') +
    '|' +
    num(g.seq) +
    '|' +
    intText(receivedAt);
  if (p.extras !== null) {
    for (const _ in p.extras) {
      line += '|' + JSON.stringify(p.extras);
      break;
    }
  }
  return line;
}

/** The stored position of a trail member of tag `tagId` (compact or the older JSON form). */
export function decodePosition(tagId: string, member: string): StoredPosition {
  if (member.charCodeAt(0) !== 126 /* ~ */) return JSON.parse(member) as StoredPosition;
  const f: string[] = [];
  let from = 1;
  for (let k = 0; k < 8; k++) {
    const at = member.indexOf('|', from);
    if (at < 0) throw new Error(`malformed trail member for ${tagId}: ${member.slice(0, 80)}`);
    f.push(member.slice(from, at));
    from = at + 1;
  }
  const bar = member.indexOf('|', from);
  const receivedAt = Number(bar < 0 ? member.slice(from) : member.slice(from, bar));
  const extras = bar < 0 ? null : (JSON.parse(member.slice(bar + 1)) as Record<string, unknown>);
  const strap = f[6];
  const ping: Ping = {
    tagId,
    ts: Number(f[0]),
    lat: numOrNull(f[1] as string),
    lon: numOrNull(f[2] as string),
    accuracyM: Number(f[3]),
    fix: FIX_OF[f[4] as string] ?? 'gps',
    battery: numOrNull(f[5] as string),
    strap: strap === '' ? null : strap === 'o' ? 'ok' : 'tampered',
    seq: numOrNull(f[7] as string),
  };
  return storedPosition(ping, extras, receivedAt);
}
