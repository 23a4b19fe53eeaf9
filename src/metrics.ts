/**
 * Prometheus metrics (prom-client). Each app owns its registry (several apps can live in one
 * process, e.g. in tests). Other parts add their own metrics to `registry` (consumer lag,
 * webhook deliveries): read `app.cordon.metrics.registry`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** pings accepted and judged (label `source`: http | kafka) */
  pingsProcessed: Counter<'source'>;
  /** pings refused as invalid (label `source`) */
  pingsRejected: Counter<'source'>;
  /** valid pings whose tag is assigned to no subject */
  unknownTags: Counter<'source'>;
  /** alert events written (labels `type` = alert type, `event` = opened|updated|ended|acknowledged|resolved) */
  alerts: Counter<'type' | 'event'>;
  /** seconds to process one batch of pings, decode to stored events (label `source`) */
  processingSeconds: Histogram<'source'>;
  /** HTTP requests by route and status class */
  httpRequests: Counter<'method' | 'route' | 'status'>;
  /** how far the clock-driven checks run behind the wall clock, waiting for the Kafka ingest */
  clockChecksBehind: Gauge;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'cordon_process_' });
  const registers = [registry];
  return {
    registry,
    pingsProcessed: new Counter({
      name: 'cordon_pings_processed_total',
      help: 'Pings accepted and judged',
      labelNames: ['source'],
      registers,
    }),
    pingsRejected: new Counter({
      name: 'cordon_pings_rejected_total',
      help: 'Pings refused as invalid',
      labelNames: ['source'],
      registers,
    }),
    unknownTags: new Counter({
      name: 'cordon_pings_unknown_tag_total',
      help: 'Valid pings whose tag is assigned to no subject (ignored)',
      labelNames: ['source'],
      registers,
    }),
    alerts: new Counter({
      name: 'cordon_alert_events_total',
      help: 'Alert events written, by alert type and event',
      labelNames: ['type', 'event'],
      registers,
    }),
    processingSeconds: new Histogram({
      name: 'cordon_ping_batch_processing_seconds',
      help: 'Time to process one batch of pings (decode to stored events)',
      labelNames: ['source'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    httpRequests: new Counter({
      name: 'cordon_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    clockChecksBehind: new Gauge({
      name: 'cordon_clock_checks_behind_seconds',
      help: 'How far the clock-driven checks (signal lost, no fix, grace expiry, window starts) run behind the wall clock, held back until the Kafka ingest has judged the pings that arrived before them; while no consumer has reported its progress, how long that has lasted (0 without Kafka)',
      registers,
    }),
  };
}
