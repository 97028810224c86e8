// The machine: CPU + RAM + device bus, booted from an ELF per the boot contract, and the run loop.
// Host access only through the backends/sinks handed in by the caller.

import { Cpu, Stop, STOP_NAMES } from '../cpu/cpu.js';
import { PhysMemory } from '../cpu/memory.js';
import { Bus, type PortHandler } from './bus.js';
import { loadElf, setupLongMode, writeBootInfo, BOOT, type BootDevice } from './boot.js';

export interface MachineOptions {
  /** RAM size in bytes (default 64 MiB). */
  memSize?: number;
  /** Command line placed in the boot-info block. */
  cmdline?: string;
  /** Receives every byte the guest transmits on COM1. */
  consoleOut?: (byte: number) => void;
}

export type RunEnd = 'exit' | 'halt' | 'fault' | 'budget' | 'internal-error';

export interface RunResult {
  /** Why the run ended. */
  end: RunEnd;
  /** Guest exit status (debug-exit port), when end === 'exit'. */
  status: number;
  /** Instructions retired since boot. */
  instructions: number;
  /** Human-readable report for 'fault' and 'internal-error'. */
  message?: string;
}

export const DEFAULT_MEM = 64 * 1024 * 1024;
const SLICE = 1 << 20;

/** COM1 transmit path until the full 16550 model is wired in: THR writes go to the sink, LSR reads say "empty". */
class SimpleConsole implements PortHandler {
  constructor(private readonly out: (b: number) => void) {}
  portRead(port: number): number { return port === 0x3fd ? 0x60 : 0; }
  portWrite(port: number, _size: number, value: number): void { if (port === 0x3f8) this.out(value & 0xff); }
}

export class Machine {
  readonly mem: PhysMemory;
  readonly bus: Bus;
  readonly cpu: Cpu;
  readonly entry: number;

  private constructor(mem: PhysMemory, bus: Bus, cpu: Cpu, entry: number) {
    this.mem = mem; this.bus = bus; this.cpu = cpu; this.entry = entry;
  }

  /** Build a machine and boot the ELF image (throws ElfError on a malformed image). */
  static fromElf(image: Uint8Array, opts: MachineOptions = {}): Machine {
    const mem = new PhysMemory(opts.memSize ?? DEFAULT_MEM);
    const bus = new Bus();
    const cpu = new Cpu(mem, bus);
    const elf = loadElf(mem, image);
    const m = new Machine(mem, bus, cpu, elf.entry);
    const out = opts.consoleOut ?? (() => {});
    bus.registerPorts(0x3f8, 8, new SimpleConsole(out));
    bus.registerPorts(BOOT.debugExitPort, 1, {
      portRead: () => 0xff,
      portWrite: (_p, _s, v) => cpu.requestStop(Stop.EXIT, v & 0xff),
    });
    setupLongMode(cpu, mem);
    const devices: BootDevice[] = [];
    writeBootInfo(cpu, mem, opts.cmdline ?? '', devices);
    cpu.rip = elf.entry;
    return m;
  }

  /** Run until the guest exits, halts with interrupts off, faults, or maxInstructions retire. */
  run(maxInstructions = Infinity): RunResult {
    const cpu = this.cpu;
    for (;;) {
      const left = maxInstructions - cpu.icount;
      if (left <= 0) return this.result('budget');
      const stop = cpu.run(Math.min(SLICE, left));
      switch (stop) {
        case Stop.BUDGET: continue;
        case Stop.EXIT: return this.result('exit');
        case Stop.FAULT: return this.result('fault', cpu.fault?.message);
        case Stop.INTERNAL: return this.result('internal-error', `internal emulator error at RIP 0x${cpu.insnRip.toString(16)}: ${cpu.internalError?.stack ?? cpu.internalError}`);
        case Stop.HALT:
          if (!(cpu.flags & 0x200)) return this.result('halt');
          // interrupts on but nothing can wake the CPU yet (devices come with the device models)
          return this.result('halt');
        default: throw new Error(`unexpected stop ${STOP_NAMES[stop]}`);
      }
    }
  }

  private result(end: RunEnd, message?: string): RunResult {
    return { end, status: end === 'exit' ? this.cpu.exitStatus : 0, instructions: this.cpu.icount, message };
  }
}
