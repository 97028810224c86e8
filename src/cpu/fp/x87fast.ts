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
const PE = 0x20, C0 = 0x100, C1 = 0x200, C3 = 0x4000;

// Rounded significand from roundSig, and carry out of the top (exponent + 1).
let RH = 0, RL = 0, RC = 0;

/**
 * Rounds the 96-bit significand H:L:X (bit 31 of H set) to the precision selected by `pc` (the x87 PC field:
 * 0 = 24 bits, 2 = 53 bits, 1/3 = 64 bits) with rounding control rc; result in RH:RL (+RC carry). Returns PE|C1.
 */
function roundSig(neg: number, H: number, L: number, X: number, pc: number, rc: number): number {
  let rb: number, st: number, lsb: number;
  RC = 0;
  if (pc === 0) {
    rb = (H >>> 7) & 1; st = (H & 0x7f) | L | X; lsb = (H >>> 8) & 1; H = (H & 0xffffff00) >>> 0; L = 0;
  } else if (pc === 2) {
    rb = (L >>> 10) & 1; st = (L & 0x3ff) | X; lsb = (L >>> 11) & 1; L = (L & 0xfffff800) >>> 0;
  } else {
    rb = X >>> 31; st = X & 0x7fffffff; lsb = L & 1;
  }
  if ((rb | st) === 0) { RH = H; RL = L; return 0; }
  const up = rc === 0 ? rb !== 0 && (st !== 0 || lsb !== 0) : rc === 1 ? neg !== 0 : rc === 2 ? neg === 0 : false;
  if (!up) { RH = H; RL = L; return PE; }
  if (pc === 0) H += 0x100;
  else {
    L += pc === 2 ? 0x800 : 1;
    if (L >= TWO32) { L -= TWO32; H += 1; }
  }
  if (H >= TWO32) { H = 0x80000000; RC = 1; }
  RH = H; RL = L;
  return PE | C1;
}

/** Rounds ±H:L:X * 2^(E-63) per cw and stores it; -1 if the result would not be a normal 80-bit number. */
function out80(d: Uint32Array, di: number, neg: number, E: number, H: number, L: number, X: number, cw: number): number {
  if (E < -16382) return -1;
  const f = roundSig(neg, H, L, X, (cw >> 8) & 3, (cw >> 10) & 3);
  E += RC;
  if (E > 16383) return -1;
  d[di] = RL; d[di + 1] = RH; d[di + 2] = (neg << 15) | (E + 16383);
  return f;
}

function putZero(d: Uint32Array, di: number, s: number): void {
  d[di] = 0; d[di + 1] = 0; d[di + 2] = s << 15;
}

// 128-bit product of two 64-bit significands, as four 32-bit words (P3 most significant).
let P0 = 0, P1 = 0, P2 = 0, P3 = 0;
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, a2 = ah & 0xffff, a3 = ah >>> 16;
  const b0 = bl & 0xffff, b1 = bl >>> 16, b2 = bh & 0xffff, b3 = bh >>> 16;
  let c = a0 * b0;
  const r0 = c & 0xffff; c = (c - r0) / 65536;
  c += a0 * b1 + a1 * b0;
  const r1 = c & 0xffff; c = (c - r1) / 65536;
  c += a0 * b2 + a1 * b1 + a2 * b0;
  const r2 = c & 0xffff; c = (c - r2) / 65536;
  c += a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const r3 = c & 0xffff; c = (c - r3) / 65536;
  c += a1 * b3 + a2 * b2 + a3 * b1;
  const r4 = c & 0xffff; c = (c - r4) / 65536;
  c += a2 * b3 + a3 * b2;
  const r5 = c & 0xffff; c = (c - r5) / 65536;
  c += a3 * b3;
  const r6 = c & 0xffff; c = (c - r6) / 65536;
  P0 = ((r1 << 16) | r0) >>> 0;
  P1 = ((r3 << 16) | r2) >>> 0;
  P2 = ((r5 << 16) | r4) >>> 0;
  P3 = ((c << 16) | r6) >>> 0;
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
  let h = P3, l = P2, x = P1;
  const st = P0;
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

let T0 = 0, T1 = 0, T2 = 0, T3 = 0, T4 = 0, T5 = 0, TV = 0;
let D0 = 0, D1 = 0, D2 = 0, D3 = 0;
function addD(): void {
  let c = T0 + D0; T0 = c & 0xffff; c = c >>> 16;
  c += T1 + D1; T1 = c & 0xffff; c = c >>> 16;
  c += T2 + D2; T2 = c & 0xffff; c = c >>> 16;
  c += T3 + D3; T3 = c & 0xffff; c = c >>> 16;
  c += T4; T4 = c & 0xffff; c = c >>> 16;
  c += T5; T5 = c & 0xffff; c = c >>> 16;
  TV += c;
}
function subD(): void {
  let c = T0 - D0; T0 = c & 0xffff; c = (c - T0) / 65536;
  c += T1 - D1; T1 = c & 0xffff; c = (c - T1) / 65536;
  c += T2 - D2; T2 = c & 0xffff; c = (c - T2) / 65536;
  c += T3 - D3; T3 = c & 0xffff; c = (c - T3) / 65536;
  c += T4; T4 = c & 0xffff; c = (c - T4) / 65536;
  c += T5; T5 = c & 0xffff; c = (c - T5) / 65536;
  TV += c;
}
/** T >= D (T non-negative). */
function geD(): boolean {
  if (T5 !== 0 || T4 !== 0) return true;
  if (T3 !== D3) return T3 > D3;
  if (T2 !== D2) return T2 > D2;
  if (T1 !== D1) return T1 > D1;
  return T0 >= D0;
}

export function divFast(d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  const al = a[ai], ah = a[ai + 1], ase = a[ai + 2];
  const bl = b[bi], bh = b[bi + 1], bse = b[bi + 2];
  const ea = ase & 0x7fff, eb = bse & 0x7fff;
  const s = ((ase ^ bse) >> 15) & 1;
  if (!isNormal(bh, bse)) return -1;
  if (ea === 0 && ah === 0 && al === 0) { putZero(d, di, s); return 0; }
  if (!isNormal(ah, ase)) return -1;
  D0 = bl & 0xffff; D1 = bl >>> 16; D2 = bh & 0xffff; D3 = bh >>> 16;
  const Df = bh * TWO32 + bl;
  let rh = ah, rl = al, q0 = 0;
  if (ah > bh || (ah === bh && al >= bl)) {
    q0 = 1; rl = al - bl; rh = ah - bh;
    if (rl < 0) { rl += TWO32; rh -= 1; }
  }
  let r3 = rh >>> 16, r2 = rh & 0xffff, r1 = rl >>> 16, r0 = rl & 0xffff;
  let q1 = 0, q2 = 0, q3 = 0;
  for (let i = 0; i < 3; i++) {
    const Rf = ((r3 * 65536 + r2) * 65536 + r1) * 65536 + r0;
    let q = Math.floor((Rf * TWO32) / Df);
    // T = R * 2^32 - q * D
    let v = -(q * D0);
    T0 = v & 0xffff; v = (v - T0) / 65536;
    v -= q * D1;
    T1 = v & 0xffff; v = (v - T1) / 65536;
    v += r0 - q * D2;
    T2 = v & 0xffff; v = (v - T2) / 65536;
    v += r1 - q * D3;
    T3 = v & 0xffff; v = (v - T3) / 65536;
    v += r2;
    T4 = v & 0xffff; v = (v - T4) / 65536;
    v += r3;
    T5 = v & 0xffff; TV = (v - T5) / 65536;
    while (TV < 0) { q -= 1; addD(); }
    while (geD()) { q += 1; subD(); }
    r3 = T3; r2 = T2; r1 = T1; r0 = T0;
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

let RSH = 0, RSL = 0; // residual N - y^2 as RSH * 2^32 + RSL, RSL in [0, 2^32)
function residual(N3: number, N2: number, N1: number, N0: number): void {
  const t = (N3 - P3) * TWO32 + (N2 - P2);
  let hi = t * TWO32 + (N1 - P1);
  let lo = N0 - P0;
  if (lo < 0) { lo += TWO32; hi -= 1; }
  RSH = hi; RSL = lo;
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
  yl += Math.floor((RSH * TWO32 + RSL) / (2 * y0));
  while (yl < 0) { yl += TWO32; yh -= 1; }
  while (yl >= TWO32) { yl -= TWO32; yh += 1; }
  if (yh >= TWO32) { yh = 0xffffffff; yl = 0xffffffff; }
  else if (yh < 0x80000000) { yh = 0x80000000; yl = 0; }
  for (let it = 0; ; it++) {
    if (it === 6) return -1; // not reached: the estimate is within one of the root
    mul64(yh, yl, yh, yl);
    residual(N3, N2, N1, 0);
    if (RSH < 0) { // y too large
      if (yl === 0) { yl = 0xffffffff; yh -= 1; } else yl -= 1;
      continue;
    }
    const y2h = yh * 2 + (yl >= 0x80000000 ? 1 : 0), y2l = (yl * 2) % TWO32;
    if (RSH > y2h || (RSH === y2h && RSL > y2l)) { // y too small
      if (yl === 0xffffffff) { yl = 0; yh += 1; } else yl += 1;
      continue;
    }
    break;
  }
  const x = RSH === 0 && RSL === 0 ? 0 : RSH > yh || (RSH === yh && RSL > yl) ? 0x80000001 : 1;
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

/** FST m32/m64 (rounded per RC): normal results only; -1 for specials, denormal/overflowing results. */
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
    E += RC;
    if (E > 1023) return -1;
    d[di] = ((RH << 21) | (RL >>> 11)) >>> 0;
    d[di + 1] = ((s << 31) | ((E + 1023) << 20) | ((RH >>> 11) & 0xfffff)) >>> 0;
    return f;
  }
  if (E < -126) return -1;
  const f = roundSig(s, bh, bl, 0, 0, rc);
  E += RC;
  if (E > 127) return -1;
  d[di] = ((s << 31) | ((E + 127) << 23) | ((RH >>> 8) & 0x7fffff)) >>> 0;
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
