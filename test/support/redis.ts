import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A free TCP port on loopback (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface RedisServer {
  url: string;
  port: number;
  /** stop the server (no-op when it was given by REDIS_URL) */
  stop(): Promise<void>;
  /** restart on the same port (for fault tests); only for servers we started */
  restart?(): Promise<void>;
}

async function pingOk(url: string): Promise<boolean> {
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } finally {
    c.disconnect();
  }
}

/** servers started by this process: killed when it exits, even by process.exit() after an error */
const live = new Set<ChildProcess>();
let exitHook = false;

/** Starts a throwaway redis-server on a free port (nothing on disk). */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  const p = port ?? (await freePort());
  let child: ChildProcess;
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const c = child;
    live.add(c);
    c.once('exit', () => live.delete(c));
    await waitFor(() => pingOk(`redis://127.0.0.1:${p}`), 10_000, `redis-server on port ${p}`);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

/** REDIS_URL when given, else a fresh server of our own. */
export async function redisForTests(): Promise<RedisServer> {
  const given = process.env.REDIS_URL;
  if (given) return { url: given, port: Number(new URL(given).port || 6379), stop: async () => {} };
  return startRedisServer();
}
