/**
 * Seeded random numbers for the simulator: the benchmarks' mulberry32 (bench/lib/engine-world.ts)
 * plus what movement needs (normal deviates, shuffles) and one stream per subject derived
 * from (seed, index), so a subject's day never depends on how many others are simulated.
 */
import { Rng as BaseRng } from '../lib/engine-world.ts';

export class Rng extends BaseRng {
  /** A stream derived from a seed and any number of integers (FNV-1a style mix). */
  static derive(seed: number, ...parts: number[]): Rng {
    let h = 0x811c9dc5 ^ (seed >>> 0);
    for (const p of parts) {
      h = Math.imul(h ^ (p >>> 0), 0x01000193);
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    }
    h ^= h >>> 16;
    return new Rng(h);
  }

  /** uniform in [a, b) */
  uniform(a: number, b: number): number {
    return this.range(a, b);
  }

  /** standard normal (Box–Muller) */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates in place */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const a = items[i] as T;
      items[i] = items[j] as T;
      items[j] = a;
    }
    return items;
  }
}
