import { createHash } from 'node:crypto';

/**
 * Why a webhook URL is refused, or null when it is acceptable: absolute http(s) only, no
 * user:password (credentials would be sent to, and logged by, every hop).
 */
export function webhookUrlProblem(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must use http or https';
  if (u.username !== '' || u.password !== '') return 'must not contain credentials';
  if (u.hostname === '') return 'must have a host';
  return null;
}

/** What the API shows of a secret: never the whole of it, at most the last 4 characters of a long one. */
export function maskSecret(secret: string): string {
  return secret.length >= 16 ? `****${secret.slice(-4)}` : '****';
}

/** Deterministic delivery id: the same event fanned out twice to the same subscription is one delivery. */
export function deliveryId(subscriptionId: string, eventId: string): string {
  return createHash('sha256').update(`${subscriptionId}\u0000${eventId}`).digest('hex').slice(0, 32);
}
