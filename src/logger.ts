/**
 * Structured logs (pino). One root logger per process, children carry bindings
 * (tagId, zoneId, alertId). Nothing is logged per ping at info.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({
    level,
    base: { service: 'cordon' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // API keys travel in the authorization header: never write them to the log.
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
  });
}

/** A logger that writes nothing (tests, embedding). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
