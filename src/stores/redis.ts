/**
 * The Redis store (ioredis). Every atomic multi-key write is one Lua script (redis-scripts.ts);
 * reads are pipelined. Keys live under one prefix (default "cordon:") except the events stream and
 * channel, which default to exactly "cordon:events" (CONTRACT §4).
 *
 * Keys (P = prefix):
 *   P subject:{id} hash (json, createdAt, assignedAt, assignedMs, tagId) · P subjects zset (lex)
 *   P tagowner hash tag→subject · P tagctx hash tag→TagContext JSON
 *   P zone:{id} hash (v, live, createdAt, sids) · P zones zset (lex, live) · P zones:subj:{sid} zset (lex)
 *   P zonehist:{id} list of audit records · P zoneids set (every id ever)
 *   P state hash tag→state JSON · P due zset tag→next check (ms)
 *   P alert:{id} hash (e engine JSON, h human JSON, n notes JSON, pc, act, conf, st, om, type, subj, ab, aa)
 *   P alerts / alerts:st:{s} / alerts:type:{t} / alerts:subj:{id} zsets scored by openedAt ms
 *   P pos:{tag} zset scored by ts, member = position JSON · P lease:{key} · P config channel
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { TagContext, ZoneDef } from '../../geo/types.ts';
import { compactTagState, decodeTagState, encodeTagState, TAG_STATE_MARK } from '../../geo/state-codec.ts';
import { enginePart } from '../../streams/alerts.ts';
import { toZoneDef } from '../../streams/codec.ts';
import {
  BadCursorError,
  ConflictError,
  InvalidTransitionError,
  NotFoundError,
  STORE_DEFAULTS,
  systemClock,
} from '../../streams/ports.ts';
import type {
  AcknowledgeInput,
  Alert,
  AlertEvent,
  AlertQuery,
  AlertStatus,
  Clock,
  CommitBatch,
  CommitResult,
  ConfigChange,
  CordonStore,
  DueTag,
  Page,
  PageQuery,
  PutResult,
  ResolveInput,
  StoredPosition,
  StoreOptions,
  StoredTagState,
  Subject,
  SubjectInput,
  TagStateBlob,
  TagStateWrite,
  TransitionResult,
  Unsubscribe,
  WriteMeta,
  ZoneHistory,
  ZoneInput,
  ZoneResource,
  ZoneVersionRecord,
} from '../../streams/ports.ts';
import { alertAfter, decodeCursor, encodeCursor, idAfter, parseEventId } from './common.ts';
import { ArgWriter } from './arg-writer.ts';
import { decodePosition, writePosition } from './position-codec.ts';
import { COMMIT_LUA, DELETE_SUBJECT_LUA, INGEST_PROGRESS_LUA, PUT_SUBJECT_LUA, TRANSITION_LUA, ZONE_LUA } from './redis-scripts.ts';

export interface RedisStoreOptions extends StoreOptions {
  /** redis:// URL; ignored when `client` is given */
  url?: string;
  /** an existing connection to use (not closed by close() unless ownsClient) */
  client?: Redis;
  redisOptions?: RedisOptions;
  /** connection errors are logged here (warn, rate-limited); pino's Logger fits. Default: silent */
  logger?: StoreLogger;
  /**
   * How often positions older than the retention are pruned from every trail (one instance per
   * interval, under a lease; 0 = never, for tests that call prunePositions themselves).
   * Default: a tenth of the retention, between 1 minute and 10 minutes.
   */
  positionsPruneIntervalMs?: number;
  /**
   * How many tag states to keep decoded in memory (0 = none, the default): a process that owns its
   * tags, a Kafka consumer of their partitions, then judges its next batch without reading them
   * back. Each entry holds the state this process last wrote and the revision that write made;
   * a write by anyone else raises the revision, so a stale entry fails the commit's revision check
   * and its tag is judged again from a fresh load (see StoredTagState.cached). Not for HTTP ingest
   * spread over several instances, where a tag's pings alternate between them (each switch costs
   * a retry).
   */
  tagStateCache?: number;
}

/** The slice of a pino logger the store uses. */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** How often (at most) a failing connection logs while Redis stays unreachable. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Gives `client` 'error' and 'ready' listeners: without an 'error' listener ioredis prints
 * "[ioredis] Unhandled error event" stack traces while it reconnects. ioredis keeps reconnecting
 * (its retryStrategy); this only logs: the first error, then at most once per interval with the
 * number of errors in between, and one line when the connection is back.
 */
function watchConnection(client: Redis, role: string, logger: StoreLogger | undefined): void {
  let lastLog = 0;
  let suppressed = 0;
  let failing = false;
  client.on('error', (err: Error) => {
    failing = true;
    const now = Date.now();
    if (now - lastLog < ERROR_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    lastLog = now;
    logger?.warn({ connection: role, err: err.message, suppressed }, 'Redis connection error (reconnecting)');
    suppressed = 0;
  });
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    lastLog = 0;
    suppressed = 0;
    logger?.info({ connection: role }, 'Redis connection ready again');
  });
}

interface Script {
  src: string;
  sha: string;
}

function script(src: string): Script {
  return { src, sha: createHash('sha1').update(src).digest('hex') };
}

const SCRIPTS = {
  commit: script(COMMIT_LUA),
  transition: script(TRANSITION_LUA),
  putSubject: script(PUT_SUBJECT_LUA),
  deleteSubject: script(DELETE_SUBJECT_LUA),
  zone: script(ZONE_LUA),
  ingestProgress: script(INGEST_PROGRESS_LUA),
};

/**
 * The commit's items (see COMMIT_LUA) as the bytes of its one payload argument: every state,
 * then every alert change, then every position, each field a string of one MessagePack array.
 */
function writeCommitItems(batch: CommitBatch, now: number): Buffer {
  const w = new ArgWriter(false, true);
  for (const s of batch.states) {
    w.next().str(s.tagId);
    w.next();
    if (s.state !== undefined) {
      const compact = compactTagState(s.state);
      if (compact === null) w.str(encodeTagState(s.state));
      else w.char(TAG_STATE_MARK).str(compact);
    }
    w.next();
    if (s.dueAt !== null) w.num(s.dueAt);
    w.next();
    if (s.expectRev !== undefined) w.num(s.expectRev);
  }
  for (const ch of batch.changes) {
    const a = ch.alert;
    w.next().str(ch.kind);
    w.next().str(a.id);
    w.next().str(JSON.stringify(enginePart(a)));
    w.next().str(a.type);
    w.next().str(a.subjectId);
    w.next().num(a.openedAt);
    w.next().num(a.pingCount);
    w.next().char(a.active ? 0x31 : 0x30);
    w.next().str(a.confidence);
    w.next().str(a.tagId);
  }
  for (const p of batch.positions) {
    w.next().str(p.ping.tagId);
    w.next().num(p.ping.ts);
    w.next();
    if (p.fresh === true) w.char(0x31);
    w.next();
    writePosition(w, p, p.receivedAt ?? now);
  }
  return w.done();
}

function checkLimit(limit: number): number {
  return Math.max(1, Math.min(1000, Math.floor(limit)));
}

function mergedAlertJson(e: string, h: string, n: string): string {
  return e.slice(0, -1) + ',' + h.slice(1, -1) + ',"notes":' + n + '}';
}

/** JSON of `v` with the first and last character (the braces) kept: the tail after the id etc. */
function objectJson(v: object): string {
  return JSON.stringify(v);
}

export class RedisStore implements CordonStore {
  readonly kind = 'redis' as const;
  readonly redis: Redis;
  private sub: Redis | null = null;
  private readonly ownsClient: boolean;
  private readonly clock: Clock;
  private readonly P: string;
  private readonly ek: string;
  private readonly configChannel: string;
  private readonly retentionMs: number;
  private readonly maxPerTag: number;
  private readonly eventsMaxLen: number;
  private readonly origin = randomUUID();
  private readonly configListeners = new Set<(c: ConfigChange) => void>();
  private readonly eventListeners = new Set<(e: AlertEvent) => void>();
  private subscribing: Promise<void> | null = null;
  private closed: Promise<void> | null = null;
  private readonly logger: StoreLogger | undefined;
  private readonly loading = new Map<string, Promise<unknown>>();
  /** tag → the state this process last wrote and its revision, oldest write first (see tagStateCache) */
  private readonly stateCache: Map<string, { rev: number; state: TagStateBlob }> | null;
  private readonly stateCacheMax: number;
  /** subject and tag ids read back from Redis, one string per id (see sameId) */
  private readonly ids = new Map<string, string>();

  constructor(opts: RedisStoreOptions) {
    this.clock = opts.clock ?? systemClock;
    this.P = opts.prefix ?? STORE_DEFAULTS.prefix;
    this.ek = opts.eventsKey ?? STORE_DEFAULTS.eventsKey;
    this.configChannel = this.P + 'config';
    this.retentionMs = opts.positionRetentionMs ?? STORE_DEFAULTS.positionRetentionMs;
    this.maxPerTag = opts.positionsMaxPerTag ?? STORE_DEFAULTS.positionsMaxPerTag;
    this.eventsMaxLen = opts.eventsMaxLen ?? STORE_DEFAULTS.eventsMaxLen;
    if (opts.client) {
      this.redis = opts.client;
      this.ownsClient = false;
    } else {
      if (!opts.url) throw new Error('RedisStore needs url or client');
      this.redis = new Redis(opts.url, { maxRetriesPerRequest: 3, ...opts.redisOptions });
      this.ownsClient = true;
    }
    this.logger = opts.logger;
    // a client handed in may already have its owner's listener; ours only logs
    watchConnection(this.redis, 'main', this.logger);
    this.stateCacheMax = Math.max(0, Math.floor(opts.tagStateCache ?? 0));
    this.stateCache = this.stateCacheMax > 0 ? new Map() : null;
    // a reconnect may be to a Redis that lost data: revisions may have gone back, so trust nothing
    if (this.stateCache) this.redis.on('ready', () => this.stateCache?.clear());
    this.pruneEveryMs = opts.positionsPruneIntervalMs ?? Math.min(600_000, Math.max(60_000, Math.round(this.retentionMs / 10)));
  }

  private readonly pruneEveryMs: number;
  private pruneTimer: NodeJS.Timeout | null = null;

  /** Connects and subscribes to config changes (so other instances' changes arrive). */
  async init(): Promise<this> {
    await this.redis.ping();
    await this.ensureSubscribed();
    if (this.pruneEveryMs > 0 && this.pruneTimer === null) {
      // one instance per interval prunes (the lease); the others skip that round
      this.pruneTimer = setInterval(() => {
        void this.claim('janitor:positions', Math.max(1000, this.pruneEveryMs - 1000))
          .then((mine) => (mine ? this.prunePositions() : 0))
          .catch((err: unknown) => this.logger?.warn({ err }, 'position pruning failed; next round retries'));
      }, this.pruneEveryMs);
      this.pruneTimer.unref();
    }
    return this;
  }

  /**
   * Drops positions older than the retention from every trail (SCAN in chunks, one pipelined
   * ZREMRANGEBYSCORE per trail); a trail left empty disappears with its key. The commit only
   * caps trails by count (a call per ping matters there); reads hide expired points at once.
   * Returns the number of positions removed.
   */
  async prunePositions(): Promise<number> {
    const cutoff = '(' + (this.clock.now() - this.retentionMs);
    const pattern = this.P.replace(/[*?[\]\\]/g, '\\$&') + 'pos:*';
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const p = this.redis.pipeline();
      for (const k of keys) p.zremrangebyscore(k, '-inf', cutoff);
      for (const [err, n] of (await p.exec()) ?? []) if (!err) removed += Number(n) || 0;
    } while (cursor !== '0');
    return removed;
  }

  /**
   * EVALSHA (args are a handful: batch items travel joined in one argument, never spread). On
   * NOSCRIPT (a fresh or restarted Redis) one SCRIPT LOAD is shared by every call waiting, instead
   * of each in-flight commit sending the whole script body with EVAL.
   */
  private async run(s: Script, args: (string | number | Buffer)[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(s.sha, 0, ...args);
    } catch (e) {
      if (!(e instanceof Error && e.message.includes('NOSCRIPT'))) throw e;
    }
    let loading = this.loading.get(s.sha);
    if (!loading) {
      loading = this.redis.script('LOAD', s.src).finally(() => this.loading.delete(s.sha));
      this.loading.set(s.sha, loading);
    }
    try {
      await loading;
      return await this.redis.evalsha(s.sha, 0, ...args);
    } catch (e) {
      if (e instanceof Error && e.message.includes('NOSCRIPT')) return this.redis.eval(s.src, 0, ...args);
      throw e;
    }
  }

  // ---------------------------------------------------------------- pub/sub

  private ensureSubscribed(): Promise<void> {
    if (this.subscribing) return this.subscribing;
    const sub = this.redis.duplicate();
    this.sub = sub;
    watchConnection(sub, 'subscriber', this.logger);
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    let connectedBefore = false;
    sub.on('ready', () => {
      // ioredis re-subscribes by itself after a reconnect, but what was published while the
      // connection was down is gone: tell listeners about every subject and zone again.
      if (connectedBefore) void this.resync().catch(() => {});
      connectedBefore = true;
    });
    this.subscribing = sub.subscribe(this.configChannel, this.ek).then(() => undefined);
    return this.subscribing;
  }

  /** Re-announces every current subject assignment and zone to the config listeners. */
  async resync(): Promise<void> {
    if (this.configListeners.size === 0) return;
    const [assignments, zoneIds] = await Promise.all([this.allAssignments(), this.redis.smembers(this.P + 'zoneids')]);
    const p = this.redis.pipeline();
    for (const id of zoneIds) p.hmget(this.P + 'zone:' + id, 'v', 'live');
    const res = zoneIds.length ? ((await p.exec()) ?? []) : [];
    for (const c of assignments) this.emitConfig({ kind: 'subject', id: c.subjectId, tagId: c.tagId, previousTagId: null });
    zoneIds.forEach((id, i) => {
      const [v, live] = (res[i]?.[1] as (string | null)[] | undefined) ?? [];
      this.emitConfig({ kind: 'zone', id, version: Number(v ?? 0), deleted: live == null });
    });
  }

  private onMessage(channel: string, message: string): void {
    if (channel === this.ek) {
      if (this.eventListeners.size === 0) return;
      let ev: AlertEvent;
      try {
        ev = JSON.parse(message) as AlertEvent;
      } catch {
        return;
      }
      for (const l of this.eventListeners) {
        try {
          l(ev);
        } catch {
          /* a listener's failure is its own */
        }
      }
      return;
    }
    if (channel === this.configChannel) {
      let msg: { origin: string; change: ConfigChange };
      try {
        msg = JSON.parse(message) as { origin: string; change: ConfigChange };
      } catch {
        return;
      }
      if (msg.origin === this.origin) return; // told our own listeners already, synchronously
      this.emitConfig(msg.change);
    }
  }

  private emitConfig(c: ConfigChange): void {
    if (c.kind === 'subject' && this.stateCache !== null) {
      // the commit's revision check would catch these too (dropped states keep their revision)
      if (c.tagId) this.stateCache.delete(c.tagId);
      if (c.previousTagId) this.stateCache.delete(c.previousTagId);
    }
    for (const l of this.configListeners) {
      try {
        l(c);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  onConfigChange(listener: (change: ConfigChange) => void): Unsubscribe {
    this.configListeners.add(listener);
    void this.ensureSubscribed();
    return () => this.configListeners.delete(listener);
  }

  subscribeEvents(listener: (event: AlertEvent) => void): Unsubscribe {
    this.eventListeners.add(listener);
    void this.ensureSubscribed();
    return () => this.eventListeners.delete(listener);
  }

  /** resolves once the subscriber connection listens (tests: before expecting live messages) */
  subscribed(): Promise<void> {
    return this.ensureSubscribed();
  }

  // ---------------------------------------------------------------- subjects

  async putSubject(id: string, input: SubjectInput): Promise<PutResult<Subject>> {
    const now = this.clock.now();
    const nowIso = new Date(now).toISOString();
    const tail = objectJson({ tagId: input.tagId, name: input.name, orderRef: input.orderRef, timezone: input.timezone, updatedAt: nowIso });
    const r = (await this.run(SCRIPTS.putSubject, [
      this.P,
      id,
      JSON.stringify(id),
      input.tagId,
      JSON.stringify(input.tagId),
      JSON.stringify(input.timezone),
      tail,
      nowIso,
      now,
      this.configChannel,
      this.origin,
    ])) as [string, ...unknown[]];
    if (r[0] === 'conflict') {
      const owner = String(r[1]);
      throw new ConflictError(`tag ${JSON.stringify(input.tagId)} is assigned to subject ${JSON.stringify(owner)}`, {
        tagId: input.tagId,
        subjectId: owner,
      });
    }
    const [, created, json, prevTag] = r as [string, number, string, string];
    this.emitConfig({ kind: 'subject', id, tagId: input.tagId, previousTagId: prevTag === '' ? null : prevTag });
    return { created: created === 1, value: JSON.parse(json) as Subject };
  }

  async getSubject(id: string): Promise<Subject | null> {
    const json = await this.redis.hget(this.P + 'subject:' + id, 'json');
    return json ? (JSON.parse(json) as Subject) : null;
  }

  async deleteSubject(id: string): Promise<boolean> {
    const tag = (await this.run(SCRIPTS.deleteSubject, [this.P, id, JSON.stringify(id), this.configChannel, this.origin])) as string | null;
    if (!tag) return false;
    this.emitConfig({ kind: 'subject', id, tagId: null, previousTagId: tag });
    return true;
  }

  private async lexPage(key: string, q: PageQuery): Promise<{ ids: string[]; more: boolean }> {
    const limit = checkLimit(q.limit);
    const after = idAfter(q.cursor);
    if (q.cursor && after === null) throw new BadCursorError();
    const ids = await this.redis.zrangebylex(key, after === null ? '-' : '(' + after, '+', 'LIMIT', 0, limit + 1);
    return { ids: ids.slice(0, limit), more: ids.length > limit };
  }

  async listSubjects(q: PageQuery): Promise<Page<Subject>> {
    const { ids, more } = await this.lexPage(this.P + 'subjects', q);
    const p = this.redis.pipeline();
    for (const id of ids) p.hget(this.P + 'subject:' + id, 'json');
    const res = ids.length ? ((await p.exec()) ?? []) : [];
    const items: Subject[] = [];
    for (const [err, json] of res) if (!err && typeof json === 'string') items.push(JSON.parse(json) as Subject);
    const last = ids[ids.length - 1];
    return { items, nextCursor: more && last !== undefined ? encodeCursor([last]) : null };
  }

  /**
   * The one string this process keeps for an id read back from Redis. JSON.parse shares string
   * values of up to 10 characters (V8 internalizes them), not longer ones. With longer ids (UUIDs,
   * case references) each zone's JSON would give it its own copies of its subjects' ids (a
   * town's 170 school zones naming the same 1,250 subjects are 210,000 strings), and a tag
   * context's subject id would be another string than the zone index's key for it, so each
   * lookup would compare the text, not the pointer. The memory store keeps the subjects' own
   * strings.
   */
  private sameId(id: string): string {
    if (id.length <= 10) return id;
    const known = this.ids.get(id);
    if (known !== undefined) return known;
    // ids of deleted subjects stay; past this size start afresh (sharing is only a saving)
    if (this.ids.size >= 1_000_000) this.ids.clear();
    this.ids.set(id, id);
    return id;
  }

  private contextOf(json: string): TagContext {
    const c = JSON.parse(json) as TagContext;
    c.tagId = this.sameId(c.tagId);
    c.subjectId = this.sameId(c.subjectId);
    return c;
  }

  async subjectByTag(tagId: string): Promise<TagContext | null> {
    const json = await this.redis.hget(this.P + 'tagctx', tagId);
    return json ? this.contextOf(json) : null;
  }

  async allAssignments(): Promise<TagContext[]> {
    const all = await this.redis.hvals(this.P + 'tagctx');
    return all.map((j) => this.contextOf(j));
  }

  // ---------------------------------------------------------------- zones

  private async zoneWrite(id: string, action: 'put' | 'delete', input: ZoneInput | null, meta: WriteMeta): Promise<unknown[]> {
    const now = this.clock.now();
    const nowIso = new Date(now).toISOString();
    const tail = input ? objectJson({ ...input, updatedAt: nowIso, updatedBy: meta.by }) : '';
    return (await this.run(SCRIPTS.zone, [
      this.P,
      id,
      JSON.stringify(id),
      action,
      tail,
      input ? input.subjectIds.join('\n') : '',
      nowIso,
      JSON.stringify(meta.by),
      this.configChannel,
      this.origin,
    ])) as unknown[];
  }

  async putZone(id: string, input: ZoneInput, meta: WriteMeta): Promise<PutResult<ZoneResource>> {
    const r = (await this.zoneWrite(id, 'put', input, meta)) as [string, number, number, string];
    this.emitConfig({ kind: 'zone', id, version: r[2], deleted: false });
    return { created: r[1] === 1, value: JSON.parse(r[3]) as ZoneResource };
  }

  async getZone(id: string): Promise<ZoneResource | null> {
    const json = await this.redis.hget(this.P + 'zone:' + id, 'live');
    return json ? (JSON.parse(json) as ZoneResource) : null;
  }

  async deleteZone(id: string, meta: WriteMeta): Promise<boolean> {
    const r = await this.zoneWrite(id, 'delete', null, meta);
    if (r[0] !== 'ok') return false;
    this.emitConfig({ kind: 'zone', id, version: r[2] as number, deleted: true });
    return true;
  }

  async listZones(q: PageQuery & { subjectId?: string }): Promise<Page<ZoneResource>> {
    const key = q.subjectId === undefined ? this.P + 'zones' : this.P + 'zones:subj:' + q.subjectId;
    const { ids, more } = await this.lexPage(key, q);
    const p = this.redis.pipeline();
    for (const id of ids) p.hget(this.P + 'zone:' + id, 'live');
    const res = ids.length ? ((await p.exec()) ?? []) : [];
    const items: ZoneResource[] = [];
    for (const [err, json] of res) if (!err && typeof json === 'string') items.push(JSON.parse(json) as ZoneResource);
    const last = ids[ids.length - 1];
    return { items, nextCursor: more && last !== undefined ? encodeCursor([last]) : null };
  }

  async zoneVersions(id: string, q: PageQuery): Promise<Page<ZoneVersionRecord> | null> {
    const limit = checkLimit(q.limit);
    const c = decodeCursor(q.cursor);
    if (q.cursor && (!c || typeof c[0] !== 'number')) throw new BadCursorError();
    const afterVersion = c ? (c[0] as number) : 0;
    // versions are 1..n in list order, so version v sits at index v-1
    const raw = await this.redis.lrange(this.P + 'zonehist:' + id, afterVersion, afterVersion + limit);
    if (raw.length === 0 && afterVersion === 0) return null;
    const recs = raw.map((j) => JSON.parse(j) as ZoneVersionRecord);
    const items = recs.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: recs.length > limit && last ? encodeCursor([last.version]) : null };
  }

  private historyFrom(id: string, raw: string[]): ZoneHistory {
    const defs: ZoneDef[] = [];
    const history: ZoneHistory['history'] = [];
    for (const j of raw) {
      const r = JSON.parse(j) as ZoneVersionRecord;
      const at = Date.parse(r.at);
      if (r.action === 'deleted') history.push({ version: r.version, at, def: null });
      else {
        const def = toZoneDef(id, r.version, r.zone, at);
        const ids = def.subjectIds;
        for (let k = 0; k < ids.length; k++) ids[k] = this.sameId(ids[k] as string);
        defs.push(def);
        history.push({ version: r.version, at, def });
      }
    }
    const lastH = history[history.length - 1];
    return { zoneId: id, defs, deletedAt: lastH && lastH.def === null ? lastH.at : null, history };
  }

  async allZoneDefs(): Promise<ZoneHistory[]> {
    const ids = await this.redis.smembers(this.P + 'zoneids');
    if (ids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const id of ids) p.lrange(this.P + 'zonehist:' + id, 0, -1);
    const res = (await p.exec()) ?? [];
    return ids.map((id, i) => this.historyFrom(id, (res[i]?.[1] as string[] | undefined) ?? []));
  }

  async zoneHistory(id: string): Promise<ZoneHistory | null> {
    const raw = await this.redis.lrange(this.P + 'zonehist:' + id, 0, -1);
    return raw.length ? this.historyFrom(id, raw) : null;
  }

  // ---------------------------------------------------------------- tag state

  async loadTagStates(tagIds: readonly string[]): Promise<Map<string, StoredTagState>> {
    const out = new Map<string, StoredTagState>();
    if (tagIds.length === 0) return out;
    let ask = tagIds;
    const cache = this.stateCache;
    if (cache !== null) {
      const miss: string[] = [];
      for (let i = 0; i < tagIds.length; i++) {
        const t = tagIds[i] as string;
        const c = cache.get(t);
        if (c === undefined) miss.push(t);
        else out.set(t, { state: c.state, rev: c.rev, lent: true, cached: true });
      }
      if (miss.length === 0) return out;
      ask = miss;
    }
    const vals = await this.redis.hmget(this.P + 'state', ...ask);
    for (let i = 0; i < ask.length; i++) {
      const v = vals[i];
      if (v == null) continue;
      // "<rev>|<state>", or "<rev>|" for a dropped state
      const bar = v.indexOf('|');
      const rev = Number(v.slice(0, bar));
      out.set(ask[i] as string, { rev, state: bar === v.length - 1 ? null : (decodeTagState(v.slice(bar + 1)) as TagStateBlob) });
    }
    return out;
  }

  forgetTagStates(tagIds: readonly string[]): void {
    const cache = this.stateCache;
    if (cache !== null) for (const t of tagIds) cache.delete(t);
  }

  /** after a commit: each state written with a known base revision is cached, the rest forgotten */
  private cacheWritten(states: readonly TagStateWrite[], conflicts: readonly string[]): void {
    const cache = this.stateCache as Map<string, { rev: number; state: TagStateBlob }>;
    const refused = conflicts.length > 0 ? new Set(conflicts) : null;
    for (let j = 0; j < states.length; j++) {
      const s = states[j] as TagStateWrite;
      if (s.state === undefined) continue; // due time only: state and revision unchanged
      const t = s.tagId;
      cache.delete(t); // re-inserted last: the map's order is the order of writes
      if (s.state === null || s.expectRev === undefined || (refused !== null && refused.has(t))) continue;
      cache.set(t, { rev: s.expectRev + 1, state: s.state });
    }
    // over the bound: forget the tags written longest ago
    if (cache.size > this.stateCacheMax) {
      let over = cache.size - this.stateCacheMax;
      for (const t of cache.keys()) {
        if (over-- <= 0) break;
        cache.delete(t);
      }
    }
  }

  async dueTags(now: number, limit: number): Promise<DueTag[]> {
    const raw = await this.redis.zrangebyscore(this.P + 'due', '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit);
    const out: DueTag[] = [];
    for (let i = 0; i < raw.length; i += 2) out.push({ tagId: raw[i] as string, dueAt: Number(raw[i + 1]) });
    return out;
  }

  async commitBatch(batch: CommitBatch): Promise<CommitResult> {
    const now = this.clock.now();
    const nowIso = new Date(now).toISOString();
    const args: (string | number)[] = [
      this.P,
      this.ek,
      nowIso,
      this.eventsMaxLen,
      this.maxPerTag,
      batch.states.length,
      batch.changes.length,
      batch.positions.length,
    ];
    const items = writeCommitItems(batch, now);
    let res: [string[], string[], string[]];
    try {
      res = (await this.run(SCRIPTS.commit, [...args, items, batch.alerts === false ? 0 : 1])) as [string[], string[], string[]];
    } catch (err) {
      // unknown whether it was applied: the next load of these tags reads Redis
      this.forgetTagStates(batch.states.map((s) => s.tagId));
      throw err;
    }
    const [out, finals, conflicts] = res;
    if (this.stateCache !== null) this.cacheWritten(batch.states, conflicts);
    return { conflicts, events: out.map((j) => JSON.parse(j) as AlertEvent), alerts: finals.map((j) => JSON.parse(j) as Alert) };
  }

  // ---------------------------------------------------------------- alerts

  async getAlert(id: string): Promise<Alert | null> {
    const [e, h, n] = await this.redis.hmget(this.P + 'alert:' + id, 'e', 'h', 'n');
    if (!e || !h || !n) return null;
    return JSON.parse(mergedAlertJson(e, h, n)) as Alert;
  }

  async listAlerts(q: AlertQuery): Promise<Page<Alert>> {
    const limit = checkLimit(q.limit);
    const after = alertAfter(q.cursor);
    if (q.cursor && after === null) throw new BadCursorError();
    // the most selective single index; the other filters are checked on the hashes
    const key = q.subjectId
      ? this.P + 'alerts:subj:' + q.subjectId
      : q.type
        ? this.P + 'alerts:type:' + q.type
        : q.status
          ? this.P + 'alerts:st:' + q.status
          : this.P + 'alerts';
    const max = after ? String(after.ms) : '+inf';
    const min = q.since !== undefined ? String(q.since) : '-inf';
    const items: Alert[] = [];
    let last: { ms: number; id: string } | null = null;
    let more = false;
    const chunk = Math.min(1000, limit + 1);
    let offset = 0;
    outer: for (;;) {
      const raw = await this.redis.zrevrangebyscore(key, max, min, 'WITHSCORES', 'LIMIT', offset, chunk);
      if (raw.length === 0) break;
      offset += raw.length / 2;
      const cand: { id: string; ms: number }[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const id = raw[i] as string;
        const ms = Number(raw[i + 1]);
        if (after && ms === after.ms && id >= after.id) continue;
        cand.push({ id, ms });
      }
      const p = this.redis.pipeline();
      for (const c of cand) p.hmget(this.P + 'alert:' + c.id, 'e', 'h', 'n', 'st', 'type', 'subj');
      const res = cand.length ? ((await p.exec()) ?? []) : [];
      for (let i = 0; i < cand.length; i++) {
        const f = res[i]?.[1] as (string | null)[] | undefined;
        if (!f || !f[0] || !f[1] || !f[2]) continue;
        if (q.status && f[3] !== q.status) continue;
        if (q.type && f[4] !== q.type) continue;
        if (q.subjectId && f[5] !== q.subjectId) continue;
        if (items.length === limit) {
          more = true;
          break outer;
        }
        items.push(JSON.parse(mergedAlertJson(f[0], f[1], f[2])) as Alert);
        last = cand[i] as { id: string; ms: number };
      }
      if (raw.length / 2 < chunk) break;
    }
    return { items, nextCursor: more && last ? encodeCursor([last.ms, last.id]) : null };
  }

  private async transition(id: string, to: AlertStatus, by: string, outcome: string | null, note: string | null | undefined, action: 'acknowledge' | 'resolve'): Promise<TransitionResult> {
    const nowIso = new Date(this.clock.now()).toISOString();
    const noteJson = note ? JSON.stringify({ at: nowIso, by, action, text: note }) : '';
    const r = (await this.run(SCRIPTS.transition, [
      this.P,
      this.ek,
      this.eventsMaxLen,
      id,
      to,
      nowIso,
      JSON.stringify(by),
      JSON.stringify(outcome),
      noteJson,
    ])) as string[];
    if (r[0] === 'not_found') throw new NotFoundError('alert', id);
    if (r[0] === 'invalid') throw new InvalidTransitionError(id, r[1] as AlertStatus, to);
    const event = JSON.parse(r[1] as string) as AlertEvent;
    return { alert: event.alert, event };
  }

  acknowledgeAlert(id: string, input: AcknowledgeInput): Promise<TransitionResult> {
    return this.transition(id, 'acknowledged', input.by, null, input.note, 'acknowledge');
  }

  resolveAlert(id: string, input: ResolveInput): Promise<TransitionResult> {
    return this.transition(id, 'resolved', input.by, input.outcome, input.note, 'resolve');
  }

  // ---------------------------------------------------------------- events

  async readEventsAfter(afterId: string | null, limit: number): Promise<AlertEvent[]> {
    if (limit <= 0) return [];
    if (afterId !== null && !parseEventId(afterId)) throw new BadCursorError();
    const entries = await this.redis.xrange(this.ek, afterId === null ? '-' : '(' + afterId, '+', 'COUNT', limit);
    const out: AlertEvent[] = [];
    for (const [, fields] of entries) {
      const i = fields.indexOf('event');
      const json = i >= 0 ? fields[i + 1] : undefined;
      if (json) out.push(JSON.parse(json) as AlertEvent);
    }
    return out;
  }

  // ---------------------------------------------------------------- positions

  async positions(tagId: string, from: number, to: number, limit: number): Promise<StoredPosition[]> {
    const cutoff = this.clock.now() - this.retentionMs;
    const raw = await this.redis.zrangebyscore(this.P + 'pos:' + tagId, Math.max(from, cutoff), to, 'LIMIT', 0, Math.max(0, limit));
    return raw.map((m) => decodePosition(tagId, m));
  }

  // ---------------------------------------------------------------- coordination

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const r = await this.redis.set(this.P + 'lease:' + key, this.origin, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return r === 'OK';
  }

  async claimMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const p = this.redis.pipeline();
    for (const k of keys) p.set(this.P + 'lease:' + k, this.origin, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    const res = (await p.exec()) ?? [];
    return keys.map((_, i) => res[i]?.[1] === 'OK');
  }

  /** one hash, consumer → "through|expires at" (a field cannot expire on its own before Redis 7.4) */
  async reportIngestProgress(consumer: string, through: number | null, ttlMs: number): Promise<void> {
    const key = this.P + 'ingest:progress';
    if (through === null) await this.redis.hdel(key, consumer);
    else await this.redis.hset(key, consumer, `${Math.floor(through)}|${this.clock.now() + Math.ceil(ttlMs)}`);
  }

  async ingestProgress(): Promise<number | null> {
    const r = await this.run(SCRIPTS.ingestProgress, [this.P + 'ingest:progress', this.clock.now()]);
    return typeof r === 'string' ? Number(r) : null;
  }

  // ---------------------------------------------------------------- lifecycle

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.pruneTimer) clearInterval(this.pruneTimer);
      this.pruneTimer = null;
      this.configListeners.clear();
      this.eventListeners.clear();
      const sub = this.sub;
      this.sub = null;
      if (sub) await sub.quit().catch(() => sub.disconnect());
      if (this.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
    })();
    return this.closed;
  }
}

/** Connects, subscribes to config changes and answers when ready. */
export async function createRedisStore(opts: RedisStoreOptions): Promise<RedisStore> {
  const s = new RedisStore(opts);
  try {
    return await s.init();
  } catch (e) {
    await s.close();
    throw e;
  }
}
