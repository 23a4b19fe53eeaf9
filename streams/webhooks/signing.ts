import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The `cordon-signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
 * (CONTRACT §4). The timestamp is inside the signed string so a receiver can refuse replays
 * older than its tolerance window.
 */
export function signatureHeader(secret: string, rawBody: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  const mac = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex');
  return `t=${t},v1=${mac}`;
}

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'mismatch' | 'expired' };

/**
 * Receiver-side check (used by docs and tooling): the header parses, one `v1` matches, and
 * `t` is within `toleranceS` of `nowS`.
 */
export function verifySignature(
  secret: string,
  rawBody: string,
  header: string | undefined,
  nowS: number,
  toleranceS = 300,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'malformed' };
  let t: number | null = null;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d+$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (t === null || sigs.length === 0) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex'), 'utf8');
  const match = sigs.some((s) => timingSafeEqual(Buffer.from(s, 'utf8'), expected));
  if (!match) return { ok: false, reason: 'mismatch' };
  if (Math.abs(nowS - t) > toleranceS) return { ok: false, reason: 'expired' };
  return { ok: true, timestamp: t };
}
