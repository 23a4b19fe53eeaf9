import type { Redis } from 'ioredis';
import type { OutboxEvent, WebhookEventSource } from '../../streams/webhooks/types.ts';

/**
 * A `cordon:events`-shaped log on a real Redis stream (XADD field `event` = JSON), for webhook
 * tests that must not depend on the alert pipeline.
 */
export class RedisStreamEvents implements WebhookEventSource {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
  ) {}

  async append(type = 'alert.opened', alert: unknown = { id: 'A' }): Promise<OutboxEvent> {
    const createdAt = new Date().toISOString();
    const id = await this.redis.xadd(this.key, '*', 'event', JSON.stringify({ type, createdAt, alert }));
    return { id: id!, type, createdAt, alert };
  }

  async readEventsAfter(afterId: string | null, limit: number): Promise<OutboxEvent[]> {
    const rows = await this.redis.xrange(this.key, afterId === null ? '-' : `(${afterId}`, '+', 'COUNT', limit);
    return rows.map(([id, fields]) => {
      const e = JSON.parse(fields[fields.indexOf('event') + 1]!) as Omit<OutboxEvent, 'id'>;
      return { ...e, id };
    });
  }
}
