import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type DeliveryOutcome = 'delivered' | 'retry' | 'dead' | 'gone';

/** What the dispatcher reports; a no-op when no registry is given. */
export interface WebhookMetrics {
  attempt(outcome: DeliveryOutcome, durationMs: number): void;
  /** event created → delivered, end to end */
  delivered(lagMs: number): void;
}

export const noWebhookMetrics: WebhookMetrics = { attempt() {}, delivered() {} };

/**
 * Registers the webhook metrics on `registry`: `cordon_webhook_deliveries_total{outcome}`,
 * `cordon_webhook_delivery_duration_seconds` (one HTTP attempt), `cordon_webhook_delivery_lag_seconds`
 * (event → delivered) and `cordon_webhook_outbox_depth` (read from the store at scrape time).
 */
export function createWebhookMetrics(registry: Registry, outboxDepth: () => Promise<number>): WebhookMetrics {
  const existing = registry.getSingleMetric('cordon_webhook_deliveries_total');
  if (existing) {
    // one set per registry: a second service on the same registry (tests) reuses it
    registry.removeSingleMetric('cordon_webhook_deliveries_total');
    registry.removeSingleMetric('cordon_webhook_delivery_duration_seconds');
    registry.removeSingleMetric('cordon_webhook_delivery_lag_seconds');
    registry.removeSingleMetric('cordon_webhook_outbox_depth');
  }
  const total = new Counter({
    name: 'cordon_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry, dead, gone)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const o of ['delivered', 'retry', 'dead', 'gone'] as const) total.inc({ outcome: o }, 0);
  const duration = new Histogram({
    name: 'cordon_webhook_delivery_duration_seconds',
    help: 'Duration of one webhook HTTP attempt',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'cordon_webhook_delivery_lag_seconds',
    help: 'Time from an alert event being written to its webhook being delivered',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  });
  new Gauge({
    name: 'cordon_webhook_outbox_depth',
    help: 'Webhook deliveries waiting (pending or retrying)',
    registers: [registry],
    async collect() {
      try {
        this.set(await outboxDepth());
      } catch {
        /* store unavailable: keep the last value */
      }
    },
  });
  return {
    attempt(outcome, durationMs) {
      total.inc({ outcome });
      duration.observe({ outcome }, durationMs / 1000);
    },
    delivered(lagMs) {
      lag.observe(Math.max(0, lagMs) / 1000);
    },
  };
}
