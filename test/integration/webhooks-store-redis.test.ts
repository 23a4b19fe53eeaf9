import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { RedisWebhookStore } from '../../src/stores/webhooks-redis.ts';
import { webhookStoreConformance } from '../support/webhook-store-conformance.ts';

webhookStoreConformance('redis', async () => {
  const prefix = `t-${randomUUID()}:`;
  const a = new Redis(inject('redisUrl'));
  const b = new Redis(inject('redisUrl'));
  const store = new RedisWebhookStore({ redis: a, prefix });
  const peer = new RedisWebhookStore({ redis: b, prefix });
  return {
    store,
    peer,
    cleanup: async () => {
      await store.close();
      await peer.close();
      const keys = await a.keys(`${prefix}*`);
      if (keys.length) await a.del(...keys);
      a.disconnect();
      b.disconnect();
    },
  };
});
