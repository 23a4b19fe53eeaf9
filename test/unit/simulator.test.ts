import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyPing, compileZone, judge, ZoneIndex, type CompiledZone, type Ping, type TagState, type Weekday, type ZoneDef } from '../../geo/mod.ts';
import { compareAlerts, DEFAULT_RATES, Simulation, type SimConfig, type SimRates, type SimZone, type Upload, type WirePing } from '../../bench/simulate/model.ts';

// 08:00 UTC on a Monday in November (GMT = UTC), so one run covers a day and a curfew night.
const START = Date.UTC(2026, 10, 23, 8, 0);
const NONE: SimRates = { exclusionVisit: 0, curfewBreach: 0, tamper: 0, flatBattery: 0, signalLoss: 0, disorder: 0 };

function run(cfg: Partial<SimConfig> & { rates?: Partial<SimRates> }): { sim: Simulation; uploads: Upload[] } {
  const sim = new Simulation({ seed: 7, subjects: 20, startMs: START, durationMin: 24 * 60, idPrefix: 't-', ...cfg });
  return { sim, uploads: [...sim.uploads()] };
}

function toDef(z: SimZone): ZoneDef {
  return {
    id: z.id,
    version: 1,
    name: z.body.name,
    kind: z.body.kind,
    subjectIds: z.body.subjectIds,
    geometry: z.body.geometry,
    schedule: z.body.schedule ? { timezone: z.body.schedule.timezone, windows: z.body.schedule.windows.map((w) => ({ ...w, days: w.days as Weekday[] })) } : null,
    graceSeconds: z.body.graceSeconds,
    minConfidence: z.body.minConfidence,
    validFrom: null,
    validTo: null,
    effectiveFrom: 0,
  };
}

function toPing(p: WirePing): Ping {
  return {
    tagId: p.tagId,
    ts: typeof p.ts === 'number' ? p.ts : Date.parse(p.ts),
    lat: p.lat ?? null,
    lon: p.lon ?? null,
    accuracyM: p.accuracyM ?? 10,
    fix: p.fix,
    battery: p.battery,
    strap: p.strap,
    seq: p.seq,
  };
}

const tsOf = (p: WirePing) => (typeof p.ts === 'number' ? p.ts : Date.parse(p.ts));

describe('tag simulator model', () => {
  it('is deterministic for a seed and differs for another seed', () => {
    const digest = (seed: number) => {
      const { sim, uploads } = run({ seed, subjects: 10 });
      const h = createHash('sha256');
      h.update(JSON.stringify(sim.subjects));
      for (const u of uploads) h.update(JSON.stringify([u.arrivalMs, u.pings]));
      h.update(JSON.stringify(sim.expected()));
      return h.digest('hex');
    };
    expect(digest(3)).toBe(digest(3));
    expect(digest(3)).not.toBe(digest(4));
  });

  it('records one fix a minute per tag with accuracy from the fix source, and batches uploads of 1–10 minutes', () => {
    const { uploads } = run({ rates: { ...NONE } });
    const byTag = new Map<string, number[]>();
    let last = -Infinity;
    for (const u of uploads) {
      expect(u.arrivalMs).toBeGreaterThanOrEqual(last); // yielded in arrival order
      last = u.arrivalMs;
      expect(u.pings.length).toBeGreaterThanOrEqual(1);
      expect(u.pings.length).toBeLessThanOrEqual(10);
      for (const p of u.pings) {
        const list = byTag.get(p.tagId) ?? [];
        list.push(tsOf(p));
        byTag.set(p.tagId, list);
        if (p.fix === 'none') {
          expect(p.lat).toBeUndefined();
          continue;
        }
        const [lo, hi] = p.fix === 'gps' ? [3, 15] : p.fix === 'wifi' ? [15, 60] : [300, 1000];
        expect(p.accuracyM).toBeGreaterThanOrEqual(lo);
        expect(p.accuracyM).toBeLessThanOrEqual(hi);
      }
    }
    expect(byTag.size).toBe(20);
    for (const list of byTag.values()) {
      expect(list.length).toBeGreaterThan(24 * 60 - 15); // all but the unsent tail
      for (let i = 1; i < list.length; i++) expect((list[i] as number) - (list[i - 1] as number)).toBe(60_000);
    }
  });

  it('a quiet population expects no alerts and never reports a position inside an exclusion zone', () => {
    const { sim, uploads } = run({ subjects: 30, rates: { ...NONE } });
    expect(sim.expected()).toEqual([]);
    const zones = new Map<string, CompiledZone[]>();
    for (const s of sim.subjects) zones.set(s.tagId, s.zones.filter((z) => z.body.kind === 'exclusion').map((z) => compileZone(toDef(z))));
    let checked = 0;
    for (const u of uploads)
      for (const p of u.pings) {
        if (p.lat === undefined || p.lon === undefined) continue;
        for (const z of zones.get(p.tagId) ?? []) {
          expect(judge(z, p.lon, p.lat, p.accuracyM ?? 10).inside).toBe(false);
          checked++;
        }
      }
    expect(checked).toBeGreaterThan(30 * 1000);
  });

  it('a subject scripted to enter an exclusion zone produces exactly that breach in the expected set', () => {
    const { sim, uploads } = run({ subjects: 1, durationMin: 14 * 60, rates: { ...NONE, exclusionVisit: 1 } });
    const subject = sim.subjects[0]!;
    const expected = sim.expected();
    expect(expected).toHaveLength(1);
    const e = expected[0]!;
    expect(e.type).toBe('exclusion.breach');
    expect(e.subjectId).toBe(subject.id);
    const zone = subject.zones.find((z) => z.id === e.zoneId)!;
    expect(zone.body.kind).toBe('exclusion');
    // the pings themselves show the visit: some are certainly inside that zone
    const compiled = compileZone(toDef(zone));
    const certainInside = uploads.flatMap((u) => u.pings).filter((p) => p.lat !== undefined && judge(compiled, p.lon!, p.lat!, p.accuracyM!).inside && judge(compiled, p.lon!, p.lat!, p.accuracyM!).certain);
    expect(certainInside.length).toBeGreaterThanOrEqual(5);
  });

  it('tampers, flat batteries, signal loss and disorder show up in what is sent', () => {
    const { sim, uploads } = run({ subjects: 60, rates: { ...DEFAULT_RATES, tamper: 0.3, flatBattery: 0.3, signalLoss: 0.3, disorder: 0.2 } });
    const pings = uploads.flatMap((u) => u.pings);
    expect(pings.some((p) => p.strap === 'tampered')).toBe(true);
    expect(pings.some((p) => p.battery <= 15)).toBe(true);
    expect(uploads.some((u) => u.pings.length > 20)).toBe(true); // a buffered burst after signal loss
    expect(sim.stats.shuffledUploads).toBeGreaterThan(0);
    expect(sim.stats.lateUploads).toBeGreaterThan(0);
    const types = new Set(sim.expected().map((e) => e.type));
    expect(types).toEqual(new Set(['exclusion.breach', 'inclusion.breach', 'tag.tamper', 'tag.battery_low']));
  });

  it("the engine raises exactly the simulator's expected alerts (pings fed in arrival order)", () => {
    const { sim, uploads } = run({ seed: 11, subjects: 80, rates: { ...DEFAULT_RATES, exclusionVisit: 0.3, curfewBreach: 0.3, tamper: 0.1, flatBattery: 0.15 } });
    const index = new ZoneIndex();
    index.load(sim.zones.map((z) => compileZone(toDef(z))));
    const ctx = new Map(sim.subjects.map((s) => [s.tagId, { tagId: s.tagId, subjectId: s.id, timezone: s.timezone, assignedAt: START - 60_000 }]));
    const cfg = { batteryLowPct: 15, batteryClearPct: 20, signalLostAfterMs: 600_000, noFixAfterMs: 900_000 };
    const states = new Map<string, TagState>();
    const opened: { subjectId: string; type: string; zoneId: string | null }[] = [];
    for (const u of uploads) {
      for (const p of u.pings) {
        const r = applyPing(states.get(p.tagId) ?? null, toPing(p), ctx.get(p.tagId)!, index, cfg, u.arrivalMs);
        states.set(p.tagId, r.state);
        for (const c of r.changes) if (c.kind === 'opened') opened.push(c.alert);
      }
    }
    const cmp = compareAlerts(sim.expected(), opened);
    expect(cmp.missing).toEqual([]);
    expect(cmp.unexpected).toEqual([]);
    expect(cmp.byType['exclusion.breach']!.expected).toBeGreaterThan(5);
    expect(cmp.byType['inclusion.breach']!.expected).toBeGreaterThan(5);
    expect(cmp.byType['tag.tamper']!.expected).toBeGreaterThan(0);
    expect(cmp.byType['tag.battery_low']!.expected).toBeGreaterThan(0);
  });
});
