/**
 * Lua for the Redis store: every multi-key write that must be atomic (a batch commit, a human
 * transition, a subject or zone change) is one script, so a crash never leaves half a batch and
 * two instances never interleave inside one. Keys are built from the prefix passed in ARGV
 * (single-node Redis; not cluster-slotted).
 *
 * JSON is composed by string concatenation from pieces JS already encoded, never by cjson.encode
 * (which turns [] into {} and reorders keys).
 */

/** Shared: next event id `<ms>-<seq>` strictly after the stream's last, using Redis TIME. */
const EVENT_ID = `
local __lastMs, __lastSeq, __nowMs
local function nextEventId(ek)
  if __lastMs == nil then
    __lastMs, __lastSeq = -1, -1
    local top = redis.call('XREVRANGE', ek, '+', '-', 'COUNT', 1)
    local lastId = nil
    if top[1] then
      lastId = top[1][1]
    elseif redis.call('EXISTS', ek) == 1 then
      local info = redis.call('XINFO', 'STREAM', ek)
      for i = 1, #info, 2 do if info[i] == 'last-generated-id' then lastId = info[i + 1] end end
    end
    if lastId then
      local dash = string.find(lastId, '-', 1, true)
      __lastMs = tonumber(string.sub(lastId, 1, dash - 1))
      __lastSeq = tonumber(string.sub(lastId, dash + 1))
    end
  end
  -- one TIME a script: the ids of one script's events differ by their sequence number
  if __nowMs == nil then
    local t = redis.call('TIME')
    __nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  local ms = __nowMs
  if ms > __lastMs then
    __lastMs, __lastSeq = ms, 0
  else
    __lastSeq = __lastSeq + 1
  end
  return string.format('%d-%d', __lastMs, __lastSeq)
end

local function mergedAlert(e, h, n)
  return string.sub(e, 1, -2) .. ',' .. string.sub(h, 2, -2) .. ',"notes":' .. n .. '}'
end

local function writeEvent(ek, maxlen, etype, nowIso, alertJson)
  local id = nextEventId(ek)
  local json = '{"id":"' .. id .. '","type":"' .. etype .. '","createdAt":"' .. nowIso .. '","alert":' .. alertJson .. '}'
  redis.call('XADD', ek, 'MAXLEN', '~', maxlen, id, 'event', json)
  redis.call('PUBLISH', ek, json)
  return json
end
`;

export const INITIAL_HUMAN =
  '{"status":"open","acknowledgedBy":null,"acknowledgedAt":null,"resolvedBy":null,"resolvedAt":null,"outcome":null}';

/**
 * commitBatch. ARGV: prefix, eventsKey, nowIso, eventsMaxLen, maxPerTag, nStates, nChanges,
 * nPositions, payload, wantAlerts ('0': no final states in the reply). Retention is not the
 * commit's: RedisStore.prunePositions trims it. The payload is every item field, in this
 * order, as one MessagePack array of strings (ArgWriter's packed form), which cmsgpack.unpack
 * turns into the table F in one C call. Separate arguments cost ioredis more to encode than one
 * payload costs to split here (with Kafka-sized batches the one payload drained ~15% faster), and
 * splitting a \x1f-joined payload with string.find/string.sub cost Redis ~0.46 µs a ping more
 * than cmsgpack (replay of 352 batches captured from a bench:kafka drain).
 *   states:    tagId, stateJson ('' = keep), dueAt ('' = none), expectRev ('' = unconditional)   (4 each)
 *   changes:   kind, id, engineJson, type, subjectId, openedAtMs, pingCount, active(1|0), confidence, tagId   (10 each)
 *   positions: tagId, tsMs, fresh ('1' = newer than anything stored: no duplicate check), positionJson  (4 each)
 * Tag state values are "<rev>|<json>" ("<rev>|" once dropped: see dropState). A state whose
 * expectRev differs from the stored revision is a conflict: everything of that tag (state, due,
 * changes, positions) is left out.
 * Returns {events, finals, conflicts}: the JSON of every event written, in order, the final JSON of
 * each alert that got an event (first-seen order), and the conflicting tag ids.
 */
export const COMMIT_LUA =
  EVENT_ID +
  `
local P, ek, nowIso = ARGV[1], ARGV[2], ARGV[3]
local maxlen, maxPerTag = ARGV[4], tonumber(ARGV[5])
local nS, nC, nP = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local F = cmsgpack.unpack(ARGV[9])
local i = 1
local stateKey, dueKey = P .. 'state', P .. 'due'
local conflict, conflicts = {}, {}
local revs = {}
-- one HMGET (in chunks: unpack is bounded by the Lua stack) for the revisions of every written state
local CH = 500
local stTags = {}
for j = 0, nS - 1 do
  local b = i + j * 4
  if F[b + 1] ~= '' then stTags[#stTags + 1] = F[b] end
end
for a = 1, #stTags, CH do
  local cur = redis.call('HMGET', stateKey, unpack(stTags, a, math.min(a + CH - 1, #stTags)))
  for k = 1, #cur do
    local v, rev = cur[k], 0
    if v then rev = tonumber(string.match(v, '^(%d+)|')) or 0 end
    revs[stTags[a + k - 1]] = rev
  end
end
for j = 0, nS - 1 do
  local b = i + j * 4
  local tag, st, expect = F[b], F[b + 1], F[b + 3]
  if st ~= '' and expect ~= '' and tonumber(expect) ~= revs[tag] and not conflict[tag] then
    conflict[tag] = true
    conflicts[#conflicts + 1] = tag
  end
end
-- writes: one multi-field HSET, one ZADD and one ZREM (chunked); for a tag listed twice the last wins
local hs, dueOf, dueOrder = {}, {}, {}
for _ = 1, nS do
  local tag, st, due = F[i], F[i + 1], F[i + 2]
  i = i + 4
  if not conflict[tag] then
    if st ~= '' then
      revs[tag] = revs[tag] + 1
      hs[#hs + 1] = tag
      hs[#hs + 1] = revs[tag] .. '|' .. st
    end
    if dueOf[tag] == nil then dueOrder[#dueOrder + 1] = tag end
    dueOf[tag] = due
  end
end
for a = 1, #hs, 2 * CH do
  redis.call('HSET', stateKey, unpack(hs, a, math.min(a + 2 * CH - 1, #hs)))
end
local za, zr = {}, {}
for _, tag in ipairs(dueOrder) do
  local due = dueOf[tag]
  if due == '' then zr[#zr + 1] = tag else za[#za + 1] = due; za[#za + 1] = tag end
end
for a = 1, #za, 2 * CH do
  redis.call('ZADD', dueKey, unpack(za, a, math.min(a + 2 * CH - 1, #za)))
end
for a = 1, #zr, CH do
  redis.call('ZREM', dueKey, unpack(zr, a, math.min(a + CH - 1, #zr)))
end
local out = {}
-- every alert with an event, in order, and what this script knows of it: written ('e', 'pc', 'act',
-- 'conf') or read ('h', 'n'), so a second change to one alert in a batch (a catch-up episode opened
-- and ended by one ping) and the finals read nothing back
local evented, known = {}, {}
-- the index entries of opened alerts, one ZADD a sorted set after the loop
local idx, idxKeys = {}, {}
local function index(key, om, id)
  local l = idx[key]
  if not l then l = {}; idx[key] = l; idxKeys[#idxKeys + 1] = key end
  l[#l + 1] = om
  l[#l + 1] = id
end
local INITIAL_HUMAN = '${INITIAL_HUMAN}'
for _ = 1, nC do
  local kind, id, e, typ, subj, om, pc, act, conf, ctag =
    F[i], F[i + 1], F[i + 2], F[i + 3], F[i + 4], F[i + 5], tonumber(F[i + 6]), F[i + 7], F[i + 8], F[i + 9]
  i = i + 10
  local k = P .. 'alert:' .. id
  local s = known[id]
  if conflict[ctag] then
    kind, s = 'skip', {false}
  elseif not s then
    local r = redis.call('HMGET', k, 'pc', 'act', 'conf', 'h', 'n')
    if r[1] then s = {pc = tonumber(r[1]), act = r[2], conf = r[3], h = r[4], n = r[5]} else s = {false} end
  end
  local etype = nil
  local apply = false
  if s[1] == false then
    if kind == 'opened' then
      redis.call('HSET', k, 'e', e, 'h', INITIAL_HUMAN, 'n', '[]', 'pc', pc, 'act', act, 'conf', conf,
        'st', 'open', 'om', om, 'type', typ, 'subj', subj, 'ab', 'null', 'aa', 'null')
      index(P .. 'alerts', om, id)
      index(P .. 'alerts:st:open', om, id)
      index(P .. 'alerts:type:' .. typ, om, id)
      index(P .. 'alerts:subj:' .. subj, om, id)
      s = {e = e, pc = pc, act = act, conf = conf, h = INITIAL_HUMAN, n = '[]'}
      known[id] = s
      table.insert(out, writeEvent(ek, maxlen, 'alert.opened', nowIso, mergedAlert(e, INITIAL_HUMAN, '[]')))
      if not s.evented then s.evented = true; evented[#evented + 1] = id end
    end
  elseif kind ~= 'opened' and kind ~= 'skip' and pc >= s.pc and not (s.act == '0' and act == '1') then
    if kind == 'ended' then
      if s.act == '1' then apply = true; etype = 'alert.ended' end
    elseif kind == 'updated' then
      apply = true
      if conf == 'confirmed' and s.conf ~= 'confirmed' then etype = 'alert.updated' end
    else
      apply = true
    end
    if apply then
      if s.conf == 'confirmed' then conf = 'confirmed' end
      redis.call('HSET', k, 'e', e, 'pc', pc, 'act', act, 'conf', conf)
      s.e, s.pc, s.act, s.conf = e, pc, act, conf
      known[id] = s
      if etype then
        table.insert(out, writeEvent(ek, maxlen, etype, nowIso, mergedAlert(e, s.h, s.n)))
        if not s.evented then s.evented = true; evented[#evented + 1] = id end
      end
    end
  end
end
for _, key in ipairs(idxKeys) do
  local l = idx[key]
  for a = 1, #l, 2 * CH do
    redis.call('ZADD', key, unpack(l, a, math.min(a + 2 * CH - 1, #l)))
  end
end
-- positions: skip a ts already stored (or already added in this batch; a fresh one cannot be
-- stored yet), then per tag one ZADD and the cap. Retention is trimmed by the janitor
-- (RedisStore.prunePositions) and hidden on read: every call here costs per ping.
local tags, adds, seen = {}, {}, {}
for _ = 1, nP do
  local tag, ts, fresh, json = F[i], F[i + 1], F[i + 2], F[i + 3]
  i = i + 4
  if not conflict[tag] then
    local list = adds[tag]
    if not list then list = {}; adds[tag] = list; tags[#tags + 1] = tag end
    local seenKey = tag .. '\\31' .. ts
    if not seen[seenKey] then
      seen[seenKey] = true
      if fresh == '1' or redis.call('ZCOUNT', P .. 'pos:' .. tag, ts, ts) == 0 then list[#list + 1] = ts; list[#list + 1] = json end
    end
  end
end
for _, tag in ipairs(tags) do
  local pk, list = P .. 'pos:' .. tag, adds[tag]
  if #list > 0 then
    for a = 1, #list, 2 * CH do
      redis.call('ZADD', pk, unpack(list, a, math.min(a + 2 * CH - 1, #list)))
    end
    redis.call('ZREMRANGEBYRANK', pk, 0, -(maxPerTag + 1))
  end
end
local finals = {}
if ARGV[10] == '0' then evented = {} end
for _, id in ipairs(evented) do
  local f = known[id]
  finals[#finals + 1] = mergedAlert(f.e, f.h, f.n)
end
return {out, finals, conflicts}
`;

/**
 * ingestProgress. ARGV: the progress hash (consumer → "through|expiresAt"), now (ms).
 * Drops the expired reports (a consumer that died) and returns the least `through` of the others
 * as a string, false when none is left.
 */
export const INGEST_PROGRESS_LUA = `
local key, now = ARGV[1], tonumber(ARGV[2])
local all = redis.call('HGETALL', key)
-- the least as its stored digits: Lua 5.1's tostring prints numbers of 15 digits and more in %.14g
local least, leastText = nil, false
for j = 1, #all, 2 do
  local text, untilMs = string.match(all[j + 1], '^(%d+)|(%d+)$')
  if text == nil or tonumber(untilMs) <= now then
    redis.call('HDEL', key, all[j])
  else
    local through = tonumber(text)
    if least == nil or through < least then least, leastText = through, text end
  end
end
return leastText
`;

/**
 * acknowledge/resolve. ARGV: prefix, eventsKey, eventsMaxLen, id, to ('acknowledged'|'resolved'),
 * nowIso, byJson, outcomeJson ('null' for acknowledge), noteJson ('' = none).
 * Returns {'ok', eventJson} | {'not_found'} | {'invalid', fromStatus}.
 */
export const TRANSITION_LUA =
  EVENT_ID +
  `
local P, ek, maxlen, id, to, nowIso, byJson, outcomeJson, noteJson =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local k = P .. 'alert:' .. id
local s = redis.call('HMGET', k, 'st', 'e', 'n', 'ab', 'aa', 'om')
if not s[2] then return {'not_found'} end
local from = s[1]
local ok = (to == 'acknowledged' and from == 'open') or (to == 'resolved' and (from == 'open' or from == 'acknowledged'))
if not ok then return {'invalid', from} end
local nowJson = '"' .. nowIso .. '"'
local ab, aa, rb, ra = s[4], s[5], 'null', 'null'
local etype
if to == 'acknowledged' then
  ab, aa = byJson, nowJson
  etype = 'alert.acknowledged'
else
  rb, ra = byJson, nowJson
  etype = 'alert.resolved'
end
local h = '{"status":"' .. to .. '","acknowledgedBy":' .. ab .. ',"acknowledgedAt":' .. aa ..
  ',"resolvedBy":' .. rb .. ',"resolvedAt":' .. ra .. ',"outcome":' .. outcomeJson .. '}'
local n = s[3]
if noteJson ~= '' then
  if n == '[]' then n = '[' .. noteJson .. ']' else n = string.sub(n, 1, -2) .. ',' .. noteJson .. ']' end
end
redis.call('HSET', k, 'st', to, 'h', h, 'n', n, 'ab', ab, 'aa', aa)
redis.call('ZREM', P .. 'alerts:st:' .. from, id)
redis.call('ZADD', P .. 'alerts:st:' .. to, s[6], id)
return {'ok', writeEvent(ek, maxlen, etype, nowIso, mergedAlert(s[2], h, n))}
`;

/** Lua helper for the subject scripts. */
const DROP_STATE = `
-- a tag's state is dropped as "<rev+1>|": its revision keeps rising, so a writer holding an older
-- state of the tag (a consumer's cache) can never match it again (no ABA through a reassignment)
local function dropState(key, tag)
  local v = redis.call('HGET', key, tag)
  if v then redis.call('HSET', key, tag, tostring((tonumber(string.match(v, '^(%d+)|')) or 0) + 1) .. '|') end
end
`;

/**
 * putSubject. ARGV: prefix, id, idJson, tagId, tagIdJson, tzJson, tailJson (object with tagId,name,
 * orderRef,timezone,updatedAt), nowIso, nowMs, configChannel, origin.
 * Returns {'conflict', ownerId} | {'ok', created(1|0), subjectJson, previousTagId or ''}.
 */
export const PUT_SUBJECT_LUA =
  DROP_STATE +
  `
local P, id, idJson, tag, tagJson, tzJson, tail, nowIso, nowMs, chan, origin =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local owner = redis.call('HGET', P .. 'tagowner', tag)
if owner and owner ~= id then return {'conflict', owner} end
local k = P .. 'subject:' .. id
local prev = redis.call('HMGET', k, 'createdAt', 'assignedAt', 'assignedMs', 'tagId')
local created = prev[1] == false
local createdAt = prev[1] or nowIso
local tagChanged = prev[4] ~= tag
local assignedAt, assignedMs = prev[2], prev[3]
if tagChanged then assignedAt, assignedMs = nowIso, nowMs end
local prevTag = ''
if prev[4] and tagChanged then
  prevTag = prev[4]
  redis.call('HDEL', P .. 'tagowner', prevTag)
  redis.call('HDEL', P .. 'tagctx', prevTag)
  dropState(P .. 'state', prevTag)
  redis.call('ZREM', P .. 'due', prevTag)
end
if tagChanged then
  dropState(P .. 'state', tag)
  redis.call('ZADD', P .. 'due', nowMs, tag)
end
local json = '{"id":' .. idJson .. ',' .. string.sub(tail, 2, -2) .. ',"createdAt":"' .. createdAt ..
  '","assignedAt":"' .. assignedAt .. '"}'
redis.call('HSET', k, 'json', json, 'createdAt', createdAt, 'assignedAt', assignedAt, 'assignedMs', assignedMs, 'tagId', tag)
redis.call('HSET', P .. 'tagowner', tag, id)
redis.call('HSET', P .. 'tagctx', tag,
  '{"tagId":' .. tagJson .. ',"subjectId":' .. idJson .. ',"timezone":' .. tzJson .. ',"assignedAt":' .. assignedMs .. '}')
redis.call('ZADD', P .. 'subjects', 0, id)
local prevTagJson = 'null'
if prevTag ~= '' then prevTagJson = cjson.encode(prevTag) end
redis.call('PUBLISH', chan, '{"origin":"' .. origin .. '","change":{"kind":"subject","id":' .. idJson ..
  ',"tagId":' .. tagJson .. ',"previousTagId":' .. prevTagJson .. '}}')
local c = 0
if created then c = 1 end
return {'ok', c, json, prevTag}
`;

/** deleteSubject. ARGV: prefix, id, idJson, configChannel, origin. Returns the freed tagId or false. */
export const DELETE_SUBJECT_LUA =
  DROP_STATE +
  `
local P, id, idJson, chan, origin = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = P .. 'subject:' .. id
local tag = redis.call('HGET', k, 'tagId')
if not tag then return false end
redis.call('DEL', k)
redis.call('ZREM', P .. 'subjects', id)
redis.call('HDEL', P .. 'tagowner', tag)
redis.call('HDEL', P .. 'tagctx', tag)
dropState(P .. 'state', tag)
redis.call('ZREM', P .. 'due', tag)
redis.call('PUBLISH', chan, '{"origin":"' .. origin .. '","change":{"kind":"subject","id":' .. idJson ..
  ',"tagId":null,"previousTagId":' .. cjson.encode(tag) .. '}}')
return tag
`;

/**
 * putZone / deleteZone. ARGV: prefix, id, idJson, action ('put'|'delete'), tailJson (zone fields after
 * id/version/createdAt; '' for delete), subjectIds joined by "\\n", nowIso, byJson, configChannel, origin.
 * Returns {'ok', created(1|0), version, zoneJson} | {'absent'} (delete of a zone that is not live).
 */
export const ZONE_LUA = `
local P, id, idJson, action, tail, sidsJoined, nowIso, byJson, chan, origin =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local k = P .. 'zone:' .. id
local z = redis.call('HMGET', k, 'v', 'live', 'createdAt', 'sids')
local live = z[2]
if action == 'delete' and not live then return {'absent'} end
local version = (tonumber(z[1]) or 0) + 1
if z[4] and z[4] ~= '' then
  for sid in string.gmatch(z[4], '[^\\n]+') do redis.call('ZREM', P .. 'zones:subj:' .. sid, id) end
end
local rec, json, created
if action == 'delete' then
  created = 0
  json = live
  rec = '{"version":' .. version .. ',"action":"deleted","at":"' .. nowIso .. '","by":' .. byJson .. ',"zone":' .. live .. '}'
  redis.call('HDEL', k, 'live', 'sids')
  redis.call('HSET', k, 'v', version)
  redis.call('ZREM', P .. 'zones', id)
else
  local createdAt = z[3]
  created = 0
  if not live then created = 1; createdAt = nowIso end
  json = '{"id":' .. idJson .. ',"version":' .. version .. ',"createdAt":"' .. createdAt .. '",' .. string.sub(tail, 2)
  local act = 'replaced'
  if created == 1 then act = 'created' end
  rec = '{"version":' .. version .. ',"action":"' .. act .. '","at":"' .. nowIso .. '","by":' .. byJson .. ',"zone":' .. json .. '}'
  redis.call('HSET', k, 'v', version, 'live', json, 'createdAt', createdAt, 'sids', sidsJoined)
  redis.call('ZADD', P .. 'zones', 0, id)
  if sidsJoined ~= '' then
    for sid in string.gmatch(sidsJoined, '[^\\n]+') do redis.call('ZADD', P .. 'zones:subj:' .. sid, 0, id) end
  end
end
redis.call('RPUSH', P .. 'zonehist:' .. id, rec)
redis.call('SADD', P .. 'zoneids', id)
local del = 'false'
if action == 'delete' then del = 'true' end
redis.call('PUBLISH', chan, '{"origin":"' .. origin .. '","change":{"kind":"zone","id":' .. idJson ..
  ',"version":' .. version .. ',"deleted":' .. del .. '}}')
return {'ok', created, version, json}
`;
