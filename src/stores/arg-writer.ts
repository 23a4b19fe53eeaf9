/**
 * One Redis argument built as bytes: the batch commit's items, \x1f between them or (packed) as
 * one MessagePack array of strings, written straight into a reused scratch buffer (numbers as
 * digits, strings as UTF-8) and copied out once at the exact size. Building the same argument
 * from JavaScript strings cost a rope of concatenations per trail member (~700 bytes of garbage
 * a ping), flattening, and V8's per-character UTF-8 writer on top.
 *
 * Numbers are written digit by digit where the text is certain, through String() otherwise:
 * - safe integers exactly as String(x) prints them. Epoch milliseconds have 13 digits, too many
 *   for V8's small-integer fast path, so String() runs the general shortest-double algorithm
 *   (~0.17 µs) and allocates a string. Their digits are made in int32 arithmetic (the leading
 *   digits, then the last nine): `%` on a double above 2^31 calls fmod, ~20 ns a digit;
 * - coordinates with up to 7 decimals (tags send no more) and |x| < 2^29 as plain decimals, any
 *   other double as String(x). The text always reads back (Number()) to the same double. Below
 *   2^29 doubles are closer together than 10^-7, so one 7-decimal value at most reads back to x
 *   and the text has String(x)'s digits, except that 1e-7 and the like are written 0.0000001;
 *   above, two can (the fast path would print a valid but different one).
 * Writers on the shared scratch are used one at a time, synchronously: new, write, done.
 */

/** 10^7: the coordinate resolution (~1 cm) of the digit path */
const E7 = 10_000_000;

/** Node's Buffer#utf8Write (what Buffer#write calls after checking its arguments) */
interface Utf8Writable {
  utf8Write(s: string, offset: number, length: number): number;
}

/** shared by all writers (one is in use at a time); kept up to this size between commits */
const SCRATCH_KEPT = 16 * 1024 * 1024;
let scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

const SEP = 0x1f;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;

/** below this, integers are written with int32 arithmetic */
const INT_LIMIT = 2 ** 31;

/** the digits of an integer 0 <= v < 2^31 at b[o..]; returns the offset after them */
function writeInt(b: Buffer, o: number, v: number): number {
  let n = 1;
  for (let p = 10; p <= v; p *= 10) n++;
  const end = o + n;
  let i = end;
  do {
    const q = (v / 10) | 0;
    b[--i] = ZERO + v - q * 10;
    v = q;
  } while (v > 0);
  return end;
}

export class ArgWriter {
  private buf: Buffer;
  private o = 0;
  private items = 0;
  /** packed: where the current item's header is (-1: none yet) */
  private head = -1;

  /**
   * `own`: a buffer of its own instead of the shared scratch (for a writer that may be used while
   * another is). `packed`: the items as one MessagePack array of strings (what Lua's
   * cmsgpack.unpack turns into a table in one C call) instead of joined by \x1f.
   */
  constructor(
    private readonly own = false,
    private readonly packed = false,
  ) {
    this.buf = own ? Buffer.allocUnsafe(256) : scratch;
    if (packed) {
      // array 32, its count written by done()
      this.buf[0] = 0xdd;
      this.o = 5;
    }
  }

  /** starts the next item: the separator before every item but the first, or its header (packed) */
  next(): this {
    if (this.packed) {
      this.endItem();
      this.items++;
      // str 16, its length written when the item ends (str 32 if it outgrows it)
      this.room(3);
      this.head = this.o;
      this.buf[this.o] = 0xda;
      this.o += 3;
      return this;
    }
    if (this.items++ > 0) {
      this.room(1);
      this.buf[this.o++] = SEP;
    }
    return this;
  }

  /** packed: the current item's length into its header */
  private endItem(): void {
    const h = this.head;
    if (h < 0) return;
    const len = this.o - h - 3;
    if (len > 0xffff) {
      this.room(2);
      this.buf.copyWithin(h + 5, h + 3, this.o);
      this.buf[h] = 0xdb;
      this.buf.writeUInt32BE(len, h + 1);
      this.o += 2;
    } else {
      this.buf.writeUInt16BE(len, h + 1);
    }
    this.head = -1;
  }

  /** one ASCII character (by code) */
  char(code: number): this {
    this.room(1);
    this.buf[this.o++] = code;
    return this;
  }

  /** a string as UTF-8 (lone surrogates as U+FFFD, as Buffer.from does) */
  str(s: string): this {
    const n = s.length;
    this.room(3 * n);
    const b = this.buf;
    const o = this.o;
    if (n < 64) {
      // ids, kinds and dates are short and ASCII: a loop beats the native call
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 128) break;
        b[o + i] = c;
      }
      if (i === n) {
        this.o = o + n;
        return this;
      }
    }
    this.o = o + (b as unknown as Utf8Writable).utf8Write(s, o, b.length - o);
    return this;
  }

  /** String(x) for any number; digits without a string for safe integers */
  num(x: number): this {
    if (!Number.isSafeInteger(x)) return this.str(String(x));
    this.room(17);
    const b = this.buf;
    let o = this.o;
    if (x < 0) {
      b[o++] = MINUS;
      x = -x;
    }
    // (-0 is an integer and not < 0: written "0", as String(-0))
    if (x < INT_LIMIT) {
      this.o = writeInt(b, o, x);
      return this;
    }
    // Above 2^31 (epoch milliseconds) `%` on a double is a call to fmod for every digit, so
    // the number is split into two int32s: the leading digits, then the last nine.
    // floor(x / 1e9) is exact: the quotient is at least 1e-9 below the next integer k, and
    // doubles near k < 2^24 are at most 2^-29 apart, so it never rounds up to k.
    const hi = Math.floor(x / 1e9);
    let lo = x - hi * 1e9; // exact: an integer below 2^53
    o = writeInt(b, o, hi);
    for (let i = o + 8; i >= o; i--) {
      const q = (lo / 10) | 0;
      b[i] = ZERO + lo - q * 10;
      lo = q;
    }
    this.o = o + 9;
    return this;
  }

  /** a coordinate: 7-decimal fixed point, or String(x) outside that (see the header) */
  coord(x: number): this {
    const m = Math.round(x * E7);
    if (m / E7 !== x || m >= 2 ** 29 * E7 || m <= -(2 ** 29) * E7) return this.str(String(x));
    const neg = m < 0;
    const a = neg ? -m : m;
    const ip = Math.floor(a / E7);
    let fp = a - ip * E7;
    if (neg) this.char(MINUS);
    this.num(ip);
    if (fp === 0) return this;
    this.room(8);
    const b = this.buf;
    b[this.o++] = DOT;
    for (let i = 6; i >= 0; i--) {
      const d = fp % 10;
      b[this.o + i] = ZERO + d;
      fp = (fp - d) / 10;
    }
    this.o += 7;
    while (b[this.o - 1] === ZERO) this.o--;
    return this;
  }

  /** the bytes written, as a buffer of their own (the scratch is reused by the next writer) */
  done(): Buffer {
    if (this.packed) {
      this.endItem();
      this.buf.writeUInt32BE(this.items, 1);
    }
    const out = Buffer.allocUnsafe(this.o);
    this.buf.copy(out, 0, 0, this.o);
    if (!this.own && this.buf !== scratch && this.buf.length <= SCRATCH_KEPT) scratch = this.buf;
    return out;
  }

  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.o + n));
    this.buf.copy(bigger, 0, 0, this.o);
    this.buf = bigger;
  }
}
