// Benchmark guests: a machine that keeps running a guest in fixed instruction slices for benny.
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { readFileSync, existsSync } from 'node:fs';
import { Machine } from '../src/machine/machine.js';

export const SLICE = 2_000_000;

/** Path of a built guest (guests/build/NAME-O2.elf). */
export function guestPath(name: string): string {
  const p = new URL(`../../guests/build/${name}-O2.elf`, import.meta.url).pathname;
  if (!existsSync(p)) throw new Error(`benchmark guest ${p} is missing: run 'npm run build' first`);
  return p;
}

/** Runs `SLICE` instructions per call, rebooting the guest whenever it ends. */
export class GuestRunner {
  private m: Machine;
  retired = 0;
  constructor(private readonly image: Uint8Array, private readonly cmdline = '') {
    this.m = this.boot();
  }
  private boot(): Machine { return Machine.fromElf(this.image, { cmdline: this.cmdline }); }
  /** Run SLICE instructions on the CPU alone: no gate polls, no device time (the polling-cost baseline). */
  stepCpuOnly(): void {
    const cpu = this.m.cpu;
    const before = cpu.icount;
    cpu.run(SLICE);
    this.retired += cpu.icount - before;
    if (cpu.stopRequested) this.m = this.boot();
  }
  step(): void {
    const before = this.m.cpu.icount;
    const r = this.m.run(before + SLICE);
    this.retired += r.instructions - before;
    if (r.end !== 'budget') {
      if (r.end !== 'exit') throw new Error(`benchmark guest ended with ${r.end}: ${r.message ?? ''}`);
      this.m = this.boot();
    }
  }
  static load(name: string, cmdline = ''): GuestRunner {
    return new GuestRunner(readFileSync(guestPath(name)), cmdline);
  }
}
