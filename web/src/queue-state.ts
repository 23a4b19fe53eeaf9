// The alert queue as data: merging alerts that arrive from the list, the stream and actions
// (idempotent, so a replayed or duplicated event changes nothing), ordering and filtering.
import type { Alert, AlertStatus, Severity } from './types.ts';

const STATUS_RANK: Record<AlertStatus, number> = { open: 0, acknowledged: 1, resolved: 2 };
const SEVERITY_RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2 };

function time(s: string | null | undefined): number {
  if (!s) return 0;
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

/**
 * How far an alert has progressed. Every change the service makes moves an alert forward
 * (status open → acknowledged → resolved, episode active → ended, more pings, confidence up),
 * so when two copies of one alert meet, the further one is the newer one.
 */
function progress(a: Alert): number[] {
  return [
    STATUS_RANK[a.status] ?? 0,
    a.endedAt ? 1 : 0,
    a.pingCount ?? 0,
    time(a.lastPingAt),
    a.confidence === 'confirmed' ? 1 : 0,
    Array.isArray(a.notes) ? a.notes.length : 0,
  ];
}

export function isNewer(candidate: Alert, current: Alert): boolean {
  const a = progress(candidate);
  const b = progress(current);
  for (let i = 0; i < a.length; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return false;
}

/** open before acknowledged before resolved; then most severe; then newest detected. */
export function compareAlerts(a: Alert, b: Alert): number {
  return (
    (STATUS_RANK[a.status] ?? 0) - (STATUS_RANK[b.status] ?? 0) ||
    (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3) ||
    time(b.detectedAt) - time(a.detectedAt) ||
    time(b.openedAt) - time(a.openedAt) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export interface QueueFilter {
  statuses: AlertStatus[];
  type: string;
  confidence: string;
  subject: string;
}

export const DEFAULT_FILTER: QueueFilter = { statuses: ['open', 'acknowledged'], type: '', confidence: '', subject: '' };

export function matches(a: Alert, f: QueueFilter): boolean {
  if (f.statuses.length > 0 && !f.statuses.includes(a.status)) return false;
  if (f.type && a.type !== f.type) return false;
  if (f.confidence && a.confidence !== f.confidence) return false;
  if (f.subject) {
    const needle = f.subject.trim().toLowerCase();
    const hay = `${a.subjectId ?? ''} ${a.tagId ?? ''}`.toLowerCase();
    if (needle && !hay.includes(needle)) return false;
  }
  return true;
}

export type ApplyResult = 'new' | 'changed' | 'same';

export class AlertQueue {
  private readonly byId = new Map<string, Alert>();

  /** Adds or updates one alert; a copy that is not further along than the one held is ignored. */
  apply(alert: Alert): ApplyResult {
    const held = this.byId.get(alert.id);
    if (!held) {
      this.byId.set(alert.id, alert);
      return 'new';
    }
    if (!isNewer(alert, held)) return 'same';
    this.byId.set(alert.id, alert);
    return 'changed';
  }

  get(id: string): Alert | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  list(filter: QueueFilter): Alert[] {
    return [...this.byId.values()].filter((a) => matches(a, filter)).sort(compareAlerts);
  }

  counts(): Record<AlertStatus, number> {
    const c: Record<AlertStatus, number> = { open: 0, acknowledged: 0, resolved: 0 };
    for (const a of this.byId.values()) c[a.status] = (c[a.status] ?? 0) + 1;
    return c;
  }

  clear(): void {
    this.byId.clear();
  }
}
