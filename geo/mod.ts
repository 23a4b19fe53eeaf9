/** The engine's public API: streams/ and src/ import from here. */
export type * from './types.ts';
export { validateGeometry } from './validate.ts';
export { compileZone } from './compile.ts';
export { judge, judgeInto } from './contain.ts';
export { ZoneIndex } from './zone-index.ts';
export { isActive, nextEdge, activityInterval, activityIntervalCached, validateSchedule, validateValidity } from './schedule.ts';
export type { ActivityInterval } from './schedule.ts';
export { alertId } from './alert-id.ts';
export { encodeTagState, decodeTagState, compactTagState, TAG_STATE_MARK } from './state-codec.ts';
export { applyPing, applyPingInPlace, lastPosition, newestTs, tick, nextTickAt, newTagState, RECENT_TS_CAP, HISTORY_CAP, LATE_CAP, ZONE_TRACK_CAP } from './tracker.ts';
export type { TagState, TrackerResult, PingResult, ZoneTrack, Episode, Span, DeviceEpisode } from './tracker.ts';
