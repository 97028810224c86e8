// Difference test: runs an assembled case in the x86ft CPU at the same addresses the native runner uses
// (identity-mapped long mode, code at CODE followed by HLT, scratch at DATA) and captures the same state.

import { PhysMemory } from '../../src/cpu/memory.js';
import { Cpu, type FaultReport } from '../../src/cpu/cpu.js';
import { Bus } from '../../src/machine/bus.js';
import { setupLongMode } from '../../src/machine/boot.js';
import { loadFx, saveFx } from '../helpers/fxstate.js';
export { loadFx, saveFx };
import type { Assembled } from './asm.js';
import { CODE, CODE_SIZE, DATA, DATA_SIZE, NP_PAGE, RO_PAGE, initScratch, roByte } from './layout.js';
import type { State } from './native.js';

const MEM_SIZE = 8 << 20;
/** A 4 KiB page table for 0x600000-0x7fffff (setupLongMode maps it with one 2 MiB page), so that RO_PAGE can be
 *  read-only and NP_PAGE not present, as the native runner maps them. */
const PT = 0x7f0000;
/** Instruction budget per case: far above what any case retires (12 slots, REP counts of at most 16). */
const BUDGET = 100_000;

let mem: PhysMemory | null = null;
let cpu: Cpu | null = null;
const init = new Uint8Array(DATA_SIZE);
const init32 = new Uint32Array(init.buffer);

/** Run one case in the emulator. Never throws: emulator exceptions become status 'error'. */
export function runEmu(a: Assembled): State {
  const regs = new Uint32Array(32);
  const memDiff = new Map<number, number>();
  const st: State = { status: 'error', vector: -1, ripOff: -1, regs, rflags: 0, fx: new Uint8Array(512), mem: memDiff };
  try {
    if (mem === null || cpu === null) {
      mem = new PhysMemory(MEM_SIZE);
      cpu = new Cpu(mem, new Bus());
    }
    const m = mem;
    initScratch(a.c.fillSeed, a.c.fillMode, init);
    m.u8.set(init, DATA);
    m.u8.fill(0xcc, CODE, CODE + CODE_SIZE);
    m.u8.set(a.code, CODE);
    m.u8[CODE + a.code.length] = 0xf4; // HLT ends the case
    // one CPU for all cases (constructing one per case dominated the run time): forget decoded code and
    // every piece of run state a previous case may have left, then re-enter the boot-contract state
    cpu.flushCode();
    setupLongMode(cpu, m);
    const dv = m.dv, pdpt = dv.getUint32(cpu.cr3, true) & ~0xfff, pdir = dv.getUint32(pdpt, true) & ~0xfff;
    for (let k = 0; k < 512; k++) {
      const a = 0x600000 + 0x1000 * k;
      dv.setUint32(PT + 8 * k, a === NP_PAGE ? 0 : a | (a === RO_PAGE ? 5 : 7), true); dv.setUint32(PT + 8 * k + 4, 0, true);
    }
    dv.setUint32(pdir + 3 * 8, PT | 7, true); dv.setUint32(pdir + 3 * 8 + 4, 0, true);
    for (let k = 0; k < 4096; k++) m.u8[RO_PAGE + k] = roByte(k);
    cpu.flushTlb();
    cpu.halted = false; cpu.intShadow = false; cpu.fault = null; cpu.internalError = null;
    cpu.pendVec = -1; cpu.pendErr = -1;
    for (let n = 0; n < 16; n++) {
      const v = a.c.regs[n];
      cpu.regs[2 * n] = Number(v & 0xffffffffn) | 0;
      cpu.regs[2 * n + 1] = Number(v >> 32n) | 0;
    }
    cpu.rip = CODE;
    // IF=1 as in a native user process, so PUSHF pushes the same value (no interrupt controller is attached)
    cpu.setRflags(a.c.rflags | 0x200);
    loadFx(cpu, a.c.fx);
    const stop = cpu.run(BUDGET);
    const fault = cpu.fault as FaultReport | null, ierr = cpu.internalError as Error | null;
    for (let n = 0; n < 32; n++) regs[n] = cpu.regs[n] >>> 0;
    st.rflags = cpu.getRflags();
    st.fx = saveFx(cpu);
    if (stop === 1 /* Stop.HALT */) {
      st.status = 'end';
      st.ripOff = cpu.rip - CODE - 1;
      if (st.ripOff !== a.code.length) { st.status = 'error'; st.error = `halted at offset ${st.ripOff}, not at the end (${a.code.length})`; }
    } else if (stop === 3 /* Stop.FAULT */ && fault) {
      st.status = 'fault';
      st.vector = fault.vector;
      st.ripOff = fault.rip - CODE;
    } else {
      st.error = stop === 4 ? `internal error: ${ierr?.stack ?? ierr}` : `stopped with reason ${stop} after ${cpu.icount} instructions at RIP 0x${cpu.rip.toString(16)}`;
    }
    const u8 = m.u8, now32 = new Uint32Array(m.buffer, DATA, DATA_SIZE >>> 2);
    for (let w = 0; w < DATA_SIZE >>> 2; w++) {
      if (now32[w] === init32[w]) continue;
      for (let i = 4 * w; i < 4 * w + 4; i++) if (u8[DATA + i] !== init[i]) memDiff.set(i, u8[DATA + i]);
    }
  } catch (e) {
    st.status = 'error';
    st.error = `threw: ${e instanceof Error ? e.stack : String(e)}`;
  }
  return st;
}


