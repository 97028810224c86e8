// The block compiler's inline forms (src/cpu/compile.ts) against the interpreter, on real gcc-built guests:
// one machine only interprets, the other compiles every block at its first execution with the common
// forms inline (self-loops included). Both run the same guest in the same slices of instructions on the
// CPU alone (RDTSC from the exact instruction count, so both see the same values); after every slice the
// registers, RIP, RFLAGS, the count and the stop reason must be equal, and at the end the console output
// and all of RAM. (The host-CPU oracle for the same forms on random sequences is test/difftest/compiled.test.ts.)
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import type { Cpu, CpuHost } from '../../src/cpu/cpu.js';

const build = new URL('../../guests/build/', import.meta.url).pathname;
/** Guests with -O0 (memory operands everywhere) and -O2 code, faults (except), FP and call-heavy code. */
const GUESTS = ['arith-O0', 'except-O2', 'recursion-O2', 'coremark-O2'];
const SLICE = 100_000, MAX = 1_000_000;

const exactHost: CpuHost = {
  rdtsc(c) { const t = c.currentIcount() * 4; c.tmpLo = t >>> 0; c.tmpHi = Math.floor(t / 4294967296) | 0; },
  rdrand(c) { const x = (c.currentIcount() * 2654435761) >>> 0; c.tmpLo = x; c.tmpHi = (x * 31) >>> 0; },
};

function boot(image: Uint8Array, cmdline: string, compiled: boolean, out: number[]): Machine {
  const m = Machine.fromElf(image, { cmdline, memSize: 16 << 20, consoleOut: (b) => out.push(b) });
  m.cpu.host = exactHost;
  m.cpu.hotBlock = compiled ? 1 : Infinity;
  m.cpu.inlineSemantics = true;
  return m;
}

function state(c: Cpu): string {
  return `rip ${c.rip.toString(16)} rflags ${c.getRflags().toString(16)} icount ${c.icount} regs ${Array.from(c.regs).join(',')}`;
}

describe('inline block compiler = interpreter on the guests', () => {
  for (const name of GUESTS) {
    const path = `${build}${name}.elf`;
    it.skipIf(name.startsWith('coremark') && !existsSync(path))(name, async () => {
      const image = readFileSync(path);
      const outI: number[] = [], outC: number[] = [];
      const cmdline = name.startsWith('coremark') ? '0x0 0x0 0x66 1' : '';
      const mi = boot(image, cmdline, false, outI), mc = boot(image, cmdline, true, outC);
      let compiledBlocks = 0;
      for (let done = 0; done < MAX;) {
        const si = mi.cpu.run(SLICE), sc = mc.cpu.run(SLICE);
        expect(state(mc.cpu), `after ${done} + ${SLICE} instructions`).toBe(state(mi.cpu));
        expect(sc).toBe(si);
        done += SLICE;
        if (mi.cpu.stopRequested || mi.cpu.halted) break;
        await new Promise((r) => setImmediate(r)); // keep the worker answering vitest
      }
      for (const b of mc.cpu.blocks.values()) if (b.fn !== null) compiledBlocks++;
      expect(compiledBlocks).toBeGreaterThan(10);
      expect(Buffer.from(outC).toString('latin1')).toBe(Buffer.from(outI).toString('latin1'));
      expect(Buffer.compare(mc.mem.u8, mi.mem.u8)).toBe(0);
    }, 60_000);
  }
});
