// Shapes of the public Cordon API (see the product contract). Only what the console reads.

export type Severity = 'high' | 'medium' | 'low';
export type AlertStatus = 'open' | 'acknowledged' | 'resolved';
export type Confidence = 'possible' | 'confirmed';
export type AlertType =
  | 'exclusion.breach'
  | 'inclusion.breach'
  | 'tag.tamper'
  | 'tag.battery_low'
  | 'tag.signal_lost'
  | 'tag.no_fix';

export const ALERT_TYPES: readonly AlertType[] = [
  'exclusion.breach',
  'inclusion.breach',
  'tag.tamper',
  'tag.battery_low',
  'tag.signal_lost',
  'tag.no_fix',
];

export const OUTCOMES = [
  'breach_confirmed',
  'reasonable_excuse',
  'authorised_absence',
  'false_alert',
  'equipment_fault',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface Position {
  lat: number;
  lon: number;
  accuracyM?: number;
}

export interface AlertNote {
  by?: string;
  at?: string;
  text?: string;
  note?: string;
}

export interface Alert {
  id: string;
  type: AlertType | string;
  subjectId: string | null;
  tagId: string;
  zoneId: string | null;
  zoneVersion: number | null;
  severity: Severity;
  confidence: Confidence;
  trigger: string | null;
  late: boolean;
  active: boolean;
  openedAt: string;
  detectedAt: string;
  lastPingAt: string | null;
  endedAt: string | null;
  pingCount: number;
  firstPosition: Position | null;
  lastPosition: Position | null;
  status: AlertStatus;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  outcome: Outcome | null;
  notes: Array<AlertNote | string>;
}

export interface AlertEvent {
  id: string;
  type: 'alert.opened' | 'alert.updated' | 'alert.ended' | 'alert.acknowledged' | 'alert.resolved' | string;
  createdAt: string;
  alert: Alert;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Subject {
  id: string;
  tagId: string;
  name?: string;
  orderRef?: string;
  timezone?: string;
}

export type LonLat = [number, number];
export type Ring = LonLat[];

export type ZoneGeometry =
  | { type: 'Polygon'; coordinates: Ring[] }
  | { type: 'MultiPolygon'; coordinates: Ring[][] }
  | { type: 'Circle'; center: LonLat; radiusM: number };

export type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const DAYS: readonly Day[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface ScheduleWindow {
  days: Day[];
  start: string;
  end: string;
}

export interface Schedule {
  timezone?: string;
  windows: ScheduleWindow[];
}

export interface ZoneBody {
  name: string;
  kind: 'exclusion' | 'inclusion';
  subjectIds: string[];
  geometry: ZoneGeometry;
  schedule?: Schedule | null;
  graceSeconds?: number;
  minConfidence?: Confidence;
  validFrom?: string | null;
  validTo?: string | null;
}

export interface Zone extends ZoneBody {
  id: string;
  version: number;
  [extra: string]: unknown;
}

/** One stored position of a tag's trail (pings keep their extra fields). */
export interface TrailPoint {
  ts: string | number;
  lat?: number;
  lon?: number;
  accuracyM?: number;
  fix?: string;
  [extra: string]: unknown;
}

export interface ConsoleConfig {
  tileUrl: string | null;
  tileAttribution: string | null;
  tileMaxZoom: number;
}
