// System instructions: CPUID, RDTSC/RDTSCP, RDRAND/RDSEED, RDMSR/WRMSR, MOV CRn/DRn, descriptor tables
// (LGDT/LIDT/SGDT/SIDT/LTR/STR/LLDT/SLDT), INVLPG, SWAPGS, SYSCALL/SYSRET, IN/OUT, segment moves,
// CMPXCHG8B/16B, fences and cache hints.

import type { Cpu } from '../cpu.js';
import { def, D, type Insn } from '../decoder.js';
import { F, materialize } from '../flags.js';
import { readReg, writeReg, getE, setE, push, pop, TWO32 } from './operands.js';

// ---------------------------------------------------------------- CPUID: a fixed, documented feature set

/** Feature bits that other units (x87/SSE) add when they are attached: leaf 1 EDX/ECX. */
export const cpuidExtra = { edx1: 0, ecx1: 0 };

const VENDOR = 'x86ftVirtCPU';
const BRAND = 'x86ft deterministic x86-64 CPU\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0';

function str4(s: string, o: number): number {
  return (s.charCodeAt(o) | (s.charCodeAt(o + 1) << 8) | (s.charCodeAt(o + 2) << 16) | (s.charCodeAt(o + 3) << 24)) | 0;
}

/** CPUID leaf/subleaf → [eax, ebx, ecx, edx]. Everything reported is implemented. */
export function cpuidLeaf(leaf: number, _sub: number): [number, number, number, number] {
  switch (leaf >>> 0) {
    case 0: return [7, str4(VENDOR, 0), str4(VENDOR, 8), str4(VENDOR, 4)];
    case 1: {
      // family 6, model 0x0F, stepping 1; CLFLUSH line 64 bytes (8 qwords), 1 logical CPU
      const edx = (1 << 4) /* TSC */ | (1 << 5) /* MSR */ | (1 << 6) /* PAE */ | (1 << 8) /* CX8 */ |
        (1 << 15) /* CMOV */ | (1 << 19) /* CLFSH */ | cpuidExtra.edx1;
      const ecx = (1 << 13) /* CMPXCHG16B */ | (1 << 30) /* RDRAND */ | cpuidExtra.ecx1;
      return [0x000006f1, (8 << 8) | (1 << 16), ecx, edx];
    }
    case 7: return [0, 1 << 18 /* RDSEED */, 0, 0];
    case 0x80000000: return [0x80000008 | 0, 0, 0, 0];
    case 0x80000001: return [0, 0, 1 /* LAHF/SAHF in 64-bit mode */, (1 << 11) /* SYSCALL */ | (1 << 20) /* NX */ | (1 << 27) /* RDTSCP */ | (1 << 29) /* LM */];
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const o = ((leaf >>> 0) - 0x80000002) * 16;
      return [str4(BRAND, o), str4(BRAND, o + 4), str4(BRAND, o + 8), str4(BRAND, o + 12)];
    }
    case 0x80000008: return [0x3028, 0, 0, 0]; // 40-bit physical, 48-bit linear addresses
    default: return [0, 0, 0, 0];
  }
}

function cpuid(c: Cpu, _i: Insn): void {
  const r = c.regs;
  const v = cpuidLeaf(r[0], r[2]);
  r[0] = v[0]; r[1] = 0; r[6] = v[1]; r[7] = 0; r[2] = v[2]; r[3] = 0; r[4] = v[3]; r[5] = 0;
}

function rdtsc(c: Cpu, _i: Insn): void {
  if ((c.cr4 & 4) && c.cpl !== 0) c.raise(13, 0);
  c.host.rdtsc(c);
  const r = c.regs;
  r[0] = c.tmpLo; r[1] = 0; r[4] = c.tmpHi; r[5] = 0;
}

function rdtscp(c: Cpu): void {
  rdtsc(c, null as unknown as Insn);
  c.regs[2] = c.tscAux; c.regs[3] = 0;
}

function rdrand(c: Cpu, i: Insn): void {
  if (i.rm < 0) c.raise(6);
  c.host.rdrand(c);
  writeReg(c, i.rm, 0, i.osz === 1 ? 4 : i.osz, i.osz === 2 ? c.tmpLo & 0xffff : c.tmpLo, c.tmpHi);
  materialize(c);
  c.flags = (c.flags & ~F.ARITH) | F.CF;
}

// ---------------------------------------------------------------- MSRs

function needCpl0(c: Cpu): void { if (c.cpl !== 0) c.raise(13, 0); }

function canon(x: number): boolean { return x < 140737488355328 && x >= -140737488355328; }

function rdmsr(c: Cpu, _i: Insn): void {
  needCpl0(c);
  const r = c.regs;
  const msr = r[2] >>> 0;
  let lo = 0, hi = 0;
  const fromNum = (x: number) => { lo = x >>> 0; hi = Math.floor(x / TWO32) | 0; };
  switch (msr) {
    case 0x10: c.host.rdtsc(c); lo = c.tmpLo; hi = c.tmpHi; break;
    case 0x1b: lo = c.apicBase; break;
    case 0x277: lo = 0x00070406; hi = 0x00070406; break;
    case 0xc0000080: lo = c.efer; break;
    case 0xc0000081: fromNum(c.star); break;
    case 0xc0000082: fromNum(c.lstar); break;
    case 0xc0000083: fromNum(c.cstar); break;
    case 0xc0000084: lo = c.sfmask; break;
    case 0xc0000100: fromNum(c.fsBase); break;
    case 0xc0000101: fromNum(c.gsBase); break;
    case 0xc0000102: fromNum(c.kernelGsBase); break;
    case 0xc0000103: lo = c.tscAux; break;
    default: c.raise(13, 0);
  }
  r[0] = lo | 0; r[1] = 0; r[4] = hi | 0; r[5] = 0;
}

function wrmsr(c: Cpu, _i: Insn): void {
  needCpl0(c);
  const r = c.regs;
  const msr = r[2] >>> 0;
  const lo = r[0] >>> 0, hi = r[4] | 0;
  const num = hi * TWO32 + lo;
  switch (msr) {
    case 0x1b: c.apicBase = lo; break;
    case 0x277: break;
    case 0xc0000080: {
      // LMA is read-only; NXE, SCE, LME writable (LME cannot change while paging is on)
      const lme = c.efer & 0x100;
      if ((lo & ~0xd01) !== 0 || hi !== 0) c.raise(13, 0);
      if ((c.cr0 & 0x80000000) && (lo & 0x100) !== lme) c.raise(13, 0);
      c.efer = (lo & 0xd01) | (c.efer & 0x400);
      c.flushTlb();
      break;
    }
    case 0xc0000081: c.star = num; break;
    case 0xc0000082: if (!canon(num)) c.raise(13, 0); c.lstar = num; break;
    case 0xc0000083: if (!canon(num)) c.raise(13, 0); c.cstar = num; break;
    case 0xc0000084: c.sfmask = lo; break;
    case 0xc0000100: if (!canon(num)) c.raise(13, 0); c.fsBase = num; break;
    case 0xc0000101: if (!canon(num)) c.raise(13, 0); c.gsBase = num; break;
    case 0xc0000102: if (!canon(num)) c.raise(13, 0); c.kernelGsBase = num; break;
    case 0xc0000103: c.tscAux = lo; break;
    default: c.raise(13, 0);
  }
  c.brk = true;
}

// ---------------------------------------------------------------- control registers

function movFromCr(c: Cpu, i: Insn): void {
  needCpl0(c);
  const rm = i.modrm & 7 | ((i.rex & 1) << 3);
  let v: number;
  switch (i.reg) {
    case 0: v = c.cr0; break;
    case 2: v = c.cr2; break;
    case 3: v = c.cr3; break;
    case 4: v = c.cr4; break;
    case 8: v = c.cr8; break;
    default: c.raise(6);
  }
  writeReg(c, rm, 0, 8, v >>> 0 | 0, Math.floor(v / TWO32) | 0);
}

function movToCr(c: Cpu, i: Insn): void {
  needCpl0(c);
  const rm = i.modrm & 7 | ((i.rex & 1) << 3);
  const lo = c.regs[rm << 1] >>> 0, hi = c.regs[(rm << 1) + 1];
  switch (i.reg) {
    case 0: {
      if (hi !== 0) c.raise(13, 0);
      if ((lo & 0x80000000) && !(lo & 1)) c.raise(13, 0); // PG without PE
      if (!(lo & 0x80000000) && (c.cr0 & 0x80000000) && (c.efer & 0x400)) c.raise(13, 0); // leaving long mode is not supported
      c.cr0 = (lo | 0x10) >>> 0;
      if ((c.cr0 & 0x80000000) && (c.efer & 0x100)) c.efer |= 0x400; else c.efer &= ~0x400;
      c.flushTlb();
      break;
    }
    case 2: c.cr2 = hi * TWO32 + lo; break;
    case 3: c.cr3 = (hi & 0xfffff) * TWO32 + (lo & 0xfffff000); c.flushTlb(); break;
    case 4: {
      // implemented bits: VME..PGE, PCE, OSFXSR, OSXMMEXCPT, FSGSBASE excluded
      if (hi !== 0 || (lo & ~0x7ff)) c.raise(13, 0);
      if ((c.efer & 0x400) && !(lo & 0x20)) c.raise(13, 0); // PAE must stay on in long mode
      c.cr4 = lo; c.flushTlb();
      break;
    }
    case 8: c.cr8 = lo & 15; break;
    default: c.raise(6);
  }
  c.brk = true;
}

/** DRn the instruction names: DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); SDM Vol. 3 §18.2.2. */
function drIndex(c: Cpu, i: Insn): number {
  const n = i.reg & 7;
  if (n === 4 || n === 5) { if (c.cr4 & 8) c.raise(6); return n + 2; }
  return n;
}
function movFromDr(c: Cpu, i: Insn): void {
  needCpl0(c);
  const rm = i.modrm & 7 | ((i.rex & 1) << 3);
  const v = c.dr[drIndex(c, i)]!;
  writeReg(c, rm, 0, 8, v >>> 0, Math.floor(v / TWO32) | 0);
}
function movToDr(c: Cpu, i: Insn): void {
  needCpl0(c);
  const n = drIndex(c, i);
  const rm = i.modrm & 7 | ((i.rex & 1) << 3);
  const lo = c.regs[rm << 1]! >>> 0, hi = c.regs[(rm << 1) + 1]!;
  if (n >= 6) {
    if (hi !== 0) c.raise(13, 0); // bits 63:32 of DR6/DR7 are reserved (must be 0)
    // DR6: bits 4-11 and 16-31 read as 1, bit 12 as 0; DR7: bit 10 reads as 1, bits 11, 12, 14, 15 as 0
    c.dr[n] = n === 6 ? ((lo & 0xe00f) | 0xffff0ff0) >>> 0 : ((lo & 0xffff23ff) | 0x400) >>> 0;
  } else c.dr[n] = lo + hi * TWO32;
  c.syncMemHooks(); // data breakpoints watch accesses through the slow path
  c.brk = true; // the run loop decides per block whether breakpoints are armed
}

// ---------------------------------------------------------------- descriptor tables (0F 01, 0F 00)

function grp7(c: Cpu, i: Insn): void {
  if (i.rm >= 0) { grp7reg(c, i); return; }
  const la = i.ea(c, i);
  switch (i.sub) {
    case 0: case 1: { // SGDT / SIDT
      const base = i.sub === 0 ? c.gdtBase : c.idtBase, lim = i.sub === 0 ? c.gdtLimit : c.idtLimit;
      c.write16(la, lim);
      c.write64(la + 2, base >>> 0, Math.floor(base / TWO32) | 0);
      return;
    }
    case 2: case 3: { // LGDT / LIDT
      needCpl0(c);
      const lim = c.read16(la);
      const lo = c.read64(la + 2), hi = c.hi;
      const base = hi * TWO32 + (lo >>> 0);
      if (i.sub === 2) { c.gdtBase = base; c.gdtLimit = lim; } else { c.idtBase = base; c.idtLimit = lim; }
      return;
    }
    case 4: c.write16(la, c.cr0 & 0xffff); return; // SMSW m16
    case 6: { needCpl0(c); const v = c.read16(la); c.cr0 = ((c.cr0 & ~0xe) | (v & 0xf)) >>> 0; return; } // LMSW
    case 7: needCpl0(c); c.invlpg(la); c.brk = true; return; // INVLPG
    default: c.raise(6);
  }
}

function grp7reg(c: Cpu, i: Insn): void {
  switch (i.modrm) {
    case 0xf8: { // SWAPGS
      needCpl0(c);
      const t = c.gsBase; c.gsBase = c.kernelGsBase; c.kernelGsBase = t; return;
    }
    case 0xf9: rdtscp(c); return;
    default:
      if (i.sub === 4) { setE(c, i, c.cr0 & 0xffff, 0); return; } // SMSW r
      if (i.sub === 6) { needCpl0(c); const v = c.regs16[i.rm << 2]; c.cr0 = ((c.cr0 & ~0xe) | (v & 0xf)) >>> 0; return; }
      c.raise(6);
  }
}

function grp6(c: Cpu, i: Insn): void {
  switch (i.sub) {
    case 0: setE(c, i, c.ldtr, 0); return; // SLDT
    case 1: setE(c, i, c.tr, 0); return; // STR
    case 2: { needCpl0(c); const osz = i.osz; i.osz = 2; c.ldtr = getE(c, i) & 0xffff; i.osz = osz; return; } // LLDT
    case 3: { // LTR: load the 16-byte long-mode TSS descriptor and mark it busy
      needCpl0(c);
      const osz = i.osz; i.osz = 2; const s = getE(c, i) & 0xffff; i.osz = osz;
      const idx = s & ~7;
      if (idx === 0 || idx + 15 > c.gdtLimit) c.raise(13, s & ~3);
      const da = c.gdtBase + idx;
      const w0 = c.read32(da), w1 = c.read32(da + 4), w2 = c.read32(da + 8);
      const type = (w1 >> 8) & 0xf;
      if (type !== 9) c.raise(13, s & ~3);
      if (!(w1 & 0x8000)) c.raise(11, s & ~3);
      c.tssBase = w2 * TWO32 + ((((w1 >>> 24) << 24) | ((w1 & 0xff) << 16) | (w0 >>> 16)) >>> 0);
      c.tssLimit = ((w1 & 0xf0000) | (w0 & 0xffff)) >>> 0;
      c.write32(da + 4, w1 | 0x200);
      c.tr = s;
      return;
    }
    default: c.raise(6);
  }
}

// ---------------------------------------------------------------- segment registers

function segBase(c: Cpu, s: number): number {
  const idx = s & ~7;
  if (idx === 0 || (s & 4)) return 0;
  if (idx + 7 > c.gdtLimit) c.raise(13, s & ~3);
  const w0 = c.sysRead32(c.gdtBase + idx), w1 = c.sysRead32(c.gdtBase + idx + 4);
  return (((w1 >>> 24) << 24) | ((w1 & 0xff) << 16) | (w0 >>> 16)) >>> 0;
}

function movSregE(c: Cpu, i: Insn): void {
  const osz = i.osz; i.osz = 2; const s = getE(c, i) & 0xffff; i.osz = osz;
  const n = i.sub;
  if (n === 1 || n > 5) c.raise(6); // CS cannot be loaded with MOV
  if (n === 2 && (s & ~3) === 0 && c.cpl !== 3) { c.sel[2] = s; c.intShadow = true; c.movSsShadow = true; c.brk = true; return; }
  const base = segBase(c, s);
  c.sel[n] = s;
  if (n === 4) c.fsBase = base; else if (n === 5) c.gsBase = base;
  if (n === 2) { c.intShadow = true; c.movSsShadow = true; c.brk = true; }
}
function movESreg(c: Cpu, i: Insn): void {
  if (i.sub > 5) c.raise(6);
  const v = c.sel[i.sub];
  if (i.rm >= 0) writeReg(c, i.rm, 0, i.osz === 8 ? 8 : i.osz === 2 ? 2 : 4, v, 0);
  else c.write16(i.ea(c, i), v);
}
function pushFs(c: Cpu, i: Insn): void { push(c, i.osz, c.sel[4], 0); }
function pushGs(c: Cpu, i: Insn): void { push(c, i.osz, c.sel[5], 0); }
function popFs(c: Cpu, i: Insn): void { const v = pop(c, i.osz) & 0xffff; c.fsBase = segBase(c, v); c.sel[4] = v; }
function popGs(c: Cpu, i: Insn): void { const v = pop(c, i.osz) & 0xffff; c.gsBase = segBase(c, v); c.sel[5] = v; }

// ---------------------------------------------------------------- SYSCALL / SYSRET (SDM Vol. 2B)

function syscall(c: Cpu, _i: Insn): void {
  if (!(c.efer & 1)) c.raise(6);
  if (c.hooks !== null) c.hooks.syscall(c, c.insnRip);
  const r = c.regs;
  const rip = c.rip;
  r[2] = rip >>> 0 | 0; r[3] = Math.floor(rip / TWO32) | 0;
  r[22] = c.getRflags() & ~0x10000; r[23] = 0;
  const starHi = Math.floor(c.star / TWO32);
  c.sel[1] = starHi & 0xfffc; c.sel[2] = ((starHi & 0xfffc) + 8) & 0xffff;
  materialize(c);
  c.flags = (c.flags & ~c.sfmask & ~F.RF) | 2;
  c.setCpl(0);
  c.rip = c.lstar;
  c.brk = true;
}

function sysret(c: Cpu, i: Insn): void {
  if (!(c.efer & 1)) c.raise(6);
  needCpl0(c);
  const r = c.regs;
  const target = r[3] * TWO32 + (r[2] >>> 0);
  if (i.osz === 8 && !canon(target)) c.raise(13, 0);
  const starHi = Math.floor(c.star / TWO32) >>> 16;
  c.sel[1] = (i.osz === 8 ? starHi + 16 : starHi) | 3;
  c.sel[2] = (starHi + 8) | 3;
  c.setRflags((r[22] & 0x3c7fd7) | 2);
  c.setCpl(3);
  c.rip = i.osz === 8 ? target : r[2] >>> 0;
  c.brk = true;
}

// ---------------------------------------------------------------- port I/O (IOPL check; the TSS I/O bitmap is not consulted)

function ioCheck(c: Cpu): void {
  if (c.cpl > ((c.flags >> 12) & 3)) c.raise(13, 0);
}
function ioSize(i: Insn): 1 | 2 | 4 { return i.osz === 1 ? 1 : i.osz === 2 ? 2 : 4; }

function inImm(c: Cpu, i: Insn): void {
  ioCheck(c);
  const sz = ioSize(i);
  writeReg(c, 0, 0, sz, c.portIn(i.imm & 0xff, sz), 0);
  c.brk = true;
}
function inDx(c: Cpu, i: Insn): void {
  ioCheck(c);
  const sz = ioSize(i);
  writeReg(c, 0, 0, sz, c.portIn(c.regs16[8], sz), 0);
  c.brk = true;
}
function outImm(c: Cpu, i: Insn): void {
  ioCheck(c);
  const sz = ioSize(i);
  c.portOut(i.imm & 0xff, sz, readReg(c, 0, 0, sz));
  c.brk = true;
}
function outDx(c: Cpu, i: Insn): void {
  ioCheck(c);
  const sz = ioSize(i);
  c.portOut(c.regs16[8], sz, readReg(c, 0, 0, sz));
  c.brk = true;
}

// ---------------------------------------------------------------- CMPXCHG8B / CMPXCHG16B (0F C7 /1)

function cmpxchg8b16b(c: Cpu, i: Insn): void {
  if (i.rm >= 0) c.raise(6);
  const r = c.regs;
  const la = i.ea(c, i);
  if (i.osz === 8) {
    if (la % 16 !== 0) c.raise(13, 0);
    c.probeWrite(la, 16); // the locked cycle always writes: a read-only destination faults before any change
    const m0 = c.read64(la), m0h = c.hi;
    const m1 = c.read64(la + 8), m1h = c.hi;
    const eq = m0 === r[0] && m0h === r[1] && m1 === r[4] && m1h === r[5];
    materialize(c);
    if (eq) {
      c.write64(la, r[6], r[7]); c.write64(la + 8, r[2], r[3]);
      c.flags |= F.ZF;
    } else {
      c.write64(la, m0, m0h); c.write64(la + 8, m1, m1h); // the locked cycle always writes
      r[0] = m0; r[1] = m0h; r[4] = m1; r[5] = m1h;
      c.flags &= ~F.ZF;
    }
  } else {
    c.probeWrite(la, 8);
    const m0 = c.read32(la), m1 = c.read32(la + 4);
    const eq = m0 === r[0] && m1 === r[4];
    materialize(c);
    if (eq) { c.write32(la, r[6]); c.write32(la + 4, r[2]); c.flags |= F.ZF; }
    else {
      c.write32(la, m0); c.write32(la + 4, m1);
      r[0] = m0; r[1] = 0; r[4] = m1; r[5] = 0;
      c.flags &= ~F.ZF;
    }
  }
}

function grp9(c: Cpu, i: Insn): void {
  switch (i.sub) {
    case 1: cmpxchg8b16b(c, i); return;
    case 6: rdrand(c, i); return; // RDRAND
    case 7: if (i.rm >= 0) { rdrand(c, i); return; } c.raise(6); return; // RDSEED (same source)
    default: c.raise(6);
  }
}

// 0F AE: fences and CLFLUSH here; FXSAVE/FXRSTOR/LDMXCSR/STMXCSR belong to the SSE unit (fpuGroup15).
export const grp15Hooks: { fp: ((c: Cpu, i: Insn) => void) | null } = { fp: null };
function grp15(c: Cpu, i: Insn): void {
  if (i.rm >= 0) {
    if (i.sub >= 5) return; // LFENCE, MFENCE, SFENCE
    c.raise(6);
  }
  if (i.sub === 7) { c.read8(i.ea(c, i)); return; } // CLFLUSH: a fault on a bad address, else nothing
  if (grp15Hooks.fp !== null) { grp15Hooks.fp(c, i); return; }
  c.raise(6);
}

function nopSys(c: Cpu, _i: Insn): void { needCpl0(c); }
function clts(c: Cpu): void { needCpl0(c); c.cr0 &= ~8; }

export function installSystem(): void {
  def(1, 0xa2, D.END, cpuid);
  def(1, 0x31, 0, rdtsc);
  def(1, 0x32, D.END, rdmsr);
  def(1, 0x30, D.END, wrmsr);
  def(1, 0x20, D.M | D.END, movFromCr);
  def(1, 0x22, D.M | D.END, movToCr);
  def(1, 0x21, D.M, movFromDr);
  def(1, 0x23, D.M | D.END, movToDr);
  def(1, 0x01, D.M | D.END, grp7);
  def(1, 0x00, D.M | D.END, grp6);
  def(1, 0x05, D.END, syscall);
  def(1, 0x07, D.END, sysret);
  def(1, 0x06, 0, clts);
  def(1, 0x08, 0, nopSys); // INVD
  def(1, 0x09, 0, nopSys); // WBINVD
  def(1, 0xc7, D.M, grp9);
  def(1, 0xae, D.M, grp15);
  def(1, 0xa0, D.D64, pushFs);
  def(1, 0xa1, D.D64 | D.END, popFs);
  def(1, 0xa8, D.D64, pushGs);
  def(1, 0xa9, D.D64 | D.END, popGs);
  def(0, 0x8c, D.M, movESreg);
  def(0, 0x8e, D.M | D.END, movSregE);
  def(0, 0xe4, D.B | D.I8 | D.END, inImm);
  def(0, 0xe5, D.I8 | D.END, inImm);
  def(0, 0xec, D.B | D.END, inDx);
  def(0, 0xed, D.END, inDx);
  def(0, 0xe6, D.B | D.I8 | D.END, outImm);
  def(0, 0xe7, D.I8 | D.END, outImm);
  def(0, 0xee, D.B | D.END, outDx);
  def(0, 0xef, D.END, outDx);
}
