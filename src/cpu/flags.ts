// Lazy arithmetic flags: ALU ops record (op, size, operands, result); a flag is computed only when read.
// Imports only the Cpu type. SDM Vol. 1 §3.4.3 and Appendix A (EFLAGS cross-reference).

import type { Cpu } from './cpu.js';

export const enum F {
  CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400, OF = 0x800,
  IOPL = 0x3000, NT = 0x4000, RF = 0x10000, VM = 0x20000, AC = 0x40000, VIF = 0x80000, VIP = 0x100000, ID = 0x200000,
  ARITH = 0x8d5,
}

/** Lazy operation kinds. NONE means all arithmetic flags are materialised in cpu.flags. */
export const enum LF { NONE = 0, ADD, ADC, SUB, SBB, LOGIC, INC, DEC, NEG, SHIFT }
// SHIFT (SHL/SHR/SAR results): CF = lfCin, OF = lfB, AF = 0, SF/ZF/PF from the result.

export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let b = 0; b < 8; b++) p ^= (i >> b) & 1;
  PARITY[i] = p ? F.PF : 0;
}

/** Sign bit (0/1) of a value of size sz (1,2,4 bytes: in lo; 8: in hi). */
function signOf(sz: number, lo: number, hi: number): number {
  switch (sz) {
    case 1: return (lo >>> 7) & 1;
    case 2: return (lo >>> 15) & 1;
    case 4: return lo >>> 31;
    default: return hi >>> 31;
  }
}

/** Unsigned a < b for values of size sz. */
function ult(sz: number, a: number, aH: number, b: number, bH: number): boolean {
  if (sz === 8) {
    if (aH !== bH) return (aH >>> 0) < (bH >>> 0);
  }
  return (a >>> 0) < (b >>> 0);
}

function eq(sz: number, a: number, aH: number, b: number, bH: number): boolean {
  return (a | 0) === (b | 0) && (sz !== 8 || (aH | 0) === (bH | 0));
}

export function getCF(c: Cpu): number {
  switch (c.lfOp) {
    case LF.NONE: return c.flags & 1;
    case LF.ADD: return ult(c.lfSz, c.lfR, c.lfRH, c.lfA, c.lfAH) ? 1 : 0;
    case LF.ADC: return ult(c.lfSz, c.lfR, c.lfRH, c.lfA, c.lfAH) || (c.lfCin && eq(c.lfSz, c.lfR, c.lfRH, c.lfA, c.lfAH)) ? 1 : 0;
    case LF.SUB: return ult(c.lfSz, c.lfA, c.lfAH, c.lfB, c.lfBH) ? 1 : 0;
    case LF.SBB: return ult(c.lfSz, c.lfA, c.lfAH, c.lfB, c.lfBH) || (c.lfCin && eq(c.lfSz, c.lfA, c.lfAH, c.lfB, c.lfBH)) ? 1 : 0;
    case LF.LOGIC: return 0;
    case LF.INC: case LF.DEC: case LF.SHIFT: return c.lfCin;
    case LF.NEG: return (c.lfR | (c.lfSz === 8 ? c.lfRH : 0)) !== 0 ? 1 : 0;
  }
  return 0;
}

export function getZF(c: Cpu): number {
  if (c.lfOp === LF.NONE) return (c.flags >> 6) & 1;
  return (c.lfR | (c.lfSz === 8 ? c.lfRH : 0)) === 0 ? 1 : 0;
}

export function getSF(c: Cpu): number {
  if (c.lfOp === LF.NONE) return (c.flags >> 7) & 1;
  return signOf(c.lfSz, c.lfR, c.lfRH);
}

export function getPF(c: Cpu): number {
  if (c.lfOp === LF.NONE) return (c.flags >> 2) & 1;
  return PARITY[c.lfR & 0xff] ? 1 : 0;
}

export function getAF(c: Cpu): number {
  switch (c.lfOp) {
    case LF.NONE: return (c.flags >> 4) & 1;
    case LF.LOGIC: case LF.SHIFT: return 0;
    default: return ((c.lfA ^ c.lfB ^ c.lfR) >> 4) & 1;
  }
}

export function getOF(c: Cpu): number {
  const sz = c.lfSz;
  switch (c.lfOp) {
    case LF.NONE: return (c.flags >> 11) & 1;
    case LF.ADD: case LF.ADC:
      return signOf(sz, (c.lfA ^ c.lfR) & (c.lfB ^ c.lfR), (c.lfAH ^ c.lfRH) & (c.lfBH ^ c.lfRH));
    case LF.SUB: case LF.SBB:
      return signOf(sz, (c.lfA ^ c.lfB) & (c.lfA ^ c.lfR), (c.lfAH ^ c.lfBH) & (c.lfAH ^ c.lfRH));
    case LF.LOGIC: return 0;
    case LF.SHIFT: return c.lfB & 1;
    case LF.INC: // result is the most negative value
      return isSignMin(sz, c.lfR, c.lfRH) ? 1 : 0;
    case LF.DEC:
      return isSignMin(sz, c.lfA, c.lfAH) ? 1 : 0;
    case LF.NEG:
      return isSignMin(sz, c.lfR, c.lfRH) ? 1 : 0;
  }
  return 0;
}

function isSignMin(sz: number, lo: number, hi: number): boolean {
  switch (sz) {
    case 1: return (lo & 0xff) === 0x80;
    case 2: return (lo & 0xffff) === 0x8000;
    case 4: return (lo | 0) === (0x80000000 | 0);
    default: return (lo | 0) === 0 && (hi | 0) === (0x80000000 | 0);
  }
}

/** Arithmetic flag bits (CF PF AF ZF SF OF) as they are now. */
export function arithFlags(c: Cpu): number {
  if (c.lfOp === LF.NONE) return c.flags & F.ARITH;
  return getCF(c) | (getPF(c) << 2) | (getAF(c) << 4) | (getZF(c) << 6) | (getSF(c) << 7) | (getOF(c) << 11);
}

/** Write the lazy flags into cpu.flags so that individual bits can be changed. */
export function materialize(c: Cpu): void {
  if (c.lfOp !== LF.NONE) {
    c.flags = (c.flags & ~F.ARITH) | arithFlags(c);
    c.lfOp = LF.NONE;
  }
}

/** Evaluate condition code cc (0..15, the low nibble of Jcc/SETcc/CMOVcc). */
export function cond(c: Cpu, cc: number): boolean {
  let r: number;
  switch (cc >> 1) {
    case 0: r = getOF(c); break;
    case 1: r = getCF(c); break;
    case 2: r = getZF(c); break;
    case 3: r = getCF(c) | getZF(c); break;
    case 4: r = getSF(c); break;
    case 5: r = getPF(c); break;
    case 6: r = getSF(c) ^ getOF(c); break;
    default: r = getZF(c) | (getSF(c) ^ getOF(c)); break;
  }
  return (r ^ (cc & 1)) !== 0;
}

/** Set lazy state for a logic op (AND/OR/XOR/TEST). */
export function setLogic(c: Cpu, sz: number, r: number, rH: number): void {
  c.lfOp = LF.LOGIC; c.lfSz = sz; c.lfR = r; c.lfRH = rH; c.lfA = 0; c.lfB = 0; c.lfAH = 0; c.lfBH = 0;
}

/** Lazy flags of a shift: result (masked to sz), CF and OF bits given. */
export function setShiftFlags(c: Cpu, sz: number, r: number, rH: number, cf: number, of: number): void {
  c.lfOp = LF.SHIFT; c.lfSz = sz; c.lfR = r; c.lfRH = rH; c.lfCin = cf; c.lfB = of; c.lfA = 0; c.lfAH = 0; c.lfBH = 0;
}

/** Set arithmetic flags eagerly (for shifts, multiplies, bit ops...): bits in `mask` are replaced by `bits`. */
export function setFlagsEager(c: Cpu, mask: number, bits: number): void {
  materialize(c);
  c.flags = (c.flags & ~mask) | (bits & mask);
}

/** SZP flags of a result of size sz (as bits). */
export function szp(sz: number, lo: number, hi: number): number {
  let z: boolean;
  if (sz === 8) z = (lo | hi) === 0;
  else z = (lo & (sz === 1 ? 0xff : sz === 2 ? 0xffff : -1)) === 0;
  return (z ? F.ZF : 0) | (signOf(sz, lo, hi) ? F.SF : 0) | PARITY[lo & 0xff];
}
