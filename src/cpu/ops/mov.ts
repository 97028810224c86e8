// Data movement: MOV (all forms), MOVZX/MOVSX/MOVSXD, LEA, XCHG, PUSH/POP, CMOVcc/SETcc, BSWAP,
// CBW..CQO, LAHF/SAHF, PUSHF/POPF, flag instructions, ENTER/LEAVE, XLAT, NOPs.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn } from '../decoder.js';
import { F, cond, materialize, arithFlags } from '../flags.js';
import { getE, getG, setE, setG, readReg, writeReg, push, pop, signExtend, rspAddr, adjustRsp, TWO32 } from './operands.js';

function movEG(c: Cpu, i: Insn): void { const v = getG(c, i); setE(c, i, v, c.hi); }
function movGE(c: Cpu, i: Insn): void { const v = getE(c, i); setG(c, i, v, c.hi); }

/** Register-to-register moves chosen at decode time (x = destination, y = source): tiny, inlinable. */
function mov64rr(c: Cpu, i: Insn): void { const r = c.regs, d = i.x << 1, s = i.y << 1; r[d] = r[s]; r[d + 1] = r[s + 1]; }
function mov32rr(c: Cpu, i: Insn): void { const r = c.regs, d = i.x << 1; r[d] = r[i.y << 1]; r[d + 1] = 0; }
/** Loads and stores with a [base + disp] operand, 64-bit (the bulk of -O0 code). */
function mov64load(c: Cpu, i: Insn): void { const r = c.regs, g = i.reg << 1; r[g] = c.read64(i.ea(c, i)); r[g + 1] = c.hi; }
function mov64store(c: Cpu, i: Insn): void { const r = c.regs, g = i.reg << 1; c.write64(i.ea(c, i), r[g], r[g + 1]); }
function mov32load(c: Cpu, i: Insn): void { const r = c.regs, g = i.reg << 1; r[g] = c.read32(i.ea(c, i)); r[g + 1] = 0; }
function mov32store(c: Cpu, i: Insn): void { c.write32(i.ea(c, i), c.regs[i.reg << 1]); }
function specMovEG(i: Insn) {
  if (i.osz !== 8 && i.osz !== 4) return null;
  if (i.rm < 0) return i.osz === 8 ? mov64store : mov32store;
  i.x = i.rm; i.y = i.reg; i.fx = 2;
  return i.osz === 8 ? mov64rr : mov32rr;
}
function specMovGE(i: Insn) {
  if (i.osz !== 8 && i.osz !== 4) return null;
  if (i.rm < 0) return i.osz === 8 ? mov64load : mov32load;
  i.x = i.reg; i.y = i.rm; i.fx = 2;
  return i.osz === 8 ? mov64rr : mov32rr;
}

function movEI(c: Cpu, i: Insn): void { setE(c, i, i.imm, i.immHi); }
function movRI(c: Cpu, i: Insn): void { writeReg(c, i.reg, i.regB, i.osz, i.imm, i.immHi); }

// A0-A3: MOV AL/rAX <-> moffs (64-bit absolute address, FS/GS base applies)
function moffsAddr(c: Cpu, i: Insn): number {
  let a = i.asz === 4 ? i.imm >>> 0 : i.immHi * TWO32 + (i.imm >>> 0);
  if (i.seg === 4) a += c.fsBase; else if (i.seg === 5) a += c.gsBase;
  return a;
}
function movALm(c: Cpu, i: Insn): void { const v = c.readN(moffsAddr(c, i), i.osz); writeReg(c, 0, 0, i.osz, v, c.hi); }
function movmAL(c: Cpu, i: Insn): void { const v = readReg(c, 0, 0, i.osz); c.writeN(moffsAddr(c, i), i.osz, v, c.hi); }

function lea(c: Cpu, i: Insn): void {
  if (i.rm >= 0) c.raise(6);
  // exact 64-bit arithmetic (no segment base): the result need not be a valid address
  const r = c.regs;
  let s: number, h: number;
  if (i.base === 16) { const v = c.rip + i.disp; s = v >>> 0; h = Math.floor(v / TWO32); }
  else {
    s = i.disp; h = 0;
    if (i.disp < 0) { s += TWO32; h = -1; }
    if (i.base >= 0) { s += r[i.base << 1] >>> 0; h += r[(i.base << 1) + 1]; }
    if (i.index >= 0) { s += (r[i.index << 1] >>> 0) * i.scale; h += r[(i.index << 1) + 1] * i.scale; }
  }
  const lo = s >>> 0;
  h = (h + (s - lo) / TWO32) | 0;
  if (i.asz === 4) h = 0;
  setG(c, i, lo | 0, h);
}

// MOVZX / MOVSX: source size from the opcode (B6/BE byte, B7/BF word)
function movzx(c: Cpu, i: Insn, ssz: number): void {
  let v: number;
  if (i.rm >= 0) v = readReg(c, i.rm, i.rmB, ssz);
  else v = c.readN(i.ea(c, i), ssz);
  setG(c, i, v, 0);
}
function movsx(c: Cpu, i: Insn, ssz: number): void {
  let v: number;
  if (i.rm >= 0) v = readReg(c, i.rm, i.rmB, ssz);
  else v = c.readN(i.ea(c, i), ssz);
  v = signExtend(c, v, ssz);
  setG(c, i, v, c.hi);
}
function movzxB(c: Cpu, i: Insn): void { movzx(c, i, 1); }
function movzxW(c: Cpu, i: Insn): void { movzx(c, i, 2); }
function movsxB(c: Cpu, i: Insn): void { movsx(c, i, 1); }
function movsxW(c: Cpu, i: Insn): void { movsx(c, i, 2); }
function movsxd(c: Cpu, i: Insn): void {
  if (i.osz !== 8) { movGE(c, i); return; } // without REX.W: a plain 32/16-bit move
  let v: number;
  if (i.rm >= 0) v = c.regs[i.rm << 1];
  else v = c.read32(i.ea(c, i));
  setG(c, i, v, v >> 31);
}

function xchgEG(c: Cpu, i: Insn): void {
  const sz = i.osz;
  const g = getG(c, i), gH = c.hi;
  if (i.rm >= 0) {
    const e = readReg(c, i.rm, i.rmB, sz), eH = c.hi;
    writeReg(c, i.rm, i.rmB, sz, g, gH);
    writeReg(c, i.reg, i.regB, sz, e, eH);
  } else {
    const la = i.ea(c, i);
    const e = c.readRmw(la, sz), eH = c.hi;
    c.writeN(la, sz, g, gH);
    setG(c, i, e, eH);
  }
}
function xchgAR(c: Cpu, i: Insn): void {
  const sz = i.osz;
  if (i.reg === 0 && sz !== 4) return; // 90 = NOP (and 66 90); 32-bit XCHG EAX,EAX with REX.B=0 is also NOP
  if (i.reg === 0 && sz === 4) return;
  const a = readReg(c, 0, 0, sz), aH = c.hi;
  const r = readReg(c, i.reg, i.reg << 3, sz), rH = c.hi;
  writeReg(c, 0, 0, sz, r, rH);
  writeReg(c, i.reg, i.reg << 3, sz, a, aH);
}

// PUSH/POP
function pushR(c: Cpu, i: Insn): void { const v = readReg(c, i.reg, 0, i.osz); push(c, i.osz, v, c.hi); }
function popR(c: Cpu, i: Insn): void { const v = pop(c, i.osz); writeReg(c, i.reg, 0, i.osz, v, c.hi); }
function pushI(c: Cpu, i: Insn): void { push(c, i.osz, i.imm, i.immHi); }
export function pushE(c: Cpu, i: Insn): void { const v = getE(c, i); push(c, i.osz, v, c.hi); }
function popE(c: Cpu, i: Insn): void {
  // POP r/m: RSP is incremented before the address is computed (SDM POP)
  const oldLo = c.regs[8], oldHi = c.regs[9];
  const v = pop(c, i.osz), vH = c.hi;
  try { setE(c, i, v, vH); } catch (e) { c.regs[8] = oldLo; c.regs[9] = oldHi; throw e; }
}

function cmov(c: Cpu, i: Insn): void {
  const v = getE(c, i), vH = c.hi; // the source is read (and may fault) whatever the condition
  if (cond(c, i.op & 15)) setG(c, i, v, vH);
  else if (i.osz === 4) c.regs[(i.reg << 1) + 1] = 0; // 32-bit CMOV zero-extends even when false
}
function setcc(c: Cpu, i: Insn): void {
  setE(c, i, cond(c, i.op & 15) ? 1 : 0, 0);
}

function bswap(c: Cpu, i: Insn): void {
  const r = c.regs, n = i.reg << 1;
  const sw = (x: number) => ((x >>> 24) | ((x >>> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24)) | 0;
  if (i.osz === 8) { const lo = r[n], hi = r[n + 1]; r[n] = sw(hi); r[n + 1] = sw(lo); }
  else if (i.osz === 4) { r[n] = sw(r[n]); r[n + 1] = 0; }
  else { c.regs16[i.reg << 2] = 0; } // BSWAP r16 is undefined; real CPUs clear the low word
}

// CBW/CWDE/CDQE (98) and CWD/CDQ/CQO (99)
function cbw(c: Cpu, i: Insn): void {
  const r = c.regs;
  if (i.osz === 8) { r[1] = r[0] >> 31; }
  else if (i.osz === 4) { r[0] = (r[0] << 16) >> 16; r[1] = 0; }
  else c.regs16[0] = (c.regs8[0] << 24) >> 24;
}
function cwd(c: Cpu, i: Insn): void {
  const r = c.regs;
  if (i.osz === 8) { const s = r[1] >> 31; r[4] = s; r[5] = s; }
  else if (i.osz === 4) { r[4] = r[0] >> 31; r[5] = 0; }
  else c.regs16[8] = (c.regs16[0] & 0x8000) ? 0xffff : 0;
}

function lahf(c: Cpu, _i: Insn): void {
  c.regs8[1] = (arithFlags(c) & 0xd5) | 2;
}
function sahf(c: Cpu, _i: Insn): void {
  materialize(c);
  c.flags = (c.flags & ~0xd5) | (c.regs8[1] & 0xd5);
}
function pushf(c: Cpu, i: Insn): void {
  push(c, i.osz, c.getRflags() & 0xfcffff, 0); // VM and RF are cleared in the pushed image
}
function popf(c: Cpu, i: Insn): void {
  const v = pop(c, i.osz);
  // CPL 0 may change IF and IOPL; CPL 3 may change neither (IOPL 0); VM/VIP/VIF/RF are not loaded here
  let mask = F.CF | F.PF | F.AF | F.ZF | F.SF | F.TF | F.DF | F.OF | F.NT | F.AC | F.ID;
  if (c.cpl === 0) mask |= F.IF | F.IOPL;
  else if (c.cpl <= ((c.flags >> 12) & 3)) mask |= F.IF;
  if (i.osz === 2) mask &= 0xffff;
  materialize(c);
  c.flags = ((c.flags & ~mask) | (v & mask) | 2) >>> 0;
  c.brk = true; // IF may have changed: the run loop checks for interrupts
}

function clc(c: Cpu): void { materialize(c); c.flags &= ~F.CF; }
function stc(c: Cpu): void { materialize(c); c.flags |= F.CF; }
function cmc(c: Cpu): void { materialize(c); c.flags ^= F.CF; }
function cld(c: Cpu): void { c.flags &= ~F.DF; }
function std(c: Cpu): void { c.flags |= F.DF; }

function leave(c: Cpu, i: Insn): void {
  const r = c.regs;
  const a = r[11] * TWO32 + (r[10] >>> 0);
  const v = c.readN(a, i.osz), vH = c.hi;
  r[8] = r[10]; r[9] = r[11];
  adjustRsp(c, i.osz);
  writeReg(c, 5, 0, i.osz, v, vH);
}

function enter(c: Cpu, i: Insn): void {
  const size = i.imm & 0xffff, level = i.imm2 & 31, sz = i.osz;
  const r = c.regs;
  const rbpLo = r[10], rbpHi = r[11];
  const oldRsp = [r[8], r[9]];
  try {
    push(c, sz, rbpLo, rbpHi);
    const frameLo = r[8], frameHi = r[9];
    if (level > 0) {
      let fp = rbpHi * TWO32 + (rbpLo >>> 0);
      for (let k = 1; k < level; k++) {
        fp -= sz;
        const v = c.readN(fp, sz);
        push(c, sz, v, c.hi);
      }
      push(c, sz, frameLo, frameHi);
    }
    // probe the new stack bottom (a fault leaves RSP unchanged)
    adjustRsp(c, -size);
    if (size > 0) c.read8(rspAddr(c));
    writeReg(c, 5, 0, sz, frameLo, frameHi);
  } catch (e) { r[8] = oldRsp[0]; r[9] = oldRsp[1]; throw e; }
}

function xlat(c: Cpu, i: Insn): void {
  let a = i.asz === 4 ? (c.regs[6] >>> 0) : c.regs[7] * TWO32 + (c.regs[6] >>> 0);
  a += c.regs8[0];
  if (i.asz === 4) a = a >>> 0;
  if (i.seg === 4) a += c.fsBase; else if (i.seg === 5) a += c.gsBase;
  c.regs8[0] = c.read8(a);
}

export function nop(_c: Cpu, _i: Insn): void { /* NOP, multi-byte NOP, ENDBR64, PAUSE, hint NOPs, prefetch */ }

export function installMov(): void {
  def(0, 0x88, D.M | D.B, movEG);
  def(0, 0x89, D.M, movEG, specMovEG); // 16-bit forms use movEG; 32/64-bit ones are specialised
  def(0, 0x8a, D.M | D.B, movGE);
  def(0, 0x8b, D.M, movGE, specMovGE);
  def(0, 0x8d, D.M, lea, (i) => { if (i.rm < 0) i.fx = 2; return null; }); // LEA neither faults nor touches flags
  def(0, 0xc6, D.M | D.B | D.I8, [movEI, null, null, null, null, null, null, null]);
  def(0, 0xc7, D.M | D.IZ, [movEI, null, null, null, null, null, null, null]);
  for (let r = 0; r < 8; r++) {
    def(0, 0xb0 + r, D.R | D.B | D.I8, movRI);
    def(0, 0xb8 + r, D.R | D.IV, movRI);
    def(0, 0x50 + r, D.R | D.D64, pushR);
    def(0, 0x58 + r, D.R | D.D64, popR);
    def(0, 0x90 + r, D.R, xchgAR);
  }
  def(0, 0xa0, D.B | D.MOFFS, movALm);
  def(0, 0xa1, D.MOFFS, movALm);
  def(0, 0xa2, D.B | D.MOFFS, movmAL);
  def(0, 0xa3, D.MOFFS, movmAL);
  def(0, 0x86, D.M | D.B, xchgEG);
  def(0, 0x87, D.M, xchgEG);
  def(0, 0x63, D.M, movsxd);
  def(0, 0x68, D.D64 | D.IZ, pushI);
  def(0, 0x6a, D.D64 | D.I8, pushI);
  def(0, 0x8f, D.M | D.D64, [popE, null, null, null, null, null, null, null]);
  def(0, 0x98, 0, cbw);
  def(0, 0x99, 0, cwd);
  def(0, 0x9c, D.D64, pushf);
  def(0, 0x9d, D.D64 | D.END, popf);
  def(0, 0x9e, 0, sahf);
  def(0, 0x9f, 0, lahf);
  def(0, 0xf8, 0, clc);
  def(0, 0xf9, 0, stc);
  def(0, 0xf5, 0, cmc);
  def(0, 0xfc, 0, cld);
  def(0, 0xfd, 0, std);
  def(0, 0xc9, D.D64, leave);
  def(0, 0xc8, D.D64 | D.ENTER, enter);
  def(0, 0xd7, D.B, xlat);
  def(1, 0xb6, D.M, movzxB);
  def(1, 0xb7, D.M, movzxW);
  def(1, 0xbe, D.M, movsxB);
  def(1, 0xbf, D.M, movsxW);
  for (let cc = 0; cc < 16; cc++) {
    def(1, 0x40 + cc, D.M, cmov);
    def(1, 0x90 + cc, D.M | D.B, setcc);
  }
  for (let r = 0; r < 8; r++) def(1, 0xc8 + r, D.R, bswap);
  // NOPs: 0F 1F /0 (multi-byte NOP), 0F 18-1E hint space (prefetch, ENDBR64 = F3 0F 1E FA), 0F 0D prefetchw
  for (let op = 0x18; op <= 0x1f; op++) def(1, op, D.M, nop);
  def(1, 0x0d, D.M, nop);
}
