/**
 * Webhook vocabulary and the two ports the webhook machinery needs: where alert events come
 * from (the durable event log, which *is* the outbox) and where subscriptions and delivery
 * records live (memory or Redis, one conformance suite for both).
 */

/** Alert event types a subscription can filter on (CONTRACT §4). */
export const WEBHOOK_EVENT_TYPES = [
  'alert.opened',
  'alert.updated',
  'alert.ended',
  'alert.acknowledged',
  'alert.resolved',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** One alert event as read from the event log (`cordon:events`); `id` orders the log. */
export interface OutboxEvent {
  id: string;
  type: string;
  /** ISO-8601 (or epoch ms) instant the event was written */
  createdAt: string | number;
  alert: unknown;
}

/**
 * The durable event log, read from a cursor. The service's CordonStore satisfies this
 * structurally (`readEventsAfter`, `subscribeEvents`); streams/webhooks needs nothing else.
 */
export interface WebhookEventSource {
  /** events with id strictly after `afterId` (null = from the start), oldest first */
  readEventsAfter(afterId: string | null, limit: number): Promise<OutboxEvent[]>;
  /** a hint that new events exist; returns an unsubscribe function (sync or async) */
  subscribeEvents?(listener: (event: OutboxEvent) => void): (() => void) | (() => Promise<void>) | Promise<() => void | Promise<void>>;
}

export interface WebhookSubscription {
  id: string;
  url: string;
  /** HMAC key; stored in full, never answered in full (see maskSecret) */
  secret: string;
  /** null = every event type */
  events: WebhookEventType[] | null;
  active: boolean;
  /** why the service deactivated it (e.g. the receiver answered 410), null otherwise */
  deactivatedReason: string | null;
  /**
   * The fan-out cursor when it was created: it receives the events after this one (null = every
   * event in the log). Event ids, not clocks, decide, so clock skew between instances cannot
   * drop or add an event.
   */
  fromEventId: string | null;
  /** epoch ms */
  createdAt: number;
  updatedAt: number;
}

export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'dead';

export interface DeliveryAttempt {
  /** epoch ms the request started */
  at: number;
  durationMs: number;
  /** HTTP status, null when no response (refused, timeout, …) */
  statusCode: number | null;
  error: string | null;
}

export interface Delivery {
  /** deterministic from (subscriptionId, eventId): fan-out is idempotent */
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  /** attempts made in total (manual retries included) */
  attempts: number;
  /** attempts made since the delivery was (re)queued; dead when it reaches max attempts */
  cycleAttempts: number;
  createdAt: number;
  /** epoch ms of the next attempt; null when delivered or dead */
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  /** the most recent attempts, newest last (bounded by MAX_HISTORY) */
  history: DeliveryAttempt[];
  /** the exact bytes POSTed: the event JSON, identical on every attempt */
  payload: string;
}

export const MAX_HISTORY = 20;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Subscriptions, the outbox of delivery records, and the small coordination state fan-out needs. */
export interface WebhookStore {
  /** creates or replaces; `created` tells which (201 vs 200) */
  putSubscription(sub: WebhookSubscription): Promise<{ created: boolean; subscription: WebhookSubscription }>;
  getSubscription(id: string): Promise<WebhookSubscription | null>;
  /** ordered by id */
  listSubscriptions(opts: { limit: number; cursor: string | null }): Promise<Page<WebhookSubscription>>;
  allSubscriptions(): Promise<WebhookSubscription[]>;
  /** removes the subscription and all its deliveries; false when it did not exist */
  deleteSubscription(id: string): Promise<boolean>;
  setSubscriptionActive(id: string, active: boolean, reason: string | null, now: number): Promise<void>;

  /** inserts records whose id is new (others untouched); answers how many were new */
  addDeliveries(deliveries: Delivery[]): Promise<number>;
  getDelivery(subscriptionId: string, deliveryId: string): Promise<Delivery | null>;
  /** newest first */
  listDeliveries(
    subscriptionId: string,
    opts: { limit: number; cursor: string | null; status?: DeliveryStatus | undefined },
  ): Promise<Page<Delivery>>;
  /**
   * Leases up to `limit` deliveries of the subscription due at `now` to `owner` for `leaseMs`:
   * nobody else can claim them until the lease ends (then they are due again, so a crashed
   * instance's work resumes elsewhere).
   */
  claimDue(subscriptionId: string, now: number, limit: number, leaseMs: number, owner: string): Promise<Delivery[]>;
  /**
   * Records the outcome of an attempt made under `owner`'s lease and ends the lease: the
   * delivery is rescheduled at `nextAttemptAt` or leaves the queue when delivered/dead.
   * False (nothing written) when the lease was lost or the delivery no longer exists.
   */
  finishAttempt(delivery: Delivery, owner: string): Promise<boolean>;
  /** gives a leased delivery back unattempted, due at `at` */
  release(subscriptionId: string, deliveryId: string, owner: string, at: number): Promise<void>;
  /**
   * Manual retry: makes the delivery `pending`, due at `now`, with a fresh attempt budget.
   * Null when absent; 'in_flight' (nothing changed) while an attempt holds its lease.
   */
  requeue(subscriptionId: string, deliveryId: string, now: number): Promise<Delivery | 'in_flight' | null>;
  /** retention: drops up to `limit` delivered records delivered at or before `before`; answers how many */
  pruneDelivered(subscriptionId: string, before: number, limit: number): Promise<number>;
  /** deliveries waiting to be delivered (pending + retrying), over all subscriptions */
  outboxDepth(): Promise<number>;

  getCursor(name: string): Promise<string | null>;
  setCursor(name: string, value: string): Promise<void>;
  /** a short exclusive lock (with expiry) so one instance fans out at a time */
  tryLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  unlock(name: string, owner: string): Promise<void>;

  /** idempotent */
  close(): Promise<void>;
}
