/**
 * Domain operations behind the HTTP API: subjects and zones (validated, compiled, audited) and
 * the live engine index. The HTTP layer authenticates and parses; this file decides.
 *
 * Zones: the body is checked by the zod schema (shape) and then by the geo validators (ring
 * closure, self-intersection, coordinate ranges, schedule rules, validity bounds); every problem
 * is reported at once with its path. A zone naming a subject that does not exist is refused (400):
 * an offender manager who mistypes a subject id must not end up with a zone that protects nobody.
 *
 * Live index: each zone change is applied to this instance's ZoneIndex before the PUT answers, and
 * reaches other instances through `store.onConfigChange` (Redis pub/sub). Refreshes of one zone id
 * are serialised so an older history never overwrites a newer one.
 */
import type { Logger } from 'pino';
import { compileZone } from '../geo/compile.ts';
import { validateSchedule, validateValidity } from '../geo/schedule.ts';
import type { CompiledZone, GeometryProblem, ZoneDef } from '../geo/types.ts';
import { validateGeometry } from '../geo/validate.ts';
import type { ZoneIndex } from '../geo/zone-index.ts';
import { toZoneDef } from '../streams/codec.ts';
import type {
  Clock,
  ConfigChange,
  CordonStore,
  Page,
  PageQuery,
  PutResult,
  Subject,
  Unsubscribe,
  ZoneHistory,
  ZoneInput,
  ZoneResource,
  ZoneVersionRecord,
} from '../streams/ports.ts';
import { NotFoundError } from '../streams/ports.ts';
import { SubjectPut, ZonePut } from './schemas.ts';
import { validationProblem, type FieldError } from './http/problem.ts';
import { issuesToErrors } from './http/validate.ts';

export interface ServiceDeps {
  store: CordonStore;
  zoneIndex: ZoneIndex;
  clock: Clock;
  logger: Logger;
}

function geoErrors(problems: GeometryProblem[], prefix: (string | number)[]): FieldError[] {
  return problems.map((p) => {
    const path = [...prefix, ...p.path];
    return { in: 'body', field: path.join('.'), path, code: p.code, message: p.message };
  });
}

function checkIdMatches(bodyId: string | undefined, pathId: string, errors: FieldError[]): void {
  if (bodyId !== undefined && bodyId !== pathId) {
    errors.push({ in: 'body', field: 'id', path: ['id'], code: 'id_mismatch', message: `must equal the id in the path ("${pathId}") or be omitted` });
  }
}

export class CordonService {
  readonly store: CordonStore;
  readonly zoneIndex: ZoneIndex;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly refreshing = new Map<string, Promise<void>>();
  private unsubscribe: Unsubscribe | null = null;

  constructor(deps: ServiceDeps) {
    this.store = deps.store;
    this.zoneIndex = deps.zoneIndex;
    this.clock = deps.clock;
    this.log = deps.logger;
  }

  /** Loads every zone version into the index and follows changes from every instance. */
  async start(): Promise<void> {
    this.unsubscribe = this.store.onConfigChange((c) => this.onConfigChange(c));
    const all = await this.store.allZoneDefs();
    // Zones never deleted go in with one bulk tree build; the others replay their history.
    const bulk: CompiledZone[] = [];
    for (const h of all) {
      if (h.deletedAt === null && h.history.every((e) => e.def !== null)) {
        for (const def of h.defs) {
          const c = this.compile(h.zoneId, def);
          if (c) bulk.push(c);
        }
      } else this.applyHistory(h);
    }
    this.zoneIndex.load(bulk);
    this.log.info({ zones: this.zoneIndex.size, versions: bulk.length }, 'zone index loaded');
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private onConfigChange(c: ConfigChange): void {
    if (c.kind !== 'zone') return;
    void this.refreshZone(c.id).catch((err: unknown) => this.log.error({ err, zoneId: c.id }, 'zone refresh failed'));
  }

  /** Re-reads one zone's history from the store into the index (serialised per zone id). */
  refreshZone(id: string): Promise<void> {
    const prev = this.refreshing.get(id) ?? Promise.resolve();
    const next = prev
      .catch(() => {})
      .then(async () => {
        const h = await this.store.zoneHistory(id);
        if (h) this.applyHistory(h);
        else this.zoneIndex.remove(id, this.clock.now());
      });
    this.refreshing.set(id, next);
    void next.finally(() => {
      if (this.refreshing.get(id) === next) this.refreshing.delete(id);
    }).catch(() => {});
    return next;
  }

  private compile(zoneId: string, def: ZoneDef): CompiledZone | null {
    try {
      return compileZone(def);
    } catch (err) {
      // A stored version that no longer compiles must not take the others down.
      this.log.error({ err, zoneId, version: def.version }, 'stored zone version does not compile; skipped');
      return null;
    }
  }

  /** Replays one zone's changes in order (idempotent: the same history gives the same index). */
  private applyHistory(h: ZoneHistory): void {
    for (const e of h.history) {
      if (e.def) {
        const c = this.compile(h.zoneId, e.def);
        if (c) this.zoneIndex.upsert(c);
      } else this.zoneIndex.remove(h.zoneId, e.at);
    }
    if (h.history.length === 0) for (const def of h.defs) {
      const c = this.compile(h.zoneId, def);
      if (c) this.zoneIndex.upsert(c);
    }
    if (h.deletedAt !== null) this.zoneIndex.remove(h.zoneId, h.deletedAt);
  }

  // ------------------------------------------------------------------ subjects

  async putSubject(id: string, body: unknown): Promise<PutResult<Subject>> {
    const r = SubjectPut.safeParse(body);
    const errors: FieldError[] = r.success ? [] : issuesToErrors(r.error.issues, 'body');
    if (r.success) checkIdMatches(r.data.id, id, errors);
    if (errors.length || !r.success) throw validationProblem(errors);
    const d = r.data;
    const res = await this.store.putSubject(id, {
      tagId: d.tagId,
      name: d.name ?? null,
      orderRef: d.orderRef ?? null,
      timezone: d.timezone,
    });
    this.log.info({ subjectId: id, tagId: d.tagId, created: res.created }, res.created ? 'subject created' : 'subject replaced');
    return res;
  }

  async getSubject(id: string): Promise<Subject> {
    const s = await this.store.getSubject(id);
    if (!s) throw new NotFoundError('subject', id);
    return s;
  }

  async deleteSubject(id: string): Promise<void> {
    if (!(await this.store.deleteSubject(id))) throw new NotFoundError('subject', id);
    this.log.info({ subjectId: id }, 'subject deleted');
  }

  listSubjects(q: PageQuery): Promise<Page<Subject>> {
    return this.store.listSubjects(q);
  }

  // ------------------------------------------------------------------ zones

  /** Validates a zone body fully; returns the store input or throws one 400 with every problem. */
  async validateZone(id: string, body: unknown): Promise<ZoneInput> {
    const r = ZonePut.safeParse(body);
    const errors: FieldError[] = r.success ? [] : issuesToErrors(r.error.issues, 'body');
    const raw = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    const shapeBad = (field: string) => errors.some((e) => e.path[0] === field);
    // Semantic checks run on every part whose shape passed, so one answer lists everything.
    if (raw.geometry !== undefined && !shapeBad('geometry')) errors.push(...geoErrors(validateGeometry(raw.geometry), ['geometry']));
    if (raw.schedule != null && !shapeBad('schedule')) errors.push(...geoErrors(validateSchedule(raw.schedule), ['schedule']));
    if (r.success) {
      const d = r.data;
      checkIdMatches(d.id, id, errors);
      const from = d.validFrom ? Date.parse(d.validFrom) : null;
      const to = d.validTo ? Date.parse(d.validTo) : null;
      errors.push(...geoErrors(validateValidity(from, to), []));
      // first position of each distinct subject id, so each unknown id is reported once, where it first appears
      const firstIndex = new Map<string, number>();
      d.subjectIds.forEach((s, i) => {
        if (!firstIndex.has(s)) firstIndex.set(s, i);
      });
      const ids = [...firstIndex.keys()];
      const found = await Promise.all(ids.map((s) => this.store.getSubject(s)));
      found.forEach((f, k) => {
        if (f) return;
        const sid = ids[k]!;
        const i = firstIndex.get(sid)!;
        errors.push({
          in: 'body',
          field: `subjectIds.${i}`,
          path: ['subjectIds', i],
          code: 'unknown_subject',
          message: `subject "${sid}" does not exist; create it first (PUT /v1/subjects/${sid})`,
        });
      });
    }
    if (errors.length || !r.success) throw validationProblem(errors);
    const d = r.data;
    const input: ZoneInput = {
      name: d.name ?? id,
      kind: d.kind,
      subjectIds: [...new Set(d.subjectIds)],
      geometry: d.geometry as ZoneInput['geometry'],
      schedule: d.schedule ? { timezone: d.schedule.timezone ?? null, windows: d.schedule.windows } : null,
      graceSeconds: d.graceSeconds,
      minConfidence: d.minConfidence,
      validFrom: d.validFrom ? new Date(Date.parse(d.validFrom)).toISOString() : null,
      validTo: d.validTo ? new Date(Date.parse(d.validTo)).toISOString() : null,
    };
    // Last guard: the engine must be able to compile what we store.
    try {
      compileZone(toZoneDef(id, 0, input, 0));
    } catch (err) {
      throw validationProblem([
        { in: 'body', field: 'geometry', path: ['geometry'], code: 'invalid_geometry', message: `geometry cannot be compiled: ${(err as Error).message}` },
      ]);
    }
    return input;
  }

  async putZone(id: string, body: unknown, by: string): Promise<PutResult<ZoneResource>> {
    const input = await this.validateZone(id, body);
    const res = await this.store.putZone(id, input, { by });
    await this.refreshZone(id);
    this.log.info({ zoneId: id, version: res.value.version, by, created: res.created }, res.created ? 'zone created' : 'zone replaced');
    return res;
  }

  async getZone(id: string): Promise<ZoneResource> {
    const z = await this.store.getZone(id);
    if (!z) throw new NotFoundError('zone', id);
    return z;
  }

  async deleteZone(id: string, by: string): Promise<void> {
    if (!(await this.store.deleteZone(id, { by }))) throw new NotFoundError('zone', id);
    await this.refreshZone(id);
    this.log.info({ zoneId: id, by }, 'zone deleted');
  }

  listZones(q: PageQuery & { subjectId?: string }): Promise<Page<ZoneResource>> {
    return this.store.listZones(q);
  }

  async zoneVersions(id: string, q: PageQuery): Promise<Page<ZoneVersionRecord>> {
    const p = await this.store.zoneVersions(id, q);
    if (!p) throw new NotFoundError('zone', id);
    return p;
  }
}

