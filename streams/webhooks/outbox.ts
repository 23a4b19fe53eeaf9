import type { Logger } from 'pino';
import { deliveryId } from './subscription.ts';
import type { Delivery, OutboxEvent, WebhookEventSource, WebhookStore, WebhookSubscription } from './types.ts';

/**
 * Turns the durable event log into delivery records: every event × every active subscription
 * whose filter matches becomes one `pending` delivery.
 *
 * Why nothing is lost: the event itself, appended to `cordon:events` in the same write as the
 * alert change, *is* the outbox entry. Fan-out reads the log from a persisted cursor, writes
 * the deliveries (idempotently: ids are derived from subscription id + event id), and only then
 * advances the cursor. A crash anywhere in between replays the same events on the next run and
 * recreates nothing that already exists.
 */
export interface OutboxFanoutOptions {
  store: WebhookStore;
  events: WebhookEventSource;
  logger: Logger;
  /** events read per round trip */
  batchSize?: number;
  /** how often the log is polled when no notification arrives (notifications are only a hint) */
  pollIntervalMs?: number;
  /** called after new deliveries were written (wakes the dispatcher) */
  onDeliveries?: (count: number) => void;
  /** identity for the fan-out lock (one instance fans out at a time; others just wait) */
  owner: string;
  now?: () => number;
}

export const FANOUT_CURSOR = 'fanout';

/**
 * Orders event ids: Redis stream ids `<ms>-<seq>` numerically (the memory store makes the same
 * shape); anything else as strings.
 */
export function compareEventIds(a: string, b: string): number {
  const ma = /^(\d+)-(\d+)$/.exec(a);
  const mb = /^(\d+)-(\d+)$/.exec(b);
  if (ma && mb) return Number(ma[1]) - Number(mb[1]) || Number(ma[2]) - Number(mb[2]);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function subscriptionWants(sub: WebhookSubscription, e: OutboxEvent): boolean {
  if (!sub.active) return false;
  if (sub.events !== null && !(sub.events as string[]).includes(e.type)) return false;
  return sub.fromEventId === null || compareEventIds(e.id, sub.fromEventId) > 0;
}

export function newDelivery(sub: WebhookSubscription, e: OutboxEvent, now: number): Delivery {
  return {
    id: deliveryId(sub.id, e.id),
    subscriptionId: sub.id,
    eventId: e.id,
    eventType: e.type,
    status: 'pending',
    attempts: 0,
    cycleAttempts: 0,
    createdAt: now,
    nextAttemptAt: now,
    lastAttemptAt: null,
    lastStatusCode: null,
    lastError: null,
    deliveredAt: null,
    history: [],
    payload: JSON.stringify({ id: e.id, type: e.type, createdAt: e.createdAt, alert: e.alert }),
  };
}

export class OutboxFanout {
  private readonly o: Required<Omit<OutboxFanoutOptions, 'onDeliveries'>> & Pick<OutboxFanoutOptions, 'onDeliveries'>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private again = false;
  private closed = false;
  private unsubscribe: (() => void | Promise<void>) | null = null;

  constructor(opts: OutboxFanoutOptions) {
    this.o = { batchSize: 500, pollIntervalMs: 1000, now: Date.now, ...opts };
  }

  async start(): Promise<void> {
    if (this.o.events.subscribeEvents) {
      this.unsubscribe = await this.o.events.subscribeEvents(() => this.kick());
    }
    this.schedule();
    this.kick();
  }

  /** run now (coalesced with a run in progress) */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runOnce()
      .catch((err: unknown) => {
        this.o.logger.warn({ err }, 'webhook fan-out failed; will retry');
        return 0;
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private schedule() {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.kick();
      this.schedule();
    }, this.o.pollIntervalMs);
    this.timer.unref?.();
  }

  /** Fans out everything after the cursor; answers how many deliveries were created. */
  async runOnce(): Promise<number> {
    const { store, events, owner } = this.o;
    const lockMs = Math.max(5000, this.o.pollIntervalMs * 5);
    if (!(await store.tryLock(FANOUT_CURSOR, owner, lockMs))) return 0;
    let created = 0;
    try {
      let cursor = await store.getCursor(FANOUT_CURSOR);
      for (;;) {
        const batch = await events.readEventsAfter(cursor, this.o.batchSize);
        if (batch.length === 0) break;
        const subs = await store.allSubscriptions();
        const now = this.o.now();
        const deliveries: Delivery[] = [];
        for (const e of batch) for (const s of subs) if (subscriptionWants(s, e)) deliveries.push(newDelivery(s, e, now));
        const added = await store.addDeliveries(deliveries);
        created += added;
        cursor = batch[batch.length - 1]!.id;
        await store.setCursor(FANOUT_CURSOR, cursor);
        if (added > 0) this.o.onDeliveries?.(added);
        if (batch.length < this.o.batchSize || this.closed) break;
        await store.tryLock(FANOUT_CURSOR, owner, lockMs);
      }
    } finally {
      await store.unlock(FANOUT_CURSOR, owner).catch(() => {});
    }
    return created;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.unsubscribe?.();
    } catch {
      /* already gone */
    }
    await this.running;
  }
}
