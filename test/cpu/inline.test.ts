// The block compiler's inline forms (src/cpu/compile.ts) against the interpreter, on real gcc-built guests:
// one machine only interprets, the other compiles every block at its first execution with the common
// forms inline (self-loops included) — or, for regions (several blocks in one function), at its second. Both run the same guest in the same slices of instructions on the
// CPU alone (RDTSC from the exact instruction count, so both see the same values); after every slice the
// registers, RIP, RFLAGS, the count and the stop reason must be equal, and at the end the console output
// and all of RAM. (The host-CPU oracle for the same forms on random sequences is test/difftest/compiled.test.ts.)
// The JS tier's: its machines are made with the wasm tier off (the wasm tier's own lockstep is wasm.test.ts).
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import type { Cpu, CpuHost } from '../../src/cpu/cpu.js';
import { jsTier } from '../helpers/tier.js';

const build = new URL('../../guests/build/', import.meta.url).pathname;
/** Guests with -O0 (memory operands everywhere) and -O2 code, faults (except), FP, call-heavy and SSE vector code. */
const GUESTS = ['arith-O0', 'except-O2', 'recursion-O2', 'coremark-O2', 'fp_vector-O2'];
const SLICE = 100_000, MAX = 1_000_000;

const exactHost: CpuHost = {
  rdtsc(c) { const t = c.currentIcount() * 4; c.tmpLo = t >>> 0; c.tmpHi = Math.floor(t / 4294967296) | 0; },
  rdrand(c) { const x = (c.currentIcount() * 2654435761) >>> 0; c.tmpLo = x; c.tmpHi = (x * 31) >>> 0; },
};

/** compiled: 0 interprets; 1 compiles every block at its first execution (one block per function); 2 at its
 *  second, when the blocks it branches to are decoded, so hot code becomes regions of several blocks. */
function boot(image: Uint8Array, cmdline: string, compiled: number, out: number[], locals = false): Machine {
  const m = jsTier(() => Machine.fromElf(image, { cmdline, memSize: 16 << 20, consoleOut: (b) => out.push(b) }));
  expect(m.cpu.wasm).toBeNull();
  m.cpu.host = exactHost;
  m.cpu.hotBlock = compiled === 0 ? Infinity : compiled;
  m.cpu.regionBlocks = compiled === 2 ? 16 : 1;
  m.cpu.regionLocals = locals;
  m.cpu.inlineSemantics = true;
  return m;
}

function state(c: Cpu): string {
  return `rip ${c.rip.toString(16)} rflags ${c.getRflags().toString(16)} icount ${c.icount} regs ${Array.from(c.regs).join(',')} xmm ${Array.from(c.xmm).join(',')} mxcsr ${c.mxcsr}`;
}

/** Run `name` interpreted and compiled (mode 1 or 2) in lockstep slices of `slice` instructions. */
async function lockstep(name: string, mode: number, slice: number, max: number, locals = false): Promise<void> {
  const image = readFileSync(`${build}${name}.elf`);
  const outI: number[] = [], outC: number[] = [];
  const cmdline = name.startsWith('coremark') ? '0x0 0x0 0x66 1' : '';
  const mi = boot(image, cmdline, 0, outI), mc = boot(image, cmdline, mode, outC, locals);
  for (let done = 0; done < max;) {
    const si = mi.cpu.run(slice), sc = mc.cpu.run(slice);
    expect(state(mc.cpu), `after ${done} + ${slice} instructions`).toBe(state(mi.cpu));
    expect(sc).toBe(si);
    done += slice;
    if (mi.cpu.stopRequested || mi.cpu.halted) break;
    await new Promise((r) => setImmediate(r)); // keep the worker answering vitest
  }
  const fns = [...mc.cpu.blocks.values()].filter((b) => b.fn !== null);
  expect(fns.length).toBeGreaterThan(10);
  if (mode === 2) expect(fns.filter((b) => b.fn!.name.startsWith('region_')).length).toBeGreaterThan(2);
  expect(Buffer.from(outC).toString('latin1')).toBe(Buffer.from(outI).toString('latin1'));
  expect(Buffer.compare(mc.mem.u8, mi.mem.u8)).toBe(0);
}

describe('inline block compiler = interpreter on the guests', () => {
  for (const name of GUESTS) {
    it.skipIf(name.startsWith('coremark') && !existsSync(`${build}${name}.elf`))(name, () => lockstep(name, 1, SLICE, MAX), 60_000);
  }
});

// Regions: the slices (a prime number of instructions) end runs at budgets inside regions; guest registers
// in JS locals (regionLocals) on two guests, in cpu.regs on the third.
describe('compiled regions = interpreter on the guests', () => {
  for (const [name, locals] of [['arith-O0', true], ['except-O2', false], ['coremark-O2', true]] as const) {
    it.skipIf(name.startsWith('coremark') && !existsSync(`${build}${name}.elf`))(`${name}${locals ? ', registers in locals' : ''}`, () => lockstep(name, 2, 9_973, 400_000, locals), 60_000);
  }
});
