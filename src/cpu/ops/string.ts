// String instructions: MOVS CMPS STOS LODS SCAS (A4-AF) and INS/OUTS (6C-6F), with REP/REPE/REPNE,
// DF direction, 0x67 address size and an FS/GS override on the source (SDM Vol. 2B "MOVS", "REP/REPE/REPNE").
//
// Instruction-count rule (used by the run loop, the recorder and the replayer alike):
//   each iteration of a REP-prefixed string instruction retires as one instruction; a REP instruction whose
//   count register is 0 retires as one instruction. A handler runs at most c.repBudget iterations (at least 1)
//   and reports the extra ones in c.bonus (completed - 1; on a fault, c.bonus grows by the completed
//   iterations, because the faulting iteration did not retire). When iterations remain, RIP is set back to
//   the instruction (it resumes later, after any interrupt) and the block ends. A REP instruction that
//   retired more than one iteration also ends its block, so that later instructions see an exact budget.
//   REP INS/OUTS do one iteration per execution (each port access happens at its own instruction count).
//
// Fast path: REP MOVS/STOS with DF=0 and 64-bit addressing copy/fill whole runs within one page directly on
// RAM (copyWithin / fill) when neither range is MMIO, the destination holds no decoded code and a forward
// copy could not read bytes it has just written; everything else goes element by element through the TLB.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn } from '../decoder.js';
import { F, getZF } from '../flags.js';
import { alu, AluOp } from './alu.js';
import { readReg, writeReg, regAddr, addReg } from './operands.js';

const TWO32 = 4294967296;

const enum S { MOVS = 0, CMPS = 1, STOS = 2, LODS = 3, SCAS = 4, INS = 5, OUTS = 6 }

/** Index register (RSI 6 / RDI 7) as an address for the instruction's address size. */
function idx(c: Cpu, n: number, asz: number): number {
  return asz === 8 ? regAddr(c, n) : c.regs[n << 1] >>> 0;
}

/** Add d to an index/count register with the instruction's address size (32-bit: wraps, zero-extends). */
function adv(c: Cpu, n: number, asz: number, d: number): void {
  if (asz === 8) addReg(c, n, d);
  else { c.regs[n << 1] = (c.regs[n << 1] + d) | 0; c.regs[(n << 1) + 1] = 0; }
}

function srcBase(c: Cpu, i: Insn): number {
  return i.seg === 4 ? c.fsBase : i.seg === 5 ? c.gsBase : 0;
}

function ioCheck(c: Cpu): void {
  if (c.cpl > ((c.flags >> 12) & 3)) c.raise(13, 0);
}

/** One iteration: memory accesses first, registers updated last (a fault leaves the state unchanged). */
function step(c: Cpu, i: Insn, k: number): void {
  const sz = i.osz, asz = i.asz;
  const d = c.flags & F.DF ? -sz : sz;
  switch (k) {
    case S.MOVS: {
      const v = c.readN(srcBase(c, i) + idx(c, 6, asz), sz), vH = c.hi;
      c.writeN(idx(c, 7, asz), sz, v, vH);
      adv(c, 6, asz, d); adv(c, 7, asz, d);
      return;
    }
    case S.CMPS: {
      const a = c.readN(srcBase(c, i) + idx(c, 6, asz), sz), aH = c.hi;
      const b = c.readN(idx(c, 7, asz), sz), bH = c.hi;
      alu(c, AluOp.CMP, sz, a, aH, b, bH);
      adv(c, 6, asz, d); adv(c, 7, asz, d);
      return;
    }
    case S.STOS: {
      const v = readReg(c, 0, 0, sz);
      c.writeN(idx(c, 7, asz), sz, v, c.hi);
      adv(c, 7, asz, d);
      return;
    }
    case S.LODS: {
      const v = c.readN(srcBase(c, i) + idx(c, 6, asz), sz);
      writeReg(c, 0, 0, sz, v, c.hi);
      adv(c, 6, asz, d);
      return;
    }
    case S.SCAS: {
      const b = c.readN(idx(c, 7, asz), sz), bH = c.hi;
      const a = readReg(c, 0, 0, sz), aH = c.hi;
      alu(c, AluOp.CMP, sz, a, aH, b, bH);
      adv(c, 7, asz, d);
      return;
    }
    case S.INS: {
      ioCheck(c);
      const la = idx(c, 7, asz);
      c.translate(la, 1); c.translate(la + sz - 1, 1); // fault before the port is touched
      const v = c.portIn(c.regs16[8], sz as 1 | 2 | 4);
      c.writeN(la, sz, v, 0);
      adv(c, 7, asz, d);
      c.brk = true;
      return;
    }
    default: { // OUTS
      ioCheck(c);
      const v = c.readN(srcBase(c, i) + idx(c, 6, asz), sz);
      c.portOut(c.regs16[8], sz as 1 | 2 | 4, v);
      adv(c, 6, asz, d);
      c.brk = true;
      return;
    }
  }
}

function countZero(c: Cpu, asz: number): boolean {
  return (c.regs[2] | (asz === 8 ? c.regs[3] : 0)) === 0;
}

/**
 * Bulk MOVS/STOS within one page (DF=0, 64-bit addressing): returns the number of elements done
 * (0 when the fast path does not apply). At most `max` elements.
 */
function bulk(c: Cpu, i: Insn, k: number, max: number): number {
  const sz = i.osz;
  const r = c.regs;
  const left = (r[3] >>> 0) * TWO32 + (r[2] >>> 0);
  const dst = regAddr(c, 7);
  let n = Math.min(left, max, ((4096 - (dst & 4095)) / sz) | 0);
  let src = 0;
  if (k === S.MOVS) {
    src = srcBase(c, i) + regAddr(c, 6);
    n = Math.min(n, ((4096 - (src & 4095)) / sz) | 0);
  }
  if (n < 2) return 0;
  // memory hooks on the fast tiers (Hooks.memOnFastTiers) see every element's access
  if (c.hooks !== null && c.hooks.watchesMemory) return 0;
  const bytes = n * sz;
  const dp = c.translate(dst, 1);
  if (dp + bytes > c.ramSize || c.codePage[dp >>> 12]) return 0;
  const u8 = c.u8;
  if (k === S.MOVS) {
    const sp = c.translate(src, 0);
    if (sp + bytes > c.ramSize) return 0;
    if (dp > sp && dp < sp + bytes) return 0; // forward overlap: element-by-element semantics differ from memmove
    u8.copyWithin(dp, sp, sp + bytes);
    addReg(c, 6, bytes);
  } else if (sz === 1) {
    u8.fill(c.regs8[0], dp, dp + bytes);
  } else {
    const dv = c.dv, lo = r[0], hi = r[1];
    if (sz === 2) for (let p = dp; p < dp + bytes; p += 2) dv.setUint16(p, lo, true);
    else if (sz === 4) for (let p = dp; p < dp + bytes; p += 4) dv.setInt32(p, lo, true);
    else for (let p = dp; p < dp + bytes; p += 8) { dv.setInt32(p, lo, true); dv.setInt32(p + 4, hi, true); }
  }
  addReg(c, 7, bytes);
  addReg(c, 1, -n);
  return n;
}

function strOp(c: Cpu, i: Insn, k: number): void {
  if (i.rep === 0) { step(c, i, k); return; }
  const asz = i.asz;
  // count 0: retires as one instruction and writes nothing (SDM "REP/REPE/REPNE" and APM pseudo-code; AMD
  // hardware agrees, Intel hardware zeroes bits 63:32 of RCX/RSI/RDI for a 0x67 form, which the tests mask)
  if (countZero(c, asz)) return;
  const io = k === S.INS || k === S.OUTS;
  const budget = io || c.repBudget < 1 ? 1 : c.repBudget;
  const fast = (k === S.MOVS || k === S.STOS) && asz === 8 && (c.flags & F.DF) === 0;
  const cond = k === S.CMPS || k === S.SCAS;
  let done = 0;
  try {
    for (;;) {
      if (fast && budget - done > 1) {
        const n = bulk(c, i, k, budget - done);
        if (n > 0) {
          done += n;
          if (countZero(c, asz)) break;
          if (done >= budget) { c.rip = c.insnRip; c.brk = true; break; }
          continue;
        }
      }
      step(c, i, k);
      adv(c, 1, asz, -1);
      done++;
      if (countZero(c, asz)) break;
      if (cond && (getZF(c) !== 0) !== (i.rep === 1)) break; // REPE stops on ZF=0, REPNE on ZF=1
      if (done >= budget) { c.rip = c.insnRip; c.brk = true; break; }
    }
  } catch (e) {
    c.bonus += done;
    throw e;
  }
  c.bonus += done - 1;
  if (done > 1) c.brk = true;
}

function movs(c: Cpu, i: Insn): void { strOp(c, i, S.MOVS); }
function cmps(c: Cpu, i: Insn): void { strOp(c, i, S.CMPS); }
function stos(c: Cpu, i: Insn): void { strOp(c, i, S.STOS); }
function lods(c: Cpu, i: Insn): void { strOp(c, i, S.LODS); }
function scas(c: Cpu, i: Insn): void { strOp(c, i, S.SCAS); }
function ins(c: Cpu, i: Insn): void { if (i.osz === 8) i.osz = 4; strOp(c, i, S.INS); }
function outs(c: Cpu, i: Insn): void { if (i.osz === 8) i.osz = 4; strOp(c, i, S.OUTS); }

export function installString(): void {
  def(0, 0xa4, D.B, movs); def(0, 0xa5, 0, movs);
  def(0, 0xa6, D.B, cmps); def(0, 0xa7, 0, cmps);
  def(0, 0xaa, D.B, stos); def(0, 0xab, 0, stos);
  def(0, 0xac, D.B, lods); def(0, 0xad, 0, lods);
  def(0, 0xae, D.B, scas); def(0, 0xaf, 0, scas);
  def(0, 0x6c, D.B | D.END, ins); def(0, 0x6d, D.END, ins);
  def(0, 0x6e, D.B | D.END, outs); def(0, 0x6f, D.END, outs);
}
