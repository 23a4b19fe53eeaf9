/** Shared fixtures for the store conformance suite and the pipeline/sweeper tests. */
import { randomUUID } from 'node:crypto';
import type { EngineAlert, Ping } from '../../geo/types.ts';
import type { Clock, CordonStore, StoreOptions, ZoneInput } from '../../streams/ports.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { compileZone } from '../../geo/compile.ts';
import { ZoneIndex } from '../../geo/zone-index.ts';
import type { TrackerConfig } from '../../geo/types.ts';

export class TestClock implements Clock {
  constructor(public t = Date.parse('2026-03-02T10:00:00Z')) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
}

export interface StoreKit {
  name: 'memory' | 'redis' | 'redis with a tag-state cache';
  /** a fresh, empty store; `shared` = a second instance over the same data (memory: the same object) */
  make(clock: Clock, opts?: StoreOptions): Promise<{ store: CordonStore; twin(): Promise<CordonStore>; cleanup(): Promise<void> }>;
}

export const memoryKit: StoreKit = {
  name: 'memory',
  async make(clock, opts = {}) {
    const store = createMemoryStore({ clock, ...opts });
    return { store, twin: async () => store, cleanup: () => store.close() };
  },
};

/** `tagStateCache`: each store of the kit keeps that many tag states (a Kafka consumer's store) */
export function redisKit(url: string, kitOpts: { tagStateCache?: number } = {}): StoreKit {
  return {
    name: kitOpts.tagStateCache ? 'redis with a tag-state cache' : 'redis',
    async make(clock, opts = {}) {
      const prefix = `t:${randomUUID().slice(0, 8)}:`;
      const all: CordonStore[] = [];
      const mk = async () => {
        const s = await createRedisStore({ url, clock, prefix, eventsKey: prefix + 'events', ...kitOpts, ...opts });
        all.push(s);
        return s;
      };
      const store = await mk();
      return {
        store,
        twin: mk,
        cleanup: async () => {
          const r = (store as unknown as { redis: import('ioredis').Redis }).redis;
          const keys = await r.keys(prefix + '*');
          if (keys.length) await r.del(...keys);
          for (const s of all) await s.close();
        },
      };
    },
  };
}

export function ping(tagId: string, ts: number, extra: Partial<Ping> = {}): Ping {
  return { tagId, ts, lat: 51.5, lon: -0.12, accuracyM: 10, fix: 'gps', battery: 80, strap: 'ok', seq: null, ...extra };
}

export function engineAlert(over: Partial<EngineAlert> = {}): EngineAlert {
  const openedAt = over.openedAt ?? Date.parse('2026-03-02T09:00:00Z');
  const tagId = over.tagId ?? 'TAG-1';
  return {
    id: `${tagId}:${over.zoneId ?? 'Z1'}:${openedAt}`,
    type: 'exclusion.breach',
    subjectId: 'S1',
    tagId,
    zoneId: 'Z1',
    zoneVersion: 1,
    severity: 'high',
    confidence: 'possible',
    trigger: 'entered',
    late: false,
    active: true,
    openedAt,
    detectedAt: openedAt + 1000,
    lastPingAt: openedAt,
    endedAt: null,
    pingCount: 1,
    firstPosition: { lat: 51.5, lon: -0.12, accuracyM: 8 },
    lastPosition: { lat: 51.5, lon: -0.12, accuracyM: 8 },
    ...over,
  };
}

export function zoneInput(over: Partial<ZoneInput> = {}): ZoneInput {
  return {
    name: 'Victim home',
    kind: 'exclusion',
    subjectIds: ['S1'],
    geometry: { type: 'Circle', center: [-0.12, 51.5], radiusM: 250 },
    schedule: null,
    graceSeconds: 0,
    minConfidence: 'possible',
    validFrom: null,
    validTo: null,
    ...over,
  };
}

// ---- engine wiring for pipeline and sweeper tests


export const TRACKER_CONFIG: TrackerConfig = {
  batteryLowPct: 15,
  batteryClearPct: 20,
  signalLostAfterMs: 600_000,
  noFixAfterMs: 900_000,
};

/** Centre of the test exclusion zone Z1 (a 250 m circle) and a point 5 km away. */
export const INSIDE = { lat: 51.5, lon: -0.12 };
export const FAR = { lat: 51.545, lon: -0.12 };

/**
 * A subject S1 wearing tagId, an exclusion zone Z1 around INSIDE for it, and a ZoneIndex holding
 * the zone (as the service would load it).
 */
export async function seedEngine(store: CordonStore, tagId = 'T1', zone: Partial<ZoneInput> = {}): Promise<ZoneIndex> {
  await store.putSubject('S1', { tagId, name: null, orderRef: null, timezone: 'Europe/London' });
  await store.putZone('Z1', zoneInput({ geometry: { type: 'Circle', center: [INSIDE.lon, INSIDE.lat], radiusM: 250 }, ...zone }), { by: 'test' });
  const index = new ZoneIndex();
  const hist = await store.allZoneDefs();
  index.load(hist.flatMap((h) => h.defs.map((d) => compileZone(d))));
  return index;
}
