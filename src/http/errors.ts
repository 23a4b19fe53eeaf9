/**
 * The one error registry: every error that reaches Fastify becomes an
 * `application/problem+json` answer here. Typed domain errors map by their `code`;
 * nothing else decides a status.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StoreError, type StoreErrorCode } from '../../streams/ports.ts';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemBody, type FieldError, type ProblemBody } from './problem.ts';

/** Domain error code → HTTP status and problem slug. */
export const ERROR_REGISTRY: Record<StoreErrorCode, { status: number; slug: string }> = {
  conflict: { status: 409, slug: 'conflict' },
  not_found: { status: 404, slug: 'not-found' },
  invalid_transition: { status: 409, slug: 'invalid-transition' },
  bad_cursor: { status: 400, slug: 'bad-cursor' },
};

/** Fastify's own error codes that mean bad input, with a clearer detail. */
const FASTIFY_CODES: Record<string, { status: number; slug: string; detail?: (e: FastifyError) => string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, slug: 'invalid-json', detail: (e) => `Body is not valid JSON: ${e.message}` },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, slug: 'invalid-json', detail: () => 'Body is empty but content-type is application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, slug: 'too-large', detail: () => 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, slug: 'unsupported-media-type', detail: (e) => `${e.message}; send application/json` },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, slug: 'bad-request' },
};

export interface ProblemAnswer {
  status: number;
  body: ProblemBody;
  headers?: Record<string, string>;
}

export function toProblem(err: unknown): ProblemAnswer {
  if (err instanceof HttpProblem) return { status: err.status, body: err.toBody(), headers: err.headers };
  if (err instanceof StoreError) {
    const m = ERROR_REGISTRY[err.code];
    const extra = 'details' in err && err.details && typeof err.details === 'object' ? { details: err.details } : undefined;
    const errors =
      err.code === 'bad_cursor'
        ? [{ in: 'query' as const, field: 'cursor', path: ['cursor'], code: 'bad_cursor', message: 'must be a nextCursor returned by this list' }]
        : undefined;
    return { status: m.status, body: problemBody(m.status, m.slug, err.message, errors, undefined, extra as Record<string, unknown> | undefined) };
  }
  const fe = err as Partial<FastifyError> & { message?: string; name?: string; type?: string };
  if (fe && typeof fe.code === 'string' && FASTIFY_CODES[fe.code]) {
    const m = FASTIFY_CODES[fe.code]!;
    return { status: m.status, body: problemBody(m.status, m.slug, m.detail ? m.detail(fe as FastifyError) : String(fe.message)) };
  }
  // Fastify's own (ajv) validation, for plugins that use JSON-schema validation.
  const validation = (fe as { validation?: { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> }[]; validationContext?: string })
    ?.validation;
  if (Array.isArray(validation)) {
    const where = (fe as { validationContext?: string }).validationContext;
    const inn = where === 'querystring' ? 'query' : where === 'params' ? 'params' : where === 'headers' ? 'header' : 'body';
    const errors: FieldError[] = validation.map((v) => {
      const path = (v.instancePath ?? '')
        .split('/')
        .filter(Boolean)
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const missing = v.keyword === 'required' && typeof v.params?.missingProperty === 'string' ? v.params.missingProperty : null;
      if (missing) path.push(missing);
      return { in: inn, field: path.join('.'), path, code: v.keyword ?? 'invalid', message: v.message ?? 'invalid' };
    });
    return { status: 400, body: problemBody(400, 'validation-error', `Invalid input: ${errors.length} problem(s) (see errors)`, errors) };
  }
  if (fe && fe.name === 'SyntaxError') {
    return { status: 400, body: problemBody(400, 'invalid-json', `Body is not valid JSON: ${fe.message}`) };
  }
  const sc = fe?.statusCode;
  if (typeof sc === 'number' && sc >= 400 && sc < 500) {
    return { status: sc, body: problemBody(sc, 'bad-request', String(fe.message ?? 'Bad request')) };
  }
  return { status: 500, body: problemBody(500, 'internal', 'Internal error; it has been logged') };
}

export function sendProblem(reply: FastifyReply, a: ProblemAnswer): FastifyReply {
  if (a.headers) reply.headers(a.headers);
  return reply.code(a.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(a.body));
}

/** Installs the error and not-found handlers on the root instance. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const a = toProblem(err);
    if (a.status >= 500) req.log.error({ err }, 'request failed');
    else if (a.status !== 401 && a.status !== 404) req.log.debug({ status: a.status, detail: a.body.detail }, 'request refused');
    return sendProblem(reply, a);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) =>
    sendProblem(reply, {
      status: 404,
      body: problemBody(404, 'not-found', `No route ${req.method} ${req.url.split('?')[0]}`),
    }),
  );
}
