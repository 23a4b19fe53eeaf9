/**
 * A Cordon Kafka consumer in its own process, for tests that must kill one without a
 * goodbye (SIGKILL: no LeaveGroup, no commit). Started by spawnWorker() with its options as
 * one JSON argument; prints "ready" on stdout once it is in the group; SIGTERM stops it
 * gracefully.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startConsumer, type ConsumerOptions } from './kafka-scenario.ts';
import { waitFor } from './redis.ts';

const self = fileURLToPath(import.meta.url);

export interface Worker {
  child: ChildProcess;
  /** SIGKILL, and wait for the exit */
  kill(): Promise<void>;
  /** SIGTERM (graceful), and wait for the exit */
  stop(): Promise<void>;
}

export async function spawnWorker(opts: ConsumerOptions, timeoutMs = 30_000): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', 'tsx', self, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  try {
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`worker exited: ${err.slice(-2000)}`);
      return out.includes('ready');
    }, timeoutMs, 'kafka worker to join its group');
  } catch (e) {
    await end('SIGKILL');
    throw new Error(`${(e as Error).message}\nworker stderr: ${err.slice(-2000)}`);
  }
  return { child, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

async function runWorker(arg: string): Promise<void> {
  const opts = JSON.parse(arg) as ConsumerOptions;
  const c = await startConsumer(opts);
  await waitFor(() => c.ingest.isReady(), 30_000, 'group join');
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    c.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

if (process.argv[1] === self && process.argv[2]) {
  runWorker(process.argv[2]).catch((e: unknown) => {
    process.stderr.write(`kafka worker failed: ${String((e as Error)?.stack ?? e)}\n`);
    process.exit(1);
  });
}
