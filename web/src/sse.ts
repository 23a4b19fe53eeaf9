// Server-Sent Events over fetch(). EventSource cannot send an Authorization header, so the
// console reads the stream itself: this file holds the spec's line parser and a client that
// reconnects with `Last-Event-ID` after a drop, backing off, and gives up only on 401/403.

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

/** Incremental parser for the text/event-stream format (WHATWG HTML §9.2.6). */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  private sawCR = false;
  /** last `id:` seen, kept across messages as the spec's "last event ID buffer" */
  lastEventId: string | undefined;
  /** server-suggested reconnection delay */
  retryMs: number | undefined;

  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = chunk;
    // a CRLF split across chunks: drop the LF that follows a CR we already ended a line on
    if (this.sawCR && text.startsWith('\n')) text = text.slice(1);
    this.sawCR = false;
    this.buf += text;
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\n' && c !== '\r') continue;
      const line = this.buf.slice(start, i);
      if (c === '\r') {
        if (i + 1 < this.buf.length) {
          if (this.buf[i + 1] === '\n') i++;
        } else {
          this.sawCR = true;
        }
      }
      start = i + 1;
      const msg = this.line(line);
      if (msg) out.push(msg);
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined; // comment / heartbeat
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    if (this.id !== undefined) this.lastEventId = this.id;
    const id = this.id;
    this.id = undefined;
    if (this.data.length === 0) {
      this.event = '';
      return undefined;
    }
    const msg: SseMessage = { id: id ?? this.lastEventId, event: this.event || 'message', data: this.data.join('\n') };
    this.data = [];
    this.event = '';
    return msg;
  }
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed';

export interface StreamOptions {
  url: string;
  headers: () => Record<string, string>;
  onMessage: (msg: SseMessage) => void;
  onState: (state: StreamState, detail?: string) => void;
  /** called after every successful (re)connection, with whether it is a reconnection */
  onOpen?: (reconnected: boolean) => void;
  /** reconnect when nothing (not even a heartbeat) arrives for this long */
  idleTimeoutMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface StreamHandle {
  close(): void;
  /** drop the current connection now (it reconnects, resuming from the last id) */
  reconnect(): void;
  readonly lastEventId: string | undefined;
  readonly reconnects: number;
}

export function openStream(opts: StreamOptions): StreamHandle {
  const idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  const initialBackoff = opts.initialBackoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 15_000;
  let closed = false;
  let lastEventId: string | undefined;
  let reconnects = 0;
  let controller: AbortController | undefined;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  async function once(reconnected: boolean): Promise<'again' | 'stop'> {
    controller = new AbortController();
    const ctl = controller;
    const headers: Record<string, string> = { ...opts.headers(), accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => ctl.abort(), idleTimeoutMs);
    };
    try {
      arm();
      const res = await fetch(opts.url, { headers, signal: ctl.signal, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) {
        opts.onState('unauthorized', `HTTP ${res.status}`);
        return 'stop';
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      opts.onState('open');
      opts.onOpen?.(reconnected);
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        for (const msg of parser.push(value)) {
          if (msg.id !== undefined) lastEventId = msg.id;
          try {
            opts.onMessage(msg);
          } catch (err) {
            console.error('cordon console: bad stream message', err);
          }
        }
        if (parser.lastEventId !== undefined) lastEventId = parser.lastEventId;
      }
      return 'again';
    } catch (err) {
      if (closed) return 'stop';
      opts.onState('reconnecting', (err as Error).message);
      return 'again';
    } finally {
      if (idle) clearTimeout(idle);
    }
  }

  void (async () => {
    let backoff = initialBackoff;
    let reconnected = false;
    opts.onState('connecting');
    while (!closed) {
      const started = Date.now();
      const r = await once(reconnected);
      if (r === 'stop' || closed) break;
      // a connection that lived a while resets the backoff
      if (Date.now() - started > 10_000) backoff = initialBackoff;
      opts.onState('reconnecting');
      const jitter = Math.random() * backoff * 0.3;
      await sleep(backoff + jitter);
      backoff = Math.min(maxBackoff, backoff * 2);
      reconnects++;
      reconnected = true;
    }
    if (closed) opts.onState('closed');
  })();

  return {
    close() {
      closed = true;
      controller?.abort();
      wake?.();
    },
    reconnect() {
      controller?.abort();
    },
    get lastEventId() {
      return lastEventId;
    },
    get reconnects() {
      return reconnects;
    },
  };
}
