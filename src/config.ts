/**
 * Configuration: environment only, validated once at start (CONTRACT §5). `loadConfig` is pure
 * (it takes the env as an argument); only main.ts passes `process.env` in.
 */
import { z } from 'zod';

export const ROLES = ['admin', 'manager', 'monitor', 'ingest', 'ops'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKey {
  role: Role;
  key: string;
}

export interface Config {
  port: number;
  host: string;
  /** null = the embedded in-memory store */
  redisUrl: string | null;
  /** every Redis key starts with `${redisPrefix}:` */
  redisPrefix: string;
  /** empty = HTTP ingest only */
  kafkaBrokers: string[];
  kafkaTopic: string;
  kafkaDlqTopic: string;
  kafkaGroupId: string;
  /**
   * false: with Kafka, this instance produces POST /v1/pings to the topic and serves the API, but
   * joins no consumer group (an HTTP-ingest tier in front of consumer instances)
   */
  kafkaConsume: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  defaultAccuracyM: number;
  batteryLowPct: number;
  signalLostAfterS: number;
  noFixAfterS: number;
  webhookMaxAttempts: number;
  webhookBackoffMs: number;
  /** positions older than this are trimmed */
  positionRetentionHours: number;
  /** at most this many positions are kept per tag */
  positionRetentionMax: number;
  /** requests per key per window; 0 = no limit */
  rateLimitMax: number;
  rateLimitWindowS: number;
  /** largest accepted request body in bytes (larger → 413) */
  bodyLimitBytes: number;
  /** how often the clock-driven sweeper runs */
  sweepIntervalMs: number;
  /** how long a graceful shutdown waits for in-flight work before exiting */
  shutdownTimeoutMs: number;
  /** tag states a Kafka consumer keeps in memory (Redis store with Kafka only; 0 = none) */
  tagStateCache: number;
  /** configured keys; empty = main.ts generates one admin key */
  apiKeys: ApiKey[];
}

const int = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return def;
      if (!/^-?\d+$/.test(s)) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max} (got "${s}")` });
        return z.NEVER;
      }
      const n = Number(s);
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max} (got ${s})` });
        return z.NEVER;
      }
      return n;
    });

const num = (def: number, min: number, max: number, exclusiveMin = false) =>
  z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return def;
      const n = Number(s);
      if (!Number.isFinite(n) || (exclusiveMin ? n <= min : n < min) || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a number ${exclusiveMin ? '>' : '>='} ${min} and <= ${max} (got "${s}")`,
        });
        return z.NEVER;
      }
      return n;
    });

const str = (def: string, re?: RegExp, what?: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return def;
      if (re && !re.test(s)) {
        ctx.addIssue({ code: 'custom', message: `must be ${what ?? re.source} (got "${s}")` });
        return z.NEVER;
      }
      return s;
    });

/** true|1|yes or false|0|no, any case */
const bool = (def: boolean) =>
  z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return def;
      const l = s.toLowerCase();
      if (l === 'true' || l === '1' || l === 'yes') return true;
      if (l === 'false' || l === '0' || l === 'no') return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false (got "${s}")` });
      return z.NEVER;
    });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: str('0.0.0.0', /^[A-Za-z0-9.:\-[\]]+$/, 'a host name or IP address'),
  REDIS_URL: z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return null;
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a URL like redis://host:6379' });
        return z.NEVER;
      }
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
        ctx.addIssue({ code: 'custom', message: `must use redis:// or rediss:// (got "${u.protocol}")` });
        return z.NEVER;
      }
      return s;
    }),
  REDIS_PREFIX: str('cordon', /^[A-Za-z0-9._:-]{1,64}$/, '1-64 chars of A-Za-z0-9._:-'),
  KAFKA_BROKERS: z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return [] as string[];
      const list = s.split(',').map((b) => b.trim()).filter(Boolean);
      for (const b of list) {
        if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(b)) {
          ctx.addIssue({ code: 'custom', message: `each broker must be host:port (got "${b}")` });
          return z.NEVER;
        }
      }
      return list;
    }),
  KAFKA_TOPIC: str('em.pings', /^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name'),
  KAFKA_DLQ_TOPIC: str('em.pings.dlq', /^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name'),
  KAFKA_GROUP_ID: str('cordon', /^[A-Za-z0-9._-]{1,249}$/, 'a Kafka group id'),
  KAFKA_CONSUME: bool(true),
  LOG_LEVEL: z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return 'info' as const;
      const l = s.toLowerCase();
      if (!(LOG_LEVELS as readonly string[]).includes(l)) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${LOG_LEVELS.join(', ')} (got "${s}")` });
        return z.NEVER;
      }
      return l as Config['logLevel'];
    }),
  DEFAULT_ACCURACY_M: num(10, 0, 1_000_000, true),
  BATTERY_LOW_PCT: num(15, 0, 95),
  SIGNAL_LOST_AFTER_S: int(600, 1),
  NO_FIX_AFTER_S: int(900, 1),
  WEBHOOK_MAX_ATTEMPTS: int(8, 1, 100),
  WEBHOOK_BACKOFF_MS: int(1000, 1),
  POSITION_RETENTION_HOURS: int(24 * 30, 1),
  POSITION_RETENTION_MAX: int(10_000, 1),
  RATE_LIMIT_MAX: int(120_000, 0),
  RATE_LIMIT_WINDOW_S: int(60, 1, 86_400),
  BODY_LIMIT_BYTES: int(16 * 1024 * 1024, 1024),
  SWEEP_INTERVAL_MS: int(1000, 10, 3_600_000),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 600_000),
  TAG_STATE_CACHE: int(100_000, 0, 100_000_000),
  CORDON_API_KEYS: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return [] as ApiKey[];
      const out: ApiKey[] = [];
      const seen = new Set<string>();
      for (const raw of s.split(',')) {
        const part = raw.trim();
        if (part === '') continue;
        const i = part.indexOf(':');
        const role = i < 0 ? '' : part.slice(0, i);
        const key = i < 0 ? '' : part.slice(i + 1);
        if (!(ROLES as readonly string[]).includes(role)) {
          ctx.addIssue({
            code: 'custom',
            message: `each entry must be role:key with role one of ${ROLES.join(', ')} (got role "${role || part.slice(0, 16)}")`,
          });
          return z.NEVER;
        }
        if (!/^[\x21-\x7e]{1,256}$/.test(key) || key.includes(',')) {
          ctx.addIssue({ code: 'custom', message: `the key for role "${role}" must be 1-256 printable characters without spaces or commas` });
          return z.NEVER;
        }
        if (seen.has(key)) {
          ctx.addIssue({ code: 'custom', message: `the same key is given twice (role "${role}")` });
          return z.NEVER;
        }
        seen.add(key);
        out.push({ role: role as Role, key });
      }
      return out;
    }),
});

/** Thrown by loadConfig: `problems` name each bad variable. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Documentation of every variable (README table is written from the same facts). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export function loadConfig(env: Record<string, string | undefined>): Config {
  const r = envSchema.safeParse(env);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = r.data;
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    kafkaBrokers: e.KAFKA_BROKERS,
    kafkaTopic: e.KAFKA_TOPIC,
    kafkaDlqTopic: e.KAFKA_DLQ_TOPIC,
    kafkaGroupId: e.KAFKA_GROUP_ID,
    kafkaConsume: e.KAFKA_CONSUME,
    logLevel: e.LOG_LEVEL,
    defaultAccuracyM: e.DEFAULT_ACCURACY_M,
    batteryLowPct: e.BATTERY_LOW_PCT,
    signalLostAfterS: e.SIGNAL_LOST_AFTER_S,
    noFixAfterS: e.NO_FIX_AFTER_S,
    webhookMaxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
    webhookBackoffMs: e.WEBHOOK_BACKOFF_MS,
    positionRetentionHours: e.POSITION_RETENTION_HOURS,
    positionRetentionMax: e.POSITION_RETENTION_MAX,
    rateLimitMax: e.RATE_LIMIT_MAX,
    rateLimitWindowS: e.RATE_LIMIT_WINDOW_S,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    tagStateCache: e.TAG_STATE_CACHE,
    apiKeys: e.CORDON_API_KEYS,
  };
}

/** The defaults, for tests and embedding: `testConfig({ rateLimitMax: 5 })`. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides };
}
