import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import { speedUpKafkajsDecoding } from './kafkajs-decode.ts';

/** The slice of a pino logger the adapter uses (pino satisfies it; tests may pass a silent one). */
export interface KafkaLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: KafkaLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface KafkaClientOptions {
  /** host:port list */
  brokers: string[];
  clientId?: string;
  logger?: KafkaLogger;
  /** passed through (ssl, sasl, timeouts) */
  extra?: Omit<KafkaConfig, 'brokers' | 'clientId' | 'logCreator' | 'logLevel'>;
}

/**
 * One kafkajs client whose own log lines go through our structured logger (and, once per process,
 * kafkajs's record decoding with less garbage: see kafkajs-decode.ts).
 */
export function createKafkaClient(opts: KafkaClientOptions): Kafka {
  const logger = opts.logger ?? silentLogger;
  const applied = speedUpKafkajsDecoding();
  if (!applied.longs || !applied.records) logger.debug({ applied }, 'kafkajs internals not as expected (or its record decoder loaded already): that part of its decoding is left as it is');
  const logCreator = () => (entry: LogEntry) => {
    const { message, ...rest } = entry.log;
    const fields = { kafka: entry.namespace, ...rest };
    // kafkajs logs every retriable connection hiccup at ERROR; ours decide what is an error.
    switch (entry.level) {
      case logLevel.ERROR:
      case logLevel.WARN:
        logger.warn(fields, message);
        break;
      case logLevel.INFO:
        logger.debug(fields, message);
        break;
      default:
        logger.debug(fields, message);
    }
  };
  return new Kafka({
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    ...opts.extra,
    clientId: opts.clientId ?? 'cordon',
    brokers: opts.brokers,
    logLevel: logLevel.INFO,
    logCreator,
  });
}

/** Parses `KAFKA_BROKERS` ("host:port,host:port"). */
export function parseBrokers(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
