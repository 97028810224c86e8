// Random bytes as code: whatever a guest executes, the emulator reports a guest-level outcome
// (a fault, a halt, an exit, or running out of budget) and never an internal error or a host exception.
import { describe, it, expect } from 'vitest';
import { PhysMemory } from '../../src/cpu/memory.js';
import { Cpu, Stop } from '../../src/cpu/cpu.js';
import { Bus } from '../../src/machine/bus.js';
import { setupLongMode } from '../../src/machine/boot.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s; };
}

describe('random code never breaks the host', () => {
  it('5,000 random byte sequences end in a guest-level outcome', () => {
    const mem = new PhysMemory(8 << 20);
    const cpu = new Cpu(mem, new Bus());
    const r = rng(0xf022);
    const outcomes = new Map<string, number>();
    for (let n = 0; n < 5000; n++) {
      setupLongMode(cpu, mem);
      cpu.flushCode();
      // 64 random bytes; a third of the cases are biased towards prefixes and escape bytes
      for (let k = 0; k < 64; k++) {
        let b = r() & 0xff;
        if (n % 3 === 0 && (r() & 3) === 0) b = [0x0f, 0x66, 0xf2, 0xf3, 0x48, 0x41, 0xf0, 0x67, 0xd9, 0xdd][r() % 10];
        mem.u8[0x100000 + k] = b;
      }
      mem.u8.fill(0xf4, 0x100040, 0x100050);
      for (let k = 0; k < 16; k++) cpu.regs[k * 2] = (r() & 0xffff) | 0x200000; // registers point into RAM
      cpu.rip = 0x100000;
      cpu.halted = false;
      cpu.fault = null;
      const stop = cpu.run(200);
      const name = ['budget', 'halt', 'exit', 'fault', 'internal'][stop];
      outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
      if (stop === Stop.INTERNAL) expect.fail(`internal error on case ${n}: ${cpu.internalError?.stack}`);
    }
    // the run really exercised faults and completed sequences
    expect(outcomes.get('fault') ?? 0).toBeGreaterThan(500);
    expect((outcomes.get('halt') ?? 0) + (outcomes.get('budget') ?? 0)).toBeGreaterThan(100);
  });
});
