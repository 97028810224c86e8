// SSE/SSE2 scalar floating-point semantics (float32 / float64), bit-exact with x86 hardware.
// Pure functions over raw bit patterns held in Uint32Arrays; MXCSR in, exception flags out. Imports nothing.
// References: Intel SDM Vol. 1 §4.8 (NaN rules, Table 4-7), §10.2.3 (MXCSR), §11.5 (SIMD FP exceptions);
// Vol. 2 pages of ADDSS..SQRTSD, MINSS/MAXSS, CMPSS, COMISS/UCOMISS, CVT*.
//
// Calling convention (every exported op):
//   - a float32 is one uint32 word; a float64 is two words [lo, hi] at (array, index).
//   - results are written to (d, di); the return value is the MXCSR exception bits raised
//     (IE=1 DE=2 ZE=4 OE=8 UE=16 PE=32) which the caller ORs into MXCSR.
//   - All exceptions are assumed MASKED (the power-on default). With an unmasked exception the
//     hardware would not write the destination and would raise #XM (or #UD if CR4.OSXMMEXCPT=0);
//     the caller must compare `flags & ~(mxcsr >> 7) & 0x3f` and, if nonzero, deliver the fault
//     (for unmasked UE/OE the hardware would also deliver a differently biased result; not modelled).
//   - No allocation; module-level scratch only. Not re-entrant (single-threaded JS is fine).

export const enum Mx {
  IE = 0x1, DE = 0x2, ZE = 0x4, OE = 0x8, UE = 0x10, PE = 0x20, DAZ = 0x40,
  RC_SHIFT = 13, FTZ = 0x8000, DEFAULT = 0x1f80,
}

/** EFLAGS bits produced by COMISS/UCOMISS (ZF, PF, CF; OF/SF/AF are cleared). */
export const enum CmpFlags { CF = 0x1, PF = 0x4, ZF = 0x40 }

const f64 = new Float64Array(1);
const u64 = new Uint32Array(f64.buffer);
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

const TWO64 = 18446744073709551616;
const MAX_F32 = 3.4028234663852886e38;
const MIN_NORM64 = 2.2250738585072014e-308;
const MIN_NORM32 = 1.1754943508222875e-38;

/** Exception flags raised by the operation in progress. */
let FL = 0;

/** 2^k for k in [-1074, 1023] at index k + 1074: a table, not a bit pattern written as two words and read as
 *  a double (that store-to-load pattern stalls the CPU's store forwarding on every call). */
const POW2 = new Float64Array(2098);
for (let k = -1074, v = Number.MIN_VALUE; k <= 1023; k++, v *= 2) POW2[k + 1074] = v; // MIN_VALUE = 2^-1074

/** 2^k exactly, k in [-1074, 1023]. */
function pow2(k: number): number {
  return POW2[k + 1074];
}

/** x * 2^k exactly (as long as the result is representable). */
function ldexp(x: number, k: number): number {
  while (k > 1000) { x *= pow2(1000); k -= 1000; }
  while (k < -1000) { x *= pow2(-1000); k += 1000; }
  return x * pow2(k);
}

/** Unbiased binary exponent of a finite nonzero double (subnormals handled). */
function expOf(x: number): number {
  f64[0] = x;
  const e = (u64[1] >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  f64[0] = x * TWO64;
  return ((u64[1] >>> 20) & 0x7ff) - 1087;
}

function isNeg(x: number): boolean {
  return x < 0 || (x === 0 && 1 / x < 0);
}

// Error-free product (Dekker/Veltkamp). Valid when no overflow/underflow occurs.
/** twoProd result (hi, lo): a typed array, since doubles stored in module variables are boxed per store. */
const TP = new Float64Array(2);
function twoProd(a: number, b: number): void {
  const p = a * b;
  let t = 134217729 * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = 134217729 * b;
  const bh = t - (t - b);
  const bl = b - bh;
  TP[0] = p;
  TP[1] = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

// ---------------------------------------------------------------------------------------------
// Exact rounding of a double-double to float32/float64 with every MXCSR rounding mode.

let Qn = 0; // integer count of quanta (truncated)
let Qx = false; // inexact
let Qc = 0; // remainder vs half quantum: -1 below, 0 tie, 1 above

/** Splits (hi+lo)*2^k into integer part Qn and remainder class (Qx, Qc). Requires |lo| <= half a quantum of hi. */
function quant(hi: number, lo: number, k: number): void {
  const sc = pow2(k);
  const t = hi * sc;
  let n = Math.floor(t);
  const frac = t - n;
  const l = lo * sc;
  if (frac === 0) {
    if (l === 0) { Qx = false; Qc = -1; }
    else if (l > 0) { Qx = true; Qc = l < 0.5 ? -1 : l === 0.5 ? 0 : 1; }
    else { n -= 1; Qx = true; Qc = l > -0.5 ? 1 : l === -0.5 ? 0 : -1; }
  } else {
    Qx = true;
    Qc = frac < 0.5 ? -1 : frac > 0.5 ? 1 : l > 0 ? 1 : l < 0 ? -1 : 0;
  }
  Qn = n;
}

function roundsUp(neg: boolean, rc: number): boolean {
  switch (rc) {
    case 0: return Qc > 0 || (Qc === 0 && Qn % 2 === 1);
    case 1: return neg;
    case 2: return !neg;
    default: return false;
  }
}

function overflow(neg: boolean, dbl: boolean, rc: number): number {
  FL |= Mx.OE | Mx.PE;
  const inf = rc === 0 || (rc === 1 && neg) || (rc === 2 && !neg);
  const mag = inf ? Infinity : dbl ? Number.MAX_VALUE : MAX_F32;
  return neg ? -mag : mag;
}

/**
 * Rounds the exact value ±(hi + lo) * 2^s to float32 (dbl=false) or float64, per MXCSR.
 * Preconditions: hi > 0 normal with |log2 hi| < 200; |lo| <= ulp(hi)/2 (hi is the nearest double).
 * Tininess is detected after rounding (x86); masked UE is raised only when tiny AND inexact;
 * FTZ flushes a tiny result to ±0 raising UE|PE (SDM Vol. 1 §10.2.3.3).
 */
function roundDD(neg: boolean, hi: number, lo: number, s: number, dbl: boolean, mx: number): number {
  const p = dbl ? 53 : 24;
  const emin = dbl ? -1022 : -126;
  const emax = dbl ? 1023 : 127;
  const rc = (mx >>> 13) & 3;
  f64[0] = hi;
  let e = ((u64[1] >>> 20) & 0x7ff) - 1023;
  if (lo < 0 && (u64[1] & 0xfffff) === 0 && u64[0] === 0) e -= 1; // value lies just below a power of two
  const E = e + s;
  if (E > emax) return overflow(neg, dbl, rc);
  if (E < emin - p - 1) {
    // far below the smallest subnormal: pure sticky
    FL |= Mx.UE | Mx.PE;
    if (mx & Mx.FTZ) return neg ? -0 : 0;
    const u = rc === 1 ? neg : rc === 2 ? !neg : false;
    const m = u ? pow2(emin - p + 1) : 0;
    return neg ? -m : m;
  }
  let qe = E - p + 1;
  quant(hi, lo, s - qe);
  let n = Qn;
  if (Qx && roundsUp(neg, rc)) n += 1;
  let Er = E;
  if (n === (dbl ? 9007199254740992 : 16777216)) Er = E + 1; // 2^p (a constant: `2 ** p` is a pow call)
  if (Er > emax) return overflow(neg, dbl, rc);
  if (E < emin) {
    const tiny = Er < emin;
    if (tiny && (mx & Mx.FTZ)) { FL |= Mx.UE | Mx.PE; return neg ? -0 : 0; }
    qe = emin - p + 1;
    quant(hi, lo, s - qe);
    n = Qn;
    if (Qx) {
      if (roundsUp(neg, rc)) n += 1;
      FL |= tiny ? Mx.PE | Mx.UE : Mx.PE;
    }
  } else if (Qx) FL |= Mx.PE;
  const m = n * pow2(qe);
  return neg ? -m : m;
}

// ---------------------------------------------------------------------------------------------
// Arithmetic on decoded values (non-NaN doubles holding exact float32/float64 values).
// A NaN return value means "invalid operation: produce the default NaN" (IE already raised).

function addV(x: number, y: number, dbl: boolean, mx: number): number {
  if (x === Infinity || x === -Infinity) {
    if (y === -x) { FL |= Mx.IE; return NaN; }
    return x;
  }
  if (y === Infinity || y === -Infinity) return y;
  const rc = (mx >>> 13) & 3;
  if (x === 0 && y === 0) {
    const nx = 1 / x < 0;
    if (nx === 1 / y < 0) return x;
    return rc === 1 ? -0 : 0;
  }
  let m: number;
  let A: number;
  let B: number;
  if (x === 0) { m = expOf(y); A = 0; B = ldexp(y, -m); }
  else if (y === 0) { m = expOf(x); A = ldexp(x, -m); B = 0; }
  else {
    const ex = expOf(x);
    const ey = expOf(y);
    if (ex >= ey) {
      m = ex; A = ldexp(x, -m);
      B = ex - ey > 900 ? (y < 0 ? -1e-280 : 1e-280) : ldexp(y, -m);
    } else {
      m = ey; B = ldexp(y, -m);
      A = ey - ex > 900 ? (x < 0 ? -1e-280 : 1e-280) : ldexp(x, -m);
    }
  }
  const h = A + B;
  if (h === 0) return rc === 1 ? -0 : 0;
  const bb = h - A;
  const l = (A - (h - bb)) + (B - bb);
  return h < 0 ? roundDD(true, -h, -l, m, dbl, mx) : roundDD(false, h, l, m, dbl, mx);
}

function mulV(x: number, y: number, dbl: boolean, mx: number): number {
  const neg = isNeg(x) !== isNeg(y);
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  if (ax === Infinity || ay === Infinity) {
    if (ax === 0 || ay === 0) { FL |= Mx.IE; return NaN; }
    return neg ? -Infinity : Infinity;
  }
  if (ax === 0 || ay === 0) return neg ? -0 : 0;
  const ex = expOf(ax);
  const ey = expOf(ay);
  twoProd(ldexp(ax, -ex), ldexp(ay, -ey));
  return roundDD(neg, TP[0], TP[1], ex + ey, dbl, mx);
}

function divV(x: number, y: number, dbl: boolean, mx: number): number {
  const neg = isNeg(x) !== isNeg(y);
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  if (ax === Infinity) {
    if (ay === Infinity) { FL |= Mx.IE; return NaN; }
    return neg ? -Infinity : Infinity;
  }
  if (ay === Infinity) return neg ? -0 : 0;
  if (ay === 0) {
    if (ax === 0) { FL |= Mx.IE; return NaN; }
    FL = (FL & ~Mx.DE) | Mx.ZE; // divide-by-zero takes precedence over a denormal dividend
    return neg ? -Infinity : Infinity;
  }
  if (ax === 0) return neg ? -0 : 0;
  const ex = expOf(ax);
  const ey = expOf(ay);
  const mxn = ldexp(ax, -ex);
  const myn = ldexp(ay, -ey);
  const h = mxn / myn;
  twoProd(h, myn);
  const r = (mxn - TP[0]) - TP[1]; // sign of the exact remainder
  let l = 0;
  if (r !== 0) {
    f64[0] = h;
    const pw2 = (u64[1] & 0xfffff) === 0 && u64[0] === 0;
    const ulp = pow2(expOf(h) - 52);
    const tie = pw2 && r < 0 ? ulp * 0.25 : ulp * 0.5;
    const mag = Math.abs(r) === myn * tie ? tie : tie * 0.5;
    l = r < 0 ? -mag : mag;
  }
  return roundDD(neg, h, l, ex - ey, dbl, mx);
}

function sqrtV(x: number, dbl: boolean, mx: number): number {
  if (x === 0 || x === Infinity) return x;
  if (x < 0) { FL = (FL & ~Mx.DE) | Mx.IE; return NaN; } // invalid takes precedence over denormal
  let e = expOf(x);
  if (e & 1) e -= 1;
  const m = ldexp(x, -e);
  const h = Math.sqrt(m);
  twoProd(h, h);
  const r = (m - TP[0]) - TP[1];
  const l = r === 0 ? 0 : r < 0 ? -pow2(expOf(h) - 55) : pow2(expOf(h) - 55);
  return roundDD(false, h, l, e / 2, dbl, mx);
}

// ---------------------------------------------------------------------------------------------
// Decode / encode.

/** Value of a non-NaN float64 given as words; applies DAZ, raises DE for a denormal operand. A normal number
 *  is rebuilt arithmetically ((2^52 + significand) * 2^(e - 1075), exact), not by writing the two words and
 *  reading them back as a double, which stalls store forwarding. */
function dec64(lo: number, hi: number, mx: number): number {
  const e = (hi >>> 20) & 0x7ff;
  if (e !== 0 && e !== 0x7ff) {
    const m = ((hi & 0xfffff) * 4294967296 + (lo >>> 0) + 4503599627370496) * POW2[e - 1];
    return (hi >>> 31) !== 0 ? -m : m;
  }
  if (e === 0 && ((hi & 0xfffff) | lo) !== 0) {
    if (mx & Mx.DAZ) return hi < 0 || hi >>> 31 ? -0 : 0;
    FL |= Mx.DE;
  }
  u64[0] = lo;
  u64[1] = hi;
  return f64[0];
}

function dec32(w: number, mx: number): number {
  if ((w & 0x7f800000) === 0 && (w & 0x7fffff) !== 0) {
    if (mx & Mx.DAZ) return w >>> 31 ? -0 : 0;
    FL |= Mx.DE;
  }
  u32[0] = w;
  return f32[0];
}

function enc64(d: Uint32Array, di: number, v: number): void {
  if (v !== v) { d[di] = 0; d[di + 1] = 0xfff80000; return; }
  f64[0] = v;
  d[di] = u64[0];
  d[di + 1] = u64[1];
}

function enc32(v: number): number {
  if (v !== v) return 0xffc00000;
  f32[0] = v;
  return u32[0];
}

function isNaN64(lo: number, hi: number): boolean {
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0;
}
function isSNaN64(lo: number, hi: number): boolean {
  return isNaN64(lo, hi) && (hi & 0x80000) === 0;
}
function isNaN32(w: number): boolean {
  return (w & 0x7f800000) === 0x7f800000 && (w & 0x7fffff) !== 0;
}
function isSNaN32(w: number): boolean {
  return isNaN32(w) && (w & 0x400000) === 0;
}

// ---------------------------------------------------------------------------------------------
// Binary arithmetic drivers.

const enum Op { ADD, SUB, MUL, DIV }

function arith(op: Op, x: number, y: number, dbl: boolean, mx: number): number {
  switch (op) {
    case Op.ADD: return addV(x, y, dbl, mx);
    case Op.SUB: return addV(x, -y, dbl, mx);
    case Op.MUL: return mulV(x, y, dbl, mx);
    default: return divV(x, y, dbl, mx);
  }
}

function sdBin(op: Op, d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mx: number): number {
  FL = 0;
  const alo = a[ai], ahi = a[ai + 1], blo = b[bi], bhi = b[bi + 1];
  const an = isNaN64(alo, ahi), bn = isNaN64(blo, bhi);
  if (an || bn) {
    // SDM Vol. 1 Table 4-7: SSE returns the first source operand's NaN (quieted) if it is a NaN.
    if (isSNaN64(alo, ahi) || isSNaN64(blo, bhi)) FL |= Mx.IE;
    if (an) { d[di] = alo; d[di + 1] = ahi | 0x80000; } else { d[di] = blo; d[di + 1] = bhi | 0x80000; }
    return FL;
  }
  const x = dec64(alo, ahi, mx);
  const y = dec64(blo, bhi, mx);
  if ((mx & 0x6000) === 0 && op !== Op.DIV) {
    // fast path: round-to-nearest with a normal finite result; only PE can be raised. No calls here with a
    // double argument (twoProd and enc64 written out): a call V8 does not inline boxes each double it passes
    let r: number;
    let err: number;
    if (op === Op.MUL) {
      r = x * y;
      const ar = Math.abs(r);
      if (ar >= 2.0e-292 && ar <= Number.MAX_VALUE && Math.abs(x) < 1e298 && Math.abs(y) < 1e298) {
        // the rounding error of x * y (Dekker's product, as twoProd)
        let t = 134217729 * x;
        const xh = t - (t - x), xl = x - xh;
        t = 134217729 * y;
        const yh = t - (t - y), yl = y - yh;
        err = ((xh * yh - r) + xh * yl + xl * yh) + xl * yl;
        f64[0] = r; d[di] = u64[0]; d[di + 1] = u64[1];
        return err !== 0 ? FL | Mx.PE : FL;
      }
    } else {
      const yy = op === Op.SUB ? -y : y;
      r = x + yy;
      const ar = Math.abs(r);
      if (ar >= MIN_NORM64 && ar <= Number.MAX_VALUE) {
        const bb = r - x;
        err = (x - (r - bb)) + (yy - bb);
        f64[0] = r; d[di] = u64[0]; d[di + 1] = u64[1];
        return err !== 0 ? FL | Mx.PE : FL;
      }
    }
  }
  return sdSlow(op, d, di, x, y, mx);
}

/** sdBin's general case (directed rounding, DIV, results near the range's ends): exact rounding. */
function sdSlow(op: Op, d: Uint32Array, di: number, x: number, y: number, mx: number): number {
  enc64(d, di, arith(op, x, y, true, mx));
  return FL;
}

function ssBin(op: Op, d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mx: number): number {
  FL = 0;
  const aw = a[ai], bw = b[bi];
  const an = isNaN32(aw), bn = isNaN32(bw);
  if (an || bn) {
    if (isSNaN32(aw) || isSNaN32(bw)) FL |= Mx.IE;
    d[di] = (an ? aw | 0x400000 : bw | 0x400000) >>> 0;
    return FL;
  }
  const x = dec32(aw, mx);
  const y = dec32(bw, mx);
  if ((mx & 0x6000) === 0 && op === Op.MUL) {
    const r = x * y; // exact in double (24x24 bits)
    const fr = Math.fround(r);
    const ar = Math.abs(fr);
    if (ar >= MIN_NORM32 && ar <= MAX_F32) {
      d[di] = enc32(fr);
      return fr !== r ? FL | Mx.PE : FL;
    }
  }
  d[di] = enc32(arith(op, x, y, false, mx));
  return FL;
}

/** ADDSD: d = a + b (float64). */
export function addsd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return sdBin(Op.ADD, d, di, a, ai, b, bi, mxcsr);
}
/** SUBSD: d = a - b (float64). */
export function subsd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return sdBin(Op.SUB, d, di, a, ai, b, bi, mxcsr);
}
/** MULSD: d = a * b (float64). */
export function mulsd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return sdBin(Op.MUL, d, di, a, ai, b, bi, mxcsr);
}
/** DIVSD: d = a / b (float64). */
export function divsd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return sdBin(Op.DIV, d, di, a, ai, b, bi, mxcsr);
}
/** ADDSS: d = a + b (float32). */
export function addss(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return ssBin(Op.ADD, d, di, a, ai, b, bi, mxcsr);
}
/** SUBSS: d = a - b (float32). */
export function subss(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return ssBin(Op.SUB, d, di, a, ai, b, bi, mxcsr);
}
/** MULSS: d = a * b (float32). */
export function mulss(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return ssBin(Op.MUL, d, di, a, ai, b, bi, mxcsr);
}
/** DIVSS: d = a / b (float32). */
export function divss(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return ssBin(Op.DIV, d, di, a, ai, b, bi, mxcsr);
}

/** SQRTSD: d = sqrt(b) (float64). */
export function sqrtsd(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number): number {
  FL = 0;
  const lo = b[bi], hi = b[bi + 1];
  if (isNaN64(lo, hi)) {
    if ((hi & 0x80000) === 0) FL |= Mx.IE;
    d[di] = lo; d[di + 1] = hi | 0x80000;
    return FL;
  }
  enc64(d, di, sqrtV(dec64(lo, hi, mxcsr), true, mxcsr));
  return FL;
}
/** SQRTSS: d = sqrt(b) (float32). */
export function sqrtss(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number): number {
  FL = 0;
  const w = b[bi];
  if (isNaN32(w)) {
    if ((w & 0x400000) === 0) FL |= Mx.IE;
    d[di] = (w | 0x400000) >>> 0;
    return FL;
  }
  d[di] = enc32(sqrtV(dec32(w, mxcsr), false, mxcsr));
  return FL;
}

// ---------------------------------------------------------------------------------------------
// MIN/MAX: dest = (a < b) ? a : b  (resp. a > b). If either is a NaN (QNaN too: IE) or both are
// zero, the SECOND operand b is returned unchanged (an SNaN is NOT quieted).

function minmax64(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mx: number, max: boolean): number {
  FL = 0;
  const alo = a[ai], ahi = a[ai + 1], blo = b[bi], bhi = b[bi + 1];
  if (isNaN64(alo, ahi) || isNaN64(blo, bhi)) {
    enc64(d, di, isNaN64(blo, bhi) ? 0 : dec64(blo, bhi, mx)); // DAZ flushes a denormal b here too
    if (isNaN64(blo, bhi)) { d[di] = blo; d[di + 1] = bhi; }
    return Mx.IE;
  }
  const x = dec64(alo, ahi, mx);
  const y = dec64(blo, bhi, mx);
  const pickA = max ? x > y : x < y;
  enc64(d, di, pickA ? x : y);
  return FL;
}
function minmax32(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mx: number, max: boolean): number {
  FL = 0;
  const aw = a[ai], bw = b[bi];
  if (isNaN32(aw) || isNaN32(bw)) { d[di] = isNaN32(bw) ? bw : enc32(dec32(bw, mx)); return Mx.IE; }
  const x = dec32(aw, mx);
  const y = dec32(bw, mx);
  const pickA = max ? x > y : x < y;
  d[di] = enc32(pickA ? x : y);
  return FL;
}
/** MINSD. */
export function minsd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return minmax64(d, di, a, ai, b, bi, mxcsr, false);
}
/** MAXSD. */
export function maxsd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return minmax64(d, di, a, ai, b, bi, mxcsr, true);
}
/** MINSS. */
export function minss(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return minmax32(d, di, a, ai, b, bi, mxcsr, false);
}
/** MAXSS. */
export function maxss(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number): number {
  return minmax32(d, di, a, ai, b, bi, mxcsr, true);
}

// ---------------------------------------------------------------------------------------------
// Compares. Predicate truth per outcome (bit0 LT, bit1 EQ, bit2 GT, bit3 UNORDERED) for CMPPS imm 0..15;
// imm 16..31 (VEX) have the same truth with the QNaN-signalling behaviour inverted.
const CMP_TRUTH = [2, 1, 3, 8, 13, 14, 12, 7, 10, 9, 11, 0, 5, 6, 4, 15];
const CMP_SIGNALS = [0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0];

function cmpOutcome(x: number, y: number): number {
  return x < y ? 1 : x === y ? 2 : 4;
}

/** CMPSD with predicate imm (0..31): writes an all-ones/all-zeros 64-bit mask. */
export function cmpsd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, imm: number, mxcsr: number): number {
  FL = 0;
  const alo = a[ai], ahi = a[ai + 1], blo = b[bi], bhi = b[bi + 1];
  const p = imm & 15;
  const sig = CMP_SIGNALS[p] ^ ((imm >> 4) & 1);
  let o: number;
  if (isNaN64(alo, ahi) || isNaN64(blo, bhi)) {
    if (sig || isSNaN64(alo, ahi) || isSNaN64(blo, bhi)) FL |= Mx.IE;
    o = 8;
  } else o = cmpOutcome(dec64(alo, ahi, mxcsr), dec64(blo, bhi, mxcsr));
  const r = CMP_TRUTH[p] & o ? 0xffffffff : 0;
  d[di] = r; d[di + 1] = r;
  return FL;
}
/** CMPSS with predicate imm (0..31): writes an all-ones/all-zeros 32-bit mask. */
export function cmpss(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, imm: number, mxcsr: number): number {
  FL = 0;
  const aw = a[ai], bw = b[bi];
  const p = imm & 15;
  const sig = CMP_SIGNALS[p] ^ ((imm >> 4) & 1);
  let o: number;
  if (isNaN32(aw) || isNaN32(bw)) {
    if (sig || isSNaN32(aw) || isSNaN32(bw)) FL |= Mx.IE;
    o = 8;
  } else o = cmpOutcome(dec32(aw, mxcsr), dec32(bw, mxcsr));
  d[di] = CMP_TRUTH[p] & o ? 0xffffffff : 0;
  return FL;
}

const COMI_FLAGS = [0, CmpFlags.CF, CmpFlags.ZF, 0, 0, 0, 0, 0, CmpFlags.ZF | CmpFlags.PF | CmpFlags.CF];

/**
 * COMISD (ordered: IE on any NaN) / UCOMISD (unordered: IE only on SNaN).
 * Returns `exceptionFlags | (eflags << 8)` where eflags holds ZF/PF/CF (OF, SF, AF are to be cleared).
 */
export function comisd(a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number, unordered: boolean): number {
  FL = 0;
  const alo = a[ai], ahi = a[ai + 1], blo = b[bi], bhi = b[bi + 1];
  let o: number;
  if (isNaN64(alo, ahi) || isNaN64(blo, bhi)) {
    if (!unordered || isSNaN64(alo, ahi) || isSNaN64(blo, bhi)) FL |= Mx.IE;
    o = 8;
  } else o = cmpOutcome(dec64(alo, ahi, mxcsr), dec64(blo, bhi, mxcsr));
  return FL | (COMI_FLAGS[o] << 8);
}
/** COMISS / UCOMISS; result encoding as comisd. */
export function comiss(a: Uint32Array, ai: number, b: Uint32Array, bi: number, mxcsr: number, unordered: boolean): number {
  FL = 0;
  const aw = a[ai], bw = b[bi];
  let o: number;
  if (isNaN32(aw) || isNaN32(bw)) {
    if (!unordered || isSNaN32(aw) || isSNaN32(bw)) FL |= Mx.IE;
    o = 8;
  } else o = cmpOutcome(dec32(aw, mxcsr), dec32(bw, mxcsr));
  return FL | (COMI_FLAGS[o] << 8);
}

// ---------------------------------------------------------------------------------------------
// Float <-> float conversions.

/** CVTSS2SD / CVTPS2PD lane: float32 b -> float64 d (exact; SNaN quieted with IE; DE on denormal). */
export function cvtss2sd(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number): number {
  FL = 0;
  const w = b[bi];
  if (isNaN32(w)) {
    if ((w & 0x400000) === 0) FL |= Mx.IE;
    const m = w & 0x7fffff;
    d[di] = (m << 29) >>> 0;
    d[di + 1] = ((w & 0x80000000) | 0x7ff80000 | (m >>> 3)) >>> 0;
    return FL;
  }
  enc64(d, di, dec32(w, mxcsr));
  return FL;
}

/** CVTSD2SS / CVTPD2PS lane: float64 b -> float32 d, rounded per MXCSR. */
export function cvtsd2ss(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number): number {
  FL = 0;
  const lo = b[bi], hi = b[bi + 1];
  if (isNaN64(lo, hi)) {
    if ((hi & 0x80000) === 0) FL |= Mx.IE;
    d[di] = ((hi & 0x80000000) | 0x7fc00000 | ((hi & 0xfffff) << 3) | (lo >>> 29)) >>> 0;
    return FL;
  }
  const x = dec64(lo, hi, mxcsr);
  const ax = Math.abs(x);
  let r: number;
  if (ax === 0 || ax === Infinity) r = x;
  else {
    const e = expOf(ax);
    r = roundDD(x < 0, ldexp(ax, -e), 0, e, false, mxcsr);
  }
  d[di] = enc32(r);
  return FL;
}

// ---------------------------------------------------------------------------------------------
// Integer <-> float conversions.

/** Rounds a finite double to an integer-valued double per rounding control rc. */
function rint(x: number, rc: number): number {
  switch (rc) {
    case 0: {
      const ax = Math.abs(x);
      if (ax >= 4503599627370496) return x;
      const r = (ax + 4503599627370496) - 4503599627370496; // ties-to-even by the host FPU
      return x < 0 || (x === 0 && 1 / x < 0) ? -r : r;
    }
    case 1: return Math.floor(x);
    case 2: return Math.ceil(x);
    default: return Math.trunc(x);
  }
}

/** Converts a decoded finite value to int32/int64 result words, or the integer indefinite. */
function toInt(d: Uint32Array, di: number, x: number, rc: number, is64: boolean): void {
  const r = rint(x, rc);
  if (is64) {
    if (!(r >= -9223372036854775808 && r < 9223372036854775808)) {
      FL |= Mx.IE; d[di] = 0; d[di + 1] = 0x80000000; return;
    }
    if (r !== x) FL |= Mx.PE;
    const h = Math.floor(r / 4294967296);
    d[di] = (r - h * 4294967296) >>> 0;
    d[di + 1] = h >>> 0;
  } else {
    if (!(r >= -2147483648 && r <= 2147483647)) { FL |= Mx.IE; d[di] = 0x80000000; return; }
    if (r !== x) FL |= Mx.PE;
    d[di] = r >>> 0;
  }
}

/**
 * CVTSD2SI / CVTTSD2SI (trunc=true) / CVTPD2DQ / CVTTPD2DQ lane: float64 b -> int32 (is64=false, one word)
 * or int64 (two words). NaN or out of range -> integer indefinite (0x80000000[00000000]) and IE.
 */
export function cvtsd2si(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number, trunc: boolean, is64: boolean): number {
  FL = 0;
  const lo = b[bi], hi = b[bi + 1];
  if ((hi & 0x7ff00000) === 0x7ff00000) { // NaN or infinity
    FL = Mx.IE;
    if (is64) { d[di] = 0; d[di + 1] = 0x80000000; } else d[di] = 0x80000000;
    return FL;
  }
  const x = dec64(lo, hi, mxcsr);
  FL &= ~Mx.DE; // conversions to integer do not report DE (SDM: exceptions Invalid, Precision)
  toInt(d, di, x, trunc ? 3 : (mxcsr >>> 13) & 3, is64);
  return FL;
}
/** CVTSS2SI / CVTTSS2SI / CVTPS2DQ / CVTTPS2DQ lane: float32 b -> int32/int64. */
export function cvtss2si(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number, trunc: boolean, is64: boolean): number {
  FL = 0;
  const w = b[bi];
  if ((w & 0x7f800000) === 0x7f800000) {
    FL = Mx.IE;
    if (is64) { d[di] = 0; d[di + 1] = 0x80000000; } else d[di] = 0x80000000;
    return FL;
  }
  const x = dec32(w, mxcsr);
  FL &= ~Mx.DE;
  toInt(d, di, x, trunc ? 3 : (mxcsr >>> 13) & 3, is64);
  return FL;
}

/** Exact value of a signed integer in words (lo[, hi]) as a double-double, then rounded. */
function intToFloat(lo: number, hi: number, is64: boolean, dbl: boolean, mx: number): number {
  let H: number;
  let L: number;
  if (is64) { H = (hi | 0) * 4294967296; L = lo >>> 0; } else { H = lo | 0; L = 0; }
  const s = H + L;
  if (s === 0) return 0;
  const bb = s - H;
  const e = (H - (s - bb)) + (L - bb);
  if (s < 0) return roundDD(true, -s, -e, 0, dbl, mx);
  return roundDD(false, s, e, 0, dbl, mx);
}

/** CVTSI2SD (int32 or int64 source in b) / CVTDQ2PD lane. */
export function cvtsi2sd(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number, is64: boolean): number {
  FL = 0;
  enc64(d, di, intToFloat(b[bi], is64 ? b[bi + 1] : 0, is64, true, mxcsr));
  return FL;
}
/** CVTSI2SS (int32 or int64 source) / CVTDQ2PS lane. */
export function cvtsi2ss(d: Uint32Array, di: number, b: Uint32Array, bi: number, mxcsr: number, is64: boolean): number {
  FL = 0;
  d[di] = enc32(intToFloat(b[bi], is64 ? b[bi + 1] : 0, is64, false, mxcsr));
  return FL;
}
