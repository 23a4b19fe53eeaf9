/**
 * How far this consumer has judged its partitions, as a wall-clock instant: every ping that
 * reached Kafka before `through()` has been judged and written. The sweeper runs the clock-driven
 * checks (signal lost, no fix, grace expiry, window starts) at no later instant than the least
 * of these over the consumers, so pings still waiting in Kafka — a backlog after an outage, a
 * rebalance, a slow batch — are never taken for silence, and a breach a waiting ping clears is
 * never raised by the clock.
 *
 * Built from kafkajs's fetch loop, one fetcher per broker: a fetcher starts its next fetch only
 * once every batch of its previous fetch is handled. So when a fetcher starts a fetch, all that
 * reached its partitions before its previous fetch started is judged — except on a partition whose
 * batch was cut short by the fetch size (its offset lag was not zero), which is judged only as far
 * as its last record's time. A record's time is its producer's (or broker's) clock and may reach
 * the broker a little after it was stamped, so the value is kept `marginMs` (default 2 s) behind
 * what the fetches show. After joining the group (new partitions), nothing advances until
 * each fetcher has finished one round; until then, and while the group rebalances, the last value
 * holds (0 before the first: hold everything). The value never goes back. A consumer with no
 * partitions reports nothing (null), and so does one out of its group for longer than
 * `maxOutMs` (its partitions are someone else's by then). A broker whose fetcher has not started
 * a fetch for `staleFetcherMs` while no batch is in flight is forgotten (its partitions moved).
 */
export class IngestProgress {
  /** per broker: when its last fetch started */
  private readonly lastStart = new Map<number, number>();
  /** per broker: when the fetch before its last one started (everything it returned is handled) */
  private readonly frontier = new Map<number, number>();
  /** partitions whose last handled batch left records behind → the last handled record's time */
  private readonly behind = new Map<string, number>();
  private held = 0;
  private joined = false;
  private partitions = 0;
  private leftAt: number | null = null;

  constructor(private readonly opts: { maxOutMs: number; staleFetcherMs?: number; marginMs?: number }) {}

  /** joined the group with `partitions` partitions: every fetcher starts over */
  onJoin(partitions: number): void {
    this.lastStart.clear();
    this.frontier.clear();
    this.behind.clear();
    this.joined = true;
    this.partitions = partitions;
    this.leftAt = null;
  }

  /** rebalancing, crashed or stopped: hold the last value */
  onLeave(now: number): void {
    if (this.joined) this.through(now, 1);
    this.joined = false;
    this.leftAt ??= now;
  }

  /** a fetcher (broker `node`) starts a fetch at `now` */
  onFetchStart(node: number, now: number): void {
    const prev = this.lastStart.get(node);
    if (prev !== undefined) this.frontier.set(node, prev);
    this.lastStart.set(node, now);
  }

  /**
   * A batch of `topic`/`partition` is handled as far as a record that arrived at `lastArrival`;
   * `lagAfter` records of the partition were left for a later fetch.
   */
  onHandled(topic: string, partition: number, lastArrival: number, lagAfter: number): void {
    const key = `${topic}|${partition}`;
    if (lagAfter > 0) this.behind.set(key, lastArrival);
    else this.behind.delete(key);
  }

  /**
   * Every ping that reached Kafka before this instant is judged (0: hold everything; null: this
   * consumer holds nothing back). `inFlight`: batches being handled now.
   */
  through(now: number, inFlight: number): number | null {
    if (!this.joined) return this.leftAt !== null && now - this.leftAt > this.opts.maxOutMs ? null : this.held;
    if (this.partitions === 0) return null;
    if (this.lastStart.size === 0) return this.held;
    const stale = this.opts.staleFetcherMs ?? 30_000;
    let t = now;
    for (const [node, started] of this.lastStart) {
      if (inFlight === 0 && now - started > stale) {
        this.lastStart.delete(node);
        this.frontier.delete(node);
        continue;
      }
      const f = this.frontier.get(node);
      if (f === undefined) return this.held; // a fetcher's first round after joining is not done yet
      if (f < t) t = f;
    }
    for (const b of this.behind.values()) if (b < t) t = b;
    t -= this.opts.marginMs ?? 2_000;
    if (t > this.held) this.held = t;
    return this.held;
  }
}
