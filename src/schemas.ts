/**
 * The ONE source of request/response shapes: routes validate with these zod schemas and the
 * OpenAPI document (/docs) is generated from them (z.toJSONSchema). Geometry and schedule
 * semantics (ring closure, self-intersection, ranges, window rules) are checked by geo/
 * validators after the shape passes; their problems are merged into the same 400 answer.
 */
import { z } from 'zod';
import { IANAZone } from 'luxon';
import { pingSchema } from '../streams/codec.ts';

export const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export const Id = z
  .string()
  .regex(ID_RE, { message: 'must be 1-64 characters of A-Za-z0-9._:-' })
  .meta({ description: 'caller-chosen id: 1-64 chars of A-Za-z0-9._:-', example: 'S1' });

export const TagId = z
  .string()
  .regex(ID_RE, { message: 'must be 1-64 characters of A-Za-z0-9._:-' })
  .meta({ description: 'GPS tag id: 1-64 chars of A-Za-z0-9._:-', example: 'BUD-1' });

export const TimeZone = z
  .string()
  .refine((s) => IANAZone.isValidZone(s), { message: 'must be an IANA time zone such as Europe/London' })
  .meta({ description: 'IANA time zone', example: 'Europe/London' });

/** ISO-8601 with offset or Z. */
export const IsoDateTime = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with offset or Z' });

/** An instant in a query string: ISO-8601 with offset/Z, or epoch milliseconds. */
export const InstantParam = z
  .string()
  .refine((s) => parseInstant(s) !== null, { message: 'must be an ISO-8601 date-time with offset/Z or epoch milliseconds' })
  .meta({ description: 'ISO-8601 with offset/Z, or epoch milliseconds', example: '2026-01-01T00:00:00Z' });

export function parseInstant(s: string): number | null {
  if (/^-?\d{1,16}$/.test(s)) return Number(s);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}

// ---------- common ----------

export const Limit = z.coerce
  .number({ message: 'must be an integer between 1 and 1000' })
  .int({ message: 'must be an integer between 1 and 1000' })
  .min(1, { message: 'must be an integer between 1 and 1000' })
  .max(1000, { message: 'must be an integer between 1 and 1000' })
  .default(100)
  .meta({ description: 'page size (default 100, max 1000)' });

export const Cursor = z.string().min(1).max(512).meta({ description: 'nextCursor from the previous page' });

export const PageQuery = z.object({ limit: Limit, cursor: Cursor.optional() });

export const IdParams = z.object({ id: Id });
export const TagParams = z.object({ tagId: TagId });

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().meta({ description: 'pass as `cursor` for the next page; null on the last page' }),
  });
}

export const FieldErrorSchema = z.object({
  in: z.enum(['body', 'query', 'params', 'header']).optional(),
  index: z.number().int().optional().meta({ description: 'batch position (pings arrays)' }),
  field: z.string().meta({ description: 'dotted path inside the item' }),
  path: z.array(z.union([z.string(), z.number()])),
  code: z.string(),
  message: z.string(),
});

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .meta({ title: 'Problem', description: 'application/problem+json (RFC 9457)' });

// ---------- subjects ----------

export const SubjectPut = z
  .object({
    id: Id.optional().meta({ description: 'optional; must equal the id in the path' }),
    tagId: TagId,
    name: z.string().max(200).nullish(),
    orderRef: z.string().max(200).nullish(),
    timezone: TimeZone.default('Europe/London'),
  })
  .meta({ title: 'SubjectInput' });
export type SubjectPut = z.infer<typeof SubjectPut>;

export const SubjectSchema = z
  .object({
    id: Id,
    tagId: TagId,
    name: z.string().nullable(),
    orderRef: z.string().nullable(),
    timezone: z.string(),
    assignedAt: IsoDateTime.meta({ description: 'when the tag was assigned (signal-lost counts from here)' }),
    createdAt: IsoDateTime,
    updatedAt: IsoDateTime,
  })
  .meta({ title: 'Subject' });

// ---------- zones ----------

const Num = z.number({ message: 'must be a number' });
const Position2 = z.array(Num).min(2, { message: 'a position is [lon, lat]' }).max(3, { message: 'a position is [lon, lat]' });
const Ring = z.array(Position2);

export const PolygonGeometry = z
  .object({ type: z.literal('Polygon'), coordinates: z.array(Ring).min(1, { message: 'a polygon needs an outer ring' }) })
  .meta({ description: 'GeoJSON Polygon, [lon, lat] positions; later rings are holes' });
export const MultiPolygonGeometry = z
  .object({
    type: z.literal('MultiPolygon'),
    coordinates: z.array(z.array(Ring).min(1, { message: 'a polygon needs an outer ring' })).min(1, { message: 'needs at least one polygon' }),
  })
  .meta({ description: 'GeoJSON MultiPolygon; the only way to cross the antimeridian (split at ±180)' });
export const CircleGeometry = z
  .object({
    type: z.literal('Circle'),
    center: z.tuple([Num, Num], { message: 'center is [lon, lat]' }),
    radiusM: Num.meta({ description: 'geodesic radius in metres, > 0' }),
  })
  .meta({ description: 'geodesic circle: exact distance from center, not a polygon approximation' });

export const GeometrySchema = z
  .discriminatedUnion('type', [PolygonGeometry, MultiPolygonGeometry, CircleGeometry], {
    message: 'geometry.type must be Polygon, MultiPolygon or Circle',
  })
  .meta({ title: 'ZoneGeometry' });

export const HHMM = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be a local time HH:MM between 00:00 and 23:59' })
  .meta({ example: '19:00' });
export const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], {
  message: 'must be one of mon, tue, wed, thu, fri, sat, sun',
});

export const ScheduleSchema = z
  .object({
    timezone: TimeZone.nullish().meta({ description: "IANA zone; absent = the subject's" }),
    windows: z
      .array(
        z.object({
          days: z.array(Weekday).min(1, { message: 'needs at least one day' }),
          start: HHMM,
          end: HHMM.meta({ description: 'end <= start crosses midnight; the window belongs to the day it starts' }),
        }),
      )
      .min(1, { message: 'a schedule needs at least one window (omit schedule for always active)' }),
  })
  .meta({ title: 'Schedule' });

export const ZonePut = z
  .object({
    id: Id.optional().meta({ description: 'optional; must equal the id in the path' }),
    name: z.string().min(1).max(200).optional().meta({ description: 'default: the zone id' }),
    kind: z.enum(['exclusion', 'inclusion'], { message: 'must be "exclusion" or "inclusion"' }),
    subjectIds: z.array(Id).max(10_000).default([]).meta({ description: 'subjects the zone applies to; each must exist' }),
    geometry: GeometrySchema,
    schedule: ScheduleSchema.nullish().meta({ description: 'absent or null = always active' }),
    graceSeconds: z.number().int({ message: 'must be a whole number of seconds' }).min(0).max(86_400).default(0),
    minConfidence: z.enum(['possible', 'confirmed'], { message: 'must be "possible" or "confirmed"' }).default('possible'),
    validFrom: IsoDateTime.nullish(),
    validTo: IsoDateTime.nullish(),
  })
  .meta({ title: 'ZoneInput' });
export type ZonePut = z.infer<typeof ZonePut>;

export const ZoneSchema = z
  .object({
    id: Id,
    version: z.number().int().meta({ description: 'increases by one on every change' }),
    name: z.string(),
    kind: z.enum(['exclusion', 'inclusion']),
    subjectIds: z.array(Id),
    geometry: GeometrySchema,
    schedule: ScheduleSchema.nullable(),
    graceSeconds: z.number().int(),
    minConfidence: z.enum(['possible', 'confirmed']),
    validFrom: IsoDateTime.nullable(),
    validTo: IsoDateTime.nullable(),
    createdAt: IsoDateTime,
    updatedAt: IsoDateTime,
    updatedBy: z.string().nullable().meta({ description: 'who made this version: "<role>:<key id>"' }),
  })
  .meta({ title: 'Zone' });

export const ZoneVersionSchema = z
  .object({
    version: z.number().int(),
    action: z.enum(['created', 'replaced', 'deleted']).meta({ description: 'what changed' }),
    at: IsoDateTime.meta({ description: 'when' }),
    by: z.string().nullable().meta({ description: 'who: "<role>:<key id>" of the API key used' }),
    zone: ZoneSchema.meta({ description: 'the zone after this change (for a deletion: as it was when deleted)' }),
  })
  .meta({ title: 'ZoneVersion' });

export const ZoneListQuery = PageQuery.extend({ subjectId: Id.optional() });

// ---------- pings ----------

/** The ping rule book lives with the codec (streams/codec.ts); HTTP and Kafka share it. */
export const PingSchema = pingSchema.meta({ title: 'Ping', description: 'lat/lon required unless fix is "none"; extra fields are kept' });

export const PingsBody = z.union([PingSchema, z.array(PingSchema).max(10_000)]).meta({ description: 'one ping or an array of up to 10,000' });

// ---------- alerts ----------

export const AlertType = z.enum(['exclusion.breach', 'inclusion.breach', 'tag.tamper', 'tag.battery_low', 'tag.signal_lost', 'tag.no_fix']);
export const AlertStatus = z.enum(['open', 'acknowledged', 'resolved']);
export const Outcome = z.enum(['breach_confirmed', 'reasonable_excuse', 'authorised_absence', 'false_alert', 'equipment_fault'], {
  message: 'must be one of breach_confirmed, reasonable_excuse, authorised_absence, false_alert, equipment_fault',
});

const PositionSchema = z.object({ lat: z.number(), lon: z.number(), accuracyM: z.number() });

export const NoteSchema = z.object({ at: IsoDateTime, by: z.string(), action: z.enum(['acknowledge', 'resolve']), text: z.string() });

export const AlertSchema = z
  .object({
    id: z.string(),
    type: AlertType,
    subjectId: z.string(),
    tagId: z.string(),
    zoneId: z.string().nullable(),
    zoneVersion: z.number().int().nullable(),
    severity: z.enum(['high', 'medium', 'low']),
    confidence: z.enum(['possible', 'confirmed']),
    trigger: z.string(),
    late: z.boolean(),
    active: z.boolean(),
    openedAt: IsoDateTime,
    detectedAt: IsoDateTime,
    lastPingAt: IsoDateTime.nullable(),
    endedAt: IsoDateTime.nullable(),
    pingCount: z.number().int(),
    firstPosition: PositionSchema.nullable(),
    lastPosition: PositionSchema.nullable(),
    status: AlertStatus,
    acknowledgedBy: z.string().nullable(),
    acknowledgedAt: IsoDateTime.nullable(),
    resolvedBy: z.string().nullable(),
    resolvedAt: IsoDateTime.nullable(),
    outcome: Outcome.nullable(),
    notes: z.array(NoteSchema),
  })
  .meta({ title: 'Alert' });

export const AlertEventSchema = z
  .object({
    id: z.string(),
    type: z.enum(['alert.opened', 'alert.updated', 'alert.ended', 'alert.acknowledged', 'alert.resolved']),
    createdAt: IsoDateTime,
    alert: AlertSchema,
  })
  .meta({ title: 'AlertEvent' });

export const AlertListQuery = PageQuery.extend({
  status: AlertStatus.optional(),
  type: AlertType.optional(),
  subjectId: Id.optional(),
  since: InstantParam.optional().meta({ description: 'only alerts opened at or after this instant' }),
});

const By = z.string().trim().min(1, { message: 'must name who acts' }).max(200);
const Note = z.string().max(4000).optional();

export const AcknowledgeBody = z.object({ by: By, note: Note }).meta({ title: 'AcknowledgeInput' });
export const ResolveBody = z.object({ by: By, outcome: Outcome, note: Note }).meta({ title: 'ResolveInput' });

export const PingsResult = z.object({
  accepted: z.number().int(),
  alerts: z.array(AlertSchema).optional().meta({ description: 'alerts opened, updated or ended by these pings (absent on 202)' }),
});

// ---------- positions ----------

export const PositionsQuery = z.object({
  from: InstantParam.optional().meta({ description: 'default: 24 hours before `to`' }),
  to: InstantParam.optional().meta({ description: 'default: now' }),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000).meta({ description: 'default 1000, max 10000' }),
});

export const StoredPositionSchema = z
  .object({
    tagId: z.string(),
    ts: IsoDateTime,
    lat: z.number().nullable(),
    lon: z.number().nullable(),
    accuracyM: z.number(),
    fix: z.enum(['gps', 'wifi', 'cell', 'rf', 'none']),
    battery: z.number().nullable(),
    strap: z.enum(['ok', 'tampered']).nullable(),
    seq: z.number().int().nullable(),
    receivedAt: IsoDateTime,
  })
  .catchall(z.unknown())
  .meta({ title: 'StoredPosition', description: 'a stored ping as received (extra ping fields are kept)' });
