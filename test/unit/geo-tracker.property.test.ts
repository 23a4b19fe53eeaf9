/**
 * Property tests of the tracker (fast-check, fixed seeds): duplicates, boundary drift,
 * replay and out-of-order delivery.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileZone } from '../../geo/compile.ts';
import { compactTagState, decodeTagState, encodeTagState, TAG_STATE_MARK } from '../../geo/state-codec.ts';
import { applyPing, applyPingInPlace, tick } from '../../geo/tracker.ts';
import type { TagState } from '../../geo/tracker.ts';
import type { AlertChange, CompiledZone, Ping, TagContext, TrackerConfig, ZoneDef, ZoneLookup } from '../../geo/types.ts';

const S = 1000;
const T0 = Date.parse('2026-03-02T10:00:00Z');
const CENTER: [number, number] = [-1.5, 53.8];
const R = 150;
const M_LAT = 111_260;
const M_LON = M_LAT * Math.cos((CENTER[1] * Math.PI) / 180);

const cfg: TrackerConfig = { batteryLowPct: 15, batteryClearPct: 20, signalLostAfterMs: 600 * S, noFixAfterMs: 900 * S };
const ctx: TagContext = { tagId: 'T-9', subjectId: 'S9', timezone: 'Europe/London', assignedAt: T0 - S };

function def(over: Partial<ZoneDef>): ZoneDef {
  return {
    id: 'EX',
    version: 1,
    name: 'ex',
    kind: 'exclusion',
    subjectIds: ['S9'],
    geometry: { type: 'Circle', center: CENTER, radiusM: R },
    schedule: null,
    graceSeconds: 0,
    minConfidence: 'possible',
    validFrom: null,
    validTo: null,
    effectiveFrom: 0,
    ...over,
  };
}

function lookupOf(zones: CompiledZone[]): ZoneLookup {
  return {
    candidates: (subjectId, _lon, _lat, _r, _at, out = []) => {
      out.length = 0;
      for (const z of zones) if (z.subjects.has(subjectId)) out.push(z);
      return out;
    },
    forSubject: (subjectId) => zones.filter((z) => z.subjects.has(subjectId)),
    get: (id) => zones.find((z) => z.id === id),
  };
}

const exclusion = (graceSeconds = 0): ZoneLookup => lookupOf([compileZone(def({ graceSeconds }))]);
const both = lookupOf([
  compileZone(def({})),
  compileZone(def({ id: 'IN', kind: 'inclusion', geometry: { type: 'Circle', center: CENTER, radiusM: 600 } })),
]);

/** A ping at distance d (m) from the centre on bearing b (deg). */
function at(ts: number, d: number, b: number, acc: number, extra: Partial<Ping> = {}): Ping {
  const rad = (b * Math.PI) / 180;
  return {
    tagId: ctx.tagId,
    ts,
    lat: CENTER[1] + (d * Math.cos(rad)) / M_LAT,
    lon: CENTER[0] + (d * Math.sin(rad)) / M_LON,
    accuracyM: acc,
    fix: 'gps',
    battery: null,
    strap: null,
    seq: null,
    ...extra,
  };
}

type Place = 'in' | 'out' | 'edge';
/** certain inside, certain outside, or within the accuracy radius of the edge */
function place(ts: number, p: Place, b: number, acc: number, u: number): Ping {
  if (p === 'in') return at(ts, Math.max(0, R - acc - 30) * u, b, acc);
  if (p === 'out') return at(ts, R + acc + 30 + 200 * u, b, acc);
  return at(ts, R + (acc - 3) * (2 * u - 1), b, acc);
}

const pingSeq = fc
  .array(
    fc.record({
      gap: fc.integer({ min: 1, max: 90 }),
      p: fc.constantFrom<Place>('in', 'out', 'edge', 'in', 'out'),
      b: fc.integer({ min: 0, max: 359 }),
      acc: fc.integer({ min: 5, max: 40 }),
      u: fc.double({ min: 0, max: 1, noNaN: true }),
      strap: fc.constantFrom<Ping['strap']>(null, null, null, 'ok', 'tampered'),
      battery: fc.option(fc.integer({ min: 5, max: 40 }), { nil: null }),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((items) => {
    let ts = T0;
    return items.map((it) => {
      ts += it.gap * S;
      return { ...place(ts, it.p, it.b, it.acc, it.u), strap: it.strap, battery: it.battery };
    });
  });

/** 0–80 plain pings a minute apart, then a generated sequence: enough to fill the duplicate window (64) */
const longSeq = fc.tuple(fc.integer({ min: 0, max: 80 }), pingSeq).map(([n, seq]) => {
  const filler = Array.from({ length: n }, (_, i) => at(T0 + (i + 1) * 60 * S, 800, (i * 37) % 360, 10));
  return [...filler, ...seq.map((p) => ({ ...p, ts: p.ts + n * 60 * S }))];
});

/** deliver pings (arrival = index-based wall clock, always increasing) */
function deliver(zones: ZoneLookup, pings: Ping[], state: TagState | null = null, start = T0): { state: TagState | null; changes: AlertChange[] } {
  let s = state;
  const changes: AlertChange[] = [];
  pings.forEach((p, i) => {
    const r = applyPing(s, p, ctx, zones, cfg, start + i * 10 * S);
    s = r.state;
    changes.push(...r.changes);
  });
  return { state: s, changes };
}

/** the same state as version 1 wrote it: its numbers as named fields, null for none */
function toV1(s: TagState): TagState {
  const [newest, arr, fixArr, fl, cert, posTs, posLat, posLon, posAcc] = s.t.map((x) => (x === null || Number.isNaN(x) ? null : x));
  const v1 = { v: 1, tagId: s.tagId, subjectId: s.subjectId, newest, arr, fixArr, fl, cert, posTs, posLat: posLat ?? 0, posLon: posLon ?? 0, posAcc: posAcc ?? 0 };
  return { ...v1, recent: s.recent, recentOld: s.recentOld, zones: s.zones, dev: s.dev } as unknown as TagState;
}

const opened = (cs: AlertChange[], type?: string): AlertChange[] => cs.filter((c) => c.kind === 'opened' && (!type || c.alert.type === type));

describe('tracker properties', () => {
  it('any interleaving of duplicates gives the same alerts', () => {
    fc.assert(
      fc.property(pingSeq, fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 30 }), (pings, dups) => {
        const plain = deliver(both, pings).changes;
        // insert duplicates of already-delivered pings at random later points
        // (a duplicate of ping `src` is delivered after original ping `slot` >= src)
        const after = new Map<number, Ping[]>();
        for (const [a, b] of dups) {
          const src = a % pings.length;
          const slot = src + (b % (pings.length - src));
          after.set(slot, [...(after.get(slot) ?? []), { ...pings[src]! }]);
        }
        const stream: { p: Ping; dup: boolean }[] = [];
        pings.forEach((p, i) => {
          stream.push({ p, dup: false });
          for (const d of after.get(i) ?? []) stream.push({ p: d, dup: true });
        });
        // arrival clock: a real ping keeps its own arrival; duplicates arrive in between
        let s: TagState | null = null;
        let i = 0;
        const changes: AlertChange[] = [];
        for (const { p, dup } of stream) {
          const now = dup ? T0 + Math.max(0, i - 1) * 10 * S + 5 * S : T0 + i * 10 * S;
          const r = applyPing(s, p, ctx, both, cfg, now);
          if (dup) expect(r.changes).toEqual([]);
          s = r.state;
          changes.push(...r.changes);
          if (!dup) i++;
        }
        expect(changes).toEqual(plain);
      }),
      { seed: 4242, numRuns: 300 },
    );
  });

  it('drift within the accuracy radius around a boundary never opens a second alert', () => {
    const drift = fc.array(
      fc.record({ gap: fc.integer({ min: 1, max: 60 }), b: fc.integer({ min: 0, max: 359 }), acc: fc.integer({ min: 8, max: 50 }), u: fc.double({ min: 0, max: 1, noNaN: true }) }),
      { minLength: 2, maxLength: 80 },
    );
    fc.assert(
      fc.property(drift, fc.constantFrom(0, 30), (items, grace) => {
        let ts = T0;
        const pings = items.map((it) => {
          ts += it.gap * S;
          return place(ts, 'edge', it.b, it.acc, it.u);
        });
        const zones = exclusion(grace);
        const { changes } = deliver(zones, pings);
        const ex = changes.filter((c) => c.alert.type === 'exclusion.breach');
        expect(opened(ex).length).toBeLessThanOrEqual(1);
        expect(ex.filter((c) => c.kind === 'ended')).toEqual([]);
        // and the one alert exists once any drift ping was inside (grace 0)
        if (grace === 0) {
          const anyInside = pings.some((p) => Math.hypot((p.lat! - CENTER[1]) * M_LAT, (p.lon! - CENTER[0]) * M_LON) <= R - 1);
          if (anyInside) expect(opened(ex)).toHaveLength(1);
        }
      }),
      { seed: 777, numRuns: 300 },
    );
  });

  it('replaying the same pings from the same state gives the same alert ids (also via JSON)', () => {
    fc.assert(
      fc.property(pingSeq, fc.nat(), (pings, cut) => {
        const k = cut % (pings.length + 1);
        const prefix = deliver(both, pings.slice(0, k));
        const saved = JSON.stringify(prefix.state);
        const first = deliver(both, pings.slice(k), prefix.state, T0 + k * 10 * S);
        // the state we started from was not modified
        expect(JSON.stringify(prefix.state)).toBe(saved);
        const decoded = JSON.parse(saved) as TagState | null;
        const again = deliver(both, pings.slice(k), decoded, T0 + k * 10 * S);
        expect(JSON.stringify(decoded)).toBe(saved); // a decoded state (null for NaN) is not written into either
        expect(again.changes.map((c) => [c.kind, c.alert.id])).toEqual(first.changes.map((c) => [c.kind, c.alert.id]));
        // replay after a "crash" with a different arrival clock: same ids for zone/device alerts
        const shifted = deliver(both, pings.slice(k), JSON.parse(saved) as TagState | null, T0 + k * 10 * S + 1);
        const ids = (cs: AlertChange[]): string[] => opened(cs).filter((c) => c.alert.type !== 'tag.signal_lost' && c.alert.type !== 'tag.no_fix').map((c) => c.alert.id);
        expect(ids(shifted.changes)).toEqual(ids(first.changes));
        // a state stored before version 2 (numbers as named fields) carries on the same way
        if (prefix.state !== null && k < pings.length) {
          const old = toV1(JSON.parse(saved) as TagState);
          const oldJson = JSON.stringify(old);
          const v1 = deliver(both, pings.slice(k), old, T0 + k * 10 * S);
          expect(JSON.stringify(old)).toBe(oldJson);
          expect(v1.changes).toEqual(first.changes);
          expect(v1.state).toEqual(first.state);
        }
      }),
      { seed: 99, numRuns: 300 },
    );
  });

  it('a state through the stores\' compact text form is the same state and carries on the same way', () => {
    let compact = 0;
    fc.assert(
      fc.property(longSeq, fc.nat(), fc.array(fc.nat(), { maxLength: 12 }), (pings, cut, dupIdx) => {
        // duplicates and a late ping in the prefix fill both halves of the duplicate window
        const k = 1 + (cut % pings.length);
        const head = pings.slice(0, k);
        const extra = dupIdx.map((i) => ({ ...head[i % head.length]! }));
        const prefix = deliver(both, [...head, ...extra]);
        const state = prefix.state as TagState;
        const text = encodeTagState(state);
        if (text.startsWith('~')) compact++;
        // what a byte writer puts after the mark (the Redis commit) is the same text
        expect(String.fromCharCode(TAG_STATE_MARK) + compactTagState(state)).toBe(text);
        const back = decodeTagState(text) as TagState;
        expect(back).toEqual(state);
        expect(text.length).toBeLessThanOrEqual(JSON.stringify(state).length + 8);
        const rest = pings.slice(k);
        const a = deliver(both, rest, state, T0 + k * 10 * S);
        const b = deliver(both, rest, back, T0 + k * 10 * S);
        expect(b.changes).toEqual(a.changes);
        expect(b.state).toEqual(a.state);
        // the later state shares its older duplicate window with this one (made once, new base)
        expect(decodeTagState(encodeTagState(a.state as TagState))).toEqual(a.state);
        // and again after a tick (signal-lost and no-fix timers), which keeps the window
        const ticked = tick(back, ctx, both, cfg, T0 + 86_400 * S).state;
        expect(decodeTagState(encodeTagState(ticked))).toEqual(ticked);
      }),
      { seed: 7, numRuns: 300 },
    );
    // the compact form is what tracker states get (a fallback to JSON would pass the rest)
    expect(compact).toBe(300);
  });

  it('the compact form falls back to JSON for anything it cannot carry exactly, and reads what JSON wrote', () => {
    const s = deliver(both, [at(T0 + S, 500, 0, 10), at(T0 + 61 * S, 500, 0, 10)]).state as TagState;
    // a fractional time (a clock that is not whole milliseconds) would not survive the differences
    const frac = { ...s, t: s.t.map((x, i) => (i === 1 ? x + 0.25 : x)) };
    expect(encodeTagState(frac)).toBe(JSON.stringify(frac));
    expect(compactTagState(frac)).toBeNull();
    const fracRecent = { ...s, recent: [...s.recent, 1.5] };
    expect(encodeTagState(fracRecent)).toBe(JSON.stringify(fracRecent));
    // safe integers whose difference is not (it would round)
    const wide = { ...s, recent: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER] };
    expect(encodeTagState(wide)).toBe(JSON.stringify(wide));
    expect(decodeTagState(encodeTagState(wide))).toEqual(JSON.parse(JSON.stringify(wide)));
    // states written as JSON before (NaN stored as null, version 1) still load
    expect(decodeTagState(JSON.stringify(s))).toEqual(JSON.parse(JSON.stringify(s)));
    const v1 = toV1(s);
    expect(decodeTagState(encodeTagState(v1))).toEqual(JSON.parse(JSON.stringify(v1)));
    // a window list changed in place after it was written (the tracker replaces them; others may not)
    const long = deliver(both, Array.from({ length: 40 }, (_, i) => at(T0 + (i + 1) * 60 * S, 500, 0, 10))).state as TagState;
    expect(long.recentOld.length).toBeGreaterThan(1);
    expect(decodeTagState(encodeTagState(long))).toEqual(long);
    long.recentOld.push((long.recentOld.at(-1) as number) - 60 * S);
    expect(decodeTagState(encodeTagState(long))).toEqual(long);
    long.recentOld[0] = (long.recentOld[0] as number) - 1;
    expect(decodeTagState(encodeTagState(long))).toEqual(long);
    long.recentOld.push(0.5);
    expect(encodeTagState(long)).toBe(JSON.stringify(long));
    // a tag id that needs escaping
    const odd = { ...s, tagId: 'T"\\|~\u00e9\u2028' };
    expect(encodeTagState(odd).startsWith('~')).toBe(true);
    expect(decodeTagState(encodeTagState(odd))).toEqual(odd);
    // the silent tag's state before its first ping (no newest ts)
    const silent = tick(null, ctx, both, cfg, T0 + 3_600 * S).state;
    expect(decodeTagState(encodeTagState(silent))).toEqual(silent);
    // a compact text that is damaged is an error, not a wrong state
    expect(() => decodeTagState('~[2,"x"]')).toThrow(/version 3/);
    // values that are not tag states at all (a store's own tests write such blobs)
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(decodeTagState(encodeTagState(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  it('out-of-order delivery of a sequence never yields two alerts for one episode', () => {
    fc.assert(
      fc.property(pingSeq, fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), fc.constantFrom(0, 45), fc.boolean(), (pings, keys, grace, uploads) => {
        // true episodes in event-time order: runs between certain-outside pings that hold an inside ping
        const zones = exclusion(grace);
        const episodeOf = new Map<number, number>();
        let ep = 0;
        let inEpisode = false;
        for (const p of pings) {
          const d = Math.hypot((p.lat! - CENTER[1]) * M_LAT, (p.lon! - CENTER[0]) * M_LON);
          const inside = d <= R;
          const certainOut = d >= R + p.accuracyM + 1;
          if (certainOut) inEpisode = false;
          else if (inside) {
            if (!inEpisode) ep++;
            inEpisode = true;
            episodeOf.set(p.ts, ep);
          }
        }
        // delivery order: a random permutation, or buffered uploads (random chunks, uploads shuffled)
        let order: Ping[];
        if (!uploads) {
          order = pings.map((p, i) => ({ p, k: keys[i] ?? 0 })).sort((a, b) => a.k - b.k).map((x) => x.p);
        } else {
          const chunks: Ping[][] = [];
          let i = 0;
          let j = 0;
          while (i < pings.length) {
            const n = 1 + ((keys[j++] ?? 3) % 6);
            chunks.push(pings.slice(i, i + n));
            i += n;
          }
          order = chunks.map((c, ci) => ({ c, k: keys[(ci * 7) % 40] ?? 0 })).sort((a, b) => a.k - b.k).flatMap((x) => x.c);
        }
        const { changes } = deliver(zones, order);
        const perEpisode = new Map<number, number>();
        for (const c of opened(changes, 'exclusion.breach')) {
          const e = episodeOf.get(c.alert.openedAt);
          expect(e).toBeDefined(); // openedAt is always a violating ping's ts
          perEpisode.set(e!, (perEpisode.get(e!) ?? 0) + 1);
        }
        for (const n of perEpisode.values()) expect(n).toBe(1);
        // and in order, each episode with a certain... at least: no more alerts than episodes
        expect(opened(changes, 'exclusion.breach').length).toBeLessThanOrEqual(ep);
      }),
      { seed: 31337, numRuns: 400 },
    );
  });

  it('a backlog judged hours late, with its arrivals, gives the alerts it would have given on time (but for detectedAt)', () => {
    // detectedAt (alerts) and `d` (episodes) record when the service raised them: the one difference allowed
    const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'detectedAt' || k === 'd' ? undefined : x)));
    fc.assert(
      fc.property(pingSeq, fc.array(fc.nat({ max: 30 }), { minLength: 40, maxLength: 40 }), fc.integer({ min: 1, max: 6 * 3600 }), fc.constantFrom(both, exclusion(0), exclusion(45)), (pings, gaps, lagS, zones) => {
        let onTime: TagState | null = null;
        let late: TagState | null = null;
        let arrival = T0 + 600 * S;
        pings.forEach((p, i) => {
          // arrivals a few seconds to 12 minutes apart: some gaps lose the signal
          arrival += ((gaps[i] ?? 0) % 3 === 0 ? (gaps[i] ?? 0) * 24 : (gaps[i] ?? 0) + 1) * S;
          const a = applyPing(onTime, p, ctx, zones, cfg, arrival);
          const b = applyPing(late, p, ctx, zones, cfg, arrival + lagS * S, arrival);
          expect(strip(b.changes)).toEqual(strip(a.changes));
          expect(strip(b.state)).toEqual(strip(a.state));
          onTime = a.state;
          late = b.state;
        });
      }),
      { seed: 1204, numRuns: 300 },
    );
  });

  it('applyPingInPlace gives the same states and changes as applyPing, which never writes to its input', () => {
    const deepFreeze = <T>(o: T): T => {
      if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
        Object.freeze(o);
        for (const v of Object.values(o as object)) deepFreeze(v);
      }
      return o;
    };
    // pings of the usual sequences delivered out of order, with duplicates, some without a fix
    const mixed = fc.tuple(pingSeq, fc.array(fc.nat({ max: 1000 }), { minLength: 40, maxLength: 40 }), fc.array(fc.nat(), { maxLength: 12 })).map(([pings, keys, dups]) => {
      const order = pings.map((p, i) => ({ p, k: (keys[i] ?? 0) < 700 ? i : (keys[i] ?? 0) % pings.length })).sort((a, b) => a.k - b.k).map((x) => x.p);
      for (const d of dups) order.splice(d % (order.length + 1), 0, { ...order[d % order.length]! });
      return order.map((p, i) => ((keys[i] ?? 0) % 17 === 0 ? { ...p, lat: null, lon: null, fix: 'none' as const } : p));
    });
    fc.assert(
      fc.property(mixed, fc.constantFrom(both, exclusion(0), exclusion(45)), (pings, zones) => {
        let pure: TagState | null = null;
        let owned: TagState | null = null;
        pings.forEach((p, i) => {
          const now = T0 + 600 * S + i * 10 * S;
          const a = applyPing(pure === null ? null : deepFreeze(pure), p, ctx, zones, cfg, now);
          const b = applyPingInPlace(owned, p, ctx, zones, cfg, now);
          expect(b.duplicate).toBe(a.duplicate);
          expect(b.changes).toEqual(a.changes);
          expect(JSON.parse(JSON.stringify(b.state))).toEqual(JSON.parse(JSON.stringify(a.state)));
          pure = a.state;
          owned = b.state;
        });
        // tick is pure too: on a frozen state it writes nothing and agrees with a decoded copy
        if (pure !== null) {
          for (const later of [T0 + 2 * 3600 * S, T0 + 30 * 86_400 * S]) {
            const copy = JSON.parse(JSON.stringify(pure)) as TagState;
            expect(tick(deepFreeze(pure), ctx, zones, cfg, later)).toEqual(tick(copy, ctx, zones, cfg, later));
          }
        }
      }),
      { seed: 2026, numRuns: 300 },
    );
  });

  it('in-order delivery with grace 0 opens exactly one alert per episode', () => {
    fc.assert(
      fc.property(pingSeq, (pings) => {
        let ep = 0;
        let inEpisode = false;
        for (const p of pings) {
          const d = Math.hypot((p.lat! - CENTER[1]) * M_LAT, (p.lon! - CENTER[0]) * M_LON);
          if (d >= R + p.accuracyM + 1) inEpisode = false;
          else if (d <= R) {
            if (!inEpisode) ep++;
            inEpisode = true;
          }
        }
        const { changes } = deliver(exclusion(0), pings);
        expect(opened(changes, 'exclusion.breach')).toHaveLength(ep);
      }),
      { seed: 5, numRuns: 300 },
    );
  });
});
