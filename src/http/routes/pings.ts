/**
 * POST /v1/pings — one ping or an array of up to 10,000 (CONTRACT §1, §5).
 *
 * Lean on purpose (it is the throughput path): no zod per ping when the hand-written check in
 * streams/codec.ts accepts the batch (zod only explains a rejected one), no log line per ping,
 * one pipeline call (one store round trip) per request.
 * - invalid item(s) → 400 naming every bad item by index and field; nothing is processed
 * - more than 10,000 items → 413 (the body is too large for one request; nothing is processed)
 * - with a ping sink (Kafka) → 202 { accepted } once the sink has acknowledged
 * - otherwise → 200 { accepted, alerts } after the batch is judged and stored
 */
import type { FastifyPluginAsync } from 'fastify';
import { MAX_PINGS_PER_REQUEST, decodePings } from '../../../streams/codec.ts';
import { scanPingBody } from '../../../streams/ping-scan.ts';
import type { Ping } from '../../../geo/types.ts';
import type { IngestPipeline } from '../../../streams/pipeline.ts';
import { PingsBody, PingsResult, ProblemSchema } from '../../schemas.ts';
import { HttpProblem, validationProblem, type FieldError } from '../problem.ts';
import { doc, jsonBody } from '../validate.ts';

/** Where validated pings go when Kafka is configured (the Kafka producer satisfies it). */
export interface PingSink {
  /** the pings as received (extra fields kept), keyed by tagId; resolves when durably accepted */
  sendPings(pings: readonly { tagId: string; [field: string]: unknown }[]): Promise<void>;
  /** the same, each ping as the JSON bytes the client sent (a body the scanner read) */
  sendPingBytes?(items: readonly { tagId: string; value: Buffer }[]): Promise<void>;
}

const ROLES = ['ingest'] as const;

/** A body the scanner read: valid pings, all of them (the general path's result, without JSON.parse). */
class ScannedPings {
  constructor(
    readonly pings: Ping[],
    readonly extras: (Record<string, unknown> | null)[],
    /** with a ping sink: the body, and each ping's [start, end) in it (two numbers a ping) */
    readonly body: Buffer | null = null,
    readonly spans: number[] | null = null,
  ) {}
}

export function pingRoutes(opts: { pipeline: IngestPipeline; sink: PingSink | null }): FastifyPluginAsync {
  return async (app) => {
    const { requireRole, metrics, config } = app.cordon;
    const { pipeline, sink } = opts;
    const decodeOpts = { defaultAccuracyM: config.defaultAccuracyM, maxBatch: MAX_PINGS_PER_REQUEST };

    // A body in the usual form is read into pings straight from its bytes (streams/ping-scan.ts,
    // ~14% of ingest was JSON.parse). Anything else, and every error, goes through the app's JSON
    // parser and the codec as before. With Kafka, the scanner also gives each ping's bytes, which
    // are produced as they came (no JSON.parse and JSON.stringify per ping, and the topic holds
    // exactly what the client sent).
    const forwardBytes = sink !== null && sink.sendPingBytes !== undefined;
    if (!sink || forwardBytes) {
      const general = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error');
      app.removeContentTypeParser('application/json');
      app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
        const buf = body as Buffer;
        const spans = forwardBytes ? [] : undefined;
        const scanned = scanPingBody(buf, config.defaultAccuracyM, MAX_PINGS_PER_REQUEST, spans);
        if (scanned !== null) {
          done(null, new ScannedPings(scanned.pings, scanned.extras, forwardBytes ? buf : null, spans ?? null));
          return;
        }
        general(req, buf.toString('utf8'), done);
      });
    }

    app.post(
      '/v1/pings',
      {
        preHandler: requireRole(...ROLES),
        ...doc({
          summary: 'Ingest one ping or an array of up to 10,000 (all-or-nothing)',
          description:
            'Without Kafka the pings are judged in the request and the answer (200) lists the alerts they opened, updated or ended, already stored. ' +
            'With Kafka configured the pings are produced to the topic and the answer is 202. ' +
            'Any invalid item → 400 listing every bad item by index and field, and nothing is processed. More than 10,000 items → 413.',
          tags: ['pings'],
          roles: [...ROLES],
          body: PingsBody,
          responses: {
            200: PingsResult,
            202: PingsResult,
            400: ProblemSchema,
            401: ProblemSchema,
            403: ProblemSchema,
            413: ProblemSchema,
          },
        }),
      },
      async (req, reply) => {
        const started = performance.now();
        const body = jsonBody(req);
        const n = Array.isArray(body) ? body.length : 1;
        const r = body instanceof ScannedPings ? ({ ok: true, pings: body.pings, extras: body.extras } as const) : decodePings(body, decodeOpts);
        if (!r.ok) {
          metrics.pingsRejected.inc({ source: 'http' }, n);
          if (r.reason === 'too_many') {
            throw new HttpProblem(413, 'too-many-pings', `At most ${MAX_PINGS_PER_REQUEST} pings per request; got ${n}. Nothing was processed.`);
          }
          const errors: FieldError[] = r.errors.map((e) => {
            const sub = e.field === '' ? [] : e.field.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
            return { in: 'body', index: e.index, field: e.field, path: Array.isArray(body) ? [e.index, ...sub] : sub, code: 'invalid_ping', message: e.message };
          });
          const items = new Set(errors.map((e) => e.index)).size;
          throw validationProblem(
            errors,
            Array.isArray(body)
              ? `${items} of ${n} pings are invalid (${errors.length} problems); nothing was processed`
              : `The ping is invalid: ${errors.map((e) => `${e.field || 'ping'}: ${e.message}`).join('; ')}`,
          );
        }
        if (r.pings.length === 0) return reply.code(sink ? 202 : 200).send(sink ? { accepted: 0 } : { accepted: 0, alerts: [] });

        if (sink) {
          // Counted as processed by the consumer that judges them, not here.
          if (body instanceof ScannedPings && body.body !== null && body.spans !== null && sink.sendPingBytes) {
            const { pings, spans, body: bytes } = body;
            const items = new Array<{ tagId: string; value: Buffer }>(pings.length);
            for (let k = 0; k < pings.length; k++) items[k] = { tagId: (pings[k] as Ping).tagId, value: bytes.subarray(spans[2 * k], spans[2 * k + 1]) };
            await sink.sendPingBytes(items);
          } else {
            await sink.sendPings((Array.isArray(body) ? body : [body]) as { tagId: string }[]);
          }
          return reply.code(202).send({ accepted: r.pings.length });
        }

        const res = await pipeline.processBatch(r.pings, r.extras);
        metrics.pingsProcessed.inc({ source: 'http' }, r.pings.length);
        if (res.unknownTags) metrics.unknownTags.inc({ source: 'http' }, res.unknownTags);
        for (const e of res.events) metrics.alerts.inc({ type: e.alert.type, event: e.type.slice(6) });
        metrics.processingSeconds.observe({ source: 'http' }, (performance.now() - started) / 1000);
        return { accepted: r.pings.length, alerts: res.alerts };
      },
    );
  };
}
