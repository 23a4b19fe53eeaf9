/**
 * Builds a Cordon app for HTTP tests (app.inject, no socket) with one API key per role.
 * Used by test/unit/http-*.test.ts (memory store) and test/integration/http-redis.test.ts.
 */
import { request, type IncomingMessage } from 'node:http';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.ts';
import { defaultConfig, type Config, type Role } from '../../src/config.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Clock, CordonStore } from '../../streams/ports.ts';

export const KEYS: Record<Role, string> = {
  admin: 'test-admin-key',
  manager: 'test-manager-key',
  monitor: 'test-monitor-key',
  ingest: 'test-ingest-key',
  ops: 'test-ops-key',
};

export function auth(role: Role): Record<string, string> {
  return { authorization: `Bearer ${KEYS[role]}` };
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(public t = Date.parse('2026-03-02T12:00:00Z')) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface TestApp {
  app: FastifyInstance;
  store: CordonStore;
  clock: ManualClock;
  /** inject with the key of `role` (null = no key) */
  call(role: Role | null, opts: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function makeTestApp(
  opts: { store?: CordonStore; config?: Partial<Config>; deps?: Partial<AppDeps>; clock?: ManualClock } = {},
): Promise<TestApp> {
  const clock = opts.clock ?? new ManualClock();
  const store = opts.store ?? createMemoryStore({ clock });
  const config = defaultConfig({
    apiKeys: (Object.keys(KEYS) as Role[]).map((role) => ({ role, key: KEYS[role] })),
    ...opts.config,
  });
  const app = await buildApp({ store, config, clock, runSweeper: false, ...opts.deps });
  return {
    app,
    store,
    clock,
    call: (role, o) => app.inject({ ...o, headers: { ...(role ? auth(role) : {}), ...(o.headers ?? {}) } }),
    close: async () => {
      await app.close();
      if (!opts.store) await store.close();
    },
  };
}

// ---- fixtures

/** A square around (lon, lat) with half-side `d` degrees, closed ring. */
export function square(lon: number, lat: number, d = 0.001): number[][][] {
  return [
    [
      [lon - d, lat - d],
      [lon + d, lat - d],
      [lon + d, lat + d],
      [lon - d, lat + d],
      [lon - d, lat - d],
    ],
  ];
}

export const HOME = { lon: -0.1276, lat: 51.5072 };

export function exclusionZone(subjectIds: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Victim home',
    kind: 'exclusion',
    subjectIds,
    geometry: { type: 'Polygon', coordinates: square(HOME.lon, HOME.lat) },
    ...extra,
  };
}

export function json(res: LightMyRequestResponse): any {
  return JSON.parse(res.body);
}

export function expectProblem(res: LightMyRequestResponse, status: number): any {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`);
  const ct = String(res.headers['content-type'] ?? '');
  if (!ct.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${ct}`);
  const b = JSON.parse(res.body);
  for (const k of ['type', 'title', 'status', 'detail']) if (!(k in b)) throw new Error(`problem lacks ${k}: ${res.body}`);
  if (b.status !== status) throw new Error(`problem.status ${b.status} != ${status}`);
  return b;
}

// ---- Server-Sent Events client for tests (needs app.listen)

export interface Frame {
  id: string;
  event: string;
  data: { id: string; type: string; alert: { id: string; status: string } };
}

/** Opens the SSE stream and collects parsed frames. */
export function openStream(port: number, headers: Record<string, string>, query = '') {
  const frames: Frame[] = [];
  let res: IncomingMessage | null = null;
  let status = 0;
  const req = request({ host: '127.0.0.1', port, path: `/v1/alerts/stream${query}`, headers }, (r) => {
    res = r;
    status = r.statusCode ?? 0;
    let buf = '';
    r.setEncoding('utf8');
    r.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const m = /^(id|event|data): (.*)$/.exec(line);
          if (m) f[m[1]!] = m[2]!;
        }
        if (f.data) frames.push({ id: f.id!, event: f.event!, data: JSON.parse(f.data) });
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return {
    frames,
    status: () => status,
    ready: () => res !== null,
    close: () => {
      req.destroy();
    },
  };
}

