// Far transfers in 64-bit mode: CALL/JMP far through memory (FF /3, FF /5: m16:16, m16:32, m16:64 with
// REX.W) and far RET (CB, CA iw), with the descriptor checks of the SDM's CALL, JMP and RET pseudo-code
// (Vol. 2A/2B) for code segments in the GDT. Not supported (the run stops with a report, it never guesses):
// call gates and compatibility-mode (L = 0) code segments. The LDT is not implemented: a selector with TI = 1
// raises #GP(selector), as a CPU with a null LDTR does. Imports nothing but the CPU's interfaces.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn } from '../decoder.js';
import { rspAddr, TWO32 } from './operands.js';

const CANON = 140737488355328; // 2^47

// Descriptor high dword (bits 63:32) fields (SDM Vol. 3A §3.4.5)
const ACCESSED = 0x100, WRITABLE = 0x200, CONFORMING = 0x400, CODE = 0x800, S = 0x1000, P = 0x8000, L = 0x200000, DB = 0x400000;
const TYPE_CALL_GATE64 = 0xc;

const gp = (c: Cpu, sel: number): never => c.raise(13, sel & 0xfffc);

/** Linear address of the GDT descriptor `sel` names: #GP(selector) beyond the limit or for the LDT (TI = 1). */
function descAddr(c: Cpu, sel: number): number {
  const idx = sel & 0xfff8;
  if ((sel & 4) !== 0 || idx + 7 > c.gdtLimit) gp(c, sel);
  return c.gdtBase + idx;
}

/** The accessed bit of a descriptor the CPU loads is set in memory (a locked write, SDM Vol. 3A §3.4.5.1). */
function setAccessed(c: Cpu, da: number, w1: number): void {
  if ((w1 & ACCESSED) === 0) c.sysWrite8(da + 5, (w1 >>> 8) & 0xff | 1);
}

/** 64-bit code only: L = 0 would switch to compatibility mode, which x86ft does not run. */
function need64(c: Cpu, sel: number, w1: number): void {
  if ((w1 & L) === 0) c.unsupported(`far transfer to a compatibility-mode code segment (selector 0x${sel.toString(16)})`);
}

/**
 * Checks of a far CALL/JMP target (SDM CALL/JMP, protected mode, IA-32e): null → #GP(0); beyond the GDT, not a
 * code segment, L = D = 1, a conforming segment with DPL > CPL, a non-conforming one with RPL > CPL or
 * DPL != CPL → #GP(selector); not present → #NP(selector). Returns the descriptor's address.
 */
function callJmpTarget(c: Cpu, sel: number): number {
  if ((sel & 0xfffc) === 0) c.raise(13, 0);
  const da = descAddr(c, sel);
  const w1 = c.sysRead32(da + 4);
  if ((w1 & S) === 0) {
    if (((w1 >>> 8) & 0xf) === TYPE_CALL_GATE64) c.unsupported(`far CALL/JMP through a call gate (selector 0x${sel.toString(16)})`);
    gp(c, sel);
  }
  if ((w1 & CODE) === 0 || ((w1 & L) !== 0 && (w1 & DB) !== 0)) gp(c, sel);
  const dpl = (w1 >>> 13) & 3;
  if ((w1 & CONFORMING) !== 0 ? dpl > c.cpl : (sel & 3) > c.cpl || dpl !== c.cpl) gp(c, sel);
  if ((w1 & P) === 0) c.raise(11, sel & 0xfffc);
  need64(c, sel, w1);
  return da;
}

/** The m16:16 / m16:32 / m16:64 far pointer of FF /3, FF /5: offset returned, selector in c.tmpLo. */
function farPointer(c: Cpu, i: Insn): number {
  if (i.rm >= 0) c.raise(6); // a far pointer is always in memory
  const la = i.ea(c, i), osz = i.osz;
  let off: number;
  if (osz === 8) { const lo = c.read64(la); off = c.hi * TWO32 + (lo >>> 0); } else off = osz === 4 ? c.read32(la) >>> 0 : c.read16(la);
  c.tmpLo = c.read16(la + osz);
  return off;
}

/** Write `v` (a selector or a non-negative offset) as an osz-byte stack slot at la. */
function putSlot(c: Cpu, la: number, osz: number, v: number): void {
  if (osz === 8) c.write64(la, v >>> 0, Math.floor(v / TWO32) | 0);
  else if (osz === 4) c.write32(la, v | 0);
  else c.write16(la, v & 0xffff);
}

/** Read an osz-byte stack slot at la as a number (an offset: 64-bit values sign-carrying, canonical check apart). */
function getSlot(c: Cpu, la: number, osz: number): number {
  if (osz === 8) { const lo = c.read64(la); return c.hi * TWO32 + (lo >>> 0); }
  return osz === 4 ? c.read32(la) >>> 0 : c.read16(la);
}

function setRsp(c: Cpu, v: number): void {
  c.regs[8] = v >>> 0 | 0; c.regs[9] = Math.floor(v / TWO32) | 0;
}

/** FF /3: CALL far m16:xx. Pushes CS, then the return offset, each an operand-size slot (CS zero-extended). */
function callFar(c: Cpu, i: Insn): void {
  const off = farPointer(c, i), sel = c.tmpLo, osz = i.osz;
  const da = callJmpTarget(c, sel);
  if (off >= CANON || off < -CANON) c.raise(13, 0);
  const sp = rspAddr(c), a = sp - 2 * osz;
  c.probeWrite(a, 2 * osz); // both slots writable before either is written: a fault changes nothing
  setAccessed(c, da, c.sysRead32(da + 4));
  const ret = c.rip;
  putSlot(c, a + osz, osz, c.sel[1]);
  putSlot(c, a, osz, osz === 8 ? ret : osz === 4 ? ret % TWO32 : ret % 65536);
  setRsp(c, a);
  c.sel[1] = (sel & 0xfffc) | c.cpl;
  c.rip = off;
  c.brk = true;
}

/** FF /5: JMP far m16:xx. */
function jmpFar(c: Cpu, i: Insn): void {
  const off = farPointer(c, i), sel = c.tmpLo;
  const da = callJmpTarget(c, sel);
  if (off >= CANON || off < -CANON) c.raise(13, 0);
  setAccessed(c, da, c.sysRead32(da + 4));
  c.sel[1] = (sel & 0xfffc) | c.cpl;
  c.rip = off;
  c.brk = true;
}

/**
 * CB / CA iw: far RET (operand size 32 by default, 64 with REX.W, 16 with 66). Same privilege: pops RIP and CS,
 * then releases imm16 bytes. To an outer privilege level (RPL > CPL): also pops RSP and SS from above the released
 * bytes, checks SS (null only for a return to CPL < 3; else RPL and DPL = the new CPL, a writable data segment →
 * #GP(selector); not present → #SS(selector)), releases imm16 bytes of the new stack too, and nulls DS/ES/FS/GS
 * selectors the new CPL may not use. Every check precedes every change.
 */
function retFar(c: Cpu, i: Insn): void {
  const osz = i.osz, imm = i.imm & 0xffff;
  const sp = rspAddr(c);
  const rip = getSlot(c, sp, osz);
  const sel = getSlot(c, sp + osz, osz) & 0xffff;
  if ((sel & 0xfffc) === 0) c.raise(13, 0);
  const da = descAddr(c, sel);
  const w1 = c.sysRead32(da + 4);
  const rpl = sel & 3, dpl = (w1 >>> 13) & 3;
  if ((w1 & S) === 0 || (w1 & CODE) === 0 || ((w1 & L) !== 0 && (w1 & DB) !== 0) || rpl < c.cpl) gp(c, sel);
  if ((w1 & CONFORMING) !== 0 ? dpl > rpl : dpl !== rpl) gp(c, sel);
  if ((w1 & P) === 0) c.raise(11, sel & 0xfffc);
  need64(c, sel, w1);
  if (rpl === c.cpl) {
    if (rip >= CANON || rip < -CANON) c.raise(13, 0);
    setAccessed(c, da, w1);
    setRsp(c, sp + 2 * osz + imm);
    c.sel[1] = sel;
    c.rip = rip;
    c.brk = true;
    return;
  }
  const sp2 = sp + 2 * osz + imm;
  const newRsp = getSlot(c, sp2, osz);
  const ss = getSlot(c, sp2 + osz, osz) & 0xffff;
  if ((ss & 0xfffc) === 0) {
    if (rpl === 3) c.raise(13, 0); // 64-bit mode allows a null SS only below CPL 3
  } else {
    const sa = descAddr(c, ss);
    const s1 = c.sysRead32(sa + 4);
    if ((ss & 3) !== rpl || (s1 & S) === 0 || (s1 & CODE) !== 0 || (s1 & WRITABLE) === 0 || ((s1 >>> 13) & 3) !== rpl) gp(c, ss);
    if ((s1 & P) === 0) c.raise(12, ss & 0xfffc);
    setAccessed(c, sa, s1);
  }
  if (rip >= CANON || rip < -CANON) c.raise(13, 0);
  const drop = inaccessibleSegments(c, rpl);
  setAccessed(c, da, w1);
  setRsp(c, (osz === 8 ? newRsp : newRsp % TWO32) + imm);
  c.sel[1] = sel;
  c.sel[2] = ss;
  c.setCpl(rpl);
  dropSegments(c, drop);
  c.rip = rip;
  c.brk = true;
}

const SEGS = [0, 3, 4, 5]; // ES, DS, FS, GS

/**
 * For a return to the outer privilege level newCpl (far RET, IRET): which of ES, DS, FS, GS (bits 0-3, SEGS
 * order) name a data or non-conforming code segment with DPL < newCpl and so become null (SDM RET/IRET
 * pseudo-code). Read before anything changes, so a fault here changes nothing; the FS/GS bases stay (64-bit
 * mode keeps the hidden base of a null selector).
 */
export function inaccessibleSegments(c: Cpu, newCpl: number): number {
  let drop = 0;
  for (let k = 0; k < 4; k++) {
    const s = c.sel[SEGS[k]];
    const idx = s & 0xfff8;
    if ((s & 0xfffc) === 0 || (s & 4) !== 0 || idx + 7 > c.gdtLimit) continue;
    const w1 = c.sysRead32(c.gdtBase + idx + 4);
    const conformingCode = (w1 & (CODE | CONFORMING)) === (CODE | CONFORMING);
    if (!conformingCode && ((w1 >>> 13) & 3) < newCpl) drop |= 1 << k;
  }
  return drop;
}

/** Null the segment selectors inaccessibleSegments() named. */
export function dropSegments(c: Cpu, drop: number): void {
  for (let k = 0; k < 4; k++) if (drop & (1 << k)) c.sel[SEGS[k]] = 0;
}

/** FF /3 and FF /5 of the FF group (the rest of the row is control.ts's). */
export { callFar, jmpFar };

export function installFar(): void {
  def(0, 0xcb, D.END, retFar);
  def(0, 0xca, D.I16 | D.END, retFar);
}
