// Compiled regions (several blocks in one function) of both tiers — the JS tier's (src/cpu/compile.ts
// compileRegion, forced with the wasm tier off) and the WebAssembly tier's (src/cpu/wasm, regions of 16):
// self-modifying code and DMA into a block of a region, the budget ending a run inside a region, and a fault
// in a region's later block. Expected values come from the programs' arithmetic (and the assembler's
// addresses), not from another run of the emulator; every case also checks that the code really ran as a region.
import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/index.js';
import { assembleGuestBytes, EXIT_AL } from '../helpers/asm.js';
import { jsTier } from '../helpers/tier.js';

type Tier = 'js' | 'wasm';

/** A machine that compiles a block at its second execution (its successors are decoded by then). JS tier:
 *  guest registers in JS locals across a region unless locals is false. Wasm tier: regions of up to 16
 *  blocks, each function compiled as soon as it is generated. */
function boot(tier: Tier, src: string, locals = true): Machine {
  const m = tier === 'js' ? jsTier(() => Machine.fromElf(assembleGuestBytes(src))) : Machine.fromElf(assembleGuestBytes(src));
  m.cpu.hotBlock = 2;
  if (tier === 'js') {
    expect(m.cpu.wasm).toBeNull();
    m.cpu.regionBlocks = 16;
    m.cpu.regionLocals = locals;
  } else {
    expect(m.cpu.wasm).not.toBeNull();
    m.cpu.wasm!.regionBlocks = 16;
    m.cpu.wasm!.immediate = true;
  }
  return m;
}
/** Regions compiled (JS tier), or blocks a wasm function holds beyond its entry (wasm tier: 0 unless a
 *  region was installed; and it must have been called). */
function regions(m: Machine): number {
  const w = m.cpu.wasm;
  if (w === null) return [...m.cpu.blocks.values()].filter((b) => b.fn !== null && b.fn.name.startsWith('region_')).length;
  expect(w.stats.failed, w.stats.error).toBe(0);
  return w.stats.calls > 0 ? w.stats.members - w.stats.compiled : 0;
}
const reg = (m: Machine, n: number) => m.cpu.regs[2 * n] >>> 0; // low 32 bits of GPR n (0 RAX, 1 RCX, 2 RDX, 3 RBX)

// A loop of three blocks: the entry tests ECX's low bit, the middle one adds an immediate to EDX on odd
// ECX, the last counts down. patch: a store into the middle block's immediate (made by the entry block).
const LOOP = (n: number, patchAt: number) => `_start:
      xor %edx, %edx
      mov $${n}, %ecx
      lea imm(%rip), %rsi
    again:
      cmp $${patchAt}, %ecx
      jne 1f
      movb $3, (%rsi)          # from now on the middle block adds 3
    1: test $1, %cl
      jz skip
      add $1, %edx
    imm = . - 1
    skip:
      dec %ecx
      jnz again
      mov %edx, %eax
      mov %edx, %ebx
      ${EXIT_AL}`;

/** The loop's sum: 1 for each odd ECX in (patchAt, n], 3 for each odd ECX in [1, patchAt]. */
function loopSum(n: number, patchAt: number): number {
  let s = 0;
  for (let c = n; c >= 1; c--) if (c & 1) s += c <= patchAt ? 3 : 1;
  return s;
}

for (const tier of ['js', 'wasm'] as const) describe(`compiled regions (${tier} tier)`, () => {
  it('a store into another block of the running region (self-modifying code) takes effect at once', () => {
    const m = boot(tier, LOOP(1000, 400));
    const r = m.run(1_000_000);
    expect(regions(m)).toBeGreaterThan(0);
    expect(r.end).toBe('exit');
    expect(reg(m, 3)).toBe(loopSum(1000, 400));
    expect(r.status).toBe(loopSum(1000, 400) & 0xff);
  });

  it('DMA into a block of a compiled region between runs invalidates the region', () => {
    const m = boot(tier, LOOP(1000, -1).replace('lea imm(%rip), %rsi', 'lea imm(%rip), %rsi\n      lea again(%rip), %r8'), false);
    m.run(3000);
    expect(regions(m)).toBeGreaterThan(0);
    const loopHead = m.cpu.regs[16] >>> 0, imm = m.cpu.regs[12] >>> 0;
    while (m.cpu.rip !== loopHead) m.run(m.cpu.icount + 1); // to the head of an iteration
    const sum = reg(m, 2), left = reg(m, 1);
    // the middle block's immediate, written as a device would, then the machine is told (as DMA does)
    m.mem.u8[imm] = 5; m.cpu.ramWritten(imm, 1);
    const r = m.run(Infinity);
    expect(r.end).toBe('exit');
    let odd = 0; for (let c = left; c >= 1; c--) if (c & 1) odd++;
    expect(reg(m, 3)).toBe(sum + 5 * odd);
    expect(odd).toBeGreaterThan(100);
  });

  it('a run stops at exactly its budget inside a region, and resumes to the same result', () => {
    const whole = boot(tier, LOOP(300, 120)).run(1_000_000);
    expect(whole.end).toBe('exit');
    for (const step of [7, 97]) {
      const m = boot(tier, LOOP(300, 120), step === 7); // registers in locals, then in cpu.regs
      let budget = 0, r;
      do { budget += step; r = m.run(budget); if (r.end === 'budget') expect(m.cpu.icount).toBe(budget); } while (r.end === 'budget');
      expect(r.end).toBe('exit');
      expect(m.cpu.icount).toBe(whole.instructions);
      expect(reg(m, 3)).toBe(loopSum(300, 120));
      if (step >= 7) expect(regions(m)).toBeGreaterThan(0); // (very short runs rarely enter compiled code)
    }
  });

  it('a fault in a later block of a region leaves RIP at the faulting instruction and the count exact', () => {
    // iteration 300 loads from a non-canonical address: #GP with no IDT stops the run at that instruction
    const m = boot(tier, `_start:
        xor %edx, %edx
        mov $1000, %ecx
        lea buf(%rip), %rsi
        movabs $0x8000000000000000, %rdi
        lea ld(%rip), %r9
      again:
        test $1, %cl
        jz skip
        add $1, %edx
      skip:
        cmp $700, %ecx
        jne 1f
        mov %rdi, %rsi
      1:
      ld: mov (%rsi), %rax
        dec %ecx
        jnz again
        ${EXIT_AL}
      buf: .quad 0`);
    const r = m.run(1_000_000);
    expect(r.end).toBe('fault');
    expect(regions(m)).toBeGreaterThan(0);
    expect(reg(m, 1)).toBe(700);
    expect(reg(m, 2)).toBe(150); // odd ECX in [701, 1000]
    // 5 set-up instructions; 300 iterations before (7 on even ECX, 8 on odd, 150 of each); then test, jz,
    // cmp, jne, mov %rdi, %rsi retire and the load faults
    expect(m.cpu.icount).toBe(5 + 150 * 7 + 150 * 8 + 5);
    expect(m.cpu.rip).toBe(m.cpu.regs[18] >>> 0);
  });
});

