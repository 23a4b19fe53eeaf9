import type { FastifyPluginAsync } from 'fastify';
import { IdParams, PageQuery, ProblemSchema, SubjectPut, SubjectSchema, pageOf } from '../../schemas.ts';
import { doc, jsonBody, parseParts } from '../validate.ts';

const READ = ['manager', 'monitor', 'ops'] as const;
const WRITE = ['manager'] as const;
const tags = ['subjects'];
const problems = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema };

export const subjectRoutes: FastifyPluginAsync = async (app) => {
  const { service, requireRole } = app.cordon;

  app.put(
    '/v1/subjects/:id',
    {
      preHandler: requireRole(...WRITE),
      ...doc({
        summary: 'Create (201) or replace (200) a subject',
        description: 'One tag belongs to at most one subject: assigning a tag held by another subject answers 409.',
        tags,
        roles: [...WRITE],
        params: IdParams,
        body: SubjectPut,
        responses: { 200: SubjectSchema, 201: SubjectSchema, ...problems, 409: ProblemSchema },
      }),
    },
    async (req, reply) => {
      const { params } = parseParts(req, { params: IdParams });
      const res = await service.putSubject(params.id, jsonBody(req));
      return reply.code(res.created ? 201 : 200).send(res.value);
    },
  );

  app.get(
    '/v1/subjects/:id',
    {
      preHandler: requireRole(...READ),
      ...doc({ summary: 'One subject', tags, roles: [...READ], params: IdParams, responses: { 200: SubjectSchema, 404: ProblemSchema } }),
    },
    async (req) => {
      const { params } = parseParts(req, { params: IdParams });
      return service.getSubject(params.id);
    },
  );

  app.delete(
    '/v1/subjects/:id',
    {
      preHandler: requireRole(...WRITE),
      ...doc({
        summary: 'Delete a subject (frees its tag)',
        description: "Zones that name the subject keep the id; later pings of the freed tag are ignored (counted as unknown tags).",
        tags,
        roles: [...WRITE],
        params: IdParams,
        responses: { 204: null, 404: ProblemSchema },
      }),
    },
    async (req, reply) => {
      const { params } = parseParts(req, { params: IdParams });
      await service.deleteSubject(params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/subjects',
    {
      preHandler: requireRole(...READ),
      ...doc({ summary: 'List subjects (by id)', tags, roles: [...READ], query: PageQuery, responses: { 200: pageOf(SubjectSchema), 400: ProblemSchema } }),
    },
    async (req) => {
      const { query } = parseParts(req, { query: PageQuery });
      return service.listSubjects({ limit: query.limit, cursor: query.cursor ?? null });
    },
  );
};
