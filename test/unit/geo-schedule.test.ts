import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { activityInterval, activityIntervalCached, isActive, nextEdge, validateSchedule } from '../../geo/schedule.ts';
import type { Schedule, Weekday, ZoneDef } from '../../geo/types.ts';

const H = 3_600_000;
const Z = (iso: string): number => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`bad iso ${iso}`);
  return t;
};
const ALL: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function zone(schedule: Schedule | null, extra: Partial<ZoneDef> = {}): ZoneDef {
  return {
    id: 'z',
    version: 1,
    name: 'z',
    kind: 'inclusion',
    subjectIds: ['S1'],
    geometry: { type: 'Circle', center: [0, 51], radiusM: 100 },
    schedule,
    graceSeconds: 0,
    minConfidence: 'possible',
    validFrom: null,
    validTo: null,
    effectiveFrom: 0,
    ...extra,
  };
}

const curfew = (tz: string | null, days: Weekday[] = ALL): ZoneDef =>
  zone({ timezone: tz, windows: [{ days, start: '19:00', end: '07:00' }] });

/** Active interval that contains t, via nextEdge on both sides. */
function windowAround(def: ZoneDef, tz: string, t: number): [number, number] {
  const iv = activityInterval(def, tz, t);
  expect(iv.active).toBe(true);
  const end = nextEdge(def, tz, t);
  return [iv.from, end ?? Infinity];
}

describe('schedule: Europe/London clock changes', () => {
  const tz = 'Europe/London';
  const cases: [string, string, string, number][] = [
    // window start (UTC)             expected end (UTC)           label            hours
    ['2026-03-28T19:00:00Z', '2026-03-29T06:00:00Z', 'spring 2026', 11],
    ['2026-10-24T18:00:00Z', '2026-10-25T07:00:00Z', 'autumn 2026', 13],
    ['2027-03-27T19:00:00Z', '2027-03-28T06:00:00Z', 'spring 2027', 11],
    ['2027-10-30T18:00:00Z', '2027-10-31T07:00:00Z', 'autumn 2027', 13],
  ];
  for (const [start, end, label, hours] of cases) {
    it(`19:00–07:00 lasts ${hours} h over the ${label} change`, () => {
      const def = curfew(tz);
      const [from, to] = windowAround(def, tz, Z(start) + H);
      expect(new Date(from).toISOString()).toBe(new Date(Z(start)).toISOString());
      expect(new Date(to).toISOString()).toBe(new Date(Z(end)).toISOString());
      expect((to - from) / H).toBe(hours);
      expect(isActive(def, tz, Z(start) - 1)).toBe(false);
      expect(isActive(def, tz, Z(start))).toBe(true);
      expect(isActive(def, tz, Z(end) - 1)).toBe(true);
      expect(isActive(def, tz, Z(end))).toBe(false);
      // the ordinary night after is 12 h again
      const nextStart = nextEdge(def, tz, Z(end));
      expect(nextStart).not.toBeNull();
      expect((nextEdge(def, tz, nextStart!)! - nextStart!) / H).toBe(12);
    });
  }

  it('a start time inside the spring gap starts at the first instant after it', () => {
    const def = zone({ timezone: tz, windows: [{ days: ['sun'], start: '01:30', end: '03:00' }] });
    // 29 Mar 2026: 01:00 GMT jumps to 02:00 BST (01:00Z); 01:30 does not exist
    expect(nextEdge(def, tz, Z('2026-03-28T12:00:00Z'))).toBe(Z('2026-03-29T01:00:00Z'));
    expect(isActive(def, tz, Z('2026-03-29T00:59:59Z'))).toBe(false);
    expect(isActive(def, tz, Z('2026-03-29T01:00:00Z'))).toBe(true);
    expect(isActive(def, tz, Z('2026-03-29T01:59:59Z'))).toBe(true);
    expect(isActive(def, tz, Z('2026-03-29T02:00:00Z'))).toBe(false); // 03:00 BST
    // an ordinary Sunday: 01:30–03:00 GMT
    expect(nextEdge(def, tz, Z('2026-03-21T12:00:00Z'))).toBe(Z('2026-03-22T01:30:00Z'));
  });

  it('a start time that occurs twice (autumn) starts at its first occurrence', () => {
    const def = zone({ timezone: tz, windows: [{ days: ['sun'], start: '01:30', end: '03:00' }] });
    // 25 Oct 2026: 01:30 BST (00:30Z) and 01:30 GMT (01:30Z); window lasts 2.5 h
    const s = nextEdge(def, tz, Z('2026-10-24T12:00:00Z'));
    expect(s).toBe(Z('2026-10-25T00:30:00Z'));
    expect(nextEdge(def, tz, s!)).toBe(Z('2026-10-25T03:00:00Z'));
  });

  it('the schedule timezone wins over the subject timezone; absent, the subject one applies', () => {
    const own = curfew('Europe/London');
    const inherit = curfew(null);
    const t = Z('2026-01-15T19:30:00Z'); // 19:30 London, 14:30 New York
    expect(isActive(own, 'America/New_York', t)).toBe(true);
    expect(isActive(inherit, 'America/New_York', t)).toBe(false);
    expect(isActive(inherit, 'Europe/London', t)).toBe(true);
  });
});

describe('schedule: midnight-crossing windows belong to the start day', () => {
  const tz = 'Europe/London';
  const fri = zone({ timezone: tz, windows: [{ days: ['fri'], start: '22:00', end: '02:00' }] });
  it('Friday 22:00–02:00 covers early Saturday, not early Friday', () => {
    expect(isActive(fri, tz, Z('2026-01-09T21:59:00Z'))).toBe(false); // Fri 21:59
    expect(isActive(fri, tz, Z('2026-01-09T22:00:00Z'))).toBe(true);
    expect(isActive(fri, tz, Z('2026-01-10T01:59:00Z'))).toBe(true); // Sat 01:59
    expect(isActive(fri, tz, Z('2026-01-10T02:00:00Z'))).toBe(false);
    expect(isActive(fri, tz, Z('2026-01-09T01:00:00Z'))).toBe(false); // Fri 01:00 (Thu had none)
    expect(isActive(fri, tz, Z('2026-01-10T23:00:00Z'))).toBe(false); // Sat 23:00
  });
  it('start === end is a 24-hour window; adjacent windows merge into one interval', () => {
    const allDay = zone({ timezone: tz, windows: [{ days: ['mon', 'tue'], start: '00:00', end: '00:00' }] });
    // Mon 12 Jan 2026 00:00 → Wed 14 Jan 00:00 is one 48 h interval
    expect(nextEdge(allDay, tz, Z('2026-01-11T12:00:00Z'))).toBe(Z('2026-01-12T00:00:00Z'));
    expect(nextEdge(allDay, tz, Z('2026-01-12T00:00:00Z'))).toBe(Z('2026-01-14T00:00:00Z'));
  });
  it('every-day 24 h windows never change; nextEdge is validTo or null', () => {
    const always = zone({ timezone: tz, windows: [{ days: ALL, start: '00:00', end: '00:00' }] });
    expect(nextEdge(always, tz, Z('2026-01-11T12:00:00Z'))).toBeNull();
    const bounded = { ...always, validTo: Z('2027-06-01T00:00:00Z') };
    expect(nextEdge(bounded, tz, Z('2026-01-11T12:00:00Z'))).toBe(Z('2027-06-01T00:00:00Z'));
  });
});

describe('schedule: other time zones', () => {
  it('America/New_York: 21:00–06:00 lasts 8 h on 8 Mar 2026 and 10 h on 1 Nov 2026', () => {
    const tz = 'America/New_York';
    const def = curfewNY();
    function curfewNY(): ZoneDef {
      return zone({ windows: [{ days: ['sat'], start: '21:00', end: '06:00' }] });
    }
    const spring = windowAround(def, tz, Z('2026-03-08T03:00:00Z')); // Sat 7 Mar 22:00 EST
    expect(spring[0]).toBe(Z('2026-03-08T02:00:00Z'));
    expect(spring[1]).toBe(Z('2026-03-08T10:00:00Z'));
    const autumn = windowAround(def, tz, Z('2026-11-01T03:00:00Z')); // Sat 31 Oct 23:00 EDT
    expect(autumn[0]).toBe(Z('2026-11-01T01:00:00Z'));
    expect(autumn[1]).toBe(Z('2026-11-01T11:00:00Z'));
    expect((autumn[1] - autumn[0]) / H).toBe(10);
  });
  it('Australia/Sydney: clocks go back on 5 Apr 2026 and forward on 4 Oct 2026', () => {
    const tz = 'Australia/Sydney';
    const def = zone({ timezone: tz, windows: [{ days: ['sat'], start: '20:00', end: '08:00' }] });
    const april = windowAround(def, tz, Z('2026-04-04T10:00:00Z')); // Sat 4 Apr 21:00 AEDT
    expect(april[0]).toBe(Z('2026-04-04T09:00:00Z')); // 20:00 AEDT (+11)
    expect(april[1]).toBe(Z('2026-04-04T22:00:00Z')); // 08:00 AEST (+10)
    expect((april[1] - april[0]) / H).toBe(13);
    const october = windowAround(def, tz, Z('2026-10-03T11:00:00Z')); // Sat 3 Oct 21:00 AEST
    expect((october[1] - october[0]) / H).toBe(11);
  });
});

describe('schedule: validFrom / validTo', () => {
  const tz = 'Europe/London';
  it('an unscheduled zone is active exactly in [validFrom, validTo)', () => {
    const def = zone(null, { validFrom: Z('2026-02-01T00:00:00Z'), validTo: Z('2026-03-01T00:00:00Z') });
    expect(isActive(def, tz, Z('2026-01-31T23:59:59.999Z'))).toBe(false);
    expect(isActive(def, tz, Z('2026-02-01T00:00:00Z'))).toBe(true);
    expect(isActive(def, tz, Z('2026-02-28T23:59:59.999Z'))).toBe(true);
    expect(isActive(def, tz, Z('2026-03-01T00:00:00Z'))).toBe(false);
    expect(nextEdge(def, tz, Z('2026-01-01T00:00:00Z'))).toBe(Z('2026-02-01T00:00:00Z'));
    expect(nextEdge(def, tz, Z('2026-02-10T00:00:00Z'))).toBe(Z('2026-03-01T00:00:00Z'));
    expect(nextEdge(def, tz, Z('2026-03-10T00:00:00Z'))).toBeNull();
  });
  it('validity cuts windows: validFrom inside a window starts it, validTo inside ends it', () => {
    const def = { ...curfew(tz), validFrom: Z('2026-01-12T21:00:00Z'), validTo: Z('2026-01-14T22:00:00Z') };
    expect(isActive(def, tz, Z('2026-01-12T20:59:00Z'))).toBe(false);
    expect(nextEdge(def, tz, Z('2026-01-10T00:00:00Z'))).toBe(Z('2026-01-12T21:00:00Z'));
    expect(nextEdge(def, tz, Z('2026-01-12T21:00:00Z'))).toBe(Z('2026-01-13T07:00:00Z'));
    expect(nextEdge(def, tz, Z('2026-01-14T12:00:00Z'))).toBe(Z('2026-01-14T19:00:00Z'));
    expect(nextEdge(def, tz, Z('2026-01-14T19:00:00Z'))).toBe(Z('2026-01-14T22:00:00Z'));
    expect(nextEdge(def, tz, Z('2026-01-14T22:00:00Z'))).toBeNull();
    // validFrom during the day: the first edge is the next window start, not validFrom
    const day = { ...curfew(tz), validFrom: Z('2026-01-12T12:00:00Z') };
    expect(nextEdge(day, tz, Z('2026-01-10T00:00:00Z'))).toBe(Z('2026-01-12T19:00:00Z'));
  });
});

describe('schedule: memoised isActive agrees with an independent luxon oracle', () => {
  // Oracle: look at today's and yesterday's windows in luxon directly. Times are chosen
  // away from 01:00–02:59 so no gap/overlap resolution is needed by the oracle.
  function oracle(def: ZoneDef, tz: string, t: number): boolean {
    const s = def.schedule!;
    const zoneName = s.timezone ?? tz;
    const local = DateTime.fromMillis(t, { zone: zoneName });
    for (const back of [0, 1]) {
      const d = local.minus({ days: back }).startOf('day');
      const dow = ALL[d.weekday - 1]!;
      for (const w of s.windows) {
        if (!w.days.includes(dow)) continue;
        const [sh, sm] = w.start.split(':').map(Number) as [number, number];
        const [eh, em] = w.end.split(':').map(Number) as [number, number];
        const start = DateTime.fromObject({ year: d.year, month: d.month, day: d.day, hour: sh, minute: sm }, { zone: zoneName });
        const endDay = eh * 60 + em <= sh * 60 + sm ? d.plus({ days: 1 }) : d;
        const end = DateTime.fromObject({ year: endDay.year, month: endDay.month, day: endDay.day, hour: eh, minute: em }, { zone: zoneName });
        if (t >= start.toMillis() && t < end.toMillis()) return true;
      }
    }
    return false;
  }
  const hhmm = fc
    .tuple(fc.integer({ min: 3, max: 23 }), fc.constantFrom(0, 15, 30, 45))
    .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
  const windowArb = fc.record({ days: fc.subarray(ALL, { minLength: 1 }), start: hhmm, end: hhmm });
  it('for random windows, zones and instants across 2026–2027', () => {
    fc.assert(
      fc.property(
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('Europe/London', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata'),
        fc.array(fc.integer({ min: Z('2026-01-01T00:00:00Z'), max: Z('2027-12-31T00:00:00Z') }), { minLength: 1, maxLength: 20 }),
        (windows, tz, times) => {
          const def = zone({ windows });
          // sorted and shuffled instants both exercise the memo
          for (const t of [...times].sort((a, b) => a - b).concat(times)) {
            const want = oracle(def, tz, t);
            expect(isActive(def, tz, t)).toBe(want);
            const c = activityIntervalCached(def, tz, t);
            expect(c.active).toBe(want);
            expect(c.from <= t && t < c.to).toBe(true);
          }
          // nextEdge really is the first change
          const t0 = times[0]!;
          const e = nextEdge(def, tz, t0);
          if (e !== null) {
            expect(e).toBeGreaterThan(t0);
            expect(isActive(def, tz, e)).not.toBe(isActive(def, tz, t0));
            expect(isActive(def, tz, e - 1)).toBe(isActive(def, tz, t0));
          }
        },
      ),
      { seed: 20260329, numRuns: 120 },
    );
  }, 60_000);
});

describe('validateSchedule', () => {
  it('accepts a good schedule and null', () => {
    expect(validateSchedule(null)).toEqual([]);
    expect(validateSchedule({ timezone: 'Europe/London', windows: [{ days: ['mon'], start: '19:00', end: '07:00' }] })).toEqual([]);
  });
  it('names every problem with a code and a path', () => {
    const problems = validateSchedule({
      timezone: 'Mars/Olympus',
      windows: [
        { days: ['mon', 'funday'], start: '25:00', end: '7:00' },
        { days: [], start: '10:00', end: '11:00' },
        'x',
      ],
    });
    const summary = problems.map((p) => `${p.code}@${p.path.join('.')}`).sort();
    expect(summary).toEqual(
      [
        'invalid_timezone@timezone',
        'invalid_time@windows.0.start',
        'invalid_time@windows.0.end',
        'invalid_day@windows.0.days.1',
        'days_empty@windows.1.days',
        'invalid_type@windows.2',
      ].sort(),
    );
  });
  it('rejects a non-object and missing windows', () => {
    expect(validateSchedule(5)[0]?.code).toBe('invalid_type');
    expect(validateSchedule({})[0]?.path).toEqual(['windows']);
    expect(validateSchedule({ windows: [] })[0]?.code).toBe('windows_empty');
  });
});
