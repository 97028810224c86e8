// Control flow: Jcc, JMP, CALL, RET (near, direct and indirect), LOOP/LOOPcc/JRCXZ, INT3/INT n, IRETQ,
// HLT, UD2, and the FE/FF groups (INC/DEC/CALL/JMP/PUSH).

import type { Cpu } from '../cpu.js';
import { def, D, type Insn, type Handler } from '../decoder.js';
import { cond, materialize, F, getOF, getCF, getZF, getSF, getPF } from '../flags.js';
import { getE, push, pop, regAddr, addReg, TWO32 } from './operands.js';
import { incE, decE, specIncDec } from './alu.js';
import { pushE } from './mov.js';
import { callFar, jmpFar, inaccessibleSegments, dropSegments } from './far.js';

const CANON = 140737488355328; // 2^47

function jumpTo(c: Cpu, t: number): void {
  if (t >= CANON || t < -CANON) c.raise(13, 0);
  c.rip = t;
}

/** One generated handler per condition (jo, jno, jb, ...): the condition is a constant expression, so a
 *  compiled block can inline the handler and the flag getter it needs. */
const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const CC_EXPR = ['getOF(c)', 'getCF(c)', 'getZF(c)', '(getCF(c) | getZF(c))', 'getSF(c)', 'getPF(c)', '(getSF(c) ^ getOF(c))', '(getZF(c) | (getSF(c) ^ getOF(c)))'];
const JCC: Handler[] = CC_NAMES.map((name, cc) => new Function('getOF', 'getCF', 'getZF', 'getSF', 'getPF', 'jumpTo',
  `return function j${name}(c, i) { if (${CC_EXPR[cc >> 1]} ${cc & 1 ? '===' : '!=='} 0) jumpTo(c, c.rip + i.imm); };`,
)(getOF, getCF, getZF, getSF, getPF, jumpTo) as Handler);

function jmpRel(c: Cpu, i: Insn): void { jumpTo(c, c.rip + i.imm); }
function callRel(c: Cpu, i: Insn): void {
  const t = c.rip + i.imm;
  if (t >= CANON || t < -CANON) c.raise(13, 0);
  const r = c.rip;
  push(c, 8, r >>> 0, Math.floor(r / TWO32));
  c.rip = t;
}
function ret(c: Cpu, i: Insn): void {
  const lo = pop(c, 8);
  const t = c.hi * TWO32 + (lo >>> 0);
  if (t >= CANON || t < -CANON) { addReg(c, 4, -8); c.raise(13, 0); }
  if (i.imm !== 0) addReg(c, 4, i.imm & 0xffff);
  c.rip = t;
}
function callE(c: Cpu, i: Insn): void {
  const lo = getE(c, i);
  const t = c.hi * TWO32 + (lo >>> 0);
  if (t >= CANON || t < -CANON) c.raise(13, 0);
  const r = c.rip;
  push(c, 8, r >>> 0, Math.floor(r / TWO32));
  c.rip = t;
}
function jmpE(c: Cpu, i: Insn): void {
  const lo = getE(c, i);
  jumpTo(c, c.hi * TWO32 + (lo >>> 0));
}

/** E0 LOOPNE, E1 LOOPE, E2 LOOP, E3 JRCXZ; the counter is RCX, or ECX with 0x67. */
function loop(c: Cpu, i: Insn): void {
  const r = c.regs;
  const k = i.op & 3;
  let zero: boolean;
  if (k === 3) zero = i.asz === 4 ? r[2] === 0 : (r[2] | r[3]) === 0;
  else {
    if (i.asz === 4) { r[2] = (r[2] - 1) | 0; r[3] = 0; zero = r[2] === 0; }
    else { addReg(c, 1, -1); zero = (r[2] | r[3]) === 0; }
  }
  let take: boolean;
  if (k === 3) take = zero;
  else if (k === 2) take = !zero;
  else if (k === 1) take = !zero && cond(c, 4);
  else take = !zero && !cond(c, 4);
  if (take) jumpTo(c, c.rip + i.imm);
}

function int3(c: Cpu, _i: Insn): void { c.softInterrupt(3); }
function intN(c: Cpu, i: Insn): void { c.softInterrupt(i.imm & 0xff); }
function int1(c: Cpu, _i: Insn): void { c.softInterrupt(1); }

/** IRETQ (REX.W) / IRETD: 64-bit mode always pops RIP, CS, RFLAGS, RSP, SS (SDM IRET). */
function iret(c: Cpu, i: Insn): void {
  const sz = i.osz === 8 ? 8 : 4;
  const base = regAddr(c, 4);
  const rd = (off: number): number => {
    if (sz === 8) { const lo = c.read64(base + off * 8); return c.hi * TWO32 + (lo >>> 0); }
    return c.read32(base + off * 4) >>> 0;
  };
  const rip = rd(0), cs = rd(1) & 0xffff, fl = rd(2);
  const rspV = rd(3), ss = rd(4) & 0xffff;
  if (rip >= CANON || rip < -CANON) c.raise(13, 0);
  const newCpl = cs & 3;
  if (newCpl < c.cpl) c.raise(13, cs & ~3);
  const drop = newCpl > c.cpl ? inaccessibleSegments(c, newCpl) : 0;
  // RF is loaded (a #DB handler returns with RF = 1 to pass the instruction breakpoint it stopped at)
  let mask = F.CF | F.PF | F.AF | F.ZF | F.SF | F.TF | F.DF | F.OF | F.NT | F.RF | F.AC | F.ID;
  if (c.cpl === 0) mask |= F.IF | F.IOPL | F.VIF | F.VIP;
  else if (c.cpl <= ((c.flags >> 12) & 3)) mask |= F.IF;
  materialize(c);
  c.flags = ((c.flags & ~mask) | (fl & mask) | 2) >>> 0;
  c.regs[8] = rspV >>> 0 | 0; c.regs[9] = Math.floor(rspV / TWO32) | 0;
  c.sel[1] = cs; c.sel[2] = ss;
  c.setCpl(newCpl);
  dropSegments(c, drop);
  c.rfLoaded = true;
  c.rip = rip;
  c.brk = true;
}

function hlt(c: Cpu, _i: Insn): void {
  if (c.cpl !== 0) c.raise(13, 0);
  c.halted = true;
  c.brk = true;
}

function ud2(c: Cpu, _i: Insn): void { c.raise(6); }

function cli(c: Cpu, _i: Insn): void {
  if (c.cpl > ((c.flags >> 12) & 3)) c.raise(13, 0);
  c.flags &= ~F.IF;
}
function sti(c: Cpu, _i: Insn): void {
  if (c.cpl > ((c.flags >> 12) & 3)) c.raise(13, 0);
  if (!(c.flags & F.IF)) c.intShadow = true; // the instruction after STI runs before any interrupt
  c.flags |= F.IF;
  c.brk = true;
}

export function installControl(): void {
  for (let cc = 0; cc < 16; cc++) {
    def(0, 0x70 + cc, D.I8 | D.F64 | D.END, JCC[cc]);
    def(1, 0x80 + cc, D.I32 | D.F64 | D.END, JCC[cc]);
  }
  def(0, 0xeb, D.I8 | D.F64 | D.END, jmpRel);
  def(0, 0xe9, D.I32 | D.F64 | D.END, jmpRel);
  def(0, 0xe8, D.I32 | D.F64 | D.END, callRel);
  def(0, 0xc3, D.F64 | D.END, ret);
  def(0, 0xc2, D.F64 | D.I16 | D.END, ret);
  for (let k = 0; k < 4; k++) def(0, 0xe0 + k, D.I8 | D.F64 | D.END, loop);
  def(0, 0xcc, D.END, int3);
  def(0, 0xcd, D.I8 | D.END, intN);
  def(0, 0xf1, D.END, int1);
  def(0, 0xcf, D.END, iret);
  def(0, 0xf4, D.END, hlt);
  def(0, 0xfa, D.END, cli);
  def(0, 0xfb, D.END, sti);
  def(1, 0x0b, D.END, ud2);
  def(0, 0xfe, D.M | D.B, [incE, decE, null, null, null, null, null, null]);
  // (FF /0 /1 register forms get specialised INC/DEC handlers)
  // FF: /2 and /4 are near indirect CALL/JMP (64-bit operand), /3 /5 far CALL/JMP (far.ts), /6 PUSH (64-bit default)
  def(0, 0xff, D.M, [incE, decE, callEF, callFar, jmpEF, jmpFar, pushEF, null], specIncDec);
}

// FF /2, /4, /6 default to a 64-bit operand in long mode; the row is shared with INC/DEC so fix osz here.
function callEF(c: Cpu, i: Insn): void { i.osz = 8; callE(c, i); }
function jmpEF(c: Cpu, i: Insn): void { i.osz = 8; jmpE(c, i); }
function pushEF(c: Cpu, i: Insn): void { if (i.osz === 4) i.osz = 8; pushE(c, i); }
