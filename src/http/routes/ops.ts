import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ProblemSchema } from '../../schemas.ts';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../problem.ts';
import { doc } from '../validate.ts';
import type { ReadinessCheck } from '../context.ts';

const Health = z.object({ status: z.literal('ok') });
const Ready = z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.boolean()) });
const CHECK_TIMEOUT_MS = 2000;

async function runCheck(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(check),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return false;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** /healthz, /readyz (open) and /metrics (ops). `checks` is the live map app.cordon.addReadinessCheck fills. */
export function opsRoutes(checks: Map<string, ReadinessCheck>): FastifyPluginAsync {
  return async (app) => {
    const { requireRole, metrics } = app.cordon;

    app.get('/healthz', doc({ summary: 'Process is up', tags: ['ops'], secured: false, responses: { 200: Health } }), async () => ({ status: 'ok' as const }));

    app.get(
      '/readyz',
      doc({
        summary: 'Store (and Kafka, when configured) reachable',
        tags: ['ops'],
        secured: false,
        responses: { 200: Ready, 503: ProblemSchema },
      }),
      async (_req, reply) => {
        const names = [...checks.keys()];
        const results = await Promise.all(names.map((n) => runCheck(checks.get(n)!)));
        const out: Record<string, boolean> = {};
        names.forEach((n, i) => (out[n] = results[i]!));
        if (results.every(Boolean)) return { status: 'ready' as const, checks: out };
        const failing = names.filter((_, i) => !results[i]);
        return reply
          .code(503)
          .type(PROBLEM_CONTENT_TYPE)
          .send(JSON.stringify(problemBody(503, 'not-ready', `Not ready: ${failing.join(', ')} not reachable`, undefined, undefined, { checks: out })));
      },
    );

    app.get(
      '/metrics',
      {
        preHandler: requireRole('ops'),
        ...doc({
          summary: 'Prometheus metrics (text format)',
          tags: ['ops'],
          roles: ['ops'],
          responses: { 200: { description: 'Prometheus text exposition', contentType: 'text/plain', schema: z.string() } },
        }),
      },
      async (_req, reply) => {
        const text = await metrics.registry.metrics();
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  };
}
