/**
 * Zod at the HTTP edge: one helper turns zod issues into the problem `errors` list, one turns
 * zod schemas into the JSON Schema Fastify hands to @fastify/swagger. Routes built with
 * `zodRoute` validate with zod (collecting every bad field of params, query and body into one
 * 400) and are documented from the same schemas.
 */
import { z } from 'zod';
import type { FastifySchema, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { validationProblem, type FieldError } from './problem.ts';

export function issuesToErrors(issues: readonly z.core.$ZodIssue[], where: FieldError['in'], prefix: (string | number)[] = []): FieldError[] {
  const out: FieldError[] = [];
  for (const i of issues) {
    const path = [...prefix, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    out.push({ in: where, field: path.join('.'), path, code: i.code, message: i.message });
  }
  return out;
}

export interface ZodParts<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  params?: P;
  query?: Q;
  body?: B;
}

/**
 * Validates the given parts of a request; on any failure throws one 400 listing every problem.
 * `body` parse can be skipped (e.g. when the route validates it with domain rules too) by
 * passing `extraErrors` from a caller-side check.
 */
export function parseParts<P extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined>(
  req: FastifyRequest,
  parts: ZodParts<P, Q, B>,
): { params: z.output<P>; query: z.output<Q>; body: z.output<B> } {
  const errors: FieldError[] = [];
  const out = { params: undefined, query: undefined, body: undefined } as { params: z.output<P>; query: z.output<Q>; body: z.output<B> };
  if (parts.params) {
    const r = parts.params.safeParse(req.params ?? {});
    if (r.success) out.params = r.data;
    else errors.push(...issuesToErrors(r.error.issues, 'params'));
  }
  if (parts.query) {
    const r = parts.query.safeParse(req.query ?? {});
    if (r.success) out.query = r.data;
    else errors.push(...issuesToErrors(r.error.issues, 'query'));
  }
  if (parts.body) {
    const b = req.body;
    if (b === undefined || b === null || typeof b === 'string' || Buffer.isBuffer(b)) {
      errors.push({ in: 'body', field: '', path: [], code: 'required', message: 'a JSON body is required (content-type: application/json)' });
    } else {
      const r = parts.body.safeParse(b);
      if (r.success) out.body = r.data;
      else errors.push(...issuesToErrors(r.error.issues, 'body'));
    }
  }
  if (errors.length) throw validationProblem(errors);
  return out;
}

/** The parsed JSON body, or one 400 when there is none (or it was not sent as application/json). */
export function jsonBody(req: FastifyRequest): unknown {
  const b = req.body;
  if (b === undefined || b === null || typeof b === 'string' || Buffer.isBuffer(b)) {
    throw validationProblem(
      [{ in: 'body', field: '', path: [], code: 'required', message: 'a JSON body is required (content-type: application/json)' }],
      b === undefined || b === null ? 'A JSON body is required (content-type: application/json)' : 'The body must be JSON sent with content-type: application/json',
    );
  }
  return b;
}

/** zod → JSON Schema (OpenAPI 3.0 dialect) for documentation. */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
    reused: 'inline',
    override: (ctx) => {
      const js = ctx.jsonSchema as Record<string, unknown>;
      // zod's date-time regex is precise but unreadable in docs; the format says it.
      if (js.format === 'date-time' && typeof js.pattern === 'string') delete js.pattern;
    },
  }) as Record<string, unknown>;
}

export interface DocSpec {
  summary: string;
  description?: string;
  tags: string[];
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** status → schema (null = no body) */
  responses?: Record<number, z.ZodType | null | { description: string; schema?: z.ZodType; contentType?: string }>;
  /** roles that may call (documentation only; enforcement is requireRole) */
  roles?: string[];
  /** false for open endpoints */
  secured?: boolean;
}

const passValidator = () => () => true;
const plainSerializer = () => (data: unknown) => JSON.stringify(data);

/**
 * Route options carrying the OpenAPI description generated from zod. Validation is done in the
 * handler with the same zod schemas (parseParts), so Fastify's own validator and
 * response serializer are switched off for these routes only (plugins keep Fastify defaults).
 */
export function doc(spec: DocSpec): Pick<RouteShorthandOptions, 'schema' | 'validatorCompiler' | 'serializerCompiler'> {
  const schema: FastifySchema & Record<string, unknown> = {
    summary: spec.summary,
    tags: spec.tags,
  };
  const desc = [spec.description, spec.roles ? `Roles: ${['admin', ...spec.roles].join(', ')}.` : undefined].filter(Boolean).join('\n\n');
  if (desc) schema.description = desc;
  if (spec.params) schema.params = jsonSchemaOf(spec.params);
  if (spec.query) schema.querystring = jsonSchemaOf(spec.query);
  if (spec.body) schema.body = jsonSchemaOf(spec.body);
  if (spec.secured !== false) schema.security = [{ bearerAuth: [] }];
  if (spec.responses) {
    const resp: Record<string, unknown> = {};
    for (const [code, r] of Object.entries(spec.responses)) {
      if (r === null) resp[code] = { description: 'No content' };
      else if (r instanceof z.ZodType && Number(code) >= 400) {
        resp[code] = { description: 'Problem details', content: { 'application/problem+json': { schema: jsonSchemaOf(r, 'output') } } };
      } else if (r instanceof z.ZodType) resp[code] = { description: 'OK', ...jsonSchemaOf(r, 'output') };
      else if (r.schema) {
        resp[code] = r.contentType
          ? { description: r.description, content: { [r.contentType]: { schema: jsonSchemaOf(r.schema, 'output') } } }
          : { description: r.description, ...jsonSchemaOf(r.schema, 'output') };
      } else resp[code] = { description: r.description };
    }
    schema.response = resp;
  }
  return { schema, validatorCompiler: passValidator, serializerCompiler: plainSerializer };
}

