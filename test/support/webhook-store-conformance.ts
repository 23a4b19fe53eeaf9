import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newDelivery } from '../../streams/webhooks/outbox.ts';
import type { Delivery, OutboxEvent, WebhookStore, WebhookSubscription } from '../../streams/webhooks/types.ts';

export interface StoreHarness {
  store: WebhookStore;
  /** a second handle on the same data (another instance), when the store can share */
  peer?: WebhookStore;
  cleanup(): Promise<void>;
}

export function sub(id: string, over: Partial<WebhookSubscription> = {}): WebhookSubscription {
  return {
    id,
    url: 'http://127.0.0.1:9/hook',
    secret: 'a-very-secret-secret',
    events: null,
    active: true,
    deactivatedReason: null,
    fromEventId: null,
    createdAt: 1_000,
    updatedAt: 1_000,
    ...over,
  };
}

export function ev(n: number, type = 'alert.opened'): OutboxEvent {
  return { id: `${1_700_000_000_000 + n}-0`, type, createdAt: new Date(1_700_000_000_000 + n).toISOString(), alert: { id: `A${n}` } };
}

/** One suite, every WebhookStore implementation (BullMQ habit). */
export function webhookStoreConformance(name: string, make: () => Promise<StoreHarness>): void {
  describe(`WebhookStore conformance: ${name}`, () => {
    let h: StoreHarness;
    let s: WebhookStore;
    beforeEach(async () => {
      h = await make();
      s = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('creates, replaces, lists (paged by id) and deletes subscriptions', async () => {
      expect((await s.putSubscription(sub('b'))).created).toBe(true);
      expect((await s.putSubscription(sub('a'))).created).toBe(true);
      expect((await s.putSubscription(sub('c'))).created).toBe(true);
      expect((await s.putSubscription(sub('b', { url: 'https://example.test/x' }))).created).toBe(false);
      expect((await s.getSubscription('b'))?.url).toBe('https://example.test/x');
      const p1 = await s.listSubscriptions({ limit: 2, cursor: null });
      expect(p1.items.map((x) => x.id)).toEqual(['a', 'b']);
      expect(p1.nextCursor).not.toBeNull();
      const p2 = await s.listSubscriptions({ limit: 2, cursor: p1.nextCursor });
      expect(p2.items.map((x) => x.id)).toEqual(['c']);
      expect(p2.nextCursor).toBeNull();
      expect(await s.deleteSubscription('b')).toBe(true);
      expect(await s.deleteSubscription('b')).toBe(false);
      expect(await s.getSubscription('b')).toBeNull();
      expect((await s.allSubscriptions()).map((x) => x.id).sort()).toEqual(['a', 'c']);
    });

    it('deactivates and reactivates with a reason', async () => {
      await s.putSubscription(sub('a'));
      await s.setSubscriptionActive('a', false, 'receiver answered 410 Gone', 5_000);
      expect(await s.getSubscription('a')).toMatchObject({ active: false, deactivatedReason: 'receiver answered 410 Gone', updatedAt: 5_000 });
      await s.setSubscriptionActive('a', true, null, 6_000);
      expect(await s.getSubscription('a')).toMatchObject({ active: true, deactivatedReason: null });
    });

    it('adds deliveries idempotently and only for existing subscriptions', async () => {
      const a = sub('a');
      await s.putSubscription(a);
      const ds = [1, 2, 3].map((n) => newDelivery(a, ev(n), 10_000 + n));
      expect(await s.addDeliveries(ds)).toBe(3);
      expect(await s.addDeliveries(ds)).toBe(0);
      expect(await s.addDeliveries([newDelivery(sub('ghost'), ev(1), 10_000)])).toBe(0);
      expect(await s.outboxDepth()).toBe(3);
      const got = await s.getDelivery('a', ds[1]!.id);
      expect(got).toEqual(ds[1]);
    });

    it('lists deliveries newest first, paged, filtered by status', async () => {
      const a = sub('a');
      await s.putSubscription(a);
      const ds = Array.from({ length: 7 }, (_, i) => newDelivery(a, ev(i), 20_000 + i));
      await s.addDeliveries(ds);
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 10; i++) {
        const page: { items: Delivery[]; nextCursor: string | null } = await s.listDeliveries('a', { limit: 3, cursor });
        seen.push(...page.items.map((d) => d.eventId));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(ds.map((d) => d.eventId).reverse());
      const claimed = await s.claimDue('a', 30_000, 2, 1_000, 'me');
      for (const c of claimed) await s.finishAttempt({ ...c, status: 'dead', nextAttemptAt: null }, 'me');
      const dead = await s.listDeliveries('a', { limit: 1, cursor: null, status: 'dead' });
      expect(dead.items).toHaveLength(1);
      expect(dead.items[0]!.status).toBe('dead');
      const rest = await s.listDeliveries('a', { limit: 5, cursor: dead.nextCursor, status: 'dead' });
      expect(rest.items).toHaveLength(1);
      expect(rest.nextCursor).toBeNull();
      expect((await s.listDeliveries('nobody', { limit: 5, cursor: null })).items).toEqual([]);
    });

    it('claims only due deliveries, leases them, and re-offers them when the lease ends', async () => {
      const a = sub('a');
      await s.putSubscription(a);
      const d1 = { ...newDelivery(a, ev(1), 100), nextAttemptAt: 100 };
      const d2 = { ...newDelivery(a, ev(2), 100), nextAttemptAt: 5_000 };
      await s.addDeliveries([d1, d2]);
      const other = h.peer ?? s;
      const c1 = await s.claimDue('a', 1_000, 10, 500, 'me');
      expect(c1.map((d) => d.id)).toEqual([d1.id]);
      expect(await other.claimDue('a', 1_200, 10, 500, 'you')).toEqual([]);
      // lease ended at 1 500: someone else may take it
      const c2 = await other.claimDue('a', 1_600, 10, 500, 'you');
      expect(c2.map((d) => d.id)).toEqual([d1.id]);
      // the first owner lost its lease: its outcome is not written
      expect(await s.finishAttempt({ ...d1, status: 'delivered', nextAttemptAt: null }, 'me')).toBe(false);
      expect(await other.finishAttempt({ ...d1, status: 'delivered', attempts: 1, nextAttemptAt: null }, 'you')).toBe(true);
      expect((await s.getDelivery('a', d1.id))?.status).toBe('delivered');
      expect(await s.outboxDepth()).toBe(1);
      expect((await s.claimDue('a', 6_000, 10, 500, 'me')).map((d) => d.id)).toEqual([d2.id]);
    });

    it('reschedules a retry and releases without an attempt', async () => {
      const a = sub('a');
      await s.putSubscription(a);
      const d = newDelivery(a, ev(1), 100);
      await s.addDeliveries([d]);
      const [c] = await s.claimDue('a', 200, 1, 10_000, 'me');
      expect(await s.finishAttempt({ ...c!, status: 'retrying', attempts: 1, cycleAttempts: 1, nextAttemptAt: 900 }, 'me')).toBe(true);
      expect(await s.claimDue('a', 800, 1, 10_000, 'me')).toEqual([]);
      const [again] = await s.claimDue('a', 900, 1, 10_000, 'me');
      expect(again?.attempts).toBe(1);
      await s.release('a', d.id, 'me', 950);
      expect((await s.claimDue('a', 960, 1, 10_000, 'you')).map((x) => x.id)).toEqual([d.id]);
    });

    it('requeues a dead delivery with a fresh budget, refuses while leased', async () => {
      const a = sub('a');
      await s.putSubscription(a);
      const d = newDelivery(a, ev(1), 100);
      await s.addDeliveries([d]);
      expect(await s.requeue('a', 'nope', 200)).toBeNull();
      const [c] = await s.claimDue('a', 200, 1, 10_000, 'me');
      expect(await s.requeue('a', d.id, 300)).toBe('in_flight');
      await s.finishAttempt({ ...c!, status: 'dead', attempts: 3, cycleAttempts: 3, nextAttemptAt: null, lastError: 'HTTP 500' }, 'me');
      expect(await s.outboxDepth()).toBe(0);
      const r = await s.requeue('a', d.id, 400);
      expect(r).toMatchObject({ status: 'pending', attempts: 3, cycleAttempts: 0, nextAttemptAt: 400 });
      expect(await s.outboxDepth()).toBe(1);
      expect((await s.claimDue('a', 400, 1, 1_000, 'me')).map((x) => x.id)).toEqual([d.id]);
    });

    it('deleting a subscription removes its deliveries and voids leases', async () => {
      const a = sub('a');
      await s.putSubscription(a);
      const d = newDelivery(a, ev(1), 100);
      await s.addDeliveries([d]);
      const [c] = await s.claimDue('a', 200, 1, 10_000, 'me');
      await s.deleteSubscription('a');
      expect(await s.finishAttempt({ ...c!, status: 'delivered', nextAttemptAt: null }, 'me')).toBe(false);
      expect(await s.getDelivery('a', d.id)).toBeNull();
      expect(await s.outboxDepth()).toBe(0);
      await s.putSubscription(a);
      expect((await s.listDeliveries('a', { limit: 10, cursor: null })).items).toEqual([]);
    });

    it('prunes delivered records older than the cutoff, never queued or dead ones', async () => {
      const a = sub('a');
      await s.putSubscription(a);
      const ds = [1, 2, 3, 4].map((n) => newDelivery(a, ev(n), 100 + n));
      await s.addDeliveries(ds);
      const claimed = await s.claimDue('a', 1_000, 3, 10_000, 'me');
      expect(claimed).toHaveLength(3);
      await s.finishAttempt({ ...claimed[0]!, status: 'delivered', nextAttemptAt: null, deliveredAt: 2_000 }, 'me');
      await s.finishAttempt({ ...claimed[1]!, status: 'delivered', nextAttemptAt: null, deliveredAt: 5_000 }, 'me');
      await s.finishAttempt({ ...claimed[2]!, status: 'dead', nextAttemptAt: null }, 'me');
      expect(await s.pruneDelivered('a', 3_000, 100)).toBe(1);
      expect(await s.getDelivery('a', claimed[0]!.id)).toBeNull();
      expect(await s.getDelivery('a', claimed[1]!.id)).not.toBeNull();
      const left = await s.listDeliveries('a', { limit: 10, cursor: null });
      expect(left.items.map((d) => d.id).sort()).toEqual([claimed[1]!.id, claimed[2]!.id, ds[3]!.id].sort());
      // a delivered record sent again by hand is queued, so not pruned
      await s.requeue('a', claimed[1]!.id, 6_000);
      expect(await s.pruneDelivered('a', 10_000, 100)).toBe(0);
      expect(await s.outboxDepth()).toBe(2);
    });

    it('keeps cursors and an exclusive expiring lock', async () => {
      expect(await s.getCursor('fanout')).toBeNull();
      await s.setCursor('fanout', '1-0');
      expect(await s.getCursor('fanout')).toBe('1-0');
      const other = h.peer ?? s;
      expect(await s.tryLock('fanout', 'me', 10_000)).toBe(true);
      expect(await s.tryLock('fanout', 'me', 10_000)).toBe(true);
      expect(await other.tryLock('fanout', 'you', 10_000)).toBe(false);
      await other.unlock('fanout', 'you');
      expect(await other.tryLock('fanout', 'you', 10_000)).toBe(false);
      await s.unlock('fanout', 'me');
      expect(await other.tryLock('fanout', 'you', 30)).toBe(true);
    });

    it('close() is idempotent', async () => {
      await s.close();
      await s.close();
    });
  });
}
