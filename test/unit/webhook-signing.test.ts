import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureHeader, verifySignature } from '../../streams/webhooks/signing.ts';

/**
 * An independent receiver-side check, written from the contract text only (not from the signer):
 * cordon-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 */
function independentVerify(secret: string, rawBody: Buffer, header: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const mac = crypto.createHmac('sha256', Buffer.from(secret, 'utf8'));
  mac.update(Buffer.concat([Buffer.from(`${m[1]}.`, 'ascii'), rawBody]));
  return crypto.timingSafeEqual(mac.digest(), Buffer.from(m[2]!, 'hex'));
}

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('webhook signing', () => {
  const secret = 'whsec_4f1c0e9a2b7d6e5f';
  const body = JSON.stringify({ id: '1700000000000-0', type: 'alert.opened', alert: { id: 'A1', note: 'café ✓' } });

  it('produces t=<unix seconds>,v1=<64 hex> that an independent implementation accepts', () => {
    const h = signatureHeader(secret, body, 1_700_000_123.9);
    expect(h).toMatch(/^t=1700000123,v1=[0-9a-f]{64}$/);
    expect(independentVerify(secret, Buffer.from(body, 'utf8'), h)).toBe(true);
    expect(independentVerify('other-secret', Buffer.from(body, 'utf8'), h)).toBe(false);
    expect(independentVerify(secret, Buffer.from(body.replace('A1', 'A2'), 'utf8'), h)).toBe(false);
    expect(independentVerify(secret, Buffer.from(body, 'utf8'), h.replace('t=1700000123', 't=1700000124'))).toBe(false);
  });

  it.skipIf(!hasOpenssl)('matches openssl dgst -hmac (a third implementation)', () => {
    const t = 1_700_000_000;
    const out = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret, '-r'], { input: `${t}.${body}` }).toString();
    const hex = out.trim().split(/\s+/)[0];
    expect(signatureHeader(secret, body, t)).toBe(`t=${t},v1=${hex}`);
  });

  it('verifySignature accepts within the tolerance and refuses replays, tampering and junk', () => {
    const h = signatureHeader(secret, body, 1_000_000);
    expect(verifySignature(secret, body, h, 1_000_100, 300)).toEqual({ ok: true, timestamp: 1_000_000 });
    expect(verifySignature(secret, body, h, 1_000_301, 300)).toEqual({ ok: false, reason: 'expired' });
    expect(verifySignature(secret, `${body} `, h, 1_000_000)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(secret, body, undefined, 1_000_000)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature(secret, body, 'v1=abc', 1_000_000)).toEqual({ ok: false, reason: 'malformed' });
  });
});
