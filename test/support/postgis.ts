/**
 * Reaching a PostGIS for the oracle test, the fixture generator and the PostGIS benchmark.
 *
 * Uses DATABASE_URL when set, else the local PostgreSQL (trust auth, user postgres). When the
 * server is down it tries `pg_ctlcluster <version> main start` once and polls until it answers.
 * Work happens in a scratch database with `CREATE EXTENSION IF NOT EXISTS postgis`.
 * Never throws for "not available": returns { ok: false, reason } so callers can skip.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const SCRATCH_DB = 'cordon_geo_scratch';

export interface Postgis {
  client: pg.Client;
  /** URL of the scratch database */
  url: string;
  /** e.g. "3.3.2 ..." */
  version: string;
  close(): Promise<void>;
}

export type PostgisResult = { ok: true; postgis: Postgis } | { ok: false; reason: string };

async function tryConnect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

async function startLocalCluster(): Promise<string | null> {
  try {
    const { stdout } = await run('pg_lsclusters', ['--no-header']);
    const line = stdout.split('\n').find((l) => l.trim().length > 0);
    const [version, name] = (line ?? '').trim().split(/\s+/);
    if (!version || !name) return 'no PostgreSQL cluster found by pg_lsclusters';
    await run('pg_ctlcluster', [version, name, 'start']);
    return null;
  } catch (err) {
    return `could not start PostgreSQL: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Connect to the server (starting the local cluster if needed), then to the scratch database with PostGIS. */
export async function connectPostgis(opts: { database?: string; startTimeoutMs?: number } = {}): Promise<PostgisResult> {
  const baseUrl = process.env.DATABASE_URL ?? DEFAULT_PG_URL;
  const database = opts.database ?? SCRATCH_DB;
  let admin: pg.Client | null = null;
  try {
    admin = await tryConnect(baseUrl);
  } catch (first) {
    if (process.env.DATABASE_URL) return { ok: false, reason: `DATABASE_URL not reachable: ${(first as Error).message}` };
    const startProblem = await startLocalCluster();
    if (startProblem) return { ok: false, reason: `PostgreSQL not reachable (${(first as Error).message}); ${startProblem}` };
    const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
    while (!admin && Date.now() < deadline) {
      try {
        admin = await tryConnect(baseUrl);
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (!admin) return { ok: false, reason: 'PostgreSQL started but did not accept connections in time' };
  }
  let url = baseUrl;
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${database}`);
    const u = new URL(baseUrl);
    u.pathname = `/${database}`;
    url = u.toString();
  } catch {
    // no right to create databases: work in the given one
  } finally {
    await admin.end().catch(() => undefined);
  }
  let client: pg.Client;
  try {
    client = await tryConnect(url);
  } catch (err) {
    return { ok: false, reason: `cannot connect to ${database}: ${(err as Error).message}` };
  }
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS postgis');
    const v = await client.query<{ v: string }>('SELECT postgis_full_version() AS v');
    const version = v.rows[0]?.v ?? 'unknown';
    let closed = false;
    return {
      ok: true,
      postgis: {
        client,
        url,
        version,
        close: async () => {
          if (closed) return;
          closed = true;
          await client.end();
        },
      },
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    return { ok: false, reason: `PostGIS extension not available (install postgresql-15-postgis-3): ${(err as Error).message}` };
  }
}
