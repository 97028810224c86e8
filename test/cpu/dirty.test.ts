// The CPU's dirty-page set (Cpu.dirty, what digests and pre-copy take) keeps the write TLB across a take:
// every write-TLB hit marks its page. The set must be exactly the one the former scheme gave — the write
// TLB dropped at every take, so each page written next was marked by its refill in translate() — or
// replays of older logs would not verify. Two machines run the same gcc-built guest in lockstep, one of
// them dropping its write TLB after each take as before; at every take both sets, and at the end RAM,
// must be equal. Compiled (inline store fast paths, RMW and SSE stores) and interpreted (handlers). And a
// loop whose every store kind writes a page of its own: each page is in the set of every pass. Before
// anything takes the set, compiled stores do not mark (`run`): the first take drops the write TLB and
// the compiled functions, as the lockstep's first take does. Keeping the write TLB is the JS tier's (forced
// with the wasm tier off); the WebAssembly tier's stores do not mark, so with it every take drops the write
// TLB (the former scheme): its sets must be the JS tier's of the former scheme too, and its entries are not kept.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import { PhysMemory, takeSetBytes } from '../../src/cpu/memory.js';
import { Reg } from '../../src/index.js';
import type { CpuHost } from '../../src/cpu/cpu.js';
import { assemble } from './asm.js';
import { jsTier } from '../helpers/tier.js';

type Tier = 'js' | 'wasm';
const TIERS: readonly Tier[] = ['js', 'wasm'];
/** make(), with the wasm tier off when tier is 'js' (and checked to be on or off as asked). */
function inTier(tier: Tier, make: () => Machine): Machine {
  const m = tier === 'js' ? jsTier(make) : make();
  expect(m.cpu.wasm === null).toBe(tier === 'js');
  return m;
}

const build = new URL('../../guests/build/', import.meta.url).pathname;
const exactHost: CpuHost = {
  rdtsc(c) { const t = c.currentIcount() * 4; c.tmpLo = t >>> 0; c.tmpHi = Math.floor(t / 4294967296) | 0; },
  rdrand(c) { const x = (c.currentIcount() * 2654435761) >>> 0; c.tmpLo = x; c.tmpHi = (x * 31) >>> 0; },
};

function boot(tier: Tier, name: string, hot: number): Machine {
  const m = inTier(tier, () => Machine.fromElf(readFileSync(`${build}${name}.elf`), { memSize: 16 << 20, consoleOut: () => {} }));
  m.cpu.host = exactHost;
  m.cpu.hotBlock = hot;
  return m;
}

describe('dirty pages without dropping the write TLB', () => {
  for (const tier of TIERS) for (const [name, hot] of [['arith-O0', 1], ['fp_vector-O2', 1], ['mixed-O2', Infinity]] as const) {
    it(`${name}, ${hot === 1 ? 'every block compiled' : 'interpreted'}, ${tier} tier: the set at every take is the former scheme's`, () => {
      const now = boot(tier, name, hot), before = boot('js', name, hot); // (the former scheme: the JS tier's, its write TLB dropped)
      let takes = 0, marked = 0, kept = 0;
      for (let k = 0; k < 20; k++) {
        const a = now.run(now.cpu.icount + 5_000), b = before.run(before.cpu.icount + 5_000);
        expect(a.end).toBe(b.end);
        const da = now.cpu.takeDirtyPages(), db = before.cpu.takeDirtyPages();
        before.cpu.tlbWTag.fill(-1); // the former scheme
        expect(da, `take ${k} at icount ${now.cpu.icount}`).toEqual(db);
        takes++; marked += da.length;
        kept += now.cpu.tlbWTag.filter((t) => t !== -1).length;
        if (a.end !== 'budget') break;
      }
      expect(takes).toBeGreaterThan(1);
      expect(marked, 'pages were written').toBeGreaterThan(takes);
      if (tier === 'js') expect(kept, 'write-TLB entries survived the takes').toBeGreaterThan(0);
      else expect(kept, 'the wasm tier drops the write TLB at every take').toBe(0);
      if (tier === 'wasm' && hot === 1) expect(now.cpu.wasm!.stats.calls, 'blocks ran in wasm').toBeGreaterThan(0);
      expect(Buffer.compare(now.mem.u8, before.mem.u8)).toBe(0);
    });
  }

  // Each instruction kind alone writes its own page (ISA: these forms store to their memory operand), so
  // after the loop's first pass (write-TLB entries filled) each page must be in the set of every later pass.
  const [loop] = assemble(['mov $0x300000, %rbx; 1: addl $1, (%rbx); movl %eax, 4096(%rbx); movq %rax, 8192(%rbx); movdqu %xmm0, 12288(%rbx); incl 16384(%rbx); movb %al, 20481(%rbx); jmp 1b']);
  for (const tier of TIERS) for (const hot of [1, Infinity]) {
    it(`RMW, 32/64-bit, SSE, INC and byte stores ${tier === 'js' ? 'on live write-TLB entries ' : ''}are marked (${hot === 1 ? 'compiled' : 'interpreted'}, ${tier} tier)`, () => {
      const m = inTier(tier, () => Machine.create({ memSize: 8 << 20 }));
      m.cpu.hotBlock = hot;
      m.memWrite(0x100000, Buffer.from(loop!, 'hex'));
      m.regWrite(Reg.RIP, 0x100000n);
      m.cpu.takeDirtyPages(); // the first take turns the marks on (Cpu.trackDirty), as a recorder's start does
      expect(m.cpu.trackDirty).toBe(true);
      expect(m.emuStart(0x100000, null, { count: 1 + 7 * 3 }).end).toBe('count');
      m.cpu.takeDirtyPages();
      const kept = m.cpu.tlbWTag.filter((t) => t !== -1).length;
      if (tier === 'js') expect(kept, 'write-TLB entries kept').toBeGreaterThanOrEqual(6);
      else expect(kept, 'the wasm tier drops the write TLB at every take').toBe(0);
      for (let pass = 0; pass < 3; pass++) {
        expect(m.emuStart(Number(m.regRead(Reg.RIP)), null, { count: 7 }).end).toBe('count');
        expect(m.cpu.takeDirtyPages(), `pass ${pass}`).toEqual([0x300, 0x301, 0x302, 0x303, 0x304, 0x305]);
      }
    });
  }
});


describe('takeSetBytes (how a page set is taken)', () => {
  it('gives every non-zero index ascending and zeroes it, for any length and alignment, against a byte-by-byte scan', () => {
    let seed = 7;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const [len, off] of [[0, 0], [3, 0], [16384, 0], [16387, 0], [1001, 1], [4099, 3]] as const) {
      const whole = new Uint8Array(len + off);
      const b = whole.subarray(off);
      for (let i = 0; i < len; i++) if (rnd() < 0.05) b[i] = 1 + Math.floor(rnd() * 255);
      if (len) b[len - 1] = 1; // the tail past the last whole word
      const want: number[] = [];
      for (let i = 0; i < len; i++) if (b[i]) want.push(i);
      expect(takeSetBytes(b, [])).toEqual(want);
      expect(b.every((x) => x === 0)).toBe(true);
      expect(takeSetBytes(b, [])).toEqual([]);
    }
  });
});

describe('PhysMemory.takeWritten (the non-CPU writes a digest covers; the scan skipped while none came)', () => {
  it('gives the pages of every kind of non-CPU write since the last take, each once, and nothing when none came', () => {
    const mem = new PhysMemory(2 << 20);
    expect(mem.takeWritten()).toEqual([]);
    mem.write(0x1ffe, new Uint8Array(4)); // across a page boundary
    mem.setU32(0x5000, 1);
    expect(mem.takeWritten()).toEqual([1, 2, 5]);
    expect(mem.takeWritten()).toEqual([]);
    mem.fill(0x3000, 1);
    expect(mem.peekWritten()).toEqual([3]);
    mem.setU16(0x1ff000, 7);
    mem.written(0x10, 1);
    expect(mem.takeWritten()).toEqual([0, 3, 0x1ff]);
    expect(mem.takeWritten()).toEqual([]);
  });
});
