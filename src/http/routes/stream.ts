/**
 * GET /v1/alerts/stream — Server-Sent Events of alert events (CONTRACT §3/§4).
 *
 * Each event is written as `id: <event id>` / `event: <type>` / `data: <event JSON>`.
 * Resume: a client that reconnects with `Last-Event-ID` (header, or `?lastEventId=`) first gets
 * every stored event after that id (store.readEventsAfter), then live ones; without it the
 * stream starts with live events. To leave no gap the live subscription starts before the
 * backlog is read, and live events already covered by the backlog are dropped.
 * Browsers' EventSource cannot set headers, so this route also accepts `?access_token=<key>`.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { AlertEvent } from '../../../streams/ports.ts';
import { compareEventIds, parseEventId } from '../../stores/common.ts';
import { ProblemSchema } from '../../schemas.ts';
import { validationProblem } from '../problem.ts';
import { doc, parseParts } from '../validate.ts';

const READ = ['manager', 'monitor', 'ops'] as const;
const BACKLOG_PAGE = 500;
const HEARTBEAT_MS = 15_000;
/** a client this far behind is cut off; it resumes with Last-Event-ID */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

const StreamQuery = z.object({
  lastEventId: z.string().optional().meta({ description: 'same as the Last-Event-ID header' }),
  access_token: z.string().optional().meta({ description: 'API key, for EventSource clients that cannot send headers' }),
});

function frame(e: AlertEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

export const streamRoutes: FastifyPluginAsync = async (app) => {
  const { store, requireRole } = app.cordon;
  const open = new Set<ServerResponse>();

  app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });

  app.get(
    '/v1/alerts/stream',
    {
      preHandler: requireRole(...READ),
      ...doc({
        summary: 'Server-Sent Events of alert events, resumable with Last-Event-ID',
        description:
          'text/event-stream. Each message has `id:` (the event id), `event:` (alert.opened, …) and `data:` (the event JSON). ' +
          'Reconnect with the Last-Event-ID header to receive every event after that id. A comment line is sent every 15 s.',
        tags: ['alerts'],
        roles: [...READ],
        query: StreamQuery,
        responses: { 200: { description: 'event stream', contentType: 'text/event-stream', schema: z.string() }, 400: ProblemSchema },
      }),
    },
    async (req, reply) => {
      const { query } = parseParts(req, { query: StreamQuery });
      const header = req.headers['last-event-id'];
      const lastId = (typeof header === 'string' && header.trim() !== '' ? header.trim() : query.lastEventId) ?? null;
      let cursor = lastId ? parseEventId(lastId) : null;
      if (lastId && !cursor) {
        throw validationProblem([
          { in: 'header', field: 'last-event-id', path: ['last-event-id'], code: 'invalid_event_id', message: 'must be an event id like 1700000000000-0' },
        ]);
      }

      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      open.add(res);

      let live = false;
      let closed = false;
      const pending: AlertEvent[] = [];
      const send = (e: AlertEvent): void => {
        const id = parseEventId(e.id);
        if (cursor && id && compareEventIds(id, cursor) <= 0) return; // already sent
        if (id) cursor = id;
        res.write(frame(e));
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          req.log.warn('SSE client too slow; closing (it can resume with Last-Event-ID)');
          res.end();
        }
      };
      const unsubscribe = store.subscribeEvents((e) => {
        if (closed) return;
        if (live) send(e);
        else pending.push(e);
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      const cleanup = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(res);
      };
      res.on('close', cleanup);
      res.on('error', cleanup);

      res.write(`retry: 2000\n: connected\n\n`);
      try {
        if (lastId) {
          let after: string | null = lastId;
          for (;;) {
            const batch = await store.readEventsAfter(after, BACKLOG_PAGE);
            for (const e of batch) send(e);
            if (batch.length < BACKLOG_PAGE || closed) break;
            after = batch[batch.length - 1]!.id;
          }
        }
        for (const e of pending) send(e);
        pending.length = 0;
        live = true;
      } catch (err) {
        req.log.error({ err }, 'SSE backlog read failed');
        res.end();
        cleanup();
      }
    },
  );
};
