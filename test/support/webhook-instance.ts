/**
 * One webhook instance as a separate process (for kill -9 tests): reads WH_REDIS_URL and WH_PREFIX,
 * runs fan-out + dispatcher over the test event stream, prints "ready" once started.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisWebhookStore } from '../../src/stores/webhooks-redis.ts';
import { WebhookService } from '../../streams/webhooks/service.ts';
import { RedisStreamEvents } from './webhook-redis-events.ts';

const url = process.env.WH_REDIS_URL;
const prefix = process.env.WH_PREFIX;
if (!url || !prefix) throw new Error('WH_REDIS_URL and WH_PREFIX are required');
const redis = new Redis(url);
const store = new RedisWebhookStore({ redis, prefix, ownsClient: true });
const svc = new WebhookService({
  store,
  events: new RedisStreamEvents(redis, `${prefix}events`),
  logger: pino({ level: 'silent' }),
  maxAttempts: 100,
  backoffBaseMs: 25,
  backoffMaxMs: 100,
  requestTimeoutMs: 1_000,
  pollIntervalMs: 20,
  fanoutPollIntervalMs: 50,
});
await svc.start();
process.stdout.write('ready\n');
