// Bit instructions: BT/BTS/BTR/BTC (0F A3/AB/B3/BB, 0F BA /4-/7), BSF/BSR (0F BC/BD; F3 0F BC/BD as well,
// since CPUID reports neither BMI1 nor LZCNT), XADD (0F C0/C1), CMPXCHG (0F B0/B1). POPCNT (F3 0F B8) is
// not reported by CPUID and stays undefined. SDM Vol. 2A "BT", "BTS", "BSF", "BSR", "XADD", "CMPXCHG".
//
// Undefined flags follow the host (Intel), checked by test/cpu/bits.test.ts:
//  - BT/BTS/BTR/BTC: only CF is written; OF SF ZF AF PF are left unchanged.
//  - BSF/BSR: ZF as defined; CF = OF = SF = AF = 0; PF = parity of the result index (source 0: PF = 1,
//    as for a zero result); with a zero source the destination is unchanged, a 32-bit one not even
//    zero-extended.
//  - CMPXCHG: flags of CMP accumulator, dest; a memory destination is always written (old value on failure);
//    a register destination is written only on success, the accumulator only on failure.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn } from '../decoder.js';
import { F, PARITY, setFlagsEager } from '../flags.js';
import { alu, AluOp } from './alu.js';
import { readReg, writeReg } from './operands.js';

const TWO32 = 4294967296;

const enum B { BT = 0, BTS = 1, BTR = 2, BTC = 3 }

/** Apply op to bit `bit` of (lo, hi); returns new lo, new hi in outH; sets CF. */
let outH = 0;
function bitOp(c: Cpu, op: number, lo: number, hi: number, bit: number): number {
  const inHi = bit >= 32;
  const m = 1 << (bit & 31);
  const w = inHi ? hi : lo;
  setFlagsEager(c, F.CF, (w & m) !== 0 ? 1 : 0);
  let nw = w;
  if (op === B.BTS) nw = w | m; else if (op === B.BTR) nw = w & ~m; else if (op === B.BTC) nw = w ^ m;
  if (inHi) { outH = nw; return lo; }
  outH = hi;
  return nw;
}

function btCore(c: Cpu, i: Insn, op: number, off: number, offIsReg: boolean): void {
  const sz = i.osz, bits = sz << 3;
  if (i.rm >= 0) {
    const v = readReg(c, i.rm, i.rmB, sz), vH = c.hi;
    const bit = ((off % bits) + bits) % bits;
    const r = bitOp(c, op, v, vH, bit);
    if (op !== B.BT) writeReg(c, i.rm, i.rmB, sz, r, outH);
    return;
  }
  let la = i.ea(c, i);
  let bit: number;
  if (offIsReg) {
    // bit base addressing: the signed offset selects an operand-sized unit relative to the address
    const unit = Math.floor(off / bits);
    la += unit * sz;
    bit = off - unit * bits;
  } else bit = off & (bits - 1);
  const v = op === B.BT ? c.readN(la, sz) : c.readRmw(la, sz), vH = c.hi;
  const r = bitOp(c, op, v, vH, bit);
  if (op !== B.BT) c.writeN(la, sz, r, outH);
}

/** Signed bit offset from the G register (16/32/64-bit). */
function regOffset(c: Cpu, i: Insn): number {
  const sz = i.osz;
  const v = readReg(c, i.reg, i.regB, sz);
  if (sz === 2) return (v << 16) >> 16;
  if (sz === 4) return v | 0;
  return c.hi * TWO32 + (v >>> 0);
}

function btG(c: Cpu, i: Insn): void {
  // register destination: the offset is taken modulo the operand size from the low bits (exact for 64-bit)
  const off = i.rm >= 0 ? c.regs[i.reg << 1] & ((i.osz << 3) - 1) : regOffset(c, i);
  btCore(c, i, (i.op >> 3) & 3, off, true);
}
function btI(c: Cpu, i: Insn): void { btCore(c, i, i.sub - 4, i.imm & 0xff, false); }

// ---------------------------------------------------------------- BSF / BSR

function bsf(c: Cpu, i: Insn): void { bsx(c, i, true); }
function bsr(c: Cpu, i: Insn): void { bsx(c, i, false); }

function bsx(c: Cpu, i: Insn, fwd: boolean): void {
  const sz = i.osz;
  let v = i.rm >= 0 ? readReg(c, i.rm, i.rmB, sz) : c.readN(i.ea(c, i), sz);
  const vH = sz === 8 ? c.hi : 0;
  if (sz === 2) v &= 0xffff;
  if ((v | vH) === 0) {
    // source zero: ZF = 1, destination unchanged (the host does not even zero-extend a 32-bit register)
    setFlagsEager(c, F.ZF | F.CF | F.PF | F.AF | F.SF | F.OF, F.ZF | F.PF);
    return;
  }
  let r: number;
  if (fwd) r = v !== 0 ? 31 - Math.clz32(v & -v) : 63 - Math.clz32(vH & -vH);
  else r = vH !== 0 ? 63 - Math.clz32(vH) : 31 - Math.clz32(v);
  writeReg(c, i.reg, i.regB, sz, r, 0);
  setFlagsEager(c, F.ZF | F.CF | F.PF | F.AF | F.SF | F.OF, PARITY[r]);
}

// ---------------------------------------------------------------- XADD / CMPXCHG

function xadd(c: Cpu, i: Insn): void {
  const sz = i.osz;
  const src = readReg(c, i.reg, i.regB, sz), srcH = c.hi;
  if (i.rm >= 0) {
    const d = readReg(c, i.rm, i.rmB, sz), dH = c.hi;
    const r = alu(c, AluOp.ADD, sz, d, dH, src, srcH), rH = c.hi;
    writeReg(c, i.reg, i.regB, sz, d, dH);
    writeReg(c, i.rm, i.rmB, sz, r, rH);
    return;
  }
  const la = i.ea(c, i);
  const d = c.readRmw(la, sz), dH = c.hi;
  const r = alu(c, AluOp.ADD, sz, d, dH, src, srcH), rH = c.hi;
  c.writeN(la, sz, r, rH);
  writeReg(c, i.reg, i.regB, sz, d, dH);
}

function cmpxchg(c: Cpu, i: Insn): void {
  const sz = i.osz;
  const acc = readReg(c, 0, 0, sz), accH = c.hi;
  const la = i.rm >= 0 ? 0 : i.ea(c, i);
  const d = i.rm >= 0 ? readReg(c, i.rm, i.rmB, sz) : c.readRmw(la, sz), dH = c.hi;
  const src = readReg(c, i.reg, i.regB, sz), srcH = c.hi;
  const m = sz === 1 ? 0xff : sz === 2 ? 0xffff : -1;
  const equal = ((acc ^ d) & m) === 0 && (sz !== 8 || accH === dH);
  // memory destination: write first (the locked cycle always writes: the old value on failure)
  if (i.rm < 0) {
    if (equal) c.writeN(la, sz, src, srcH); else c.writeN(la, sz, d, dH);
  }
  alu(c, AluOp.CMP, sz, acc, accH, d, dH);
  if (equal) { if (i.rm >= 0) writeReg(c, i.rm, i.rmB, sz, src, srcH); }
  else writeReg(c, 0, 0, sz, d, dH);
}

export function installBits(): void {
  def(1, 0xa3, D.M, btG);
  def(1, 0xab, D.M, btG);
  def(1, 0xb3, D.M, btG);
  def(1, 0xbb, D.M, btG);
  def(1, 0xba, D.M | D.I8, [null, null, null, null, btI, btI, btI, btI]);
  def(1, 0xbc, D.M, bsf);
  def(1, 0xbd, D.M, bsr);
  def(1, 0xc0, D.M | D.B, xadd);
  def(1, 0xc1, D.M, xadd);
  def(1, 0xb0, D.M | D.B, cmpxchg);
  def(1, 0xb1, D.M, cmpxchg);
}
