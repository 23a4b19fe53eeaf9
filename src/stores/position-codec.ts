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
import { ArgWriter } from './arg-writer.ts';

const FIX_OF: Record<string, FixSource> = { g: 'gps', w: 'wifi', c: 'cell', r: 'rf', n: 'none' };

const numOrNull = (s: string): number | null => (s === '' ? null : Number(s));

const FIX_BYTE: Record<FixSource, number> = { gps: 0x67, wifi: 0x77, cell: 0x63, rf: 0x72, none: 0x6e };
const BAR = 0x7c;

/** Writes the trail member for a position received (committed) at `receivedAt` (epoch ms) as one item of `w`. */
export function writePosition(w: ArgWriter, p: PositionWrite, receivedAt: number): void {
  const g = p.ping;
  w.char(0x7e /* ~ */).num(g.ts).char(BAR);
  if (g.lat !== null) w.coord(g.lat);
  w.char(BAR);
  if (g.lon !== null) w.coord(g.lon);
  w.char(BAR).num(g.accuracyM).char(BAR).char(FIX_BYTE[g.fix]).char(BAR);
  if (g.battery !== null) w.num(g.battery);
  w.char(BAR);
  if (g.strap !== null) w.char(g.strap === 'ok' ? 0x6f /* o */ : 0x74 /* t */);
  w.char(BAR);
  if (g.seq !== null) w.num(g.seq);
  w.char(BAR).num(receivedAt);
  if (p.extras !== null) {
    for (const _ in p.extras) {
      w.char(BAR).str(JSON.stringify(p.extras));
      break;
    }
  }
}

/** The trail member as a string (writePosition's bytes). */
export function encodePosition(p: PositionWrite, receivedAt: number): string {
  const w = new ArgWriter(true);
  writePosition(w, p, receivedAt);
  return w.done().toString('utf8');
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
