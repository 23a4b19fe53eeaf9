/**
 * The console's pure client pieces (web/src): the SSE line parser, the fetch-based stream client
 * (Last-Event-ID resume after a drop, against a real local HTTP server), and the alert queue's
 * idempotent merge and ordering.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertQueue, compareAlerts, DEFAULT_FILTER, isNewer, matches } from '../../web/src/queue-state.ts';
import { openStream, SseParser, type SseMessage, type StreamHandle } from '../../web/src/sse.ts';
import type { Alert } from '../../web/src/types.ts';
import { waitFor } from '../support/redis.ts';

describe('SseParser', () => {
  it('parses id, event and multi-line data, skipping comments and retry', () => {
    const p = new SseParser();
    const out = p.push(': connected\nretry: 2000\n\nid: 1-0\nevent: alert.opened\ndata: {"a":\ndata: 1}\n\n');
    expect(out).toEqual([{ id: '1-0', event: 'alert.opened', data: '{"a":\n1}' }]);
    expect(p.retryMs).toBe(2000);
    expect(p.lastEventId).toBe('1-0');
  });

  it('handles messages split at any byte and CRLF / CR line ends', () => {
    const text = 'id: 7-1\r\nevent: alert.updated\r\ndata: x\r\n\r\nid: 7-2\rdata: y\r\r';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const msgs = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(msgs.map((m) => [m.id, m.event, m.data]), `cut at ${cut}`).toEqual([
        ['7-1', 'alert.updated', 'x'],
        ['7-2', 'message', 'y'],
      ]);
    }
  });

  it('keeps the last id for messages without one and ignores empty dispatches', () => {
    const p = new SseParser();
    const out = p.push('id: 5-0\n\ndata: a\n\n');
    expect(out).toEqual([{ id: '5-0', event: 'message', data: 'a' }]);
  });
});

describe('openStream', () => {
  let server: ReturnType<typeof createServer> | undefined;
  let handle: StreamHandle | undefined;
  afterEach(async () => {
    handle?.close();
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
  });

  it('sends the Authorization header, and after a drop resumes with Last-Event-ID', async () => {
    const seen: { auth: string | undefined; lastId: string | undefined }[] = [];
    const sockets: ServerResponse[] = [];
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push({ auth: req.headers.authorization, lastId: req.headers['last-event-id'] as string | undefined });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sockets.push(res);
      if (seen.length === 1) {
        res.write('id: 1-0\nevent: alert.opened\ndata: {"n":1}\n\nid: 2-0\nevent: alert.opened\ndata: {"n":2}\n\n');
        setTimeout(() => res.destroy(), 20); // network drop
      } else {
        res.write('id: 3-0\nevent: alert.updated\ndata: {"n":3}\n\n');
      }
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const got: SseMessage[] = [];
    const states: string[] = [];
    handle = openStream({
      url: `http://127.0.0.1:${port}/v1/alerts/stream`,
      headers: () => ({ authorization: 'Bearer k1' }),
      onMessage: (m) => got.push(m),
      onState: (s) => states.push(s),
      initialBackoffMs: 10,
    });
    await waitFor(() => got.length === 3, 5_000, 'three messages');
    expect(got.map((m) => m.data)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(seen[0]).toEqual({ auth: 'Bearer k1', lastId: undefined });
    expect(seen[1]).toEqual({ auth: 'Bearer k1', lastId: '2-0' });
    expect(handle.reconnects).toBe(1);
    expect(states).toContain('reconnecting');
    for (const s of sockets) s.destroy();
  });

  it('stops on 401 instead of retrying', async () => {
    let calls = 0;
    server = createServer((_req, res) => {
      calls++;
      res.writeHead(401).end();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const states: string[] = [];
    handle = openStream({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      headers: () => ({}),
      onMessage: () => {},
      onState: (s) => states.push(s),
      initialBackoffMs: 5,
    });
    await waitFor(() => states.includes('unauthorized'), 5_000, 'unauthorized');
    expect(calls).toBe(1);
  });
});

function alert(over: Partial<Alert>): Alert {
  return {
    id: 'a',
    type: 'exclusion.breach',
    subjectId: 'S1',
    tagId: 'T1',
    zoneId: 'Z1',
    zoneVersion: 1,
    severity: 'high',
    confidence: 'possible',
    trigger: 'entered',
    late: false,
    active: true,
    openedAt: '2026-01-01T10:00:00Z',
    detectedAt: '2026-01-01T10:00:01Z',
    lastPingAt: '2026-01-01T10:00:00Z',
    endedAt: null,
    pingCount: 1,
    firstPosition: null,
    lastPosition: null,
    status: 'open',
    acknowledgedBy: null,
    acknowledgedAt: null,
    resolvedBy: null,
    resolvedAt: null,
    outcome: null,
    notes: [],
    ...over,
  };
}

describe('AlertQueue', () => {
  it('keeps one entry per alert id and never goes back to an older copy', () => {
    const q = new AlertQueue();
    const v1 = alert({});
    const v2 = alert({ pingCount: 3, confidence: 'confirmed', lastPingAt: '2026-01-01T10:01:00Z' });
    const acked = alert({ status: 'acknowledged', acknowledgedBy: 'm' });
    expect(q.apply(v1)).toBe('new');
    expect(q.apply(v1)).toBe('same'); // replayed event
    expect(q.apply(v2)).toBe('changed');
    expect(q.apply(acked)).toBe('changed'); // status outranks ping count
    expect(q.apply(v2)).toBe('same'); // a stale list copy after the acknowledgement
    expect(q.size).toBe(1);
    expect(q.get('a')?.status).toBe('acknowledged');
    expect(isNewer(alert({ endedAt: '2026-01-01T11:00:00Z', active: false }), v1)).toBe(true);
  });

  it('orders open before acknowledged, then most severe, then newest detected', () => {
    const q = new AlertQueue();
    q.apply(alert({ id: 'low-new', severity: 'low', detectedAt: '2026-01-01T12:00:00Z' }));
    q.apply(alert({ id: 'high-old', severity: 'high', detectedAt: '2026-01-01T09:00:00Z' }));
    q.apply(alert({ id: 'high-new', severity: 'high', detectedAt: '2026-01-01T11:00:00Z' }));
    q.apply(alert({ id: 'acked-high', severity: 'high', status: 'acknowledged', detectedAt: '2026-01-01T13:00:00Z' }));
    q.apply(alert({ id: 'medium', severity: 'medium', detectedAt: '2026-01-01T08:00:00Z' }));
    q.apply(alert({ id: 'resolved', status: 'resolved' }));
    expect(q.list(DEFAULT_FILTER).map((a) => a.id)).toEqual(['high-new', 'high-old', 'medium', 'low-new', 'acked-high']);
    expect(q.counts()).toEqual({ open: 4, acknowledged: 1, resolved: 1 });
    expect(compareAlerts(alert({ id: 'x' }), alert({ id: 'x' }))).toBe(0);
  });

  it('filters by status, type, confidence and subject or tag', () => {
    const a = alert({ subjectId: 'S-77', tagId: 'BUD-9', confidence: 'confirmed', type: 'tag.tamper' });
    expect(matches(a, { ...DEFAULT_FILTER, subject: 's-7' })).toBe(true);
    expect(matches(a, { ...DEFAULT_FILTER, subject: 'bud-9' })).toBe(true);
    expect(matches(a, { ...DEFAULT_FILTER, subject: 'S-78' })).toBe(false);
    expect(matches(a, { ...DEFAULT_FILTER, confidence: 'possible' })).toBe(false);
    expect(matches(a, { ...DEFAULT_FILTER, type: 'tag.tamper' })).toBe(true);
    expect(matches(a, { ...DEFAULT_FILTER, statuses: ['resolved'] })).toBe(false);
  });
});
