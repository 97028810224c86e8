// Execution hooks: the one mechanism behind breakpoints, watchpoints, single-step (the gdb stub) and the
// library's hooks (Machine.hookAdd/hookDel, Unicorn-shaped). Hooks observe; they never change what the
// guest sees or what a replay does (nothing here is guest-visible state, snapshotted or digested).
//
// How every tier honours them: while a Hooks object with at least one hook, breakpoint or step request is
// attached (cpu.hooks !== null), Cpu.run() executes one instruction at a time (one REP iteration at a time,
// as the hardware's single-step trap does: SDM Vol. 3 §18.3.1.4) through the same block handlers the
// interpreter and compiled blocks use, and checks hooks at each instruction boundary. Memory hooks see RAM
// accesses too: while any is installed, translate() fills no read/write TLB entries, so every data access
// takes the CPU's slow path, which reports it. With no Hooks attached the hot path is untouched (one null
// check per Cpu.run() call and per slow-path access), and instruction counts are exact either way.
//
// Internal API (the embedder-facing one wraps it):
//   const h = new Hooks(); cpu.setHooks(h);
//   const id = h.add({ kind: 'code', begin, end, fn: (cpu, address, size) => { ... h.stopBefore(); } });
//   h.del(id);  h.breakpoints.add(address);  h.stepping = true;  cpu.setHooks(null)
// Addresses are linear (virtual) addresses as JS numbers, canonical and sign-extended (cpu.rip's form);
// ranges are half-open [begin, end). A run stopped by a hook returns Stop.DEBUG; h.reason says why.

import type { Cpu } from './cpu.js';
import { InvalidArgumentError } from '../errors.js';

/** Called before the instruction at `address` (`size` bytes) executes; may call hooks.stopBefore(). */
export type CodeHookFn = (cpu: Cpu, address: number, size: number) => void;
/** Called for a guest memory access of `size` bytes at linear `address`: `value` is the written value's
 *  low 32 bits for writes, 0 for reads and fetches. May call hooks.stopAfter() (watchpoints). */
export type MemHookFn = (cpu: Cpu, access: MemAccess, address: number, size: number, value: number) => void;
/** Called when an interrupt or exception with vector `vector` is about to be delivered through the IDT
 *  (also when there is no IDT and the run stops with a fault); `soft` for INT n/INT3/INTO (instructions
 *  that retire), false for exceptions and external interrupts; `errorCode` the exception's error code
 *  (-1: none). For a fault, cpu.rip is the faulting instruction and, for #PF, cpu.cr2 the address. */
export type IntrHookFn = (cpu: Cpu, vector: number, soft: boolean, errorCode: number) => void;
/** Called for a port access by IN, OUT, INS or OUTS (one per REP iteration): for 'in' after the device
 *  answered (`value` is what the guest gets), for 'out' before the device sees `value`. */
export type IoHookFn = (cpu: Cpu, dir: 'in' | 'out', port: number, size: 1 | 2 | 4, value: number) => void;
/** Called when SYSCALL at `address` starts (EFER.SCE set; it then completes as on hardware: RIP = LSTAR). */
export type SyscallHookFn = (cpu: Cpu, address: number) => void;

export type MemAccess = 'read' | 'write' | 'fetch';

/** One hook, by kind. `code`: before each instruction that starts in the range (an instruction that
 *  faults is reported, and again when the handler returns to it; each REP iteration is reported); `block`: before the first
 *  instruction of each straight-line block (after a control transfer, an interrupt, or the end of a decoded
 *  block) that starts in the range; `mem-*`: each access overlapping the range (wider than 4 bytes: in
 *  4-byte pieces); `intr`: every delivery; `io`: every port access; `syscall`: every SYSCALL.
 *  Only code, block and mem-* hooks (and breakpoints, stepping) make the CPU run one instruction at a
 *  time; intr, io and syscall hooks are called from paths that are slow anyway, so the fast tiers keep
 *  running (a stop they request with cpu.requestStop takes effect at the next instruction boundary). */
export type HookSpec =
  | { kind: 'code'; begin: number; end: number; fn: CodeHookFn }
  | { kind: 'block'; begin: number; end: number; fn: CodeHookFn }
  | { kind: 'mem-read'; begin: number; end: number; fn: MemHookFn }
  | { kind: 'mem-write'; begin: number; end: number; fn: MemHookFn }
  | { kind: 'mem-fetch'; begin: number; end: number; fn: MemHookFn }
  | { kind: 'intr'; fn: IntrHookFn }
  | { kind: 'io'; fn: IoHookFn }
  | { kind: 'syscall'; fn: SyscallHookFn };

/** Why the last run stopped with Stop.DEBUG. */
export interface DebugStop {
  kind: 'breakpoint' | 'step' | 'watch' | 'hook';
  /** Breakpoint/step/hook: RIP of the next instruction; watch: the accessed address. */
  address: number;
  access?: MemAccess;
}

export class Hooks {
  private readonly code: { id: number; begin: number; end: number; fn: CodeHookFn }[] = [];
  private readonly block: { id: number; begin: number; end: number; fn: CodeHookFn }[] = [];
  private readonly mem: { id: number; kind: string; begin: number; end: number; fn: MemHookFn }[] = [];
  private readonly intr: { id: number; fn: IntrHookFn }[] = [];
  private readonly io: { id: number; fn: IoHookFn }[] = [];
  private readonly sys: { id: number; fn: SyscallHookFn }[] = [];
  private nextId = 1;
  /** Stop before executing an instruction at one of these addresses. To resume from a breakpoint the run
   *  stopped at, call skipBreakpointOnce(cpu.rip) first. */
  readonly breakpoints = new Set<number>();
  private skip = NaN;
  /** Stop after every instruction (one REP iteration). */
  stepping = false;
  /** Memory hooks only observe (they never call stopBefore/stopAfter): the fast tiers keep running with them
   *  attached, every data access on the slow path, which reports each read and write to them (fetches are not
   *  reported). Inside such a hook cpu.icount is a lower bound of the accessing instruction's count (the
   *  count at its block's start), not the count itself. src/debug/timeline.ts scans for watchpoints this way. */
  memOnFastTiers = false;
  /** Set by stopBefore()/stopAfter(): 1 before, 2 after the current instruction. */
  pending = 0;
  /** Why the last Stop.DEBUG happened (null before any). */
  reason: DebugStop | null = null;

  /** True when memory hooks are installed (the CPU then keeps data accesses off its TLBs). */
  get watchesMemory(): boolean { return this.mem.length > 0; }
  /** True when breakpoints are all that is attached (no code, block, memory, interrupt, I/O or syscall hooks,
   *  not stepping): a run stops only at their addresses (src/debug/timeline.ts scans such runs fast). */
  get onlyBreakpoints(): boolean {
    return this.code.length === 0 && this.block.length === 0 && this.mem.length === 0 && !this.stepping &&
      this.intr.length === 0 && this.io.length === 0 && this.sys.length === 0;
  }

  /** The ranges of the data watch hooks (mem-read, mem-write) when they and breakpoints are all that is
   *  attached (no code, block, fetch, interrupt, I/O or syscall hook, not stepping): a run then stops only at
   *  a breakpoint address or after an access to one of these ranges. Null otherwise. */
  get watchRanges(): { kind: 'mem-read' | 'mem-write'; begin: number; end: number }[] | null {
    if (this.code.length > 0 || this.block.length > 0 || this.stepping || this.intr.length > 0 || this.io.length > 0 ||
      this.sys.length > 0 || this.mem.some((h) => h.kind === 'mem-fetch')) return null;
    return this.mem.map((h) => ({ kind: h.kind as 'mem-read' | 'mem-write', begin: h.begin, end: h.end }));
  }

  /** True when the CPU must run one instruction at a time (code, block or memory hooks unless they run on
   *  the fast tiers, breakpoints, stepping, a pending stop); false when only intr/io/syscall hooks are installed. */
  get needsStepping(): boolean {
    return this.code.length > 0 || this.block.length > 0 || (this.mem.length > 0 && !this.memOnFastTiers) || this.breakpoints.size > 0 ||
      this.stepping || this.pending !== 0 || !Number.isNaN(this.skip);
  }

  /** True when nothing is installed (no hook, breakpoint or step request). */
  get empty(): boolean {
    return this.code.length === 0 && this.block.length === 0 && this.mem.length === 0 && this.breakpoints.size === 0 &&
      !this.stepping && this.intr.length === 0 && this.io.length === 0 && this.sys.length === 0;
  }

  /** Install a hook; returns its handle for del(). A range with end <= begin is refused (RangeError). */
  add(spec: HookSpec): number {
    const id = this.nextId++;
    if (spec.kind === 'intr') { this.intr.push({ id, fn: spec.fn }); return id; }
    if (spec.kind === 'io') { this.io.push({ id, fn: spec.fn }); return id; }
    if (spec.kind === 'syscall') { this.sys.push({ id, fn: spec.fn }); return id; }
    if (!(spec.end > spec.begin)) throw new InvalidArgumentError(`hook range [${spec.begin}, ${spec.end}) is empty`);
    if (spec.kind === 'code') this.code.push({ id, begin: spec.begin, end: spec.end, fn: spec.fn });
    else if (spec.kind === 'block') this.block.push({ id, begin: spec.begin, end: spec.end, fn: spec.fn });
    else this.mem.push({ id, kind: spec.kind, begin: spec.begin, end: spec.end, fn: spec.fn });
    return id;
  }

  /** Remove a hook by handle; false when no such hook is installed. */
  del(id: number): boolean {
    for (const l of [this.code, this.block, this.mem, this.intr, this.io, this.sys] as { id: number }[][]) {
      const k = l.findIndex((h) => h.id === id);
      if (k >= 0) { l.splice(k, 1); return true; }
    }
    return false;
  }

  /** The next instruction, if it is at `address`, does not stop at a breakpoint there (resume). */
  skipBreakpointOnce(address: number): void { this.skip = address; }

  /** From a code/block hook: stop before this instruction (it does not execute). */
  stopBefore(): void { if (this.pending === 0) this.pending = 1; }
  /** From a memory hook (or a code hook): stop once this instruction (REP iteration) has retired. */
  stopAfter(): void { if (this.pending === 0) this.pending = 2; }

  // ---- called by the Cpu (slow paths only)

  /** Before an instruction; returns true to stop before it. */
  beforeInsn(cpu: Cpu, rip: number, size: number, blockStart: boolean): boolean {
    const skip = this.skip === rip;
    this.skip = NaN;
    this.pending = 0;
    this.reason = null;
    if (blockStart) for (const h of this.block) if (rip >= h.begin && rip < h.end) h.fn(cpu, rip, size);
    for (const h of this.code) if (rip >= h.begin && rip < h.end) h.fn(cpu, rip, size);
    if (this.mem.length > 0) this.memAccess(cpu, 'fetch', rip, size, 0);
    if (this.pending === 1) { this.reason = { kind: 'hook', address: rip }; return true; }
    if (!skip && this.breakpoints.has(rip)) { this.pending = 0; this.reason = { kind: 'breakpoint', address: rip }; return true; }
    return false;
  }

  /** After an instruction retired; returns true to stop now. */
  afterInsn(cpu: Cpu): boolean {
    if (this.pending === 2) { if (this.reason === null || this.reason.kind !== 'watch') this.reason = { kind: 'hook', address: cpu.rip }; this.pending = 0; return true; }
    if (this.stepping) { this.reason = { kind: 'step', address: cpu.rip }; return true; }
    return false;
  }

  /** A data access (or fetch) of [address, address+size). */
  memAccess(cpu: Cpu, access: MemAccess, address: number, size: number, value: number): void {
    const kind = access === 'read' ? 'mem-read' : access === 'write' ? 'mem-write' : 'mem-fetch';
    for (const h of this.mem) {
      if (h.kind === kind && address < h.end && address + size > h.begin) {
        const before = this.pending;
        h.fn(cpu, access, address, size, value);
        if (before === 0 && this.pending === 2) this.reason = { kind: 'watch', address: Math.max(address, h.begin), access };
      }
    }
  }

  intrDelivered(cpu: Cpu, vector: number, soft: boolean, errorCode = -1): void {
    for (const h of this.intr) h.fn(cpu, vector, soft, errorCode);
  }

  portAccess(cpu: Cpu, dir: 'in' | 'out', port: number, size: 1 | 2 | 4, value: number): void {
    for (const h of this.io) h.fn(cpu, dir, port, size, value);
  }

  syscall(cpu: Cpu, address: number): void {
    for (const h of this.sys) h.fn(cpu, address);
  }
}
