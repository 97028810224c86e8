// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP, TEST, INC, DEC, NEG, NOT (SDM Vol. 2).
// Results set the lazy flags; 64-bit operands are (lo, hi) int32 pairs.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn, type Handler } from '../decoder.js';
import { LF, getCF, setLogic } from '../flags.js';
import { getE, getG, setE, setG, readReg, writeReg, maskOf } from './operands.js';

const TWO32 = 4294967296;

export const enum AluOp { ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7 }

/** Compute `a op b` for size sz, set the lazy flags, return the low half (high half in c.hi). */
export function alu(c: Cpu, op: number, sz: number, a: number, aH: number, b: number, bH: number): number {
  let r = 0, rH = 0;
  if (sz !== 8) {
    const m = maskOf(sz);
    a &= m; b &= m;
    switch (op) {
      case AluOp.ADD: r = (a + b) & m; c.lfOp = LF.ADD; break;
      case AluOp.ADC: { const cin = getCF(c); r = (a + b + cin) & m; c.lfOp = LF.ADC; c.lfCin = cin; break; }
      case AluOp.SBB: { const cin = getCF(c); r = (a - b - cin) & m; c.lfOp = LF.SBB; c.lfCin = cin; break; }
      case AluOp.SUB: case AluOp.CMP: r = (a - b) & m; c.lfOp = LF.SUB; break;
      case AluOp.AND: r = a & b; setLogic(c, sz, r, 0); return r;
      case AluOp.OR: r = a | b; setLogic(c, sz, r, 0); return r;
      default: r = a ^ b; setLogic(c, sz, r, 0); return r;
    }
    c.lfSz = sz; c.lfA = a; c.lfB = b; c.lfR = r; c.lfAH = 0; c.lfBH = 0; c.lfRH = 0;
    return r;
  }
  switch (op) {
    case AluOp.ADD: case AluOp.ADC: {
      let cin = 0;
      if (op === AluOp.ADC) { cin = getCF(c); c.lfOp = LF.ADC; c.lfCin = cin; } else c.lfOp = LF.ADD;
      const s = (a >>> 0) + (b >>> 0) + cin;
      r = s | 0;
      rH = (aH + bH + (s >= TWO32 ? 1 : 0)) | 0;
      break;
    }
    case AluOp.SUB: case AluOp.CMP: case AluOp.SBB: {
      let cin = 0;
      if (op === AluOp.SBB) { cin = getCF(c); c.lfOp = LF.SBB; c.lfCin = cin; } else c.lfOp = LF.SUB;
      const s = (a >>> 0) - (b >>> 0) - cin;
      r = s | 0;
      rH = (aH - bH - (s < 0 ? 1 : 0)) | 0;
      break;
    }
    case AluOp.AND: r = a & b; rH = aH & bH; setLogic(c, 8, r, rH); c.hi = rH; return r;
    case AluOp.OR: r = a | b; rH = aH | bH; setLogic(c, 8, r, rH); c.hi = rH; return r;
    default: r = a ^ b; rH = aH ^ bH; setLogic(c, 8, r, rH); c.hi = rH; return r;
  }
  c.lfSz = 8; c.lfA = a | 0; c.lfAH = aH | 0; c.lfB = b | 0; c.lfBH = bH | 0; c.lfR = r; c.lfRH = rH;
  c.hi = rH;
  return r;
}

// ALU rows 00-3F: op Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz
function aluEG(c: Cpu, i: Insn): void {
  const op = (i.op >> 3) & 7, sz = i.osz;
  const b = getG(c, i), bH = c.hi;
  if (i.rm >= 0) {
    const a = readReg(c, i.rm, i.rmB, sz), aH = c.hi;
    const r = alu(c, op, sz, a, aH, b, bH);
    if (op !== AluOp.CMP) writeReg(c, i.rm, i.rmB, sz, r, c.hi);
  } else {
    const la = i.ea(c, i);
    const a = op === AluOp.CMP ? c.readN(la, sz) : c.readRmw(la, sz), aH = c.hi;
    const r = alu(c, op, sz, a, aH, b, bH);
    if (op !== AluOp.CMP) c.writeN(la, sz, r, c.hi);
  }
}

function aluGE(c: Cpu, i: Insn): void {
  const op = (i.op >> 3) & 7, sz = i.osz;
  const b = getE(c, i), bH = c.hi;
  const a = getG(c, i), aH = c.hi;
  const r = alu(c, op, sz, a, aH, b, bH);
  if (op !== AluOp.CMP) setG(c, i, r, c.hi);
}

function aluAI(c: Cpu, i: Insn): void {
  const op = (i.op >> 3) & 7, sz = i.osz;
  const a = readReg(c, 0, 0, sz), aH = c.hi;
  const r = alu(c, op, sz, a, aH, i.imm, i.immHi);
  if (op !== AluOp.CMP) writeReg(c, 0, 0, sz, r, c.hi);
}

// group 1 (80, 81, 83): op Eb,Ib / Ev,Iz / Ev,Ib
function aluEI(c: Cpu, i: Insn): void {
  const op = i.sub, sz = i.osz;
  if (i.rm >= 0) {
    const a = readReg(c, i.rm, i.rmB, sz), aH = c.hi;
    const r = alu(c, op, sz, a, aH, i.imm, i.immHi);
    if (op !== AluOp.CMP) writeReg(c, i.rm, i.rmB, sz, r, c.hi);
  } else {
    const la = i.ea(c, i);
    const a = op === AluOp.CMP ? c.readN(la, sz) : c.readRmw(la, sz), aH = c.hi;
    const r = alu(c, op, sz, a, aH, i.imm, i.immHi);
    if (op !== AluOp.CMP) c.writeN(la, sz, r, c.hi);
  }
}

// TEST: 84/85 (E,G), A8/A9 (A,I), F6/F7 /0 /1 (E,I)
function testEG(c: Cpu, i: Insn): void {
  const a = getE(c, i), aH = c.hi;
  const b = getG(c, i), bH = c.hi;
  alu(c, AluOp.AND, i.osz, a, aH, b, bH);
}
function testAI(c: Cpu, i: Insn): void {
  const a = readReg(c, 0, 0, i.osz), aH = c.hi;
  alu(c, AluOp.AND, i.osz, a, aH, i.imm, i.immHi);
}
export function testEI(c: Cpu, i: Insn): void {
  const a = getE(c, i), aH = c.hi;
  alu(c, AluOp.AND, i.osz, a, aH, i.imm, i.immHi);
}

/** INC (d = 1) / DEC (d = -1): CF is preserved. */
function incdec(c: Cpu, i: Insn, d: number): void {
  const sz = i.osz;
  const la = i.rm >= 0 ? 0 : i.ea(c, i);
  const a = i.rm >= 0 ? readReg(c, i.rm, i.rmB, sz) : c.readRmw(la, sz);
  const aH = sz === 8 ? c.hi : 0;
  let r: number, rH = 0;
  if (sz === 8) {
    const s = (a >>> 0) + d;
    r = s | 0;
    rH = (aH + (s >= TWO32 ? 1 : s < 0 ? -1 : 0)) | 0;
  } else r = (a + d) & maskOf(sz);
  if (i.rm >= 0) writeReg(c, i.rm, i.rmB, sz, r, rH);
  else c.writeN(la, sz, r, rH);
  const cf = getCF(c);
  c.lfOp = d > 0 ? LF.INC : LF.DEC; c.lfCin = cf; c.lfSz = sz;
  c.lfA = sz === 4 ? a | 0 : a; c.lfAH = aH; c.lfB = 1; c.lfBH = 0; c.lfR = r; c.lfRH = rH;
}
export function incE(c: Cpu, i: Insn): void { incdec(c, i, 1); }
export function decE(c: Cpu, i: Insn): void { incdec(c, i, -1); }

/** INC/DEC are opcodes 40-4F only outside 64-bit mode (REX there); here FE/FF /0 /1. */

export function notE(c: Cpu, i: Insn): void {
  const sz = i.osz;
  if (i.rm >= 0) {
    const a = readReg(c, i.rm, i.rmB, sz), aH = c.hi;
    writeReg(c, i.rm, i.rmB, sz, ~a, ~aH);
  } else {
    const la = i.ea(c, i);
    const a = c.readRmw(la, sz), aH = c.hi;
    c.writeN(la, sz, ~a, ~aH);
  }
}

export function negE(c: Cpu, i: Insn): void {
  const sz = i.osz;
  if (i.rm >= 0) {
    const a = readReg(c, i.rm, i.rmB, sz), aH = sz === 8 ? c.hi : 0;
    const r = alu(c, AluOp.SUB, sz, 0, 0, a, aH);
    writeReg(c, i.rm, i.rmB, sz, r, c.hi);
  } else {
    const la = i.ea(c, i);
    const a = c.readRmw(la, sz), aH = sz === 8 ? c.hi : 0;
    const r = alu(c, AluOp.SUB, sz, 0, 0, a, aH);
    c.writeN(la, sz, r, c.hi);
  }
}

// ---- specialised register forms (chosen at decode time): the bulk of compiled integer code

/**
 * Register-form handlers generated per (operation, width, source): small straight-line functions with
 * their own code, so a compiled block (src/cpu/compile.ts) can inline them. x = destination register,
 * y = source register (RR) or the immediate in imm/immHi (RI). ADC/SBB keep the generic path.
 */
function genAlu(op: number, w: 32 | 64, src: 'RR' | 'RI'): Handler {
  const names = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
  const write = op !== AluOp.CMP;
  const lines: string[] = ['const r = c.regs, d = i.x << 1;'];
  if (w === 64) {
    lines.push('const a = r[d], aH = r[d + 1];');
    lines.push(src === 'RR' ? 'const s = i.y << 1, b = r[s], bH = r[s + 1];' : 'const b = i.imm, bH = i.immHi;');
    switch (op) {
      case AluOp.ADD: lines.push(`const t = (a >>> 0) + (b >>> 0), lo = t | 0, hi = (aH + bH + (t >= 4294967296 ? 1 : 0)) | 0; c.lfOp = ${LF.ADD};`); break;
      case AluOp.SUB: case AluOp.CMP: lines.push(`const t = (a >>> 0) - (b >>> 0), lo = t | 0, hi = (aH - bH - (t < 0 ? 1 : 0)) | 0; c.lfOp = ${LF.SUB};`); break;
      case AluOp.AND: lines.push(`const lo = a & b, hi = aH & bH; c.lfOp = ${LF.LOGIC};`); break;
      case AluOp.OR: lines.push(`const lo = a | b, hi = aH | bH; c.lfOp = ${LF.LOGIC};`); break;
      default: lines.push(`const lo = a ^ b, hi = aH ^ bH; c.lfOp = ${LF.LOGIC};`); break;
    }
    lines.push('c.lfSz = 8; c.lfA = a; c.lfAH = aH; c.lfB = b; c.lfBH = bH; c.lfR = lo; c.lfRH = hi;');
    if (write) lines.push('r[d] = lo; r[d + 1] = hi;');
  } else {
    lines.push('const a = r[d];');
    lines.push(src === 'RR' ? 'const b = r[i.y << 1];' : 'const b = i.imm;');
    switch (op) {
      case AluOp.ADD: lines.push(`const v = (a + b) | 0; c.lfOp = ${LF.ADD};`); break;
      case AluOp.SUB: case AluOp.CMP: lines.push(`const v = (a - b) | 0; c.lfOp = ${LF.SUB};`); break;
      case AluOp.AND: lines.push(`const v = a & b; c.lfOp = ${LF.LOGIC};`); break;
      case AluOp.OR: lines.push(`const v = a | b; c.lfOp = ${LF.LOGIC};`); break;
      default: lines.push(`const v = a ^ b; c.lfOp = ${LF.LOGIC};`); break;
    }
    lines.push('c.lfSz = 4; c.lfA = a; c.lfB = b; c.lfR = v; c.lfAH = 0; c.lfBH = 0; c.lfRH = 0;');
    if (write) lines.push('r[d] = v; r[d + 1] = 0;');
  }
  const name = `${names[op]}${w}_${src.toLowerCase()}`;
  return new Function(`return function ${name}(c, i) {\n  ${lines.join('\n  ')}\n};`)() as Handler;
}

/** Register forms of ADC/SBB (they read CF): x = destination, y = source register / imm, z = op. */
function aluRR64(c: Cpu, i: Insn): void {
  const r = c.regs, d = i.x << 1, s = i.y << 1;
  r[d] = alu(c, i.z, 8, r[d], r[d + 1], r[s], r[s + 1]); r[d + 1] = c.hi;
}
function aluRR32(c: Cpu, i: Insn): void {
  const r = c.regs, d = i.x << 1;
  r[d] = alu(c, i.z, 4, r[d], 0, r[i.y << 1], 0); r[d + 1] = 0;
}
function aluRI64(c: Cpu, i: Insn): void {
  const r = c.regs, d = i.x << 1;
  r[d] = alu(c, i.z, 8, r[d], r[d + 1], i.imm, i.immHi); r[d + 1] = c.hi;
}
function aluRI32(c: Cpu, i: Insn): void {
  const r = c.regs, d = i.x << 1;
  r[d] = alu(c, i.z, 4, r[d], 0, i.imm, 0); r[d + 1] = 0;
}

const FAST = (op: number) => op !== AluOp.ADC && op !== AluOp.SBB;
/** [op][0 = 32-bit RR, 1 = 64-bit RR, 2 = 32-bit RI, 3 = 64-bit RI] */
const GEN: Handler[][] = [0, 1, 2, 3, 4, 5, 6, 7].map((op) => FAST(op)
  ? [genAlu(op, 32, 'RR'), genAlu(op, 64, 'RR'), genAlu(op, 32, 'RI'), genAlu(op, 64, 'RI')]
  : [aluRR32, aluRR64, aluRI32, aluRI64]);

function specEG(i: Insn) {
  if (i.rm < 0 || (i.osz !== 8 && i.osz !== 4)) return null;
  i.x = i.rm; i.y = i.reg; i.z = (i.op >> 3) & 7;
  if (FAST(i.z)) i.fx = 1;
  return GEN[i.z][i.osz === 8 ? 1 : 0];
}
function specGE(i: Insn) {
  if (i.rm < 0 || (i.osz !== 8 && i.osz !== 4)) return null;
  i.x = i.reg; i.y = i.rm; i.z = (i.op >> 3) & 7;
  if (FAST(i.z)) i.fx = 1;
  return GEN[i.z][i.osz === 8 ? 1 : 0];
}
function specEI(i: Insn) {
  if (i.rm < 0 || (i.osz !== 8 && i.osz !== 4)) return null;
  i.x = i.rm; i.z = i.sub;
  if (FAST(i.z)) i.fx = 1;
  return GEN[i.z][i.osz === 8 ? 3 : 2];
}
function specAI(i: Insn) {
  if (i.osz !== 8 && i.osz !== 4) return null;
  i.x = 0; i.z = (i.op >> 3) & 7;
  if (FAST(i.z)) i.fx = 1;
  return GEN[i.z][i.osz === 8 ? 3 : 2];
}

/** Byte register forms of group 1 (80 /op r8, imm8): x = the register's byte offset in regs8 (AH..BH
 *  included), imm the immediate. Same lazy-flag fields as alu() (LOGIC: A and B zero, as setLogic). */
function genAlu8(op: number): Handler {
  const names = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
  const lines: string[] = ['const r8 = c.regs8, d = i.x, a = r8[d], b = i.imm & 0xff;'];
  switch (op) {
    case AluOp.ADD: lines.push(`const v = (a + b) & 0xff; c.lfOp = ${LF.ADD}; c.lfA = a; c.lfB = b;`); break;
    case AluOp.SUB: case AluOp.CMP: lines.push(`const v = (a - b) & 0xff; c.lfOp = ${LF.SUB}; c.lfA = a; c.lfB = b;`); break;
    case AluOp.AND: lines.push(`const v = a & b; c.lfOp = ${LF.LOGIC}; c.lfA = 0; c.lfB = 0;`); break;
    case AluOp.OR: lines.push(`const v = a | b; c.lfOp = ${LF.LOGIC}; c.lfA = 0; c.lfB = 0;`); break;
    default: lines.push(`const v = a ^ b; c.lfOp = ${LF.LOGIC}; c.lfA = 0; c.lfB = 0;`); break;
  }
  lines.push('c.lfSz = 1; c.lfR = v; c.lfAH = 0; c.lfBH = 0; c.lfRH = 0;');
  if (op !== AluOp.CMP) lines.push('r8[d] = v;');
  return new Function(`return function ${names[op]}8_ri(c, i) {\n  ${lines.join('\n  ')}\n};`)() as Handler;
}
const GEN8: Handler[] = [0, 1, 2, 3, 4, 5, 6, 7].map((op) => (FAST(op) ? genAlu8(op) : aluEI));
function spec80(i: Insn) {
  if (i.rm < 0 || !FAST(i.sub)) return null;
  i.x = i.rmB; i.fx = 1;
  return GEN8[i.sub];
}

/** TEST register forms (84 r8, r8 / 85 r32|r64, r32|r64): x, y = byte offsets (8-bit) or register numbers. */
function test8rr(c: Cpu, i: Insn): void {
  const r8 = c.regs8;
  setLogic(c, 1, r8[i.x] & r8[i.y], 0);
}
function test32rr(c: Cpu, i: Insn): void {
  const r = c.regs;
  setLogic(c, 4, r[i.x << 1] & r[i.y << 1], 0);
}
function test64rr(c: Cpu, i: Insn): void {
  const r = c.regs, x = i.x << 1, y = i.y << 1;
  const hi = r[x + 1] & r[y + 1];
  setLogic(c, 8, r[x] & r[y], hi);
  c.hi = hi;
}
function specTest8(i: Insn) {
  if (i.rm < 0) return null;
  i.x = i.rmB; i.y = i.regB; i.fx = 1;
  return test8rr;
}
function specTest(i: Insn) {
  if (i.rm < 0 || (i.osz !== 8 && i.osz !== 4)) return null;
  i.x = i.rm; i.y = i.reg; i.fx = 1;
  return i.osz === 8 ? test64rr : test32rr;
}

function inc64r(c: Cpu, i: Insn): void {
  const r = c.regs, d = i.x << 1;
  const cf = getCF(c);
  const a = r[d], aH = r[d + 1];
  const t = (a >>> 0) + i.z;
  const lo = t | 0, hi = (aH + (t >= TWO32 ? 1 : t < 0 ? -1 : 0)) | 0;
  r[d] = lo; r[d + 1] = hi;
  c.lfOp = i.z > 0 ? LF.INC : LF.DEC; c.lfCin = cf; c.lfSz = 8;
  c.lfA = a; c.lfAH = aH; c.lfB = 1; c.lfBH = 0; c.lfR = lo; c.lfRH = hi;
}
function inc32r(c: Cpu, i: Insn): void {
  const r = c.regs, d = i.x << 1;
  const cf = getCF(c);
  const a = r[d];
  const v = (a + i.z) | 0;
  r[d] = v; r[d + 1] = 0;
  c.lfOp = i.z > 0 ? LF.INC : LF.DEC; c.lfCin = cf; c.lfSz = 4;
  c.lfA = a; c.lfAH = 0; c.lfB = 1; c.lfBH = 0; c.lfR = v; c.lfRH = 0;
}
export function specIncDec(i: Insn) {
  if (i.rm < 0 || (i.osz !== 8 && i.osz !== 4) || i.sub > 1) return null;
  i.x = i.rm; i.z = i.sub === 0 ? 1 : -1;
  return i.osz === 8 ? inc64r : inc32r;
}

export function installAlu(): void {
  for (let op = 0; op < 8; op++) {
    const base = op << 3;
    def(0, base + 0, D.M | D.B, aluEG);
    def(0, base + 1, D.M, aluEG, specEG);
    def(0, base + 2, D.M | D.B, aluGE);
    def(0, base + 3, D.M, aluGE, specGE);
    def(0, base + 4, D.B | D.I8, aluAI);
    def(0, base + 5, D.IZ, aluAI, specAI);
  }
  def(0, 0x80, D.M | D.B | D.I8, [aluEI, aluEI, aluEI, aluEI, aluEI, aluEI, aluEI, aluEI], spec80);
  def(0, 0x81, D.M | D.IZ, [aluEI, aluEI, aluEI, aluEI, aluEI, aluEI, aluEI, aluEI], specEI);
  def(0, 0x83, D.M | D.I8, [aluEI, aluEI, aluEI, aluEI, aluEI, aluEI, aluEI, aluEI], specEI);
  def(0, 0x84, D.M | D.B, testEG, specTest8);
  def(0, 0x85, D.M, testEG, specTest);
  def(0, 0xa8, D.B | D.I8, testAI);
  def(0, 0xa9, D.IZ, testAI);
}
