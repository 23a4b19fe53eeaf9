/**
 * The engine's vocabulary. geo/ is pure: no I/O, no clock, no env. Every time is
 * epoch milliseconds (UTC) passed in by the caller; conversion to ISO strings happens
 * at the edges (streams/, src/).
 */

export type FixSource = 'gps' | 'wifi' | 'cell' | 'rf' | 'none';

/** A validated ping as the engine sees it. */
export interface Ping {
  tagId: string;
  /** fix time (event time), epoch ms */
  ts: number;
  /** null only when fix === 'none' */
  lat: number | null;
  lon: number | null;
  /** horizontal accuracy radius in metres (> 0); DEFAULT_ACCURACY_M already applied */
  accuracyM: number;
  fix: FixSource;
  battery: number | null;
  strap: 'ok' | 'tampered' | null;
  seq: number | null;
}

export interface Position {
  lat: number;
  lon: number;
  accuracyM: number;
}

// ---- geometry (the contract's input shapes) ----

export type LonLat = [number, number];
export interface PolygonGeometry {
  type: 'Polygon';
  coordinates: number[][][];
}
export interface MultiPolygonGeometry {
  type: 'MultiPolygon';
  coordinates: number[][][][];
}
export interface CircleGeometry {
  type: 'Circle';
  center: [number, number];
  radiusM: number;
}
export type ZoneGeometry = PolygonGeometry | MultiPolygonGeometry | CircleGeometry;

/** One validation problem: a machine code and a JSON path into the input. */
export interface GeometryProblem {
  code:
    | 'invalid_type'
    | 'ring_not_closed'
    | 'ring_too_short'
    | 'self_intersection'
    | 'coordinate_out_of_range'
    | 'radius_not_positive'
    | 'too_wide'
    | (string & {});
  /** JSON path segments, e.g. ['coordinates', 0, 3, 1] */
  path: (string | number)[];
  message: string;
}

// ---- schedules ----

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export interface ScheduleWindow {
  days: Weekday[];
  /** local wall-clock "HH:MM" */
  start: string;
  /** local wall-clock "HH:MM"; end <= start crosses midnight and belongs to the start day */
  end: string;
}
export interface Schedule {
  /** IANA zone; absent = the subject's timezone */
  timezone?: string | null;
  windows: ScheduleWindow[];
}

// ---- zones ----

export type ZoneKind = 'exclusion' | 'inclusion';
export type Confidence = 'possible' | 'confirmed';

/** One version of a zone, as the engine needs it. */
export interface ZoneDef {
  id: string;
  version: number;
  name: string;
  kind: ZoneKind;
  subjectIds: string[];
  geometry: ZoneGeometry;
  /** null = always active */
  schedule: Schedule | null;
  graceSeconds: number;
  minConfidence: Confidence;
  /** epoch ms, null = unbounded */
  validFrom: number | null;
  validTo: number | null;
  /**
   * epoch ms from which this version is the one in force (when it was written). Late pings
   * with ts before it are judged against the previous version. 0 = since forever.
   */
  effectiveFrom: number;
}

/** How one zone judges one ping (CONTRACT §3). */
export interface Judgement {
  /** boundary rule: on the edge = inside */
  inside: boolean;
  /** geodesic-ish distance in metres from the point to the zone boundary (>= 0) */
  distanceM: number;
  /** distanceM >= accuracy radius */
  certain: boolean;
}

// ---- alerts ----

export type AlertType =
  | 'exclusion.breach'
  | 'inclusion.breach'
  | 'tag.tamper'
  | 'tag.battery_low'
  | 'tag.signal_lost'
  | 'tag.no_fix';

export type Severity = 'high' | 'medium' | 'low';

/** The engine-owned part of an alert (the human workflow fields live in the store). */
export interface EngineAlert {
  id: string;
  type: AlertType;
  subjectId: string;
  tagId: string;
  zoneId: string | null;
  zoneVersion: number | null;
  severity: Severity;
  confidence: Confidence;
  trigger: string;
  late: boolean;
  active: boolean;
  /** epoch ms: event time of the first violating ping (or the instant a clock rule fired) */
  openedAt: number;
  /** epoch ms: wall-clock time the engine raised it */
  detectedAt: number;
  lastPingAt: number | null;
  endedAt: number | null;
  pingCount: number;
  firstPosition: Position | null;
  lastPosition: Position | null;
}

/**
 * What the tracker tells the store. `opened`, `updated` (confidence rose) and `ended`
 * become events; `touched` (pingCount/lastPingAt/lastPosition moved) is stored silently.
 */
export interface AlertChange {
  kind: 'opened' | 'updated' | 'ended' | 'touched';
  alert: EngineAlert;
}

/** Per-tag facts the tracker needs that are not in its state. */
export interface TagContext {
  tagId: string;
  subjectId: string;
  /** IANA zone of the subject: the default for schedules without a timezone */
  timezone: string;
  /** epoch ms the tag was assigned to the subject (signal-lost counts from here) */
  assignedAt: number;
}

export interface TrackerConfig {
  batteryLowPct: number; // 15
  batteryClearPct: number; // batteryLowPct + 5
  signalLostAfterMs: number; // 600 000
  noFixAfterMs: number; // 900 000
}

/** How the tracker finds the zones relevant to a ping (implemented by ZoneIndex). */
export interface ZoneLookup {
  /**
   * Zones that apply to `subjectId` and may judge a ping at (lon, lat) with radius `radiusM`
   * at event time `at`: every exclusion zone whose box is within radius, every inclusion
   * zone of the subject (they matter most when the point is far away), each in the
   * version in force at `at`. `out` is reused to avoid allocation.
   */
  candidates(subjectId: string, lon: number, lat: number, radiusM: number, at: number, out?: CompiledZone[]): CompiledZone[];
  /** every zone of the subject, version in force at `at` (for clock-driven checks) */
  forSubject(subjectId: string, at: number): CompiledZone[];
  /** one zone, version in force at `at` */
  get(zoneId: string, at: number): CompiledZone | undefined;
}

/** A zone compiled for the hot path (built by compileZone). Fields beyond these are private to geo/. */
export interface CompiledZone {
  readonly def: ZoneDef;
  readonly id: string;
  readonly version: number;
  readonly kind: ZoneKind;
  /** one or more boxes [minLon, minLat, maxLon, maxLat] (more than one when split at ±180) */
  readonly boxes: ReadonlyArray<readonly [number, number, number, number]>;
  readonly subjects: ReadonlySet<string>;
}
