import { describe, expect, it } from 'vitest';
import { compileZone } from '../../geo/compile.ts';
import { alertId } from '../../geo/alert-id.ts';
import { applyPing, lastPosition, newestTs, newTagState, nextTickAt, tick, RECENT_TS_CAP } from '../../geo/tracker.ts';
import type { TagState } from '../../geo/tracker.ts';
import type { AlertChange, CompiledZone, Ping, TagContext, TrackerConfig, ZoneDef, ZoneLookup } from '../../geo/types.ts';

const S = 1000;
const MIN = 60 * S;
const T0 = Date.parse('2026-01-12T12:00:00Z'); // a Monday, London = UTC
const CENTER: [number, number] = [-0.1, 51.5];
const M_LAT = 111_250; // metres per degree of latitude near 51.5°N (close enough for test offsets)

const cfg: TrackerConfig = { batteryLowPct: 15, batteryClearPct: 20, signalLostAfterMs: 600 * S, noFixAfterMs: 900 * S };
const ctx: TagContext = { tagId: 'BUD-1', subjectId: 'S1', timezone: 'Europe/London', assignedAt: T0 - MIN };

/** A lookup over a fixed list of compiled versions (version in force = newest effectiveFrom <= at). */
class ListLookup implements ZoneLookup {
  constructor(private readonly zones: CompiledZone[]) {}
  private inForce(at: number): CompiledZone[] {
    const best = new Map<string, CompiledZone>();
    for (const z of this.zones) {
      const cur = best.get(z.id);
      if (z.def.effectiveFrom <= at && (!cur || z.def.effectiveFrom > cur.def.effectiveFrom)) best.set(z.id, z);
    }
    return [...best.values()];
  }
  candidates(subjectId: string, _lon: number, _lat: number, _r: number, at: number, out: CompiledZone[] = []): CompiledZone[] {
    out.length = 0;
    for (const z of this.inForce(at)) if (z.subjects.has(subjectId)) out.push(z);
    return out;
  }
  forSubject(subjectId: string, at: number): CompiledZone[] {
    return this.inForce(at).filter((z) => z.subjects.has(subjectId));
  }
  get(zoneId: string, at: number): CompiledZone | undefined {
    return this.inForce(at).find((z) => z.id === zoneId);
  }
}

function zoneDef(over: Partial<ZoneDef> = {}): ZoneDef {
  return {
    id: 'Z1',
    version: 1,
    name: 'victim home',
    kind: 'exclusion',
    subjectIds: ['S1'],
    geometry: { type: 'Circle', center: CENTER, radiusM: 200 },
    schedule: null,
    graceSeconds: 0,
    minConfidence: 'possible',
    validFrom: null,
    validTo: null,
    effectiveFrom: 0,
    ...over,
  };
}
const lookup = (...defs: Partial<ZoneDef>[]): ListLookup => new ListLookup(defs.map((d) => compileZone(zoneDef(d))));

/** A ping `northM` metres north of the zone centre. */
function ping(ts: number, northM: number | null, extra: Partial<Ping> = {}): Ping {
  return {
    tagId: ctx.tagId,
    ts,
    lat: northM === null ? null : CENTER[1] + northM / M_LAT,
    lon: northM === null ? null : CENTER[0],
    accuracyM: 10,
    fix: northM === null ? 'none' : 'gps',
    battery: null,
    strap: null,
    seq: null,
    ...extra,
  };
}
// distances from the centre of the 200 m circle
const IN = 0; // inside, certain
const OUT = 400; // outside, certain
const EDGE_IN = 195; // inside, uncertain (5 m from the edge, accuracy 10 m)
const EDGE_OUT = 205; // outside, uncertain

/**
 * Feed pings in order (arrival = ts + 1 s); returns the final state and every change except
 * signal_lost (tested on its own below: these scenarios jump hours between pings).
 */
function run(zones: ZoneLookup, pings: Ping[], state: TagState | null = null): { state: TagState; changes: AlertChange[] } {
  let s = state;
  const all: AlertChange[] = [];
  for (const p of pings) {
    const r = applyPing(s, p, ctx, zones, cfg, p.ts + S);
    s = r.state;
    all.push(...r.changes.filter((c) => c.alert.type !== 'tag.signal_lost'));
  }
  return { state: s ?? newTagState(ctx), changes: all };
}
const kinds = (cs: AlertChange[]): string[] => cs.map((c) => `${c.kind}:${c.alert.type}`);

describe('exclusion.breach', () => {
  const zones = lookup({});
  it('opens on an inside ping, touches on further ones, ends on a certain outside ping', () => {
    const r = run(zones, [ping(T0, OUT), ping(T0 + 10 * S, IN), ping(T0 + 20 * S, IN), ping(T0 + 30 * S, EDGE_OUT), ping(T0 + 40 * S, OUT)]);
    expect(kinds(r.changes)).toEqual(['opened:exclusion.breach', 'touched:exclusion.breach', 'ended:exclusion.breach']);
    const [opened, touched, ended] = r.changes.map((c) => c.alert);
    expect(opened).toMatchObject({
      trigger: 'entered', severity: 'high', confidence: 'confirmed', zoneId: 'Z1', zoneVersion: 1, late: false, active: true,
      openedAt: T0 + 10 * S, detectedAt: T0 + 11 * S, pingCount: 1, subjectId: 'S1', tagId: 'BUD-1',
    });
    expect(opened!.id).toBe(alertId('BUD-1', 'exclusion.breach', 'Z1', T0 + 10 * S));
    expect(touched).toMatchObject({ id: opened!.id, pingCount: 2, lastPingAt: T0 + 20 * S });
    expect(ended).toMatchObject({ id: opened!.id, active: false, endedAt: T0 + 40 * S, pingCount: 2 });
  });
  it('uncertain pings never end an episode; a certain inside ping raises confidence once (updated)', () => {
    const r = run(zones, [ping(T0, EDGE_IN), ping(T0 + 10 * S, EDGE_OUT), ping(T0 + 20 * S, EDGE_IN), ping(T0 + 30 * S, IN), ping(T0 + 40 * S, IN)]);
    expect(r.changes.map((c) => c.kind)).toEqual(['opened', 'touched', 'updated', 'touched']);
    expect(r.changes[0]!.alert.confidence).toBe('possible');
    expect(r.changes[2]!.alert.confidence).toBe('confirmed');
    expect(new Set(r.changes.map((c) => c.alert.id)).size).toBe(1);
  });
  it('minConfidence confirmed raises nothing until a certain ping, then opens at the first violating ping', () => {
    const z = lookup({ minConfidence: 'confirmed' });
    const r1 = run(z, [ping(T0, EDGE_IN), ping(T0 + 10 * S, EDGE_IN)]);
    expect(r1.changes).toEqual([]);
    const r2 = run(z, [ping(T0 + 20 * S, IN)], r1.state);
    expect(kinds(r2.changes)).toEqual(['opened:exclusion.breach']);
    expect(r2.changes[0]!.alert).toMatchObject({ openedAt: T0, confidence: 'confirmed', pingCount: 3 });
  });
  it('grace: opens once inside for graceSeconds of event time, openedAt = first inside ping', () => {
    const z = lookup({ graceSeconds: 60 });
    const r = run(z, [ping(T0, IN), ping(T0 + 30 * S, IN)]);
    expect(r.changes).toEqual([]);
    const r2 = run(z, [ping(T0 + 60 * S, IN)], r.state);
    expect(r2.changes[0]!.alert).toMatchObject({ openedAt: T0, pingCount: 3, lastPingAt: T0 + 60 * S });
    // a certain outside ping inside the grace period cancels it
    const r3 = run(z, [ping(T0, IN), ping(T0 + 30 * S, OUT), ping(T0 + 70 * S, IN), ping(T0 + 100 * S, IN)]);
    expect(r3.changes).toEqual([]);
  });
  it('grace expiry with no further ping is found by tick (waiting for the delivery lag too)', () => {
    const z = lookup({ graceSeconds: 60 });
    const r = run(z, [ping(T0, IN)]); // arrived 1 s after its ts
    expect(nextTickAt(r.state, ctx, z, cfg, T0 + S)).toBe(T0 + 61 * S);
    expect(tick(r.state, ctx, z, cfg, T0 + 60 * S).changes).toEqual([]);
    const t = tick(r.state, ctx, z, cfg, T0 + 61 * S);
    expect(kinds(t.changes)).toEqual(['opened:exclusion.breach']);
    expect(t.changes[0]!.alert).toMatchObject({ openedAt: T0, pingCount: 1, detectedAt: T0 + 61 * S });
    // a ping 30 s late in the pipe: the clock waits 60 + 30 s
    const slow = applyPing(null, ping(T0, IN), ctx, z, cfg, T0 + 30 * S);
    expect(tick(slow.state, ctx, z, cfg, T0 + 80 * S).changes).toEqual([]);
    expect(kinds(tick(slow.state, ctx, z, cfg, T0 + 90 * S).changes)).toEqual(['opened:exclusion.breach']);
    // the next inside ping joins the same alert
    const r2 = run(z, [ping(T0 + 90 * S, IN)], t.state);
    expect(r2.changes.map((c) => [c.kind, c.alert.id])).toEqual([['touched', t.changes[0]!.alert.id]]);
  });
  it('a scheduled exclusion zone ends its episode when the window ends (by ping and by tick)', () => {
    // active 09:00–13:00 London (UTC in January); T0 = 12:00
    const z = lookup({ schedule: { windows: [{ days: ['mon'], start: '09:00', end: '13:00' }] } });
    const end = T0 + 60 * MIN;
    const r = run(z, [ping(T0, IN), ping(end + 5 * MIN, IN)]);
    expect(kinds(r.changes)).toEqual(['opened:exclusion.breach', 'ended:exclusion.breach']);
    expect(r.changes[1]!.alert.endedAt).toBe(end);
    const r2 = run(z, [ping(T0, IN)]);
    expect(nextTickAt(r2.state, ctx, z, cfg, T0 + S)).toBe(T0 + S + cfg.signalLostAfterMs); // earlier
    expect(nextTickAt(r2.state, ctx, z, { ...cfg, signalLostAfterMs: 10 * 3_600_000 }, T0 + S)).toBe(end);
    const t = tick(r2.state, ctx, z, cfg, end + S);
    expect(t.changes.find((c) => c.kind === 'ended')?.alert.endedAt).toBe(end);
    // outside its window, inside pings raise nothing
    expect(run(z, [ping(end + 10 * MIN, IN)]).changes).toEqual([]);
  });
  it('a ping far from the zone (not a candidate) ends the episode as outside and certain', () => {
    const far: ZoneLookup = {
      candidates: (sub, lon, lat, r, at, out) => (lat > CENTER[1] + 0.01 ? ((out ?? []).length = 0, out ?? []) : zones.candidates(sub, lon, lat, r, at, out)),
      forSubject: (sub, at) => zones.forSubject(sub, at),
      get: (id, at) => zones.get(id, at),
    };
    const r = run(far, [ping(T0, IN), ping(T0 + 10 * S, 5000)]);
    expect(kinds(r.changes)).toEqual(['opened:exclusion.breach', 'ended:exclusion.breach']);
  });
});

describe('zone changes and reassignment', () => {
  it('a removed zone ends its open episode at the next ping; a reassigned tag starts afresh', () => {
    const z = lookup({});
    const r = run(z, [ping(T0, IN)]);
    expect(kinds(r.changes)).toEqual(['opened:exclusion.breach']);
    const gone = new ListLookup([]);
    const r2 = run(gone, [ping(T0 + 10 * S, IN)], r.state);
    expect(kinds(r2.changes)).toEqual(['ended:exclusion.breach']);
    expect(r2.changes[0]!.alert.endedAt).toBe(T0 + 10 * S);
    const other = applyPing(r.state, ping(T0 + 10 * S, IN), { ...ctx, subjectId: 'S2' }, lookup({ subjectIds: ['S2'] }), cfg, T0 + 11 * S);
    expect(other.state.subjectId).toBe('S2');
    expect(other.changes.filter((c) => c.kind === 'opened').map((c) => c.alert.subjectId)).toEqual(['S2']);
  });
});

describe('inclusion.breach', () => {
  // curfew 19:00–07:00 London, every day
  const curfew = { id: 'HOME', kind: 'inclusion' as const, schedule: { windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as ('mon')[], start: '19:00', end: '07:00' }] } };
  const z = lookup(curfew);
  const at19 = Date.parse('2026-01-12T19:00:00Z');
  it('opens (left) on an outside ping in the window, ends on a certain inside ping', () => {
    const r = run(z, [ping(at19 - MIN, OUT), ping(at19 + MIN, OUT), ping(at19 + 2 * MIN, EDGE_IN), ping(at19 + 3 * MIN, IN)]);
    // inside but uncertain is neither a violation nor an end
    expect(kinds(r.changes)).toEqual(['opened:inclusion.breach', 'ended:inclusion.breach']);
    expect(r.changes[1]!.alert.endedAt).toBe(at19 + 3 * MIN);
    expect(r.changes[0]!.alert).toMatchObject({ trigger: 'left', openedAt: at19 + MIN, confidence: 'confirmed', zoneId: 'HOME' });
  });
  it('window_started: tick at the window start with the last known position outside', () => {
    const r = run(z, [ping(at19 - 10 * MIN, OUT)]);
    expect(nextTickAt(r.state, ctx, z, cfg, at19 - 5 * MIN)).toBe(at19);
    expect(tick(r.state, ctx, z, cfg, at19 - S).changes.filter((c) => c.alert.type === 'inclusion.breach')).toEqual([]);
    const t = tick(r.state, ctx, z, cfg, at19);
    const opened = t.changes.filter((c) => c.alert.type === 'inclusion.breach');
    expect(opened.map((c) => c.kind)).toEqual(['opened']);
    expect(opened[0]!.alert).toMatchObject({ trigger: 'window_started', openedAt: at19, pingCount: 0, confidence: 'confirmed' });
    // a second tick in the same window raises nothing new
    const t2 = tick(t.state, ctx, z, cfg, at19 + MIN);
    expect(t2.changes.filter((c) => c.alert.type === 'inclusion.breach')).toEqual([]);
    // an outside ping joins it; an inside certain ping ends it
    const r2 = run(z, [ping(at19 + 2 * MIN, OUT), ping(at19 + 3 * MIN, IN)], t2.state);
    expect(r2.changes.map((c) => [c.kind, c.alert.id])).toEqual([
      ['touched', opened[0]!.alert.id],
      ['ended', opened[0]!.alert.id],
    ]);
    // last known position inside: no window_started
    const inside = run(z, [ping(at19 - 10 * MIN, IN)]);
    expect(tick(inside.state, ctx, z, cfg, at19 + S).changes.filter((c) => c.alert.type === 'inclusion.breach')).toEqual([]);
  });
  it('ends when the window ends', () => {
    const at07 = Date.parse('2026-01-13T07:00:00Z');
    const r = run(z, [ping(at07 - MIN, OUT)]);
    const t = tick(r.state, ctx, z, cfg, at07 + S);
    expect(t.changes.filter((c) => c.kind === 'ended').map((c) => c.alert.endedAt)).toEqual([at07]);
  });
});

describe('device alerts', () => {
  const z = lookup({});
  it('tamper opens on strap tampered and ends on strap ok', () => {
    const r = run(z, [ping(T0, OUT, { strap: 'tampered' }), ping(T0 + S, OUT, { strap: 'tampered' }), ping(T0 + 2 * S, OUT, { strap: 'ok' })]);
    expect(kinds(r.changes)).toEqual(['opened:tag.tamper', 'touched:tag.tamper', 'ended:tag.tamper']);
    expect(r.changes[0]!.alert).toMatchObject({ trigger: 'strap_tampered', severity: 'high', openedAt: T0, zoneId: null });
    expect(r.changes[2]!.alert.endedAt).toBe(T0 + 2 * S);
  });
  it('battery low at <= 15, clears only at >= 20 (hysteresis)', () => {
    const b = (ts: number, battery: number): Ping => ping(ts, OUT, { battery });
    const r = run(z, [b(T0, 16), b(T0 + S, 15), b(T0 + 2 * S, 19), b(T0 + 3 * S, 14), b(T0 + 4 * S, 20), b(T0 + 5 * S, 16)]);
    expect(kinds(r.changes)).toEqual(['opened:tag.battery_low', 'touched:tag.battery_low', 'ended:tag.battery_low']);
    expect(r.changes[2]!.alert.endedAt).toBe(T0 + 4 * S);
    expect(r.changes[0]!.alert).toMatchObject({ severity: 'low', openedAt: T0 + S, trigger: 'battery_low' });
  });
  it('signal lost: counted from assignment, then from the last arrival; ends at the next arrival', () => {
    const fresh = newTagState(ctx);
    const due = ctx.assignedAt + cfg.signalLostAfterMs;
    expect(nextTickAt(fresh, ctx, z, cfg, ctx.assignedAt)).toBe(due);
    expect(tick(fresh, ctx, z, cfg, due - 1).changes).toEqual([]);
    const t = tick(fresh, ctx, z, cfg, due);
    expect(kinds(t.changes)).toEqual(['opened:tag.signal_lost']);
    expect(t.changes[0]!.alert).toMatchObject({ openedAt: due, severity: 'medium', trigger: 'signal_lost' });
    // arrival (now), whatever the ping's event time, ends it
    const r = applyPing(t.state, ping(T0 - 30 * MIN, OUT), ctx, z, cfg, due + 5 * MIN);
    expect(kinds(r.changes)).toEqual(['ended:tag.signal_lost']);
    expect(r.changes[0]!.alert.endedAt).toBe(due + 5 * MIN);
    expect(nextTickAt(r.state, ctx, z, cfg, due + 5 * MIN)).toBe(due + 5 * MIN + cfg.signalLostAfterMs);
    // a ping arriving after the deadline with no tick in between still records the loss
    const late = applyPing(r.state, ping(T0, OUT), ctx, z, cfg, due + 5 * MIN + cfg.signalLostAfterMs + 1);
    expect(kinds(late.changes)).toEqual(['opened:tag.signal_lost', 'ended:tag.signal_lost']);
  });
  it('signal lost is judged on arrivals, not on when they are judged: a backlog is not silence, a gap in it is', () => {
    // pings arrived (reached Kafka) once a minute for 30 minutes, all judged an hour later
    const judgedAt = T0 + 90 * MIN;
    let s: TagState | null = null;
    for (let i = 0; i <= 30; i++) {
      const r = applyPing(s, ping(T0 + i * MIN - 5 * S, OUT), ctx, z, cfg, judgedAt, T0 + i * MIN);
      expect(r.changes).toEqual([]);
      s = r.state;
    }
    // the deadline counts from the last arrival (past: due at once, for a sweeper held back to the ingest's progress)
    expect(nextTickAt(s, ctx, z, cfg, T0 + 30 * MIN)).toBe(T0 + 30 * MIN + cfg.signalLostAfterMs);
    expect(nextTickAt(s, ctx, z, cfg, judgedAt)).toBe(judgedAt + 1);
    // then 11 minutes without an arrival, in the same backlog: lost at the deadline, found again at the arrival
    const gap = applyPing(s, ping(T0 + 41 * MIN - 5 * S, OUT), ctx, z, cfg, judgedAt, T0 + 41 * MIN);
    expect(kinds(gap.changes)).toEqual(['opened:tag.signal_lost', 'ended:tag.signal_lost']);
    expect(gap.changes[0]!.alert).toMatchObject({ openedAt: T0 + 30 * MIN + cfg.signalLostAfterMs, detectedAt: judgedAt });
    expect(gap.changes[1]!.alert.endedAt).toBe(T0 + 41 * MIN);
    // an arrival dated before the last one (another producer's clock) does not move the last arrival back
    const back = applyPing(gap.state, ping(T0 + 42 * MIN, OUT), ctx, z, cfg, judgedAt, T0 + 20 * MIN);
    expect(back.changes).toEqual([]);
    expect(nextTickAt(back.state, ctx, z, cfg, T0 + 41 * MIN)).toBe(T0 + 41 * MIN + cfg.signalLostAfterMs);
    // tick at an instant held back behind the wall clock: judged there, detected at the wall clock
    const held = tick(back.state, ctx, z, cfg, T0 + 51 * MIN, judgedAt);
    expect(kinds(held.changes)).toEqual(['opened:tag.signal_lost']);
    expect(held.changes[0]!.alert).toMatchObject({ openedAt: T0 + 51 * MIN, detectedAt: judgedAt });
    expect(tick(back.state, ctx, z, cfg, T0 + 51 * MIN - 1, judgedAt).changes).toEqual([]);
  });
  it('no fix: position-less pings for 15 min open it (tick), the next positioned ping ends it', () => {
    let s: TagState | null = applyPing(null, ping(T0, OUT), ctx, z, cfg, T0).state;
    for (let i = 1; i <= 16; i++) {
      const r = applyPing(s, ping(T0 + i * MIN, null), ctx, z, cfg, T0 + i * MIN);
      s = r.state;
      if (i < 15) expect(r.changes).toEqual([]);
    }
    // the 15th minute's heartbeat arrival found it due
    const all = run(z, []).changes;
    expect(all).toEqual([]);
    expect(s!.dev['tag.no_fix']).toBeDefined();
    expect(s!.dev['tag.no_fix']!.f).toBe(T0 + 15 * MIN);
    const r = applyPing(s, ping(T0 + 17 * MIN, OUT), ctx, z, cfg, T0 + 17 * MIN);
    expect(kinds(r.changes)).toEqual(['ended:tag.no_fix']);
  });
  it('no fix is found by tick between heartbeats, and not raised when nothing arrives', () => {
    const s1 = applyPing(null, ping(T0, OUT), ctx, z, cfg, T0).state;
    const s2 = applyPing(s1, ping(T0 + MIN, null), ctx, z, cfg, T0 + MIN).state;
    expect(nextTickAt(s2, ctx, z, cfg, T0 + MIN)).toBe(T0 + MIN + cfg.signalLostAfterMs);
    const t = tick(s2, ctx, z, cfg, T0 + 15 * MIN);
    expect(kinds(t.changes)).toEqual(['opened:tag.signal_lost', 'opened:tag.no_fix']);
    const silent = tick(s1, ctx, z, cfg, T0 + 15 * MIN);
    expect(kinds(silent.changes)).toEqual(['opened:tag.signal_lost']);
  });
});

describe('duplicates, late pings, state', () => {
  const z = lookup({});
  it('a duplicate (same ts) changes nothing, even when it is late', () => {
    const r = run(z, [ping(T0, IN), ping(T0 + 10 * S, IN), ping(T0 + 20 * S, IN)]);
    const dup = applyPing(r.state, ping(T0 + 20 * S, OUT), ctx, z, cfg, T0 + MIN);
    expect(dup.changes).toEqual([]);
    expect(dup.state).toBe(r.state);
    const lateDup = applyPing(r.state, ping(T0 + 10 * S, IN), ctx, z, cfg, T0 + MIN);
    expect(lateDup.changes).toEqual([]);
    expect(lateDup.state).toBe(r.state);
  });
  it('a late inside ping not covered by an alert raises a late alert that ends at the known exit', () => {
    const r = run(z, [ping(T0, OUT), ping(T0 + 100 * S, OUT)]);
    // tag was inside at T0+50s, uploaded late; nothing covers it
    const r2 = run(z, [ping(T0 + 50 * S, IN), ping(T0 + 60 * S, IN), ping(T0 + 70 * S, OUT)], r.state);
    const opened = r2.changes.filter((c) => c.kind === 'opened');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.alert).toMatchObject({ late: true, openedAt: T0 + 50 * S, trigger: 'entered' });
    expect(r2.changes.map((c) => c.kind)).toContain('ended');
    // the late pings did not rewind the current state
    expect(newestTs(r2.state)).toBe(T0 + 100 * S);
    expect(lastPosition(r2.state)?.ts).toBe(T0 + 100 * S);
  });
  it('consecutive late violating pings of one upload join one late episode', () => {
    const r = run(z, [ping(T0 + 1000 * S, OUT)]);
    const r2 = run(z, [10, 20, 30, 40].map((s) => ping(T0 + s * S, IN)), r.state);
    expect(r2.changes.map((c) => c.kind)).toEqual(['opened', 'touched', 'touched', 'touched']);
    expect(new Set(r2.changes.map((c) => c.alert.id)).size).toBe(1);
    expect(r2.changes[3]!.alert).toMatchObject({ late: true, pingCount: 4, lastPingAt: T0 + 40 * S, active: true });
    // the next live clearing ping ends it
    const r3 = run(z, [ping(T0 + 1010 * S, OUT)], r2.state);
    expect(kinds(r3.changes)).toEqual(['ended:exclusion.breach']);
  });
  it('a late ping covered by the open alert raises no second alert', () => {
    const r = run(z, [ping(T0, OUT), ping(T0 + 20 * S, IN), ping(T0 + 40 * S, IN)]);
    const r2 = run(z, [ping(T0 + 30 * S, IN)], r.state);
    expect(r2.changes.map((c) => c.kind)).toEqual(['touched']);
    expect(r2.changes[0]!.alert.lastPingAt).toBe(T0 + 40 * S); // not rewound
    const r3 = run(z, [ping(T0 + 50 * S, OUT), ping(T0 + 25 * S, IN)], r2.state);
    expect(r3.changes.map((c) => c.kind)).toEqual(['ended']); // the late one is covered by history
  });
  it('a late ping is judged against the zone version in force at its ts', () => {
    // v1 (until T0+500s) is here; v2 moved 5 km away
    const zv = new ListLookup([
      compileZone(zoneDef({ version: 1, effectiveFrom: 0 })),
      compileZone(zoneDef({ version: 2, effectiveFrom: T0 + 500 * S, geometry: { type: 'Circle', center: [CENTER[0], CENTER[1] + 0.05], radiusM: 200 } })),
    ]);
    const r = run(zv, [ping(T0 + 1000 * S, IN)]); // inside v1's place, outside v2
    expect(r.changes).toEqual([]);
    const r2 = run(zv, [ping(T0 + 100 * S, IN)], r.state);
    expect(r2.changes[0]!.alert).toMatchObject({ zoneVersion: 1, late: true });
  });
  it('never mutates the input state; state survives a JSON round trip; histories are bounded', () => {
    const r = run(z, [ping(T0, IN), ping(T0 + S, OUT, { strap: 'tampered' })]);
    const before = JSON.stringify(r.state);
    const next = run(z, [ping(T0 + 2 * S, IN), ping(T0 + 3 * S, OUT, { strap: 'ok' }), ping(T0 - 5 * S, IN)], r.state);
    expect(JSON.stringify(r.state)).toBe(before);
    const viaJson = run(z, [ping(T0 + 2 * S, IN), ping(T0 + 3 * S, OUT, { strap: 'ok' }), ping(T0 - 5 * S, IN)], JSON.parse(before) as TagState);
    expect(viaJson.changes).toEqual(next.changes);
    let s = next.state;
    for (let i = 0; i < 300; i++) s = run(z, [ping(T0 + (10 + i) * MIN, i % 2 ? IN : OUT)], s).state;
    expect(s.recent.length).toBeLessThanOrEqual(RECENT_TS_CAP);
    expect(s.zones.find((t) => t.id === "Z1")!.hist.length).toBeLessThanOrEqual(8);
    expect(JSON.stringify(s).length).toBeLessThan(8_000);
  });
});
