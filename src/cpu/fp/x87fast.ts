// Non-BigInt fast paths for the common x87 cases (finite normal operands and zeros), used by ./x87.ts before
// its BigInt reference code. Same calling convention as x87.ts: an 80-bit value is [lo, hi, se] at (array, i),
// results go to (d, di), the return value is the status-word bits (PE=0x20, C1=0x200 = "rounded up", C0/C3 for
// compares). Every function returns -1 (and leaves d untouched) when it declines: an operand is a NaN, infinity,
// denormal, pseudo-denormal or unnormal, or the result would overflow or be tiny (denormal/underflow), or the
// operation raises IE/ZE. The fast paths are exact wherever they answer (test/fp/x87fast.test.ts checks them
// against the host FPU and against the BigInt path).
//
// Significands are handled as 32-bit words held in plain numbers; products use 16-bit limbs (16x16 partial
// products summed in doubles stay below 2^53, so everything is exact). An intermediate result is a 96-bit
// significand H:L:X (H bit 31 set) whose lowest bit may carry a "jammed" sticky bit for the bits below X.
// Imports nothing; allocates nothing.

const TWO32 = 4294967296;
const INV16 = 1 / 65536; // multiplying by it is an exact (and cheaper) division by 2^16
const PE = 0x20, C0 = 0x100, C1 = 0x200, C3 = 0x4000;

// Scratch registers. They live in a Float64Array: module-level `let` numbers outside the Smi range would be
// boxed (a heap allocation) on every write.
const enum I { RH, RL, RC, P0, P1, P2, P3, T0, T1, T2, T3, T4, T5, TV, D0, D1, D2, D3, RSH, RSL }
const S = new Float64Array(20);
// RH:RL the rounded significand from roundSig, RC its carry out of the top (exponent + 1); P3..P0 the 128-bit
// product of mul64; T5..T0 (+ TV * 2^96) the division remainder lanes, D3..D0 the divisor lanes; RSH/RSL the sqrt
// residual.

/**
 * Rounds the 96-bit significand H:L:X (bit 31 of H set) to the precision selected by `pc` (the x87 PC field:
 * 0 = 24 bits, 2 = 53 bits, 1/3 = 64 bits) with rounding control rc; result in RH:RL (+ RC carry). Returns PE|C1.
 */
function roundSig(neg: number, H: number, L: number, X: number, pc: number, rc: number): number {
  let rb: number, st: number, lsb: number;
  S[I.RC] = 0;
  if (pc === 0) {
    rb = (H >>> 7) & 1; st = (H & 0x7f) | L | X; lsb = (H >>> 8) & 1; H = (H & 0xffffff00) >>> 0; L = 0;
  } else if (pc === 2) {
    rb = (L >>> 10) & 1; st = (L & 0x3ff) | X; lsb = (L >>> 11) & 1; L = (L & 0xfffff800) >>> 0;
  } else {
    rb = X >>> 31; st = X & 0x7fffffff; lsb = L & 1;
  }
  if ((rb | st) === 0) { S[I.RH] = H; S[I.RL] = L; return 0; }
  const up = rc === 0 ? rb !== 0 && (st !== 0 || lsb !== 0) : rc === 1 ? neg !== 0 : rc === 2 ? neg === 0 : false;
  if (!up) { S[I.RH] = H; S[I.RL] = L; return PE; }
  if (pc === 0) H += 0x100;
  else {
    L += pc === 2 ? 0x800 : 1;
    if (L >= TWO32) { L -= TWO32; H += 1; }
  }
  if (H >= TWO32) { H = 0x80000000; S[I.RC] = 1; }
  S[I.RH] = H; S[I.RL] = L;
  return PE | C1;
}

/** Rounds ±H:L:X * 2^(E-63) per cw and stores it; -1 if the result would not be a normal 80-bit number. */
function out80(d: Uint32Array, di: number, neg: number, E: number, H: number, L: number, X: number, cw: number): number {
  if (E < -16382) return -1;
  const f = roundSig(neg, H, L, X, (cw >> 8) & 3, (cw >> 10) & 3);
  E += S[I.RC];
  if (E > 16383) return -1;
  d[di] = S[I.RL]; d[di + 1] = S[I.RH]; d[di + 2] = (neg << 15) | (E + 16383);
  return f;
}

function putZero(d: Uint32Array, di: number, s: number): void {
  d[di] = 0; d[di + 1] = 0; d[di + 2] = s << 15;
}

// 128-bit product of two 64-bit significands, as four 32-bit words (P3 most significant).
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, a2 = ah & 0xffff, a3 = ah >>> 16;
  const b0 = bl & 0xffff, b1 = bl >>> 16, b2 = bh & 0xffff, b3 = bh >>> 16;
  let c = a0 * b0;
  const r0 = c & 0xffff; c = (c - r0) * INV16;
  c += a0 * b1 + a1 * b0;
  const r1 = c & 0xffff; c = (c - r1) * INV16;
  c += a0 * b2 + a1 * b1 + a2 * b0;
  const r2 = c & 0xffff; c = (c - r2) * INV16;
  c += a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const r3 = c & 0xffff; c = (c - r3) * INV16;
  c += a1 * b3 + a2 * b2 + a3 * b1;
  const r4 = c & 0xffff; c = (c - r4) * INV16;
  c += a2 * b3 + a3 * b2;
  const r5 = c & 0xffff; c = (c - r5) * INV16;
  c += a3 * b3;
  const r6 = c & 0xffff; c = (c - r6) * INV16;
  S[I.P0] = ((r1 << 16) | r0) >>> 0;
  S[I.P1] = ((r3 << 16) | r2) >>> 0;
  S[I.P2] = ((r5 << 16) | r4) >>> 0;
  S[I.P3] = ((c << 16) | r6) >>> 0;
}

/** 1 if the exponent field is 1..0x7ffe and the integer bit is set (a normal number), else 0. */
function isNormal(hi: number, se: number): boolean {
  const e = se & 0x7fff;
  return e !== 0 && e !== 0x7fff && hi >= 0x80000000;
}

// ---------------------------------------------------------------------------------------------
// FADD / FSUB

/** a + b (flip = 0) or a - b (flip = 0x8000). */
export function addFast(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number, flip: number): number {
  const al = a[ai], ah = a[ai + 1], ase = a[ai + 2];
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2] ^ flip;
  const ea = ase & 0x7fff, eb = bse & 0x7fff;
  const sa = (ase >> 15) & 1, sb = (bse >> 15) & 1;
  const za = ea === 0 && ah === 0 && al === 0, zb = eb === 0 && bh === 0 && bl === 0;
  if (!za && !isNormal(ah, ase)) return -1;
  if (!zb && !isNormal(bh, bse)) return -1;
  if (za || zb) {
    if (za && zb) { putZero(d, di, sa === sb ? sa : ((cw >> 10) & 3) === 1 ? 1 : 0); return 0; }
    if (za) return out80(d, di, sb, eb - 16383, bh, bl, 0, cw);
    return out80(d, di, sa, ea - 16383, ah, al, 0, cw);
  }
  // X = the larger magnitude, Y = the smaller
  let xh = ah, xl = al, xs = sa, ex = ea, yh = bh, yl = bl, ys = sb, dd = ea - eb;
  if (dd < 0 || (dd === 0 && (ah < bh || (ah === bh && al < bl)))) {
    xh = bh; xl = bl; xs = sb; ex = eb; yh = ah; yl = al; ys = sa; dd = -dd;
  }
  // Y >> dd into yh:yl:yx, bits shifted out of yx jammed into its bit 0
  let yx = 0;
  if (dd !== 0) {
    if (dd >= 96) { yh = 0; yl = 0; yx = 1; } else {
      let st = 0;
      if (dd >= 64) { st = yl; yx = yh; yl = 0; yh = 0; dd -= 64; }
      else if (dd >= 32) { yx = yl; yl = yh; yh = 0; dd -= 32; }
      if (dd !== 0) {
        st |= yx << (32 - dd);
        yx = ((yx >>> dd) | (yl << (32 - dd))) >>> 0;
        yl = ((yl >>> dd) | (yh << (32 - dd))) >>> 0;
        yh = yh >>> dd;
      }
      if (st !== 0) yx = (yx | 1) >>> 0;
    }
  }
  let E = ex - 16383, h: number, l: number, x: number;
  if (xs === ys) {
    x = yx; l = xl + yl; h = xh + yh;
    if (l >= TWO32) { l -= TWO32; h += 1; }
    if (h >= TWO32) {
      x = ((x >>> 1) | ((l & 1) << 31) | (x & 1)) >>> 0;
      l = ((l >>> 1) | ((h & 1) << 31)) >>> 0;
      h = (((h - TWO32) >>> 1) | 0x80000000) >>> 0;
      E += 1;
    }
  } else {
    // |X| >= |Y|; with a jammed sticky the cancellation is at most one bit (dd >= 2), so the jam stays below the round bit
    let br = 0;
    x = 0;
    if (yx !== 0) { x = TWO32 - yx; br = 1; }
    l = xl - yl - br;
    br = 0;
    if (l < 0) { l += TWO32; br = 1; }
    h = xh - yh - br;
    if (h === 0 && l === 0 && x === 0) { putZero(d, di, ((cw >> 10) & 3) === 1 ? 1 : 0); return 0; }
    while (h === 0) { h = l; l = x; x = 0; E -= 32; }
    const lz = Math.clz32(h);
    if (lz !== 0) {
      h = ((h << lz) | (l >>> (32 - lz))) >>> 0;
      l = ((l << lz) | (x >>> (32 - lz))) >>> 0;
      x = (x << lz) >>> 0;
      E -= lz;
    }
  }
  return out80(d, di, xs, E, h, l, x, cw);
}

// ---------------------------------------------------------------------------------------------
// FMUL

export function mulFast(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  const al = a[ai], ah = a[ai + 1], ase = a[ai + 2];
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2];
  const ea = ase & 0x7fff, eb = bse & 0x7fff;
  const s = ((ase ^ bse) >> 15) & 1;
  const za = ea === 0 && ah === 0 && al === 0, zb = eb === 0 && bh === 0 && bl === 0;
  if (!za && !isNormal(ah, ase)) return -1;
  if (!zb && !isNormal(bh, bse)) return -1;
  if (za || zb) { putZero(d, di, s); return 0; }
  mul64(ah, al, bh, bl);
  let E = ea + eb - 2 * 16383;
  let h = S[I.P3], l = S[I.P2], x = S[I.P1];
  const st = S[I.P0];
  if (h < 0x80000000) {
    h = ((h << 1) | (l >>> 31)) >>> 0;
    l = ((l << 1) | (x >>> 31)) >>> 0;
    x = ((x << 1) | (st >>> 31)) >>> 0;
    if ((st & 0x7fffffff) !== 0) x = (x | 1) >>> 0;
  } else {
    E += 1;
    if (st !== 0) x = (x | 1) >>> 0;
  }
  return out80(d, di, s, E, h, l, x, cw);
}

// ---------------------------------------------------------------------------------------------
// FDIV: long division, 32 quotient bits per step, each digit estimated in double precision (off by at most
// one) and corrected against the exact remainder kept in 16-bit lanes.

function addD(): void {
  let c = S[I.T0] + S[I.D0]; S[I.T0] = c & 0xffff; c = c >>> 16;
  c += S[I.T1] + S[I.D1]; S[I.T1] = c & 0xffff; c = c >>> 16;
  c += S[I.T2] + S[I.D2]; S[I.T2] = c & 0xffff; c = c >>> 16;
  c += S[I.T3] + S[I.D3]; S[I.T3] = c & 0xffff; c = c >>> 16;
  c += S[I.T4]; S[I.T4] = c & 0xffff; c = c >>> 16;
  c += S[I.T5]; S[I.T5] = c & 0xffff; c = c >>> 16;
  S[I.TV] += c;
}
function subD(): void {
  let c = S[I.T0] - S[I.D0]; S[I.T0] = c & 0xffff; c = (c - S[I.T0]) * INV16;
  c += S[I.T1] - S[I.D1]; S[I.T1] = c & 0xffff; c = (c - S[I.T1]) * INV16;
  c += S[I.T2] - S[I.D2]; S[I.T2] = c & 0xffff; c = (c - S[I.T2]) * INV16;
  c += S[I.T3] - S[I.D3]; S[I.T3] = c & 0xffff; c = (c - S[I.T3]) * INV16;
  c += S[I.T4]; S[I.T4] = c & 0xffff; c = (c - S[I.T4]) * INV16;
  c += S[I.T5]; S[I.T5] = c & 0xffff; c = (c - S[I.T5]) * INV16;
  S[I.TV] += c;
}
/** T >= D (T non-negative). */
function geD(): boolean {
  if (S[I.T5] !== 0 || S[I.T4] !== 0) return true;
  if (S[I.T3] !== S[I.D3]) return S[I.T3] > S[I.D3];
  if (S[I.T2] !== S[I.D2]) return S[I.T2] > S[I.D2];
  if (S[I.T1] !== S[I.D1]) return S[I.T1] > S[I.D1];
  return S[I.T0] >= S[I.D0];
}

export function divFast(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  const al = a[ai], ah = a[ai + 1], ase = a[ai + 2];
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2];
  const ea = ase & 0x7fff, eb = bse & 0x7fff;
  const s = ((ase ^ bse) >> 15) & 1;
  if (!isNormal(bh, bse)) return -1;
  if (ea === 0 && ah === 0 && al === 0) { putZero(d, di, s); return 0; }
  if (!isNormal(ah, ase)) return -1;
  S[I.D0] = bl & 0xffff; S[I.D1] = bl >>> 16; S[I.D2] = bh & 0xffff; S[I.D3] = bh >>> 16;
  const Df = bh * TWO32 + bl;
  let rh = ah, rl = al, q0 = 0;
  if (ah > bh || (ah === bh && al >= bl)) {
    q0 = 1; rl = al - bl; rh = ah - bh;
    if (rl < 0) { rl += TWO32; rh -= 1; }
  }
  let r3 = rh >>> 16, r2 = rh & 0xffff, r1 = rl >>> 16, r0 = rl & 0xffff;
  let q1 = 0, q2 = 0, q3 = 0;
  // 64 quotient bits after q0 suffice for PC=53 (and 32 for PC=24): the remainder supplies the sticky bit
  const pc = (cw >> 8) & 3, steps = pc === 0 ? 1 : pc === 2 ? 2 : 3;
  for (let i = 0; i < steps; i++) {
    const Rf = ((r3 * 65536 + r2) * 65536 + r1) * 65536 + r0;
    let q = Math.floor((Rf * TWO32) / Df);
    // T = R * 2^32 - q * D
    let v = -(q * S[I.D0]);
    S[I.T0] = v & 0xffff; v = (v - S[I.T0]) * INV16;
    v -= q * S[I.D1];
    S[I.T1] = v & 0xffff; v = (v - S[I.T1]) * INV16;
    v += r0 - q * S[I.D2];
    S[I.T2] = v & 0xffff; v = (v - S[I.T2]) * INV16;
    v += r1 - q * S[I.D3];
    S[I.T3] = v & 0xffff; v = (v - S[I.T3]) * INV16;
    v += r2;
    S[I.T4] = v & 0xffff; v = (v - S[I.T4]) * INV16;
    v += r3;
    S[I.T5] = v & 0xffff; S[I.TV] = (v - S[I.T5]) * INV16;
    while (S[I.TV] < 0) { q -= 1; addD(); }
    while (geD()) { q += 1; subD(); }
    r3 = S[I.T3]; r2 = S[I.T2]; r1 = S[I.T1]; r0 = S[I.T0];
    if (i === 0) q1 = q; else if (i === 1) q2 = q; else q3 = q;
  }
  const sticky = (r3 | r2 | r1 | r0) !== 0 ? 1 : 0;
  let E = ea - eb, h: number, l: number, x: number;
  if (q0) {
    h = (0x80000000 | (q1 >>> 1)) >>> 0;
    l = ((q1 << 31) | (q2 >>> 1)) >>> 0;
    x = ((q2 << 31) | (q3 >>> 1) | (q3 & 1) | sticky) >>> 0;
  } else {
    h = q1; l = q2; x = (q3 | sticky) >>> 0;
    E -= 1;
  }
  return out80(d, di, s, E, h, l, x, cw);
}

// ---------------------------------------------------------------------------------------------
// FSQRT: y = floor(sqrt(N)) for the 128-bit N = M * 2^(63|64): a double-precision estimate, one Newton step on
// the exact residual, then an exact check (N - y^2 in [0, 2y]); round and sticky bits from the residual.

// residual N - y^2 = RSH * 2^32 + RSL, RSL in [0, 2^32)
function residual(N3: number, N2: number, N1: number, N0: number): void {
  const t = (N3 - S[I.P3]) * TWO32 + (N2 - S[I.P2]);
  let hi = t * TWO32 + (N1 - S[I.P1]);
  let lo = N0 - S[I.P0];
  if (lo < 0) { lo += TWO32; hi -= 1; }
  S[I.RSH] = hi; S[I.RSL] = lo;
}

export function sqrtFast(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number): number {
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2];
  const eb = bse & 0x7fff, sb = (bse >> 15) & 1;
  if (eb === 0 && bh === 0 && bl === 0) { putZero(d, di, sb); return 0; }
  if (sb || !isNormal(bh, bse)) return -1;
  const Eb = eb - 16383;
  let N3: number, N2: number, N1: number, Nf: number;
  const Mf = bh * TWO32 + bl;
  if (Eb & 1) { N3 = bh; N2 = bl; N1 = 0; Nf = Mf * 18446744073709551616; }
  else { N3 = bh >>> 1; N2 = ((bh << 31) | (bl >>> 1)) >>> 0; N1 = (bl << 31) >>> 0; Nf = Mf * 9223372036854775808; }
  let y0 = Math.sqrt(Nf);
  if (y0 >= 18446744073709551616) y0 = 18446744073709549568;
  let yh = Math.floor(y0 / TWO32), yl = y0 - yh * TWO32;
  mul64(yh, yl, yh, yl);
  residual(N3, N2, N1, 0);
  yl += Math.floor((S[I.RSH] * TWO32 + S[I.RSL]) / (2 * y0));
  while (yl < 0) { yl += TWO32; yh -= 1; }
  while (yl >= TWO32) { yl -= TWO32; yh += 1; }
  if (yh >= TWO32) { yh = 0xffffffff; yl = 0xffffffff; }
  else if (yh < 0x80000000) { yh = 0x80000000; yl = 0; }
  for (let it = 0; ; it++) {
    if (it === 6) return -1; // not reached: the estimate is within one of the root
    mul64(yh, yl, yh, yl);
    residual(N3, N2, N1, 0);
    if (S[I.RSH] < 0) { // y too large
      if (yl === 0) { yl = 0xffffffff; yh -= 1; } else yl -= 1;
      continue;
    }
    const y2h = yh * 2 + (yl >= 0x80000000 ? 1 : 0), y2l = (yl * 2) % TWO32;
    if (S[I.RSH] > y2h || (S[I.RSH] === y2h && S[I.RSL] > y2l)) { // y too small
      if (yl === 0xffffffff) { yl = 0; yh += 1; } else yl += 1;
      continue;
    }
    break;
  }
  const x = S[I.RSH] === 0 && S[I.RSL] === 0 ? 0 : S[I.RSH] > yh || (S[I.RSH] === yh && S[I.RSL] > yl) ? 0x80000001 : 1;
  return out80(d, di, 0, Eb >> 1, yh, yl, x, cw);
}

// ---------------------------------------------------------------------------------------------
// Compares and conversions.

/** FCOM/FUCOM of normal/zero operands: C0 (a < b), C3 (a = b) or 0 (a > b); -1 otherwise. */
export function comFast(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  const al = a[ai], ah = a[ai + 1], ase = a[ai + 2];
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2];
  const ea = ase & 0x7fff, eb = bse & 0x7fff;
  const za = ea === 0 && ah === 0 && al === 0, zb = eb === 0 && bh === 0 && bl === 0;
  if (!za && !isNormal(ah, ase)) return -1;
  if (!zb && !isNormal(bh, bse)) return -1;
  if (za && zb) return C3;
  const va = za ? 0 : ase & 0x8000 ? -1 : 1, vb = zb ? 0 : bse & 0x8000 ? -1 : 1;
  if (va !== vb) return va < vb ? C0 : 0;
  let c = ea !== eb ? (ea > eb ? 1 : -1) : ah !== bh ? (ah > bh ? 1 : -1) : al !== bl ? (al > bl ? 1 : -1) : 0;
  if (va < 0) c = -c;
  return c < 0 ? C0 : c > 0 ? 0 : C3;
}

/** FLD m32/m64 of a normal number or zero (exact, no flags); -1 otherwise. */
export function fldFloatFast(d: Uint32Array, di: number, b: Uint32Array, bi: number, is64: boolean): number {
  if (is64) {
    const lo = b[bi], hi = b[bi + 1];
    const e = (hi >>> 20) & 0x7ff, s = hi >>> 31;
    if (e === 0) { if (((hi & 0xfffff) | lo) !== 0) return -1; putZero(d, di, s); return 0; }
    if (e === 0x7ff) return -1;
    d[di] = (lo << 11) >>> 0;
    d[di + 1] = (0x80000000 | ((hi & 0xfffff) << 11) | (lo >>> 21)) >>> 0;
    d[di + 2] = (s << 15) | (e - 1023 + 16383);
    return 0;
  }
  const w = b[bi];
  const e = (w >>> 23) & 0xff, s = w >>> 31;
  if (e === 0) { if ((w & 0x7fffff) !== 0) return -1; putZero(d, di, s); return 0; }
  if (e === 0xff) return -1;
  d[di] = 0;
  d[di + 1] = (0x80000000 | ((w & 0x7fffff) << 8)) >>> 0;
  d[di + 2] = (s << 15) | (e - 127 + 16383);
  return 0;
}

/** FST m32/m64 (rounded per S[I.RC]): normal results only; -1 for specials, denormal/overflowing results. */
export function fstFloatFast(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number, is64: boolean): number {
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2];
  const eb = bse & 0x7fff, s = (bse >> 15) & 1;
  if (eb === 0 && bh === 0 && bl === 0) {
    if (is64) { d[di] = 0; d[di + 1] = (s << 31) >>> 0; } else d[di] = (s << 31) >>> 0;
    return 0;
  }
  if (!isNormal(bh, bse)) return -1;
  const rc = (cw >> 10) & 3;
  let E = eb - 16383;
  if (is64) {
    if (E < -1022) return -1;
    const f = roundSig(s, bh, bl, 0, 2, rc);
    E += S[I.RC];
    if (E > 1023) return -1;
    d[di] = ((S[I.RH] << 21) | (S[I.RL] >>> 11)) >>> 0;
    d[di + 1] = ((s << 31) | ((E + 1023) << 20) | ((S[I.RH] >>> 11) & 0xfffff)) >>> 0;
    return f;
  }
  if (E < -126) return -1;
  const f = roundSig(s, bh, bl, 0, 0, rc);
  E += S[I.RC];
  if (E > 127) return -1;
  d[di] = ((s << 31) | ((E + 127) << 23) | ((S[I.RH] >>> 8) & 0x7fffff)) >>> 0;
  return f;
}

/** FILD m16/m32/m64: always exact, never declines. */
export function fildFast(d: Uint32Array, di: number, b: Uint32Array, bi: number, bits: 16 | 32 | 64): number {
  let hi: number, lo: number, s: number;
  if (bits === 64) {
    lo = b[bi]; hi = b[bi + 1]; s = hi >>> 31;
    if (s) {
      if (lo === 0) hi = (-hi) >>> 0;
      else { lo = TWO32 - lo; hi = (~hi) >>> 0; }
    }
  } else {
    const v = bits === 32 ? b[bi] | 0 : (b[bi] << 16) >> 16;
    s = v < 0 ? 1 : 0;
    hi = 0; lo = s ? -v : v;
  }
  if (hi === 0 && lo === 0) { putZero(d, di, 0); return 0; }
  let e = 63;
  if (hi === 0) { hi = lo; lo = 0; e = 31; }
  const lz = Math.clz32(hi);
  if (lz !== 0) { hi = ((hi << lz) | (lo >>> (32 - lz))) >>> 0; lo = (lo << lz) >>> 0; e -= lz; }
  d[di] = lo; d[di + 1] = hi; d[di + 2] = (s << 15) | (e + 16383);
  return 0;
}

/** FIST/FISTP/FISTTP of a normal number or zero whose rounded value fits; -1 otherwise (IE cases, denormals). */
export function fistFast(d: Uint32Array, di: number, b: Uint32Array, bi: number, cw: number, bits: 16 | 32 | 64, trunc: boolean): number {
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2];
  const eb = bse & 0x7fff, neg = (bse >> 15) & 1;
  let qh = 0, ql = 0, rb = 0, st = 0;
  if (eb === 0 && bh === 0 && bl === 0) { /* zero */ } else {
    if (!isNormal(bh, bse)) return -1;
    const sh = 63 - (eb - 16383);
    if (sh <= 0) return -1; // |x| >= 2^63: only -2^63 fits; left to the slow path
    if (sh < 32) {
      ql = ((bl >>> sh) | (bh << (32 - sh))) >>> 0; qh = bh >>> sh;
      rb = (bl >>> (sh - 1)) & 1; st = bl & ((1 << (sh - 1)) - 1);
    } else if (sh === 32) {
      ql = bh; rb = bl >>> 31; st = bl & 0x7fffffff;
    } else if (sh < 64) {
      const s2 = sh - 32;
      ql = bh >>> s2; rb = (bh >>> (s2 - 1)) & 1; st = (bh & ((1 << (s2 - 1)) - 1)) | bl;
    } else if (sh === 64) {
      rb = 1; st = (bh & 0x7fffffff) | bl;
    } else st = 1;
  }
  const rc = trunc ? 3 : (cw >> 10) & 3;
  const inexact = (rb | st) !== 0;
  const up = inexact && (rc === 0 ? rb !== 0 && (st !== 0 || (ql & 1) !== 0) : rc === 1 ? neg !== 0 : rc === 2 ? neg === 0 : false);
  if (up) { ql += 1; if (ql === TWO32) { ql = 0; qh += 1; } }
  if (bits === 64) {
    if (qh > 0x80000000 || (qh === 0x80000000 && (ql !== 0 || !neg))) return -1;
    if (neg && (qh | ql) !== 0) {
      if (ql === 0) qh = (-qh) >>> 0;
      else { ql = TWO32 - ql; qh = (~qh) >>> 0; }
    }
    d[di] = ql; d[di + 1] = qh;
  } else {
    const lim = bits === 32 ? 0x80000000 : 0x8000;
    if (qh !== 0 || ql > lim || (ql === lim && !neg)) return -1;
    d[di] = bits === 32 ? (neg ? (-ql) >>> 0 : ql) : (neg ? -ql & 0xffff : ql);
  }
  return (inexact ? PE : 0) | (up ? C1 : 0);
}
