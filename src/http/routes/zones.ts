import type { FastifyPluginAsync } from 'fastify';
import { IdParams, PageQuery, ProblemSchema, ZoneListQuery, ZonePut, ZoneSchema, ZoneVersionSchema, pageOf } from '../../schemas.ts';
import { actorOf } from '../auth.ts';
import { doc, jsonBody, parseParts } from '../validate.ts';

const READ = ['manager', 'monitor', 'ops'] as const;
const WRITE = ['manager'] as const;
const tags = ['zones'];

export const zoneRoutes: FastifyPluginAsync = async (app) => {
  const { service, requireRole } = app.cordon;

  app.put(
    '/v1/zones/:id',
    {
      preHandler: requireRole(...WRITE),
      ...doc({
        summary: 'Create (201) or replace (200) a zone; every change makes a new version',
        description:
          'Geometry, schedule and validity are checked in full; a 400 lists every problem with its path. ' +
          'Every subject named in subjectIds must exist (400 otherwise). The live engine uses the new version at once.',
        tags,
        roles: [...WRITE],
        params: IdParams,
        body: ZonePut,
        responses: { 200: ZoneSchema, 201: ZoneSchema, 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema },
      }),
    },
    async (req, reply) => {
      const { params } = parseParts(req, { params: IdParams });
      const res = await service.putZone(params.id, jsonBody(req), actorOf(req.principal));
      return reply.code(res.created ? 201 : 200).send(res.value);
    },
  );

  app.get(
    '/v1/zones/:id',
    {
      preHandler: requireRole(...READ),
      ...doc({ summary: 'One zone (current version)', tags, roles: [...READ], params: IdParams, responses: { 200: ZoneSchema, 404: ProblemSchema } }),
    },
    async (req) => {
      const { params } = parseParts(req, { params: IdParams });
      return service.getZone(params.id);
    },
  );

  app.delete(
    '/v1/zones/:id',
    {
      preHandler: requireRole(...WRITE),
      ...doc({
        summary: 'Delete a zone (its version history is kept)',
        tags,
        roles: [...WRITE],
        params: IdParams,
        responses: { 204: null, 404: ProblemSchema },
      }),
    },
    async (req, reply) => {
      const { params } = parseParts(req, { params: IdParams });
      await service.deleteZone(params.id, actorOf(req.principal));
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/zones',
    {
      preHandler: requireRole(...READ),
      ...doc({ summary: 'List live zones (by id), optionally of one subject', tags, roles: [...READ], query: ZoneListQuery, responses: { 200: pageOf(ZoneSchema), 400: ProblemSchema } }),
    },
    async (req) => {
      const { query } = parseParts(req, { query: ZoneListQuery });
      return service.listZones({ limit: query.limit, cursor: query.cursor ?? null, ...(query.subjectId ? { subjectId: query.subjectId } : {}) });
    },
  );

  app.get(
    '/v1/zones/:id/versions',
    {
      preHandler: requireRole(...READ),
      ...doc({
        summary: 'Audit of a zone: every version, who wrote it, when and what (oldest first)',
        description: 'Kept after the zone is deleted.',
        tags,
        roles: [...READ],
        params: IdParams,
        query: PageQuery,
        responses: { 200: pageOf(ZoneVersionSchema), 404: ProblemSchema },
      }),
    },
    async (req) => {
      const { params, query } = parseParts(req, { params: IdParams, query: PageQuery });
      return service.zoneVersions(params.id, { limit: query.limit, cursor: query.cursor ?? null });
    },
  );
};
