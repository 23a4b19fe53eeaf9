import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      redisUrl: null,
      kafkaBrokers: [],
      kafkaTopic: 'em.pings',
      kafkaDlqTopic: 'em.pings.dlq',
      kafkaGroupId: 'cordon',
      kafkaConsume: true,
      defaultAccuracyM: 10,
      batteryLowPct: 15,
      signalLostAfterS: 600,
      noFixAfterS: 900,
      tagStateCache: 100_000,
      apiKeys: [],
    });
  });

  it('parses keys, brokers and numbers', () => {
    const c = loadConfig({
      PORT: '9000',
      CORDON_API_KEYS: 'admin:a1, ingest:i-2 ,monitor:m:3',
      KAFKA_BROKERS: 'k1:9092,k2:9093',
      REDIS_URL: 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'DEBUG',
    });
    expect(c.port).toBe(9000);
    expect(c.apiKeys).toEqual([
      { role: 'admin', key: 'a1' },
      { role: 'ingest', key: 'i-2' },
      { role: 'monitor', key: 'm:3' },
    ]);
    expect(c.kafkaBrokers).toEqual(['k1:9092', 'k2:9093']);
    expect(c.logLevel).toBe('debug');
    expect(loadConfig({ KAFKA_CONSUME: 'false' }).kafkaConsume).toBe(false);
    expect(loadConfig({ KAFKA_CONSUME: ' NO ' }).kafkaConsume).toBe(false);
    expect(loadConfig({ KAFKA_CONSUME: '1' }).kafkaConsume).toBe(true);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['REDIS_URL', 'http://x'],
    ['KAFKA_BROKERS', 'nohostport'],
    ['LOG_LEVEL', 'loud'],
    ['DEFAULT_ACCURACY_M', '0'],
    ['BATTERY_LOW_PCT', '-1'],
    ['SIGNAL_LOST_AFTER_S', '1.5'],
    ['WEBHOOK_MAX_ATTEMPTS', '0'],
    ['CORDON_API_KEYS', 'root:abc'],
    ['CORDON_API_KEYS', 'admin:a,monitor:a'],
    ['RATE_LIMIT_MAX', 'lots'],
    ['TAG_STATE_CACHE', '-5'],
    ['KAFKA_CONSUME', 'sometimes'],
  ])('a bad %s (%s) is refused with a message naming it', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(name);
  });

  it('npm start with a bad value exits 1 naming it, without a stack trace', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'not-a-port', REDIS_URL: '', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(out).toContain('PORT');
    expect(out).not.toMatch(/\n\s+at /);
  }, 30_000);
});
