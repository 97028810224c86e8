// x87 FPU decoding and execution (D8-DF, 9B): the register stack, TOP, tags, control/status words, environment
// save/restore, and the FXSAVE/FXRSTOR x87 image. Arithmetic comes from ../fp/x87.ts (never re-implemented here).
// Imports the Cpu type, the decoder, flags and the fp library; imported by ops/sse.ts for FXSAVE/FXRSTOR.
// Registers are held physically (R0-R7, three words each in the library's [lo, hi, se] format); ST(i) = R[(TOP+i)&7].

import type { Cpu } from '../cpu.js';
import { def, D, type Insn } from '../decoder.js';
import { F, materialize, cond } from '../flags.js';
import { cpuidExtra } from './system.js';
import * as x from '../fp/x87.js';

const IE = 0x1, DE = 0x2, ZE = 0x4, PE = 0x20, SF = 0x40, ES = 0x80, C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, B = 0x8000;
const CC = C0 | C1 | C2 | C3;

/** The x87 unit's state, attached to cpu.x87 on first use. */
export class X87State {
  /** Physical registers R0-R7, 3 words each: significand lo, hi (bit 31 = integer bit), sign<<15 | exponent. */
  readonly st = new Uint32Array(24);
  /** Bit p set: physical register p is empty. */
  emp = 0xff;
  top = 0;
  cw = 0x37f;
  /** Status word without TOP (bits 11-13). */
  sw = 0;
  fip = 0; fdp = 0; fop = 0;
}

export function fpuState(c: Cpu): X87State {
  let s = c.x87 as X87State | null;
  if (s === null) { s = new X87State(); c.x87 = s; }
  return s;
}

// scratch
const U = new Uint32Array(4);
const V = new Uint32Array(6);
const W = new Uint32Array(6);
const ZERO = new Uint32Array(3);
const NANX = Uint32Array.of(0, 0xc0000000, 0xffff);
const ONE = Uint32Array.of(0, 0x80000000, 16383);

// ---------------------------------------------------------------- constants (exact binary expansions)
// [hi, lo of the truncated 64-bit significand, exponent, round-to-nearest goes up]
const K_L2T = [0xd49a784b, 0xcd1b8afe, 1, 0];
const K_L2E = [0xb8aa3b29, 0x5c17f0bb, 0, 1];
const K_PI = [0xc90fdaa2, 0x2168c234, 1, 1];
const K_LG2 = [0x9a209a84, 0xfbcff798, -2, 1];
const K_LN2 = [0xb17217f7, 0xd1cf79ab, -1, 1];

// ---------------------------------------------------------------- helpers
function sw(s: X87State): number { return (s.sw | (s.top << 11)) & 0xffff; }

/** Common entry of a waiting x87 instruction: #NM, pending unmasked exception (#MF), last-instruction pointers. */
function enter(c: Cpu, i: Insn): X87State {
  if (c.cr0 & 0xc) c.raise(7);
  const s = fpuState(c);
  if (s.sw & ES) c.raise(16);
  s.fip = c.insnRip;
  s.fop = ((i.op & 7) << 8) | i.modrm;
  return s;
}
/** Entry of a control instruction (no #MF check, pointers unchanged). */
function enterCtl(c: Cpu): X87State {
  if (c.cr0 & 0xc) c.raise(7);
  return fpuState(c);
}
function setEs(s: X87State): void {
  if (s.sw & ~s.cw & 0x3f) s.sw |= ES | B; else s.sw &= ~(ES | B);
}
/** Merge exception flags (sticky) and replace the condition codes in `ccMask` by those in r. */
function status(s: X87State, r: number, ccMask: number): void {
  if (r & ~s.cw & 7) s.sw = (s.sw & ~C1) | (r & 7); // an unmasked invalid/denormal/zero-divide stops the operation
  else s.sw = (s.sw & ~ccMask) | (r & 0x3f) | (r & ccMask);
  setEs(s);
}
/** Masked stack-underflow response that also pushes: the new ST0 is the indefinite, no overflow check. */
function pushNaN(s: X87State): void { s.top = (s.top - 1) & 7; setNaN(s, s.top); }
/** An unmasked invalid/denormal/zero-divide exception leaves the destination unchanged. */
function blocked(s: X87State, r: number): boolean { return (r & ~s.cw & 7) !== 0; }

function phys(s: X87State, k: number): number { return (s.top + k) & 7; }
function isEmpty(s: X87State, k: number): boolean { return ((s.emp >> ((s.top + k) & 7)) & 1) !== 0; }
function setNaN(s: X87State, p: number): void { const o = p * 3; s.st[o] = 0; s.st[o + 1] = 0xc0000000; s.st[o + 2] = 0xffff; s.emp &= ~(1 << p); }
function copyIn(s: X87State, p: number, src: Uint32Array, si: number): void {
  const o = p * 3; s.st[o] = src[si]; s.st[o + 1] = src[si + 1]; s.st[o + 2] = src[si + 2] & 0xffff;
}

/** Stack underflow: IE|SF, C1=0. Returns true when the masked response should proceed. */
function underflow(s: X87State): boolean {
  s.sw = (s.sw & ~C1) | IE | SF;
  setEs(s);
  return (s.cw & 1) !== 0;
}
/** Push a value from (src, si); on overflow store the indefinite (masked) with IE|SF|C1. */
function push(s: X87State, src: Uint32Array, si: number): void {
  const p = (s.top - 1) & 7;
  if (!((s.emp >> p) & 1)) {
    s.sw |= IE | SF | C1; setEs(s);
    if (!(s.cw & 1)) return;
    s.top = p; setNaN(s, p); return;
  }
  s.top = p; s.emp &= ~(1 << p);
  copyIn(s, p, src, si);
}
function pop(s: X87State): void { s.emp |= 1 << s.top; s.top = (s.top + 1) & 7; }

/** Tag of a register from its contents (0 valid, 1 zero, 2 special). */
function tagOf(st: Uint32Array, o: number): number {
  const e = st[o + 2] & 0x7fff;
  if (e === 0x7fff) return 2;
  if (e === 0) return (st[o] | st[o + 1]) === 0 ? 1 : 2;
  return st[o + 1] & 0x80000000 ? 0 : 2;
}
function fullTag(s: X87State): number {
  let t = 0;
  for (let p = 0; p < 8; p++) t |= ((s.emp >> p) & 1 ? 3 : tagOf(s.st, p * 3)) << (2 * p);
  return t;
}

// ---------------------------------------------------------------- memory operand conversion into V (80-bit)
/** Load the memory operand of kind k (0 m32fp, 1 m32int, 2 m64fp, 3 m16int) into V[0..2]; returns exception bits. */
function loadArith(c: Cpu, ea: number, k: number): number {
  switch (k) {
    case 0: U[0] = c.read32(ea); return x.fldFloat(V, 0, U, 0, false);
    case 1: U[0] = c.read32(ea); return x.fild(V, 0, U, 0, 32);
    case 2: U[0] = c.read64(ea); U[1] = c.hi; return x.fldFloat(V, 0, U, 0, true);
    default: U[0] = c.read16(ea); return x.fild(V, 0, U, 0, 16);
  }
}

// ---------------------------------------------------------------- arithmetic
/** Binary op by ModRM.reg-style selector: 0 add, 1 mul, 4 sub (a-b), 5 subr (b-a), 6 div, 7 divr. Result into W. */
function arith(op: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number, cw: number): number {
  switch (op) {
    case 0: return x.fadd(W, 0, a, ai, b, bi, cw);
    case 1: return x.fmul(W, 0, a, ai, b, bi, cw);
    case 4: return x.fsub(W, 0, a, ai, b, bi, cw);
    case 5: return x.fsub(W, 0, b, bi, a, ai, cw);
    case 6: return x.fdiv(W, 0, a, ai, b, bi, cw);
    default: return x.fdiv(W, 0, b, bi, a, ai, cw);
  }
}
/** Write W into ST(k) after an arithmetic result with status r. */
function result(s: X87State, k: number, r: number): void {
  status(s, r, C1);
  if (blocked(s, r)) return;
  copyIn(s, phys(s, k), W, 0);
}
function comResult(c: Cpu, s: X87State, r: number, npop: number): void {
  // the condition codes are written even when an unmasked exception stops the pops
  const b = blocked(s, r);
  s.sw = (s.sw & ~CC) | (r & (C0 | C2 | C3)) | (b ? r & 7 : r & 0x3f);
  setEs(s);
  if (b) return;
  void c;
  for (let k = 0; k < npop; k++) pop(s);
}

/** D8/DC/DA/DE memory forms: ST0 op m. */
function memArith(c: Cpu, i: Insn, s: X87State, k: number): void {
  const ea = i.ea(c, i);
  s.fdp = ea;
  const lr = loadArith(c, ea, k);
  if ((lr & IE) && (V[2] & 0x7fff) === 0x7fff) V[1] &= ~0x40000000; // keep an SNaN operand signalling for the NaN rules
  const op = i.sub;
  if (isEmpty(s, 0)) { if (op === 2 || op === 3) { comEmpty(s, op === 3 ? 1 : 0); return; } if (underflow(s)) setNaN(s, s.top); return; }
  const o = s.top * 3;
  if (op === 2 || op === 3) { const r = x.fcom(s.st, o, V, 0, false); comResult(c, s, r | (lr & (r & IE ? IE : IE | DE)), op - 2); return; }
  const r = arith(op, s.st, o, V, 0, s.cw);
  // a NaN in ST0, or a divide by zero, takes precedence over a denormal memory operand: the host
  // reports no DE then (both found by the difference test)
  const st0NaN = (s.st[o + 2] & 0x7fff) === 0x7fff && ((s.st[o + 1] & 0x7fffffff) | s.st[o]) !== 0;
  result(s, 0, r | (lr & (r & (IE | ZE) || st0NaN ? IE : IE | DE)));
}
function comEmpty(s: X87State, npop: number): void {
  s.sw |= C0 | C2 | C3;
  if (underflow(s)) for (let k = 0; k < npop; k++) pop(s);
}

function escD8(c: Cpu, i: Insn): void {
  const s = enter(c, i);
  if (i.rm < 0) { memArith(c, i, s, 0); return; }
  const j = i.modrm & 7, op = i.sub;
  if (isEmpty(s, 0) || isEmpty(s, j)) {
    if (op === 2 || op === 3) { comEmpty(s, op - 2); return; }
    if (underflow(s)) setNaN(s, s.top);
    return;
  }
  const a = s.top * 3, b = phys(s, j) * 3;
  if (op === 2 || op === 3) { comResult(c, s, x.fcom(s.st, a, s.st, b, false), op - 2); return; }
  result(s, 0, arith(op, s.st, a, s.st, b, s.cw));
}
/** DC/DE register forms: ST(j) = ST(j) op ST0 (sub 4/5 and 6/7 are swapped relative to D8). */
function regArithTo(c: Cpu, i: Insn, s: X87State, popAfter: boolean): void {
  const j = i.modrm & 7;
  let op = i.sub;
  if (op === 2 || op === 3) { // FCOM/FCOMP aliases (DC), DE D8-DF: FCOMP alias / DE D9 FCOMPP
    const npop = i.op === 0xde ? (op === 3 && j === 1 ? 2 : op === 2 ? 1 : -1) : op - 2;
    if (npop < 0) { c.raise(6); }
    if (isEmpty(s, 0) || isEmpty(s, j)) { comEmpty(s, npop); return; }
    comResult(c, s, x.fcom(s.st, s.top * 3, s.st, phys(s, j) * 3, false), npop);
    return;
  }
  if (op >= 4) op ^= 1;
  if (isEmpty(s, 0) || isEmpty(s, j)) {
    if (underflow(s)) { setNaN(s, phys(s, j)); s.emp &= ~(1 << phys(s, j)); if (popAfter) pop(s); }
    return;
  }
  const r = arith(op, s.st, phys(s, j) * 3, s.st, s.top * 3, s.cw);
  result(s, j, r);
  if (popAfter && !blocked(s, r)) pop(s);
}
function escDC(c: Cpu, i: Insn): void {
  const s = enter(c, i);
  if (i.rm < 0) { memArith(c, i, s, 2); return; }
  regArithTo(c, i, s, false);
}
function escDE(c: Cpu, i: Insn): void {
  const s = enter(c, i);
  if (i.rm < 0) { memArith(c, i, s, 3); return; }
  regArithTo(c, i, s, true);
}

// ---------------------------------------------------------------- loads and stores
function fldV(s: X87State, r: number): void {
  status(s, r, C1); s.sw &= ~C1;
  // only an unmasked IE (SNaN source) stops the load: a denormal m32/m64 source is loaded (normalized) with DE
  // reported even when DE is unmasked (host CPU; test/fp/x87unmasked.test.ts), the #MF comes at the next FWAIT
  if (r & ~s.cw & IE) return;
  push(s, V, 0);
}
const STORE_BYTES = [4, 8, 2, 4, 8, 10];
/** Store ST0 as float (is64) or integer (bits) to ea; `kind` 0 float32, 1 float64, 2 int16, 3 int32, 4 int64, 5 m80. */
function storeST0(c: Cpu, s: X87State, ea: number, kind: number, trunc: boolean, popAfter: boolean): void {
  c.probeWrite(ea, STORE_BYTES[kind]); // a faulting store leaves FSW, FDP and the stack unchanged
  s.fdp = ea;
  let r = 0;
  const empty = isEmpty(s, 0);
  if (empty && !underflow(s)) return;
  const src = empty ? NANX : s.st, o = empty ? 0 : s.top * 3;
  switch (kind) {
    case 0: r |= x.fstFloat(U, 0, src, o, s.cw, false); break;
    case 1: r |= x.fstFloat(U, 0, src, o, s.cw, true); break;
    case 2: r |= x.fist(U, 0, src, o, s.cw, 16, trunc); break;
    case 3: r |= x.fist(U, 0, src, o, s.cw, 32, trunc); break;
    case 4: r |= x.fist(U, 0, src, o, s.cw, 64, trunc); break;
    default: U[0] = src[o]; U[1] = src[o + 1]; U[2] = src[o + 2];
  }
  if (empty) r &= ~C1;
  if (blocked(s, r)) { status(s, r, C1); s.sw &= ~C1; return; }
  switch (kind) {
    case 0: case 3: c.write32(ea, U[0]); break;
    case 2: c.write16(ea, U[0]); break;
    case 1: case 4: c.write64(ea, U[0], U[1]); break;
    default:
      c.write64(ea, U[0], U[1]); c.write16(ea + 8, U[2]);
  }
  status(s, r, C1);
  if (popAfter) pop(s);
}

function loadConst(s: X87State, k: number[]): void {
  const rc = (s.cw >> 10) & 3;
  let hi = k[0], lo = k[1];
  const up = rc === 0 ? k[3] === 1 : rc === 2;
  if (up) { lo = (lo + 1) >>> 0; if (lo === 0) hi = (hi + 1) >>> 0; }
  V[0] = lo; V[1] = hi; V[2] = k[2] + 16383;
  s.sw &= ~C1;
  push(s, V, 0);
}

// ---------------------------------------------------------------- D9
function escD9(c: Cpu, i: Insn): void {
  if (i.rm < 0) {
    switch (i.sub) {
      case 0: { const s = enter(c, i); const ea = i.ea(c, i); s.fdp = ea; fldV(s, loadArith(c, ea, 0)); return; }
      case 2: { const s = enter(c, i); storeST0(c, s, i.ea(c, i), 0, false, false); return; }
      case 3: { const s = enter(c, i); storeST0(c, s, i.ea(c, i), 0, false, true); return; }
      case 4: { const s = enterCtl(c); fldenv(c, s, i.ea(c, i), i.osz === 2); return; }
      case 5: { const s = enterCtl(c); s.cw = (c.read16(i.ea(c, i)) & 0x1f3f) | 0x40; setEs(s); return; }
      case 6: { const s = enterCtl(c); fnstenv(c, s, i.ea(c, i), i.osz === 2); s.cw |= 0x3f; setEs(s); return; }
      case 7: { const s = enterCtl(c); c.write16(i.ea(c, i), s.cw); return; }
    }
    c.raise(6);
  }
  const s = enter(c, i);
  const j = i.modrm & 7;
  const st = s.st;
  switch (i.modrm >> 3 & 7) {
    case 0: { // FLD ST(j)
      if (isEmpty(s, j)) { if (underflow(s)) pushNaN(s); return; }
      const o = phys(s, j) * 3; V[0] = st[o]; V[1] = st[o + 1]; V[2] = st[o + 2];
      s.sw &= ~C1; push(s, V, 0); return;
    }
    case 1: fxch(s, j); return;
    case 2: if (j === 0) return; break; // FNOP
    case 3: fstReg(s, j, true); return; // FSTP1 alias
    case 4:
      switch (j) {
        case 0: case 1: { // FCHS, FABS
          if (isEmpty(s, 0)) { if (underflow(s)) setNaN(s, s.top); return; }
          const o = s.top * 3; st[o + 2] = j === 0 ? st[o + 2] ^ 0x8000 : st[o + 2] & 0x7fff;
          s.sw &= ~C1; return;
        }
        case 4: // FTST
          if (isEmpty(s, 0)) { comEmpty(s, 0); return; }
          comResult(c, s, x.fcom(st, s.top * 3, ZERO, 0, false), 0); return;
        case 5: fxam(s); return;
      }
      break;
    case 5:
      switch (j) {
        case 0: V[0] = 0; V[1] = 0x80000000; V[2] = 16383; s.sw &= ~C1; push(s, V, 0); return; // FLD1
        case 1: loadConst(s, K_L2T); return;
        case 2: loadConst(s, K_L2E); return;
        case 3: loadConst(s, K_PI); return;
        case 4: loadConst(s, K_LG2); return;
        case 5: loadConst(s, K_LN2); return;
        case 6: V[0] = 0; V[1] = 0; V[2] = 0; s.sw &= ~C1; push(s, V, 0); return; // FLDZ
      }
      break;
    case 6: escD9F0(c, s, j); return;
    case 7: escD9F8(c, s, j); return;
  }
  c.raise(6);
}

function fxch(s: X87State, j: number): void {
  const a = s.top, b = phys(s, j);
  if ((s.emp >> a) & 1 || (s.emp >> b) & 1) {
    if (!underflow(s)) return;
    if ((s.emp >> a) & 1) { setNaN(s, a); s.emp &= ~(1 << a); }
    if ((s.emp >> b) & 1) { setNaN(s, b); s.emp &= ~(1 << b); }
  }
  const st = s.st, oa = a * 3, ob = b * 3;
  for (let k = 0; k < 3; k++) { const t = st[oa + k]; st[oa + k] = st[ob + k]; st[ob + k] = t; }
  s.sw &= ~C1;
}
function fstReg(s: X87State, j: number, popAfter: boolean): void {
  if (isEmpty(s, 0)) {
    if (!underflow(s)) return;
    setNaN(s, phys(s, j)); s.emp &= ~(1 << phys(s, j));
  } else {
    const a = s.top * 3, b = phys(s, j) * 3;
    s.st[b] = s.st[a]; s.st[b + 1] = s.st[a + 1]; s.st[b + 2] = s.st[a + 2];
    s.emp &= ~(1 << phys(s, j));
    s.sw &= ~C1;
  }
  if (popAfter) pop(s);
}
function fxam(s: X87State): void {
  const o = s.top * 3, st = s.st;
  const sign = st[o + 2] & 0x8000 ? C1 : 0;
  let cc: number;
  if (isEmpty(s, 0)) cc = C3 | C0;
  else {
    const e = st[o + 2] & 0x7fff, hi = st[o + 1], lo = st[o];
    const ib = (hi & 0x80000000) !== 0;
    if (e === 0x7fff) cc = !ib ? 0 : ((hi & 0x7fffffff) | lo) === 0 ? C2 | C0 : C0;
    else if (e === 0) cc = (hi | lo) === 0 ? C3 : C3 | C2;
    else cc = ib ? C2 : 0;
  }
  s.sw = (s.sw & ~CC) | cc | sign;
}

/** F2XM1 is defined on [-1, 1]; larger finite operands are returned unchanged (and must not reach the series). */
function f2xm1OutOfRange(st: Uint32Array, o: number): boolean {
  const e = st[o + 2] & 0x7fff;
  if (e === 0x7fff || e < 16383 || !(st[o + 1] & 0x80000000)) return false;
  return e > 16383 || st[o] !== 0 || st[o + 1] !== 0x80000000;
}
function escD9F0(c: Cpu, s: X87State, j: number): void {
  const st = s.st, t = s.top * 3;
  switch (j) {
    case 0: // F2XM1
      if (isEmpty(s, 0)) { if (underflow(s)) setNaN(s, s.top); return; }
      if (f2xm1OutOfRange(st, t)) { status(s, PE, C1); s.sw &= ~C1; return; } // |x| > 1: x unchanged, PE (as the host does)
      result(s, 0, x.f2xm1(W, 0, st, t, s.cw)); return;
    case 1: case 3: { // FYL2X (1), FPATAN (3)
      if (isEmpty(s, 0) || isEmpty(s, 1)) { if (underflow(s)) { setNaN(s, phys(s, 1)); s.emp &= ~(1 << phys(s, 1)); pop(s); } return; }
      const o1 = phys(s, 1) * 3;
      const r = j === 1 ? x.fyl2x(W, 0, st, o1, st, t, s.cw) : x.fpatan(W, 0, st, o1, st, t, s.cw);
      result(s, 1, r);
      if (!blocked(s, r)) pop(s);
      return;
    }
    case 2: { // FPTAN
      if (isEmpty(s, 0)) { s.sw &= ~C2; if (underflow(s)) { setNaN(s, s.top); pushNaN(s); } return; }
      if (!isEmpty(s, 7)) { s.sw = (s.sw & ~C2) | IE | SF | C1; setEs(s); if (s.cw & 1) { setNaN(s, s.top); V[0] = 0; V[1] = 0xc0000000; V[2] = 0xffff; s.top = (s.top - 1) & 7; setNaN(s, s.top); } return; }
      const r = x.fptan(W, 0, st, t, s.cw);
      status(s, r, C1 | C2);
      if (blocked(s, r)) return;
      copyIn(s, s.top, W, 0);
      if (r & C2) return;
      // a NaN result (NaN or infinite operand) is pushed in place of 1.0, as the hardware does (seen on AMD)
      if (isNaNAt(W, 0)) push(s, W, 0);
      else { V[0] = 0; V[1] = 0x80000000; V[2] = 16383; push(s, V, 0); }
      return;
    }
    case 4: { // FXTRACT
      if (isEmpty(s, 0)) { if (underflow(s)) { setNaN(s, s.top); pushNaN(s); } return; }
      if (!isEmpty(s, 7)) { s.sw |= IE | SF | C1; setEs(s); if (s.cw & 1) { setNaN(s, s.top); s.top = (s.top - 1) & 7; setNaN(s, s.top); } return; }
      const r = x.fxtract(W, 0, V, 0, st, t);
      status(s, r, C1); s.sw &= ~C1;
      if (blocked(s, r)) return;
      copyIn(s, s.top, V, 0);
      push(s, W, 0);
      return;
    }
    case 5: fpremOp(s, true); return;
    case 6: s.top = (s.top - 1) & 7; s.sw &= ~C1; return; // FDECSTP
    case 7: s.top = (s.top + 1) & 7; s.sw &= ~C1; return; // FINCSTP
  }
  c.raise(6);
}
function isNaNAt(st: Uint32Array, o: number): boolean {
  return (st[o + 2] & 0x7fff) === 0x7fff && ((st[o + 1] & 0x7fffffff) | st[o]) !== 0;
}
function fpremOp(s: X87State, round: boolean): void {
  if (isEmpty(s, 0) || isEmpty(s, 1)) { s.sw &= ~C2; if (underflow(s)) setNaN(s, s.top); return; }
  const a = s.top * 3, b = phys(s, 1) * 3;
  const r = x.fprem(W, 0, s.st, a, s.st, b, round, s.cw);
  // a NaN/invalid result leaves C0, C1, C3 alone and clears C2
  const nan = (r & IE) !== 0 || isNaNAt(s.st, a) || isNaNAt(s.st, b);
  status(s, r & ~(nan ? CC : 0), nan ? C1 | C2 : CC);
  if (blocked(s, r)) return;
  copyIn(s, s.top, W, 0);
}
function escD9F8(c: Cpu, s: X87State, j: number): void {
  const st = s.st, t = s.top * 3;
  switch (j) {
    case 0: fpremOp(s, false); return;
    case 1: { // FYL2XP1
      if (isEmpty(s, 0) || isEmpty(s, 1)) { if (underflow(s)) { setNaN(s, phys(s, 1)); s.emp &= ~(1 << phys(s, 1)); pop(s); } return; }
      const e = st[t + 2] & 0x7fff, neg = (st[t + 2] & 0x8000) !== 0;
      let r: number;
      if (e !== 0x7fff && e >= 16383 && neg) { // x <= -1: outside the domain; the host leaves x (PE)
        W[0] = st[t]; W[1] = st[t + 1]; W[2] = st[t + 2]; r = PE;
      } else if (e !== 0x7fff && e >= 16384) { // x >= 2: far outside the documented range; log2(x + 1) through FYL2X
        x.fadd(V, 0, st, t, ONE, 0, 0x37f);
        r = x.fyl2x(W, 0, st, phys(s, 1) * 3, V, 0, s.cw) | PE;
      } else r = x.fyl2xp1(W, 0, st, phys(s, 1) * 3, st, t, s.cw);
      result(s, 1, r);
      if (!blocked(s, r)) pop(s);
      return;
    }
    case 2: case 4: case 6: case 7: { // FSQRT FRNDINT FSIN FCOS
      if (isEmpty(s, 0)) { if (j >= 6) s.sw &= ~C2; if (underflow(s)) setNaN(s, s.top); return; }
      let r: number;
      if (j === 2) r = x.fsqrt(W, 0, st, t, s.cw);
      else if (j === 4) r = x.frndint(W, 0, st, t, s.cw);
      else if (j === 6) r = x.fsin(W, 0, st, t, s.cw);
      else r = x.fcos(W, 0, st, t, s.cw);
      if (j >= 6) { status(s, r, C1 | C2); if (!blocked(s, r)) copyIn(s, s.top, W, 0); return; }
      result(s, 0, r);
      return;
    }
    case 3: { // FSINCOS
      if (isEmpty(s, 0)) { s.sw &= ~C2; if (underflow(s)) { setNaN(s, s.top); pushNaN(s); } return; }
      if (!isEmpty(s, 7)) { s.sw = (s.sw & ~C2) | IE | SF | C1; setEs(s); if (s.cw & 1) { setNaN(s, s.top); s.top = (s.top - 1) & 7; setNaN(s, s.top); } return; }
      const r = x.fsincos(W, 0, V, 0, st, t, s.cw);
      status(s, r, C1 | C2);
      if (blocked(s, r)) return;
      if (r & C2) return;
      copyIn(s, s.top, W, 0);
      push(s, V, 0);
      return;
    }
    case 5: { // FSCALE
      if (isEmpty(s, 0) || isEmpty(s, 1)) { if (underflow(s)) setNaN(s, s.top); return; }
      result(s, 0, x.fscale(W, 0, st, t, st, phys(s, 1) * 3, s.cw));
      return;
    }
  }
  c.raise(6);
}

// ---------------------------------------------------------------- DA / DB: integer m32, FCMOV, FUCOMPP, FCOMI, FNINIT
function fcmov(c: Cpu, s: X87State, j: number, take: boolean): void {
  if (isEmpty(s, 0) || isEmpty(s, j)) {
    if (!underflow(s)) return;
    setNaN(s, s.top);
    return;
  }
  void c;
  if (take) { const a = s.top * 3, b = phys(s, j) * 3; s.st[a] = s.st[b]; s.st[a + 1] = s.st[b + 1]; s.st[a + 2] = s.st[b + 2]; }
}
function escDA(c: Cpu, i: Insn): void {
  const s = enter(c, i);
  if (i.rm < 0) { memArith(c, i, s, 1); return; }
  const j = i.modrm & 7;
  switch (i.sub) {
    case 0: fcmov(c, s, j, cond(c, 2)); return; // FCMOVB: CF
    case 1: fcmov(c, s, j, cond(c, 4)); return; // FCMOVE: ZF
    case 2: fcmov(c, s, j, cond(c, 6)); return; // FCMOVBE
    case 3: fcmov(c, s, j, cond(c, 10)); return; // FCMOVU: PF
    case 5:
      if (j === 1) { // FUCOMPP
        if (isEmpty(s, 0) || isEmpty(s, 1)) { comEmpty(s, 2); return; }
        comResult(c, s, x.fcom(s.st, s.top * 3, s.st, phys(s, 1) * 3, true), 2);
        return;
      }
  }
  c.raise(6);
}
function fcomi(c: Cpu, s: X87State, j: number, unordered: boolean, popAfter: boolean): void {
  let fl: number;
  if (isEmpty(s, 0) || isEmpty(s, j)) {
    if (!underflow(s)) popAfter = false;
    fl = F.ZF | F.PF | F.CF;
  } else {
    // EFLAGS are written even when an unmasked exception stops the pop; C1 is left alone
    const r = x.fcom(s.st, s.top * 3, s.st, phys(s, j) * 3, unordered);
    s.sw |= blocked(s, r) ? r & 7 : r & 0x3f;
    setEs(s);
    fl = x.comiFlags(r);
    if (blocked(s, r)) popAfter = false;
  }
  materialize(c);
  c.flags = (c.flags & ~F.ARITH) | fl;
  if (popAfter) pop(s);
}
function escDB(c: Cpu, i: Insn): void {
  if (i.rm < 0) {
    const s = enter(c, i);
    const ea = i.ea(c, i);
    switch (i.sub) {
      case 0: s.fdp = ea; U[0] = c.read32(ea); fldV(s, x.fild(V, 0, U, 0, 32)); return;
      case 1: storeST0(c, s, ea, 3, true, true); return;
      case 2: storeST0(c, s, ea, 3, false, false); return;
      case 3: storeST0(c, s, ea, 3, false, true); return;
      case 5: { s.fdp = ea; const lo = c.read64(ea), hi = c.hi; const se = c.read16(ea + 8); V[0] = lo; V[1] = hi; V[2] = se; fldV(s, 0); return; }
      case 7: storeST0(c, s, ea, 5, false, true); return;
    }
    c.raise(6);
  }
  const j = i.modrm & 7;
  if (i.sub === 4) {
    const s = enterCtl(c);
    switch (j) {
      case 0: case 1: case 4: return; // FENI, FDISI, FSETPM: no-ops
      case 2: s.sw &= ~(0x3f | SF | ES | B); return; // FNCLEX
      case 3: fninit(s); return;
    }
    c.raise(6);
  }
  const s = enter(c, i);
  switch (i.sub) {
    case 0: fcmov(c, s, j, !cond(c, 2)); return;
    case 1: fcmov(c, s, j, !cond(c, 4)); return;
    case 2: fcmov(c, s, j, !cond(c, 6)); return;
    case 3: fcmov(c, s, j, !cond(c, 10)); return;
    case 5: fcomi(c, s, j, true, false); return;
    case 6: fcomi(c, s, j, false, false); return;
  }
  c.raise(6);
}
function fninit(s: X87State): void {
  s.cw = 0x37f; s.sw = 0; s.top = 0; s.emp = 0xff; s.fip = 0; s.fdp = 0; s.fop = 0;
}

// ---------------------------------------------------------------- DD / DF
function escDD(c: Cpu, i: Insn): void {
  if (i.rm < 0) {
    const ea = i.ea(c, i);
    switch (i.sub) {
      case 0: { const s = enter(c, i); s.fdp = ea; fldV(s, loadArith(c, ea, 2)); return; }
      case 1: storeST0(c, enter(c, i), ea, 4, true, true); return;
      case 2: storeST0(c, enter(c, i), ea, 1, false, false); return;
      case 3: storeST0(c, enter(c, i), ea, 1, false, true); return;
      case 4: { const s = enterCtl(c); frstor(c, s, ea, i.osz === 2); return; }
      case 6: { const s = enterCtl(c); fnsave(c, s, ea, i.osz === 2); return; }
      case 7: { const s = enterCtl(c); c.write16(ea, sw(s)); return; }
    }
    c.raise(6);
  }
  const s = enter(c, i);
  const j = i.modrm & 7;
  switch (i.sub) {
    case 0: s.emp |= 1 << phys(s, j); s.sw &= ~C1; return; // FFREE
    case 1: fxch(s, j); return; // alias
    case 2: fstReg(s, j, false); return;
    case 3: fstReg(s, j, true); return;
    case 4: case 5: // FUCOM, FUCOMP
      if (isEmpty(s, 0) || isEmpty(s, j)) { comEmpty(s, i.sub - 4); return; }
      comResult(c, s, x.fcom(s.st, s.top * 3, s.st, phys(s, j) * 3, true), i.sub - 4);
      return;
  }
  c.raise(6);
}
function escDF(c: Cpu, i: Insn): void {
  if (i.rm < 0) {
    const s = enter(c, i);
    const ea = i.ea(c, i);
    switch (i.sub) {
      case 0: s.fdp = ea; U[0] = c.read16(ea); fldV(s, x.fild(V, 0, U, 0, 16)); return;
      case 1: storeST0(c, s, ea, 2, true, true); return;
      case 2: storeST0(c, s, ea, 2, false, false); return;
      case 3: storeST0(c, s, ea, 2, false, true); return;
      case 5: s.fdp = ea; U[0] = c.read64(ea); U[1] = c.hi; fldV(s, x.fild(V, 0, U, 0, 64)); return;
      case 7: storeST0(c, s, ea, 4, false, true); return;
    }
    c.raise(6); // FBLD/FBSTP (packed BCD) are not implemented
  }
  const j = i.modrm & 7;
  if (i.sub === 4 && j === 0) { const s = enterCtl(c); c.regs16[0] = sw(s); return; } // FNSTSW AX
  const s = enter(c, i);
  switch (i.sub) {
    case 0: s.emp |= 1 << phys(s, j); pop(s); return; // FFREEP
    case 1: fxch(s, j); return;
    case 2: case 3: fstReg(s, j, true); return;
    case 5: fcomi(c, s, j, true, true); return;
    case 6: fcomi(c, s, j, false, true); return;
  }
  c.raise(6);
}

function fwait(c: Cpu, _i: Insn): void {
  if ((c.cr0 & 0xa) === 0xa) c.raise(7);
  const s = c.x87 as X87State | null;
  if (s !== null && (s.sw & ES)) c.raise(16);
}

// ---------------------------------------------------------------- environment (FNSTENV/FLDENV/FNSAVE/FRSTOR)
/** 32-bit protected-mode format (28 bytes), or the 16-bit one (14 bytes) with a 66 prefix. */
function fnstenv(c: Cpu, s: X87State, ea: number, o16: boolean): void {
  if (o16) {
    c.translate(ea, 1); c.translate(ea + 13, 1);
    c.write16(ea, s.cw); c.write16(ea + 2, sw(s)); c.write16(ea + 4, fullTag(s));
    c.write16(ea + 6, s.fip & 0xffff); c.write16(ea + 8, s.fop & 0x7ff); c.write16(ea + 10, s.fdp & 0xffff); c.write16(ea + 12, 0);
    return;
  }
  c.translate(ea, 1); c.translate(ea + 27, 1);
  c.write32(ea, s.cw | 0xffff0000); c.write32(ea + 4, sw(s) | 0xffff0000); c.write32(ea + 8, fullTag(s) | 0xffff0000);
  c.write32(ea + 12, s.fip | 0); c.write32(ea + 16, (s.fop & 0x7ff) << 16); c.write32(ea + 20, s.fdp | 0); c.write32(ea + 24, 0xffff0000);
}
function fldenv(c: Cpu, s: X87State, ea: number, o16: boolean): void {
  // every read before any state changes: a fault part-way leaves the FPU unchanged
  let cw: number, swv: number, tw: number, fip: number, fop: number, fdp: number;
  if (o16) { cw = c.read16(ea); swv = c.read16(ea + 2); tw = c.read16(ea + 4); fip = c.read16(ea + 6); fop = c.read16(ea + 8) & 0x7ff; fdp = c.read16(ea + 10); }
  else { cw = c.read16(ea); swv = c.read16(ea + 4); tw = c.read16(ea + 8); fip = c.read32(ea + 12) >>> 0; fop = (c.read32(ea + 16) >>> 16) & 0x7ff; fdp = c.read32(ea + 20) >>> 0; }
  s.fip = fip; s.fop = fop; s.fdp = fdp;
  s.cw = (cw & 0x1f3f) | 0x40;
  s.top = (swv >> 11) & 7; s.sw = swv & ~0x3800;
  let emp = 0;
  for (let p = 0; p < 8; p++) if (((tw >> (2 * p)) & 3) === 3) emp |= 1 << p;
  s.emp = emp;
  setEs(s);
}
function fnsave(c: Cpu, s: X87State, ea: number, o16: boolean): void {
  const n = o16 ? 14 : 28;
  c.translate(ea, 1); c.translate(ea + n + 79, 1);
  fnstenv(c, s, ea, o16);
  for (let k = 0; k < 8; k++) {
    const o = phys(s, k) * 3, a = ea + n + 10 * k;
    c.write64(a, s.st[o], s.st[o + 1]); c.write16(a + 8, s.st[o + 2]);
  }
  fninit(s);
}
const SAVE = new Uint32Array(24);
function frstor(c: Cpu, s: X87State, ea: number, o16: boolean): void {
  const n = o16 ? 14 : 28;
  for (let k = 0; k < 8; k++) { const a = ea + n + 10 * k; SAVE[3 * k] = c.read64(a); SAVE[3 * k + 1] = c.hi; SAVE[3 * k + 2] = c.read16(a + 8); }
  fldenv(c, s, ea, o16);
  for (let k = 0; k < 8; k++) copyIn(s, phys(s, k), SAVE, 3 * k);
}

// ---------------------------------------------------------------- FXSAVE / FXRSTOR image (called by ops/sse.ts)
/** Write bytes 0-23 and 32-159 of the FXSAVE image (the caller has probed the 512 bytes). */
export function fxsaveX87(c: Cpu, ea: number, rexW: boolean): void {
  const s = fpuState(c);
  c.write16(ea, s.cw); c.write16(ea + 2, sw(s));
  c.write8(ea + 4, ~s.emp & 0xff); c.write8(ea + 5, 0);
  c.write16(ea + 6, s.fop & 0x7ff);
  if (rexW) { c.write64(ea + 8, s.fip >>> 0, Math.floor(s.fip / 4294967296) | 0); c.write64(ea + 16, s.fdp >>> 0, Math.floor(s.fdp / 4294967296) | 0); }
  else { c.write32(ea + 8, s.fip | 0); c.write32(ea + 12, 0); c.write32(ea + 16, s.fdp | 0); c.write32(ea + 20, 0); }
  for (let k = 0; k < 8; k++) {
    const o = phys(s, k) * 3, a = ea + 32 + 16 * k;
    c.write64(a, s.st[o], s.st[o + 1]); c.write64(a + 8, s.st[o + 2] & 0xffff, 0);
  }
}
/** Load x87 state from an FXSAVE image already read into 128 dwords. */
export function fxrstorX87(c: Cpu, img: Int32Array, rexW: boolean): void {
  const s = fpuState(c);
  s.cw = (img[0] & 0x1f3f) | 0x40;
  const swv = img[0] >>> 16;
  s.top = (swv >> 11) & 7; s.sw = swv & ~0x3800;
  s.emp = ~img[1] & 0xff;
  s.fop = (img[1] >>> 16) & 0x7ff;
  s.fip = rexW ? (img[2] >>> 0) + img[3] * 4294967296 : img[2] >>> 0;
  s.fdp = rexW ? (img[4] >>> 0) + img[5] * 4294967296 : img[4] >>> 0;
  for (let k = 0; k < 8; k++) {
    const o = phys(s, k) * 3, d = 8 + 4 * k;
    s.st[o] = img[d]; s.st[o + 1] = img[d + 1]; s.st[o + 2] = img[d + 2] & 0xffff;
  }
  setEs(s);
}

export function installX87(): void {
  cpuidExtra.edx1 |= 1; // FPU
  def(0, 0xd8, D.M, escD8);
  def(0, 0xd9, D.M, escD9);
  def(0, 0xda, D.M, escDA);
  def(0, 0xdb, D.M, escDB);
  def(0, 0xdc, D.M, escDC);
  def(0, 0xdd, D.M, escDD);
  def(0, 0xde, D.M, escDE);
  def(0, 0xdf, D.M, escDF);
  def(0, 0x9b, 0, fwait);
  void ZE; void fullTag;
}
