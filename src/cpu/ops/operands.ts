// Operand access shared by all instruction handlers: registers by size, r/m operands, the stack.
// 64-bit values travel as (returned low half, cpu.hi high half). No allocation.

import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';

export const TWO32 = 4294967296;

/** Mask for an operand size below 8 bytes. */
export function maskOf(sz: number): number {
  return sz === 1 ? 0xff : sz === 2 ? 0xffff : -1;
}

/** Read general register n with size sz (byte registers use the decoder's byte offset `b`). */
export function readReg(c: Cpu, n: number, b: number, sz: number): number {
  switch (sz) {
    case 1: return c.regs8[b];
    case 2: return c.regs16[n << 2];
    case 4: return c.regs[n << 1];
    default: c.hi = c.regs[(n << 1) + 1]; return c.regs[n << 1];
  }
}

/** Write general register n with size sz; 32-bit writes zero the upper half (SDM Vol. 1 §3.4.1.1). */
export function writeReg(c: Cpu, n: number, b: number, sz: number, lo: number, hi: number): void {
  switch (sz) {
    case 1: c.regs8[b] = lo; return;
    case 2: c.regs16[n << 2] = lo; return;
    case 4: c.regs[n << 1] = lo; c.regs[(n << 1) + 1] = 0; return;
    default: c.regs[n << 1] = lo; c.regs[(n << 1) + 1] = hi; return;
  }
}

/** The ModRM.reg operand. */
export function getG(c: Cpu, i: Insn): number {
  return readReg(c, i.reg, i.regB, i.osz);
}

export function setG(c: Cpu, i: Insn, lo: number, hi: number): void {
  writeReg(c, i.reg, i.regB, i.osz, lo, hi);
}

/** The r/m operand (register or memory). */
export function getE(c: Cpu, i: Insn): number {
  if (i.rm >= 0) return readReg(c, i.rm, i.rmB, i.osz);
  return c.readN(i.ea(c, i), i.osz);
}

export function setE(c: Cpu, i: Insn, lo: number, hi: number): void {
  if (i.rm >= 0) writeReg(c, i.rm, i.rmB, i.osz, lo, hi);
  else c.writeN(i.ea(c, i), i.osz, lo, hi);
}

/** Zero/sign extension of a value of size sz to 64 bits: returns low, cpu.hi = high. */
export function signExtend(c: Cpu, v: number, sz: number): number {
  switch (sz) {
    case 1: v = (v << 24) >> 24; c.hi = v >> 31; return v;
    case 2: v = (v << 16) >> 16; c.hi = v >> 31; return v;
    case 4: c.hi = v >> 31; return v | 0;
    default: return v;
  }
}

// ---------------------------------------------------------------- stack (64-bit mode: RSP, 8 or 2 bytes)

export function rspAddr(c: Cpu): number {
  return c.regs[9] * TWO32 + (c.regs[8] >>> 0);
}

function addRsp(c: Cpu, d: number): void {
  const s = (c.regs[8] >>> 0) + d;
  const lo = s >>> 0;
  c.regs[9] = (c.regs[9] + (s - lo) / TWO32) | 0;
  c.regs[8] = lo | 0;
}

export function push(c: Cpu, sz: number, lo: number, hi: number): void {
  const a = rspAddr(c) - sz;
  if (sz === 8) c.write64(a, lo, hi);
  else c.write16(a, lo & 0xffff);
  addRsp(c, -sz);
}

export function pop(c: Cpu, sz: number): number {
  const a = rspAddr(c);
  let v: number;
  if (sz === 8) v = c.read64(a);
  else { v = c.read16(a); c.hi = 0; }
  addRsp(c, sz);
  return v;
}

export function adjustRsp(c: Cpu, d: number): void {
  addRsp(c, d);
}

/** Register value as a canonical address number (for indirect branches and string ops). */
export function regAddr(c: Cpu, n: number): number {
  return c.regs[(n << 1) + 1] * TWO32 + (c.regs[n << 1] >>> 0);
}

/** Add d (small, signed) to 64-bit register n. */
export function addReg(c: Cpu, n: number, d: number): void {
  const s = (c.regs[n << 1] >>> 0) + d;
  const lo = s >>> 0;
  c.regs[(n << 1) + 1] = (c.regs[(n << 1) + 1] + (s - lo) / TWO32) | 0;
  c.regs[n << 1] = lo | 0;
}

/** Branch target check: non-canonical → #GP(0). */
export function checkCanonical(c: Cpu, target: number): void {
  const h = Math.floor(target / TWO32);
  if (h < -32768 || h > 32767) c.raise(13, 0);
}
