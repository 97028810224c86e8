// Group 3 (F6/F7: TEST NOT NEG MUL IMUL DIV IDIV) and IMUL Gv,Ev (0F AF), Gv,Ev,Iz (69), Gv,Ev,Ib (6B).
// SDM Vol. 2A "MUL", "IMUL", "DIV", "IDIV". 64x64->128 products use 16-bit limbs in exact double arithmetic;
// 128/64 division uses 16-bit long division when the divisor fits in 32 bits, doubles when everything fits
// in 52 bits, and BigInt only as the slow path (divisor >= 2^32 with a large dividend). No allocation otherwise.
//
// Undefined flags follow the host CPU (Intel Xeon), measured by test/cpu/muldiv.test.ts:
//  - MUL/IMUL: CF = OF = (high half significant); SF and PF from the low half of the result; ZF = 0 and
//    AF = 0 whatever the result.
//  - DIV/IDIV: all six arithmetic flags are left unchanged.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn } from '../decoder.js';
import { F, PARITY, setFlagsEager } from '../flags.js';
import { readReg, writeReg } from './operands.js';
import { testEI, notE, negE } from './alu.js';

const TWO32 = 4294967296;
const ARITH = F.CF | F.PF | F.AF | F.ZF | F.SF | F.OF;

// ---------------------------------------------------------------- 64x64 -> 128 multiply (unsigned)

const A = new Float64Array(4), B = new Float64Array(4), P = new Int32Array(4);

/** Unsigned 64x64 product of (aL,aH)*(bL,bH) into P[0..3] (32-bit words, P[0] lowest). */
function umul64(aL: number, aH: number, bL: number, bH: number): void {
  A[0] = aL & 0xffff; A[1] = aL >>> 16; A[2] = aH & 0xffff; A[3] = aH >>> 16;
  B[0] = bL & 0xffff; B[1] = bL >>> 16; B[2] = bH & 0xffff; B[3] = bH >>> 16;
  let carry = 0;
  for (let k = 0; k < 8; k++) {
    let t = carry;
    const lo = k > 3 ? k - 3 : 0, hi = k < 3 ? k : 3;
    for (let i = lo; i <= hi; i++) t += A[i] * B[k - i];
    const limb = t & 0xffff; // ToInt32 is modulo 2^32, so this is exact for t < 2^53
    carry = Math.floor(t / 65536);
    if (k & 1) P[k >> 1] |= limb << 16; else P[k >> 1] = limb;
  }
}

/** Signed 64x64 product: unsigned product, then subtract the sign corrections from the high half. */
function smul64(aL: number, aH: number, bL: number, bH: number): void {
  umul64(aL, aH, bL, bH);
  if (aH < 0) sub64hi(bL, bH);
  if (bH < 0) sub64hi(aL, aH);
}
function sub64hi(l: number, h: number): void {
  const s = (P[2] >>> 0) - (l >>> 0);
  P[2] = s | 0;
  P[3] = (P[3] - h - (s < 0 ? 1 : 0)) | 0;
}

/** Unsigned 32x32 product: returns the low half, high half in c.hi. */
function umul32(c: Cpu, a: number, b: number): number {
  a >>>= 0; b >>>= 0;
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const mid = a1 * b0 + a0 * b1; // < 2^33
  const low = a0 * b0 + (mid % 65536) * 65536; // < 2^49
  const lo = low % TWO32;
  c.hi = (a1 * b1 + Math.floor(mid / 65536) + Math.floor(low / TWO32)) | 0;
  return lo | 0;
}

function mulFlags(c: Cpu, sz: number, lo: number, hiSig: boolean): void {
  const sf = sz === 1 ? (lo >> 7) & 1 : sz === 2 ? (lo >> 15) & 1 : sz === 4 ? lo >>> 31 : (c.hi >>> 31);
  setFlagsEager(c, ARITH, (hiSig ? F.CF | F.OF : 0) | (sf ? F.SF : 0) | PARITY[lo & 0xff]);
}

// ---------------------------------------------------------------- MUL / IMUL (one operand)

function mulE(c: Cpu, i: Insn): void {
  const sz = i.osz, r = c.regs;
  const b = i.rm >= 0 ? readReg(c, i.rm, i.rmB, sz) : c.readN(i.ea(c, i), sz), bH = c.hi;
  switch (sz) {
    case 1: { const p = c.regs8[0] * b; c.regs16[0] = p; mulFlags(c, 1, p, p > 0xff); return; }
    case 2: {
      const p = c.regs16[0] * b; c.regs16[0] = p; c.regs16[8] = p >>> 16;
      mulFlags(c, 2, p, p > 0xffff); return;
    }
    case 4: {
      const lo = umul32(c, r[0], b), hi = c.hi;
      r[0] = lo; r[1] = 0; r[4] = hi; r[5] = 0;
      mulFlags(c, 4, lo, hi !== 0); return;
    }
    default: {
      umul64(r[0], r[1], b, bH);
      r[0] = P[0]; r[1] = P[1]; r[4] = P[2]; r[5] = P[3];
      c.hi = P[1];
      mulFlags(c, 8, P[0], (P[2] | P[3]) !== 0); return;
    }
  }
}

function imulE(c: Cpu, i: Insn): void {
  const sz = i.osz, r = c.regs;
  const b = i.rm >= 0 ? readReg(c, i.rm, i.rmB, sz) : c.readN(i.ea(c, i), sz), bH = c.hi;
  switch (sz) {
    case 1: {
      const p = ((c.regs8[0] << 24) >> 24) * ((b << 24) >> 24);
      c.regs16[0] = p; mulFlags(c, 1, p, p !== ((p << 24) >> 24)); return;
    }
    case 2: {
      const p = ((c.regs16[0] << 16) >> 16) * ((b << 16) >> 16);
      c.regs16[0] = p; c.regs16[8] = p >> 16;
      mulFlags(c, 2, p, p !== ((p << 16) >> 16)); return;
    }
    case 4: {
      const a = r[0] | 0, bb = b | 0;
      const lo = Math.imul(a, bb);
      umul32(c, a, bb);
      let hi = c.hi;
      if (a < 0) hi = (hi - bb) | 0;
      if (bb < 0) hi = (hi - a) | 0;
      r[0] = lo; r[1] = 0; r[4] = hi; r[5] = 0;
      mulFlags(c, 4, lo, hi !== (lo >> 31)); return;
    }
    default: {
      smul64(r[0], r[1], b, bH);
      r[0] = P[0]; r[1] = P[1]; r[4] = P[2]; r[5] = P[3];
      c.hi = P[1];
      mulFlags(c, 8, P[0], P[2] !== (P[1] >> 31) || P[3] !== (P[1] >> 31)); return;
    }
  }
}

/** Truncated signed product a*b of size sz (2, 4, 8) into register reg; CF=OF when it does not fit. */
function imulTo(c: Cpu, i: Insn, a: number, aH: number, b: number, bH: number): void {
  const sz = i.osz;
  if (sz === 2) {
    const p = ((a << 16) >> 16) * ((b << 16) >> 16);
    writeReg(c, i.reg, i.regB, 2, p, 0);
    mulFlags(c, 2, p, p !== ((p << 16) >> 16));
  } else if (sz === 4) {
    const lo = Math.imul(a, b);
    const exact = (a | 0) * (b | 0); // rounded beyond 2^53, but exact near the int32 bounds the test uses
    const fits = exact >= -2147483648 && exact <= 2147483647;
    writeReg(c, i.reg, i.regB, 4, lo, 0);
    mulFlags(c, 4, lo, !fits);
  } else {
    smul64(a, aH, b, bH);
    const lo = P[0], hi = P[1];
    const ovf = P[2] !== (hi >> 31) || P[3] !== (hi >> 31);
    writeReg(c, i.reg, i.regB, 8, lo, hi);
    c.hi = hi;
    mulFlags(c, 8, lo, ovf);
  }
}

function imulGE(c: Cpu, i: Insn): void {
  const b = i.rm >= 0 ? readReg(c, i.rm, i.rmB, i.osz) : c.readN(i.ea(c, i), i.osz), bH = c.hi;
  const a = readReg(c, i.reg, i.regB, i.osz), aH = c.hi;
  imulTo(c, i, a, aH, b, bH);
}

function imulGEI(c: Cpu, i: Insn): void {
  const a = i.rm >= 0 ? readReg(c, i.rm, i.rmB, i.osz) : c.readN(i.ea(c, i), i.osz), aH = c.hi;
  imulTo(c, i, a, aH, i.imm, i.immHi);
}

// ---------------------------------------------------------------- DIV / IDIV

/** Quotient/remainder of the 128/64 division (32-bit words). */
const Q = new Int32Array(2), R = new Int32Array(2);
const N = new Int32Array(4);

/**
 * Unsigned division of N[3..0] (128-bit) by (dL, dH); false when the divisor is 0 or the quotient
 * does not fit in 64 bits (#DE). Results in Q (quotient) and R (remainder).
 */
function udiv128(dL: number, dH: number): boolean {
  const d = (dH >>> 0) * TWO32 + (dL >>> 0);
  if (d === 0 && (dL | dH) === 0) return false;
  const n3 = N[3] >>> 0, n2 = N[2] >>> 0;
  // quotient fits in 64 bits iff high qword < divisor
  if (n3 > (dH >>> 0) || (n3 === (dH >>> 0) && n2 >= (dL >>> 0))) return false;
  if (dH === 0) {
    // divisor < 2^32: long division in 16-bit digits; every partial value stays below 2^48
    const dv = dL >>> 0;
    let r = 0;
    for (let k = 3; k >= 0; k--) {
      const w = N[k] >>> 0;
      const t1 = r * 65536 + (w >>> 16);
      const q1 = Math.floor(t1 / dv); r = t1 - q1 * dv;
      const t0 = r * 65536 + (w & 0xffff);
      const q0 = Math.floor(t0 / dv); r = t0 - q0 * dv;
      if (k < 2) Q[k] = (q1 << 16) | q0; // words 3 and 2 produce zero quotient digits (checked above)
    }
    R[0] = r | 0; R[1] = 0;
    return true;
  }
  const n = (N[1] >>> 0) * TWO32 + (N[0] >>> 0);
  if ((n3 | n2) === 0 && n < 4503599627370496 && d < 4503599627370496) {
    // everything below 2^52: double division with a correction step (q*d stays exact)
    let q = Math.floor(n / d), r = n - q * d;
    if (r < 0) { q--; r += d; } else if (r >= d) { q++; r -= d; }
    Q[0] = q % TWO32; Q[1] = Math.floor(q / TWO32); R[0] = r % TWO32; R[1] = Math.floor(r / TWO32);
    return true;
  }
  return udiv128Big(dL, dH);
}

/** Slow path (divisor >= 2^32 and a dividend above 2^52): BigInt. */
function udiv128Big(dL: number, dH: number): boolean {
  const n = (BigInt(N[3] >>> 0) << 96n) | (BigInt(N[2] >>> 0) << 64n) | (BigInt(N[1] >>> 0) << 32n) | BigInt(N[0] >>> 0);
  const d = (BigInt(dH >>> 0) << 32n) | BigInt(dL >>> 0);
  const q = n / d, r = n % d;
  Q[0] = Number(q & 0xffffffffn) | 0; Q[1] = Number(q >> 32n) | 0;
  R[0] = Number(r & 0xffffffffn) | 0; R[1] = Number(r >> 32n) | 0;
  return true;
}

function neg128(): void {
  let carry = 1;
  for (let k = 0; k < 4; k++) {
    const s = ((~N[k]) >>> 0) + carry;
    N[k] = s | 0; carry = s >= TWO32 ? 1 : 0;
  }
}

function divE(c: Cpu, i: Insn): void {
  const sz = i.osz, r = c.regs;
  const d = i.rm >= 0 ? readReg(c, i.rm, i.rmB, sz) : c.readN(i.ea(c, i), sz), dH = c.hi;
  switch (sz) {
    case 1: {
      if (d === 0) c.raise(0);
      const n = c.regs16[0], q = Math.floor(n / d);
      if (q > 0xff) c.raise(0);
      c.regs8[0] = q; c.regs8[1] = n - q * d; return;
    }
    case 2: {
      if (d === 0) c.raise(0);
      const n = c.regs16[8] * 65536 + c.regs16[0], q = Math.floor(n / d);
      if (q > 0xffff) c.raise(0);
      c.regs16[0] = q; c.regs16[8] = n - q * d; return;
    }
    case 4: {
      const dv = d >>> 0, hi = r[4] >>> 0, lo = r[0] >>> 0;
      if (dv === 0 || hi >= dv) c.raise(0);
      let q: number, rem: number;
      if (hi === 0) { q = Math.floor(lo / dv); rem = lo - q * dv; }
      else {
        const t1 = hi * 65536 + (lo >>> 16);
        const q1 = Math.floor(t1 / dv); rem = t1 - q1 * dv;
        const t0 = rem * 65536 + (lo & 0xffff);
        const q0 = Math.floor(t0 / dv); rem = t0 - q0 * dv;
        q = q1 * 65536 + q0;
      }
      r[0] = q | 0; r[1] = 0; r[4] = rem | 0; r[5] = 0; return;
    }
    default: {
      if (r[5] === 0 && r[4] === 0 && r[1] === 0 && dH === 0) {
        // 32-bit values in a 64-bit divide: the common case
        const dv = d >>> 0;
        if (dv === 0) c.raise(0);
        const n = r[0] >>> 0, q = Math.floor(n / dv);
        r[0] = q | 0; r[1] = 0; r[4] = (n - q * dv) | 0; r[5] = 0; return;
      }
      N[0] = r[0]; N[1] = r[1]; N[2] = r[4]; N[3] = r[5];
      if (!udiv128(d, dH)) c.raise(0);
      r[0] = Q[0]; r[1] = Q[1]; r[4] = R[0]; r[5] = R[1]; return;
    }
  }
}

function idivE(c: Cpu, i: Insn): void {
  const sz = i.osz, r = c.regs;
  const d = i.rm >= 0 ? readReg(c, i.rm, i.rmB, sz) : c.readN(i.ea(c, i), sz), dH = c.hi;
  switch (sz) {
    case 1: {
      const dv = (d << 24) >> 24;
      if (dv === 0) c.raise(0);
      const n = (c.regs16[0] << 16) >> 16, q = Math.trunc(n / dv);
      if (q > 127 || q < -128) c.raise(0);
      c.regs8[0] = q; c.regs8[1] = n - q * dv; return;
    }
    case 2: {
      const dv = (d << 16) >> 16;
      if (dv === 0) c.raise(0);
      const n = ((c.regs16[8] << 16) >> 16) * 65536 + c.regs16[0], q = Math.trunc(n / dv);
      if (q > 32767 || q < -32768) c.raise(0);
      c.regs16[0] = q; c.regs16[8] = n - q * dv; return;
    }
    case 4: {
      const dv = d | 0;
      if (dv === 0) c.raise(0);
      const lo = r[0], hi = r[4];
      if (hi === (lo >> 31)) {
        // the dividend fits in 32 bits
        const q = Math.trunc(lo / dv);
        if (q > 2147483647) c.raise(0); // INT_MIN / -1
        r[0] = q | 0; r[1] = 0; r[4] = (lo - q * dv) | 0; r[5] = 0; return;
      }
      N[0] = lo; N[1] = hi; N[2] = hi >> 31; N[3] = hi >> 31;
      if (!sdiv(dv, dv >> 31, 4)) c.raise(0);
      r[0] = Q[0]; r[1] = 0; r[4] = R[0]; r[5] = 0; return;
    }
    default: {
      N[0] = r[0]; N[1] = r[1]; N[2] = r[4]; N[3] = r[5];
      if (!sdiv(d, dH, 8)) c.raise(0);
      r[0] = Q[0]; r[1] = Q[1]; r[4] = R[0]; r[5] = R[1]; return;
    }
  }
}

/** Signed division of N (128-bit two's complement) by (dL, dH); quotient must fit in sz bytes (4 or 8). */
function sdiv(dL: number, dH: number, sz: number): boolean {
  const nNeg = N[3] < 0, dNeg = dH < 0;
  if (nNeg) neg128();
  if (dNeg) { const s = ((~dL) >>> 0) + 1; dL = s | 0; dH = (~dH + (s >= TWO32 ? 1 : 0)) | 0; }
  if (N[3] < 0) return false; // |dividend| = 2^127 cannot give a 64-bit quotient
  if (!udiv128(dL, dH)) return false;
  const qNeg = nNeg !== dNeg;
  // magnitude limit: 2^(bits-1) - 1 for a positive quotient, 2^(bits-1) for a negative one
  if (sz === 4) {
    if (Q[1] !== 0) return false;
    const q = Q[0] >>> 0;
    if (q > (qNeg ? 0x80000000 : 0x7fffffff)) return false;
    Q[0] = qNeg ? -q | 0 : q | 0;
    R[0] = nNeg ? -(R[0] >>> 0) | 0 : R[0];
    return true;
  }
  const qh = Q[1] >>> 0;
  if (qh > 0x80000000 || (qh === 0x80000000 && (!qNeg || Q[0] !== 0))) return false;
  if (qNeg) { const s = ((~Q[0]) >>> 0) + 1; Q[0] = s | 0; Q[1] = (~Q[1] + (s >= TWO32 ? 1 : 0)) | 0; }
  if (nNeg) { const s = ((~R[0]) >>> 0) + 1; R[0] = s | 0; R[1] = (~R[1] + (s >= TWO32 ? 1 : 0)) | 0; }
  return true;
}

export function installMulDiv(): void {
  def(0, 0xf6, D.M | D.B, [testEI, testEI, notE, negE, mulE, imulE, divE, idivE]);
  def(0, 0xf7, D.M, [testEI, testEI, notE, negE, mulE, imulE, divE, idivE]);
  def(1, 0xaf, D.M, imulGE);
  def(0, 0x69, D.M | D.IZ, imulGEI);
  def(0, 0x6b, D.M | D.I8, imulGEI);
}
