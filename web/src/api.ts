// A thin client for the public API. Every call carries the signed-in key as a Bearer token;
// failures become ApiError with the problem+json body the service answers.
import type { Page } from './types.ts';

export interface FieldError {
  /** dotted path into the request body, e.g. `schedule.windows.0.start` */
  path: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.problem = problem;
  }

  /** The per-field errors of a 400, whatever shape the service used for their paths. */
  fieldErrors(): FieldError[] {
    return normaliseErrors(this.problem.errors);
  }
}

/** Turns `/a/0/b`, `a[0].b`, `['a', 0, 'b']` or `body.a.0.b` into `a.0.b`. */
export function normalisePath(raw: unknown): string {
  let parts: string[];
  if (Array.isArray(raw)) parts = raw.map((p) => String(p));
  else if (typeof raw === 'string') parts = raw.replace(/\[(\d+)\]/g, '.$1').split(/[./]/);
  else return '';
  parts = parts.filter((p) => p !== '' && p !== '#');
  if (parts[0] === 'body') parts = parts.slice(1);
  return parts.join('.');
}

function normaliseErrors(errors: unknown): FieldError[] {
  if (!errors) return [];
  const out: FieldError[] = [];
  if (Array.isArray(errors)) {
    for (const e of errors) {
      if (typeof e === 'string') {
        out.push({ path: '', message: e });
        continue;
      }
      if (!e || typeof e !== 'object') continue;
      const o = e as Record<string, unknown>;
      const path = normalisePath(o.path ?? o.field ?? o.pointer ?? o.instancePath ?? o.loc ?? '');
      const message = String(o.message ?? o.detail ?? o.title ?? o.reason ?? 'invalid');
      out.push({ path, message });
    }
  } else if (typeof errors === 'object') {
    for (const [k, v] of Object.entries(errors as Record<string, unknown>)) {
      const msgs = Array.isArray(v) ? v : [v];
      for (const m of msgs) out.push({ path: normalisePath(k), message: String(m) });
    }
  }
  return out;
}

export class Api {
  readonly key: string;
  readonly base: string;
  constructor(key: string, base = '') {
    this.key = key;
    this.base = base;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, accept: 'application/json', ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const init: RequestInit = { method, headers: this.headers(), signal };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = this.headers({ 'content-type': 'application/json' });
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, init);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError({ status: 0, title: 'Network error', detail: 'The service could not be reached.' });
    }
    const text = await res.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!res.ok) {
      const p = (json && typeof json === 'object' ? json : {}) as Partial<Problem>;
      throw new ApiError({ ...p, status: res.status, title: p.title ?? res.statusText, detail: p.detail ?? p.title ?? (text.slice(0, 200) || res.statusText) });
    }
    return json as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, undefined, signal);
  }

  /** Follows `nextCursor` until the end or until `max` items. */
  async all<T>(path: string, max = 5000): Promise<{ items: T[]; complete: boolean }> {
    const items: T[] = [];
    let cursor: string | null = null;
    const sep = path.includes('?') ? '&' : '?';
    for (;;) {
      const page: Page<T> = await this.get<Page<T>>(`${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...(page.items ?? []));
      cursor = page.nextCursor ?? null;
      if (!cursor) return { items, complete: true };
      if (items.length >= max) return { items, complete: false };
    }
  }
}

export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}
