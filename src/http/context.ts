/**
 * What the core app exposes to route plugins (its own and other helpers'): `app.cordon`.
 *
 *   export const myRoutes: FastifyPluginAsync = async (app) => {
 *     const { store, requireRole, metrics } = app.cordon;
 *     app.get('/v1/things', { preHandler: requireRole('monitor', 'ops') }, async () => ...);
 *   };
 *   buildApp({ ..., plugins: [myRoutes] });
 *
 * Errors: throw `HttpProblem` (./problem.ts) or a typed StoreError; the registry in ./errors.ts
 * turns them into problem+json. Add readiness checks with `addReadinessCheck` and close hooks
 * with Fastify's `onClose`.
 */
import type { Logger } from 'pino';
import type { ZoneIndex } from '../../geo/zone-index.ts';
import type { Clock, CordonStore } from '../../streams/ports.ts';
import type { Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { CordonService } from '../service.ts';
import type { RequireRole } from './auth.ts';

export type ReadinessCheck = () => Promise<boolean> | boolean;

export interface CordonContext {
  config: Config;
  store: CordonStore;
  service: CordonService;
  zoneIndex: ZoneIndex;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** preHandler factory: `requireRole('monitor', 'ops')` (admin always allowed); also applies the per-key rate limit */
  requireRole: RequireRole;
  /** adds a named check to GET /readyz (all must pass) */
  addReadinessCheck(name: string, check: ReadinessCheck): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    cordon: CordonContext;
  }
}
