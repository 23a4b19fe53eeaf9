/**
 * One conformance suite, run against every CordonStore implementation: the embedded memory store
 * and the Redis store on a real redis-server (unique key prefix per test).
 */
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { CordonStore, AlertEvent, StoredTagState } from '../../streams/ports.ts';
import { BadCursorError, ConflictError, InvalidTransitionError, NotFoundError } from '../../streams/ports.ts';
import { waitFor } from '../support/redis.ts';
import { TestClock, engineAlert, memoryKit, ping, redisKit, zoneInput } from '../support/store-fixtures.ts';
import type { StoreKit } from '../support/store-fixtures.ts';

const kits: StoreKit[] = [memoryKit, redisKit(inject('redisUrl')), redisKit(inject('redisUrl'), { tagStateCache: 1000 })];

/** a loaded state and its revision (whether a store lends its objects is its own business) */
const stateRev = (s: StoredTagState | undefined) => s && { state: s.state, rev: s.rev };

describe.each(kits)('CordonStore conformance: $name', (kit) => {
  let clock: TestClock;
  let store: CordonStore;
  let twin: () => Promise<CordonStore>;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    clock = new TestClock();
    const made = await kit.make(clock, { positionRetentionMs: 3600_000, positionsMaxPerTag: 5 });
    store = made.store;
    twin = made.twin;
    cleanup = made.cleanup;
  });
  afterEach(async () => {
    await cleanup();
  });

  const subj = (tagId: string, over: Partial<{ name: string | null; timezone: string }> = {}) => ({
    tagId,
    name: over.name ?? null,
    orderRef: null,
    timezone: over.timezone ?? 'Europe/London',
  });

  describe('subjects', () => {
    it('creates, replaces, keeps createdAt and moves assignedAt only when the tag changes', async () => {
      const a = await store.putSubject('S1', subj('T1', { name: 'Bud' }));
      expect(a.created).toBe(true);
      expect(a.value).toMatchObject({ id: 'S1', tagId: 'T1', name: 'Bud', orderRef: null, timezone: 'Europe/London' });
      expect(a.value.createdAt).toBe(new Date(clock.t).toISOString());
      expect(a.value.assignedAt).toBe(a.value.createdAt);

      clock.advance(1000);
      const b = await store.putSubject('S1', subj('T1', { name: 'Bud 2' }));
      expect(b.created).toBe(false);
      expect(b.value.createdAt).toBe(a.value.createdAt);
      expect(b.value.assignedAt).toBe(a.value.assignedAt);
      expect(b.value.updatedAt).toBe(new Date(clock.t).toISOString());

      clock.advance(1000);
      const c = await store.putSubject('S1', subj('T2'));
      expect(c.value.assignedAt).toBe(new Date(clock.t).toISOString());
      expect(await store.subjectByTag('T1')).toBeNull();
      expect(await store.subjectByTag('T2')).toEqual({ tagId: 'T2', subjectId: 'S1', timezone: 'Europe/London', assignedAt: clock.t });
      expect(await store.getSubject('S1')).toEqual(c.value);
    });

    it('refuses a tag that belongs to another subject (ConflictError) and changes nothing', async () => {
      await store.putSubject('S1', subj('T1'));
      await expect(store.putSubject('S2', subj('T1'))).rejects.toBeInstanceOf(ConflictError);
      expect(await store.getSubject('S2')).toBeNull();
      expect((await store.subjectByTag('T1'))?.subjectId).toBe('S1');
    });

    it('delete frees the tag; get/delete of unknown ids answer null/false', async () => {
      await store.putSubject('S1', subj('T1'));
      expect(await store.deleteSubject('S1')).toBe(true);
      expect(await store.deleteSubject('S1')).toBe(false);
      expect(await store.getSubject('S1')).toBeNull();
      expect(await store.subjectByTag('T1')).toBeNull();
      await store.putSubject('S2', subj('T1'));
      expect((await store.subjectByTag('T1'))?.subjectId).toBe('S2');
      expect((await store.allAssignments()).map((c) => c.subjectId)).toEqual(['S2']);
    });

    it('lists by id with cursor pagination', async () => {
      for (const id of ['c', 'a', 'e', 'b', 'd']) await store.putSubject(id, subj('T-' + id));
      const p1 = await store.listSubjects({ limit: 2 });
      expect(p1.items.map((s) => s.id)).toEqual(['a', 'b']);
      expect(p1.nextCursor).not.toBeNull();
      const p2 = await store.listSubjects({ limit: 2, cursor: p1.nextCursor });
      expect(p2.items.map((s) => s.id)).toEqual(['c', 'd']);
      const p3 = await store.listSubjects({ limit: 2, cursor: p2.nextCursor });
      expect(p3.items.map((s) => s.id)).toEqual(['e']);
      expect(p3.nextCursor).toBeNull();
      await expect(store.listSubjects({ limit: 2, cursor: 'garbage!' })).rejects.toBeInstanceOf(BadCursorError);
    });

    it('a new assignment is due for a clock check at once (signal lost counts from assignment)', async () => {
      await store.putSubject('S1', subj('T1'));
      expect(await store.dueTags(clock.t, 10)).toEqual([{ tagId: 'T1', dueAt: clock.t }]);
      expect(await store.dueTags(clock.t - 1, 10)).toEqual([]);
    });
  });

  describe('zones', () => {
    it('puts versions with an audit of who/when/what; delete keeps the history', async () => {
      const t0 = clock.t;
      const v1 = await store.putZone('Z1', zoneInput(), { by: 'alice' });
      expect(v1.created).toBe(true);
      expect(v1.value).toMatchObject({ id: 'Z1', version: 1, updatedBy: 'alice', name: 'Victim home', subjectIds: ['S1'] });
      clock.advance(5000);
      const v2 = await store.putZone('Z1', zoneInput({ name: 'Home 2', subjectIds: [] }), { by: 'bob' });
      expect(v2.created).toBe(false);
      expect(v2.value.version).toBe(2);
      expect(v2.value.subjectIds).toEqual([]);
      expect(v2.value.createdAt).toBe(v1.value.createdAt);
      expect(v2.value.updatedAt).toBe(new Date(clock.t).toISOString());
      expect(await store.getZone('Z1')).toEqual(v2.value);

      clock.advance(5000);
      expect(await store.deleteZone('Z1', { by: 'carol' })).toBe(true);
      expect(await store.deleteZone('Z1', { by: 'carol' })).toBe(false);
      expect(await store.getZone('Z1')).toBeNull();

      const audit = await store.zoneVersions('Z1', { limit: 10 });
      expect(audit?.items.map((r) => [r.version, r.action, r.by])).toEqual([
        [1, 'created', 'alice'],
        [2, 'replaced', 'bob'],
        [3, 'deleted', 'carol'],
      ]);
      expect(audit?.items[1]?.zone.name).toBe('Home 2');
      const page = await store.zoneVersions('Z1', { limit: 2 });
      expect(page?.items.length).toBe(2);
      const rest = await store.zoneVersions('Z1', { limit: 2, cursor: page?.nextCursor });
      expect(rest?.items.map((r) => r.version)).toEqual([3]);
      expect(rest?.nextCursor).toBeNull();
      expect(await store.zoneVersions('nope', { limit: 10 })).toBeNull();

      const h = await store.zoneHistory('Z1');
      expect(h?.defs.map((d) => [d.version, d.effectiveFrom, d.name])).toEqual([
        [1, t0, 'Victim home'],
        [2, t0 + 5000, 'Home 2'],
      ]);
      expect(h?.deletedAt).toBe(t0 + 10_000);
      expect(h?.history.map((x) => x.def === null)).toEqual([false, false, true]);

      clock.advance(1000);
      const again = await store.putZone('Z1', zoneInput({ validFrom: '2026-01-01T00:00:00Z' }), { by: null });
      expect(again.created).toBe(true);
      expect(again.value.version).toBe(4);
      const all = await store.allZoneDefs();
      expect(all.length).toBe(1);
      expect(all[0]?.deletedAt).toBeNull();
      expect(all[0]?.defs.at(-1)?.validFrom).toBe(Date.parse('2026-01-01T00:00:00Z'));
    });

    it('lists live zones by id, filtered by subject, with pagination', async () => {
      await store.putZone('Z3', zoneInput({ subjectIds: ['S1', 'S2'] }), { by: null });
      await store.putZone('Z1', zoneInput({ subjectIds: ['S1'] }), { by: null });
      await store.putZone('Z2', zoneInput({ subjectIds: ['S2'] }), { by: null });
      await store.putZone('Z4', zoneInput({ subjectIds: ['S1'] }), { by: null });
      await store.deleteZone('Z4', { by: null });
      await store.putZone('Z1', zoneInput({ subjectIds: ['S2'] }), { by: null }); // moves off S1

      expect((await store.listZones({ limit: 10 })).items.map((z) => z.id)).toEqual(['Z1', 'Z2', 'Z3']);
      expect((await store.listZones({ limit: 10, subjectId: 'S1' })).items.map((z) => z.id)).toEqual(['Z3']);
      const p1 = await store.listZones({ limit: 2, subjectId: 'S2' });
      expect(p1.items.map((z) => z.id)).toEqual(['Z1', 'Z2']);
      const p2 = await store.listZones({ limit: 2, subjectId: 'S2', cursor: p1.nextCursor });
      expect(p2.items.map((z) => z.id)).toEqual(['Z3']);
      expect(p2.nextCursor).toBeNull();
    });

    it('tells config listeners, including another instance on the same backend', async () => {
      const other = await twin();
      const seenHere: string[] = [];
      const seenThere: string[] = [];
      const offHere = store.onConfigChange((c) => seenHere.push(`${c.kind}:${c.id}`));
      const offThere = other.onConfigChange((c) => seenThere.push(`${c.kind}:${c.id}`));
      if ('subscribed' in other) await (other as unknown as { subscribed(): Promise<void> }).subscribed();
      await store.putSubject('S1', subj('T1'));
      await store.putZone('Z1', zoneInput(), { by: null });
      await store.deleteZone('Z1', { by: null });
      expect(seenHere).toEqual(['subject:S1', 'zone:Z1', 'zone:Z1']);
      await waitFor(() => seenThere.length >= 3, 2000, 'config change on the other instance');
      expect(seenThere).toEqual(['subject:S1', 'zone:Z1', 'zone:Z1']);
      offHere();
      offThere();
      await store.putSubject('S2', subj('T2'));
      expect(seenHere.length).toBe(3);
    });
  });

  describe('tag state and batch commit', () => {
    it('stores states and due times; loads many in one call', async () => {
      await store.commitBatch({
        states: [
          { tagId: 'A', state: { n: 1, list: [] }, dueAt: clock.t + 10 },
          { tagId: 'B', state: { n: 2 }, dueAt: clock.t + 5 },
          { tagId: 'C', state: { n: 3 }, dueAt: null },
        ],
        changes: [],
        positions: [],
      });
      const m = await store.loadTagStates(['A', 'B', 'C', 'D']);
      expect(stateRev(m.get('A'))).toEqual({ state: { n: 1, list: [] }, rev: 1 });
      expect(stateRev(m.get('C'))).toEqual({ state: { n: 3 }, rev: 1 });
      expect(m.has('D')).toBe(false);
      const tags = async (now: number, limit = 10) => (await store.dueTags(now, limit)).map((d) => d.tagId);
      expect(await store.dueTags(clock.t + 10, 10)).toEqual([
        { tagId: 'B', dueAt: clock.t + 5 },
        { tagId: 'A', dueAt: clock.t + 10 },
      ]);
      expect(await tags(clock.t + 10, 1)).toEqual(['B']);
      await store.commitBatch({ states: [{ tagId: 'B', state: { n: 4 }, dueAt: null }], changes: [], positions: [] });
      expect(await tags(clock.t + 100)).toEqual(['A']);
      // a due-only write keeps the state
      await store.commitBatch({ states: [{ tagId: 'A', dueAt: clock.t + 50 }], changes: [], positions: [] });
      expect(stateRev((await store.loadTagStates(['A'])).get('A'))).toEqual({ state: { n: 1, list: [] }, rev: 1 });
      expect(await store.dueTags(clock.t + 100, 10)).toEqual([{ tagId: 'A', dueAt: clock.t + 50 }]);
    });

    it('tag state writes are compare-and-set on the revision; a conflicting tag is left out whole', async () => {
      const r1 = await store.commitBatch({ states: [{ tagId: 'A', state: { v: 1 }, expectRev: 0, dueAt: 100 }], changes: [], positions: [] });
      expect(r1.conflicts).toEqual([]);
      expect((await store.loadTagStates(['A'])).get('A')?.rev).toBe(1);
      const stale = engineAlert({ tagId: 'A' });
      const fresh = engineAlert({ tagId: 'B' });
      const r2 = await store.commitBatch({
        states: [
          { tagId: 'A', state: { v: 'stale' }, expectRev: 0, dueAt: 5 },
          { tagId: 'B', state: { v: 'b' }, expectRev: 0, dueAt: 6 },
        ],
        changes: [
          { kind: 'opened', alert: stale },
          { kind: 'opened', alert: fresh },
        ],
        positions: [
          { ping: ping('A', clock.t), extras: null },
          { ping: ping('B', clock.t), extras: null },
        ],
      });
      expect(r2.conflicts).toEqual(['A']);
      expect(r2.events.map((e) => e.alert.tagId)).toEqual(['B']);
      const m = await store.loadTagStates(['A', 'B']);
      expect(stateRev(m.get('A'))).toEqual({ state: { v: 1 }, rev: 1 });
      expect(stateRev(m.get('B'))).toEqual({ state: { v: 'b' }, rev: 1 });
      expect(await store.getAlert(stale.id)).toBeNull();
      expect(await store.positions('A', 0, clock.t, 10)).toEqual([]);
      expect(await store.positions('B', 0, clock.t, 10)).toHaveLength(1);
      expect(await store.dueTags(10, 10)).toEqual([{ tagId: 'B', dueAt: 6 }]);
      const r3 = await store.commitBatch({ states: [{ tagId: 'A', state: { v: 2 }, expectRev: 1, dueAt: 100 }], changes: [], positions: [] });
      expect(r3.conflicts).toEqual([]);
      expect(stateRev((await store.loadTagStates(['A'])).get('A'))).toEqual({ state: { v: 2 }, rev: 2 });
    });

    it('opens an alert once: a replayed open emits nothing', async () => {
      const events: AlertEvent[] = [];
      store.subscribeEvents((e) => events.push(e));
      if ('subscribed' in store) await (store as unknown as { subscribed(): Promise<void> }).subscribed();
      const a = engineAlert();
      const r1 = await store.commitBatch({ states: [], changes: [{ kind: 'opened', alert: a }], positions: [] });
      expect(r1.events.map((e) => e.type)).toEqual(['alert.opened']);
      expect(r1.alerts).toHaveLength(1);
      const got = r1.alerts[0];
      expect(got).toEqual({
        id: a.id,
        type: 'exclusion.breach',
        subjectId: 'S1',
        tagId: 'TAG-1',
        zoneId: 'Z1',
        zoneVersion: 1,
        severity: 'high',
        confidence: 'possible',
        trigger: 'entered',
        late: false,
        active: true,
        openedAt: new Date(a.openedAt).toISOString(),
        detectedAt: new Date(a.detectedAt).toISOString(),
        lastPingAt: new Date(a.openedAt).toISOString(),
        endedAt: null,
        pingCount: 1,
        firstPosition: { lat: 51.5, lon: -0.12, accuracyM: 8 },
        lastPosition: { lat: 51.5, lon: -0.12, accuracyM: 8 },
        status: 'open',
        acknowledgedBy: null,
        acknowledgedAt: null,
        resolvedBy: null,
        resolvedAt: null,
        outcome: null,
        notes: [],
      });
      expect(r1.events[0]?.alert).toEqual(got);
      expect(r1.events[0]?.createdAt).toBe(new Date(clock.t).toISOString());
      const r2 = await store.commitBatch({ states: [], changes: [{ kind: 'opened', alert: { ...a, detectedAt: a.detectedAt + 99 } }], positions: [] });
      expect(r2.events).toEqual([]);
      expect(await store.getAlert(a.id)).toEqual(got);
      expect((await store.readEventsAfter(null, 100)).length).toBe(1);
      await waitFor(() => events.length === 1, 2000, 'live event');
      expect(events[0]?.id).toBe(r1.events[0]?.id);
    });

    it('touch is silent, a confidence rise is one update, an end is one end; replays and stale changes do nothing', async () => {
      const a = engineAlert();
      await store.commitBatch({ states: [], changes: [{ kind: 'opened', alert: a }], positions: [] });
      const touched = { ...a, pingCount: 2, lastPingAt: a.openedAt + 60_000 };
      const r1 = await store.commitBatch({ states: [], changes: [{ kind: 'touched', alert: touched }], positions: [] });
      expect(r1.events).toEqual([]);
      expect((await store.getAlert(a.id))?.pingCount).toBe(2);

      const confirmed = { ...touched, pingCount: 3, confidence: 'confirmed' as const };
      const r2 = await store.commitBatch({ states: [], changes: [{ kind: 'updated', alert: confirmed }], positions: [] });
      expect(r2.events.map((e) => e.type)).toEqual(['alert.updated']);
      expect(r2.alerts[0]?.confidence).toBe('confirmed');
      const r3 = await store.commitBatch({ states: [], changes: [{ kind: 'updated', alert: confirmed }], positions: [] });
      expect(r3.events).toEqual([]);

      // an older change (fewer pings) is a replay of earlier work: ignored
      await store.commitBatch({ states: [], changes: [{ kind: 'touched', alert: touched }], positions: [] });
      expect((await store.getAlert(a.id))?.pingCount).toBe(3);

      const ended = { ...confirmed, active: false, endedAt: a.openedAt + 120_000 };
      const r4 = await store.commitBatch({ states: [], changes: [{ kind: 'ended', alert: ended }], positions: [] });
      expect(r4.events.map((e) => e.type)).toEqual(['alert.ended']);
      expect(r4.alerts[0]).toMatchObject({ active: false, endedAt: new Date(ended.endedAt).toISOString(), status: 'open' });
      const r5 = await store.commitBatch({ states: [], changes: [{ kind: 'ended', alert: ended }, { kind: 'touched', alert: confirmed }], positions: [] });
      expect(r5.events).toEqual([]);
      expect((await store.getAlert(a.id))?.active).toBe(false);
      // a change for an alert that was never opened is ignored
      const ghost = engineAlert({ openedAt: a.openedAt + 1 });
      const r6 = await store.commitBatch({ states: [], changes: [{ kind: 'touched', alert: ghost }], positions: [] });
      expect(r6.events).toEqual([]);
      expect(await store.getAlert(ghost.id)).toBeNull();
    });

    it('several changes to one alert in one batch: events in order, final state once in alerts', async () => {
      const a = engineAlert();
      const r = await store.commitBatch({
        states: [],
        changes: [
          { kind: 'opened', alert: a },
          { kind: 'updated', alert: { ...a, pingCount: 2, confidence: 'confirmed' } },
          { kind: 'ended', alert: { ...a, pingCount: 3, confidence: 'confirmed', active: false, endedAt: a.openedAt + 1 } },
        ],
        positions: [],
      });
      expect(r.events.map((e) => e.type)).toEqual(['alert.opened', 'alert.updated', 'alert.ended']);
      expect(r.alerts).toHaveLength(1);
      expect(r.alerts[0]).toMatchObject({ pingCount: 3, active: false, confidence: 'confirmed' });
    });

    it('a batch asking for no alerts writes and reports the same events, and leaves alerts empty', async () => {
      const a = engineAlert();
      const b = engineAlert({ tagId: 'BUD-2' });
      const r = await store.commitBatch({
        states: [],
        changes: [
          { kind: 'opened', alert: a },
          { kind: 'opened', alert: b },
          { kind: 'ended', alert: { ...a, pingCount: 2, active: false, endedAt: a.openedAt + 1 } },
        ],
        positions: [],
        alerts: false,
      });
      expect(r.events.map((e) => [e.type, e.alert.id])).toEqual([
        ['alert.opened', a.id],
        ['alert.opened', b.id],
        ['alert.ended', a.id],
      ]);
      expect(r.events[2]?.alert).toMatchObject({ pingCount: 2, active: false });
      expect(r.alerts).toEqual([]);
      // stored as with alerts asked for
      expect(await store.getAlert(a.id)).toMatchObject({ pingCount: 2, active: false, status: 'open' });
      expect(await store.getAlert(b.id)).toMatchObject({ pingCount: 1, active: true });
    });

    it('alerts in the result are final even when the last change was silent', async () => {
      const a = engineAlert();
      const r = await store.commitBatch({
        states: [],
        changes: [
          { kind: 'opened', alert: a },
          { kind: 'touched', alert: { ...a, pingCount: 2 } },
          { kind: 'touched', alert: { ...a, pingCount: 3, lastPingAt: a.openedAt + 5 } },
        ],
        positions: [],
      });
      expect(r.events.map((e) => e.alert.pingCount)).toEqual([1]);
      expect(r.alerts.map((x) => [x.pingCount, x.lastPingAt])).toEqual([[3, new Date(a.openedAt + 5).toISOString()]]);
      // a batch with only silent changes reports no alerts
      const quiet = await store.commitBatch({ states: [], changes: [{ kind: 'touched', alert: { ...a, pingCount: 4 } }], positions: [] });
      expect(quiet).toEqual({ conflicts: [], events: [], alerts: [] });
    });

    it('engine merges never overwrite the human fields', async () => {
      const a = engineAlert();
      await store.commitBatch({ states: [], changes: [{ kind: 'opened', alert: a }], positions: [] });
      await store.acknowledgeAlert(a.id, { by: 'mon1', note: 'calling' });
      await store.commitBatch({
        states: [],
        changes: [{ kind: 'updated', alert: { ...a, pingCount: 5, confidence: 'confirmed' } }],
        positions: [],
      });
      const got = await store.getAlert(a.id);
      expect(got).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'mon1', pingCount: 5, confidence: 'confirmed' });
      expect(got?.notes.map((n) => n.text)).toEqual(['calling']);
    });
  });

  describe('alerts', () => {
    async function seed() {
      const base = Date.parse('2026-03-01T00:00:00Z');
      const specs = [
        { tagId: 'T1', subjectId: 'S1', type: 'exclusion.breach' as const, openedAt: base + 1000 },
        { tagId: 'T2', subjectId: 'S2', type: 'tag.tamper' as const, openedAt: base + 2000 },
        { tagId: 'T1', subjectId: 'S1', type: 'tag.battery_low' as const, openedAt: base + 3000 },
        { tagId: 'T3', subjectId: 'S3', type: 'exclusion.breach' as const, openedAt: base + 3000 },
        { tagId: 'T2', subjectId: 'S2', type: 'exclusion.breach' as const, openedAt: base + 4000 },
      ];
      const alerts = specs.map((s) => engineAlert({ ...s, zoneId: s.type === 'exclusion.breach' ? 'Z1' : null }));
      await store.commitBatch({ states: [], changes: alerts.map((alert) => ({ kind: 'opened' as const, alert })), positions: [] });
      return { base, alerts };
    }

    it('lists newest first (openedAt desc, then id desc) and pages with a cursor', async () => {
      const { alerts } = await seed();
      const expected = [...alerts]
        .sort((x, y) => y.openedAt - x.openedAt || (y.id > x.id ? 1 : -1))
        .map((a) => a.id);
      const all = await store.listAlerts({ limit: 100 });
      expect(all.items.map((a) => a.id)).toEqual(expected);
      expect(all.nextCursor).toBeNull();
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 10; i++) {
        const p: Awaited<ReturnType<CordonStore['listAlerts']>> = await store.listAlerts({ limit: 2, cursor });
        seen.push(...p.items.map((a) => a.id));
        cursor = p.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(expected);
      await expect(store.listAlerts({ limit: 2, cursor: 'xx' })).rejects.toBeInstanceOf(BadCursorError);
    });

    it('filters by status, type, subjectId and since, alone and together', async () => {
      const { base, alerts } = await seed();
      await store.acknowledgeAlert(alerts[0]!.id, { by: 'm' });
      await store.resolveAlert(alerts[4]!.id, { by: 'm', outcome: 'false_alert' });
      const ids = async (q: Parameters<CordonStore['listAlerts']>[0]) => (await store.listAlerts(q)).items.map((a) => a.id);
      // equal openedAt: id desc (T3… before T1…)
      expect(await ids({ limit: 10, status: 'open' })).toEqual([alerts[3]!.id, alerts[2]!.id, alerts[1]!.id]);
      expect(await ids({ limit: 10, status: 'acknowledged' })).toEqual([alerts[0]!.id]);
      expect(await ids({ limit: 10, status: 'resolved' })).toEqual([alerts[4]!.id]);
      expect(await ids({ limit: 10, type: 'exclusion.breach' })).toEqual([alerts[4]!.id, alerts[3]!.id, alerts[0]!.id]);
      expect(await ids({ limit: 10, subjectId: 'S1' })).toEqual([alerts[2]!.id, alerts[0]!.id]);
      expect(await ids({ limit: 10, subjectId: 'S2', type: 'exclusion.breach' })).toEqual([alerts[4]!.id]);
      expect(await ids({ limit: 10, since: base + 3000 })).toHaveLength(3);
      expect(await ids({ limit: 10, since: base + 3000, type: 'exclusion.breach', status: 'open' })).toEqual([alerts[3]!.id]);
      const p1 = await store.listAlerts({ limit: 1, type: 'exclusion.breach' });
      const p2 = await store.listAlerts({ limit: 5, type: 'exclusion.breach', cursor: p1.nextCursor });
      expect([...p1.items, ...p2.items].map((a) => a.id)).toEqual([alerts[4]!.id, alerts[3]!.id, alerts[0]!.id]);
      expect(p2.nextCursor).toBeNull();
    });

    it('acknowledge and resolve are checked transitions that emit events', async () => {
      const { alerts } = await seed();
      const id = alerts[0]!.id;
      clock.advance(1000);
      const ack = await store.acknowledgeAlert(id, { by: 'mon1', note: 'on it' });
      expect(ack.alert).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'mon1', acknowledgedAt: new Date(clock.t).toISOString() });
      expect(ack.alert.notes).toEqual([{ at: new Date(clock.t).toISOString(), by: 'mon1', action: 'acknowledge', text: 'on it' }]);
      expect(ack.event.type).toBe('alert.acknowledged');
      expect(ack.event.alert).toEqual(ack.alert);
      await expect(store.acknowledgeAlert(id, { by: 'x' })).rejects.toBeInstanceOf(InvalidTransitionError);

      clock.advance(1000);
      const res = await store.resolveAlert(id, { by: 'mon2', outcome: 'reasonable_excuse', note: 'hospital' });
      expect(res.alert).toMatchObject({
        status: 'resolved',
        acknowledgedBy: 'mon1',
        resolvedBy: 'mon2',
        resolvedAt: new Date(clock.t).toISOString(),
        outcome: 'reasonable_excuse',
      });
      expect(res.alert.notes.map((n) => n.text)).toEqual(['on it', 'hospital']);
      expect(await store.getAlert(id)).toEqual(res.alert);
      await expect(store.resolveAlert(id, { by: 'x', outcome: 'false_alert' })).rejects.toBeInstanceOf(InvalidTransitionError);
      await expect(store.acknowledgeAlert(id, { by: 'x' })).rejects.toBeInstanceOf(InvalidTransitionError);
      await expect(store.acknowledgeAlert('nope', { by: 'x' })).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.resolveAlert('nope', { by: 'x', outcome: 'false_alert' })).rejects.toBeInstanceOf(NotFoundError);
      // open → resolved directly is allowed
      const direct = await store.resolveAlert(alerts[1]!.id, { by: 'm', outcome: 'equipment_fault' });
      expect(direct.alert).toMatchObject({ status: 'resolved', acknowledgedBy: null, notes: [] });
    });
  });

  describe('events', () => {
    it('are ordered with increasing ids and resume after any id', async () => {
      const base = engineAlert();
      for (let i = 0; i < 5; i++) {
        await store.commitBatch({ states: [], changes: [{ kind: 'opened', alert: engineAlert({ openedAt: base.openedAt + i }) }], positions: [] });
      }
      await store.acknowledgeAlert(engineAlert({ openedAt: base.openedAt + 2 }).id, { by: 'm' });
      const all = await store.readEventsAfter(null, 100);
      expect(all.map((e) => e.type)).toEqual([...Array(5).fill('alert.opened'), 'alert.acknowledged']);
      for (const e of all) expect(e.id).toMatch(/^\d+-\d+$/);
      const num = (id: string) => id.split('-').map(Number) as [number, number];
      for (let i = 1; i < all.length; i++) {
        const [a, b] = [num(all[i - 1]!.id), num(all[i]!.id)];
        expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])).toBe(true);
      }
      const after2 = await store.readEventsAfter(all[1]!.id, 2);
      expect(after2.map((e) => e.id)).toEqual([all[2]!.id, all[3]!.id]);
      expect(await store.readEventsAfter(all[5]!.id, 10)).toEqual([]);
      expect(all[5]!.alert.status).toBe('acknowledged');
      await expect(store.readEventsAfter('not-an-id', 10)).rejects.toBeInstanceOf(BadCursorError);
    });

    it('reach live subscribers on every instance', async () => {
      const other = await twin();
      const got: string[] = [];
      const off = other.subscribeEvents((e) => got.push(e.type + ' ' + e.alert.id));
      if ('subscribed' in other) await (other as unknown as { subscribed(): Promise<void> }).subscribed();
      const a = engineAlert();
      await store.commitBatch({ states: [], changes: [{ kind: 'opened', alert: a }], positions: [] });
      await store.resolveAlert(a.id, { by: 'm', outcome: 'false_alert' });
      await waitFor(() => got.length === 2, 2000, 'live events');
      expect(got).toEqual([`alert.opened ${a.id}`, `alert.resolved ${a.id}`]);
      off();
    });
  });

  describe('positions', () => {
    it('keeps the trail with extra fields, ignores duplicates, answers ranges in ts order', async () => {
      const t = clock.t;
      await store.commitBatch({
        states: [],
        changes: [],
        positions: [
          { ping: ping('T1', t - 3000), extras: { speed: 3, tagId: 'ignored' } },
          { ping: ping('T1', t - 1000), extras: null },
          { ping: ping('T1', t - 2000, { fix: 'none', lat: null, lon: null }), extras: null },
          { ping: ping('T2', t - 1000), extras: null },
          // a Kafka record's time, given as when it was received
          { ping: ping('T3', t - 5000), extras: null, receivedAt: t - 4000 },
        ],
      });
      await store.commitBatch({ states: [], changes: [], positions: [{ ping: ping('T1', t - 1000), extras: null }] });
      expect((await store.positions('T3', 0, t, 10)).map((p) => p.receivedAt)).toEqual([new Date(t - 4000).toISOString()]);
      const trail = await store.positions('T1', t - 10_000, t, 100);
      expect(trail.map((p) => Date.parse(p.ts))).toEqual([t - 3000, t - 2000, t - 1000]);
      expect(trail[0]).toMatchObject({ tagId: 'T1', speed: 3, lat: 51.5, lon: -0.12, accuracyM: 10, fix: 'gps', battery: 80, strap: 'ok', seq: null });
      expect(trail[1]).toMatchObject({ lat: null, lon: null, fix: 'none' });
      expect(trail[0]?.receivedAt).toBe(new Date(t).toISOString());
      expect((await store.positions('T1', t - 2000, t - 1500, 100)).length).toBe(1);
      expect((await store.positions('T1', t - 10_000, t, 2)).length).toBe(2);
      expect(await store.positions('nobody', 0, t, 100)).toEqual([]);
    });

    it('trims by retention and by the per-tag cap', async () => {
      const t = clock.t;
      await store.commitBatch({ states: [], changes: [], positions: [0, 1, 2].map((i) => ({ ping: ping('T1', t - 7200_000 + i), extras: null })) });
      // 3 positions older than the 1 h retention: hidden at once, trimmed on the next write
      expect(await store.positions('T1', 0, t, 100)).toEqual([]);
      await store.commitBatch({ states: [], changes: [], positions: [1, 2, 3, 4, 5, 6, 7].map((i) => ({ ping: ping('T1', t - i * 1000), extras: null })) });
      const trail = await store.positions('T1', 0, t, 100);
      expect(trail.map((p) => Date.parse(p.ts))).toEqual([5, 4, 3, 2, 1].map((i) => t - i * 1000));
    });
  });

  describe('coordination and lifecycle', () => {
    it('claim is a lease: one holder until it expires', async () => {
      expect(await store.claim('tick:T1', 40)).toBe(true);
      expect(await store.claim('tick:T1', 40)).toBe(false);
      const other = await twin();
      expect(await other.claim('tick:T1', 40)).toBe(false);
      expect(await store.claim('tick:T2', 40)).toBe(true);
      await waitFor(async () => {
        clock.advance(50);
        return other.claim('tick:T1', 40);
      }, 2000, 'lease expiry');
      expect(await store.claimMany(['tick:T1', 'tick:T3', 'tick:T3'], 10_000)).toEqual([false, true, false]);
    });

    it('ingest progress: the least unexpired report of every consumer, withdrawn by null', async () => {
      expect(await store.ingestProgress()).toBeNull();
      const other = await twin();
      const t = clock.now();
      await store.reportIngestProgress('c1', t - 5_000, 10_000);
      await other.reportIngestProgress('c2', t - 2_000, 30_000);
      expect(await store.ingestProgress()).toBe(t - 5_000);
      expect(await other.ingestProgress()).toBe(t - 5_000);
      // a later report replaces the consumer's earlier one
      await store.reportIngestProgress('c1', t - 1_000, 10_000);
      expect(await store.ingestProgress()).toBe(t - 2_000);
      // 0 (not known yet) holds everything back
      await store.reportIngestProgress('c3', 0, 10_000);
      expect(await store.ingestProgress()).toBe(0);
      await store.reportIngestProgress('c3', null, 10_000);
      expect(await store.ingestProgress()).toBe(t - 2_000);
      // c1's report expires (its consumer died): c2's alone is left, then none
      clock.advance(10_001);
      expect(await other.ingestProgress()).toBe(t - 2_000);
      clock.advance(20_000);
      expect(await store.ingestProgress()).toBeNull();
    });

    it('answers ping and closes idempotently', async () => {
      expect(await store.ping()).toBe(true);
      const other = await twin();
      await other.close();
      await other.close();
      if (other !== store) expect(await store.ping()).toBe(true);
    });
  });
});
