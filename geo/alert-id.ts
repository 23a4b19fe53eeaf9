/**
 * Deterministic alert ids (CONTRACT §3): the same (tag, zone or type, openedAt) always gives
 * the same id, in any process, so replaying pings after a crash never makes a second alert.
 * sha256 over a length-prefixed encoding (no ambiguity between fields), base64url, 22 chars
 * (132 bits). node:crypto is pure computation here, not I/O.
 */
import { createHash } from 'node:crypto';
import type { AlertType } from './types.ts';

export function alertId(tagId: string, type: AlertType, zoneId: string | null, openedAt: number): string {
  const key = zoneId === null ? '' : zoneId;
  const h = createHash('sha256');
  h.update(`cordon.alert.v1\n${tagId.length}:${tagId}\n${type}\n${key.length}:${key}\n${openedAt}`);
  return h.digest('base64url').slice(0, 22);
}
