/**
 * Decimal text of numbers on the Redis write path, several times faster than String(x) for the
 * two kinds written per ping: epoch milliseconds (13 digits: too big for V8's small-integer fast
 * path, so String() runs the general shortest-double algorithm, ~0.17 µs) and coordinates with
 * up to 7 decimals (~0.22 µs). Both split the number into integers small enough for the fast
 * path. The text always reads back (Number()) to the same double; anything outside the fast
 * cases goes to String().
 */

/** 10^7: the split for epoch ms, and the coordinate resolution (~1 cm) of the fast path */
const E7 = 10_000_000;
const ZEROS = '0000000';

/** an integer as text (equal to String(x) for every safe integer) */
export function intText(x: number): string {
  if (x >= E7 && x <= Number.MAX_SAFE_INTEGER && x === Math.floor(x)) {
    const hi = Math.floor(x / E7);
    const lo = x - hi * E7;
    if (hi < 2 ** 30) {
      const l = String(lo);
      return String(hi) + (l.length < 7 ? ZEROS.slice(l.length) + l : l);
    }
  }
  return String(x);
}

/**
 * A coordinate (or any number) as text that reads back to the same double: with at most 7
 * decimals and |x| < 2^29 as plain decimals, anything else as String(x). Below 2^29 doubles are
 * closer together than 10^-7, so one 7-decimal value at most reads back to x and the text has
 * String(x)'s digits; above, two can (the fast path would print a valid but different one).
 */
export function coordText(x: number): string {
  const m = Math.round(x * E7);
  // exact: m × 10^-7 is x itself (division by 10^7 rounds correctly, as does reading the text)
  if (m / E7 !== x || m >= 2 ** 29 * E7 || m <= -(2 ** 29) * E7) return String(x);
  const neg = m < 0;
  const a = neg ? -m : m;
  const ip = Math.floor(a / E7);
  let fp = a - ip * E7;
  if (fp === 0) return neg ? '-' + String(ip) : String(ip);
  let digits = 7;
  while (fp % 10 === 0) {
    fp /= 10;
    digits--;
  }
  const f = String(fp);
  const frac = f.length < digits ? ZEROS.slice(0, digits - f.length) + f : f;
  return (neg ? '-' : '') + String(ip) + '.' + frac;
}
