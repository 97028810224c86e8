// CPU snapshot: every architectural field of Cpu as a named, versioned plain object (RAM is separate).
// Decoded blocks and TLBs are caches and are not saved; restoring flushes them.

import type { Cpu } from './cpu.js';

export interface CpuState {
  kind: 'cpu-x86_64';
  version: 1;
  regs: number[];
  rip: number;
  rflags: number;
  cr0: number; cr2: number; cr3: number; cr4: number; cr8: number; efer: number;
  cpl: number;
  sel: number[];
  fsBase: number; gsBase: number; kernelGsBase: number;
  gdtBase: number; gdtLimit: number; idtBase: number; idtLimit: number;
  ldtr: number; tr: number; tssBase: number; tssLimit: number;
  star: number; lstar: number; cstar: number; sfmask: number;
  apicBase: number; tscAux: number;
  xmm: number[]; mxcsr: number;
  x87: unknown;
  halted: boolean; intShadow: boolean;
  icount: number;
}

/** Optional hooks for the x87 unit's state (set by the unit when it attaches). */
export const x87StateHooks: { save: ((c: Cpu) => unknown) | null; load: ((c: Cpu, s: unknown) => void) | null } = { save: null, load: null };

export function saveCpu(c: Cpu): CpuState {
  return {
    kind: 'cpu-x86_64', version: 1,
    regs: Array.from(c.regs), rip: c.rip, rflags: c.getRflags(),
    cr0: c.cr0, cr2: c.cr2, cr3: c.cr3, cr4: c.cr4, cr8: c.cr8, efer: c.efer, cpl: c.cpl,
    sel: Array.from(c.sel), fsBase: c.fsBase, gsBase: c.gsBase, kernelGsBase: c.kernelGsBase,
    gdtBase: c.gdtBase, gdtLimit: c.gdtLimit, idtBase: c.idtBase, idtLimit: c.idtLimit,
    ldtr: c.ldtr, tr: c.tr, tssBase: c.tssBase, tssLimit: c.tssLimit,
    star: c.star, lstar: c.lstar, cstar: c.cstar, sfmask: c.sfmask, apicBase: c.apicBase, tscAux: c.tscAux,
    xmm: Array.from(c.xmm), mxcsr: c.mxcsr,
    x87: x87StateHooks.save ? x87StateHooks.save(c) : null,
    halted: c.halted, intShadow: c.intShadow, icount: c.icount,
  };
}

export function loadCpu(c: Cpu, s: CpuState): void {
  if (!s || s.kind !== 'cpu-x86_64' || s.version !== 1) throw new Error(`not a version-1 x86-64 CPU state (${(s as { kind?: string })?.kind})`);
  c.regs.set(s.regs); c.rip = s.rip; c.setRflags(s.rflags);
  c.cr0 = s.cr0; c.cr2 = s.cr2; c.cr3 = s.cr3; c.cr4 = s.cr4; c.cr8 = s.cr8; c.efer = s.efer; c.cpl = s.cpl;
  c.sel.set(s.sel); c.fsBase = s.fsBase; c.gsBase = s.gsBase; c.kernelGsBase = s.kernelGsBase;
  c.gdtBase = s.gdtBase; c.gdtLimit = s.gdtLimit; c.idtBase = s.idtBase; c.idtLimit = s.idtLimit;
  c.ldtr = s.ldtr; c.tr = s.tr; c.tssBase = s.tssBase; c.tssLimit = s.tssLimit;
  c.star = s.star; c.lstar = s.lstar; c.cstar = s.cstar; c.sfmask = s.sfmask; c.apicBase = s.apicBase; c.tscAux = s.tscAux;
  c.xmm.set(s.xmm); c.mxcsr = s.mxcsr;
  if (s.x87 !== null && x87StateHooks.load) x87StateHooks.load(c, s.x87);
  c.halted = s.halted; c.intShadow = s.intShadow; c.icount = s.icount;
  c.flushTlb();
  c.flushCode();
}
