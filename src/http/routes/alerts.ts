import type { FastifyPluginAsync } from 'fastify';
import { AcknowledgeBody, AlertListQuery, AlertSchema, IdParams, ProblemSchema, ResolveBody, pageOf, parseInstant } from '../../schemas.ts';
import { NotFoundError } from '../../../streams/ports.ts';
import { doc, parseParts } from '../validate.ts';
import { z } from 'zod';

const READ = ['manager', 'monitor', 'ops'] as const;
const ACT = ['monitor'] as const;
const tags = ['alerts'];
const AlertIdParams = z.object({ id: z.string().min(1).max(256) });

export const alertRoutes: FastifyPluginAsync = async (app) => {
  const { store, requireRole, metrics } = app.cordon;

  app.get(
    '/v1/alerts',
    {
      preHandler: requireRole(...READ),
      ...doc({
        summary: 'List alerts, newest first',
        description: '`since` keeps alerts opened at or after that instant. Pages with `limit` and `cursor`.',
        tags,
        roles: [...READ],
        query: AlertListQuery,
        responses: { 200: pageOf(AlertSchema), 400: ProblemSchema },
      }),
    },
    async (req) => {
      const { query } = parseParts(req, { query: AlertListQuery });
      return store.listAlerts({
        limit: query.limit,
        cursor: query.cursor ?? null,
        ...(query.status ? { status: query.status } : {}),
        ...(query.type ? { type: query.type } : {}),
        ...(query.subjectId ? { subjectId: query.subjectId } : {}),
        ...(query.since !== undefined ? { since: parseInstant(query.since)! } : {}),
      });
    },
  );

  app.get(
    '/v1/alerts/:id',
    {
      preHandler: requireRole(...READ),
      ...doc({ summary: 'One alert', tags, roles: [...READ], params: AlertIdParams, responses: { 200: AlertSchema, 404: ProblemSchema } }),
    },
    async (req) => {
      const { params } = parseParts(req, { params: AlertIdParams });
      const a = await store.getAlert(params.id);
      if (!a) throw new NotFoundError('alert', params.id);
      return a;
    },
  );

  app.post(
    '/v1/alerts/:id/acknowledge',
    {
      preHandler: requireRole(...ACT),
      ...doc({
        summary: 'open → acknowledged',
        description: 'Any other starting state answers 409.',
        tags,
        roles: [...ACT],
        params: AlertIdParams,
        body: AcknowledgeBody,
        responses: { 200: AlertSchema, 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema },
      }),
    },
    async (req) => {
      const { params, body } = parseParts(req, { params: AlertIdParams, body: AcknowledgeBody });
      const r = await store.acknowledgeAlert(params.id, { by: body.by, note: body.note ?? null });
      metrics.alerts.inc({ type: r.alert.type, event: 'acknowledged' });
      req.log.info({ alertId: params.id, by: body.by }, 'alert acknowledged');
      return r.alert;
    },
  );

  app.post(
    '/v1/alerts/:id/resolve',
    {
      preHandler: requireRole(...ACT),
      ...doc({
        summary: 'open | acknowledged → resolved, with an outcome',
        description: 'Resolving a resolved alert answers 409.',
        tags,
        roles: [...ACT],
        params: AlertIdParams,
        body: ResolveBody,
        responses: { 200: AlertSchema, 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema },
      }),
    },
    async (req) => {
      const { params, body } = parseParts(req, { params: AlertIdParams, body: ResolveBody });
      const r = await store.resolveAlert(params.id, { by: body.by, outcome: body.outcome, note: body.note ?? null });
      metrics.alerts.inc({ type: r.alert.type, event: 'resolved' });
      req.log.info({ alertId: params.id, by: body.by, outcome: body.outcome }, 'alert resolved');
      return r.alert;
    },
  );
};
