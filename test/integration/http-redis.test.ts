/** The HTTP API suite (test/support/http-suite.ts) on the Redis store, against a real redis-server. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, inject } from 'vitest';
import { createRedisStore } from '../../src/stores/redis.ts';
import { httpApiSuite, sseSuite, type StoreFactory } from '../support/http-suite.ts';

const redis: StoreFactory = async (clock) => {
  const prefix = `t-http-${randomUUID().slice(0, 8)}:`;
  const store = await createRedisStore({ url: inject('redisUrl'), prefix, eventsKey: `${prefix}events`, clock });
  return {
    store,
    cleanup: async () => {
      await store.close();
      const r = new Redis(inject('redisUrl'));
      const keys = await r.keys(`${prefix}*`);
      if (keys.length) await r.del(...keys);
      await r.quit();
    },
  };
};

describe('HTTP API on the Redis store', () => {
  httpApiSuite(redis);
  describe('SSE', () => sseSuite(redis));
});
