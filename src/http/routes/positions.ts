import type { FastifyPluginAsync } from 'fastify';
import { PositionsQuery, ProblemSchema, StoredPositionSchema, TagParams, pageOf, parseInstant } from '../../schemas.ts';
import { validationProblem } from '../problem.ts';
import { doc, parseParts } from '../validate.ts';
import { z } from 'zod';

const READ = ['manager', 'monitor', 'ops'] as const;
const MAX_TS = 8.64e15;
const Query = PositionsQuery.extend({ cursor: z.string().regex(/^\d{1,16}$/, { message: 'must be a nextCursor from a previous page' }).optional() });

export const positionRoutes: FastifyPluginAsync = async (app) => {
  const { store, requireRole } = app.cordon;

  app.get(
    '/v1/tags/:tagId/positions',
    {
      preHandler: requireRole(...READ),
      ...doc({
        summary: "A tag's stored trail, oldest first",
        description:
          '`from`/`to` are inclusive (ISO-8601 or epoch ms); absent = the whole retained trail. ' +
          'Pages with `limit` (default 1000, max 10000) and `nextCursor`.',
        tags: ['positions'],
        roles: [...READ],
        params: TagParams,
        query: Query,
        responses: { 200: pageOf(StoredPositionSchema), 400: ProblemSchema },
      }),
    },
    async (req) => {
      const { params, query } = parseParts(req, { params: TagParams, query: Query });
      let from = query.from !== undefined ? parseInstant(query.from)! : 0;
      const to = query.to !== undefined ? parseInstant(query.to)! : MAX_TS;
      if (from > to) {
        throw validationProblem([{ in: 'query', field: 'from', path: ['from'], code: 'invalid_range', message: 'from must not be after to' }]);
      }
      // Positions of one tag have distinct ts (a repeated ts is a duplicate), so "next ts" is a safe cursor.
      if (query.cursor !== undefined) from = Math.max(from, Number(query.cursor));
      const items = await store.positions(params.tagId, from, to, query.limit);
      const last = items[items.length - 1];
      const nextCursor = items.length === query.limit && last ? String(Date.parse(last.ts) + 1) : null;
      return { items, nextCursor };
    },
  );
};
