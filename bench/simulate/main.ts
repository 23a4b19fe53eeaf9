/**
 * `npm run simulate` — drives a running Cordon with simulated GPS tags.
 *
 * Sets up subjects and zones through the API, sends the tags' uploads over HTTP (default)
 * or Kafka at a target rate, then reads the alerts back and compares them with what the
 * simulator's ground truth expects.
 *
 *   npm run simulate -- --url http://127.0.0.1:8080 --key <admin key> --subjects 200 --hours 24
 *   npm run simulate -- --transport kafka --brokers 127.0.0.1:9092 --url ... --key ...
 *   npm run simulate -- --mode live --subjects 12000 --minutes 30     (fixes in real time)
 *
 * Modes: `replay` (default) simulates the next --hours from the end of the set-up and sends
 * them as fast as --rate allows (events carry their own time: late and out-of-order uploads
 * are judged at their fix time); `live` sends each upload when its arrival time comes.
 * Fixes never predate the set-up: a zone applies from the moment it is written.
 * Output: progress on stderr, a table on stdout, --json prints a JSON object last.
 * Exit code 1 with --strict when expected and raised alerts differ.
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { compareAlerts, Simulation, type Upload, type WirePing } from './model.ts';
import { emitJson, fmtNum, formatTable, progress } from '../lib/table.ts';

interface RaisedAlert {
  id: string;
  type: string;
  subjectId: string;
  zoneId: string | null;
  late?: boolean;
}

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.CORDON_URL ?? 'http://127.0.0.1:8080' },
    key: { type: 'string', default: process.env.CORDON_API_KEY ?? '' },
    transport: { type: 'string', default: 'http' },
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '' },
    topic: { type: 'string', default: process.env.KAFKA_TOPIC ?? 'em.pings' },
    mode: { type: 'string', default: 'replay' },
    subjects: { type: 'string', default: '200' },
    hours: { type: 'string', default: '24' },
    minutes: { type: 'string' },
    rate: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    prefix: { type: 'string' },
    wait: { type: 'string', default: '60' },
    'max-seconds': { type: 'string', default: '1800' },
    quick: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(
    [
      'npm run simulate -- [options]',
      '  --url URL            Cordon base URL (CORDON_URL, default http://127.0.0.1:8080)',
      '  --key KEY            API key with the admin role (CORDON_API_KEY)',
      '  --transport http|kafka  how pings are sent (setup and read-back always use HTTP)',
      '  --brokers LIST       Kafka brokers (KAFKA_BROKERS), --topic (em.pings)',
      '  --mode replay|live   replay the last --hours fast, or run --minutes in real time',
      '  --subjects N (200)   --hours H (24)   --minutes M (overrides --hours)',
      '  --rate R (5000)      target pings/s in replay mode (0 = as fast as possible)',
      '  --batch B (500)      pings per HTTP request / Kafka send',
      '  --concurrency C (4)  requests in flight',
      '  --seed S (1)         --prefix P (ids prefix; default sim<seed>-<time>-)',
      '  --wait S (60)        seconds to wait for alerts to settle after sending',
      '  --quick              50 subjects, 6 hours',
      '  --strict             exit 1 when expected and raised alerts differ',
      '  --json               print a JSON summary as the last line',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

function num(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`--${name} must be a number >= ${min}, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}

const mode = args.mode === 'live' ? 'live' : args.mode === 'replay' ? 'replay' : null;
if (!mode) {
  process.stderr.write(`--mode must be replay or live, got ${args.mode}\n`);
  process.exit(2);
}
const transport = args.transport === 'kafka' ? 'kafka' : args.transport === 'http' ? 'http' : null;
if (!transport) {
  process.stderr.write(`--transport must be http or kafka, got ${args.transport}\n`);
  process.exit(2);
}
const subjects = args.quick ? 50 : Math.floor(num('subjects', args.subjects, 1));
const durationMin = args.minutes !== undefined ? num('minutes', args.minutes, 1) : (args.quick ? 6 : num('hours', args.hours, 0.1)) * 60;
const rate = num('rate', args.rate, 0);
const batchSize = Math.min(10_000, Math.floor(num('batch', args.batch, 1)));
const concurrency = Math.floor(num('concurrency', args.concurrency, 1));
const seed = Math.floor(num('seed', args.seed, 0));
const waitS = num('wait', args.wait, 0);
const maxSeconds = num('max-seconds', args['max-seconds'], 1);
const base = (args.url ?? '').replace(/\/$/, '');
const prefix = args.prefix ?? `sim${seed}-${Date.now().toString(36)}-`;
const headers: Record<string, string> = { 'content-type': 'application/json' };
if (args.key) headers.authorization = `Bearer ${args.key}`;

async function api(method: string, path: string, body?: unknown, attempts = 5): Promise<{ status: number; json: unknown }> {
  for (let i = 1; ; i++) {
    try {
      const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      const json: unknown = text ? JSON.parse(text) : null;
      if ((res.status === 429 || res.status >= 500) && i < attempts) {
        const after = Number(res.headers.get('retry-after') ?? '0');
        await new Promise((r) => setTimeout(r, after > 0 ? after * 1000 : 100 * 2 ** i));
        continue;
      }
      return { status: res.status, json };
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** i));
    }
  }
}

/** Runs `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const deadline = t0 + maxSeconds * 1000;
  // Subjects and zones depend only on the seed, not on the start time: set them up first,
  // then simulate from after the set-up (a zone applies from the moment it is written, so
  // fixes must not predate it).
  const setupSim = new Simulation({ seed, subjects, startMs: Date.now(), durationMin: 1, idPrefix: prefix });
  progress(`simulate: ${subjects} subjects, ${fmtNum(durationMin)} min of fixes (${mode}), ${transport} to ${transport === 'kafka' ? args.brokers : base}, ids ${prefix}*`);

  // ---- set-up through the API
  const health = await api('GET', '/healthz', undefined, 3).catch((e: Error) => ({ status: 0, json: e.message }));
  if (health.status !== 200) throw new Error(`Cordon not reachable at ${base}/healthz (${health.status} ${JSON.stringify(health.json)})`);
  let setupErrors = 0;
  const firstErrors: string[] = [];
  const note = (what: string, r: { status: number; json: unknown }) => {
    setupErrors++;
    if (firstErrors.length < 3) firstErrors.push(`${what}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  };
  await pool(setupSim.subjects, 16, async (s) => {
    const r = await api('PUT', `/v1/subjects/${encodeURIComponent(s.id)}`, { tagId: s.tagId, name: s.name, orderRef: `SIM/${s.town}`, timezone: s.timezone });
    if (r.status !== 200 && r.status !== 201) note(`subject ${s.id}`, r);
  });
  await pool(setupSim.zones, 16, async (z) => {
    const r = await api('PUT', `/v1/zones/${encodeURIComponent(z.id)}`, z.body);
    if (r.status !== 200 && r.status !== 201) note(`zone ${z.id}`, r);
  });
  progress(`set up ${setupSim.subjects.length} subjects and ${setupSim.zones.length} zones in ${((Date.now() - t0) / 1000).toFixed(1)} s${setupErrors ? `, ${setupErrors} errors: ${firstErrors.join(' | ')}` : ''}`);
  if (setupErrors > 0 && setupErrors === setupSim.subjects.length + setupSim.zones.length) throw new Error('every set-up request failed');
  // replay: the next --hours from the next minute, sent as fast as --rate allows; live: in real time
  const startMs = Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
  const sim = new Simulation({ seed, subjects, startMs, durationMin, idPrefix: prefix });

  // ---- send
  let producer: Producer | null = null;
  if (transport === 'kafka') {
    if (!args.brokers) throw new Error('--transport kafka needs --brokers (or KAFKA_BROKERS)');
    const kafka = new Kafka({ clientId: 'cordon-simulator', brokers: args.brokers.split(','), logLevel: logLevel.WARN });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  }
  let sent = 0;
  let requests = 0;
  let dispatched = 0;
  let rejected = 0;
  let failed = 0;
  const sendErrors: string[] = [];
  const inflight = new Set<Promise<void>>();
  const sendStart = Date.now();
  let lastProgress = sendStart;
  let simNow = startMs;

  const send = async (pings: WirePing[]): Promise<void> => {
    requests++;
    try {
      if (producer) {
        await producer.send({ topic: args.topic ?? 'em.pings', messages: pings.map((p) => ({ key: p.tagId, value: JSON.stringify(p) })) });
      } else {
        const r = await api('POST', '/v1/pings', pings);
        if (r.status === 400) {
          rejected += pings.length;
          if (sendErrors.length < 3) sendErrors.push(JSON.stringify(r.json).slice(0, 300));
          return;
        }
        if (r.status !== 200 && r.status !== 202) {
          failed += pings.length;
          if (sendErrors.length < 3) sendErrors.push(`${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
          return;
        }
      }
      sent += pings.length;
    } catch (err) {
      failed += pings.length;
      if (sendErrors.length < 3) sendErrors.push((err as Error).message);
    }
  };
  const dispatch = async (pings: WirePing[]) => {
    while (inflight.size >= concurrency) await Promise.race(inflight);
    // pace: the n-th ping may leave at sendStart + n / rate
    if (mode === 'replay' && rate > 0) {
      const due = sendStart + (dispatched / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    dispatched += pings.length;
    const p = send(pings).finally(() => inflight.delete(p));
    inflight.add(p);
    const now = Date.now();
    if (now - lastProgress >= 2000) {
      lastProgress = now;
      const s = (now - sendStart) / 1000;
      progress(`sent ${fmtNum(sent)} pings in ${fmtNum(requests)} requests, ${fmtNum(sent / s)} pings/s, sim time ${new Date(simNow).toISOString().slice(0, 16)}Z${rejected + failed ? `, ${rejected} rejected, ${failed} failed` : ''}`);
    }
  };

  let batch: WirePing[] = [];
  let stoppedEarly = false;
  for (const u of sim.uploads() as Generator<Upload>) {
    simNow = u.arrivalMs;
    if (mode === 'live') {
      const wait = u.arrivalMs - Date.now();
      if (wait > 0) {
        if (batch.length) await dispatch(batch.splice(0));
        await new Promise((r) => setTimeout(r, Math.min(wait, deadline - Date.now())));
      }
    }
    for (const p of u.pings) {
      batch.push(p);
      if (batch.length >= batchSize) await dispatch(batch.splice(0));
    }
    if (Date.now() > deadline) {
      stoppedEarly = true;
      progress(`stopping: --max-seconds ${maxSeconds} reached`);
      break;
    }
  }
  if (batch.length) await dispatch(batch.splice(0));
  await Promise.all(inflight);
  const sendSeconds = (Date.now() - sendStart) / 1000;
  if (producer) await producer.disconnect();
  progress(`sent ${fmtNum(sent)} pings in ${sendSeconds.toFixed(1)} s (${fmtNum(sent / Math.max(sendSeconds, 0.001))} pings/s)${sendErrors.length ? `; errors: ${sendErrors.join(' | ')}` : ''}`);

  // ---- read alerts back until they settle
  const expected = sim.expected();
  const readAlerts = async (): Promise<RaisedAlert[]> => {
    const out: RaisedAlert[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5000; page++) {
      const q: string = `/v1/alerts?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await api('GET', q);
      if (r.status !== 200) throw new Error(`GET ${q}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
      const body = r.json as { items: RaisedAlert[]; nextCursor: string | null };
      for (const a of body.items) if (a.subjectId?.startsWith(prefix)) out.push(a);
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    return out;
  };
  let raised = await readAlerts();
  const settleDeadline = Date.now() + waitS * 1000;
  let stable = 0;
  while (Date.now() < settleDeadline && stable < 3) {
    await new Promise((r) => setTimeout(r, 1000));
    const again = await readAlerts();
    stable = again.length === raised.length ? stable + 1 : 0;
    raised = again;
  }
  const cmp = compareAlerts(expected, raised);

  // ---- summary
  const rows = Object.entries(cmp.byType).map(([type, r]) => [type, r.expected, r.raised, r.matched, r.missing, r.unexpected]);
  process.stdout.write(`\nCordon tag simulator — seed ${seed}, ${subjects} subjects, ${fmtNum(durationMin)} min, ${mode} over ${transport}\n\n`);
  process.stdout.write(
    formatTable(
      ['what', 'value'],
      [
        ['fixes sent', sent],
        ['uploads', sim.stats.uploads],
        ['uploads shuffled / half late', `${sim.stats.shuffledUploads} / ${sim.stats.lateUploads}`],
        ['fix sources', Object.entries(sim.stats.byFix).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['send rate (pings/s)', Math.round(sent / Math.max(sendSeconds, 0.001))],
        ['rejected / failed', `${rejected} / ${failed}`],
      ],
    ) + '\n\n',
  );
  process.stdout.write(formatTable(['alert type', 'expected', 'raised', 'matched', 'missing', 'unexpected'], rows) + '\n');
  process.stdout.write('(signal_lost, no_fix and window_started depend on wall-clock arrival and are shown, not judged)\n');
  for (const m of cmp.missing.slice(0, 10)) process.stdout.write(`missing:    ${m}\n`);
  for (const m of cmp.unexpected.slice(0, 10)) process.stdout.write(`unexpected: ${m}\n`);
  const ok = cmp.missing.length === 0 && cmp.unexpected.length === 0 && !stoppedEarly;
  process.stdout.write(ok ? 'every expected alert raised exactly once\n' : 'expected and raised alerts differ\n');
  emitJson(args.json, {
    seed,
    subjects,
    durationMin,
    mode,
    transport,
    pingsSent: sent,
    pingsPerSec: Math.round(sent / Math.max(sendSeconds, 0.001)),
    rejected,
    failed,
    expected: expected.length,
    raised: raised.length,
    byType: cmp.byType,
    ok,
  });
  if (args.strict && !ok) process.exitCode = 1;
}

main().catch((err: Error) => {
  process.stderr.write(`simulate failed: ${err.message}\n`);
  process.exit(1);
});
