import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
/**
 * Output habits shared by the benchmarks and the simulator: a readable table on stdout,
 * progress on stderr, and with --json one JSON object as the last stdout line.
 */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmtNum(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) =>
    r.map((c, i) => (typeof rows[0]?.[i] === 'number' && r !== headers ? String(c).padStart(widths[i] ?? 0) : String(c).padEnd(widths[i] ?? 0))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Thousands separators for big numbers, 2 significant decimals for small ones. */
export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) || Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-GB');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function progress(msg: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

/** Prints the final JSON line when --json was given (always the last stdout line). */
export function emitJson(enabled: boolean, obj: unknown): void {
  if (enabled) process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** A short description of this machine for result tables. */
export async function machine(): Promise<{ cpu: string; cores: number; memGb: number; node: string; os: string }> {
  const os = await import('node:os');
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

/** Percentile of an unsorted list (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

let clkTck: number | null = null;

/** CPU seconds (user + system) process `pid` has used so far, from /proc (Linux); null elsewhere. */
/** CPU seconds (user + system) a Redis server has used, from INFO cpu */
export async function redisCpuSeconds(client: { info(section: 'cpu'): Promise<string> }): Promise<number> {
  const info = await client.info('cpu');
  const u = /used_cpu_user:([\d.]+)/.exec(info);
  const s = /used_cpu_sys:([\d.]+)/.exec(info);
  return Number(u?.[1] ?? 0) + Number(s?.[1] ?? 0);
}

export function cpuSecondsOf(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    if (clkTck === null) {
      try {
        clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
      } catch {
        clkTck = 100;
      }
    }
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clkTck;
  } catch {
    return null;
  }
}
