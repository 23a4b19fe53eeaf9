import type { Delivery, DeliveryStatus, Page, WebhookStore, WebhookSubscription } from '../../streams/webhooks/types.ts';

interface Slot {
  delivery: Delivery;
  /** sort key for newest-first listing: createdAt then id */
  key: string;
  /** when in the queue: the instant it may next be claimed (a lease pushes it forward) */
  dueAt: number | null;
  leaseOwner: string | null;
}

function sortKey(d: Delivery): string {
  return `${String(d.createdAt).padStart(15, '0')}|${d.id}`;
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * The in-memory webhook store (REDIS_URL unset): same semantics as the Redis one, nothing
 * survives the process. Records are copied in and out so callers never share mutable state.
 */
export class MemoryWebhookStore implements WebhookStore {
  private readonly subs = new Map<string, WebhookSubscription>();
  private readonly deliveries = new Map<string, Map<string, Slot>>();
  private readonly cursors = new Map<string, string>();
  private readonly locks = new Map<string, { owner: string; until: number }>();

  async putSubscription(sub: WebhookSubscription) {
    const created = !this.subs.has(sub.id);
    this.subs.set(sub.id, clone(sub));
    if (!this.deliveries.has(sub.id)) this.deliveries.set(sub.id, new Map());
    return { created, subscription: clone(sub) };
  }

  async getSubscription(id: string) {
    const s = this.subs.get(id);
    return s ? clone(s) : null;
  }

  async listSubscriptions(opts: { limit: number; cursor: string | null }): Promise<Page<WebhookSubscription>> {
    const ids = [...this.subs.keys()].sort().filter((id) => opts.cursor === null || id > opts.cursor);
    const page = ids.slice(0, opts.limit);
    const items = page.map((id) => clone(this.subs.get(id)!));
    return { items, nextCursor: ids.length > opts.limit ? (page[page.length - 1] ?? null) : null };
  }

  async allSubscriptions() {
    return [...this.subs.values()].map(clone);
  }

  async deleteSubscription(id: string) {
    this.deliveries.delete(id);
    return this.subs.delete(id);
  }

  async setSubscriptionActive(id: string, active: boolean, reason: string | null, now: number) {
    const s = this.subs.get(id);
    if (!s) return;
    s.active = active;
    s.deactivatedReason = active ? null : reason;
    s.updatedAt = now;
  }

  async addDeliveries(deliveries: Delivery[]) {
    let added = 0;
    for (const d of deliveries) {
      const slots = this.deliveries.get(d.subscriptionId);
      if (!slots || slots.has(d.id)) continue;
      const queued = d.status === 'pending' || d.status === 'retrying';
      slots.set(d.id, { delivery: clone(d), key: sortKey(d), dueAt: queued ? (d.nextAttemptAt ?? d.createdAt) : null, leaseOwner: null });
      added++;
    }
    return added;
  }

  async getDelivery(subscriptionId: string, id: string) {
    const slot = this.deliveries.get(subscriptionId)?.get(id);
    return slot ? clone(slot.delivery) : null;
  }

  async listDeliveries(
    subscriptionId: string,
    opts: { limit: number; cursor: string | null; status?: DeliveryStatus | undefined },
  ): Promise<Page<Delivery>> {
    const slots = [...(this.deliveries.get(subscriptionId)?.values() ?? [])]
      .filter((s) => opts.cursor === null || s.key < opts.cursor)
      .filter((s) => !opts.status || s.delivery.status === opts.status)
      .sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
    const page = slots.slice(0, opts.limit);
    return {
      items: page.map((s) => clone(s.delivery)),
      nextCursor: slots.length > opts.limit ? (page[page.length - 1]?.key ?? null) : null,
    };
  }

  async claimDue(subscriptionId: string, now: number, limit: number, leaseMs: number, owner: string) {
    const slots = this.deliveries.get(subscriptionId);
    if (!slots || limit <= 0) return [];
    const due = [...slots.values()].filter((s) => s.dueAt !== null && s.dueAt <= now).sort((a, b) => a.dueAt! - b.dueAt! || (a.key < b.key ? -1 : 1));
    const out: Delivery[] = [];
    for (const s of due.slice(0, limit)) {
      s.dueAt = now + leaseMs;
      s.leaseOwner = owner;
      out.push(clone(s.delivery));
    }
    return out;
  }

  async finishAttempt(delivery: Delivery, owner: string) {
    const slot = this.deliveries.get(delivery.subscriptionId)?.get(delivery.id);
    if (!slot || slot.leaseOwner !== owner) return false;
    slot.delivery = clone(delivery);
    slot.leaseOwner = null;
    const queued = delivery.status === 'pending' || delivery.status === 'retrying';
    slot.dueAt = queued ? (delivery.nextAttemptAt ?? 0) : null;
    return true;
  }

  async release(subscriptionId: string, id: string, owner: string, at: number) {
    const slot = this.deliveries.get(subscriptionId)?.get(id);
    if (!slot || slot.leaseOwner !== owner) return;
    slot.leaseOwner = null;
    slot.dueAt = at;
  }

  async requeue(subscriptionId: string, id: string, now: number) {
    const slot = this.deliveries.get(subscriptionId)?.get(id);
    if (!slot) return null;
    if (slot.leaseOwner !== null && slot.dueAt !== null && slot.dueAt > now) return 'in_flight' as const;
    slot.leaseOwner = null;
    const d = slot.delivery;
    d.status = 'pending';
    d.cycleAttempts = 0;
    d.nextAttemptAt = now;
    slot.dueAt = now;
    return clone(d);
  }

  async pruneDelivered(subscriptionId: string, before: number, limit: number) {
    const slots = this.deliveries.get(subscriptionId);
    if (!slots) return 0;
    let n = 0;
    for (const [id, s] of slots) {
      if (n >= limit) break;
      const d = s.delivery;
      if (d.status === 'delivered' && s.dueAt === null && d.deliveredAt !== null && d.deliveredAt <= before) {
        slots.delete(id);
        n++;
      }
    }
    return n;
  }

  async outboxDepth() {
    let n = 0;
    for (const slots of this.deliveries.values()) for (const s of slots.values()) if (s.dueAt !== null) n++;
    return n;
  }

  async getCursor(name: string) {
    return this.cursors.get(name) ?? null;
  }

  async setCursor(name: string, value: string) {
    this.cursors.set(name, value);
  }

  async tryLock(name: string, owner: string, ttlMs: number) {
    const now = Date.now();
    const l = this.locks.get(name);
    if (l && l.until > now && l.owner !== owner) return false;
    this.locks.set(name, { owner, until: now + ttlMs });
    return true;
  }

  async unlock(name: string, owner: string) {
    if (this.locks.get(name)?.owner === owner) this.locks.delete(name);
  }

  async close() {}
}
