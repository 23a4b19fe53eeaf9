import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A real-protocol Kafka cluster for tests and benchmarks: librdkafka's mock cluster run by
 * the small C program next to this file. Topics are created up front (the mock does not
 * implement CreateTopics). The process lives until we close its stdin.
 *
 * Limits of the mock worth knowing: each partition keeps only about 5 MB (and 100,000 message
 * sets) and silently drops older messages, like a very short retention, so size backlogs to
 * fit; a new consumer group waits 3 s before its first assignment; there is no DescribeGroups
 * (so no admin offset resets); and it rejects a follower's SyncGroup that arrives after the
 * leader's (see `assignDelayMs` in streams/kafka/consumer.ts).
 */
export interface KafkaMockCluster {
  /** comma-separated host:port list */
  bootstrap: string;
  brokers: string[];
  /** the mock's process id (benchmarks read its CPU time) */
  pid: number | undefined;
  /** stop the cluster (idempotent) */
  stop(): Promise<void>;
}

export interface KafkaMockOptions {
  /** topic name → partition count */
  topics: Record<string, number>;
  /** number of mock brokers (default 1) */
  brokers?: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'kafka-mock.c');
const cacheDir = resolve(here, '../../node_modules/.cache/cordon');

/** Compiles the helper once per source version; returns the binary's path. */
export function buildKafkaMock(): string {
  const code = readFileSync(source);
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 12);
  const bin = join(cacheDir, `kafka-mock-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(cacheDir, { recursive: true });
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'rdkafka'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
  } catch (err) {
    throw new Error(`librdkafka not found by pkg-config (install librdkafka-dev; scripts/test-setup.sh does): ${String(err)}`);
  }
  const tmp = `${bin}.${process.pid}.tmp`;
  execFileSync('cc', ['-O2', '-o', tmp, source, ...flags], { stdio: ['ignore', 'ignore', 'inherit'] });
  renameSync(tmp, bin); // atomic: parallel builders never run a half-written binary
  return bin;
}

/** Starts a mock cluster with the given topics and waits for its bootstrap line. */
export async function startKafkaMock(opts: KafkaMockOptions): Promise<KafkaMockCluster> {
  const bin = buildKafkaMock();
  const args = ['--brokers', String(opts.brokers ?? 1)];
  for (const [topic, partitions] of Object.entries(opts.topics)) args.push(`${topic}:${partitions}`);
  const child: ChildProcess = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const bootstrap = await new Promise<string>((resolveLine, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kafka-mock did not print its bootstrap line within 10 s: ${stderr}`));
    }, 10_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolveLine(out.slice(0, nl).trim());
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kafka-mock exited with ${code}: ${stderr}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  // keep draining so the pipe never fills
  child.stdout?.resume();
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      child.stdin?.end();
    });
    return stopping;
  };
  return { bootstrap, brokers: bootstrap.split(',').filter(Boolean), pid: child.pid, stop };
}
