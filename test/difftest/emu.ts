// Difference test: runs an assembled case in the x86ft CPU at the same addresses the native runner uses
// (identity-mapped long mode, code at CODE followed by HLT, scratch at DATA) and captures the same state.

import { PhysMemory } from '../../src/cpu/memory.js';
import { Cpu } from '../../src/cpu/cpu.js';
import { Bus } from '../../src/machine/bus.js';
import { setupLongMode } from '../../src/machine/boot.js';
import type { Assembled } from './asm.js';
import { CODE, CODE_SIZE, DATA, DATA_SIZE, fillScratch } from './layout.js';
import type { State } from './native.js';

const MEM_SIZE = 8 << 20;
/** Instruction budget per case: far above what any case retires (12 slots, REP counts of at most 16). */
const BUDGET = 100_000;

let mem: PhysMemory | null = null;
const init = new Uint8Array(DATA_SIZE);

/** Run one case in the emulator. Never throws: emulator exceptions become status 'error'. */
export function runEmu(a: Assembled): State {
  const regs = new Uint32Array(32);
  const memDiff = new Map<number, number>();
  const st: State = { status: 'error', vector: -1, ripOff: -1, regs, rflags: 0, mem: memDiff };
  try {
    if (mem === null) mem = new PhysMemory(MEM_SIZE);
    const m = mem;
    fillScratch(a.c.fillSeed, init);
    m.u8.set(init, DATA);
    m.u8.fill(0xcc, CODE, CODE + CODE_SIZE);
    m.u8.set(a.code, CODE);
    m.u8[CODE + a.code.length] = 0xf4; // HLT ends the case
    const cpu = new Cpu(m, new Bus());
    setupLongMode(cpu, m);
    for (let n = 0; n < 16; n++) {
      const v = a.c.regs[n];
      cpu.regs[2 * n] = Number(v & 0xffffffffn) | 0;
      cpu.regs[2 * n + 1] = Number(v >> 32n) | 0;
    }
    cpu.rip = CODE;
    // IF=1 as in a native user process, so PUSHF pushes the same value (no interrupt controller is attached)
    cpu.setRflags(a.c.rflags | 0x200);
    const stop = cpu.run(BUDGET);
    for (let n = 0; n < 32; n++) regs[n] = cpu.regs[n] >>> 0;
    st.rflags = cpu.getRflags();
    if (stop === 1 /* Stop.HALT */) {
      st.status = 'end';
      st.ripOff = cpu.rip - CODE - 1;
      if (st.ripOff !== a.code.length) { st.status = 'error'; st.error = `halted at offset ${st.ripOff}, not at the end (${a.code.length})`; }
    } else if (stop === 3 /* Stop.FAULT */ && cpu.fault) {
      st.status = 'fault';
      st.vector = cpu.fault.vector;
      st.ripOff = cpu.fault.rip - CODE;
    } else {
      st.error = stop === 4 ? `internal error: ${cpu.internalError?.stack ?? cpu.internalError}` : `stopped with reason ${stop} after ${cpu.icount} instructions at RIP 0x${cpu.rip.toString(16)}`;
    }
    const u8 = m.u8;
    for (let i = 0; i < DATA_SIZE; i++) if (u8[DATA + i] !== init[i]) memDiff.set(i, u8[DATA + i]);
  } catch (e) {
    st.status = 'error';
    st.error = `threw: ${e instanceof Error ? e.stack : String(e)}`;
  }
  return st;
}
