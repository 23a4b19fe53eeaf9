import type { OutboxEvent, WebhookEventSource } from '../../streams/webhooks/types.ts';

/** An in-memory event log shaped like the store's `cordon:events` (ids `<ms>-<seq>`, ascending). */
export class TestEventLog implements WebhookEventSource {
  readonly events: OutboxEvent[] = [];
  private readonly listeners = new Set<(e: OutboxEvent) => void>();
  private seq = 0;

  append(type = 'alert.opened', alert: unknown = { id: `A${this.seq + 1}` }, createdAt = Date.now()): OutboxEvent {
    const e: OutboxEvent = { id: `${createdAt}-${this.seq++}`, type, createdAt: new Date(createdAt).toISOString(), alert };
    this.events.push(e);
    for (const l of this.listeners) l(e);
    return e;
  }

  async readEventsAfter(afterId: string | null, limit: number): Promise<OutboxEvent[]> {
    const start = afterId === null ? 0 : this.events.findIndex((e) => e.id === afterId) + 1;
    return this.events.slice(start, start + limit);
  }

  subscribeEvents(listener: (e: OutboxEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
