/**
 * buildApp(deps): the Fastify application, without a socket (tests use app.inject()).
 *
 * Seams for other parts of Cordon:
 * - `deps.pingSink` — when given (Kafka), POST /v1/pings produces there and answers 202.
 * - `deps.plugins` — Fastify plugins registered after the core routes (webhooks, console);
 *   they reach the store, service, requireRole, metrics registry… through `app.cordon`
 *   (see src/http/context.ts).
 * - `deps.readiness` / `app.cordon.addReadinessCheck` — extra /readyz checks (Kafka).
 *
 * main.ts composes the real dependencies; nothing here reads the environment.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { ZoneIndex } from '../geo/zone-index.ts';
import type { TrackerConfig } from '../geo/types.ts';
import type { Clock, CordonStore } from '../streams/ports.ts';
import { systemClock } from '../streams/ports.ts';
import { createIngestPipeline, type IngestPipeline } from '../streams/pipeline.ts';
import { createSweeper, type Sweeper } from '../streams/sweeper.ts';
import { defaultConfig, type Config } from './config.ts';
import { silentLogger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { CordonService } from './service.ts';
import { KeyRing, RateLimiter, bearerOf, makeRequireRole } from './http/auth.ts';
import type { CordonContext, ReadinessCheck } from './http/context.ts';
import { installErrorHandling } from './http/errors.ts';
import { alertRoutes } from './http/routes/alerts.ts';
import { opsRoutes } from './http/routes/ops.ts';
import { pingRoutes, type PingSink } from './http/routes/pings.ts';
import { positionRoutes } from './http/routes/positions.ts';
import { streamRoutes } from './http/routes/stream.ts';
import { subjectRoutes } from './http/routes/subjects.ts';
import { zoneRoutes } from './http/routes/zones.ts';

export type { PingSink };
export type { CordonContext };

export interface AppDeps {
  store: CordonStore;
  /** default: defaultConfig() */
  config?: Config;
  /** default: a silent logger */
  logger?: Logger;
  clock?: Clock;
  metrics?: Metrics;
  /** default: a new index loaded from the store */
  zoneIndex?: ZoneIndex;
  /** Kafka producer (or any sink): POST /v1/pings hands validated pings to it and answers 202 */
  pingSink?: PingSink;
  /** route plugins registered after the core routes; use `app.cordon` inside */
  plugins?: FastifyPluginAsync[];
  /** extra /readyz checks by name */
  readiness?: Record<string, ReadinessCheck>;
  /**
   * The pings come through Kafka consumers that report their progress to the store: the sweeper
   * runs the clock-driven checks no later than the slowest one's (see streams/sweeper.ts).
   */
  followIngest?: boolean;
  /**
   * Run the clock-driven sweeper on a timer (default true). Tests that drive time themselves pass
   * false and call `app.sweeper.tick()`.
   */
  runSweeper?: boolean;
  /** close the store when the app closes (default false: whoever made the store closes it) */
  closeStore?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the ingest pipeline (HTTP path; the Kafka consumer builds its own on the same store) */
    pipeline: IngestPipeline;
    /** the clock-driven checks (signal lost, no fix, window start, grace expiry) */
    sweeper: Sweeper;
  }
}

/** Strips `access_token` from logged URLs (EventSource clients put their key there). */
function safeUrl(url: string): string {
  return url.includes('access_token=') ? url.replace(/([?&]access_token=)[^&]*/g, '$1[redacted]') : url;
}

export function trackerConfigOf(config: Config): TrackerConfig {
  return {
    batteryLowPct: config.batteryLowPct,
    batteryClearPct: config.batteryLowPct + 5,
    signalLostAfterMs: config.signalLostAfterS * 1000,
    noFixAfterMs: config.noFixAfterS * 1000,
  };
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const config = deps.config ?? defaultConfig();
  const logger = deps.logger ?? silentLogger();
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? createMetrics();
  const store = deps.store;
  const zoneIndex = deps.zoneIndex ?? new ZoneIndex();

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // one request line per request at debug is written by the onResponse hook below
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Fastify's default 'idle' closes keep-alive sockets on close; SSE streams are ended in preClose.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  installErrorHandling(app);

  // ---- auth: identify the caller on every request; routes decide with requireRole
  const keys = new KeyRing(config.apiKeys);
  const limiter = new RateLimiter(config.rateLimitMax, config.rateLimitWindowS * 1000, () => clock.now());
  const requireRole = makeRequireRole(limiter);
  app.decorateRequest('principal', null);
  app.addHook('onRequest', (req, _reply, done) => {
    const key = bearerOf(req, req.url.startsWith('/v1/alerts/stream'));
    req.principal = key === null ? null : (keys.lookup(key) ?? null);
    done();
  });

  // ---- request log: one line per request at debug, warnings for 5xx; never per ping at info
  app.addHook('onResponse', (req: FastifyRequest, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    if (reply.statusCode >= 500) req.log.warn({ method: req.method, url: safeUrl(req.url), status: reply.statusCode }, 'request failed');
    else if (logger.isLevelEnabled('debug')) {
      req.log.debug({ method: req.method, url: safeUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    }
    done();
  });

  // ---- engine
  const service = new CordonService({ store, zoneIndex, clock, logger });
  await service.start();
  const trackerConfig = trackerConfigOf(config);
  const pipeline = createIngestPipeline({ store, zones: zoneIndex, clock, config: trackerConfig, logger });
  // The sweeper shares the pipeline (ticks and pings of one tag never interleave); its events are counted here.
  const countedPipeline: IngestPipeline = {
    processBatch: (p, e, o) => pipeline.processBatch(p, e, o),
    contextOf: (t) => pipeline.contextOf(t),
    close: () => pipeline.close(),
    tickTags: async (due, now, detectedAt) => {
      const r = await pipeline.tickTags(due, now, detectedAt);
      for (const e of r.events) metrics.alerts.inc({ type: e.alert.type, event: e.type.slice(6) });
      return r;
    },
  };
  const sweeper = createSweeper({
    store,
    zones: zoneIndex,
    clock,
    config: trackerConfig,
    logger,
    pipeline: countedPipeline,
    intervalMs: config.sweepIntervalMs,
    followIngest: deps.followIngest === true,
    onHeld: (behindMs) => metrics.clockChecksBehind.set(behindMs / 1000),
  });
  app.decorate('pipeline', pipeline);
  app.decorate('sweeper', sweeper);
  // onClose hooks run last-registered first: this one is registered before every plugin, so the
  // plugins (webhooks, Kafka, …) stop while the store is still open, and the store closes last.
  app.addHook('onClose', async () => {
    await sweeper.stop();
    pipeline.close();
    service.stop();
    if (deps.closeStore) await store.close();
  });

  // ---- context for route plugins
  const checks = new Map<string, ReadinessCheck>([['store', () => store.ping()]]);
  for (const [name, check] of Object.entries(deps.readiness ?? {})) checks.set(name, check);
  const ctx: CordonContext = {
    config,
    store,
    service,
    zoneIndex,
    clock,
    logger,
    metrics,
    requireRole,
    addReadinessCheck: (name, check) => {
      checks.set(name, check);
    },
  };
  app.decorate('cordon', ctx);

  try {
    // ---- OpenAPI 3 at /docs (UI) and /docs/json, generated from the zod schemas on the routes
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Cordon API',
          version: '1.0.0',
          description:
            'Electronic-monitoring geofence service. Authenticate with `authorization: Bearer <key>`; ' +
            'errors are application/problem+json.',
        },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
        tags: [
          { name: 'subjects' },
          { name: 'zones' },
          { name: 'pings' },
          { name: 'alerts' },
          { name: 'positions' },
          { name: 'ops' },
          { name: 'webhooks' },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

    // ---- core routes
    await app.register(opsRoutes(checks));
    await app.register(subjectRoutes);
    await app.register(zoneRoutes);
    await app.register(pingRoutes({ pipeline, sink: deps.pingSink ?? null }));
    await app.register(alertRoutes);
    await app.register(streamRoutes);
    await app.register(positionRoutes);

    // ---- other helpers' plugins (webhooks, console, …)
    for (const plugin of deps.plugins ?? []) await app.register(plugin);

    await app.ready();
  } catch (err) {
    // a plugin failed to load: release what was started (the store stays with its owner)
    await app.close().catch(() => {});
    await sweeper.stop();
    pipeline.close();
    service.stop();
    throw err;
  }
  if (deps.runSweeper !== false) sweeper.start();
  return app;
}
