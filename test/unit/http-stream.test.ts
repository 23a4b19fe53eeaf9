import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOME, KEYS, exclusionZone, expectProblem, json, makeTestApp, openStream, type TestApp } from '../support/http.ts';
import { waitFor } from '../support/redis.ts';

describe('SSE /v1/alerts/stream', () => {
  let t: TestApp;
  let port: number;
  beforeEach(async () => {
    t = await makeTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
    await t.call('manager', { method: 'PUT', url: '/v1/subjects/S1', payload: { tagId: 'BUD-1' } });
    await t.call('manager', { method: 'PUT', url: '/v1/zones/Z1', payload: exclusionZone(['S1']) });
  });
  afterEach(() => t.close());

  const breach = () =>
    t.call('ingest', { method: 'POST', url: '/v1/pings', payload: { tagId: 'BUD-1', ts: t.clock.now() + 1000, lat: HOME.lat, lon: HOME.lon, accuracyM: 5 } });

  it('streams live events with id: lines and resumes after Last-Event-ID without gaps or repeats', async () => {
    const s1 = openStream(port, { authorization: `Bearer ${KEYS.monitor}` });
    await waitFor(() => s1.ready(), 5000, 'stream open');
    expect(s1.status()).toBe(200);
    const alert = json(await breach()).alerts[0];
    await waitFor(() => s1.frames.length >= 1, 5000, 'opened event');
    const first = s1.frames[0]!;
    expect(first.event).toBe('alert.opened');
    expect(first.data.id).toBe(first.id);
    expect(first.data.alert.id).toBe(alert.id);
    s1.close();

    // while disconnected: acknowledge then resolve
    const url = `/v1/alerts/${encodeURIComponent(alert.id)}`;
    await t.call('monitor', { method: 'POST', url: `${url}/acknowledge`, payload: { by: 'A' } });
    await t.call('monitor', { method: 'POST', url: `${url}/resolve`, payload: { by: 'A', outcome: 'false_alert' } });

    const s2 = openStream(port, { authorization: `Bearer ${KEYS.monitor}`, 'last-event-id': first.id });
    await waitFor(() => s2.frames.length >= 2, 5000, 'backlog');
    expect(s2.frames.map((f) => f.event)).toEqual(['alert.acknowledged', 'alert.resolved']);
    expect(s2.frames[1]!.data.alert.status).toBe('resolved');
    s2.close();
  });

  it('accepts ?access_token= for EventSource clients; refuses no key and bad Last-Event-ID', async () => {
    const s = openStream(port, {}, `?access_token=${KEYS.ops}`);
    await waitFor(() => s.ready(), 5000, 'stream open');
    expect(s.status()).toBe(200);
    await breach();
    await waitFor(() => s.frames.length >= 1, 5000, 'event');
    s.close();
    expectProblem(await t.app.inject({ method: 'GET', url: '/v1/alerts/stream' }), 401);
    expectProblem(await t.call('ingest', { method: 'GET', url: '/v1/alerts/stream' }), 403);
    expectProblem(await t.call('monitor', { method: 'GET', url: '/v1/alerts/stream', headers: { 'last-event-id': 'yesterday' } }), 400);
  });
});
