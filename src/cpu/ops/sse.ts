// SSE/SSE2 decoding and execution (0F 10-17, 28-2F, 50-7F, C2-C6, D1-FE), LDMXCSR/STMXCSR/FXSAVE/FXRSTOR.
// Float semantics come from ../fp/sse.ts (never re-implemented here); imports the Cpu type, the decoder and flags.
// Operands go through preallocated scratch (S = source, T = destination/result), so nothing allocates per instruction,
// every memory read happens before any architectural write, and a register source aliasing the destination is safe.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn, type Handler } from '../decoder.js';
import { F, materialize } from '../flags.js';
import { readReg, writeReg } from './operands.js';
import { cpuidExtra, grp15Hooks } from './system.js';
import * as fp from '../fp/sse.js';
import { fxsaveX87, fxrstorX87 } from './x87.js';

// ---------------------------------------------------------------- scratch
const SB = new ArrayBuffer(16);
const S = new Int32Array(SB), SU = new Uint32Array(SB), S8 = new Uint8Array(SB), S8s = new Int8Array(SB);
const S16 = new Uint16Array(SB), S16s = new Int16Array(SB);
const TB = new ArrayBuffer(16);
const T = new Int32Array(TB), TU = new Uint32Array(TB), T8 = new Uint8Array(TB), T8s = new Int8Array(TB);
const T16 = new Uint16Array(TB), T16s = new Int16Array(TB);
const RB = new ArrayBuffer(16);
const R = new Int32Array(RB), RU = new Uint32Array(RB), R8 = new Uint8Array(RB), R16 = new Uint16Array(RB);

/** MXCSR bits that LDMXCSR/FXRSTOR accept (DAZ supported). */
export const MXCSR_MASK = 0xffff;

// ---------------------------------------------------------------- availability checks
/** #UD when CR0.EM=1 or CR4.OSFXSR=0, #NM when CR0.TS=1 (SDM Vol. 3 §13.1, Table 2-?). */
function avail(c: Cpu): void {
  if ((c.cr0 & 0xc) !== 0 || (c.cr4 & 0x200) === 0) availSlow(c);
}
function availSlow(c: Cpu): void {
  if ((c.cr0 & 4) !== 0 || (c.cr4 & 0x200) === 0) c.raise(6);
  if (c.cr0 & 8) c.raise(7);
}

/**
 * OR exception flags into MXCSR; an unmasked one faults (#XM, or #UD without CR4.OSXMMEXCPT) before any write.
 * An unmasked pre-computation exception (IE, DE, ZE) in any element records only the pre-computation flags:
 * post-computation ones (OE, UE, PE) are not checked then (SDM Vol. 1 §11.5.2).
 */
function mxDone(c: Cpu, fl: number): void {
  if (fl & ~(c.mxcsr >>> 7) & 0x7) fl &= 0x7;
  c.mxcsr |= fl & 0x3f;
  if (fl & ~(c.mxcsr >>> 7) & 0x3f) c.raise((c.cr4 & 0x400) ? 19 : 6);
}

// ---------------------------------------------------------------- operand loading
/** Source 128 bits (register or memory) into S. `align`: memory must be 16-byte aligned (#GP(0)). */
function src128(c: Cpu, i: Insn, align: boolean): void {
  if (i.rm >= 0) {
    const x = c.xmm, o = i.rm << 2;
    S[0] = x[o]; S[1] = x[o + 1]; S[2] = x[o + 2]; S[3] = x[o + 3];
    return;
  }
  const ea = i.ea(c, i);
  if (align && (ea & 15) !== 0) c.raise(13, 0);
  S[0] = c.read64(ea); S[1] = c.hi;
  S[2] = c.read64(ea + 8); S[3] = c.hi;
}
/** Low 64 bits of the source (register or m64) into S[0..1]. */
function src64(c: Cpu, i: Insn): void {
  if (i.rm >= 0) { const o = i.rm << 2; S[0] = c.xmm[o]; S[1] = c.xmm[o + 1]; return; }
  S[0] = c.read64(i.ea(c, i)); S[1] = c.hi;
}
/** Low 32 bits of the source (register or m32) into S[0]. */
function src32(c: Cpu, i: Insn): void {
  if (i.rm >= 0) { S[0] = c.xmm[i.rm << 2]; return; }
  S[0] = c.read32(i.ea(c, i));
}
/** Destination register into T. */
function dst(c: Cpu, i: Insn): void {
  const x = c.xmm, o = i.reg << 2;
  T[0] = x[o]; T[1] = x[o + 1]; T[2] = x[o + 2]; T[3] = x[o + 3];
}
function putT(c: Cpu, i: Insn): void {
  const x = c.xmm, o = i.reg << 2;
  x[o] = T[0]; x[o + 1] = T[1]; x[o + 2] = T[2]; x[o + 3] = T[3];
}
function putR(c: Cpu, i: Insn): void {
  const x = c.xmm, o = i.reg << 2;
  x[o] = R[0]; x[o + 1] = R[1]; x[o + 2] = R[2]; x[o + 3] = R[3];
}
/** Store 128 bits from xmm register `r` to memory (both pages probed first, so a fault writes nothing). */
function store128(c: Cpu, ea: number, r: number, align: boolean): void {
  if (align && (ea & 15) !== 0) c.raise(13, 0);
  if ((ea & 4095) > 4080) { c.translate(ea, 1); c.translate(ea + 15, 1); }
  const x = c.xmm, o = r << 2;
  c.write64(ea, x[o], x[o + 1]);
  c.write64(ea + 8, x[o + 2], x[o + 3]);
}
/** GPR operand size for MOVD/CVT*SI: 8 with REX.W, else 4 (the 66 mandatory prefix does not make it 16). */
function gsz(i: Insn): number { return (i.rex & 8) ? 8 : 4; }

// ---------------------------------------------------------------- moves
export function movups(c: Cpu, i: Insn): void { avail(c); src128(c, i, false); const x = c.xmm, o = i.reg << 2; x[o] = S[0]; x[o + 1] = S[1]; x[o + 2] = S[2]; x[o + 3] = S[3]; }
export function movaps(c: Cpu, i: Insn): void { avail(c); src128(c, i, true); const x = c.xmm, o = i.reg << 2; x[o] = S[0]; x[o + 1] = S[1]; x[o + 2] = S[2]; x[o + 3] = S[3]; }
export function movupsSt(c: Cpu, i: Insn): void {
  avail(c);
  if (i.rm >= 0) { const x = c.xmm, d = i.rm << 2, s = i.reg << 2; x[d] = x[s]; x[d + 1] = x[s + 1]; x[d + 2] = x[s + 2]; x[d + 3] = x[s + 3]; return; }
  store128(c, i.ea(c, i), i.reg, false);
}
export function movapsSt(c: Cpu, i: Insn): void {
  avail(c);
  if (i.rm >= 0) { const x = c.xmm, d = i.rm << 2, s = i.reg << 2; x[d] = x[s]; x[d + 1] = x[s + 1]; x[d + 2] = x[s + 2]; x[d + 3] = x[s + 3]; return; }
  store128(c, i.ea(c, i), i.reg, true);
}
/** MOVNTPS/MOVNTPD/MOVNTDQ: memory only, aligned. */
function movnt(c: Cpu, i: Insn): void { avail(c); if (i.rm >= 0) c.raise(6); store128(c, i.ea(c, i), i.reg, true); }
function movnti(c: Cpu, i: Insn): void {
  if (i.rm >= 0) c.raise(6);
  const sz = gsz(i), v = readReg(c, i.reg, 0, sz);
  c.writeN(i.ea(c, i), sz, v, c.hi);
}
function movssLd(c: Cpu, i: Insn): void {
  avail(c);
  const x = c.xmm, o = i.reg << 2;
  if (i.rm >= 0) { x[o] = x[i.rm << 2]; return; }
  const v = c.read32(i.ea(c, i));
  x[o] = v; x[o + 1] = 0; x[o + 2] = 0; x[o + 3] = 0;
}
function movsdLd(c: Cpu, i: Insn): void {
  avail(c);
  const x = c.xmm, o = i.reg << 2;
  if (i.rm >= 0) { const s = i.rm << 2; x[o] = x[s]; x[o + 1] = x[s + 1]; return; }
  const v = c.read64(i.ea(c, i));
  x[o] = v; x[o + 1] = c.hi; x[o + 2] = 0; x[o + 3] = 0;
}
function movssSt(c: Cpu, i: Insn): void {
  avail(c);
  const x = c.xmm;
  if (i.rm >= 0) { x[i.rm << 2] = x[i.reg << 2]; return; }
  c.write32(i.ea(c, i), x[i.reg << 2]);
}
function movsdSt(c: Cpu, i: Insn): void {
  avail(c);
  const x = c.xmm, s = i.reg << 2;
  if (i.rm >= 0) { const d = i.rm << 2; x[d] = x[s]; x[d + 1] = x[s + 1]; return; }
  c.write64(i.ea(c, i), x[s], x[s + 1]);
}
/** 0F 12: MOVLPS m64 / MOVHLPS xmm (register form); 66: MOVLPD (memory only). */
function movlpsLd(c: Cpu, i: Insn): void {
  avail(c);
  const x = c.xmm, o = i.reg << 2;
  if (i.rm >= 0) { const s = i.rm << 2; x[o] = x[s + 2]; x[o + 1] = x[s + 3]; return; }
  x[o] = c.read64(i.ea(c, i)); x[o + 1] = c.hi;
}
function movlpdLd(c: Cpu, i: Insn): void { if (i.rm >= 0) c.raise(6); movlpsLd(c, i); }
/** 0F 16: MOVHPS m64 / MOVLHPS xmm; 66: MOVHPD (memory only). */
function movhpsLd(c: Cpu, i: Insn): void {
  avail(c);
  const x = c.xmm, o = i.reg << 2;
  if (i.rm >= 0) { const s = i.rm << 2; x[o + 2] = x[s]; x[o + 3] = x[s + 1]; return; }
  x[o + 2] = c.read64(i.ea(c, i)); x[o + 3] = c.hi;
}
function movhpdLd(c: Cpu, i: Insn): void { if (i.rm >= 0) c.raise(6); movhpsLd(c, i); }
function movlpsSt(c: Cpu, i: Insn): void {
  avail(c); if (i.rm >= 0) c.raise(6);
  const o = i.reg << 2; c.write64(i.ea(c, i), c.xmm[o], c.xmm[o + 1]);
}
function movhpsSt(c: Cpu, i: Insn): void {
  avail(c); if (i.rm >= 0) c.raise(6);
  const o = i.reg << 2; c.write64(i.ea(c, i), c.xmm[o + 2], c.xmm[o + 3]);
}
/** 66 0F 6E: MOVD/MOVQ xmm, r/m32/64 (zero-extends). */
function movdToX(c: Cpu, i: Insn): void {
  avail(c);
  const sz = gsz(i);
  let lo: number, hi = 0;
  if (i.rm >= 0) { lo = readReg(c, i.rm, 0, sz); if (sz === 8) hi = c.hi; }
  else { lo = c.readN(i.ea(c, i), sz); if (sz === 8) hi = c.hi; }
  const x = c.xmm, o = i.reg << 2;
  x[o] = lo; x[o + 1] = hi; x[o + 2] = 0; x[o + 3] = 0;
}
/** 66 0F 7E: MOVD/MOVQ r/m32/64, xmm. */
function movdFromX(c: Cpu, i: Insn): void {
  avail(c);
  const sz = gsz(i), o = i.reg << 2, lo = c.xmm[o], hi = c.xmm[o + 1];
  if (i.rm >= 0) writeReg(c, i.rm, 0, sz, lo, hi);
  else c.writeN(i.ea(c, i), sz, lo, hi);
}
/** F3 0F 7E: MOVQ xmm, xmm/m64 (zero-extends). */
function movqLd(c: Cpu, i: Insn): void {
  avail(c); src64(c, i);
  const x = c.xmm, o = i.reg << 2;
  x[o] = S[0]; x[o + 1] = S[1]; x[o + 2] = 0; x[o + 3] = 0;
}
/** 66 0F D6: MOVQ xmm/m64, xmm (register destination is zero-extended). */
function movqSt(c: Cpu, i: Insn): void {
  avail(c);
  const x = c.xmm, s = i.reg << 2;
  if (i.rm >= 0) { const d = i.rm << 2; x[d] = x[s]; x[d + 1] = x[s + 1]; x[d + 2] = 0; x[d + 3] = 0; return; }
  c.write64(i.ea(c, i), x[s], x[s + 1]);
}
function movmskps(c: Cpu, i: Insn): void {
  avail(c); if (i.rm < 0) c.raise(6);
  const x = c.xmm, s = i.rm << 2;
  const m = (x[s] >>> 31) | ((x[s + 1] >>> 31) << 1) | ((x[s + 2] >>> 31) << 2) | ((x[s + 3] >>> 31) << 3);
  writeReg(c, i.reg, 0, 4, m, 0);
}
function movmskpd(c: Cpu, i: Insn): void {
  avail(c); if (i.rm < 0) c.raise(6);
  const x = c.xmm, s = i.rm << 2;
  writeReg(c, i.reg, 0, 4, (x[s + 1] >>> 31) | ((x[s + 3] >>> 31) << 1), 0);
}
function pmovmskb(c: Cpu, i: Insn): void {
  avail(c); if (i.rm < 0) c.raise(6);
  const b = c.xmmU8, s = i.rm << 4;
  let m = 0;
  for (let k = 0; k < 16; k++) m |= (b[s + k] >> 7) << k;
  writeReg(c, i.reg, 0, 4, m, 0);
}
function maskmovdqu(c: Cpu, i: Insn): void {
  avail(c); if (i.rm < 0) c.raise(6);
  const b = c.xmmU8, s = i.reg << 4, m = i.rm << 4;
  let a = (c.regs[14] >>> 0) + c.regs[15] * 4294967296;
  if (i.asz === 4) a = c.regs[14] >>> 0;
  if (i.seg === 4) a += c.fsBase; else if (i.seg === 5) a += c.gsBase;
  let first = -1, last = -1;
  for (let k = 0; k < 16; k++) if (b[m + k] & 0x80) { if (first < 0) first = k; last = k; }
  if (first < 0) return;
  c.translate(a + first, 1); c.translate(a + last, 1);
  for (let k = first; k <= last; k++) if (b[m + k] & 0x80) c.write8(a + k, b[s + k]);
}

// ---------------------------------------------------------------- float arithmetic (through ../fp/sse)
type Bin = (d: Uint32Array, di: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, mx: number) => number;

function psOp(f: Bin): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true); dst(c, i);
    const mx = c.mxcsr;
    const fl = f(TU, 0, TU, 0, SU, 0, mx) | f(TU, 1, TU, 1, SU, 1, mx) | f(TU, 2, TU, 2, SU, 2, mx) | f(TU, 3, TU, 3, SU, 3, mx);
    mxDone(c, fl); putT(c, i);
  };
}
function pdOp(f: Bin): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true); dst(c, i);
    const mx = c.mxcsr;
    const fl = f(TU, 0, TU, 0, SU, 0, mx) | f(TU, 2, TU, 2, SU, 2, mx);
    mxDone(c, fl); putT(c, i);
  };
}
// Scalar forms: with every exception masked (the usual MXCSR) nothing can fault after the operation, so it
// writes the destination register in place (the operation reads both operands before it writes); otherwise
// through T, written back only once mxDone has not raised (an unmasked exception leaves the register unchanged).
function ssOp(f: Bin): Handler {
  return (c, i) => {
    avail(c); src32(c, i);
    const mx = c.mxcsr;
    if ((mx & 0x1f80) === 0x1f80) { const x = c.xmmU32, o = i.reg << 2; c.mxcsr = mx | (f(x, o, x, o, SU, 0, mx) & 0x3f); return; }
    dst(c, i);
    mxDone(c, f(TU, 0, TU, 0, SU, 0, c.mxcsr));
    c.xmm[i.reg << 2] = T[0];
  };
}
function sdOp(f: Bin): Handler {
  return (c, i) => {
    avail(c); src64(c, i);
    const mx = c.mxcsr;
    if ((mx & 0x1f80) === 0x1f80) { const x = c.xmmU32, o = i.reg << 2; c.mxcsr = mx | (f(x, o, x, o, SU, 0, mx) & 0x3f); return; }
    dst(c, i);
    mxDone(c, f(TU, 0, TU, 0, SU, 0, c.mxcsr));
    const o = i.reg << 2; c.xmm[o] = T[0]; c.xmm[o + 1] = T[1];
  };
}
function arith4(f32: Bin, f64: Bin, pd = pdOp(f64), sd = sdOp(f64)): Handler[] { return [psOp(f32), pd, ssOp(f32), sd]; }
/** The ADDSD/SUBSD/MULSD and ADDPD/SUBPD/MULPD handlers (the block compiler generates their common case inline). */
export const addsdH = sdOp(fp.addsd), subsdH = sdOp(fp.subsd), mulsdH = sdOp(fp.mulsd);
export const addpdH = pdOp(fp.addsd), subpdH = pdOp(fp.subsd), mulpdH = pdOp(fp.mulsd);

type Un = (d: Uint32Array, di: number, b: Uint32Array, bi: number, mx: number) => number;
function sqrtRow(): Handler[] {
  const s: Un = fp.sqrtss, d: Un = fp.sqrtsd;
  return [
    (c, i) => { avail(c); src128(c, i, true); const mx = c.mxcsr; mxDone(c, s(TU, 0, SU, 0, mx) | s(TU, 1, SU, 1, mx) | s(TU, 2, SU, 2, mx) | s(TU, 3, SU, 3, mx)); putT(c, i); },
    (c, i) => { avail(c); src128(c, i, true); const mx = c.mxcsr; mxDone(c, d(TU, 0, SU, 0, mx) | d(TU, 2, SU, 2, mx)); putT(c, i); },
    (c, i) => { avail(c); src32(c, i); mxDone(c, s(TU, 0, SU, 0, c.mxcsr)); c.xmm[i.reg << 2] = T[0]; },
    (c, i) => { avail(c); src64(c, i); mxDone(c, d(TU, 0, SU, 0, c.mxcsr)); const o = i.reg << 2; c.xmm[o] = T[0]; c.xmm[o + 1] = T[1]; },
  ];
}

/** RCPPS/RSQRTPS approximations: computed exactly in double then rounded to float32 (hardware gives ~12 bits). */
const af = new Float32Array(1), au = new Uint32Array(af.buffer);
function approx(w: number, rsqrt: boolean): number {
  au[0] = w;
  const v = af[0];
  let r: number;
  if (v !== v) return (w | 0x400000) >>> 0;
  if (rsqrt) r = v < 0 ? NaN : 1 / Math.sqrt(v === 0 ? v : v);
  else r = 1 / v;
  if ((w & 0x7f800000) === 0) r = rsqrt ? (w >>> 31 ? -Infinity : Infinity) : (w >>> 31 ? -Infinity : Infinity); // denormals count as zero
  if (r !== r) return 0xffc00000;
  af[0] = r;
  if ((au[0] & 0x7f800000) === 0) au[0] &= 0x80000000; // tiny results flush to zero
  return au[0];
}
function approxRow(rsqrt: boolean): Handler[] {
  return [
    (c, i) => { avail(c); src128(c, i, true); for (let k = 0; k < 4; k++) TU[k] = approx(SU[k], rsqrt); dst2(c, i, 4); },
    null as unknown as Handler, // no 66 form
    (c, i) => { avail(c); src32(c, i); c.xmm[i.reg << 2] = approx(SU[0], rsqrt); },
    null as unknown as Handler,
  ];
}
function dst2(c: Cpu, i: Insn, n: number): void { const x = c.xmm, o = i.reg << 2; for (let k = 0; k < n; k++) x[o + k] = T[k]; }

// compares
function cmpRow(): Handler[] {
  return [
    (c, i) => {
      avail(c); src128(c, i, true); dst(c, i);
      const mx = c.mxcsr, p = i.imm & 7;
      mxDone(c, fp.cmpss(TU, 0, TU, 0, SU, 0, p, mx) | fp.cmpss(TU, 1, TU, 1, SU, 1, p, mx) | fp.cmpss(TU, 2, TU, 2, SU, 2, p, mx) | fp.cmpss(TU, 3, TU, 3, SU, 3, p, mx));
      putT(c, i);
    },
    (c, i) => {
      avail(c); src128(c, i, true); dst(c, i);
      const mx = c.mxcsr, p = i.imm & 7;
      mxDone(c, fp.cmpsd(TU, 0, TU, 0, SU, 0, p, mx) | fp.cmpsd(TU, 2, TU, 2, SU, 2, p, mx));
      putT(c, i);
    },
    (c, i) => { avail(c); src32(c, i); dst(c, i); mxDone(c, fp.cmpss(TU, 0, TU, 0, SU, 0, i.imm & 7, c.mxcsr)); c.xmm[i.reg << 2] = T[0]; },
    (c, i) => {
      avail(c); src64(c, i); dst(c, i); mxDone(c, fp.cmpsd(TU, 0, TU, 0, SU, 0, i.imm & 7, c.mxcsr));
      const o = i.reg << 2; c.xmm[o] = T[0]; c.xmm[o + 1] = T[1];
    },
  ];
}
function comiFlags(c: Cpu, r: number): void {
  mxDone(c, r & 0x3f);
  materialize(c);
  c.flags = (c.flags & ~F.ARITH) | ((r >> 8) & (F.ZF | F.PF | F.CF));
}
function comiRow(unordered: boolean): Handler[] {
  return [
    (c, i) => { avail(c); src32(c, i); dst(c, i); comiFlags(c, fp.comiss(TU, 0, SU, 0, c.mxcsr, unordered)); },
    (c, i) => { avail(c); src64(c, i); dst(c, i); comiFlags(c, fp.comisd(TU, 0, SU, 0, c.mxcsr, unordered)); },
    null as unknown as Handler, null as unknown as Handler,
  ];
}

// conversions
function cvtsi2ss(c: Cpu, i: Insn): void {
  avail(c);
  const sz = gsz(i);
  if (i.rm >= 0) { S[0] = readReg(c, i.rm, 0, sz); S[1] = c.hi; } else { S[0] = c.readN(i.ea(c, i), sz); S[1] = c.hi; }
  mxDone(c, fp.cvtsi2ss(TU, 0, SU, 0, c.mxcsr, sz === 8));
  c.xmm[i.reg << 2] = T[0];
}
function cvtsi2sd(c: Cpu, i: Insn): void {
  avail(c);
  const sz = gsz(i);
  if (i.rm >= 0) { S[0] = readReg(c, i.rm, 0, sz); S[1] = c.hi; } else { S[0] = c.readN(i.ea(c, i), sz); S[1] = c.hi; }
  mxDone(c, fp.cvtsi2sd(TU, 0, SU, 0, c.mxcsr, sz === 8));
  const o = i.reg << 2; c.xmm[o] = T[0]; c.xmm[o + 1] = T[1];
}
function cvtss2siH(trunc: boolean): Handler {
  return (c, i) => {
    avail(c); src32(c, i);
    const sz = gsz(i);
    mxDone(c, fp.cvtss2si(TU, 0, SU, 0, c.mxcsr, trunc, sz === 8));
    writeReg(c, i.reg, 0, sz, T[0], T[1]);
  };
}
function cvtsd2siH(trunc: boolean): Handler {
  return (c, i) => {
    avail(c); src64(c, i);
    const sz = gsz(i);
    mxDone(c, fp.cvtsd2si(TU, 0, SU, 0, c.mxcsr, trunc, sz === 8));
    writeReg(c, i.reg, 0, sz, T[0], T[1]);
  };
}
function cvtps2pd(c: Cpu, i: Insn): void {
  avail(c); src64(c, i);
  const mx = c.mxcsr;
  mxDone(c, fp.cvtss2sd(TU, 0, SU, 0, mx) | fp.cvtss2sd(TU, 2, SU, 1, mx));
  putT(c, i);
}
function cvtpd2ps(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true);
  const mx = c.mxcsr;
  mxDone(c, fp.cvtsd2ss(TU, 0, SU, 0, mx) | fp.cvtsd2ss(TU, 1, SU, 2, mx));
  T[2] = 0; T[3] = 0; putT(c, i);
}
function cvtss2sd(c: Cpu, i: Insn): void {
  avail(c); src32(c, i);
  mxDone(c, fp.cvtss2sd(TU, 0, SU, 0, c.mxcsr));
  const o = i.reg << 2; c.xmm[o] = T[0]; c.xmm[o + 1] = T[1];
}
function cvtsd2ss(c: Cpu, i: Insn): void {
  avail(c); src64(c, i);
  mxDone(c, fp.cvtsd2ss(TU, 0, SU, 0, c.mxcsr));
  c.xmm[i.reg << 2] = T[0];
}
function cvtdq2ps(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true);
  const mx = c.mxcsr;
  mxDone(c, fp.cvtsi2ss(TU, 0, SU, 0, mx, false) | fp.cvtsi2ss(TU, 1, SU, 1, mx, false) | fp.cvtsi2ss(TU, 2, SU, 2, mx, false) | fp.cvtsi2ss(TU, 3, SU, 3, mx, false));
  putT(c, i);
}
function cvtps2dqH(trunc: boolean): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true);
    const mx = c.mxcsr;
    mxDone(c, fp.cvtss2si(TU, 0, SU, 0, mx, trunc, false) | fp.cvtss2si(TU, 1, SU, 1, mx, trunc, false) |
      fp.cvtss2si(TU, 2, SU, 2, mx, trunc, false) | fp.cvtss2si(TU, 3, SU, 3, mx, trunc, false));
    putT(c, i);
  };
}
function cvtdq2pd(c: Cpu, i: Insn): void {
  avail(c); src64(c, i);
  const mx = c.mxcsr;
  mxDone(c, fp.cvtsi2sd(TU, 0, SU, 0, mx, false) | fp.cvtsi2sd(TU, 2, SU, 1, mx, false));
  putT(c, i);
}
function cvtpd2dqH(trunc: boolean): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true);
    const mx = c.mxcsr;
    mxDone(c, fp.cvtsd2si(TU, 0, SU, 0, mx, trunc, false) | fp.cvtsd2si(TU, 1, SU, 2, mx, trunc, false));
    T[2] = 0; T[3] = 0; putT(c, i);
  };
}

// ---------------------------------------------------------------- logic, shuffles, unpacks
function logic(kind: number): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true);
    const x = c.xmm, o = i.reg << 2;
    for (let k = 0; k < 4; k++) {
      const a = x[o + k], b = S[k];
      x[o + k] = kind === 0 ? a & b : kind === 1 ? ~a & b : kind === 2 ? a | b : a ^ b;
    }
  };
}
function shufps(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true); dst(c, i);
  const m = i.imm;
  R[0] = T[m & 3]; R[1] = T[(m >> 2) & 3]; R[2] = S[(m >> 4) & 3]; R[3] = S[(m >> 6) & 3];
  putR(c, i);
}
function shufpd(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true); dst(c, i);
  const a = (i.imm & 1) << 1, b = (i.imm & 2);
  R[0] = T[a]; R[1] = T[a + 1]; R[2] = S[b]; R[3] = S[b + 1];
  putR(c, i);
}
function pshufd(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true);
  const m = i.imm;
  R[0] = S[m & 3]; R[1] = S[(m >> 2) & 3]; R[2] = S[(m >> 4) & 3]; R[3] = S[(m >> 6) & 3];
  putR(c, i);
}
function pshuflw(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true);
  const m = i.imm;
  R16[0] = S16[m & 3]; R16[1] = S16[(m >> 2) & 3]; R16[2] = S16[(m >> 4) & 3]; R16[3] = S16[(m >> 6) & 3];
  R[2] = S[2]; R[3] = S[3];
  putR(c, i);
}
function pshufhw(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true);
  const m = i.imm;
  R[0] = S[0]; R[1] = S[1];
  R16[4] = S16[4 + (m & 3)]; R16[5] = S16[4 + ((m >> 2) & 3)]; R16[6] = S16[4 + ((m >> 4) & 3)]; R16[7] = S16[4 + ((m >> 6) & 3)];
  putR(c, i);
}
/** PUNPCKL/H by element size (1,2,4,8 bytes); high = take the upper halves. */
function unpack(size: number, high: boolean): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true); dst(c, i);
    const base = high ? 8 : 0;
    for (let k = 0, o = 0; o < 16; k += size, o += 2 * size) {
      for (let b = 0; b < size; b++) { R8[o + b] = T8[base + k + b]; R8[o + size + b] = S8[base + k + b]; }
    }
    putR(c, i);
  };
}
function sat8s(v: number): number { return v > 127 ? 127 : v < -128 ? -128 : v; }
function sat8u(v: number): number { return v > 255 ? 255 : v < 0 ? 0 : v; }
function sat16s(v: number): number { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }
function sat16u(v: number): number { return v > 65535 ? 65535 : v < 0 ? 0 : v; }
function packsswb(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true); dst(c, i);
  for (let k = 0; k < 8; k++) { R8[k] = sat8s(T16s[k]); R8[k + 8] = sat8s(S16s[k]); }
  putR(c, i);
}
function packuswb(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true); dst(c, i);
  for (let k = 0; k < 8; k++) { R8[k] = sat8u(T16s[k]); R8[k + 8] = sat8u(S16s[k]); }
  putR(c, i);
}
function packssdw(c: Cpu, i: Insn): void {
  avail(c); src128(c, i, true); dst(c, i);
  for (let k = 0; k < 4; k++) { R16[k] = sat16s(T[k]); R16[k + 4] = sat16s(S[k]); }
  putR(c, i);
}

// ---------------------------------------------------------------- packed integer arithmetic
const enum P {
  ADDB, ADDW, ADDD, ADDQ, SUBB, SUBW, SUBD, SUBQ, ADDSB, ADDSW, ADDUSB, ADDUSW, SUBSB, SUBSW, SUBUSB, SUBUSW,
  CMPEQB, CMPEQW, CMPEQD, CMPGTB, CMPGTW, CMPGTD, MULLW, MULHW, MULHUW, MULUDQ, MADDWD, AVGB, AVGW,
  MINUB, MAXUB, MINSW, MAXSW, SADBW,
}
function pint(op: P): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true);
    const o = i.reg << 2, ob = o << 2, ow = o << 1;
    const x = c.xmm, xb = c.xmmU8, xw = c.xmmU16;
    switch (op) {
      case P.ADDB: for (let k = 0; k < 16; k++) xb[ob + k] = xb[ob + k] + S8[k]; return;
      case P.ADDW: for (let k = 0; k < 8; k++) xw[ow + k] = xw[ow + k] + S16[k]; return;
      case P.ADDD: for (let k = 0; k < 4; k++) x[o + k] = (x[o + k] + S[k]) | 0; return;
      case P.SUBB: for (let k = 0; k < 16; k++) xb[ob + k] = xb[ob + k] - S8[k]; return;
      case P.SUBW: for (let k = 0; k < 8; k++) xw[ow + k] = xw[ow + k] - S16[k]; return;
      case P.SUBD: for (let k = 0; k < 4; k++) x[o + k] = (x[o + k] - S[k]) | 0; return;
      case P.ADDQ: case P.SUBQ:
        for (let k = 0; k < 4; k += 2) {
          const a = x[o + k] >>> 0, b = S[k] >>> 0;
          if (op === P.ADDQ) { const s = a + b; x[o + k] = s | 0; x[o + k + 1] = (x[o + k + 1] + S[k + 1] + (s > 0xffffffff ? 1 : 0)) | 0; }
          else { const s = a - b; x[o + k] = s | 0; x[o + k + 1] = (x[o + k + 1] - S[k + 1] - (s < 0 ? 1 : 0)) | 0; }
        }
        return;
      case P.ADDSB: for (let k = 0; k < 16; k++) xb[ob + k] = sat8s(((xb[ob + k] << 24) >> 24) + S8s[k]); return;
      case P.ADDSW: for (let k = 0; k < 8; k++) xw[ow + k] = sat16s(((xw[ow + k] << 16) >> 16) + S16s[k]); return;
      case P.ADDUSB: for (let k = 0; k < 16; k++) xb[ob + k] = sat8u(xb[ob + k] + S8[k]); return;
      case P.ADDUSW: for (let k = 0; k < 8; k++) xw[ow + k] = sat16u(xw[ow + k] + S16[k]); return;
      case P.SUBSB: for (let k = 0; k < 16; k++) xb[ob + k] = sat8s(((xb[ob + k] << 24) >> 24) - S8s[k]); return;
      case P.SUBSW: for (let k = 0; k < 8; k++) xw[ow + k] = sat16s(((xw[ow + k] << 16) >> 16) - S16s[k]); return;
      case P.SUBUSB: for (let k = 0; k < 16; k++) xb[ob + k] = sat8u(xb[ob + k] - S8[k]); return;
      case P.SUBUSW: for (let k = 0; k < 8; k++) xw[ow + k] = sat16u(xw[ow + k] - S16[k]); return;
      case P.CMPEQB: for (let k = 0; k < 16; k++) xb[ob + k] = xb[ob + k] === S8[k] ? 0xff : 0; return;
      case P.CMPEQW: for (let k = 0; k < 8; k++) xw[ow + k] = xw[ow + k] === S16[k] ? 0xffff : 0; return;
      case P.CMPEQD: for (let k = 0; k < 4; k++) x[o + k] = x[o + k] === S[k] ? -1 : 0; return;
      case P.CMPGTB: for (let k = 0; k < 16; k++) xb[ob + k] = ((xb[ob + k] << 24) >> 24) > S8s[k] ? 0xff : 0; return;
      case P.CMPGTW: for (let k = 0; k < 8; k++) xw[ow + k] = ((xw[ow + k] << 16) >> 16) > S16s[k] ? 0xffff : 0; return;
      case P.CMPGTD: for (let k = 0; k < 4; k++) x[o + k] = x[o + k] > S[k] ? -1 : 0; return;
      case P.MULLW: for (let k = 0; k < 8; k++) xw[ow + k] = Math.imul(xw[ow + k], S16[k]); return;
      case P.MULHW: for (let k = 0; k < 8; k++) xw[ow + k] = (((xw[ow + k] << 16) >> 16) * S16s[k]) >> 16; return;
      case P.MULHUW: for (let k = 0; k < 8; k++) xw[ow + k] = (xw[ow + k] * S16[k]) >>> 16; return;
      case P.MULUDQ:
        for (let k = 0; k < 4; k += 2) {
          const a = x[o + k] >>> 0, b = S[k] >>> 0;
          const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
          const ll = al * bl, mid = ah * bl + al * bh, hh = ah * bh;
          const lo = ll + (mid % 65536) * 65536;
          const loW = lo >>> 0;
          const carry = Math.floor(lo / 4294967296);
          x[o + k] = loW | 0;
          x[o + k + 1] = (hh + Math.floor(mid / 65536) + carry) | 0;
        }
        return;
      case P.MADDWD:
        for (let k = 0; k < 4; k++) {
          const a0 = (xw[ow + 2 * k] << 16) >> 16, a1 = (xw[ow + 2 * k + 1] << 16) >> 16;
          x[o + k] = (a0 * S16s[2 * k] + a1 * S16s[2 * k + 1]) | 0;
        }
        return;
      case P.AVGB: for (let k = 0; k < 16; k++) xb[ob + k] = (xb[ob + k] + S8[k] + 1) >> 1; return;
      case P.AVGW: for (let k = 0; k < 8; k++) xw[ow + k] = (xw[ow + k] + S16[k] + 1) >> 1; return;
      case P.MINUB: for (let k = 0; k < 16; k++) if (S8[k] < xb[ob + k]) xb[ob + k] = S8[k]; return;
      case P.MAXUB: for (let k = 0; k < 16; k++) if (S8[k] > xb[ob + k]) xb[ob + k] = S8[k]; return;
      case P.MINSW: for (let k = 0; k < 8; k++) if (S16s[k] < ((xw[ow + k] << 16) >> 16)) xw[ow + k] = S16[k]; return;
      case P.MAXSW: for (let k = 0; k < 8; k++) if (S16s[k] > ((xw[ow + k] << 16) >> 16)) xw[ow + k] = S16[k]; return;
      case P.SADBW:
        for (let h = 0; h < 2; h++) {
          let s = 0;
          for (let k = 0; k < 8; k++) s += Math.abs(xb[ob + 8 * h + k] - S8[8 * h + k]);
          x[o + 2 * h] = s; x[o + 2 * h + 1] = 0;
        }
        return;
    }
  };
}

// ---------------------------------------------------------------- shifts
/** Shift the 128-bit register r: kind 0 SRL, 1 SRA, 2 SLL; element size 2, 4 or 8 bytes; count (unsigned, may be huge). */
function shiftX(c: Cpu, r: number, kind: number, size: number, count: number): void {
  const x = c.xmm, o = r << 2;
  if (size === 2) {
    const w = c.xmmU16, ow = o << 1;
    if (count > 15) { for (let k = 0; k < 8; k++) w[ow + k] = kind === 1 ? ((w[ow + k] << 16) >> 31) : 0; return; }
    for (let k = 0; k < 8; k++) {
      const v = w[ow + k];
      w[ow + k] = kind === 0 ? v >>> count : kind === 1 ? ((v << 16) >> 16) >> count : v << count;
    }
  } else if (size === 4) {
    if (count > 31) { for (let k = 0; k < 4; k++) x[o + k] = kind === 1 ? x[o + k] >> 31 : 0; return; }
    for (let k = 0; k < 4; k++) x[o + k] = kind === 0 ? x[o + k] >>> count : kind === 1 ? x[o + k] >> count : x[o + k] << count;
  } else {
    for (let k = 0; k < 4; k += 2) {
      const lo = x[o + k], hi = x[o + k + 1];
      if (count > 63) { x[o + k] = 0; x[o + k + 1] = 0; }
      else if (count === 0) { /* unchanged */ }
      else if (kind === 0) {
        if (count >= 32) { x[o + k] = hi >>> (count - 32); x[o + k + 1] = 0; }
        else { x[o + k] = (lo >>> count) | (hi << (32 - count)); x[o + k + 1] = hi >>> count; }
      } else {
        if (count >= 32) { x[o + k + 1] = lo << (count - 32); x[o + k] = 0; }
        else { x[o + k + 1] = (hi << count) | (lo >>> (32 - count)); x[o + k] = lo << count; }
      }
    }
  }
}
/** PSRLW/PSRAW/PSLLW... by xmm/m128: the count is the low quadword. */
function shiftByX(kind: number, size: number): Handler {
  return (c, i) => {
    avail(c); src128(c, i, true);
    const count = S[1] !== 0 ? 0xffff : S[0] >>> 0 > 0xffff ? 0xffff : S[0] >>> 0;
    shiftX(c, i.reg, kind, size, count);
  };
}
function byteShift(c: Cpu, r: number, n: number, left: boolean): void {
  const b = c.xmmU8, o = r << 4;
  for (let k = 0; k < 16; k++) T8[k] = b[o + k];
  for (let k = 0; k < 16; k++) {
    const s = left ? k - n : k + n;
    b[o + k] = s >= 0 && s < 16 ? T8[s] : 0;
  }
}
/** 66 0F 71/72/73 groups: shift the r/m register by imm8. */
function shiftImm(size: number): Handler {
  return (c, i) => {
    avail(c);
    if (i.rm < 0) c.raise(6);
    const n = i.imm & 0xff;
    switch (i.sub) {
      case 2: shiftX(c, i.rm, 0, size, n); return;
      case 4: if (size === 8) break; shiftX(c, i.rm, 1, size, n); return;
      case 6: shiftX(c, i.rm, 2, size, n); return;
      case 3: if (size !== 8) break; byteShift(c, i.rm, n, false); return;
      case 7: if (size !== 8) break; byteShift(c, i.rm, n, true); return;
    }
    c.raise(6);
  };
}

// ---------------------------------------------------------------- PINSRW / PEXTRW
function pinsrw(c: Cpu, i: Insn): void {
  avail(c);
  const v = i.rm >= 0 ? c.regs[i.rm << 1] : c.read16(i.ea(c, i));
  c.xmmU16[(i.reg << 3) + (i.imm & 7)] = v;
}
function pextrw(c: Cpu, i: Insn): void {
  avail(c); if (i.rm < 0) c.raise(6);
  writeReg(c, i.reg, 0, 4, c.xmmU16[(i.rm << 3) + (i.imm & 7)], 0);
}

// ---------------------------------------------------------------- 0F AE: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR
function grp15fp(c: Cpu, i: Insn): void {
  switch (i.sub) {
    case 0: fxsave(c, i); return;
    case 1: fxrstor(c, i); return;
    case 2: { avail(c); const v = c.read32(i.ea(c, i)); if (v & ~MXCSR_MASK) c.raise(13, 0); c.mxcsr = v; return; }
    case 3: avail(c); c.write32(i.ea(c, i), c.mxcsr); return;
  }
  c.raise(6);
}
/** FXSAVE/FXSAVE64 (REX.W): 512-byte area, 16-byte aligned (SDM Vol. 2 FXSAVE, Tables 3-53/3-56). */
function fxsave(c: Cpu, i: Insn): void {
  if (c.cr0 & 0xc) c.raise(7);
  const ea = i.ea(c, i);
  if (ea & 15) c.raise(13, 0);
  c.translate(ea, 1); c.translate(ea + 511, 1); // probe: a fault writes nothing
  fxsaveX87(c, ea, (i.rex & 8) !== 0);
  c.write32(ea + 24, c.mxcsr);
  c.write32(ea + 28, MXCSR_MASK);
  if (c.cr4 & 0x200) for (let r = 0; r < 16; r++) { const o = r << 2; c.write64(ea + 160 + 16 * r, c.xmm[o], c.xmm[o + 1]); c.write64(ea + 168 + 16 * r, c.xmm[o + 2], c.xmm[o + 3]); }
}
const FXB = new Int32Array(128);
function fxrstor(c: Cpu, i: Insn): void {
  if (c.cr0 & 0xc) c.raise(7);
  const ea = i.ea(c, i);
  if (ea & 15) c.raise(13, 0);
  for (let k = 0; k < 128; k += 2) { FXB[k] = c.read64(ea + 4 * k); FXB[k + 1] = c.hi; }
  if (FXB[6] & ~MXCSR_MASK) c.raise(13, 0);
  fxrstorX87(c, FXB, (i.rex & 8) !== 0);
  if (c.cr4 & 0x200) {
    c.mxcsr = FXB[6];
    for (let k = 0; k < 64; k++) c.xmm[k] = FXB[40 + k];
  }
}

// ---------------------------------------------------------------- table
const N = null as unknown as Handler;
function sse(op: number, hs: (Handler | null)[], imm = false): void {
  def(1, op, D.M | D.SSE | (imm ? D.I8 : 0), hs);
}
function p66(op: number, h: Handler, imm = false): void { sse(op, [null, h, null, null], imm); }

export function installSse(): void {
  cpuidExtra.edx1 |= (1 << 24) | (1 << 25) | (1 << 26); // FXSR SSE SSE2
  grp15Hooks.fp = grp15fp;
  sse(0x10, [movups, movups, movssLd, movsdLd]);
  sse(0x11, [movupsSt, movupsSt, movssSt, movsdSt]);
  sse(0x12, [movlpsLd, movlpdLd, null, null]);
  sse(0x13, [movlpsSt, movlpsSt, null, null]);
  sse(0x14, [unpack(4, false), unpack(8, false), null, null]);
  sse(0x15, [unpack(4, true), unpack(8, true), null, null]);
  sse(0x16, [movhpsLd, movhpdLd, null, null]);
  sse(0x17, [movhpsSt, movhpsSt, null, null]);
  sse(0x28, [movaps, movaps, null, null]);
  sse(0x29, [movapsSt, movapsSt, null, null]);
  sse(0x2a, [null, null, cvtsi2ss, cvtsi2sd]);
  sse(0x2b, [movnt, movnt, null, null]);
  sse(0x2c, [null, null, cvtss2siH(true), cvtsd2siH(true)]);
  sse(0x2d, [null, null, cvtss2siH(false), cvtsd2siH(false)]);
  sse(0x2e, comiRow(true));
  sse(0x2f, comiRow(false));
  sse(0x50, [movmskps, movmskpd, null, null]);
  sse(0x51, sqrtRow());
  sse(0x52, approxRow(true));
  sse(0x53, approxRow(false));
  sse(0x54, [logic(0), logic(0), null, null]);
  sse(0x55, [logic(1), logic(1), null, null]);
  sse(0x56, [logic(2), logic(2), null, null]);
  sse(0x57, [logic(3), logic(3), null, null]);
  sse(0x58, arith4(fp.addss, fp.addsd, addpdH, addsdH));
  sse(0x59, arith4(fp.mulss, fp.mulsd, mulpdH, mulsdH));
  sse(0x5a, [cvtps2pd, cvtpd2ps, cvtss2sd, cvtsd2ss]);
  sse(0x5b, [cvtdq2ps, cvtps2dqH(false), cvtps2dqH(true), null]);
  sse(0x5c, arith4(fp.subss, fp.subsd, subpdH, subsdH));
  sse(0x5d, arith4(fp.minss, fp.minsd));
  sse(0x5e, arith4(fp.divss, fp.divsd));
  sse(0x5f, arith4(fp.maxss, fp.maxsd));
  p66(0x60, unpack(1, false)); p66(0x61, unpack(2, false)); p66(0x62, unpack(4, false));
  p66(0x63, packsswb); p66(0x64, pint(P.CMPGTB)); p66(0x65, pint(P.CMPGTW)); p66(0x66, pint(P.CMPGTD));
  p66(0x67, packuswb);
  p66(0x68, unpack(1, true)); p66(0x69, unpack(2, true)); p66(0x6a, unpack(4, true)); p66(0x6b, packssdw);
  p66(0x6c, unpack(8, false)); p66(0x6d, unpack(8, true));
  p66(0x6e, movdToX);
  sse(0x6f, [null, movaps, movups, null]);
  sse(0x70, [null, pshufd, pshufhw, pshuflw], true);
  p66(0x71, shiftImm(2), true); p66(0x72, shiftImm(4), true); p66(0x73, shiftImm(8), true);
  p66(0x74, pint(P.CMPEQB)); p66(0x75, pint(P.CMPEQW)); p66(0x76, pint(P.CMPEQD));
  sse(0x7e, [null, movdFromX, movqLd, null]);
  sse(0x7f, [null, movapsSt, movupsSt, null]);
  sse(0xc2, cmpRow(), true);
  sse(0xc3, [movnti, null, null, null]);
  p66(0xc4, pinsrw, true); p66(0xc5, pextrw, true);
  sse(0xc6, [shufps, shufpd, null, null], true);
  p66(0xd1, shiftByX(0, 2)); p66(0xd2, shiftByX(0, 4)); p66(0xd3, shiftByX(0, 8));
  p66(0xd4, pint(P.ADDQ)); p66(0xd5, pint(P.MULLW)); p66(0xd6, movqSt); p66(0xd7, pmovmskb);
  p66(0xd8, pint(P.SUBUSB)); p66(0xd9, pint(P.SUBUSW)); p66(0xda, pint(P.MINUB)); p66(0xdb, logic(0));
  p66(0xdc, pint(P.ADDUSB)); p66(0xdd, pint(P.ADDUSW)); p66(0xde, pint(P.MAXUB)); p66(0xdf, logic(1));
  p66(0xe0, pint(P.AVGB)); p66(0xe1, shiftByX(1, 2)); p66(0xe2, shiftByX(1, 4)); p66(0xe3, pint(P.AVGW));
  p66(0xe4, pint(P.MULHUW)); p66(0xe5, pint(P.MULHW));
  sse(0xe6, [null, cvtpd2dqH(true), cvtdq2pd, cvtpd2dqH(false)]);
  p66(0xe7, movnt);
  p66(0xe8, pint(P.SUBSB)); p66(0xe9, pint(P.SUBSW)); p66(0xea, pint(P.MINSW)); p66(0xeb, logic(2));
  p66(0xec, pint(P.ADDSB)); p66(0xed, pint(P.ADDSW)); p66(0xee, pint(P.MAXSW)); p66(0xef, logic(3));
  p66(0xf1, shiftByX(2, 2)); p66(0xf2, shiftByX(2, 4)); p66(0xf3, shiftByX(2, 8));
  p66(0xf4, pint(P.MULUDQ)); p66(0xf5, pint(P.MADDWD)); p66(0xf6, pint(P.SADBW)); p66(0xf7, maskmovdqu);
  p66(0xf8, pint(P.SUBB)); p66(0xf9, pint(P.SUBW)); p66(0xfa, pint(P.SUBD)); p66(0xfb, pint(P.SUBQ));
  p66(0xfc, pint(P.ADDB)); p66(0xfd, pint(P.ADDW)); p66(0xfe, pint(P.ADDD));
  void N; void RU; void T8s; void T16; void dst2;
}
