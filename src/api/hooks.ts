// The library's hooks (Machine.hookAdd / hookDel), Unicorn-shaped: one kind per hook, an address (or port)
// range, a handle to remove it, and one event type per kind (a discriminated union on `kind`). Built on the
// CPU's execution hooks (src/cpu/hooks.ts), whose semantics it keeps: hooks observe, they never change what
// the guest sees. Imports nothing from the host.

import type { Cpu } from '../cpu/cpu.js';
import { Hooks, type HookSpec, type MemAccess } from '../cpu/hooks.js';
import { InvalidArgumentError } from '../errors.js';
import { hex64 } from '../hex.js';

export type { MemAccess };

/** Before each instruction that starts in the range (each REP iteration; an instruction that faults is
 *  reported again when the guest's handler returns to it). `address`: its linear address; `size`: its
 *  length in bytes (1-15). The CPU runs one instruction at a time while such a hook is installed. */
export interface CodeEvent { kind: 'code'; address: number; size: number }
/** Before the first instruction of each straight-line block that starts in the range (after a control
 *  transfer, an interrupt, or the end of a decoded block); `size` is that first instruction's length. */
export interface BlockEvent { kind: 'block'; address: number; size: number }
/** A guest memory access overlapping the range, RAM included, before it happens (an access that then
 *  faults is reported too). `address` linear, `size` 1, 2 or 4 bytes (wider accesses come in 4-byte
 *  pieces); `value`: for 'mem-write' the written value's low 32 bits (unsigned), else 0. */
export interface MemEvent { kind: 'mem-read' | 'mem-write' | 'mem-fetch'; address: number; size: number; value: number }
/** A page fault (#PF, SDM Vol. 3A §4.7) at a linear address in the range: 'mem-unmapped' when no present
 *  translation exists (error code bit P = 0), 'mem-prot' when one exists but forbids the access (write to
 *  a read-only page, user access to a supervisor page, fetch from a no-execute page). Reported as the
 *  fault is delivered (or, with no IDT, as the run ends with 'fault'). `address` = CR2; `access` from
 *  the error code (bit 1 write, bit 4 instruction fetch); `errorCode` the #PF error code; `rip` the
 *  faulting instruction's address. */
export interface MemFaultEvent { kind: 'mem-unmapped' | 'mem-prot'; access: MemAccess; address: number; errorCode: number; rip: number }
/** An interrupt or exception about to be delivered (any vector; the range does not apply): `vector`
 *  0-255 (see Vec), `errorCode` (-1: none), `soft` for INT n / INT3 / INTO, `rip` where the guest
 *  resumes after the handler (a fault: the faulting instruction). */
export interface IntrEvent { kind: 'intr'; vector: number; errorCode: number; soft: boolean; rip: number }
/** An instruction whose address is in the range raised #UD (an undefined encoding, a LOCK where none is
 *  allowed, SYSCALL with EFER.SCE clear, …). `address`: that instruction. */
export interface InvalidInsnEvent { kind: 'insn-invalid'; address: number }
/** A port access by IN/INS ('in': after the device answered, `value` is what the guest gets) or OUT/OUTS
 *  ('out': before the device sees `value`), one per REP iteration, for a port in the range
 *  (ports 0-0xFFFF; `size` 1, 2 or 4 bytes). */
export interface PortEvent { kind: 'in' | 'out'; port: number; size: 1 | 2 | 4; value: number }
/** SYSCALL at `address` (in the range) starts; it then completes as on hardware (RCX = the next RIP,
 *  R11 = RFLAGS, RIP = LSTAR). To emulate the system call in the host, call emuStop() here, handle it
 *  when emuStart returns, and continue with emuStart(RCX, …). */
export interface SyscallEvent { kind: 'syscall'; address: number }

/** Every event a hook can receive, by `kind`. */
export type HookEvent = CodeEvent | BlockEvent | MemEvent | MemFaultEvent | IntrEvent | InvalidInsnEvent | PortEvent | SyscallEvent;
/** The kinds of hooks. */
export type HookKind = HookEvent['kind'];
/** The event a hook of kind K receives. */
export type HookEventOf<K extends HookKind> = Extract<HookEvent, { kind: K }>;
/** A hook's callback. The event object is reused for the hook's next call (no allocation per event):
 *  copy what you keep. A callback may call Machine.emuStop(); an exception it throws stops the run and
 *  is thrown again by emuStart (Machine.run reports it as 'internal-error'). */
export type HookCallback<K extends HookKind> = (event: HookEventOf<K>) => void;

/** Where a hook applies: the half-open range [begin, end). Addresses are linear (virtual); in the upper
 *  canonical half give them as bigints (0xffff8000_00000000n…) or as negative numbers (sign-extended, the
 *  form hook events use). For 'in'/'out' the range is of port numbers. Absent: everything. */
export interface HookRange { begin?: number | bigint; end?: number | bigint }

/** A handle returned by hookAdd, for hookDel. */
export type HookHandle = number;

const KINDS: readonly HookKind[] = ['code', 'block', 'mem-read', 'mem-write', 'mem-fetch', 'mem-unmapped', 'mem-prot',
  'intr', 'insn-invalid', 'in', 'out', 'syscall'];

function bound(v: number | bigint | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v === 'bigint') {
    if (v < -(1n << 63n) || v >= 1n << 64n) throw new InvalidArgumentError(`hook range ${what} ${hex64(v)} does not fit in 64 bits`);
    return Number(BigInt.asIntN(64, v));
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new InvalidArgumentError(`hook range ${what} must be an integer or a bigint, got ${String(v)}`);
  return v;
}

/** The hooks of one machine: owns the CPU's Hooks object while any is installed (and shares one that the
 *  gdb stub attached), detaches it when the last is removed, so no hook costs nothing. */
export class MachineHooks {
  private readonly ids = new Map<HookHandle, number[]>();
  private nextHandle = 1;
  /** The first exception a callback threw during the current run (the machine rethrows it). */
  error: unknown = undefined;

  /** `stop` ends the current run at once (the machine's reaction to a callback that threw). */
  constructor(private readonly cpu: Cpu, private readonly stop: () => void) {}

  /** Whether the CPU's Hooks object is ours (made here) or another user's (the gdb stub's). */
  private owned = false;

  private hooks(): Hooks {
    let h = this.cpu.hooks;
    if (h === null) { h = new Hooks(); this.cpu.setHooks(h); this.owned = true; }
    return h;
  }

  add<K extends HookKind>(kind: K, callback: HookCallback<K>, range: HookRange = {}): HookHandle {
    if (!KINDS.includes(kind)) throw new InvalidArgumentError(`unknown hook kind '${String(kind)}' (one of ${KINDS.join(', ')})`);
    if (typeof callback !== 'function') throw new InvalidArgumentError(`hook callback must be a function, got ${typeof callback}`);
    if (range === null || typeof range !== 'object') throw new InvalidArgumentError('hook range must be an object {begin?, end?}');
    if (kind === 'intr' && (range.begin !== undefined || range.end !== undefined)) throw new InvalidArgumentError("'intr' hooks take no range (they see every vector)");
    const begin = bound(range.begin, -Infinity, 'begin'), end = bound(range.end, Infinity, 'end');
    if (!(end > begin)) throw new InvalidArgumentError(`hook range [${String(range.begin)}, ${String(range.end)}) is empty`);
    const inRange = (a: number) => a >= begin && a < end;
    const ev = { kind } as Record<string, unknown>; // reused for every call of this hook
    const fire = (): boolean => {
      try { (callback as (e: unknown) => void)(ev); return false; } catch (e) {
        if (this.error === undefined) this.error = e;
        this.stop();
        return true;
      }
    };
    const h = this.hooks();
    const specs: HookSpec[] = [];
    switch (kind) {
      case 'code': case 'block':
        specs.push({ kind, begin, end, fn: (_c, address, size) => { ev.address = address; ev.size = size; if (fire()) h.stopBefore(); } });
        break;
      case 'mem-read': case 'mem-write': case 'mem-fetch':
        specs.push({ kind, begin, end, fn: (_c, _a, address, size, value) => { ev.address = address; ev.size = size; ev.value = value >>> 0; fire(); } });
        break;
      case 'mem-unmapped': case 'mem-prot': {
        const present = kind === 'mem-prot' ? 1 : 0;
        specs.push({ kind: 'intr', fn: (c, vector, soft, errorCode) => {
          if (vector !== 14 || soft || errorCode < 0 || (errorCode & 1) !== present || !inRange(c.cr2)) return;
          ev.access = errorCode & 0x10 ? 'fetch' : errorCode & 2 ? 'write' : 'read';
          ev.address = c.cr2; ev.errorCode = errorCode; ev.rip = c.rip; fire();
        } });
        break;
      }
      case 'intr':
        specs.push({ kind: 'intr', fn: (c, vector, soft, errorCode) => { ev.vector = vector; ev.soft = soft; ev.errorCode = errorCode; ev.rip = c.rip; fire(); } });
        break;
      case 'insn-invalid':
        specs.push({ kind: 'intr', fn: (c, vector, soft) => { if (vector === 6 && !soft && inRange(c.rip)) { ev.address = c.rip; fire(); } } });
        break;
      case 'in': case 'out':
        specs.push({ kind: 'io', fn: (_c, dir, port, size, value) => {
          if (dir === kind && inRange(port)) { ev.port = port; ev.size = size; ev.value = value >>> 0; fire(); }
        } });
        break;
      case 'syscall':
        specs.push({ kind: 'syscall', fn: (_c, address) => { if (inRange(address)) { ev.address = address; fire(); } } });
        break;
    }
    const handle = this.nextHandle++;
    this.ids.set(handle, specs.map((s) => h.add(s)));
    this.cpu.setHooks(h); // re-sync: memory hooks take data accesses off the TLB fast paths
    return handle;
  }

  /** Removes a hook; false when the handle is unknown (already removed). */
  del(handle: HookHandle): boolean {
    const ids = this.ids.get(handle);
    if (ids === undefined) return false;
    this.ids.delete(handle);
    const h = this.cpu.hooks;
    if (h !== null) {
      for (const id of ids) h.del(id);
      const detach = this.owned && h.empty; // nothing left: the fast paths run untouched
      this.cpu.setHooks(detach ? null : h);
      if (detach) this.owned = false;
    }
    return true;
  }

  /** The pending callback exception, cleared (undefined: none). */
  takeError(): unknown {
    const e = this.error;
    this.error = undefined;
    return e;
  }
}
