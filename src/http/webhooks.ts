/**
 * Webhook subscriptions and their deliveries (CONTRACT §4), admin only.
 *
 * The plugin also owns the webhook machinery's lifecycle: it builds the WebhookService (outbox
 * fan-out + dispatcher) over the app's event log, starts it when the app is ready and stops it,
 * then closes the webhook store, when the app closes. main.ts only picks the store (memory or Redis):
 *
 *   buildApp({ ..., plugins: [webhooksPlugin({ store: new RedisWebhookStore({ redis, prefix }) })] })
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { FANOUT_CURSOR } from '../../streams/webhooks/outbox.ts';
import { WebhookService, type WebhookServiceOptions } from '../../streams/webhooks/service.ts';
import { maskSecret, webhookUrlProblem } from '../../streams/webhooks/subscription.ts';
import { WEBHOOK_EVENT_TYPES, type Delivery, type WebhookStore, type WebhookSubscription } from '../../streams/webhooks/types.ts';
import { Id, IsoDateTime, Limit, ProblemSchema, pageOf } from '../schemas.ts';
import { HttpProblem, notFound } from './problem.ts';
import { doc, parseParts } from './validate.ts';

const tags = ['webhooks'];
const problems = { 401: ProblemSchema, 403: ProblemSchema };

const EventType = z.enum(WEBHOOK_EVENT_TYPES);

export const WebhookPut = z
  .object({
    id: Id.optional().meta({ description: 'optional; must equal the id in the path' }),
    url: z
      .string()
      .max(2048)
      .superRefine((u, ctx) => {
        const p = webhookUrlProblem(u);
        if (p) ctx.addIssue({ code: 'custom', message: p });
      })
      .meta({ description: 'absolute http:// or https:// URL, without user:password', example: 'https://hooks.example.org/cordon' }),
    secret: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .meta({
        description:
          'HMAC-SHA256 key for cordon-signature (use 32+ random bytes). Required when creating; omit on replace to keep the current one. Never answered in full.',
      }),
    events: z
      .array(EventType)
      .min(1, { message: 'list at least one event type, or omit the field for all of them' })
      .nullish()
      .meta({ description: 'event types to deliver; omitted or null = all' }),
    active: z.boolean().default(true).meta({ description: 'false pauses deliveries (events meanwhile are not delivered)' }),
  })
  .meta({ title: 'WebhookInput' });

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    secret: z.string().meta({ description: 'masked: at most the last 4 characters', example: '****9f3a' }),
    events: z.array(EventType).nullable().meta({ description: 'null = every event type' }),
    active: z.boolean(),
    deactivatedReason: z.string().nullable().meta({ description: 'set when the service deactivated it (e.g. the receiver answered 410 Gone)' }),
    createdAt: IsoDateTime,
    updatedAt: IsoDateTime,
  })
  .meta({ title: 'Webhook' });

const DeliveryStatus = z.enum(['pending', 'retrying', 'delivered', 'dead']);

export const DeliverySchema = z
  .object({
    id: z.string(),
    subscriptionId: z.string(),
    eventId: z.string().meta({ description: 'also sent as the cordon-event-id header' }),
    eventType: z.string(),
    status: DeliveryStatus,
    attempts: z.number().int(),
    createdAt: IsoDateTime,
    lastAttemptAt: IsoDateTime.nullable(),
    nextAttemptAt: IsoDateTime.nullable().meta({ description: 'when pending or retrying' }),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    deliveredAt: IsoDateTime.nullable(),
    history: z
      .array(
        z.object({
          at: IsoDateTime,
          durationMs: z.number(),
          statusCode: z.number().int().nullable(),
          error: z.string().nullable(),
        }),
      )
      .meta({ description: 'the most recent attempts (up to 20), oldest first' }),
  })
  .meta({ title: 'WebhookDelivery' });

const WebhookParams = z.object({ id: Id });
const DeliveryParams = z.object({ id: Id, deliveryId: z.string().regex(/^[0-9a-f]{32}$/, { message: 'must be a delivery id (32 hex characters)' }) });
const ListQuery = z.object({ limit: Limit, cursor: Id.optional().meta({ description: 'nextCursor from the previous page' }) });
const DeliveryCursor = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    const raw = Buffer.from(s, 'base64url').toString('utf8');
    if (!/^\d{15}\|[0-9a-f]{32}$/.test(raw)) {
      ctx.addIssue({ code: 'custom', message: 'cursor is not valid for this list' });
      return z.NEVER;
    }
    return raw;
  })
  .meta({ description: 'nextCursor from the previous page' });
const DeliveryQuery = z.object({ limit: Limit, cursor: DeliveryCursor.optional(), status: DeliveryStatus.optional() });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function webhookView(s: WebhookSubscription) {
  return {
    id: s.id,
    url: s.url,
    secret: maskSecret(s.secret),
    events: s.events,
    active: s.active,
    deactivatedReason: s.deactivatedReason,
    createdAt: iso(s.createdAt)!,
    updatedAt: iso(s.updatedAt)!,
  };
}

export function deliveryView(d: Delivery) {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    createdAt: iso(d.createdAt)!,
    lastAttemptAt: iso(d.lastAttemptAt),
    nextAttemptAt: iso(d.nextAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    deliveredAt: iso(d.deliveredAt),
    history: d.history.map((a) => ({ at: iso(a.at)!, durationMs: a.durationMs, statusCode: a.statusCode, error: a.error })),
  };
}

export interface WebhooksPluginOptions {
  store: WebhookStore;
  /** overrides of the service settings (tests use small timings); config supplies attempts and backoff */
  service?: Partial<Omit<WebhookServiceOptions, 'store' | 'events' | 'logger' | 'registry'>>;
  /** called with the running service (tests, composition) */
  onService?: (svc: WebhookService) => void;
}

/** Routes + lifecycle of webhooks, as one plugin for buildApp's `plugins`. */
export function webhooksPlugin(opts: WebhooksPluginOptions): FastifyPluginAsync {
  return async (app) => {
    const { store: events, config, logger, metrics, requireRole, clock } = app.cordon;
    const store = opts.store;
    const svc = new WebhookService({
      store,
      events,
      logger,
      registry: metrics.registry,
      maxAttempts: config.webhookMaxAttempts,
      backoffBaseMs: config.webhookBackoffMs,
      ...opts.service,
    });
    opts.onService?.(svc);
    app.addHook('onReady', async () => {
      await svc.start();
    });
    // preClose: stop fan-out and dispatch while the event store is still open (the app closes
    // it in an onClose that runs before this plugin's own onClose).
    app.addHook('preClose', async () => {
      await svc.close();
    });
    app.addHook('onClose', async () => {
      await svc.close();
      await store.close();
    });

    const admin = requireRole();
    const roles: string[] = [];

    app.put(
      '/v1/webhooks/:id',
      {
        preHandler: admin,
        ...doc({
          summary: 'Create (201) or replace (200) a webhook subscription',
          description:
            'Every alert event whose type is in `events` is POSTed to `url`, signed with `secret` (see docs/webhooks.md). ' +
            'URLs must be http(s) without credentials. The secret is never answered in full.',
          tags,
          roles,
          params: WebhookParams,
          body: WebhookPut,
          responses: { 200: WebhookSchema, 201: WebhookSchema, 400: ProblemSchema, ...problems },
        }),
      },
      async (req, reply) => {
        const { params, body } = parseParts(req, { params: WebhookParams, body: WebhookPut });
        if (body.id !== undefined && body.id !== params.id) {
          throw new HttpProblem(400, 'validation-error', `Invalid input: id: must equal the id in the path ("${params.id}") or be omitted`, {
            errors: [{ in: 'body', field: 'id', path: ['id'], code: 'id_mismatch', message: `must equal the id in the path ("${params.id}") or be omitted` }],
          });
        }
        const existing = await store.getSubscription(params.id);
        const secret = body.secret ?? existing?.secret;
        if (secret === undefined) {
          throw new HttpProblem(400, 'validation-error', 'Invalid input: secret: required when creating a webhook', {
            errors: [{ in: 'body', field: 'secret', path: ['secret'], code: 'required', message: 'required when creating a webhook' }],
          });
        }
        const now = clock.now();
        const sub: WebhookSubscription = {
          id: params.id,
          url: body.url,
          secret,
          events: body.events ?? null,
          active: body.active,
          deactivatedReason: body.active ? null : (existing?.deactivatedReason ?? null),
          fromEventId: existing ? existing.fromEventId : await store.getCursor(FANOUT_CURSOR),
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
        };
        const res = await store.putSubscription(sub);
        req.log.info({ webhookId: sub.id, active: sub.active, created: res.created }, 'webhook subscription saved');
        return reply.code(res.created ? 201 : 200).send(webhookView(res.subscription));
      },
    );

    app.get(
      '/v1/webhooks/:id',
      {
        preHandler: admin,
        ...doc({ summary: 'One webhook subscription', tags, roles, params: WebhookParams, responses: { 200: WebhookSchema, 404: ProblemSchema, ...problems } }),
      },
      async (req) => {
        const { params } = parseParts(req, { params: WebhookParams });
        const s = await store.getSubscription(params.id);
        if (!s) throw notFound('webhook', params.id);
        return webhookView(s);
      },
    );

    app.delete(
      '/v1/webhooks/:id',
      {
        preHandler: admin,
        ...doc({
          summary: 'Delete a webhook subscription and its delivery records',
          description: 'Deliveries still queued for it are dropped with it: use `active: false` to pause instead.',
          tags,
          roles,
          params: WebhookParams,
          responses: { 204: null, 404: ProblemSchema, ...problems },
        }),
      },
      async (req, reply) => {
        const { params } = parseParts(req, { params: WebhookParams });
        if (!(await store.deleteSubscription(params.id))) throw notFound('webhook', params.id);
        req.log.info({ webhookId: params.id }, 'webhook subscription deleted');
        return reply.code(204).send();
      },
    );

    app.get(
      '/v1/webhooks',
      {
        preHandler: admin,
        ...doc({ summary: 'List webhook subscriptions (by id)', tags, roles, query: ListQuery, responses: { 200: pageOf(WebhookSchema), 400: ProblemSchema, ...problems } }),
      },
      async (req) => {
        const { query } = parseParts(req, { query: ListQuery });
        const page = await store.listSubscriptions({ limit: query.limit, cursor: query.cursor ?? null });
        return { items: page.items.map(webhookView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/v1/webhooks/:id/deliveries',
      {
        preHandler: admin,
        ...doc({
          summary: "A subscription's deliveries, newest first",
          description: 'Status, attempts, last error and next attempt of each. `status=dead` lists what needs a manual retry.',
          tags,
          roles,
          params: WebhookParams,
          query: DeliveryQuery,
          responses: { 200: pageOf(DeliverySchema), 400: ProblemSchema, 404: ProblemSchema, ...problems },
        }),
      },
      async (req) => {
        const { params, query } = parseParts(req, { params: WebhookParams, query: DeliveryQuery });
        if (!(await store.getSubscription(params.id))) throw notFound('webhook', params.id);
        const page = await store.listDeliveries(params.id, { limit: query.limit, cursor: query.cursor ?? null, status: query.status });
        return {
          items: page.items.map(deliveryView),
          nextCursor: page.nextCursor === null ? null : Buffer.from(page.nextCursor, 'utf8').toString('base64url'),
        };
      },
    );

    app.post(
      '/v1/webhooks/:id/deliveries/:deliveryId/retry',
      {
        preHandler: admin,
        ...doc({
          summary: 'Send a delivery again (e.g. a dead one)',
          description:
            'Queues the delivery at once with a fresh attempt budget (202). 409 while an attempt is in flight or while the subscription is inactive.',
          tags,
          roles,
          params: DeliveryParams,
          responses: { 202: DeliverySchema, 404: ProblemSchema, 409: ProblemSchema, ...problems },
        }),
      },
      async (req, reply) => {
        const { params } = parseParts(req, { params: DeliveryParams });
        const sub = await store.getSubscription(params.id);
        if (!sub) throw notFound('webhook', params.id);
        if (!sub.active) throw new HttpProblem(409, 'conflict', `webhook "${params.id}" is inactive; PUT it with "active": true first`);
        const res = await svc.retry(params.id, params.deliveryId);
        if (res === null) throw notFound('delivery', params.deliveryId);
        if (res === 'in_flight') throw new HttpProblem(409, 'conflict', `delivery "${params.deliveryId}" is being attempted right now`);
        req.log.info({ webhookId: params.id, deliveryId: params.deliveryId }, 'webhook delivery re-queued by hand');
        return reply.code(202).send(deliveryView(res));
      },
    );
  };
}
