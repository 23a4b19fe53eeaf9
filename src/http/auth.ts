/**
 * API-key auth (CONTRACT §5): `authorization: Bearer <key>`, one role per key.
 * An app-level onRequest hook identifies the caller; routes declare who may call them with
 * `preHandler: requireRole('manager', ...)` (admin is always allowed). The same preHandler
 * applies the per-key rate limit, so unauthenticated requests cost one hash and a 401.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { ApiKey, Role } from '../config.ts';
import { HttpProblem } from './problem.ts';

export interface Principal {
  role: Role;
  /** short non-secret id of the key (first 8 hex chars of its SHA-256), for audit and logs */
  keyId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the authenticated caller, or null (set by the auth onRequest hook) */
    principal: Principal | null;
  }
}

export const keyId = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

/** "who" for audit trails: `manager:1a2b3c4d`. */
export const actorOf = (p: Principal | null): string => (p ? `${p.role}:${p.keyId}` : 'anonymous');

export class KeyRing {
  private readonly byHash = new Map<string, Principal>();
  constructor(keys: readonly ApiKey[]) {
    for (const k of keys) this.byHash.set(hash(k.key), { role: k.role, keyId: keyId(k.key) });
  }
  get size(): number {
    return this.byHash.size;
  }
  /** undefined = unknown key */
  lookup(key: string): Principal | undefined {
    return this.byHash.get(hash(key));
  }
}

function hash(key: string): string {
  return createHash('sha256').update(key).digest('base64');
}

/** Fixed-window request counter per key. limit 0 = unlimited. */
export class RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}
  /** null = allowed; otherwise seconds until the window resets */
  hit(key: string): number | null {
    if (this.limit <= 0) return null;
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t >= w.resetAt) {
      if (this.windows.size > 10_000) this.sweep(t);
      w = { count: 0, resetAt: t + this.windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count > this.limit) return Math.max(1, Math.ceil((w.resetAt - t) / 1000));
    return null;
  }
  private sweep(t: number): void {
    for (const [k, w] of this.windows) if (t >= w.resetAt) this.windows.delete(k);
  }
}

/** Reads the bearer key (or, for EventSource clients that cannot set headers, `?access_token=` where allowed). */
export function bearerOf(req: FastifyRequest, allowQueryToken: boolean): string | null {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1]! : null;
  }
  if (allowQueryToken) {
    const q = req.query as Record<string, unknown> | undefined;
    const t = q?.access_token;
    if (typeof t === 'string' && t.length > 0) return t;
  }
  return null;
}

export type RequireRole = (...roles: Role[]) => preHandlerHookHandler;

/**
 * Builds the `requireRole` factory for one app. 401 when no/unknown key, 403 when the role
 * is not allowed, 429 when the key is over its rate limit.
 */
export function makeRequireRole(limiter: RateLimiter): RequireRole {
  return (...roles: Role[]) => {
    const allowed = new Set<Role>(['admin', ...roles]);
    const names = [...allowed].join(', ');
    return function requireRole(req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) {
      const p = req.principal;
      if (!p) {
        const hasHeader = req.headers.authorization !== undefined;
        done(
          new HttpProblem(401, 'unauthorized', hasHeader ? 'The API key is not valid' : 'An API key is required: authorization: Bearer <key>', {
            headers: { 'www-authenticate': 'Bearer realm="cordon"' },
          }),
        );
        return;
      }
      if (!allowed.has(p.role)) {
        done(new HttpProblem(403, 'forbidden', `Role "${p.role}" may not do this; allowed roles: ${names}`));
        return;
      }
      const retryAfter = limiter.hit(p.keyId);
      if (retryAfter !== null) {
        void reply;
        done(
          new HttpProblem(429, 'rate-limited', `Rate limit exceeded for this key; retry in ${retryAfter} s`, {
            headers: { 'retry-after': String(retryAfter) },
          }),
        );
        return;
      }
      done();
    };
  };
}
