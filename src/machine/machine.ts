// The machine: CPU + RAM + PC devices on the bus, booted from an ELF per the boot contract, and the
// run loop. Every host value reaches the guest through the gate; outputs leave through the sinks.

import { Cpu, Stop, STOP_NAMES } from '../cpu/cpu.js';
import { PhysMemory } from '../cpu/memory.js';
import { WASM_BACKGROUND } from '../cpu/wasm/compile.js';
import { X86ftError, InvalidArgumentError, InvalidStateError, checkCount, InternalError, BadStateError, instanceOfAnyBuild, markRootClass } from '../errors.js';
import { Reg, regRead, regWrite } from './registers.js';
import { hex64 } from '../hex.js';
import { MachineHooks, type HookKind, type HookCallback, type HookRange, type HookHandle } from '../api/hooks.js';
import { saveCpu, loadCpu, type CpuState } from '../cpu/state.js';
import { Bus } from './bus.js';
import { loadElf, setupLongMode, writeBootInfo, type BootDevice } from './boot.js';
import { LiveGate, GateDivergence, GateSwitch, type Gate, type DiskBackend } from './gate.js';
import { OutputSeam } from './outputs.js';
import { Pic8259 } from '../devices/pic.js';
import { Uart16550 } from '../devices/uart.js';
import { Pit8254 } from '../devices/pit.js';
import { Rtc146818 } from '../devices/rtc.js';
import { DebugExit } from '../devices/debug-exit.js';
import { VirtioBlk } from '../devices/virtio-blk.js';
import { VirtioNet } from '../devices/virtio-net.js';
import { PC_PORTS, VIRTIO_IRQS, virtioBase } from '../devices/layout.js';
import { SystemClock, SystemEntropy } from '../devices/backends/clock.js';

/** The machine's shape: everything a replayer must know to rebuild it (goes into the log header). */
export interface MachineConfig {
  /** RAM size in bytes (default 64 MiB). */
  memSize?: number;
  /** Command line placed in the boot-info block. */
  cmdline?: string;
  /** virtio-blk disks, in boot-info order (first at virtio slot 0). */
  disks?: { sizeBytes: number; readOnly?: boolean }[];
  /** virtio-net NICs after the disks; default MAC 52:54:00:12:34:(56+n). */
  nets?: { mac?: number[] }[];
}

/** The host side: where inputs come from and outputs go. */
export interface MachineIo {
  /** The gate every host value crosses (default: a live gate on the host clock and entropy only). */
  gate?: Gate;
  /** The output seam every output crosses (console byte, frame, disk write/flush). Default: a live
   *  seam whose sinks are consoleOut, netOut and the live gate's disk backends. */
  outputs?: OutputSeam;
  /** Receives every byte the guest transmits on COM1 (ignored when `outputs` is given). */
  consoleOut?: (byte: number) => void;
  /** Receives every frame NIC `dev` transmits (ignored when `outputs` is given). */
  netOut?: (dev: number, frame: Uint8Array) => void;
}

export type MachineOptions = MachineConfig & MachineIo;

/** Every key MachineOptions has: the constructor refuses others (a misspelt `memSiz` would be ignored). */
const OPTION_KEYS: ReadonlySet<string> = new Set<keyof MachineOptions>(['memSize', 'cmdline', 'disks', 'nets', 'gate', 'outputs', 'consoleOut', 'netOut']);

export type RunEnd = 'exit' | 'halt' | 'fault' | 'budget' | 'internal-error' | 'wait-log' | 'debug';

export interface RunResult {
  /** Why the run ended ('wait-log': a replaying machine needs more log to go on). */
  end: RunEnd;
  /** Guest exit status (debug-exit port), when end === 'exit'. */
  status: number;
  /** Instructions retired since boot. */
  instructions: number;
  /** Human-readable report for 'fault' and 'internal-error'. */
  message?: string;
}

/** The disk backends of a live gate (directly or under a GateSwitch), for the default output seam. */
function liveDisks(g: Gate): readonly DiskBackend[] | undefined {
  const cur = g instanceof GateSwitch ? g.current : g;
  return cur instanceof LiveGate ? cur.diskBackends : undefined;
}

export const DEFAULT_MEM = 64 * 1024 * 1024;
/** Smallest and largest RAM a machine can have (bytes; a multiple of 4 KiB). The CLI's --mem has the same limits. */
export const MIN_MEM = 2 * 1024 * 1024;
export const MAX_MEM = 3 * 1024 ** 3;
/** Longest command line (UTF-8 bytes) the boot-info block holds (the CLI's --cmdline has the same limit). */
export const MAX_CMDLINE = 1023;

/** Options of Machine.emuStart. */
export interface EmuOptions {
  /** Stop after this many retired instructions, counted from this call (not from boot); 0 or absent: no limit. */
  count?: number;
  /** Stop after about this many milliseconds of host time (checked every few thousand instructions); 0 or absent: no limit. */
  timeoutMs?: number;
}

/** Why emuStart returned. */
export type EmuEnd = 'until' | 'count' | 'timeout' | 'stopped' | 'exit' | 'halt' | 'fault' | 'internal-error';

export interface EmuResult {
  end: EmuEnd;
  /** Instructions retired by this call. */
  instructions: number;
  /** Instructions retired since the machine was created (Machine.icount). */
  icount: number;
  /** The guest's exit status for 'exit' (debug-exit port), else 0. */
  status: number;
  /** Human-readable report for 'fault' and 'internal-error'. */
  message?: string;
}
/** Instructions between two gate polls on the primary: the guest's timer resolution (~0.5 ms at 100 MIPS). */
export const POLL_SLICE = 50_000;
/** Default host time (ms) of guest execution between two turns of the event loop (runAsync), so
 *  heartbeats and acks get out on a loaded host; checked every TIME_CHECK instructions. */
export const YIELD_MS = 4;
/** Host time (ms) between two time checks of a slice with a deadline, and the bounds (instructions) of the
 *  adaptive check interval: warm compiled code runs 10,000 instructions in ~0.02-0.05 ms, but cold code
 *  (first runs of new blocks) took 2-4 ms for them, and a fixed 10,000-instruction check made a short
 *  slice (an FT primary's 0.5 ms while outputs wait, a secondary's 1 ms step) last that long. */
const TIME_CHECK_MS = 0.05;
const TIME_CHECK_MIN = 250, TIME_CHECK = 10_000;

/** Every device's state, by name (snapshots). */
export interface DeviceStates { [name: string]: unknown }

export class Machine {
  /** `instanceof Machine` holds for machines of the ES modules and of the CommonJS build alike. */
  static [Symbol.hasInstance](v: unknown): boolean { return instanceOfAnyBuild(this, v); }

  readonly mem: PhysMemory;
  readonly bus: Bus;
  readonly cpu: Cpu;
  readonly gate: Gate;
  /** Where every output leaves the machine. */
  readonly outputs: OutputSeam;
  readonly config: Required<Pick<MachineConfig, 'memSize' | 'cmdline'>> & MachineConfig;
  readonly pic: Pic8259;
  readonly uart: Uart16550;
  readonly pit: Pit8254;
  readonly rtc: Rtc146818;
  readonly debugExit: DebugExit;
  readonly disks: VirtioBlk[] = [];
  readonly nets: VirtioNet[] = [];
  /** Set when the guest wrote the debug-exit port. */
  exited = false;
  /** Host time (ms, > 0) of execution between two turns of the event loop in runAsync (default
   *  YIELD_MS = 4). An FT primary shortens it while outputs wait for an ack, so the ack is read soon. */
  yieldMs = YIELD_MS;
  /** Called at every time check of a slice with a deadline (about every TIME_CHECK_MS of host time, between
   *  instructions, inside runAsync's slices): an FT primary sends sync marks and releases acked outputs
   *  there without waiting for the event loop. It must not run the CPU or change guest state. */
  timeCheckHook: (() => void) | undefined;
  private polled = false;
  private yieldNow = false;
  /** Instructions between two time checks of a slice with a deadline (TIME_CHECK_MIN..TIME_CHECK), about TIME_CHECK_MS of host time. */
  private timeCheck = TIME_CHECK;

  private constructor(opts: MachineOptions) {
    if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError(`machine options must be an object, got ${opts === null ? 'null' : typeof opts}`);
    const unknown = Object.keys(opts).filter((k) => !OPTION_KEYS.has(k));
    if (unknown.length > 0) throw new InvalidArgumentError(`unknown machine option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${[...OPTION_KEYS].join(', ')})`);
    const size = opts.memSize ?? DEFAULT_MEM;
    if (!Number.isSafeInteger(size) || size < MIN_MEM || size > MAX_MEM || size % 4096 !== 0) {
      throw new InvalidArgumentError(`memSize must be a multiple of 4096 between ${MIN_MEM} (2 MiB) and ${MAX_MEM} (3 GiB) bytes, got ${String(size)}`);
    }
    this.config = { ...opts, memSize: opts.memSize ?? DEFAULT_MEM, cmdline: opts.cmdline ?? '' };
    const cmdlineBytes = new TextEncoder().encode(this.config.cmdline).length;
    if (cmdlineBytes > MAX_CMDLINE) throw new InvalidArgumentError(`cmdline is ${cmdlineBytes} bytes; the boot-info block holds at most ${MAX_CMDLINE}`);
    delete (this.config as MachineIo).gate; delete (this.config as MachineIo).consoleOut; delete (this.config as MachineIo).netOut;
    delete (this.config as MachineIo).outputs;
    const mem = this.mem = new PhysMemory(this.config.memSize);
    const bus = this.bus = new Bus();
    const cpu = this.cpu = new Cpu(mem, bus);
    const gate = this.gate = opts.gate ?? new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy() });
    const outputs = this.outputs = opts.outputs ?? new OutputSeam({ sinks: {
      console: opts.consoleOut, frame: opts.netOut,
      disks: liveDisks(gate),
    } });
    outputs.icountSource = () => cpu.currentIcount();

    const pic = this.pic = new Pic8259();
    cpu.intc = pic;
    pic.onIntrChange = () => { cpu.brk = true; };
    bus.registerPorts(PC_PORTS.picMaster.port, 2, pic);
    bus.registerPorts(PC_PORTS.picSlave.port, 2, pic);
    bus.registerPorts(PC_PORTS.elcr.port, 2, pic);
    const uart = this.uart = new Uart16550(PC_PORTS.com1.port, (b) => outputs.console(b), pic.line(PC_PORTS.com1.irq));
    bus.registerPorts(PC_PORTS.com1.port, 8, uart);
    const pit = this.pit = new Pit8254(pic.line(PC_PORTS.pit.irq));
    bus.registerPorts(PC_PORTS.pit.port, 4, pit);
    bus.registerPorts(PC_PORTS.port61.port, 1, pit);
    const rtc = this.rtc = new Rtc146818(pic.line(PC_PORTS.rtc.irq));
    bus.registerPorts(PC_PORTS.rtc.port, 2, rtc);
    this.debugExit = new DebugExit((status) => { this.exited = true; cpu.requestStop(Stop.EXIT, status & 0xff); });
    bus.registerPorts(PC_PORTS.debugExit.port, 1, this.debugExit);

    // virtio-mmio: disks first, then NICs; their IRQ lines are level-triggered (ELCR)
    const boot: BootDevice[] = [];
    let slot = 0, elcr = 0;
    const now = () => cpu.currentIcount();
    (opts.disks ?? []).forEach((d, n) => {
      if (slot >= VIRTIO_IRQS.length) throw new InvalidArgumentError(`at most ${VIRTIO_IRQS.length} virtio devices (disks + nets)`);
      const irq = VIRTIO_IRQS[slot];
      const blk = new VirtioBlk(mem, pic.line(irq), gate.blockIo(n, now), { sizeBytes: d.sizeBytes, readOnly: d.readOnly });
      bus.registerMmio(virtioBase(slot), 0x1000, blk);
      boot.push({ type: 1, irq, base: virtioBase(slot) });
      this.disks.push(blk); elcr |= 1 << irq; slot++;
    });
    (opts.nets ?? []).forEach((nc, n) => {
      if (slot >= VIRTIO_IRQS.length) throw new InvalidArgumentError(`at most ${VIRTIO_IRQS.length} virtio devices (disks + nets)`);
      const irq = VIRTIO_IRQS[slot];
      const mac = nc.mac ?? [0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + n];
      const net = new VirtioNet(mem, pic.line(irq), (f) => outputs.frame(n, f), { mac });
      bus.registerMmio(virtioBase(slot), 0x1000, net);
      boot.push({ type: 1, irq, base: virtioBase(slot) });
      this.nets.push(net); elcr |= 1 << irq; slot++;
    });
    if (elcr & 0xff) pic.portWrite(0x4d0, 1, elcr & 0xff);
    if (elcr >> 8) pic.portWrite(0x4d1, 1, elcr >> 8);
    this.bootDevices = boot;

    gate.connect({ console: uart, clocks: [pit, rtc, uart], wall: [rtc], nets: this.nets, irq: (l, v) => pic.setIrq(l, v), outputs });
    cpu.host = {
      rdtsc: (c) => { const p = gate.tsc(c.currentIcount()); c.tmpLo = p[0] | 0; c.tmpHi = p[1] | 0; },
      rdrand: (c) => { const p = gate.rdrand(c.currentIcount()); c.tmpLo = p[0] | 0; c.tmpHi = p[1] | 0; },
    };
  }

  private readonly bootDevices: BootDevice[];

  /** Build a machine and boot the ELF image (throws ElfError on a malformed image). */
  static fromElf(image: Uint8Array, opts: MachineOptions = {}): Machine {
    const m = new Machine(opts);
    const elf = loadElf(m.mem, image);
    setupLongMode(m.cpu, m.mem);
    writeBootInfo(m.cpu, m.mem, m.config.cmdline, m.bootDevices);
    m.cpu.rip = elf.entry;
    return m;
  }

  /** A machine of this configuration with no guest loaded: restore a snapshot into it. */
  static empty(opts: MachineOptions = {}): Machine {
    return new Machine(opts);
  }

  /**
   * A machine without an ELF, for emulating code you write into it (Unicorn style): the CPU is in
   * 64-bit mode at CPL 0, paging identity-maps the low 4 GiB (virtual = physical; addresses beyond
   * RAM reach devices or read as all ones), RSP = 0x80000, no IDT (any exception ends emuStart with
   * 'fault'). Physical 0x1000-0x8FFF holds the GDT and page tables: put code and data elsewhere
   * (e.g. from 0x100000). The PC devices (COM1, PIC, PIT, RTC, debug-exit port 0xF4) are present.
   * Throws InvalidArgumentError for a bad memSize (see MIN_MEM, MAX_MEM).
   */
  static create(opts: MachineOptions = {}): Machine {
    const m = new Machine(opts);
    setupLongMode(m.cpu, m.mem);
    return m;
  }

  /** Instructions retired since the machine was created (REP iterations count one each). */
  get icount(): number { return this.cpu.icount; }

  /** Reads a register as an unsigned 64-bit bigint. */
  regRead(r: Reg): bigint { return regRead(this.cpu, r); }

  /** Writes a register (bigint, 0..2^64-1). Throws InvalidArgumentError for a bad register or value. */
  regWrite(r: Reg, value: bigint): void { regWrite(this.cpu, r, value); }

  private physRange(addr: number | bigint, len: number): number {
    const a = typeof addr === 'bigint' ? Number(addr) : addr;
    if (typeof a !== 'number' || !Number.isSafeInteger(a)) throw new InvalidArgumentError(`address must be an integer or a bigint, got ${typeof addr === 'bigint' ? hex64(addr) : String(addr)}`);
    if (typeof len !== 'number' || !Number.isSafeInteger(len) || len < 0) throw new InvalidArgumentError(`length must be a non-negative integer, got ${String(len)}`);
    if (a < 0 || a + len > this.mem.size) {
      throw new InvalidArgumentError(`range ${a < 0 ? String(a) : hex64(a)}+${len} is outside RAM (0..${hex64(this.mem.size)})`);
    }
    return a;
  }

  /** Writes bytes to physical RAM (decoded code there is invalidated). Throws InvalidArgumentError outside RAM. */
  memWrite(addr: number | bigint, bytes: Uint8Array): void {
    this.mem.write(this.physRange(addr, bytes.length), bytes);
  }

  /** A copy of `len` bytes of physical RAM from `addr`. Throws InvalidArgumentError outside RAM. */
  memRead(addr: number | bigint, len: number): Uint8Array {
    const a = this.physRange(addr, len);
    return this.mem.u8.slice(a, a + len);
  }

  private emuStopRequested = false;
  private hookLayer: MachineHooks | null = null;

  /**
   * Installs a hook (Unicorn's uc_hook_add): `callback` receives a HookEvent of `kind` (see HookKind:
   * 'code', 'block', 'mem-read', 'mem-write', 'mem-fetch', 'mem-unmapped', 'mem-prot', 'intr',
   * 'insn-invalid', 'in', 'out', 'syscall') for events in `range` ([begin, end) of linear addresses,
   * ports for 'in'/'out'; absent: all). Returns a handle for hookDel. Hooks observe: the guest runs the same
   * instructions with the same counts with or without them. 'code', 'block' and 'mem-*' hooks make the CPU
   * run one instruction at a time (about 10x slower); the others cost nothing until their event happens;
   * with no hook installed the fast paths run untouched. Works on replaying machines too.
   * Throws InvalidArgumentError for an unknown kind, a non-function callback or an empty/bad range.
   */
  hookAdd<K extends HookKind>(kind: K, callback: HookCallback<K>, range?: HookRange): HookHandle {
    this.hookLayer ??= new MachineHooks(this.cpu, () => {
      this.cpu.internalError = new Error('a hook callback threw');
      this.cpu.requestStop(Stop.INTERNAL);
    });
    return this.hookLayer.add(kind, callback, range);
  }

  /** Removes a hook by the handle hookAdd returned (Unicorn's uc_hook_del); false if it is not installed. */
  hookDel(handle: HookHandle): boolean {
    return this.hookLayer?.del(handle) ?? false;
  }

  /** Throws the exception a hook callback threw during the last run, if any. */
  private rethrowHookError(): void {
    const e = this.hookLayer?.takeError();
    if (e !== undefined) throw e;
  }

  /**
   * Stops a running emuStart at the next instruction boundary (call it from a device, port or hook
   * callback during the run): emuStart returns 'stopped'. From a 'code' or 'block' hook the instruction
   * the hook reports does not execute; from anywhere else the instruction that is executing completes.
   * No effect when nothing runs.
   */
  emuStop(): void {
    this.emuStopRequested = true;
    this.cpu.hooks?.stopBefore();
    this.cpu.requestStop(Stop.BUDGET);
  }

  /**
   * Runs from `begin` (sets RIP) until one of these, checked at every instruction boundary, in this order:
   * - 'until': RIP equals `until` (the instruction there is not executed; begin === until runs nothing;
   *   `until` null: no address stop, and the run goes in fast slices instead of single steps);
   * - 'count': `count` instructions have retired in this call (counted from now, not from boot; one
   *   instruction = one retired x86 instruction, each REP iteration one; exception and interrupt
   *   deliveries are not instructions, the handler's instructions are);
   * - 'stopped': emuStop() was called, or a breakpoint/hook of cpu.hooks stopped the run; 'timeout': `timeoutMs` of host time passed (not reproducible:
   *   use `count` for exact runs);
   * - the guest wrote the debug-exit port ('exit', status), executed HLT with IF=0 ('halt'), raised an
   *   exception it cannot handle ('fault', message), or the emulator failed ('internal-error').
   * While the guest waits in HLT with IF=1 the run goes on (timers can wake it).
   * Throws InvalidArgumentError for bad arguments, X86ftError 'X86FT_INVALID_STATE' on a replaying machine.
   */
  emuStart(begin: number | bigint, until: number | bigint | null, opts: EmuOptions = {}): EmuResult {
    if (this.gate.mode !== 'live') throw new X86ftError('X86FT_INVALID_STATE', 'emuStart runs live machines only (a replaying machine runs from its log)');
    const count = checkCount('count', opts.count ?? 0);
    const timeoutMs = checkCount('timeoutMs', opts.timeoutMs ?? 0);
    const b = emuAddress('begin', begin);
    const stopAt = until === null ? NaN : Number(BigInt.asIntN(64, emuAddress('until', until)));
    this.enterRun('emuStart');
    try { return this.emuRun(b, stopAt, count, timeoutMs); } finally { this.running = false; }
  }

  /** A run (emuStart, run, runAsync) is in progress: another one started from inside it is refused. */
  private running = false;

  private enterRun(what: string): void {
    if (this.running) {
      throw new InvalidStateError(`${what} called while this machine is already running (from a hook or device callback, or while runAsync awaits): ` +
        'call emuStop() there and start again after the running call returned');
    }
    this.running = true;
  }

  private emuRun(begin: bigint, stopAt: number, count: number, timeoutMs: number): EmuResult {
    const cpu = this.cpu;
    regWrite(cpu, Reg.RIP, begin);
    const start = cpu.icount, deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    const limit = count > 0 ? count : Infinity;
    this.emuStopRequested = false;
    const done = (end: EmuEnd, message?: string): EmuResult => ({
      end, instructions: cpu.icount - start, icount: cpu.icount, status: end === 'exit' ? cpu.exitStatus : 0, message,
    });
    let sinceCheck = 0;
    for (;;) {
      if (cpu.rip === stopAt && !cpu.halted) return done('until');
      const left = limit - (cpu.icount - start);
      if (left <= 0) return done('count');
      if (this.emuStopRequested) return done('stopped');
      if (sinceCheck >= 4096 || cpu.halted) {
        if (Date.now() >= deadline) return done('timeout');
        this.gate.poll(cpu.icount);
        sinceCheck = 0;
      }
      const before = cpu.icount;
      // single steps while an address must be caught exactly; otherwise slices
      const stop = cpu.run(Number.isNaN(stopAt) ? Math.min(left, 4096) : 1);
      sinceCheck += cpu.icount - before + 1;
      this.rethrowHookError();
      if (this.emuStopRequested) return done('stopped');
      switch (stop) {
        case Stop.EXIT: return done('exit');
        case Stop.FAULT: return done('fault', cpu.fault?.message);
        case Stop.INTERNAL: return done('internal-error', `internal emulator error at RIP ${hex64(cpu.insnRip)}: ${cpu.internalError?.stack ?? cpu.internalError}`);
        case Stop.HALT: if (!(cpu.flags & 0x200)) return done('halt'); break;
        case Stop.DEBUG: return done('stopped'); // a breakpoint or hook of cpu.hooks stopped the run
      }
    }
  }

  /** Deliver the gate's values due now (live: always; replay: only where the log has a poll unit). */
  private poll(): void {
    this.gate.poll(this.cpu.icount);
    this.polled = true;
  }

  /**
   * Run one slice on the current thread: up to `budget` instructions, stopping early at the next
   * logged poll point on replay. Returns the CPU stop reason. The gate is polled at slice ends.
   */
  private slice(budget: number, deadline = Infinity): number {
    const cpu = this.cpu, gate = this.gate, start = cpu.icount;
    if (!this.polled) this.poll();
    let n = budget;
    if (gate.mode === 'replay') {
      // a replaying machine polls exactly where the primary did
      for (;;) {
        const next = gate.nextPoll();
        if (next === undefined) return -1; // need more log
        if (next > cpu.icount) { n = Math.min(n, next - cpu.icount); break; }
        if (next < cpu.icount) throw new GateDivergence(`the log polls at icount ${next}, the machine is already at ${cpu.icount}`);
        if (!gate.poll(cpu.icount)) return -1; // the poll unit at this count is not complete yet
      }
    } else n = Math.min(n, POLL_SLICE);
    // bounded by host time too: a slice ends early (and polls, when live) once the deadline passed
    let stop: number;
    if (deadline === Infinity) stop = cpu.run(n);
    else {
      const end = cpu.icount + n;
      let t0 = performance.now(), t = t0;
      do {
        const k = this.timeCheck;
        stop = cpu.run(Math.min(k, end - cpu.icount));
        t = performance.now();
        // the next interval: about TIME_CHECK_MS at the rate just seen (halving or doubling at most)
        const dt = t - t0;
        t0 = t;
        if (dt > 2 * TIME_CHECK_MS) this.timeCheck = Math.max(TIME_CHECK_MIN, k >> 1);
        else if (dt < TIME_CHECK_MS / 2) this.timeCheck = Math.min(TIME_CHECK, k * 2);
        this.timeCheckHook?.();
      } while (stop === Stop.BUDGET && cpu.icount < end && !this.yieldNow && t < deadline);
    }
    if (gate.mode === 'live') {
      // Still halted in HLT since the last slice: poll only when a host value or a timer event is
      // due (an idle guest would otherwise log a Time record every millisecond of sleep). The slice
      // that enters HLT always polls, so a replay finds a poll unit wherever the guest halts.
      if (stop !== Stop.HALT || !cpu.halted || cpu.icount !== start || gate.idlePollDue()) gate.poll(cpu.icount);
    } else {
      const next = gate.nextPoll();
      const polled = next === cpu.icount && gate.poll(cpu.icount);
      // every record stamped before this count must have been consumed by now (else the machine
      // would wait for it forever: it is a divergence, reported here at once)
      gate.checkPassed(cpu.icount);
      if (!polled && stop === Stop.HALT && cpu.halted) {
        // halted, waiting for an interrupt that only a poll can bring (the unit at this count: not
        // complete yet, or held by the replay session until it took a record logged before it)
        if (next === undefined || next === cpu.icount) return -1;
        throw new GateDivergence(`the guest waits in HLT at instruction ${cpu.icount}, but the log's next poll is at ${next}`);
      }
    }
    return stop;
  }

  /**
   * Run until the guest exits, halts with interrupts off, faults, or `maxInstructions` (total,
   * counted from boot) have retired. Synchronous: while the guest waits in HLT for an interrupt,
   * this busy-polls the gate (fine for timers; console/network input needs runAsync). With
   * `deadline` (a performance.now() value, ms) it also ends, as 'budget', once that host time has
   * passed (checked every few thousand instructions): a caller slicing execution by time.
   */
  run(maxInstructions = Infinity, deadline = Infinity): RunResult {
    checkCount('maxInstructions', maxInstructions, true);
    this.enterRun('run');
    try { return this.runSync(maxInstructions, deadline); } finally { this.running = false; }
  }

  private runSync(maxInstructions: number, deadline: number): RunResult {
    const cpu = this.cpu;
    for (;;) {
      const left = maxInstructions - cpu.icount;
      if (left <= 0) return this.result('budget');
      const stop = this.slice(left, deadline);
      const done = this.finished(stop);
      if (done) return done;
      // `deadline` (performance.now() ms): end early, as 'budget' below maxInstructions
      if (deadline !== Infinity && performance.now() >= deadline) return this.result('budget');
    }
  }

  /**
   * Ends runAsync's current slice at its next time check (within one time check: at most TIME_CHECK = 10,000 instructions, fewer in slow code)
   * and turns the event loop once: an FT primary calls it when an output starts waiting, so the sync
   * mark covering it goes out at once rather than after the rest of the slice. Cleared at the turn.
   */
  requestYield(): void { this.yieldNow = true; }

  /** Like run(), but yields to the event loop every `yieldMs` and sleeps while the guest idles in HLT. */
  async runAsync(maxInstructions = Infinity, signal?: { aborted: boolean }): Promise<RunResult> {
    checkCount('maxInstructions', maxInstructions, true);
    this.enterRun('runAsync');
    try { return await this.runAsyncEntered(maxInstructions, signal); } finally { this.running = false; }
  }

  private async runAsyncEntered(maxInstructions: number, signal?: { aborted: boolean }): Promise<RunResult> {
    // the loop below turns the event loop: the wasm tier's modules are made at its turns, and compiled in
    // the background meanwhile (src/cpu/wasm; X86FT_WASM_BACKGROUND=0: at the turn, on this thread)
    const wasm = this.cpu.wasm;
    if (wasm === null) return this.runTurning(maxInstructions, signal);
    wasm.driven = true; wasm.background = WASM_BACKGROUND;
    try { return await this.runTurning(maxInstructions, signal); } finally {
      wasm.driven = false; wasm.background = false;
      if (wasm.queued !== 0) wasm.flush();
    }
  }

  private async runTurning(maxInstructions: number, signal?: { aborted: boolean }): Promise<RunResult> {
    const cpu = this.cpu;
    let lastYield = performance.now();
    for (;;) {
      const left = maxInstructions - cpu.icount;
      if (left <= 0) return this.result('budget');
      const stop = this.slice(left, lastYield + this.yieldMs);
      const done = this.finished(stop);
      if (done) {
        if (done.end !== 'wait-log') return done;
        if (cpu.wasm !== null && cpu.wasm.queued !== 0) cpu.wasm.flush();
        await new Promise((r) => setTimeout(r, 1));
        lastYield = performance.now();
        if (signal?.aborted) return done;
        continue;
      }
      // sleep only while nothing can wake the CPU: a poll that just raised an interrupt runs on at once
      // (a replaying machine never sleeps here: its polls come from the log, 'wait-log' waits for more)
      const idle = this.gate.mode === 'live' && stop === Stop.HALT && cpu.halted && !this.pic.intrPending();
      if (idle || this.yieldNow || performance.now() - lastYield >= this.yieldMs) {
        this.yieldNow = false;
        if (cpu.wasm !== null && cpu.wasm.queued !== 0) cpu.wasm.flush(); // compiled while the loop turns
        await new Promise((r) => (idle ? setTimeout(r, 1) : setImmediate(r)));
        lastYield = performance.now();
        if (signal?.aborted) return this.result('budget');
      }
    }
  }

  /** Maps a CPU stop to a final result, or null to keep running. */
  private finished(stop: number): RunResult | null {
    const cpu = this.cpu;
    const hookError = this.hookLayer?.takeError();
    if (hookError !== undefined) return this.result('internal-error', `a hook callback threw: ${hookError instanceof Error ? hookError.message : String(hookError)}`);
    switch (stop) {
      case -1: return this.result('wait-log');
      case Stop.BUDGET: return null;
      case Stop.DEBUG: return this.result('debug'); // a hook stopped it (cpu.hooks.reason); run again to resume
      case Stop.EXIT: return this.result('exit');
      case Stop.FAULT: return this.result('fault', cpu.fault?.message);
      case Stop.INTERNAL: return this.result('internal-error', `internal emulator error at RIP ${hex64(cpu.insnRip)}: ${cpu.internalError?.stack ?? cpu.internalError}`);
      case Stop.HALT:
        if (!(cpu.flags & 0x200)) return this.result('halt');
        return null; // waiting for an interrupt: the next slice polls the gate
      default: throw new InternalError(`unexpected stop ${STOP_NAMES[stop]}`);
    }
  }

  private result(end: RunEnd, message?: string): RunResult {
    return { end, status: end === 'exit' ? this.cpu.exitStatus : 0, instructions: this.cpu.icount, message };
  }

  /** Every device's state (named, versioned plain objects). */
  saveDevices(): DeviceStates {
    const s: DeviceStates = {
      pic: this.pic.saveState(), uart: this.uart.saveState(), pit: this.pit.saveState(), rtc: this.rtc.saveState(),
      debugExit: this.debugExit.saveState(),
    };
    this.disks.forEach((d, n) => { s[`disk${n}`] = d.saveState(); });
    this.nets.forEach((d, n) => { s[`net${n}`] = d.saveState(); });
    return s;
  }

  loadDevices(s: DeviceStates): void {
    const need = (k: string) => { if (!(k in s)) throw new BadStateError(`snapshot has no state for device '${k}'`); return s[k]; };
    this.pic.loadState(need('pic') as never); this.uart.loadState(need('uart') as never);
    this.pit.loadState(need('pit') as never); this.rtc.loadState(need('rtc') as never);
    this.debugExit.loadState(need('debugExit') as never);
    this.disks.forEach((d, n) => d.loadState(need(`disk${n}`) as never));
    this.nets.forEach((d, n) => d.loadState(need(`net${n}`) as never));
  }

  saveCpu(): CpuState { return saveCpu(this.cpu); }
  loadCpu(s: CpuState): void { loadCpu(this.cpu, s); this.polled = true; }
}
markRootClass(Machine);

/** emuStart's `begin`/`until`: a number (an integer; negative = sign-extended) or a bigint, nothing else
 *  (a string such as '0x100000' would otherwise be parsed by BigInt()). */
function emuAddress(what: string, v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw new InvalidArgumentError(`${what} must be an address (an integer or a bigint), got ${typeof v === 'number' ? String(v) : typeof v}`);
}
