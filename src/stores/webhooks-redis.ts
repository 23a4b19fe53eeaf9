import type { Redis } from 'ioredis';
import type { Delivery, DeliveryStatus, Page, WebhookStore, WebhookSubscription } from '../../streams/webhooks/types.ts';

/*
 * Layout (all under the store's prefix):
 *   webhook:subs              hash  subscriptionId -> subscription JSON
 *   webhook:d:{sub}           hash  deliveryId -> delivery JSON
 *   webhook:idx:{sub}         zset  (all scores 0) "<createdAt padded>|<deliveryId>" for newest-first paging
 *   webhook:due:{sub}         zset  deliveryId -> epoch ms it may next be claimed (pending/retrying only;
 *                                   a claim pushes the score to the lease end, so a crashed claimer's work
 *                                   becomes due again by itself)
 *   webhook:lease:{sub}       hash  deliveryId -> "<owner>|<lease end ms>"
 *   webhook:done:{sub}        zset  idx member of each delivered record -> deliveredAt (for retention)
 *   webhook:cursor:{name}     string
 *   webhook:lock:{name}       string owner (PX)
 * Every multi-key change is one Lua script, so a record, its index and its queue entry never disagree.
 */

const ADD = `
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return 0 end
local added = 0
for i = 2, #ARGV, 4 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i+1]) == 1 then
    redis.call('ZADD', KEYS[2], 0, ARGV[i+2])
    if ARGV[i+3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[i+3], ARGV[i]) end
    added = added + 1
  end
end
return added`;

const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local rec = redis.call('HGET', KEYS[2], id)
  if rec then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    redis.call('HSET', KEYS[3], id, ARGV[4] .. '|' .. ARGV[3])
    table.insert(out, rec)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`;

/** ARGV: id, owner, json ('' = release only), due ('' = leave the queue), idx member, deliveredAt ('' = not delivered) */
const FINISH = `
local l = redis.call('HGET', KEYS[3], ARGV[1])
if not l or string.sub(l, 1, #ARGV[2] + 1) ~= (ARGV[2] .. '|') then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
if ARGV[4] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1]) end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5]) end
return 1`;

/** drops delivered records older than ARGV[1], at most ARGV[2] */
const PRUNE = `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(members) do
  local id = string.sub(m, string.find(m, '|', 1, true) + 1)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZREM', KEYS[1], m)
end
return #members`;

/** ARGV: id, now, old json, new json. Refuses while a live lease holds it. */
const REQUEUE = `
local l = redis.call('HGET', KEYS[3], ARGV[1])
if l then
  local untilMs = tonumber(string.match(l, '|(%d+)$'))
  if untilMs and untilMs > tonumber(ARGV[2]) then return 'in_flight' end
end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[3] then return 'conflict' end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[5])
return 'ok'`;

const CAS = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const TRY_LOCK = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

function sortKey(d: Delivery): string {
  return `${String(d.createdAt).padStart(15, '0')}|${d.id}`;
}

const isQueued = (s: DeliveryStatus) => s === 'pending' || s === 'retrying';

export interface RedisWebhookStoreOptions {
  redis: Redis;
  /** key prefix, e.g. "cordon:" or a per-test prefix */
  prefix?: string;
  /** quit the client on close() (when the store made it) */
  ownsClient?: boolean;
}

export class RedisWebhookStore implements WebhookStore {
  private readonly r: Redis;
  private readonly p: string;
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(opts: RedisWebhookStoreOptions) {
    this.r = opts.redis;
    this.p = `${opts.prefix ?? ''}webhook:`;
    this.ownsClient = opts.ownsClient ?? false;
  }

  private k(sub: string) {
    return {
      d: `${this.p}d:${sub}`,
      idx: `${this.p}idx:${sub}`,
      due: `${this.p}due:${sub}`,
      lease: `${this.p}lease:${sub}`,
      done: `${this.p}done:${sub}`,
    };
  }

  private get subsKey() {
    return `${this.p}subs`;
  }

  async putSubscription(sub: WebhookSubscription) {
    const isNew = await this.r.hset(this.subsKey, sub.id, JSON.stringify(sub));
    return { created: isNew === 1, subscription: sub };
  }

  async getSubscription(id: string) {
    const raw = await this.r.hget(this.subsKey, id);
    return raw ? (JSON.parse(raw) as WebhookSubscription) : null;
  }

  async listSubscriptions(opts: { limit: number; cursor: string | null }): Promise<Page<WebhookSubscription>> {
    const all = (await this.allSubscriptions()).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const after = all.filter((s) => opts.cursor === null || s.id > opts.cursor);
    const items = after.slice(0, opts.limit);
    return { items, nextCursor: after.length > opts.limit ? (items[items.length - 1]?.id ?? null) : null };
  }

  async allSubscriptions() {
    const h = await this.r.hgetall(this.subsKey);
    return Object.values(h).map((v) => JSON.parse(v) as WebhookSubscription);
  }

  async deleteSubscription(id: string) {
    const k = this.k(id);
    const res = await this.r.multi().hdel(this.subsKey, id).del(k.d, k.idx, k.due, k.lease, k.done).exec();
    return res?.[0]?.[1] === 1;
  }

  async setSubscriptionActive(id: string, active: boolean, reason: string | null, now: number) {
    for (let i = 0; i < 10; i++) {
      const raw = await this.r.hget(this.subsKey, id);
      if (!raw) return;
      const s = JSON.parse(raw) as WebhookSubscription;
      const next: WebhookSubscription = { ...s, active, deactivatedReason: active ? null : reason, updatedAt: now };
      if ((await this.r.eval(CAS, 1, this.subsKey, id, raw, JSON.stringify(next))) === 1) return;
    }
  }

  async addDeliveries(deliveries: Delivery[]) {
    const bySub = new Map<string, Delivery[]>();
    for (const d of deliveries) {
      const list = bySub.get(d.subscriptionId);
      if (list) list.push(d);
      else bySub.set(d.subscriptionId, [d]);
    }
    if (bySub.size === 0) return 0;
    const pipe = this.r.pipeline();
    for (const [sub, list] of bySub) {
      const k = this.k(sub);
      const args: (string | number)[] = [sub];
      for (const d of list) args.push(d.id, JSON.stringify(d), sortKey(d), isQueued(d.status) ? (d.nextAttemptAt ?? d.createdAt) : '');
      pipe.eval(ADD, 4, k.d, k.idx, k.due, this.subsKey, ...args);
    }
    const res = (await pipe.exec()) ?? [];
    let added = 0;
    for (const [err, n] of res) {
      if (err) throw err;
      added += Number(n);
    }
    return added;
  }

  async getDelivery(subscriptionId: string, id: string) {
    const raw = await this.r.hget(this.k(subscriptionId).d, id);
    return raw ? (JSON.parse(raw) as Delivery) : null;
  }

  async listDeliveries(
    subscriptionId: string,
    opts: { limit: number; cursor: string | null; status?: DeliveryStatus | undefined },
  ): Promise<Page<Delivery>> {
    const k = this.k(subscriptionId);
    const items: Delivery[] = [];
    let max = opts.cursor === null ? '+' : `(${opts.cursor}`;
    let lastKey: string | null = null;
    const batch = Math.min(1000, Math.max(opts.limit + 1, 50));
    for (;;) {
      const members = await this.r.zrevrangebylex(k.idx, max, '-', 'LIMIT', 0, batch);
      if (members.length === 0) return { items, nextCursor: null };
      const ids = members.map((m) => m.slice(m.indexOf('|') + 1));
      const raws = await this.r.hmget(k.d, ...ids);
      for (let i = 0; i < members.length; i++) {
        const raw = raws[i];
        if (!raw) continue;
        const d = JSON.parse(raw) as Delivery;
        if (opts.status && d.status !== opts.status) continue;
        if (items.length === opts.limit) return { items, nextCursor: lastKey };
        items.push(d);
        lastKey = members[i]!;
      }
      if (members.length < batch) return { items, nextCursor: null };
      max = `(${members[members.length - 1]!}`;
    }
  }

  async claimDue(subscriptionId: string, now: number, limit: number, leaseMs: number, owner: string) {
    if (limit <= 0) return [];
    const k = this.k(subscriptionId);
    const raws = (await this.r.eval(CLAIM, 3, k.due, k.d, k.lease, now, limit, now + leaseMs, owner)) as string[];
    return raws.map((r) => JSON.parse(r) as Delivery);
  }

  async finishAttempt(delivery: Delivery, owner: string) {
    const k = this.k(delivery.subscriptionId);
    const due = isQueued(delivery.status) ? String(delivery.nextAttemptAt ?? 0) : '';
    const delivered = delivery.status === 'delivered' ? String(delivery.deliveredAt ?? 0) : '';
    const ok = await this.r.eval(FINISH, 4, k.due, k.d, k.lease, k.done, delivery.id, owner, JSON.stringify(delivery), due, sortKey(delivery), delivered);
    return ok === 1;
  }

  async release(subscriptionId: string, id: string, owner: string, at: number) {
    const k = this.k(subscriptionId);
    await this.r.eval(FINISH, 4, k.due, k.d, k.lease, k.done, id, owner, '', String(at), '', '');
  }

  async requeue(subscriptionId: string, id: string, now: number) {
    const k = this.k(subscriptionId);
    for (let i = 0; i < 10; i++) {
      const raw = await this.r.hget(k.d, id);
      if (!raw) return null;
      const d = JSON.parse(raw) as Delivery;
      const next: Delivery = { ...d, status: 'pending', cycleAttempts: 0, nextAttemptAt: now };
      const res = await this.r.eval(REQUEUE, 4, k.due, k.d, k.lease, k.done, id, now, raw, JSON.stringify(next), sortKey(d));
      if (res === 'in_flight') return 'in_flight' as const;
      if (res === 'ok') return next;
    }
    throw new Error(`requeue of delivery ${id} kept conflicting`);
  }

  async pruneDelivered(subscriptionId: string, before: number, limit: number) {
    const k = this.k(subscriptionId);
    return Number(await this.r.eval(PRUNE, 3, k.done, k.d, k.idx, before, limit));
  }

  async outboxDepth() {
    const ids = await this.r.hkeys(this.subsKey);
    if (ids.length === 0) return 0;
    const pipe = this.r.pipeline();
    for (const id of ids) pipe.zcard(this.k(id).due);
    const res = (await pipe.exec()) ?? [];
    return res.reduce((n, [err, c]) => (err ? n : n + Number(c)), 0);
  }

  async getCursor(name: string) {
    return this.r.get(`${this.p}cursor:${name}`);
  }

  async setCursor(name: string, value: string) {
    await this.r.set(`${this.p}cursor:${name}`, value);
  }

  async tryLock(name: string, owner: string, ttlMs: number) {
    return (await this.r.eval(TRY_LOCK, 1, `${this.p}lock:${name}`, owner, Math.max(1, Math.round(ttlMs)))) === 1;
  }

  async unlock(name: string, owner: string) {
    await this.r.eval(UNLOCK, 1, `${this.p}lock:${name}`, owner);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.r.quit().catch(() => this.r.disconnect());
  }
}
