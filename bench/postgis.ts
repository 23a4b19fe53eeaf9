/**
 * `npm run bench:postgis` — the peer comparison. What an engineer would otherwise build:
 * zones in PostGIS with a GiST index, one query per ping (ST_DWithin to find the zones
 * near the ping within its accuracy radius, plus the subject's inclusion zones; ST_Covers /
 * geodesic distance for inside; distance to the boundary for certain), and a batched variant
 * (arrays unnested, 1,000 pings per statement; on 1 and 2 connections). Cordon does the same
 * job in the same run: ZoneIndex candidates + judge per candidate, on one core.
 *
 * Both answer the same question per ping and zone: inside? certain? The run checks they
 * agree on a sample. `ratio` = Cordon pings/s over the best PostGIS variant.
 *
 *   npm run bench:postgis [-- --zones 10000 --tags 50000 --pings 200000 --seconds 8 --quick --json]
 *
 * PostGIS: DATABASE_URL, else the local PostgreSQL (started when down); the extension is
 * installed from Debian packages (postgresql-<v>-postgis-3) when missing.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { compileZone, judge, judgeInto, ZoneIndex, type CompiledZone, type Judgement } from '../geo/mod.ts';
import { connectPostgis, type Postgis } from '../test/support/postgis.ts';
import { cpuSecondsOf, emitJson, fmtNum, formatTable, machine, progress } from './lib/table.ts';
import { makePings, makeWorld } from './lib/engine-world.ts';
import type { ZoneDef } from '../geo/types.ts';

const { values: args } = parseArgs({
  options: {
    zones: { type: 'string', default: '10000' },
    tags: { type: 'string', default: '50000' },
    pings: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '6' },
    seed: { type: 'string', default: '42' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    explain: { type: 'boolean', default: false },
  },
});

const quick = args.quick;
const nZones = quick ? 2000 : Number(args.zones);
const nTags = quick ? 5000 : Number(args.tags);
const nPings = quick ? 20000 : Number(args.pings);
const seconds = quick ? 2 : Number(args.seconds);
const seed = Number(args.seed);
const BATCH = 1000;

/** One positioned ping of the engine benchmark's stream, with its subject. */
interface PeerPing {
  subjectId: string;
  lon: number;
  lat: number;
  accuracyM: number;
  ts: number;
}

interface Workload {
  zones: ZoneDef[];
  pings: PeerPing[];
}

/** The engine benchmark's world and ping stream (bench/lib/engine-world.ts), positioned pings only. */
function makeWorkload(o: { seed: number; zones: number; tags: number; pings: number }): Workload {
  const world = makeWorld({ seed: o.seed, zones: o.zones, tags: o.tags });
  const st = makePings(world, { seed: o.seed + 1, pings: o.pings, start: Date.parse('2026-06-01T10:00:00Z') });
  const pings: PeerPing[] = [];
  for (let i = 0; i < st.n; i++) {
    if ((st.flags[i]! & 1) !== 0) continue;
    pings.push({ subjectId: world.subjects[st.tag[i]!]!.id, lon: st.lon[i]!, lat: st.lat[i]!, accuracyM: st.acc[i]!, ts: st.ts[i]! });
  }
  return { zones: world.zones, pings };
}

interface Answer {
  inside: boolean;
  certain: boolean;
}

// ------------------------------------------------------------------ Cordon

function cordonRun(w: Workload, index: ZoneIndex, budgetMs: number): { pingsPerSec: number; pingsPerCpuSec: number; checked: number } {
  const out: CompiledZone[] = [];
  // the tracker's own hot path: judgeInto a reused result, no allocation per (ping, zone)
  const j: Judgement = { inside: false, distanceM: 0, certain: false };
  let n = 0;
  let checks = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  // whole passes over the pings until the time budget is used (at least one)
  do {
    for (let i = 0; i < w.pings.length; i++) {
      const p = w.pings[i]!;
      const c = index.candidates(p.subjectId, p.lon, p.lat, p.accuracyM, p.ts, out);
      for (let k = 0; k < c.length; k++) {
        if (judgeInto(c[k]!, p.lon, p.lat, p.accuracyM, j).inside) checks++;
      }
    }
    n += w.pings.length;
    t = performance.now();
  } while (t - t0 < budgetMs);
  const cpu = process.cpuUsage(cpu0);
  return { pingsPerSec: n / ((t - t0) / 1000), pingsPerCpuSec: n / ((cpu.user + cpu.system) / 1e6), checked: checks };
}

function cordonAnswers(w: Workload, index: ZoneIndex, upTo: number): Map<string, Answer> {
  const m = new Map<string, Answer>();
  const out: CompiledZone[] = [];
  for (let i = 0; i < upTo; i++) {
    const p = w.pings[i]!;
    for (const z of index.candidates(p.subjectId, p.lon, p.lat, p.accuracyM, p.ts, out)) {
      const j = judge(z, p.lon, p.lat, p.accuracyM);
      // the index may return zones whose box is near but the zone is not within the radius; keep the relevant ones
      if (j.inside || j.distanceM <= p.accuracyM || z.kind === 'inclusion') m.set(`${i}|${z.id}`, { inside: j.inside, certain: j.certain });
    }
  }
  return m;
}

// ------------------------------------------------------------------ PostGIS

async function ensurePostgis(): Promise<Postgis> {
  let r = await connectPostgis({ database: 'cordon_bench' });
  if (!r.ok && /extension not available/.test(r.reason) && !process.env.DATABASE_URL) {
    progress(`PostGIS missing (${r.reason}); installing from Debian packages`);
    const v = execFileSync('pg_lsclusters', ['--no-header']).toString().trim().split(/\s+/)[0] ?? '15';
    const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
    const cmd = [...sudo, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', `postgresql-${v}-postgis-3`];
    try {
      execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch {
      execFileSync(cmd[0]!, [...cmd.slice(1, sudo.length + 1), 'update', '-qq'], { stdio: 'inherit' });
      execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    }
    r = await connectPostgis({ database: 'cordon_bench' });
  }
  if (!r.ok) throw new Error(`PostGIS not available: ${r.reason}`);
  return r.postgis;
}

async function loadZones(db: pg.Client, w: Workload): Promise<void> {
  await db.query('DROP TABLE IF EXISTS bench_zones');
  await db.query(`CREATE TABLE bench_zones (
    id text PRIMARY KEY,
    kind text NOT NULL,
    subjects text[] NOT NULL,
    geom geometry(Polygon, 4326),      -- polygons (NULL for circles)
    center geography(Point, 4326),     -- circles (NULL for polygons)
    radius float8,
    geog geography NOT NULL,           -- what the GiST index sees (circle: a covering buffer)
    boundary geography                 -- polygon rings, for distance to the edge
  )`);
  const rows = w.zones;
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const ids: string[] = [];
    const kinds: string[] = [];
    const subjects: string[] = [];
    const geoms: (string | null)[] = [];
    const lons: (number | null)[] = [];
    const lats: (number | null)[] = [];
    const radii: (number | null)[] = [];
    for (const z of chunk) {
      ids.push(z.id);
      kinds.push(z.kind);
      subjects.push(`{${z.subjectIds.map((s) => `"${s}"`).join(',')}}`);
      const g = z.geometry;
      if (g.type === 'Circle') {
        geoms.push(null);
        lons.push(g.center[0]);
        lats.push(g.center[1]);
        radii.push(g.radiusM);
      } else {
        if (g.type !== 'Polygon') throw new Error('bench workload: only Polygon and Circle zones');
        geoms.push(JSON.stringify(g));
        lons.push(null);
        lats.push(null);
        radii.push(null);
      }
    }
    await db.query(
      `INSERT INTO bench_zones (id, kind, subjects, geom, center, radius, geog, boundary)
       SELECT id, kind, subj::text[],
              CASE WHEN gj IS NULL THEN NULL ELSE ST_SetSRID(ST_GeomFromGeoJSON(gj), 4326) END,
              CASE WHEN gj IS NULL THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography END,
              r,
              CASE WHEN gj IS NULL THEN ST_Buffer(ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, r * 1.02 + 1)
                   ELSE ST_SetSRID(ST_GeomFromGeoJSON(gj), 4326)::geography END,
              CASE WHEN gj IS NULL THEN NULL ELSE ST_Boundary(ST_SetSRID(ST_GeomFromGeoJSON(gj), 4326))::geography END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[]) AS t(id, kind, subj, gj, lon, lat, r)`,
      [ids, kinds, subjects, geoms, lons, lats, radii],
    );
  }
  await db.query('CREATE INDEX bench_zones_geog ON bench_zones USING gist (geog)');
  // inclusion zones are looked up by subject (they apply wherever the ping is)
  await db.query('DROP TABLE IF EXISTS bench_inclusion');
  await db.query(`CREATE TABLE bench_inclusion AS SELECT unnest(subjects) AS subject, id AS zone_id FROM bench_zones WHERE kind = 'inclusion'`);
  await db.query('CREATE INDEX bench_inclusion_subject ON bench_inclusion (subject)');
  await db.query('ANALYZE bench_zones');
  await db.query('ANALYZE bench_inclusion');
}

/** The per-zone answer for one point; shared by both variants. */
const JUDGE_SQL = `
  z.id,
  CASE WHEN z.radius IS NULL THEN ST_Covers(z.geom, p.pt) ELSE ST_DWithin(z.center, p.ptg, z.radius, true) END AS inside,
  CASE WHEN z.radius IS NULL THEN NOT ST_DWithin(z.boundary, p.ptg, p.acc, true)
       ELSE abs(ST_Distance(z.center, p.ptg, true) - z.radius) >= p.acc END AS certain`;
/**
 * The subject's exclusion zones within the accuracy radius (GiST on geog; the subject is a
 * recheck, so the planner cannot trade the spatial index for a subject scan that then
 * measures hundreds of shared zones), plus the subject's inclusion zones wherever they are.
 */
function judgeQuery(points: string, withIndex: boolean): string {
  const sel = `${withIndex ? 'p.i, ' : ''}${JUDGE_SQL}`;
  return `
  WITH p AS MATERIALIZED (${points})
  SELECT ${sel} FROM p JOIN bench_zones z
    ON z.kind = 'exclusion' AND ST_DWithin(z.geog, p.ptg, p.acc, true) AND z.subjects @> ARRAY[p.subject]
  UNION ALL
  SELECT ${sel} FROM p JOIN bench_inclusion n ON n.subject = p.subject JOIN bench_zones z ON z.id = n.zone_id`;
}

const PER_PING_SQL = judgeQuery(
  `SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS pt, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography AS ptg, $3::float8 AS acc, $4::text AS subject`,
  false,
);

const BATCH_SQL = judgeQuery(
  `SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS ptg, acc, subject
   FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::text[]) WITH ORDINALITY AS t(lon, lat, acc, subject, i)`,
  true,
);

interface Row {
  i?: string;
  id: string;
  inside: boolean;
  certain: boolean;
}

interface Rate {
  pingsPerSec: number;
  pings: number;
}

async function postgisPerPing(db: pg.Client, w: Workload, budgetMs: number, answers?: Map<string, Answer>, sample = 0): Promise<Rate> {
  const t0 = performance.now();
  let n = 0;
  const q = { name: 'cordon_bench_ping', text: PER_PING_SQL, values: [] as unknown[] };
  while (n < w.pings.length && (performance.now() - t0 < budgetMs || n < sample)) {
    const p = w.pings[n]!;
    q.values = [p.lon, p.lat, p.accuracyM, p.subjectId];
    const r = await db.query<Row>(q);
    if (answers && n < sample) for (const row of r.rows) answers.set(`${n}|${row.id}`, { inside: row.inside, certain: row.certain });
    n++;
  }
  return { pingsPerSec: n / ((performance.now() - t0) / 1000), pings: n };
}

async function postgisBatched(clients: pg.Client[], w: Workload, budgetMs: number): Promise<Rate> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const worker = async (db: pg.Client) => {
    const q = { name: 'cordon_bench_batch', text: BATCH_SQL, values: [] as unknown[] };
    while (performance.now() - t0 < budgetMs && next < w.pings.length) {
      const from = next;
      next += BATCH;
      const slice = w.pings.slice(from, from + BATCH);
      q.values = [slice.map((p) => p.lon), slice.map((p) => p.lat), slice.map((p) => p.accuracyM), slice.map((p) => p.subjectId)];
      await db.query<Row>(q);
      done += slice.length;
    }
  };
  await Promise.all(clients.map(worker));
  return { pingsPerSec: done / ((performance.now() - t0) / 1000), pings: done };
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  progress(`workload: ${nZones} zones, ${nTags} tags, ${nPings} pings (seed ${seed})`);
  const w = makeWorkload({ seed, zones: nZones, tags: nTags, pings: nPings });
  const index = new ZoneIndex();
  index.load(w.zones.map(compileZone));

  const pgis = await ensurePostgis();
  const db = pgis.client;
  const extra = new pg.Client({ connectionString: pgis.url });
  await extra.connect();
  try {
    progress(`PostGIS ${pgis.version.split(' ').slice(0, 2).join(' ')}: loading ${w.zones.length} zones`);
    const tl = performance.now();
    await loadZones(db, w);
    progress(`loaded in ${((performance.now() - tl) / 1000).toFixed(1)} s`);

    // agreement on a sample (also warms both sides)
    const SAMPLE = Math.min(2000, w.pings.length);
    const pgAnswers = new Map<string, Answer>();
    await postgisPerPing(db, w, 0, pgAnswers, SAMPLE);
    const ours = cordonAnswers(w, index, SAMPLE);
    // a zone one side did not return is "outside, certain" for it (both may list extra far zones)
    const FAR: Answer = { inside: false, certain: true };
    let same = 0;
    let differ = 0;
    const diffs: string[] = [];
    for (const k of new Set([...pgAnswers.keys(), ...ours.keys()])) {
      const a = pgAnswers.get(k) ?? FAR;
      const b = ours.get(k) ?? FAR;
      if (!a.inside && a.certain && !b.inside && b.certain) continue; // both: outside, certain
      if (b.inside === a.inside && b.certain === a.certain) same++;
      else {
        differ++;
        if (diffs.length < 5) diffs.push(`${k}: postgis ${JSON.stringify(a)} cordon ${JSON.stringify(b)}`);
      }
    }
    progress(`agreement on ${SAMPLE} pings: ${same} zone answers equal, ${differ} differ${diffs.length ? ` (${diffs.join('; ')})` : ''}`);

    if (args.explain) {
      const p = w.pings[0]!;
      const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${PER_PING_SQL}`, [p.lon, p.lat, p.accuracyM, p.subjectId]);
      progress(`plan of the per-ping query:\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}`);
    }

    progress(`Cordon: index + judge for ${seconds} s`);
    cordonRun(w, index, 300); // warm-up
    const cordon = cordonRun(w, index, seconds * 1000);
    progress(`Cordon ${fmtNum(cordon.pingsPerSec)} pings/s`);

    // PostgreSQL's own CPU time (its backend processes) per variant: the per-CPU-second figures
    // stay comparable when other work shares the cores (the pg client's CPU is not counted)
    const pids: number[] = [];
    for (const c of [db, extra]) pids.push(Number((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid));
    const backendCpu = (): number | null => {
      let sum = 0;
      for (const pid of pids) {
        const c = cpuSecondsOf(pid);
        if (c === null) return null;
        sum += c;
      }
      return sum;
    };
    const perCpu = async (run: () => Promise<Rate>): Promise<Rate & { pingsPerCpuSec: number | null }> => {
      const c0 = backendCpu();
      const r = await run();
      const c1 = backendCpu();
      return { ...r, pingsPerCpuSec: c0 !== null && c1 !== null && c1 > c0 ? r.pings / (c1 - c0) : null };
    };

    progress(`PostGIS: one query per ping for ${seconds} s`);
    const perPing = await perCpu(() => postgisPerPing(db, w, seconds * 1000));
    progress(`PostGIS per ping ${fmtNum(perPing.pingsPerSec)} pings/s`);
    progress(`PostGIS: batched ${BATCH}/statement, 1 connection, ${seconds} s`);
    await postgisBatched([db], w, 300);
    const batched1 = await perCpu(() => postgisBatched([db], w, seconds * 1000));
    progress(`PostGIS batched ${fmtNum(batched1.pingsPerSec)} pings/s`);
    progress(`PostGIS: batched ${BATCH}/statement, 2 connections, ${seconds} s`);
    const batched2 = await perCpu(() => postgisBatched([db, extra], w, seconds * 1000));
    progress(`PostGIS batched x2 ${fmtNum(batched2.pingsPerSec)} pings/s`);

    const variants = [perPing, batched1, batched2];
    const best = Math.max(...variants.map((v) => v.pingsPerSec));
    const ratio = cordon.pingsPerSec / best;
    const bestCpu = Math.max(...variants.map((v) => v.pingsPerCpuSec ?? 0));
    const ratioCpu = bestCpu > 0 ? cordon.pingsPerCpuSec / bestCpu : null;
    const m = await machine();
    process.stdout.write(`\nCordon vs PostGIS — ${w.zones.length} zones, ${nTags} tags, ${m.cpu} x${m.cores}\n\n`);
    process.stdout.write(
      formatTable(
        ['variant', 'pings/s', 'pings/CPU-s', 'Cordon × (wall)', 'Cordon × (CPU)'],
        [
          ['Cordon: ZoneIndex + judge (1 core)', cordon.pingsPerSec, cordon.pingsPerCpuSec, 1, 1],
          ['PostGIS: 1 query per ping (GiST)', perPing.pingsPerSec, perPing.pingsPerCpuSec ?? 'n/a', cordon.pingsPerSec / perPing.pingsPerSec, perPing.pingsPerCpuSec ? cordon.pingsPerCpuSec / perPing.pingsPerCpuSec : 'n/a'],
          [`PostGIS: ${BATCH} pings per statement (unnest)`, batched1.pingsPerSec, batched1.pingsPerCpuSec ?? 'n/a', cordon.pingsPerSec / batched1.pingsPerSec, batched1.pingsPerCpuSec ? cordon.pingsPerCpuSec / batched1.pingsPerCpuSec : 'n/a'],
          [`PostGIS: ${BATCH} per statement, 2 connections`, batched2.pingsPerSec, batched2.pingsPerCpuSec ?? 'n/a', cordon.pingsPerSec / batched2.pingsPerSec, batched2.pingsPerCpuSec ? cordon.pingsPerCpuSec / batched2.pingsPerCpuSec : 'n/a'],
        ],
      ) + '\n',
    );
    process.stdout.write(`\nratio (Cordon over the best PostGIS variant): ${ratio.toFixed(1)}× by wall clock${ratioCpu ? `, ${ratioCpu.toFixed(1)}× per CPU-second` : ''}  (target ≥ 25×)\n`);
    process.stdout.write(`answers (inside, certain) agree on ${same} of ${same + differ} (ping, zone) pairs that are inside or near an edge, in a ${SAMPLE}-ping sample\n`);
    emitJson(args.json, {
      zones: w.zones.length,
      tags: nTags,
      pings: w.pings.length,
      cordonPingsPerSec: Math.round(cordon.pingsPerSec),
      postgisPingsPerSec: Math.round(best),
      ratio: Math.round(ratio * 10) / 10,
      cordonPingsPerCpuSec: Math.round(cordon.pingsPerCpuSec),
      postgisPingsPerCpuSec: Math.round(bestCpu),
      ratioCpu: ratioCpu === null ? null : Math.round(ratioCpu * 10) / 10,
      variants: {
        perPing: { pingsPerSec: Math.round(perPing.pingsPerSec), pingsPerCpuSec: perPing.pingsPerCpuSec && Math.round(perPing.pingsPerCpuSec) },
        batched: { pingsPerSec: Math.round(batched1.pingsPerSec), pingsPerCpuSec: batched1.pingsPerCpuSec && Math.round(batched1.pingsPerCpuSec) },
        batched2Connections: { pingsPerSec: Math.round(batched2.pingsPerSec), pingsPerCpuSec: batched2.pingsPerCpuSec && Math.round(batched2.pingsPerCpuSec) },
      },
      agreement: { same, differ },
      postgis: pgis.version.split(' ').slice(0, 2).join(' '),
    });
  } finally {
    await db.query('DROP TABLE IF EXISTS bench_zones, bench_inclusion').catch(() => undefined);
    await extra.end().catch(() => undefined);
    await pgis.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:postgis failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
