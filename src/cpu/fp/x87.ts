// x87 80-bit extended-precision semantics, bit-exact with x86 hardware (Intel SDM Vol. 1 ch. 8, §4.2.2,
// Table 4-7 NaN rules, §8.1.5 precision/rounding control; Vol. 2 pages of FADD..FYL2XP1). Imports only ./x87fast.ts.
//
// Calling convention: an 80-bit value lives in three uint32 words at (array, i): [lo, hi, se] where
// hi:lo is the 64-bit significand (explicit integer bit = bit 31 of hi) and se = sign<<15 | exponent.
// Ops write results to (d, di) and return status-word bits: IE=1 DE=2 ZE=4 OE=8 UE=0x10 PE=0x20 and the
// condition codes C0=0x100 C1=0x200 C2=0x400 C3=0x4000 they define (C1 = "rounded up" after PE).
// `cw` is the x87 control word (PC bits 8-9, RC bits 10-11, exception masks bits 5-0). Results are the masked
// responses, except that a register result with OE/UE unmasked is the bias-adjusted one (roundTo). With an
// unmasked IE/ZE/DE the hardware leaves the destination unchanged and the next waiting instruction raises #MF:
// that is the caller's job (src/cpu/ops/x87.ts).
// Stack management (TOP, tags, SF stack faults) belongs to the interpreter.
// The common cases of FADD/FSUB/FMUL/FDIV/FSQRT/FCOM/FLD/FST/FILD/FIST (normal operands and zeros, normal
// results) take the non-BigInt fast paths of ./x87fast.ts; everything else (NaN, infinity, denormal operands or
// results, overflow, invalid operations, transcendentals) uses BigInt significand arithmetic below, which is also
// the reference the fast paths are tested against (`bigPath`).

export const enum Sw {
  IE = 0x1, DE = 0x2, ZE = 0x4, OE = 0x8, UE = 0x10, PE = 0x20, SF = 0x40,
  C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000,
}

import { addFast, comFast, divFast, fildFast, fistFast, fldFloatFast, fstFloatFast, mulFast, sqrtFast } from './x87fast.js';

const enum K { ZERO, FIN, INF, QNAN, SNAN, BAD }

const M64 = 0xffffffffffffffffn;
const BIT63 = 0x8000000000000000n;

let FL = 0;

// Unpacked operands A and B (module scratch). value = sig * 2^(exp - 63); sig normalized (bit 63 set) for FIN.
let Ak = K.ZERO, As = 0, Ae = 0, Am = 0n;
let Bk = K.ZERO, Bs = 0, Be = 0, Bm = 0n;

function bitLen(x: bigint): number {
  let n = 0;
  while (x > 0xffffffffn) { x >>= 32n; n += 32; }
  return n + 32 - Math.clz32(Number(x));
}

let Uk = K.ZERO, Us = 0, Ue = 0, Um = 0n;
/** Classifies/normalizes a value into Uk/Us/Ue/Um; raises DE for denormals. */
function unpack(lo: number, hi: number, se: number): void {
  const e = se & 0x7fff;
  Us = (se >> 15) & 1;
  if (e === 0x7fff) {
    Um = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    if (!(hi & 0x80000000)) Uk = K.BAD; // pseudo-infinity / pseudo-NaN
    else if (((hi & 0x7fffffff) | lo) === 0) Uk = K.INF;
    else Uk = hi & 0x40000000 ? K.QNAN : K.SNAN;
    return;
  }
  if (e === 0) {
    if ((hi | lo) === 0) { Uk = K.ZERO; Um = 0n; Ue = 0; return; }
    // denormal or pseudo-denormal: value = sig * 2^(1 - 16383 - 63)
    FL |= Sw.DE;
    let m = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    const sh = 64 - bitLen(m);
    m <<= BigInt(sh);
    Uk = K.FIN; Um = m; Ue = -16382 - sh;
    return;
  }
  if (!(hi & 0x80000000)) { Uk = K.BAD; return; } // unnormal
  Uk = K.FIN; Ue = e - 16383;
  Um = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
function unpackA(a: Uint32Array, ai: number): void {
  unpack(a[ai], a[ai + 1], a[ai + 2]);
  Ak = Uk; As = Us; Ae = Ue; Am = Um;
}
function unpackB(b: Uint32Array, bi: number): void {
  unpack(b[bi], b[bi + 1], b[bi + 2]);
  Bk = Uk; Bs = Us; Be = Ue; Bm = Um;
}

function put(d: Uint32Array, di: number, s: number, e: number, m: bigint): void {
  d[di] = Number(m & 0xffffffffn);
  d[di + 1] = Number((m >> 32n) & 0xffffffffn);
  d[di + 2] = (s << 15) | e;
}
function putDefaultNaN(d: Uint32Array, di: number): void {
  d[di] = 0; d[di + 1] = 0xc0000000; d[di + 2] = 0xffff;
}
function putZero(d: Uint32Array, di: number, s: number): void {
  d[di] = 0; d[di + 1] = 0; d[di + 2] = s << 15;
}
function putInf(d: Uint32Array, di: number, s: number): void {
  d[di] = 0; d[di + 1] = 0x80000000; d[di + 2] = (s << 15) | 0x7fff;
}

// ---------------------------------------------------------------------------------------------
// Rounding: value = ±sig * 2^e2 rounded to p bits within exponent range [emin, emax] (lsb >= lsbMin).
// Results in Rn (p-bit significand, or fewer for denormals), Re (exponent of bit p-1 of Rn as normal), Rsub.

let Rn = 0n;
let Rx = false;
let Rup = false;

function rshiftRound(sig: bigint, sh: number, neg: boolean, rc: number): void {
  if (sh <= 0) { Rn = sig << BigInt(-sh); Rx = false; Rup = false; return; }
  const bs = BigInt(sh);
  let n = sig >> bs;
  const rem = sig & ((1n << bs) - 1n);
  if (rem === 0n) { Rn = n; Rx = false; Rup = false; return; }
  Rx = true;
  const half = 1n << (bs - 1n);
  let up: boolean;
  switch (rc) {
    case 0: up = rem > half || (rem === half && (n & 1n) === 1n); break;
    case 1: up = neg; break;
    case 2: up = !neg; break;
    default: up = false;
  }
  if (up) n += 1n;
  Rn = n; Rup = up;
}

const enum Fmt { F32, F64, X80 }
const FP = [24, 53, 64];
const FEMIN = [-126, -1022, -16382];
const FEMAX = [127, 1023, 16383];

// Result of roundTo: kind (0 zero/finite, 2 inf), exponent of leading bit (normal) or -Infinity marker for denormal.
let Ok = K.FIN;
let Oe = 0; // unbiased exponent of the result's leading bit
let Om = 0n; // significand aligned so that value = Om * 2^(Oe - (p-1)); for denormals Om < 2^(p-1)
let Osub = false;

/** A control word with every exception masked and round-to-nearest (results that cannot overflow or underflow). */
const MASKED_RN = 0x3f;
/** Exponent bias adjustment of an unmasked x87 overflow/underflow result (SDM Vol. 1 §8.5.4, §8.5.5). */
const X87_BIAS_ADJUST = 24576;

/**
 * Rounds ±sig*2^e2 (sig > 0) to the format with precision p (<= format precision) and the rounding control of
 * the control word cw (bits 11:10). x87 and SSE detect tininess after rounding; masked UE only when tiny and
 * inexact. A register (X80) result with OE unmasked in cw that overflows, or with UE unmasked that is tiny (exact
 * or not), is the p-bit rounded value with its exponent decreased/increased by 24576 (SDM Vol. 1 §8.5.4-8.5.5:
 * "the exponent is adjusted ... by 24,576"), with OE/UE, PE if inexact and C1 if rounded up.
 */
function roundTo(neg: boolean, sig: bigint, e2: number, fmt: Fmt, p: number, cw: number): void {
  const rc = (cw >> 10) & 3;
  const emin = FEMIN[fmt], emax = FEMAX[fmt];
  const bl = bitLen(sig);
  let E = e2 + bl - 1;
  Osub = false;
  rshiftRound(sig, bl - p, neg, rc);
  let n = Rn;
  if (bitLen(n) > p) { n >>= 1n; E += 1; }
  // (a result so far out that the adjusted exponent is still out of range, as FSCALE makes, gets the masked response)
  if (fmt === Fmt.X80 && ((E > emax && !(cw & Sw.OE) && E - X87_BIAS_ADJUST <= emax) ||
    (E < emin && !(cw & Sw.UE) && E + X87_BIAS_ADJUST >= emin))) {
    FL |= E > emax ? Sw.OE : Sw.UE;
    if (Rx) FL |= Sw.PE;
    if (Rup) FL |= Sw.C1;
    Ok = K.FIN; Oe = E > emax ? E - X87_BIAS_ADJUST : E + X87_BIAS_ADJUST; Om = n;
    return;
  }
  if (E > emax) {
    FL |= Sw.OE | Sw.PE;
    const inf = rc === 0 || (rc === 1 && neg) || (rc === 2 && !neg);
    if (inf) { Ok = K.INF; FL |= Sw.C1; return; }
    Ok = K.FIN; Oe = emax; Om = (1n << BigInt(p)) - 1n;
    return;
  }
  Ok = K.FIN;
  const Eb = e2 + bl - 1;
  if (Eb < emin) {
    const tiny = E < emin;
    // denormal results keep the quantum of a p-bit format with this exponent range (PC applies to denormals too)
    const lsb = emin - p + 1;
    rshiftRound(sig, lsb - e2, neg, rc);
    n = Rn;
    // value = n * 2^lsb; express relative to the format's normal layout
    if (Rx) FL |= tiny ? Sw.PE | Sw.UE : Sw.PE;
    if (Rup) FL |= Sw.C1;
    if (n === 0n) { Ok = K.ZERO; return; }
    const nb = bitLen(n);
    Oe = lsb + nb - 1;
    Om = n << BigInt(p - nb); // normalized to p bits
    Osub = Oe < emin;
    return;
  }
  if (Rx) FL |= Sw.PE;
  if (Rup) FL |= Sw.C1;
  Oe = E; Om = n;
}

/** Packs the roundTo result (precision p) into an 80-bit value. */
function packX(d: Uint32Array, di: number, s: number, p: number): void {
  if (Ok === K.INF) { putInf(d, di, s); return; }
  if (Ok === K.ZERO) { putZero(d, di, s); return; }
  const m = Om << BigInt(64 - p);
  if (Oe < -16382) { put(d, di, s, 0, m >> BigInt(-16382 - Oe)); return; }
  put(d, di, s, Oe + 16383, m);
}

function pcBits(cw: number): number {
  const pc = (cw >> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

/** NaN propagation for two operands (Table 4-7, x87 column). Returns true if handled. */
function nanPair(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number): boolean {
  if (Ak === K.BAD || Bk === K.BAD) { FL = (FL & ~Sw.DE) | Sw.IE; putDefaultNaN(d, di); return true; }
  const an = Ak === K.QNAN || Ak === K.SNAN, bn = Bk === K.QNAN || Bk === K.SNAN;
  if (!an && !bn) return false;
  FL &= ~Sw.DE;
  if (Ak === K.SNAN || Bk === K.SNAN) FL |= Sw.IE;
  let useA: boolean;
  if (an && bn) {
    if (Ak === K.QNAN && Bk === K.SNAN) useA = true;
    else if (Ak === K.SNAN && Bk === K.QNAN) useA = false;
    else {
      const ma = Am & 0x3fffffffffffffffn, mb = Bm & 0x3fffffffffffffffn;
      useA = ma > mb || (ma === mb && As <= Bs);
    }
  } else useA = an;
  if (useA) { d[di] = a[ai]; d[di + 1] = a[ai + 1] | 0x40000000; d[di + 2] = a[ai + 2]; }
  else { d[di] = b[bi]; d[di + 1] = b[bi + 1] | 0x40000000; d[di + 2] = b[bi + 2]; }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Arithmetic.

function addCore(d: Uint32Array, di: number, sa: number, sb: number, cw: number, p: number): void {
  const rc = (cw >> 10) & 3;
  if (Ak === K.INF || Bk === K.INF) {
    if (Ak === K.INF && Bk === K.INF && sa !== sb) { FL |= Sw.IE; putDefaultNaN(d, di); return; }
    putInf(d, di, Ak === K.INF ? sa : sb);
    return;
  }
  if (Ak === K.ZERO && Bk === K.ZERO) {
    putZero(d, di, sa === sb ? sa : rc === 1 ? 1 : 0);
    return;
  }
  let sig: bigint;
  let e2: number;
  let neg: boolean;
  if (Ak === K.ZERO || Bk === K.ZERO) {
    const z = Ak === K.ZERO;
    sig = z ? Bm : Am; e2 = (z ? Be : Ae) - 63; neg = (z ? sb : sa) === 1;
  } else {
    let X = Am, Y = Bm, xs = sa, ys = sb, d0 = Ae - Be, ex = Ae;
    if (d0 < 0) { X = Bm; Y = Am; xs = sb; ys = sa; d0 = -d0; ex = Be; }
    const sh = d0 > 140 ? 140 : d0;
    X <<= BigInt(sh);
    if (d0 > 140) Y = 1n;
    e2 = ex - 63 - sh;
    let sum = xs === ys ? X + Y : X - Y;
    neg = xs === 1;
    if (sum < 0n) { sum = -sum; neg = !neg; }
    if (sum === 0n) { putZero(d, di, rc === 1 ? 1 : 0); return; }
    sig = sum;
  }
  roundTo(neg, sig, e2, Fmt.X80, p, cw);
  packX(d, di, neg ? 1 : 0, p);
}

/** FADD: d = a + b. */
function faddBig(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackA(a, ai); unpackB(b, bi);
  if (nanPair(d, di, a, ai, b, bi)) return FL;
  addCore(d, di, As, Bs, cw, pcBits(cw));
  return FL;
}
/** FSUB: d = a - b (FSUBR is fsub with operands swapped). */
function fsubBig(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackA(a, ai); unpackB(b, bi);
  if (nanPair(d, di, a, ai, b, bi)) return FL;
  addCore(d, di, As, Bs ^ 1, cw, pcBits(cw));
  return FL;
}
/** FMUL: d = a * b. */
function fmulBig(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackA(a, ai); unpackB(b, bi);
  if (nanPair(d, di, a, ai, b, bi)) return FL;
  const s = As ^ Bs;
  if (Ak === K.INF || Bk === K.INF) {
    if (Ak === K.ZERO || Bk === K.ZERO) { FL = (FL & ~Sw.DE) | Sw.IE; putDefaultNaN(d, di); return FL; }
    putInf(d, di, s); return FL;
  }
  if (Ak === K.ZERO || Bk === K.ZERO) { putZero(d, di, s); return FL; }
  const p = pcBits(cw);
  roundTo(s === 1, Am * Bm, Ae + Be - 126, Fmt.X80, p, cw);
  packX(d, di, s, p);
  return FL;
}
/** FDIV: d = a / b (FDIVR is fdiv with operands swapped). */
function fdivBig(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackA(a, ai); unpackB(b, bi);
  if (nanPair(d, di, a, ai, b, bi)) return FL;
  const s = As ^ Bs;
  if (Ak === K.INF) {
    if (Bk === K.INF) { FL = (FL & ~Sw.DE) | Sw.IE; putDefaultNaN(d, di); return FL; }
    putInf(d, di, s); return FL;
  }
  if (Bk === K.INF) { putZero(d, di, s); return FL; }
  if (Bk === K.ZERO) {
    if (Ak === K.ZERO) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; }
    FL = (FL & ~Sw.DE) | Sw.ZE; putInf(d, di, s); return FL;
  }
  if (Ak === K.ZERO) { putZero(d, di, s); return FL; }
  const n = Am << 128n;
  const q = n / Bm;
  const sig = (q << 1n) | (n - q * Bm !== 0n ? 1n : 0n);
  const p = pcBits(cw);
  roundTo(s === 1, sig, Ae - Be - 129, Fmt.X80, p, cw);
  packX(d, di, s, p);
  return FL;
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  const bl = bitLen(n);
  let x: bigint;
  if (bl > 1000) { const k = BigInt((bl - 100) >> 1); x = (isqrt(n >> (2n * k)) + 1n) << k; }
  else { x = BigInt(Math.floor(Math.sqrt(Number(n)))); x += (x >> 40n) + (1n << 24n); } // start above the root
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** FSQRT: d = sqrt(b). */
function fsqrtBig(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackB(b, bi);
  if (Bk === K.BAD) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; }
  if (Bk === K.QNAN || Bk === K.SNAN) {
    if (Bk === K.SNAN) FL |= Sw.IE;
    d[di] = b[bi]; d[di + 1] = b[bi + 1] | 0x40000000; d[di + 2] = b[bi + 2];
    return FL;
  }
  if (Bk === K.ZERO) { putZero(d, di, Bs); return FL; }
  if (Bs) { FL = (FL & ~Sw.DE) | Sw.IE; putDefaultNaN(d, di); return FL; }
  if (Bk === K.INF) { putInf(d, di, 0); return FL; }
  let e2 = Be - 63;
  const k = (e2 & 1) ? 71 : 70; // e2 - k even
  const n = Bm << BigInt(k);
  const r = isqrt(n);
  const sig = (r << 1n) | (r * r !== n ? 1n : 0n);
  e2 = (e2 - k) / 2 - 1;
  const p = pcBits(cw);
  roundTo(false, sig, e2, Fmt.X80, p, cw);
  packX(d, di, 0, p);
  return FL;
}

// ---------------------------------------------------------------------------------------------
// Compares.

/**
 * FCOM/FUCOM (and FCOMI/FUCOMI): compares a with b. Returns status bits with C3/C2/C0
 * (a>b: 000, a<b: C0, a=b: C3, unordered: C3|C2|C0). `unordered`=true for FUCOM (IE only on SNaN).
 * For FCOMI map C0->CF, C2->PF, C3->ZF (see comiFlags).
 */
function fcomBig(a: Uint32Array, ai: number, b: Uint32Array, bi: number, unordered: boolean): number {
  FL = 0; unpackA(a, ai); unpackB(b, bi);
  if (Ak === K.BAD || Bk === K.BAD || Ak === K.SNAN || Bk === K.SNAN) return (FL & ~Sw.DE) | Sw.IE | Sw.C0 | Sw.C2 | Sw.C3;
  if (Ak === K.QNAN || Bk === K.QNAN) return (unordered ? FL & ~Sw.DE : (FL & ~Sw.DE) | Sw.IE) | Sw.C0 | Sw.C2 | Sw.C3;
  const c = cmpVal();
  return FL | (c < 0 ? Sw.C0 : c > 0 ? 0 : Sw.C3);
}

/** Converts fcom's result to EFLAGS bits for FCOMI/FUCOMI: ZF=0x40, PF=4, CF=1 (exceptions dropped). */
export function comiFlags(sw: number): number {
  return (sw & Sw.C0 ? 1 : 0) | (sw & Sw.C2 ? 4 : 0) | (sw & Sw.C3 ? 0x40 : 0);
}

/** Ordered comparison of finite/inf/zero A and B: -1, 0, 1. */
function cmpVal(): number {
  const za = Ak === K.ZERO, zb = Bk === K.ZERO;
  if (za && zb) return 0;
  const va = za ? 0 : As ? -1 : 1, vb = zb ? 0 : Bs ? -1 : 1;
  if (va !== vb) return va < vb ? -1 : 1;
  // same sign, both nonzero
  let c: number;
  if (Ak === K.INF || Bk === K.INF) c = Ak === Bk ? 0 : Ak === K.INF ? 1 : -1;
  else c = Ae !== Be ? (Ae > Be ? 1 : -1) : Am === Bm ? 0 : Am > Bm ? 1 : -1;
  return va < 0 ? -c : c;
}

// ---------------------------------------------------------------------------------------------
// Rounding to integer, scale, extract.

/** FRNDINT: d = round-to-integer(b) per RC. */
export function frndint(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackB(b, bi);
  if (unaryNaN(d, di, b, bi)) return FL;
  if (Bk !== K.FIN || Be >= 63) { copy(d, di, b, bi); return FL; }
  const rc = (cw >> 10) & 3;
  rshiftRound(Bm, 63 - Be, Bs === 1, rc);
  if (Rx) FL |= Sw.PE;
  if (Rup) FL |= Sw.C1;
  if (Rn === 0n) { putZero(d, di, Bs); return FL; }
  const nb = bitLen(Rn);
  put(d, di, Bs, nb - 1 + 16383, Rn << BigInt(64 - nb));
  return FL;
}

function copy(d: Uint32Array, di: number, b: Uint32Array, bi: number): void {
  d[di] = b[bi]; d[di + 1] = b[bi + 1]; d[di + 2] = b[bi + 2];
}

function unaryNaN(d: Uint32Array, di: number, b: Uint32Array, bi: number): boolean {
  if (Bk === K.BAD) { FL = (FL & ~Sw.DE) | Sw.IE; putDefaultNaN(d, di); return true; }
  if (Bk === K.QNAN || Bk === K.SNAN) {
    if (Bk === K.SNAN) FL |= Sw.IE;
    d[di] = b[bi]; d[di + 1] = b[bi + 1] | 0x40000000; d[di + 2] = b[bi + 2];
    return true;
  }
  return false;
}

/** FSCALE: d = a * 2^trunc(b). */
export function fscale(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackA(a, ai); unpackB(b, bi);
  if (nanPair(d, di, a, ai, b, bi)) return FL;
  if (Bk === K.INF) {
    if (Bs) { // scale by -inf
      if (Ak === K.INF) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; }
      putZero(d, di, As); return FL;
    }
    if (Ak === K.ZERO) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; }
    if (Ak === K.INF) { putInf(d, di, As); return FL; }
    putInf(d, di, As); return FL;
  }
  if (Ak !== K.FIN) { copy(d, di, a, ai); return FL; }
  let n = 0;
  if (Bk === K.FIN && Be >= 0) n = Be > 20 ? 1 << 20 : Number(Bm >> BigInt(63 - Be));
  if (Bs) n = -n;
  roundTo(As === 1, Am, Ae - 63 + n, Fmt.X80, 64, cw);
  packX(d, di, As, 64);
  return FL;
}

/** FXTRACT: d = significand of b (exponent 0), e = exponent of b as an 80-bit value. */
export function fxtract(d: Uint32Array, di: number, e: Uint32Array, ei: number, b: Uint32Array, bi: number): number {
  FL = 0; unpackB(b, bi);
  if (unaryNaN(d, di, b, bi)) { copy(e, ei, d, di); return FL; }
  if (Bk === K.ZERO) { FL |= Sw.ZE; putZero(d, di, Bs); putInf(e, ei, 1); return FL; }
  if (Bk === K.INF) { putInf(d, di, Bs); putInf(e, ei, 0); return FL; }
  put(d, di, Bs, 16383, Bm);
  intToX(e, ei, BigInt(Be));
  return FL;
}

function intToX(d: Uint32Array, di: number, v: bigint): void {
  if (v === 0n) { putZero(d, di, 0); return; }
  const s = v < 0n ? 1 : 0;
  const m = s ? -v : v;
  const nb = bitLen(m);
  put(d, di, s, nb - 1 + 16383, m << BigInt(64 - nb));
}

/**
 * FPREM (round=false, truncating quotient) / FPREM1 (round=true, IEEE remainder): d = partial remainder a rem b.
 * Returns C2 set when the reduction is incomplete, else C0/C3/C1 = quotient bits 2/1/0 (C0=q2, C3=q1, C1=q0).
 */
export function fprem(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, round: boolean, cw = MASKED_RN): number {
  FL = 0; unpackA(a, ai); unpackB(b, bi);
  remCw = cw & 0x3f; // the remainder is exact: only the exception masks (unmasked UE) matter
  if (nanPair(d, di, a, ai, b, bi)) return FL;
  if (Ak === K.INF || Bk === K.ZERO) { FL = (FL & ~Sw.DE) | Sw.IE; putDefaultNaN(d, di); return FL; }
  if (Ak === K.ZERO || Bk === K.INF) { copy(d, di, a, ai); if (Ak === K.FIN) normalizeOut(d, di, As, Ae, Am); return FL; }
  const dexp = Ae - Be;
  if (dexp < 0 && !(round && dexp === -1)) { normalizeOut(d, di, As, Ae, Am); return FL; }
  if (dexp >= 64) {
    // partial reduction: reduce the exponent difference by some N in [32, 63]
    const N = 32 + (dexp & 31);
    const sh = dexp - N;
    // q = trunc(a / (b * 2^sh)) computed on significands: a/b*2^-sh = Am/Bm * 2^(dexp - sh)
    const q = (Am << BigInt(N)) / Bm;
    const r = (Am << BigInt(N)) - q * Bm; // remainder scaled: value r * 2^(Be - 63 + sh)
    finishRem(d, di, As, r, Be - 63 + sh);
    return FL | Sw.C2;
  }
  let q: bigint;
  let r: bigint;
  let e2: number;
  if (dexp >= 0) {
    const num = Am << BigInt(dexp);
    q = num / Bm; r = num - q * Bm; e2 = Be - 63;
  } else { // dexp === -1, FPREM1 only: |a| in [|b|/4, |b|)
    q = 0n; r = Am; e2 = Ae - 63;
  }
  let neg = As === 1;
  if (round) {
    // IEEE remainder: quotient rounded to nearest even
    const twice = r << 1n;
    const bb = dexp >= 0 ? Bm : Bm << 1n;
    if (twice > bb || (twice === bb && (q & 1n) === 1n)) {
      q += 1n;
      r = dexp >= 0 ? Bm - r : (Bm << 1n) - r;
      neg = !neg;
      if (dexp < 0) e2 = Ae - 63;
    }
  }
  finishRem(d, di, neg ? 1 : 0, r, e2, As);
  return FL | (q & 4n ? Sw.C0 : 0) | (q & 2n ? Sw.C3 : 0) | (q & 1n ? Sw.C1 : 0);
}

let remCw = MASKED_RN;
function finishRem(d: Uint32Array, di: number, s: number, r: bigint, e2: number, zs = s): void {
  if (r === 0n) { putZero(d, di, zs); return; }
  roundTo(s === 1, r, e2, Fmt.X80, 64, remCw);
  packX(d, di, s, 64);
}

function normalizeOut(d: Uint32Array, di: number, s: number, e: number, m: bigint): void {
  roundTo(s === 1, m, e - 63, Fmt.X80, 64, remCw);
  packX(d, di, s, 64);
}

// ---------------------------------------------------------------------------------------------
// Conversions.

/** FLD m32 (is64=false) / FLD m64: float bits (b[bi] or b[bi..bi+1]) -> 80-bit. SNaN quieted + IE, denormal DE. */
function fldFloatBig(d: Uint32Array, di: number, b: Uint32Array, bi: number, is64: boolean): number {
  FL = 0;
  let s: number, e: number, m: bigint, ebits: number, mbits: number, bias: number;
  if (is64) {
    const lo = b[bi], hi = b[bi + 1];
    s = hi >>> 31; e = (hi >>> 20) & 0x7ff; m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo >>> 0); ebits = 0x7ff; mbits = 52; bias = 1023;
  } else {
    const w = b[bi];
    s = w >>> 31; e = (w >>> 23) & 0xff; m = BigInt(w & 0x7fffff); ebits = 0xff; mbits = 23; bias = 127;
  }
  if (e === ebits) {
    if (m === 0n) { putInf(d, di, s); return FL; }
    if (!((m >> BigInt(mbits - 1)) & 1n)) FL |= Sw.IE;
    put(d, di, s, 0x7fff, BIT63 | (1n << 62n) | (m << BigInt(63 - mbits)));
    return FL;
  }
  if (e === 0) {
    if (m === 0n) { putZero(d, di, s); return FL; }
    FL |= Sw.DE;
    const nb = bitLen(m);
    put(d, di, s, (1 - bias - (mbits - nb + 1)) + 16383, m << BigInt(64 - nb));
    return FL;
  }
  put(d, di, s, e - bias + 16383, BIT63 | (m << BigInt(63 - mbits)));
  return FL;
}

/** FST m32 / FST m64: 80-bit b -> float bits written to d[di] (or d[di..di+1]), rounded per RC (not PC). */
function fstFloatBig(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number, is64: boolean): number {
  FL = 0; unpackB(b, bi); FL = 0; // stores do not report DE
  const fmt = is64 ? Fmt.F64 : Fmt.F32;
  const mbits = is64 ? 52 : 23;
  let s = Bs, e = 0, m = 0n;
  switch (Bk) {
    case K.BAD: FL |= Sw.IE; s = 1; e = -1; m = 1n << BigInt(mbits - 1); break;
    case K.SNAN: case K.QNAN:
      if (Bk === K.SNAN) FL |= Sw.IE;
      e = -1; m = ((Um & 0x7fffffffffffffffn) >> BigInt(63 - mbits)) | (1n << BigInt(mbits - 1));
      break;
    case K.INF: e = -1; m = 0n; break;
    case K.ZERO: e = -2; break;
    default: {
      roundTo(Bs === 1, Bm, Be - 63, fmt, FP[fmt], cw);
      if (Ok === K.INF) { e = -1; m = 0n; }
      else if (Ok === K.ZERO) e = -2;
      else if (Oe < FEMIN[fmt]) { e = 0; m = Om >> BigInt(FEMIN[fmt] - Oe); }
      else { e = Oe + FEMAX[fmt]; m = Om & ((1n << BigInt(mbits)) - 1n); }
    }
  }
  if (e === -2) e = 0;
  else if (e === -1) e = is64 ? 0x7ff : 0xff;
  if (is64) {
    d[di] = Number(m & 0xffffffffn);
    d[di + 1] = ((s << 31) | (e << 20) | Number(m >> 32n)) >>> 0;
  } else d[di] = ((s << 31) | (e << 23) | Number(m)) >>> 0;
  return FL;
}

/** FILD m16/m32/m64: signed integer words (lo[, hi]) -> 80-bit (exact). bits = 16, 32 or 64. */
function fildBig(d: Uint32Array, di: number, b: Uint32Array, bi: number, bits: 16 | 32 | 64): number {
  let v: bigint;
  if (bits === 64) v = BigInt.asIntN(64, (BigInt(b[bi + 1] >>> 0) << 32n) | BigInt(b[bi] >>> 0));
  else if (bits === 32) v = BigInt(b[bi] | 0);
  else v = BigInt((b[bi] << 16) >> 16);
  intToX(d, di, v);
  return 0;
}

/**
 * FIST/FISTP (trunc=false, RC rounding) and FISTTP (trunc=true): 80-bit b -> signed integer of `bits` bits
 * written to d[di] (16/32 bits, zero-extended word) or d[di..di+1]. Overflow/NaN -> integer indefinite + IE.
 */
function fistBig(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number, bits: 16 | 32 | 64, trunc: boolean): number {
  FL = 0; unpackB(b, bi); FL = 0; // stores do not report DE
  let v = 0n;
  let bad = Bk === K.BAD || Bk === K.QNAN || Bk === K.SNAN || Bk === K.INF;
  if (!bad && Bk === K.FIN) {
    const rc = trunc ? 3 : (cw >> 10) & 3;
    if (Be >= 63) { rshiftRound(Bm, 0, Bs === 1, rc); Rn = Bm << BigInt(Be - 63); }
    else rshiftRound(Bm, 63 - Be, Bs === 1, rc);
    v = Bs ? -Rn : Rn;
    const lim = 1n << BigInt(bits - 1);
    if (v < -lim || v >= lim) bad = true;
    else { if (Rx) FL |= Sw.PE; if (Rup) FL |= Sw.C1; }
  }
  if (bad) {
    FL = (FL & ~Sw.DE) | Sw.IE;
    if (bits === 64) { d[di] = 0; d[di + 1] = 0x80000000; } else d[di] = bits === 32 ? 0x80000000 : 0x8000;
    return FL;
  }
  const u = BigInt.asUintN(64, v);
  if (bits === 64) { d[di] = Number(u & 0xffffffffn); d[di + 1] = Number(u >> 32n); }
  else if (bits === 32) d[di] = Number(u & 0xffffffffn);
  else d[di] = Number(u & 0xffffn);
  return FL;
}

// ---------------------------------------------------------------------------------------------
// Transcendentals (FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1).
// Evaluated in BigInt fixed point with >= 256 fraction bits (more for tiny arguments), then rounded once
// to 64 bits per RC (PC does not apply). FSIN/FCOS/FPTAN reduce the argument modulo the 66-bit pi the
// x87 uses (0xC90FDAA22168C234C * 2^-66), as the hardware does. The results are thus correctly rounded
// values of that model; the hardware's are within 1 ulp of them (SDM Vol. 1 8.3.10), so last-bit and C1
// differences remain (test/fp/x87.test.ts holds both to an mpmath reference).

const PI66 = 0xc90fdaa22168c234cn; // * 2^-66
const WB = 256;
let constW = 0;
let PI_W = 0n;
let LN2_W = 0n;

function fxMul(a: bigint, b: bigint, w: number): bigint {
  const p = a * b; // truncate toward zero so alternating series terms reach 0
  return p < 0n ? -((-p) >> BigInt(w)) : p >> BigInt(w);
}
function fxDiv(a: bigint, b: bigint, w: number): bigint { return (a << BigInt(w)) / b; }

/** atan(1/n) for integer n, fixed point w. */
function atanInv(n: bigint, w: number): bigint {
  const one = 1n << BigInt(w);
  let term = one / n;
  let sum = term;
  const n2 = n * n;
  for (let k = 1n; term !== 0n; k++) {
    term = term / n2;
    const t = term / (2n * k + 1n);
    sum += k & 1n ? -t : t;
  }
  return sum;
}
/** atanh(s) for fixed-point s (|s| <= 1/2). */
function atanhFx(s: bigint, w: number): bigint {
  const s2 = fxMul(s, s, w);
  let p = s;
  let sum = s;
  for (let k = 3n; ; k += 2n) {
    p = fxMul(p, s2, w);
    const t = p / k;
    if (t === 0n) break;
    sum += t;
  }
  return sum;
}
function consts(w: number): void {
  if (constW >= w) return;
  const ww = w + 16;
  PI_W = (16n * atanInv(5n, ww) - 4n * atanInv(239n, ww)) >> 16n;
  LN2_W = (2n * atanhFx((1n << BigInt(ww)) / 3n, ww)) >> 16n;
  constW = w;
}
function piFx(w: number): bigint { consts(w); return PI_W >> BigInt(constW - w); }
function ln2Fx(w: number): bigint { consts(w); return LN2_W >> BigInt(constW - w); }

/** sin and cos of fixed-point r (|r| < 2), into SIN/COS. */
let SIN = 0n;
let COS = 0n;
function sincosFx(r: bigint, w: number): void {
  const r2 = fxMul(r, r, w);
  let t = r;
  let s = r;
  for (let n = 1n; t !== 0n; n++) { t = -fxMul(t, r2, w) / ((2n * n) * (2n * n + 1n)); s += t; }
  t = 1n << BigInt(w);
  let c = t;
  for (let n = 1n; t !== 0n; n++) { t = -fxMul(t, r2, w) / ((2n * n - 1n) * (2n * n)); c += t; }
  SIN = s; COS = c;
}

/** Fixed-point value of the unpacked finite operand (sign applied), w fraction bits. */
function toFx(s: number, e: number, m: bigint, w: number): bigint {
  const sh = w + e - 63;
  const v = sh >= 0 ? m << BigInt(sh) : m >> BigInt(-sh);
  return s ? -v : v;
}

/** Rounds a fixed-point approximation (never exact) to 80 bits with RC; writes d. */
function fxOut(d: Uint32Array, di: number, v: bigint, w: number, cw: number): void {
  if (v === 0n) { putZero(d, di, 0); return; }
  const neg = v < 0n;
  const m = neg ? -v : v;
  roundTo(neg, (m << 1n) | 1n, -w - 1, Fmt.X80, 64, cw);
  packX(d, di, neg ? 1 : 0, 64);
}

/** Working precision for a finite operand with exponent e (keeps relative precision for tiny ones). */
function wFor(e: number): number { return e < 0 ? WB - e : WB; }

/**
 * sin x, tan x and cos x of a tiny x (|x| < 2^-40): the exact value lies just below |x| (sin), just above |x|
 * (tan) or just below 1 (cos), by less than 2^-80 relative, far from any other rounding boundary; rounding
 * that (with C1, PE and, for a denormal result, UE) gives the correctly rounded result in every RC. The
 * fixed-point path would lose the correction below its working precision and round the wrong way.
 */
function trigTiny(d: Uint32Array, di: number, kind: number, cw: number): boolean {
  if (Bk !== K.FIN || Be >= -40) return false;
  const neg = kind !== 0 && Bs !== 0;
  if (kind === 0) roundTo(false, (1n << 66n) - 1n, -66, Fmt.X80, 64, cw); // cos: 1 - tiny
  else roundTo(neg, (Bm << 2n) + (kind > 0 ? 1n : -1n), Be - 63 - 2, Fmt.X80, 64, cw);
  packX(d, di, neg ? 1 : 0, 64);
  return true;
}
const TINY_COS = 0, TINY_TAN = 1, TINY_SIN = -1;

function trigPrologue(d: Uint32Array, di: number, b: Uint32Array, bi: number): number {
  // returns -1 if handled (NaN/invalid/out of range), else 0
  if (unaryNaN(d, di, b, bi)) return -1;
  if (Bk === K.INF) { FL |= Sw.IE; putDefaultNaN(d, di); return -1; }
  if (Bk === K.FIN && Be >= 63) { copy(d, di, b, bi); FL |= Sw.C2; return -1; }
  return 0;
}

/**
 * Reduces |B| by the nearest multiple k of P = pi66/2 in fixed point: QR = |B| - k*P in [-P/2, P/2], QK = k mod 4.
 * Nearest, not floor: just below P, cos(x) is sin(P - x) as on the hardware, not the true cosine (which
 * differs relatively by far more than an ulp there, because P is not pi/2). The caller applies the sign of B.
 */
let QK = 0;
let QR = 0n;
function reduce(w: number): void {
  const x = toFx(0, Be, Bm, w);
  const p2 = PI66 << BigInt(w - 67);
  const q = (x + (p2 >> 1n)) / p2;
  QR = x - q * p2;
  QK = Number(q & 3n);
}

/** FSIN: d = sin(b). C2 set (and d = b) if |b| >= 2^63. */
export function fsin(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackB(b, bi);
  if (trigPrologue(d, di, b, bi)) return FL;
  if (Bk === K.ZERO) { copy(d, di, b, bi); return FL; }
  if (trigTiny(d, di, TINY_SIN, cw)) return FL;
  const w = wFor(Be);
  reduce(w); sincosFx(QR, w);
  let v = QK === 0 ? SIN : QK === 1 ? COS : QK === 2 ? -SIN : -COS;
  if (Bs) v = -v;
  fxOut(d, di, v, w, cw);
  return FL;
}
/** FCOS: d = cos(b). */
export function fcos(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackB(b, bi);
  if (trigPrologue(d, di, b, bi)) return FL;
  if (Bk === K.ZERO) { put(d, di, 0, 16383, BIT63); return FL; }
  if (trigTiny(d, di, TINY_COS, cw)) return FL;
  const w = wFor(Be);
  reduce(w); sincosFx(QR, w);
  const v = QK === 0 ? COS : QK === 1 ? -SIN : QK === 2 ? -COS : SIN;
  fxOut(d, di, v, w, cw);
  return FL;
}
/** FSINCOS: s = sin(b), c = cos(b) (the instruction leaves cos in ST0 and sin in ST1). */
export function fsincos(s: Uint32Array, si: number, c: Uint32Array, ci: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackB(b, bi);
  if (trigPrologue(s, si, b, bi)) { copy(c, ci, s, si); return FL; }
  if (Bk === K.ZERO) { copy(s, si, b, bi); put(c, ci, 0, 16383, BIT63); return FL; }
  if (Bk === K.FIN && Be < -40) { // C1 is that of ST0 (cos)
    const f0 = FL;
    trigTiny(s, si, TINY_SIN, cw);
    const fs = FL;
    FL = f0;
    trigTiny(c, ci, TINY_COS, cw);
    return FL | (fs & ~Sw.C1);
  }
  const w = wFor(Be);
  reduce(w); sincosFx(QR, w);
  let vs = QK === 0 ? SIN : QK === 1 ? COS : QK === 2 ? -SIN : -COS;
  if (Bs) vs = -vs;
  const vc = QK === 0 ? COS : QK === 1 ? -SIN : QK === 2 ? -COS : SIN;
  const f0 = FL;
  fxOut(s, si, vs, w, cw);
  const fs = FL;
  FL = f0;
  fxOut(c, ci, vc, w, cw);
  return FL | (fs & ~Sw.C1);
}
/** FPTAN: d = tan(b) (the instruction then pushes 1.0). */
export function fptan(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackB(b, bi);
  if (trigPrologue(d, di, b, bi)) return FL;
  if (Bk === K.ZERO) { copy(d, di, b, bi); return FL; }
  if (trigTiny(d, di, TINY_TAN, cw)) return FL;
  const w = wFor(Be);
  reduce(w); sincosFx(QR, w);
  let v = QK & 1 ? -fxDiv(COS, SIN, w) : fxDiv(SIN, COS, w);
  if (Bs) v = -v;
  fxOut(d, di, v, w, cw);
  return FL;
}

/** atan(t) for fixed-point 0 <= t. */
function atanFx(t: bigint, w: number): bigint {
  const one = 1n << BigInt(w);
  let inv = false;
  if (t > one) { t = fxDiv(one, t, w); inv = true; }
  // two angle halvings: t' = t / (1 + sqrt(1 + t^2))
  for (let i = 0; i < 3; i++) t = fxDiv(t, one + isqrt((one + fxMul(t, t, w)) << BigInt(w)), w);
  const t2 = fxMul(t, t, w);
  let p = t;
  let sum = t;
  for (let k = 3n; ; k += 2n) {
    p = -fxMul(p, t2, w);
    const q = p / k;
    if (q === 0n) break;
    sum += q;
  }
  sum <<= 3n;
  return inv ? (piFx(w) >> 1n) - sum : sum;
}

/** FPATAN: d = atan2(y, x) where y = ST1, x = ST0. */
export function fpatan(d: Uint32Array, di: number, y: Uint32Array, yi: number, x: Uint32Array, xi: number, cw: number): number {
  FL = 0; unpackA(y, yi); unpackB(x, xi);
  if (nanPair(d, di, y, yi, x, xi)) return FL;
  const w = Ak === K.FIN && Bk === K.FIN ? WB + Math.max(0, Be - Ae) : WB;
  const pi = piFx(w);
  let v: bigint;
  if (Ak === K.ZERO) {
    if (Bs === 0) { putZero(d, di, As); return FL; }
    v = pi;
  } else if (Bk === K.ZERO) v = pi >> 1n;
  else if (Ak === K.INF) v = Bk === K.INF ? (Bs ? (pi * 3n) >> 2n : pi >> 2n) : pi >> 1n;
  else if (Bk === K.INF) {
    if (Bs === 0) { putZero(d, di, As); return FL; }
    v = pi;
  } else {
    // |y|/|x| in fixed point with enough bits
    const q = (Am << BigInt(w + 64)) / Bm;
    const sh = Ae - Be - 64;
    const t = sh >= 0 ? q << BigInt(sh) : q >> BigInt(-sh);
    v = atanFx(t, w);
    if (Bs) v = pi - v;
  }
  fxOut(d, di, As ? -v : v, w, cw);
  return FL;
}

/** F2XM1: d = 2^b - 1 (defined for -1 <= b <= 1). */
export function f2xm1(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  FL = 0; unpackB(b, bi);
  if (unaryNaN(d, di, b, bi)) return FL;
  if (Bk === K.ZERO) { copy(d, di, b, bi); return FL; }
  if (Bk === K.INF) { if (Bs) put(d, di, 1, 16383, BIT63); else putInf(d, di, 0); return FL; }
  if (Be === 0 && Bm === BIT63) { // exactly +-1
    if (Bs) put(d, di, 1, 16382, BIT63); else put(d, di, 0, 16383, BIT63);
    return FL;
  }
  // |x| > 1 is outside the domain: the hardware leaves x unchanged and reports PE (the series would not end)
  if (Be >= 0) { copy(d, di, b, bi); return Sw.PE; }
  const w = wFor(Be);
  const z = fxMul(toFx(Bs, Be, Bm, w), ln2Fx(w), w);
  // e^z - 1 = z + z^2/2! + ...
  let t = z;
  let sum = z;
  for (let n = 2n; t !== 0n; n++) { t = fxMul(t, z, w) / n; sum += t; }
  fxOut(d, di, sum, w, cw);
  return FL;
}

/** ln(m) for fixed-point m > 0. */
function lnFx(m: bigint, w: number): bigint {
  const one = 1n << BigInt(w);
  let k = 0;
  while (m >= one * 2n) { m >>= 1n; k++; }
  while (m < one) { m <<= 1n; k--; }
  // m in [1,2): ln m = 2 atanh((m-1)/(m+1))
  return 2n * atanhFx(fxDiv(m - one, m + one, w), w) + BigInt(k) * ln2Fx(w);
}

/** FYL2X: d = y * log2(x) where y = ST1, x = ST0. */
export function fyl2x(d: Uint32Array, di: number, y: Uint32Array, yi: number, x: Uint32Array, xi: number, cw: number): number {
  return ylog(d, di, y, yi, x, xi, cw, false);
}
/** FYL2XP1: d = y * log2(x + 1) where y = ST1, x = ST0 (|x| < 1 - sqrt(2)/2). */
export function fyl2xp1(d: Uint32Array, di: number, y: Uint32Array, yi: number, x: Uint32Array, xi: number, cw: number): number {
  // Outside the documented range, as the host does (checked on the raw bits, before NaN handling):
  // x <= -1 leaves x unchanged with PE; x >= 2 is y * log2(x + 1) through FYL2X, with PE.
  const e = x[xi + 2] & 0x7fff;
  // x = +-infinity (outside the domain): the indefinite with IE, as Intel and AMD CPUs give; NaNs propagate first
  if (e === 0x7fff && x[xi + 1] === 0x80000000 && x[xi] === 0) {
    FL = 0; unpackA(y, yi); unpackB(x, xi);
    if (nanPair(d, di, y, yi, x, xi)) return FL;
    putDefaultNaN(d, di);
    return Sw.IE;
  }
  if (e !== 0x7fff && e >= 16383) {
    if (x[xi + 2] & 0x8000) { copy(d, di, x, xi); return Sw.PE; }
    if (e >= 16384) {
      fadd(XP1, 0, x, xi, XP1_ONE, 0, 0x37f);
      return fyl2x(d, di, y, yi, XP1, 0, cw) | Sw.PE;
    }
  }
  return ylog(d, di, y, yi, x, xi, cw, true);
}
const XP1 = new Uint32Array(3);
const XP1_ONE = Uint32Array.of(0, 0x80000000, 16383);

function ylog(d: Uint32Array, di: number, y: Uint32Array, yi: number, x: Uint32Array, xi: number, cw: number, p1: boolean): number {
  FL = 0; unpackA(y, yi); unpackB(x, xi);
  if (nanPair(d, di, y, yi, x, xi)) return FL;
  if (!p1) {
    // invalid and divide-by-zero outrank a denormal operand (SDM Vol. 1 4.9.2): no DE with them
    if (Bs && Bk !== K.ZERO) { FL = (FL & ~Sw.DE) | Sw.IE; putDefaultNaN(d, di); return FL; }
    if (Bk === K.ZERO) {
      if (Ak === K.ZERO) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; }
      if (Ak === K.INF) { putInf(d, di, As ^ 1); return FL; } // inf * log2(0): no divide-by-zero (SDM "FYL2X" table)
      FL = (FL & ~Sw.DE) | Sw.ZE; putInf(d, di, As ^ 1); return FL;
    }
    if (Bk === K.INF) {
      if (Ak === K.ZERO) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; }
      putInf(d, di, As); return FL;
    }
    if (Ak === K.INF) {
      if (Be === 0 && Bm === BIT63) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; }
      putInf(d, di, As ^ (Be < 0 ? 1 : 0)); return FL;
    }
    if (Ak === K.ZERO) { putZero(d, di, As ^ (Be < 0 ? 1 : 0)); return FL; }
    if (Bm === BIT63) { // x = 2^Be: exact log
      if (Be === 0) { putZero(d, di, As); return FL; }
      const m = BigInt(Math.abs(Be));
      const nb = bitLen(m);
      roundTo(false, Am * m, Ae - 63, Fmt.X80, 64, cw);
      packX(d, di, As ^ (Be < 0 ? 1 : 0), 64);
      void nb;
      // the hardware reports PE (and UE for a tiny result) even when this product is exact
      return FL | Sw.PE | (!(FL & Sw.OE) && (Oe < -16382 || Ok === K.ZERO) ? Sw.UE : 0);
    }
  } else {
    if (Bk === K.ZERO) { if (Ak === K.INF) { FL |= Sw.IE; putDefaultNaN(d, di); return FL; } putZero(d, di, As ^ Bs); return FL; }
    if (Ak === K.ZERO) { putZero(d, di, As ^ Bs); return FL; }
    if (Ak === K.INF || Bk === K.INF) { putInf(d, di, As ^ Bs); return FL; }
  }
  const w = (p1 ? wFor(Be) : WB + 64);
  let l: bigint;
  if (p1) {
    const xv = toFx(Bs, Be, Bm, w);
    // for |x| >= 1/2, 1 + x is exact in fixed point and ln(1 + x) converges fast; the atanh series of
    // x / (2 + x) would need ~2^63 terms as x approaches -1
    if (Be >= -1) l = lnFx((1n << BigInt(w)) + xv, w);
    else l = 2n * atanhFx(fxDiv(xv, (2n << BigInt(w)) + xv, w), w);
  } else l = lnFx(toFx(0, 0, Bm, w), w) + BigInt(Be) * ln2Fx(w);
  l = fxDiv(l, ln2Fx(w), w); // log2
  // multiply by y (exact significand) keeping full precision: value = l * Am * 2^(Ae-63) / 2^w
  const prod = l * Am;
  const neg = (prod < 0n) !== (As === 1);
  const m = prod < 0n ? -prod : prod;
  roundTo(neg, (m << 1n) | 1n, Ae - 63 - w - 1, Fmt.X80, 64, cw);
  packX(d, di, neg ? 1 : 0, 64);
  return FL;
}

// ---------------------------------------------------------------------------------------------
// Public entry points: fast path first, BigInt reference when it declines (returns -1).

/** FADD: d = a + b. */
export function fadd(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  const r = addFast(d, di, a, ai, b, bi, cw, 0);
  return r >= 0 ? r : faddBig(d, di, a, ai, b, bi, cw);
}
/** FSUB: d = a - b (FSUBR is fsub with operands swapped). */
export function fsub(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  const r = addFast(d, di, a, ai, b, bi, cw, 0x8000);
  return r >= 0 ? r : fsubBig(d, di, a, ai, b, bi, cw);
}
/** FMUL: d = a * b. */
export function fmul(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  const r = mulFast(d, di, a, ai, b, bi, cw);
  return r >= 0 ? r : fmulBig(d, di, a, ai, b, bi, cw);
}
/** FDIV: d = a / b (FDIVR is fdiv with operands swapped). */
export function fdiv(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  const r = divFast(d, di, a, ai, b, bi, cw);
  return r >= 0 ? r : fdivBig(d, di, a, ai, b, bi, cw);
}
/** FSQRT: d = sqrt(b). */
export function fsqrt(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  const r = sqrtFast(d, di, b, bi, cw);
  return r >= 0 ? r : fsqrtBig(d, di, b, bi, cw);
}
/**
 * FCOM/FUCOM (and FCOMI/FUCOMI): compares a with b. Returns status bits with C3/C2/C0
 * (a>b: 000, a<b: C0, a=b: C3, unordered: C3|C2|C0). `unordered`=true for FUCOM (IE only on SNaN).
 * For FCOMI map C0->CF, C2->PF, C3->ZF (see comiFlags).
 */
export function fcom(a: Uint32Array, ai: number, b: Uint32Array, bi: number, unordered: boolean): number {
  const r = comFast(a, ai, b, bi);
  return r >= 0 ? r : fcomBig(a, ai, b, bi, unordered);
}
/** FLD m32 (is64=false) / FLD m64: float bits (b[bi] or b[bi..bi+1]) -> 80-bit. SNaN quieted + IE, denormal DE. */
export function fldFloat(d: Uint32Array, di: number, b: Uint32Array, bi: number, is64: boolean): number {
  const r = fldFloatFast(d, di, b, bi, is64);
  return r >= 0 ? r : fldFloatBig(d, di, b, bi, is64);
}
/** FST m32 / FST m64: 80-bit b -> float bits written to d[di] (or d[di..di+1]), rounded per RC (not PC). */
export function fstFloat(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number, is64: boolean): number {
  const r = fstFloatFast(d, di, b, bi, cw, is64);
  return r >= 0 ? r : fstFloatBig(d, di, b, bi, cw, is64);
}
/** FILD m16/m32/m64: signed integer words (lo[, hi]) -> 80-bit (exact). bits = 16, 32 or 64. */
export function fild(d: Uint32Array, di: number, b: Uint32Array, bi: number, bits: 16 | 32 | 64): number {
  return fildFast(d, di, b, bi, bits);
}
/**
 * FIST/FISTP (trunc=false, RC rounding) and FISTTP (trunc=true): 80-bit b -> signed integer of `bits` bits
 * written to d[di] (16/32 bits, zero-extended word) or d[di..di+1]. Overflow/NaN -> integer indefinite + IE.
 */
export function fist(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number, bits: 16 | 32 | 64, trunc: boolean): number {
  const r = fistFast(d, di, b, bi, cw, bits, trunc);
  return r >= 0 ? r : fistBig(d, di, b, bi, cw, bits, trunc);
}

/** The BigInt implementations of the fast-pathed operations (reference for tests and benchmarks). */
export const bigPath = {
  fadd: faddBig, fsub: fsubBig, fmul: fmulBig, fdiv: fdivBig, fsqrt: fsqrtBig, fcom: fcomBig,
  fldFloat: fldFloatBig, fstFloat: fstFloatBig, fild: fildBig, fist: fistBig,
};
