/**
 * The monitoring console in a real browser (Debian chromium via playwright-core) against the
 * real app on the memory store, listening on a loopback port: sign-in and roles, an alert
 * appearing live over SSE, acknowledge/resolve, keyboard navigation, reconnect after a
 * dropped connection without duplicates, drawing a zone, and server validation errors shown on
 * the fields. Screenshots of the queue and the maps go to test-artifacts/.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { defaultConfig } from '../../src/config.ts';
import { consoleOptionsFromEnv, consolePlugin } from '../../src/http/console.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { artifactPath, ensureConsoleBuilt, launchBrowser } from '../support/browser.ts';
import { waitFor } from '../support/redis.ts';

const KEYS = {
  admin: 'console-test-admin-key',
  monitor: 'console-test-monitor-key',
  manager: 'console-test-manager-key',
  ingest: 'console-test-ingest-key',
} as const;

// An exclusion zone with a hole: a square of ~1.4 km around a point in London, open in the middle.
const LAT = 51.5;
const LON = -0.12;
const square = (d: number): [number, number][] => [
  [LON - d, LAT - d],
  [LON + d, LAT - d],
  [LON + d, LAT + d],
  [LON - d, LAT + d],
  [LON - d, LAT - d],
];
const hole = square(0.002).reverse();

let store: ReturnType<typeof createMemoryStore>;
let app: FastifyInstance;
let base: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
let monitor: Page;
let zoneWrittenAt = 0;
/** server errors logged during the run, shown when a request fails unexpectedly */
const serverErrors: string[] = [];

async function api(method: 'GET' | 'PUT' | 'POST', url: string, key: string, payload?: unknown) {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {} };
}

interface AlertJson {
  id: string;
  type: string;
  status: string;
  acknowledgedBy: string | null;
  outcome: string | null;
  notes: { text: string; by: string }[];
}

/** Posts pings as the ingest key and answers the alerts they opened or changed. */
async function ping(pings: Record<string, unknown>[]): Promise<AlertJson[]> {
  const r = await api('POST', '/v1/pings', KEYS.ingest, pings);
  expect(r.status, `${JSON.stringify(r.body)}\nserver log: ${serverErrors.slice(-3).join('\n')}`).toBe(200);
  return (r.body.alerts ?? []) as AlertJson[];
}

async function signIn(role: keyof typeof KEYS, name: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 }, reducedMotion: 'reduce', locale: 'en-GB', timezoneId: 'Europe/London' });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (err) => console.error(`[browser ${role}] ${err.message}`));
  await page.goto(base);
  await page.getByLabel('API key').fill(KEYS[role]);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator(`#role[data-role="${role}"]`).waitFor({ timeout: 10_000 });
  return page;
}

const rowIds = (page: Page) => page.locator('tr[data-alert-id]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.alertId ?? ''));

describe('monitoring console in a real browser', () => {
  beforeAll(async () => {
    const distDir = ensureConsoleBuilt();
    store = createMemoryStore();
    app = await buildApp({
      store,
      logger: pino({ level: 'error' }, { write: (line: string) => void serverErrors.push(line) }),
      config: defaultConfig({ apiKeys: Object.entries(KEYS).map(([role, key]) => ({ role: role as keyof typeof KEYS, key })) }),
      plugins: [consolePlugin({ distDir })],
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;

    for (const [id, tag, name] of [
      ['S1', 'BUD-1', 'Alex Example'],
      ['S2', 'BUD-2', 'Sam Sample'],
      ['S3', 'BUD-3', 'Jo Placeholder'],
      ['S4', 'BUD-4', 'Kim Fixture'],
      ['S5', 'BUD-5', 'Lee Testcase'],
    ] as const) {
      const r = await api('PUT', `/v1/subjects/${id}`, KEYS.admin, { tagId: tag, name, orderRef: `SHPO-${id}` });
      expect([200, 201]).toContain(r.status);
    }
    const z = await api('PUT', '/v1/zones/Z-HOME', KEYS.admin, {
      name: 'Victim home area',
      kind: 'exclusion',
      subjectIds: ['S1'],
      geometry: { type: 'Polygon', coordinates: [square(0.01), hole] },
    });
    expect(z.status, JSON.stringify(z.body)).toBe(201);
    zoneWrittenAt = Date.now();

    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await app?.close();
    await store?.close();
  });

  it('refuses an unknown key and an ingest-only key, and keeps the key for the tab only', async () => {
    const ctx = await browser.newContext();
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(base);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByLabel('Your name').fill('Nobody');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toContain('not recognised');

    await page.getByLabel('API key').fill(KEYS.ingest);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toContain('only send pings');
    expect(await page.evaluate(() => Object.keys(sessionStorage).length)).toBe(0);

    await page.getByLabel('API key').fill(KEYS.monitor);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#role[data-role="monitor"]').waitFor();
    const stored = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: Object.keys(localStorage) }));
    expect(stored.session).toContain(KEYS.monitor);
    expect(stored.local).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate(() => Object.values(sessionStorage))).not.toContain(KEYS.monitor);
  });

  it('shows a monitor a breach live over SSE, flagged as a new high-severity alert', async () => {
    monitor = await signIn('monitor', 'Mona Monitor');
    // a monitor gets the queue and a read-only zone list, not the zone editor
    expect(await monitor.getByRole('tab', { name: 'Alerts' }).getAttribute('aria-selected')).toBe('true');
    expect(await monitor.getByRole('tab', { name: 'Zones' }).count()).toBe(1);
    expect(await monitor.locator('#new-zone').count()).toBe(0);
    await monitor.locator('#stream-state[data-state="open"]').waitFor();

    // event times after the zone was written (a zone applies from its version's time on)
    const t0 = Date.now();
    expect(t0 - zoneWrittenAt).toBeGreaterThan(400);
    const alerts = await ping([
      { tagId: 'BUD-1', ts: new Date(t0 - 300).toISOString(), lat: LAT + 0.02, lon: LON, accuracyM: 8 },
      { tagId: 'BUD-1', ts: new Date(t0 - 200).toISOString(), lat: LAT + 0.006, lon: LON + 0.001, accuracyM: 6 },
      { tagId: 'BUD-1', ts: new Date(t0 - 100).toISOString(), lat: LAT + 0.0065, lon: LON - 0.003, accuracyM: 12 },
    ]);
    const breach = alerts.find((a) => a.type === 'exclusion.breach');
    expect(breach, JSON.stringify(alerts)).toBeDefined();
    const row = monitor.locator(`tr[data-alert-id="${breach!.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('class')).toMatch(/sev-high.*status-open.*conf-confirmed.*active/);
    await expect.poll(() => monitor.locator('.new-alert-banner').isVisible()).toBe(true);
    expect(await monitor.locator('.new-alert-banner').textContent()).toContain('New high-severity alert');
    expect(await monitor.locator('.count[data-status="open"] .n').textContent()).toBe('1');
    expect(await monitor.title()).toMatch(/^\(1\)/);
  });

  it('opens the alert on a map (zone with its hole, trail with accuracy circles) and acknowledges then resolves it', async () => {
    const [id] = await rowIds(monitor);
    expect(id).toBeDefined();
    await monitor.locator(`tr[data-alert-id="${id}"]`).click();
    await monitor.locator('#detail-title').waitFor();
    expect(await monitor.locator('#detail-title').textContent()).toBe('Exclusion breach');
    // opening the detail re-reads the alert (ping counts change without events) and redraws it
    await expect.poll(() => monitor.locator('.facts dt:text-is("Pings") + dd').textContent()).toBe('2');
    await monitor.locator('#detail-map[data-loaded="true"]').waitFor();
    // the zone is one SVG path with two sub-paths (outer ring and hole); three trail fixes with accuracy circles
    const zonePaths = await monitor.locator('#detail-map path.leaflet-interactive').evaluateAll((ps) => ps.map((p) => (p.getAttribute('d') ?? '').match(/M/g)?.length ?? 0));
    expect(Math.max(...zonePaths)).toBe(2);
    expect(await monitor.locator('#detail-map path.accuracy-circle').count()).toBe(3);
    expect(await monitor.locator('#detail-map .leaflet-control-scale').count()).toBe(1);
    expect(await monitor.locator('#detail-map .leaflet-tile').count()).toBe(0); // no tile URL configured
    expect(await monitor.locator('.facts').textContent()).toContain('Alex Example');
    await monitor.locator('.detail-pane').screenshot({ path: artifactPath('console-alert-map.png') });

    await monitor.getByLabel('Note (optional)').first().fill('Called the duty officer');
    await monitor.locator('#ack-button').click();
    await monitor.locator(`tr[data-alert-id="${id}"].status-acknowledged`).waitFor();
    const acked = (await api('GET', `/v1/alerts/${id}`, KEYS.monitor)).body as unknown as AlertJson;
    expect(acked.status).toBe('acknowledged');
    expect(acked.acknowledgedBy).toBe('Mona Monitor');
    expect(acked.notes.map((n) => n.text)).toContain('Called the duty officer');

    await monitor.getByLabel('Outcome').selectOption('false_alert');
    await monitor.locator('#resolve-button').click();
    await waitFor(async () => ((await api('GET', `/v1/alerts/${id}`, KEYS.monitor)).body as unknown as AlertJson).status === 'resolved', 10_000, 'resolved');
    // resolved alerts leave the default (open + acknowledged) queue and are counted
    await monitor.locator(`tr[data-alert-id="${id}"]`).waitFor({ state: 'detached' });
    await monitor.getByLabel('resolved', { exact: true }).check();
    await monitor.locator(`tr[data-alert-id="${id}"].status-resolved`).waitFor();
    // the resolved count comes from its own fetch, which may land after the live row
    await expect.poll(() => monitor.locator('.count[data-status="resolved"] .n').textContent()).toBe('1');
    await monitor.getByLabel('resolved', { exact: true }).uncheck();
  });

  it('is operable from the keyboard: arrows, Home/End, Enter opens, A acknowledges', async () => {
    const now = Date.now();
    const opened = [
      ...(await ping([{ tagId: 'BUD-2', ts: new Date(now - 50_000).toISOString(), lat: 51.52, lon: -0.1, strap: 'tampered' }])),
      ...(await ping([{ tagId: 'BUD-3', ts: new Date(now - 40_000).toISOString(), lat: 51.53, lon: -0.11, battery: 9 }])),
      ...(await ping([{ tagId: 'BUD-4', ts: new Date(now - 30_000).toISOString(), lat: 51.54, lon: -0.13, strap: 'tampered', accuracyM: 40 }])),
    ];
    expect(opened.map((a) => a.type).sort()).toEqual(['tag.battery_low', 'tag.tamper', 'tag.tamper']);
    await waitFor(async () => (await rowIds(monitor)).length === 3, 10_000, 'three rows').catch(async (e) => {
      const rows = await monitor.locator('tr[data-alert-id]').evaluateAll((rs) => rs.map((r) => r.textContent + ' | ' + r.className));
      const all = (await api('GET', '/v1/alerts', KEYS.monitor)).body;
      throw new Error(String(e) + '\n' + JSON.stringify(rows) + '\n' + JSON.stringify(all).slice(0, 3000));
    });
    const ids = await rowIds(monitor);
    // most severe first, then newest: BUD-4 tamper (newest high), BUD-2 tamper, BUD-3 battery (low)
    const byTag = (tag: string) => opened.find((a) => (a as unknown as { tagId: string }).tagId === tag)!.id;
    expect(ids).toEqual([byTag('BUD-4'), byTag('BUD-2'), byTag('BUD-3')]);

    // Tab from the last filter into the queue lands on one row (roving tabindex)
    await monitor.locator('#filter-subject').focus();
    let onRow = false;
    for (let i = 0; i < 8 && !onRow; i++) {
      await monitor.keyboard.press('Tab');
      onRow = await monitor.evaluate(() => document.activeElement?.matches('tr[data-alert-id]') ?? false);
    }
    expect(onRow).toBe(true);
    const focused = () => monitor.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.alertId);
    expect(ids).toContain(await focused());
    await monitor.keyboard.press('Home');
    expect(await focused()).toBe(ids[0]);
    await monitor.keyboard.press('ArrowDown');
    expect(await focused()).toBe(ids[1]);
    await monitor.keyboard.press('End');
    expect(await focused()).toBe(ids[2]);
    await monitor.keyboard.press('Home');
    expect(await focused()).toBe(ids[0]);
    await monitor.keyboard.press('ArrowDown');
    await monitor.keyboard.press('Enter');
    await expect.poll(() => monitor.locator('.facts').textContent()).toContain(ids[1]!);
    expect(await monitor.locator('#detail-title').textContent()).toBe('Strap tamper');

    await monitor.locator(`tr[data-alert-id="${ids[0]}"]`).focus();
    // a re-render (live event, fresh fetch, filter input) keeps focus on the row the operator
    // moved to, not on the row last opened with Enter
    await monitor.evaluate(() => document.getElementById('filter-subject')!.dispatchEvent(new Event('input')));
    await monitor.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    expect(await focused()).toBe(ids[0]);
    await monitor.keyboard.press('a');
    await waitFor(async () => ((await api('GET', `/v1/alerts/${ids[0]}`, KEYS.monitor)).body as unknown as AlertJson).status === 'acknowledged', 10_000, 'acknowledged by keyboard');
    await monitor.locator(`tr[data-alert-id="${ids[0]}"].status-acknowledged`).waitFor();

    // filters: type and confidence narrow the queue
    await monitor.locator('#filter-type').selectOption('tag.battery_low');
    await waitFor(async () => (await rowIds(monitor)).join() === byTag('BUD-3'), 5_000, 'type filter');
    await monitor.locator('#filter-type').selectOption('');
    await waitFor(async () => (await rowIds(monitor)).length === 3, 5_000, 'filter cleared');
    await monitor.locator('.queue-pane').screenshot({ path: artifactPath('console-queue.png') });
  });

  it('labels every control and keeps text contrast at WCAG AA (4.5:1)', async () => {
    const report = await monitor.evaluate(() => {
      const visible = (el: Element) => (el as HTMLElement).offsetParent !== null;
      const unlabelled = Array.from(document.querySelectorAll('input, select, textarea, button'))
        .filter(visible)
        .filter((el) => {
          const c = el as HTMLInputElement;
          const named = (c.labels?.length ?? 0) > 0 || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby') || (c.tagName === 'BUTTON' && c.textContent?.trim());
          return !named && !c.closest('.leaflet-control');
        })
        .map((el) => el.outerHTML.slice(0, 80));
      const rgb = (s: string) => (s.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]: number[]) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const background = (el: Element | null): number[] => {
        for (let e = el; e; e = e.parentElement) {
          const c = rgb(getComputedStyle(e).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3]! > 0.9)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const low: string[] = [];
      let checked = 0;
      for (const el of Array.from(document.querySelectorAll('.badge, .count, th, td, label, legend, .hint, h1, h2, h3, .stream-state, .role, .facts dt, .facts dd, .new-alert-banner span'))) {
        if (!visible(el) || !el.textContent?.trim()) continue;
        checked++;
        const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3));
        const bg = lum(background(el));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        if (ratio < 4.5) low.push(`${el.className || el.tagName} "${el.textContent.trim().slice(0, 20)}" ${ratio.toFixed(2)}`);
      }
      return { unlabelled, low, checked };
    });
    expect(report.checked).toBeGreaterThan(40);
    expect(report.unlabelled).toEqual([]);
    expect(report.low).toEqual([]);
  });

  it('reconnects after the connection drops and catches up without duplicates', async () => {
    const state = monitor.locator('#stream-state');
    const before = Number((await state.getAttribute('data-reconnects')) ?? '0');
    const rowsBefore = await rowIds(monitor);

    app.server.closeAllConnections(); // the browser's stream (and keep-alive sockets) drop
    const now = Date.now();
    const opened = await ping([{ tagId: 'BUD-5', ts: new Date(now - 10_000).toISOString(), lat: 51.51, lon: -0.09, strap: 'tampered' }]);
    // also an update to an alert the page already has (battery lower still): no new row
    await ping([{ tagId: 'BUD-3', ts: new Date(now - 5_000).toISOString(), lat: 51.53, lon: -0.11, battery: 7 }]);
    const fresh = opened[0]!.id;

    await monitor.locator(`tr[data-alert-id="${fresh}"]`).waitFor({ timeout: 15_000 });
    await expect.poll(async () => Number((await state.getAttribute('data-reconnects')) ?? '0'), { timeout: 15_000 }).toBeGreaterThan(before);
    await monitor.locator('#stream-state[data-state="open"]').waitFor();
    const ids = await rowIds(monitor);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([...rowsBefore, fresh].sort());
    const server = await api('GET', '/v1/alerts?limit=1000', KEYS.monitor);
    const unresolved = (server.body.items as AlertJson[]).filter((a) => a.status !== 'resolved').map((a) => a.id);
    expect(ids.sort()).toEqual(unresolved.sort());
  });

  it('lets a manager draw a zone, cut a hole, set a night-time schedule and see it listed, with its version history', async () => {
    const page = await signIn('manager', 'Max Manager');
    expect(await page.getByRole('tab', { name: 'Zone editor' }).getAttribute('aria-selected')).toBe('true');
    await page.locator('tr[data-zone-id="Z-HOME"]').waitFor();

    await page.locator('#new-zone').click();
    await page.getByLabel('Zone id').fill('Z-PARK');
    await page.getByLabel('Name', { exact: true }).fill('Drawn park');
    await page.getByLabel('S1 — Alex Example (tag BUD-1)').check();
    await page.getByLabel('Grace (seconds)').fill('30');

    const map = page.locator('#zone-map');
    await map.locator('.leaflet-pm-icon-polygon').click();
    const box = (await map.boundingBox())!;
    const pts: [number, number][] = [
      [box.x + box.width * 0.55, box.y + box.height * 0.3],
      [box.x + box.width * 0.85, box.y + box.height * 0.32],
      [box.x + box.width * 0.8, box.y + box.height * 0.7],
      [box.x + box.width * 0.58, box.y + box.height * 0.65],
    ];
    for (const [x, y] of pts) await page.mouse.click(x, y);
    await page.mouse.click(pts[0]![0], pts[0]![1]); // clicking the first vertex closes the ring
    await page.locator('#zone-map[data-shapes="1"]').waitFor();
    expect(await page.getByLabel('Geometry (GeoJSON)').inputValue()).toContain('"Polygon"');
    // cut a hole in it with the cut tool
    await map.locator('.leaflet-pm-icon-cut').click();
    const at = (fx: number, fy: number): [number, number] => [box.x + box.width * fx, box.y + box.height * fy];
    const holePts = [at(0.65, 0.42), at(0.72, 0.42), at(0.72, 0.55), at(0.65, 0.55)];
    for (const [x, y] of holePts) await page.mouse.click(x, y);
    await page.mouse.click(holePts[0]![0], holePts[0]![1]);
    await waitFor(async () => (JSON.parse(await page.getByLabel('Geometry (GeoJSON)').inputValue()) as { coordinates: unknown[] }).coordinates.length === 2, 5_000, 'a hole');

    await page.getByLabel('Active only during these windows').check();
    await page.getByLabel('Window 1 sat').check();
    expect(await page.locator('.window .midnight').textContent()).toContain('Crosses midnight');

    await page.locator('#save-zone').click();
    await page.locator('tr[data-zone-id="Z-PARK"]').waitFor();
    await expect.poll(() => page.locator('#zone-form-msg').textContent()).toContain('version 1');
    const stored = (await api('GET', '/v1/zones/Z-PARK', KEYS.manager)).body as {
      geometry: { type: string; coordinates: number[][][] };
      subjectIds: string[];
      graceSeconds: number;
      schedule: { windows: { days: string[]; start: string; end: string }[] };
    };
    expect(stored.geometry.type).toBe('Polygon');
    expect(stored.geometry.coordinates.map((ring) => ring.length)).toEqual([5, 5]); // outer ring and the hole
    expect(stored.subjectIds).toEqual(['S1']);
    expect(stored.graceSeconds).toBe(30);
    expect(stored.schedule.windows).toEqual([{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '19:00', end: '07:00' }]);
    await page.locator('.versions tr[data-version="1"]').waitFor();
    await page.locator('.zone-editor').screenshot({ path: artifactPath('console-zone-editor.png') });
  });

  it('takes a circle typed as GeoJSON (the keyboard way), draws it and stores it as a Circle', async () => {
    const page = await signIn('manager', 'Max Manager');
    await page.locator('#new-zone').click();
    await page.getByLabel('Zone id').fill('Z-SCHOOL');
    await page.getByLabel('Kind').selectOption('inclusion');
    await page.getByLabel('S2 — Sam Sample (tag BUD-2)').check();
    await page.getByLabel('Geometry (GeoJSON)').fill(JSON.stringify({ type: 'Circle', center: [-0.1, 51.52], radiusM: 250 }));
    await page.getByLabel('Geometry (GeoJSON)').press('Tab'); // change event redraws the map
    await page.locator('#zone-map path.leaflet-interactive').first().waitFor();
    await page.locator('#save-zone').click();
    await page.locator('tr[data-zone-id="Z-SCHOOL"]').waitFor();
    const stored = (await api('GET', '/v1/zones/Z-SCHOOL', KEYS.manager)).body as { kind: string; geometry: unknown; subjectIds: string[]; schedule: unknown };
    expect(stored.kind).toBe('inclusion');
    expect(stored.geometry).toEqual({ type: 'Circle', center: [-0.1, 51.52], radiusM: 250 });
    expect(stored.subjectIds).toEqual(['S2']);
    expect(stored.schedule).toBeNull();
  });

  it("shows the server's validation errors on the fields they belong to", async () => {
    const page = await signIn('manager', 'Max Manager');
    await page.locator('tr[data-zone-id="Z-PARK"]').getByRole('button').click();
    await page.locator('#zone-form-title', { hasText: 'Drawn park' }).waitFor();
    await page.getByLabel('Grace (seconds)').fill('-5');
    for (const d of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat']) await page.getByLabel(`Window 1 ${d}`).uncheck();
    await page.locator('#save-zone').click();

    const grace = page.locator('.field[data-path="graceSeconds"] .field-error');
    await grace.waitFor();
    expect((await grace.textContent())?.length).toBeGreaterThan(0);
    expect(await page.getByLabel('Grace (seconds)').getAttribute('aria-invalid')).toBe('true');
    const days = page.locator('[data-path="schedule.windows.0.days"] > .field-error');
    await days.waitFor();
    expect(await days.textContent()).toContain('day');
    expect(await page.locator('#zone-form-msg').textContent()).toContain('rejected');
    // nothing was stored: still version 1
    expect(((await api('GET', '/v1/zones/Z-PARK', KEYS.manager)).body as { version: number }).version).toBe(1);
  });
});

describe('console plugin', () => {
  it('serves the build with cache headers, its runtime config, and a build hint when not built', async () => {
    const { default: Fastify } = await import('fastify');
    const built = Fastify();
    await built.register(consolePlugin({ distDir: ensureConsoleBuilt(), tileUrl: 'https://tiles.invalid/{z}/{x}/{y}.png', tileAttribution: 'Test tiles' }));
    const page = await built.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['cache-control']).toBe('no-cache');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(asset).toBeDefined();
    const js = await built.inject({ method: 'GET', url: asset! });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toContain('immutable');
    const cfg = await built.inject({ method: 'GET', url: '/console-config.json' });
    expect(cfg.json()).toEqual({ tileUrl: 'https://tiles.invalid/{z}/{x}/{y}.png', tileAttribution: 'Test tiles', tileMaxZoom: 19 });
    await built.close();

    const bare = Fastify();
    await bare.register(consolePlugin({ distDir: `${ensureConsoleBuilt()}does-not-exist` }));
    const hint = await bare.inject({ method: 'GET', url: '/' });
    expect(hint.statusCode).toBe(200);
    expect(hint.body).toContain('npm run build:web');
    await bare.close();
  });

  it('reads its settings from the environment and names a bad variable', () => {
    expect(consoleOptionsFromEnv({})).toEqual({ tileUrl: null, tileAttribution: null, tileMaxZoom: 19 });
    expect(consoleOptionsFromEnv({ CONSOLE_TILE_URL: 'https://{s}.tiles.example/{z}/{x}/{y}.png', CONSOLE_TILE_MAX_ZOOM: '17' })).toMatchObject({ tileMaxZoom: 17 });
    expect(() => consoleOptionsFromEnv({ CONSOLE_TILE_URL: 'https://tiles.example/tile.png' })).toThrow(/CONSOLE_TILE_URL/);
    expect(() => consoleOptionsFromEnv({ CONSOLE_TILE_MAX_ZOOM: '99' })).toThrow(/CONSOLE_TILE_MAX_ZOOM/);
  });
});
