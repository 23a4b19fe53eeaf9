import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { WebhookDispatcher, type WebhookDispatcherOptions } from './dispatcher.ts';
import { createWebhookMetrics } from './metrics.ts';
import { OutboxFanout } from './outbox.ts';
import type { Delivery, WebhookEventSource, WebhookStore } from './types.ts';

export interface WebhookServiceOptions {
  store: WebhookStore;
  events: WebhookEventSource;
  logger: Logger;
  /** where the webhook metrics go (the service's /metrics registry); none = not measured */
  registry?: Registry;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs?: number;
  requestTimeoutMs?: number;
  concurrencyPerEndpoint?: number;
  /** dispatcher poll for due retries */
  pollIntervalMs?: number;
  /** event-log poll when no notification arrives */
  fanoutPollIntervalMs?: number;
  leaseMs?: number;
  deliveredRetentionMs?: number;
  pruneIntervalMs?: number;
  /** on close, how long requests in flight may finish before they are aborted (and handed back) */
  closeGraceMs?: number;
  /** unique per instance; default a random id */
  instanceId?: string;
  now?: () => number;
  random?: () => number;
}

/**
 * Webhooks as one unit with its own lifecycle: the outbox fan-out (event log → deliveries) and
 * the dispatcher (deliveries → HTTP). Started after the store, closed before it.
 */
export class WebhookService {
  readonly store: WebhookStore;
  readonly fanout: OutboxFanout;
  readonly dispatcher: WebhookDispatcher;
  private readonly now: () => number;
  private readonly closeGraceMs: number;
  private closed = false;

  constructor(opts: WebhookServiceOptions) {
    const owner = opts.instanceId ?? randomUUID();
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.closeGraceMs = opts.closeGraceMs ?? 2_000;
    const log = opts.logger.child({ component: 'webhooks' });
    const metrics = opts.registry ? createWebhookMetrics(opts.registry, () => opts.store.outboxDepth()) : undefined;
    const d: WebhookDispatcherOptions = {
      store: opts.store,
      logger: log,
      owner,
      maxAttempts: opts.maxAttempts,
      backoffBaseMs: opts.backoffBaseMs,
      ...(opts.backoffMaxMs !== undefined && { backoffMaxMs: opts.backoffMaxMs }),
      ...(opts.requestTimeoutMs !== undefined && { requestTimeoutMs: opts.requestTimeoutMs }),
      ...(opts.concurrencyPerEndpoint !== undefined && { concurrencyPerEndpoint: opts.concurrencyPerEndpoint }),
      ...(opts.pollIntervalMs !== undefined && { pollIntervalMs: opts.pollIntervalMs }),
      ...(opts.leaseMs !== undefined && { leaseMs: opts.leaseMs }),
      ...(opts.deliveredRetentionMs !== undefined && { deliveredRetentionMs: opts.deliveredRetentionMs }),
      ...(opts.pruneIntervalMs !== undefined && { pruneIntervalMs: opts.pruneIntervalMs }),
      ...(metrics !== undefined && { metrics }),
      ...(opts.now !== undefined && { now: opts.now }),
      ...(opts.random !== undefined && { random: opts.random }),
    };
    this.dispatcher = new WebhookDispatcher(d);
    this.fanout = new OutboxFanout({
      store: opts.store,
      events: opts.events,
      logger: log,
      owner,
      onDeliveries: () => this.dispatcher.wake(true),
      ...(opts.fanoutPollIntervalMs !== undefined && { pollIntervalMs: opts.fanoutPollIntervalMs }),
      ...(opts.now !== undefined && { now: opts.now }),
    });
  }

  async start(): Promise<void> {
    await this.fanout.start();
    this.dispatcher.start();
  }

  /** manual retry (POST …/deliveries/{id}/retry) */
  async retry(subscriptionId: string, deliveryId: string): Promise<Delivery | 'in_flight' | null> {
    const res = await this.store.requeue(subscriptionId, deliveryId, this.now());
    if (res && res !== 'in_flight') this.dispatcher.wake(true);
    return res;
  }

  /** Stops fan-out and dispatch; does not close the store (its owner does). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fanout.close();
    await this.dispatcher.close(this.closeGraceMs);
  }
}
