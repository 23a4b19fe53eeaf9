import type { Logger } from 'pino';
import { backoffDelayMs, parseRetryAfterMs } from './backoff.ts';
import { noWebhookMetrics, type DeliveryOutcome, type WebhookMetrics } from './metrics.ts';
import { signatureHeader } from './signing.ts';
import { MAX_HISTORY, type Delivery, type WebhookStore, type WebhookSubscription } from './types.ts';

export interface WebhookDispatcherOptions {
  store: WebhookStore;
  logger: Logger;
  /** identity for leases (unique per instance) */
  owner: string;
  /** attempts per delivery before it is dead (WEBHOOK_MAX_ATTEMPTS) */
  maxAttempts: number;
  /** first retry delay; doubles each attempt, with jitter (WEBHOOK_BACKOFF_MS) */
  backoffBaseMs: number;
  /** cap on one backoff step (and on a receiver's Retry-After) */
  backoffMaxMs?: number;
  /** per request, headers and body included */
  requestTimeoutMs?: number;
  /** requests in flight per subscription (endpoint) */
  concurrencyPerEndpoint?: number;
  /** how often due deliveries are looked for when nothing wakes the dispatcher */
  pollIntervalMs?: number;
  /** claim lease; must outlast one request so a slow attempt is never duplicated */
  leaseMs?: number;
  /** delivered records are kept this long, then dropped (dead ones are kept until retried or deleted) */
  deliveredRetentionMs?: number;
  /** how often retention runs */
  pruneIntervalMs?: number;
  metrics?: WebhookMetrics;
  now?: () => number;
  random?: () => number;
}

const USER_AGENT = 'Cordon-Webhooks/1';
const ERROR_BODY_BYTES = 256;

type AttemptResult =
  | { kind: 'delivered'; statusCode: number }
  | { kind: 'gone'; statusCode: 410 }
  | { kind: 'failed'; statusCode: number | null; error: string; retryAfterMs: number | null; closing?: boolean };

/**
 * Sends due deliveries, apart from ping processing: it only reads the outbox, so a slow or dead
 * receiver costs the pipeline nothing but a few idle sockets. Each delivery is leased before it
 * is attempted (one instance at a time), attempts per endpoint are bounded, and every outcome is
 * written back before the lease ends.
 */
export class WebhookDispatcher {
  private readonly o: Required<Omit<WebhookDispatcherOptions, 'metrics'>> & { metrics: WebhookMetrics };
  private readonly inFlight = new Map<string, number>();
  private readonly controllers = new Set<AbortController>();
  private readonly attempts = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private started = false;
  private closed = false;
  private subsCache: { at: number; subs: WebhookSubscription[] } | null = null;
  private subsGen = 0;
  private lastPrune = 0;

  constructor(opts: WebhookDispatcherOptions) {
    const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.o = {
      backoffMaxMs: 3_600_000,
      requestTimeoutMs,
      concurrencyPerEndpoint: 4,
      pollIntervalMs: 500,
      leaseMs: requestTimeoutMs * 2 + 5_000,
      deliveredRetentionMs: 7 * 24 * 3_600_000,
      pruneIntervalMs: 60_000,
      now: Date.now,
      random: Math.random,
      ...opts,
      metrics: opts.metrics ?? noWebhookMetrics,
    };
    if (this.o.leaseMs <= this.o.requestTimeoutMs) throw new Error('webhook leaseMs must exceed requestTimeoutMs');
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.wake();
  }

  /**
   * Look for due work now. `refresh` re-reads the subscriptions first (new deliveries or a manual
   * retry may concern a subscription this instance has not seen yet).
   */
  wake(refresh = false): void {
    if (refresh) {
      this.subsCache = null;
      this.subsGen++;
    }
    if (!this.started || this.closed) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ticking = this.tick()
      .catch((err: unknown) => this.o.logger.warn({ err }, 'webhook dispatch round failed; will retry'))
      .finally(() => {
        this.ticking = null;
        if (this.closed) return;
        if (this.again) {
          this.again = false;
          this.wake();
        } else {
          this.timer = setTimeout(() => this.wake(), this.o.pollIntervalMs);
          this.timer.unref?.();
        }
      });
  }

  /**
   * Subscriptions, re-read at most once per poll interval: a burst of completions (each wakes
   * the dispatcher) costs claims only, not a full read each time.
   */
  private async subscriptions(): Promise<WebhookSubscription[]> {
    const now = Date.now();
    if (this.subsCache && now - this.subsCache.at < this.o.pollIntervalMs) return this.subsCache.subs;
    const gen = this.subsGen;
    const subs = await this.o.store.allSubscriptions();
    // a refresh asked for during the read wins: do not cache what may predate it
    if (gen === this.subsGen) this.subsCache = { at: now, subs };
    return subs;
  }

  private async tick(): Promise<void> {
    const subs = await this.subscriptions();
    for (const sub of subs) {
      if (this.closed) return;
      const free = this.o.concurrencyPerEndpoint - (this.inFlight.get(sub.id) ?? 0);
      if (free <= 0) continue;
      const claimed = await this.o.store.claimDue(sub.id, this.o.now(), free, this.o.leaseMs, this.o.owner);
      for (const d of claimed) {
        if (this.closed) {
          await this.o.store.release(sub.id, d.id, this.o.owner, this.o.now());
          continue;
        }
        this.inFlight.set(sub.id, (this.inFlight.get(sub.id) ?? 0) + 1);
        const p: Promise<void> = this.process(sub, d)
          .catch((err: unknown) =>
            this.o.logger.error({ err, subscriptionId: sub.id, deliveryId: d.id }, 'webhook delivery bookkeeping failed'),
          )
          .finally(() => {
            this.attempts.delete(p);
            const n = (this.inFlight.get(sub.id) ?? 1) - 1;
            if (n <= 0) this.inFlight.delete(sub.id);
            else this.inFlight.set(sub.id, n);
            this.wake();
          });
        this.attempts.add(p);
      }
    }
    const now = this.o.now();
    if (now - this.lastPrune >= this.o.pruneIntervalMs) {
      this.lastPrune = now;
      for (const sub of subs) {
        const n = await this.o.store.pruneDelivered(sub.id, now - this.o.deliveredRetentionMs, 10_000);
        if (n > 0) this.o.logger.debug({ subscriptionId: sub.id, pruned: n }, 'old delivered webhook records dropped');
      }
    }
  }

  private async process(sub: WebhookSubscription, d: Delivery): Promise<void> {
    const { store, owner, logger } = this.o;
    if (!sub.active) {
      const fresh = await store.getSubscription(sub.id);
      if (fresh?.active) {
        // reactivated since the subscriptions were read: try again with the fresh record
        await store.release(sub.id, d.id, owner, this.o.now());
        this.subsCache = null;
        this.subsGen++;
        return;
      }
      // Parked, not dropped: listed as dead and re-sendable once the subscription is active again.
      const next: Delivery = { ...d, status: 'dead', nextAttemptAt: null, lastError: 'subscription inactive' };
      await store.finishAttempt(next, owner);
      return;
    }
    const startedAt = this.o.now();
    const t0 = performance.now();
    const result = await this.send(sub, d, startedAt);
    if (result.kind === 'failed' && result.closing) {
      // cut short by shutdown: not the receiver's fault, so not an attempt; due again at once
      await store.release(sub.id, d.id, owner, this.o.now());
      return;
    }
    const durationMs = Math.round((performance.now() - t0) * 10) / 10;
    const now = this.o.now();
    const attempts = d.attempts + 1;
    const cycleAttempts = d.cycleAttempts + 1;
    const history = [
      ...d.history,
      {
        at: startedAt,
        durationMs,
        statusCode: result.statusCode,
        error: result.kind === 'failed' ? result.error : result.kind === 'gone' ? 'HTTP 410 Gone' : null,
      },
    ].slice(-MAX_HISTORY);
    const base = { ...d, attempts, cycleAttempts, history, lastAttemptAt: startedAt, lastStatusCode: result.statusCode };
    let next: Delivery;
    let outcome: DeliveryOutcome;
    if (result.kind === 'delivered') {
      next = { ...base, status: 'delivered', nextAttemptAt: null, lastError: null, deliveredAt: now };
      outcome = 'delivered';
    } else if (result.kind === 'gone') {
      next = { ...base, status: 'dead', nextAttemptAt: null, lastError: 'HTTP 410 Gone: subscription deactivated' };
      outcome = 'gone';
      await store.setSubscriptionActive(sub.id, false, 'receiver answered 410 Gone', now);
      this.subsCache = null;
      this.subsGen++;
      logger.warn({ subscriptionId: sub.id, url: sub.url }, 'webhook receiver answered 410 Gone; subscription deactivated');
    } else if (cycleAttempts >= this.o.maxAttempts) {
      next = { ...base, status: 'dead', nextAttemptAt: null, lastError: result.error };
      outcome = 'dead';
      logger.warn({ subscriptionId: sub.id, deliveryId: d.id, eventId: d.eventId, attempts, error: result.error }, 'webhook delivery dead after last attempt');
    } else {
      const backoff = backoffDelayMs(cycleAttempts, this.o.backoffBaseMs, this.o.backoffMaxMs, this.o.random);
      const wait = Math.max(backoff, Math.min(result.retryAfterMs ?? 0, this.o.backoffMaxMs));
      next = { ...base, status: 'retrying', nextAttemptAt: now + wait, lastError: result.error };
      outcome = 'retry';
      logger.debug({ subscriptionId: sub.id, deliveryId: d.id, attempts, waitMs: wait, error: result.error }, 'webhook delivery failed; retrying');
    }
    this.o.metrics.attempt(outcome, durationMs);
    if (outcome === 'delivered') {
      const created = Date.parse(safeCreatedAt(d.payload));
      if (Number.isFinite(created)) this.o.metrics.delivered(now - created);
    }
    if (!(await store.finishAttempt(next, owner))) {
      logger.warn({ subscriptionId: sub.id, deliveryId: d.id }, 'webhook delivery lease lost before its outcome was written');
    }
  }

  private async send(sub: WebhookSubscription, d: Delivery, startedAt: number): Promise<AttemptResult> {
    const ac = new AbortController();
    this.controllers.add(ac);
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${this.o.requestTimeoutMs} ms`)), this.o.requestTimeoutMs);
    try {
      // Only what the contract names, plus identification: never an API key or other credential.
      const res = await fetch(sub.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'cordon-event-id': d.eventId,
          'cordon-delivery-id': d.id,
          'cordon-signature': signatureHeader(sub.secret, d.payload, startedAt / 1000),
        },
        body: d.payload,
        redirect: 'manual',
        signal: ac.signal,
      });
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel().catch(() => {});
        return { kind: 'delivered', statusCode: res.status };
      }
      if (res.status === 410) {
        await res.body?.cancel().catch(() => {});
        return { kind: 'gone', statusCode: 410 };
      }
      const snippet = await readSnippet(res);
      return {
        kind: 'failed',
        statusCode: res.status,
        error: `HTTP ${res.status}${snippet ? `: ${snippet}` : ''}`,
        retryAfterMs: parseRetryAfterMs(res.headers.get('retry-after'), this.o.now()),
      };
    } catch (err) {
      return { kind: 'failed', statusCode: null, error: describeError(err, ac.signal), retryAfterMs: null, closing: this.closed && ac.signal.aborted };
    } finally {
      clearTimeout(timer);
      this.controllers.delete(ac);
    }
  }

  /**
   * Stops claiming, lets requests in flight finish for up to `graceMs`, then aborts the rest
   * (they are handed back unattempted) and waits for every outcome to be written.
   */
  async close(graceMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    if (this.attempts.size > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.attempts]), new Promise((r) => (t = setTimeout(r, graceMs)))]);
      clearTimeout(t);
    }
    for (const ac of this.controllers) ac.abort(new Error('dispatcher closing'));
    await Promise.allSettled([...this.attempts]);
  }
}

function safeCreatedAt(payload: string): string {
  try {
    const v = (JSON.parse(payload) as { createdAt?: unknown }).createdAt;
    return typeof v === 'string' ? v : typeof v === 'number' ? new Date(v).toISOString() : '';
  } catch {
    return '';
  }
}

async function readSnippet(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
  } catch {
    /* body cut short: keep what we have */
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8', 0, Math.min(n, ERROR_BODY_BYTES)).replace(/\s+/g, ' ').trim();
}

function describeError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const r: unknown = signal.reason;
    return r instanceof Error ? r.message : 'aborted';
  }
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
    return err.message;
  }
  return String(err);
}
