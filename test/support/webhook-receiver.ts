import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { freePort } from './redis.ts';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** raw body exactly as received */
  body: string;
  at: number;
  /** the status this receiver answered (set when it answered) */
  status?: number;
}

/** What the receiver answers: a status (with optional headers) after an optional delay. */
export interface ReceiverBehaviour {
  status: number;
  delayMs?: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A real HTTP webhook receiver on loopback. Records every request; its answer is set by
 * `behave` (a fixed behaviour or a function of the request count). It can be stopped and
 * started again on the same port (receiver down, then up).
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** requests that arrived (counted before the delay), including ones still waiting */
  arrived = 0;
  /** requests being answered right now, and the most seen at once */
  concurrent = 0;
  maxConcurrent = 0;
  behaviour: ReceiverBehaviour | ((n: number, req: ReceivedRequest) => ReceiverBehaviour) = { status: 200 };
  private server: Server | null = null;
  private readonly pending = new Set<ServerResponse>();
  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<TestReceiver> {
    const r = new TestReceiver(port ?? (await freePort()));
    await r.up();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: ReceivedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        const n = ++this.arrived;
        this.concurrent++;
        this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
        const b = typeof this.behaviour === 'function' ? this.behaviour(n, rec) : this.behaviour;
        const answer = () => {
          this.concurrent--;
          this.pending.delete(res);
          if (res.destroyed) return;
          this.requests.push({ ...rec, status: b.status });
          res.writeHead(b.status, { 'content-type': 'text/plain', ...b.headers });
          res.end(b.body ?? '');
        };
        this.pending.add(res);
        if (b.delayMs) setTimeout(answer, b.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** stops listening and cuts every open connection (the receiver is down) */
  async down(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    for (const res of this.pending) res.destroy();
    this.pending.clear();
    const closed = new Promise<void>((r) => s.close(() => r()));
    s.closeAllConnections();
    await closed;
  }

  /** event ids received with a 2xx answer, in arrival order */
  deliveredEventIds(): string[] {
    return this.requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300).map((r) => String(r.headers['cordon-event-id']));
  }
}
