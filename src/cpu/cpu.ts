// The x86-64 CPU: architectural state, MMU with a software TLB, decoded-block cache, the run loop,
// and exception/interrupt delivery through the guest's IDT. Never touches the host: every outside value
// (RDTSC, RDRAND, port reads) comes from the CpuHost/Bus the machine provides.

import { takeSetBytes, type PhysMemory } from './memory.js';
import type { Bus, InterruptController } from '../machine/bus.js';
import { F, LF, arithFlags, materialize } from './flags.js';
import { decodeBlock, type Block } from './decoder.js';
import { installTable } from './table.js';
import { compileRegion, HOT_BLOCK, INLINE_DEFAULT, REGION_BLOCKS, REGION_LOCALS } from './compile.js';
import type { Hooks } from './hooks.js';
import { GuestFaultError } from '../errors.js';
import { cpuArrays } from './wasm/space.js';
import { WasmTier } from './wasm/compile.js';
import { envFlag } from '../env.js';
import { hex64 } from '../hex.js';

/** Why Cpu.run returned (a run-time enum: usable from JavaScript). */
export enum Stop {
  BUDGET = 0, // retired the whole budget
  HALT = 1, // HLT executed (cpu.halted is true until an interrupt arrives)
  EXIT = 2, // the machine asked to stop (debug-exit port, host request)
  FAULT = 3, // an exception the guest cannot handle (no IDT, triple fault)
  INTERNAL = 4, // an emulator bug; reported, never thrown
  DEBUG = 5, // a breakpoint, watchpoint, single-step or hook stopped the run (cpu.hooks.reason says which)
}

export const STOP_NAMES = ['budget', 'halt', 'exit', 'fault', 'internal-error', 'debug'];

/** Exception vectors (Intel SDM Vol. 3 §6.3.1). */
export enum Vec { DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19 }

/** Exceptions of the fault class (SDM Vol. 3A Table 6-1): #DE #BR #UD #NM #TS #NP #SS #GP #PF #MF #AC #XM #VE. */
const FAULT_CLASS: readonly boolean[] = [0, 5, 6, 7, 10, 11, 12, 13, 14, 16, 17, 19, 20].reduce((a, v) => { a[v] = true; return a; }, new Array<boolean>(32).fill(false));

export const VECTOR_NAMES: Record<number, string> = {
  0: '#DE divide error', 1: '#DB debug', 2: 'NMI', 3: '#BP breakpoint', 4: '#OF overflow', 5: '#BR bound', 6: '#UD invalid opcode',
  7: '#NM device not available', 8: '#DF double fault', 10: '#TS invalid TSS', 11: '#NP segment not present', 12: '#SS stack fault',
  13: '#GP general protection', 14: '#PF page fault', 16: '#MF x87 error', 17: '#AC alignment check', 18: '#MC machine check', 19: '#XM SIMD exception',
};

/** Thrown (one preallocated GuestFaultError) to unwind a faulting instruction; cpu.pendVec/pendErr say which. */
export const FAULT = new GuestFaultError();

/** Host services the CPU needs. Values cross the machine's gate; the CPU never reads the host itself. */
export interface CpuHost {
  /** Time-stamp counter at this instruction: write the 64-bit value into cpu.tmpLo/cpu.tmpHi. */
  rdtsc(cpu: Cpu): void;
  /** A random value for RDRAND/RDSEED: write into cpu.tmpLo/cpu.tmpHi. */
  rdrand(cpu: Cpu): void;
}

export interface FaultReport { vector: number; errorCode: number; rip: number; cr2: number; bytes: number[]; message: string }

const TLB_BITS = 10;
const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
const TWO32 = 4294967296;
const JC_MASK = 4095;

/** DR6.BS: the single-step trap (SDM Vol. 3B §17.2.3). */
const DR6_BS = 0x4000;
/** DR7 LENn encodings → bytes (00 1, 01 2, 10 8, 11 4). */
const DR_LEN = [1, 2, 8, 4];

/** Bits 0-3: which of DR0-DR3 are enabled (Ln or Gn) data breakpoints (R/W 01 write, 11 read/write). I/O (10)
 *  breakpoints are not raised. */
export function dataBreakpoints(dr7: number): number {
  let m = 0;
  for (let n = 0; n < 4; n++) if (((dr7 >>> (2 * n)) & 3) !== 0 && ((dr7 >>> (16 + 4 * n)) & 1) === 1) m |= 1 << n;
  return m;
}

/** Default host services: deterministic values derived from the instruction count. */
const deterministicHost: CpuHost = {
  rdtsc(c) { const t = c.icount * 4; c.tmpLo = t >>> 0; c.tmpHi = Math.floor(t / TWO32) | 0; },
  rdrand(c) { let x = (c.icount * 2654435761) >>> 0; x ^= x >>> 15; c.tmpLo = x; c.tmpHi = (x * 31) >>> 0; },
};

export class Cpu {
  // --- general registers: regs[2n] = low 32 bits, regs[2n+1] = high 32 bits (n = 0 RAX .. 15 R15)
  readonly regs: Int32Array;
  /** Byte view of regs: low byte of reg n at 8n, AH/CH/DH/BH at 8n+1. */
  readonly regs8: Uint8Array;
  /** 16-bit view: reg n at index 4n. */
  readonly regs16: Uint16Array;
  /** Instruction pointer as a JS number (canonical, sign-extended from bit 47). During an instruction: the next instruction. */
  rip = 0;
  /** Address of the instruction being executed (for faults). */
  insnRip = 0;

  // --- flags: `flags` holds every RFLAGS bit except, when lfOp != NONE, the six arithmetic ones (lazy).
  flags = 2;
  lfOp = LF.NONE as number; lfSz = 4; lfA = 0; lfAH = 0; lfB = 0; lfBH = 0; lfR = 0; lfRH = 0; lfCin = 0;

  // --- system state
  cr0 = 0x60000010; cr2 = 0; cr3 = 0; cr4 = 0; cr8 = 0; efer = 0;
  cpl = 0;
  readonly sel = new Uint16Array(6); // ES CS SS DS FS GS
  fsBase = 0; gsBase = 0; kernelGsBase = 0;
  gdtBase = 0; gdtLimit = 0; idtBase = 0; idtLimit = 0;
  ldtr = 0; tr = 0; tssBase = 0; tssLimit = 0;
  star = 0; lstar = 0; cstar = 0; sfmask = 0;
  apicBase = 0xfee00900; tscAux = 0; pat = 0x0007040600070406;
  /** Debug registers DR0-DR7 as written (DR6/DR7 with their fixed bits applied; SDM Vol. 3 §18.2). */
  readonly dr = Float64Array.of(0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400);
  // SSE state: XMM0-15 as 4 dwords each (xmm[4n] = bits 31:0 of XMMn), with views; MXCSR
  readonly xmm = new Int32Array(64);
  /** The XMM registers as unsigned words (the form src/cpu/fp/sse.ts works on). */
  readonly xmmU32 = new Uint32Array(this.xmm.buffer);
  readonly xmmU8 = new Uint8Array(this.xmm.buffer);
  readonly xmmU16 = new Uint16Array(this.xmm.buffer);
  readonly xmmF32 = new Float32Array(this.xmm.buffer);
  readonly xmmF64 = new Float64Array(this.xmm.buffer);
  mxcsr = 0x1f80;
  /** x87 unit state, owned by src/cpu/ops/x87 (null until that unit attaches itself). */
  x87: unknown = null;

  halted = false;
  /** STI/MOV SS shadow: interrupts are not taken before the next instruction retires. */
  intShadow = false;
  /** Set by MOV SS: debug traps of that instruction wait until after the next one (SDM Vol. 3A §6.8.3). */
  movSsShadow = false;
  /** Debug-trap DR6 bits (BS, B0-B3) held back by a MOV SS, delivered after the next instruction. Transient. */
  private heldDb = 0;
  /** Data-breakpoint hits (B0-B3) of the executing instruction, collected by memWatch() while DR7 arms one. */
  private dataHits = 0;
  /** Set by IRETQ: it loads RF, which the end of the instruction must not clear. */
  rfLoaded = false;
  /** Set when an instruction delivered a software interrupt (INT n, INT3, INTO): no single-step trap after it. */
  private softDelivered = false;
  /** Instructions retired since reset (REP iterations count one each); advanced at block ends. */
  icount = 0;
  /** The block being executed and the linear address of its first byte (for currentIcount; a compiled
   *  region sets them to the member it runs). */
  curBlock: Block | null = null;
  curBlockRip = 0;

  // --- scratch (avoids allocation): 64-bit results travel as (return value, cpu.hi)
  hi = 0; tmpLo = 0; tmpHi = 0;
  /** True only inside sysRead32: an implicit supervisor-mode access at any CPL (transient, never saved). */
  private implicitSv = false;

  // --- run-loop control
  /** Set by an instruction that must end the current block (SMC, MMIO, mode change, stop request). */
  brk = false;
  stopReason = Stop.BUDGET as number;
  stopRequested = false;
  exitStatus = 0;
  /** Extra retired instructions reported by a REP instruction (iterations beyond the first). */
  bonus = 0;
  /** Instructions the current block may retire (set once per block; see repBudget). */
  private blockLeft = 0;
  /** Set by a compiled block that throws: instructions it retired before the throw (-1: not set). */
  blockK = -1;
  /** Instructions a REP instruction may still retire in this run slice (including itself). */
  get repBudget(): number {
    const k = this.currentIndex();
    return k < 0 ? 1 : this.blockLeft - k;
  }

  /** Position of the executing instruction in the current block, or -1 outside a block. */
  private currentIndex(): number {
    const b = this.curBlock;
    if (b === null) return -1;
    const off = this.insnRip - this.curBlockRip;
    for (let k = 0; k < b.n; k++) if (b.insns[k].start === off) return k;
    return -1;
  }
  fault: FaultReport | null = null;
  internalError: Error | null = null;

  // --- exception being raised
  pendVec = -1; pendErr = -1;
  private deliveringDepth = 0;

  // --- MMU: software TLBs (read, write, exec) mapping linear page -> physical page (tag -1: empty)
  readonly tlbRTag: Float64Array;
  readonly tlbRPhys: Float64Array;
  readonly tlbWTag: Float64Array;
  readonly tlbWPhys: Float64Array;
  readonly tlbXTag: Float64Array;
  readonly tlbXPhys: Float64Array;
  /** The WebAssembly tier (src/cpu/wasm; the default), or null (X86FT_WASM=0, or WASM_TIER.on false when its memory was made): hot blocks compile to JavaScript only. */
  readonly wasm: WasmTier | null;
  readonly jcTag = new Float64Array(JC_MASK + 1).fill(NaN);
  readonly jcBlock: (Block | null)[] = new Array(JC_MASK + 1).fill(null);
  /** Bumped whenever the jump cache is cleared (the linear->physical mapping may have changed): block
   *  links (Block.l0/l1) made in an older epoch are not followed. */
  jcEpoch = 0;
  /** Follow block links between compiled blocks (false: every transition goes through the jump cache). */
  useLinks = envFlag('X86FT_BLOCK_LINKS');
  /** Blocks compiled from now on generate the common instruction forms inline (src/cpu/compile.ts; false:
   *  every instruction calls its handler). X86FT_INLINE=0 sets the default to false. */
  inlineSemantics = INLINE_DEFAULT;
  /** Executions after which a block is compiled (HOT_BLOCK; Infinity: this CPU only interprets). */
  hotBlock = HOT_BLOCK;
  /** Blocks one compiled function may hold (REGION_BLOCKS; 1: one block per function). */
  regionBlocks = REGION_BLOCKS;
  /** Regions hold guest registers in JS locals (REGION_LOCALS). */
  regionLocals = REGION_LOCALS;

  // --- decoded-block cache, keyed by physical address; invalidated per physical page on write
  readonly blocks = new Map<number, Block>();
  readonly codePage: Uint8Array;
  /** Pages written by the CPU since the last takeDirtyPages() (for replay digests): marked by translate()
   *  for a write and by every write-TLB hit (the stores' fast paths, here and in compiled blocks, and
   *  probeWrite), so the set is the pages a write translated or hit since the last take. */
  readonly dirty: Uint8Array;
  /** When set, takeDirtyPages() also marks here every page it takes (a live snapshot's pre-copy,
   *  src/replay/precopy.ts, keeps its own dirty set across digests; the store paths are untouched). */
  dirtyLog: Uint8Array | null = null;
  /** Something takes the dirty set (set by the first takeDirtyPages: a recorder, replayer, pre-copy,
   *  snapshot or timeline): blocks compiled from then on mark the pages they store to. Until then
   *  compiled stores skip the mark (`run` never takes the set) and the interpreter's still mark. */
  trackDirty = false;
  readonly pageBlocks = new Map<number, Block[]>();

  readonly mem: PhysMemory;
  readonly dv: DataView;
  readonly u8: Uint8Array;
  readonly ramSize: number;
  readonly bus: Bus;
  host: CpuHost = deterministicHost;
  intc: InterruptController | null = null;
  /** Execution hooks (src/cpu/hooks.ts); null: none, the fast paths run untouched. Set with setHooks(). */
  hooks: Hooks | null = null;
  /** Memory hooks installed: translate() fills no read/write TLB entries, so every access is reported. */
  private memHooked = false;

  constructor(mem: PhysMemory, bus: Bus) {
    this.mem = mem;
    this.dv = mem.dv;
    this.u8 = mem.u8;
    this.ramSize = mem.size;
    this.bus = bus;
    // the register file and TLBs live in the wasm tier's CPU area when there is one (src/cpu/wasm/space.ts)
    const area = mem.claimCpuArea();
    const a = cpuArrays(area < 0 ? null : mem.buffer, area);
    this.regs = a.regs;
    this.regs8 = new Uint8Array(a.regs.buffer, a.regs.byteOffset, 128);
    this.regs16 = new Uint16Array(a.regs.buffer, a.regs.byteOffset, 64);
    this.tlbRTag = a.tlbRTag; this.tlbRPhys = a.tlbRPhys; this.tlbWTag = a.tlbWTag; this.tlbWPhys = a.tlbWPhys; this.tlbXTag = a.tlbXTag; this.tlbXPhys = a.tlbXPhys;
    this.wasm = area < 0 ? null : new WasmTier(this, area);
    this.codePage = new Uint8Array(Math.ceil(mem.size / 4096));
    this.dirty = new Uint8Array(Math.ceil(mem.size / 4096));
    mem.onWrite = (p, len) => this.ramWritten(p, len);
    installTable();
  }

  // ===================================================================== registers

  /** 64-bit register n (0 RAX .. 15 R15) as a signed bigint (two's complement of the stored bits); slow path, for reports and the API edge. */
  reg64(n: number): bigint {
    return (BigInt(this.regs[2 * n + 1]) << 32n) | BigInt(this.regs[2 * n] >>> 0);
  }

  /** Sets 64-bit register n (0 RAX .. 15 R15) to the low 64 bits of v; slow path, for the API edge. */
  setReg64(n: number, v: bigint): void {
    this.regs[2 * n] = Number(v & 0xffffffffn) | 0;
    this.regs[2 * n + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
  }

  getRflags(): number {
    return ((this.flags & ~F.ARITH) | arithFlags(this) | 2) >>> 0;
  }

  /** Set all of RFLAGS (no privilege checks; POPF/IRET apply those themselves). */
  setRflags(v: number): void {
    this.lfOp = LF.NONE;
    this.flags = ((v & 0x3f7fd5) | 2) >>> 0;
  }

  // ===================================================================== memory: fast paths

  read8(la: number): number {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbRTag[i] === la - off) return this.u8[this.tlbRPhys[i] + off];
    return this.readSlow(la, 1);
  }

  read16(la: number): number {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbRTag[i] === la - off && off <= 4094) return this.dv.getUint16(this.tlbRPhys[i] + off, true);
    return this.readSlow(la, 2);
  }

  read32(la: number): number {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbRTag[i] === la - off && off <= 4092) return this.dv.getInt32(this.tlbRPhys[i] + off, true);
    return this.readSlow(la, 4);
  }

  /** 64-bit read: returns the low half, the high half goes to cpu.hi. */
  read64(la: number): number {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbRTag[i] === la - off && off <= 4088) {
      const p = this.tlbRPhys[i] + off;
      this.hi = this.dv.getInt32(p + 4, true);
      return this.dv.getInt32(p, true);
    }
    const lo = this.readSlow(la, 4);
    this.hi = this.readSlow(la + 4, 4);
    return lo;
  }

  /** Read of size sz (1,2,4,8); for 8 the high half goes to cpu.hi. */
  readN(la: number, sz: number): number {
    switch (sz) {
      case 1: return this.read8(la);
      case 2: return this.read16(la);
      case 4: return this.read32(la);
      default: return this.read64(la);
    }
  }

  write8(la: number, v: number): void {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbWTag[i] === la - off) { const p = this.tlbWPhys[i] + off; this.u8[p] = v; this.dirty[p >>> 12] = 1; return; }
    this.writeSlow(la, 1, v);
  }

  write16(la: number, v: number): void {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbWTag[i] === la - off && off <= 4094) { const p = this.tlbWPhys[i] + off; this.dv.setUint16(p, v, true); this.dirty[p >>> 12] = 1; return; }
    this.writeSlow(la, 2, v);
  }

  write32(la: number, v: number): void {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbWTag[i] === la - off && off <= 4092) { const p = this.tlbWPhys[i] + off; this.dv.setInt32(p, v, true); this.dirty[p >>> 12] = 1; return; }
    this.writeSlow(la, 4, v);
  }

  write64(la: number, lo: number, hi: number): void {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbWTag[i] === la - off && off <= 4088) {
      const p = this.tlbWPhys[i] + off;
      this.dv.setInt32(p, lo, true);
      this.dv.setInt32(p + 4, hi, true);
      this.dirty[p >>> 12] = 1;
      return;
    }
    // Probe both halves for write permission first, so a fault leaves memory untouched.
    this.translate(la, 1); this.translate(la + 7, 1);
    this.writeSlow(la, 4, lo);
    this.writeSlow(la + 4, 4, hi);
  }

  /**
   * Read of size sz for a read-modify-write destination (ALU ops, shifts, BTS/BTR/BTC, XCHG, XADD,
   * CMPXCHG…): checks write permission on every byte first, as the hardware's write-intent load does, so
   * the store that follows cannot fault after the instruction changed a register or a flag — a fault
   * leaves all state unchanged. High half of an 8-byte read in cpu.hi.
   */
  readRmw(la: number, sz: number): number {
    this.probeWrite(la, sz);
    return this.readN(la, sz);
  }

  /** Raises the fault (#PF, #GP) a write of sz bytes at la would raise, without writing anything. */
  probeWrite(la: number, sz: number): void {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbWTag[i] === la - off && off + sz <= 4096) { this.dirty[this.tlbWPhys[i] >>> 12] = 1; return; }
    this.translate(la, 1);
    if (off + sz > 4096) this.translate(la + sz - 1, 1);
  }

  writeN(la: number, sz: number, lo: number, hi: number): void {
    switch (sz) {
      case 1: this.write8(la, lo); return;
      case 2: this.write16(la, lo); return;
      case 4: this.write32(la, lo); return;
      default: this.write64(la, lo, hi); return;
    }
  }

  // ===================================================================== memory: slow paths

  /** Read sz (1,2,4) bytes at la, handling TLB misses, page crossings and MMIO. */
  readSlow(la: number, sz: number): number {
    if (this.memHooked) this.memWatch('read', la, sz, 0);
    const off = la & 4095;
    if (off + sz > 4096) {
      let v = 0;
      // translate both pages before reading anything (a fault must not have side effects)
      this.translate(la, 0); this.translate(la + sz - 1, 0);
      for (let k = sz - 1; k >= 0; k--) v = (v * 256) + this.physRead8(this.translate(la + k, 0));
      return sz === 4 ? v | 0 : v;
    }
    const p = this.translate(la, 0);
    if (p + sz <= this.ramSize) {
      switch (sz) {
        case 1: return this.u8[p];
        case 2: return this.dv.getUint16(p, true);
        default: return this.dv.getInt32(p, true);
      }
    }
    const v = this.bus.mmioRead(p, sz as 1 | 2 | 4);
    this.brk = true;
    return sz === 4 ? v | 0 : v;
  }

  writeSlow(la: number, sz: number, v: number): void {
    if (this.memHooked) this.memWatch('write', la, sz, v);
    const off = la & 4095;
    if (off + sz > 4096) {
      this.translate(la, 1); this.translate(la + sz - 1, 1);
      for (let k = 0; k < sz; k++) this.physWrite8(this.translate(la + k, 1), (v >>> (8 * k)) & 0xff);
      return;
    }
    const p = this.translate(la, 1);
    if (p + sz <= this.ramSize) {
      if (this.codePage[p >>> 12]) this.invalidateCode(p >>> 12);
      switch (sz) {
        case 1: this.u8[p] = v; return;
        case 2: this.dv.setUint16(p, v, true); return;
        default: this.dv.setInt32(p, v, true); return;
      }
    }
    this.bus.mmioWrite(p, sz as 1 | 2 | 4, v);
    this.brk = true;
  }

  /**
   * Read 4 bytes of a system table (IDT, GDT, LDT, TSS) at linear address la: an implicit supervisor-mode
   * access whatever the CPL (SDM Vol. 3A §4.6), so an OS may map these tables supervisor-only. A fault is a
   * #PF with U/S = 0 in its error code.
   */
  sysRead32(la: number): number {
    this.implicitSv = true;
    try {
      this.translate(la, 0); this.translate(la + 3, 0);
      let v = 0;
      for (let k = 3; k >= 0; k--) v = (v << 8) | this.physRead8(this.translate(la + k, 0));
      return v;
    } finally { this.implicitSv = false; }
  }

  /** Write one byte of a system table (a descriptor's accessed bit): a supervisor-mode access at any CPL. */
  sysWrite8(la: number, v: number): void {
    this.implicitSv = true;
    try {
      const p = this.translate(la, 1);
      // translate() marks no dirty page for an implicit supervisor access (it fills no TLB entry); a
      // pre-copy must still see the page changed (digests do not cover it: a change there would make
      // older logs replay as diverged)
      if (p < this.ramSize) { if (this.dirtyLog !== null) this.dirtyLog[p >>> 12] = 1; this.mem.used[p >>> 12] = 1; }
      this.physWrite8(p, v);
    } finally { this.implicitSv = false; }
  }

  physRead8(p: number): number {
    if (p < this.ramSize) return this.u8[p];
    this.brk = true;
    return this.bus.mmioRead(p, 1);
  }

  physWrite8(p: number, v: number): void {
    if (p < this.ramSize) {
      if (this.codePage[p >>> 12]) this.invalidateCode(p >>> 12);
      this.u8[p] = v;
      return;
    }
    this.brk = true;
    this.bus.mmioWrite(p, 1, v);
  }

  /** Physical 64-bit read for page walks (outside RAM reads as 0: not present). */
  private pte(p: number): number {
    if (p + 8 > this.ramSize) { this.hi = 0; return 0; }
    this.hi = this.dv.getInt32(p + 4, true);
    return this.dv.getInt32(p, true);
  }

  // ===================================================================== MMU

  /**
   * Translate linear address la for access (0 read, 1 write, 2 execute): returns the physical address,
   * fills the TLB, or raises #PF (SDM Vol. 3 §4.5, §4.7). Non-canonical addresses raise #GP(0).
   */
  translate(la: number, access: number): number {
    if (this.memHooked && access !== 2) {
      // the TLB entries the fast paths would have hit (their tags are offset while memory hooks are installed)
      const off = la & 4095, i = (la >>> 12) & TLB_MASK, tag = la - off + 0.5;
      if (access === 0 && this.tlbRTag[i] === tag) return this.tlbRPhys[i] + off;
      if (access === 1 && this.tlbWTag[i] === tag) {
        // a write-TLB hit marks its page dirty, as the fast paths do (never for an implicit supervisor access)
        if (!this.implicitSv) this.dirty[this.tlbWPhys[i] >>> 12] = 1;
        return this.tlbWPhys[i] + off;
      }
    }
    const hi = Math.floor(la / TWO32);
    if (hi < -32768 || hi > 32767) this.raise(Vec.GP, 0);
    if (!(this.cr0 & 0x80000000)) {
      if (access === 1 && (la >>> 0) < this.ramSize) this.dirty[(la >>> 0) >>> 12] = 1;
      return la >>> 0;
    }
    const lo = la >>> 0;
    const user = this.cpl === 3 && !this.implicitSv;
    const nxe = (this.efer & 0x800) !== 0;
    let table = this.cr3 & 0xfffff000; // assume CR3 below 4 GiB (high bits of CR3 ignored)
    let rw = 1, us = 1, nx = 0;
    let idx = (hi >>> 7) & 511;
    let e = 0, eh = 0, ea = 0;
    let pageSizeLog = 12;
    for (let level = 4; level >= 1; level--) {
      ea = table + idx * 8;
      e = this.pte(ea); eh = this.hi;
      if (!(e & 1)) this.pageFault(la, access, false);
      rw &= (e >> 1) & 1; us &= (e >> 2) & 1;
      if (nxe && eh < 0) nx = 1;
      if ((level === 3 || level === 2) && (e & 0x80)) {
        if (!(e & 0x20) && ea + 8 <= this.ramSize) { this.dv.setInt32(ea, e | 0x20, true); this.mem.written(ea, 4); }
        pageSizeLog = level === 3 ? 30 : 21;
        break;
      }
      if (level === 4 && (e & 0x80)) this.pageFault(la, access, true);
      if (!(e & 0x20) && ea + 8 <= this.ramSize) { this.dv.setInt32(ea, e | 0x20, true); this.mem.written(ea, 4); } // accessed
      table = (eh & 0xfffff) * TWO32 + ((e & 0xfffff000) >>> 0);
      if (level === 4) idx = ((hi << 2) | (lo >>> 30)) & 511;
      else if (level === 3) idx = (lo >>> 21) & 511;
      else if (level === 2) idx = (lo >>> 12) & 511;
      if (level === 1) break;
    }
    // permission checks
    if (access === 1 && !rw && (user || (this.cr0 & 0x10000))) this.pageFault(la, access, false, true);
    if (user && !us) this.pageFault(la, access, false, true);
    if (access === 2 && nx) this.pageFault(la, access, false, true);
    // accessed/dirty bits on the final entry
    let ne = e | 0x20;
    if (access === 1) ne |= 0x40;
    if (ne !== e && ea + 8 <= this.ramSize) { this.dv.setInt32(ea, ne, true); this.mem.written(ea, 4); }
    // frame base
    let frame: number;
    const frameHi = (eh & 0xfffff) * TWO32;
    if (pageSizeLog === 12) frame = frameHi + ((e & 0xfffff000) >>> 0);
    else if (pageSizeLog === 21) frame = frameHi + ((e & 0xffe00000) >>> 0) + ((lo & 0x1ff000) >>> 0);
    else frame = frameHi + ((e & 0xc0000000) >>> 0) + ((lo & 0x3ffff000) >>> 0);
    const pageLa = la - (la & 4095);
    const i = (lo >>> 12) & TLB_MASK;
    // Only RAM pages are cached: MMIO always takes the slow path.
    // Only RAM pages are cached, and never for an implicit supervisor access at CPL 3 (the TLB is per privilege).
    if (frame + 4096 <= this.ramSize && !this.implicitSv) {
      // every CPU write reaches RAM through a write-TLB entry filled here (or through this slow path)
      if (access === 1) this.dirty[frame / 4096] = 1;
      if (access === 2) { this.tlbXTag[i] = pageLa; this.tlbXPhys[i] = frame; }
      // (while memory hooks are installed the tags are offset by 0.5, see syncMemHooks)
      const tag = this.memHooked ? pageLa + 0.5 : pageLa;
      this.tlbRTag[i] = tag; this.tlbRPhys[i] = frame;
      if (access === 1 && !this.codePage[frame / 4096]) { this.tlbWTag[i] = tag; this.tlbWPhys[i] = frame; }
    }
    return frame + (la & 4095);
  }

  private pageFault(la: number, access: number, rsvd: boolean, present = false): never {
    this.cr2 = la;
    let err = present ? 1 : 0;
    if (access === 1) err |= 2;
    if (this.cpl === 3 && !this.implicitSv) err |= 4;
    if (rsvd) err |= 8 | 1;
    if (access === 2 && (this.efer & 0x800)) err |= 16;
    this.raise(Vec.PF, err);
  }

  /**
   * Physical page numbers the CPU wrote since the last call, in ascending order; clears the set (the
   * pages stay marked in PhysMemory.used). The write TLB stays: every write-TLB hit marks its page, so
   * the set is the one a dropped write TLB would give (each hit would then have been a fill, which
   * marks) without sending the next store to each page through translate() — compiled code that never
   * ran that path was deoptimised after every digest. The first call drops the write TLB and the
   * compiled functions (compiled without marks: they compile again, with them) and sets trackDirty.
   * The WebAssembly tier's stores do not mark: with it the write TLB is dropped at every call.
   */
  takeDirtyPages(): number[] {
    const out = takeSetBytes(this.dirty, []);
    const log = this.dirtyLog, used = this.mem.used;
    for (const p of out) { used[p] = 1; if (log !== null) log[p] = 1; }
    if (!this.trackDirty || this.wasm !== null) this.tlbWTag.fill(-1);
    if (!this.trackDirty) {
      this.trackDirty = true;
      for (const b of this.blocks.values()) b.fn = null;
    }
    return out;
  }

  flushTlb(): void {
    this.tlbRTag.fill(-1); this.tlbWTag.fill(-1); this.tlbXTag.fill(-1);
    this.jcTag.fill(NaN); this.jcEpoch++;
  }

  invlpg(la: number): void {
    const i = (la >>> 12) & TLB_MASK;
    this.tlbRTag[i] = -1; this.tlbWTag[i] = -1; this.tlbXTag[i] = -1;
    this.jcTag.fill(NaN); this.jcEpoch++;
  }

  // ===================================================================== decoded-code cache

  /** A physical page is now holding decoded code: writes to it must take the slow path. */
  markCodePage(ppage: number): void {
    if (ppage >= this.codePage.length || this.codePage[ppage]) return;
    this.codePage[ppage] = 1;
    const base = ppage * 4096;
    for (let i = 0; i < TLB_SIZE; i++) if (this.tlbWTag[i] !== -1 && this.tlbWPhys[i] === base) this.tlbWTag[i] = -1;
  }

  registerBlock(b: Block): void {
    this.blocks.set(b.phys, b);
    const p0 = Math.floor(b.phys / 4096), p1 = Math.floor(b.physEnd / 4096);
    for (const pg of p0 === p1 ? [p0] : [p0, p1]) {
      this.markCodePage(pg);
      let l = this.pageBlocks.get(pg);
      if (!l) { l = []; this.pageBlocks.set(pg, l); }
      l.push(b);
    }
  }

  /** Self-modifying code: forget every block decoded from this physical page. */
  invalidateCode(ppage: number): void {
    const l = this.pageBlocks.get(ppage);
    if (l) {
      for (const b of l) { b.valid = false; if (this.blocks.get(b.phys) === b) this.blocks.delete(b.phys); }
      this.pageBlocks.delete(ppage);
    }
    this.codePage[ppage] = 0;
    this.brk = true; // the running block may be stale
  }

  /** RAM [phys, phys+len) changed outside the CPU's stores (DMA, restore, loader): its decoded code is stale. */
  ramWritten(phys: number, len: number): void {
    const last = Math.min(Math.floor((phys + len - 1) / 4096), this.codePage.length - 1);
    for (let pg = Math.floor(phys / 4096); pg <= last; pg++) if (this.codePage[pg]) this.invalidateCode(pg);
  }

  /** Drop every decoded block (used after restoring a snapshot). */
  flushCode(): void {
    for (const b of this.blocks.values()) b.valid = false;
    this.blocks.clear(); this.pageBlocks.clear(); this.codePage.fill(0);
  }

  /** Instruction fetch: translate for execution (exec TLB first). */
  fetchPhys(la: number): number {
    const off = la & 4095;
    const i = (la >>> 12) & TLB_MASK;
    if (this.tlbXTag[i] === la - off) return this.tlbXPhys[i] + off;
    return this.translate(la, 2);
  }

  /** Fetch one instruction byte at linear address la (decoder use). */
  fetchByte(la: number): number {
    const p = this.fetchPhys(la);
    // Executing outside RAM (MMIO, or past the end of RAM) is not supported: a #PF as for a present page the
    // fetch may not use, CR2 = that byte's linear address (the first byte of that page when an instruction
    // runs into it), error code P | I/D (and U/S at CPL 3), as pageFault gives it (SDM Vol. 3A §4.7).
    if (p >= this.ramSize) this.pageFault(la, 2, false, true);
    return this.u8[p];
  }

  // ===================================================================== exceptions

  /** Raise exception `vec` (errorCode -1: none) for the current instruction; unwinds with FAULT. */
  raise(vec: number, errorCode = -1): never {
    this.pendVec = vec;
    this.pendErr = errorCode;
    throw FAULT;
  }

  /**
   * Something the guest asked for that x86ft does not implement (e.g. a far transfer to compatibility mode):
   * the instruction does not retire, and the run stops with a fault report (vector -1) naming it — never a guess.
   */
  unsupported(what: string): never {
    this.recordFault(-1, -1, `not supported by x86ft: ${what}`);
    this.pendVec = -1;
    this.pendErr = -1;
    throw FAULT;
  }

  /** Request that the run loop stops at the next instruction boundary. */
  requestStop(reason: number, status = 0): void {
    this.stopRequested = true;
    this.stopReason = reason;
    this.exitStatus = status;
    this.brk = true;
  }

  private canonical(x: number): boolean {
    const h = Math.floor(x / TWO32);
    return h >= -32768 && h <= 32767;
  }

  private push64(lo: number, hi: number): void {
    const rsp = this.regs[8] >>> 0, rspH = this.regs[9];
    let nl = rsp - 8, nh = rspH;
    if (nl < 0) { nl += TWO32; nh = (nh - 1) | 0; }
    this.write64(nh * TWO32 + nl, lo, hi);
    this.regs[8] = nl | 0; this.regs[9] = nh;
  }

  /**
   * Deliver an exception or interrupt through the 64-bit IDT (SDM Vol. 3 §6.14).
   * `soft` is set for INT n / INT3 / INTO (DPL check, RIP already points after the instruction).
   * Returns false when the guest cannot handle it (the machine stops with a fault report).
   */
  deliver(vec: number, errorCode: number, soft: boolean): boolean {
    if (this.hooks !== null) this.hooks.intrDelivered(this, vec, soft, errorCode);
    if (this.idtLimit === 0 && !soft) { this.recordFault(vec, errorCode); return false; }
    this.deliveringDepth++;
    try {
      this.deliverInner(vec, errorCode, soft);
      this.deliveringDepth = 0;
      return true;
    } catch (e) {
      if (e !== FAULT) throw e;
      // A fault while delivering: contributory/page faults escalate to #DF, a fault in #DF is a triple fault.
      const v2 = this.pendVec, err2 = this.pendErr;
      if (vec === Vec.DF || this.deliveringDepth > 2) {
        this.deliveringDepth = 0;
        const named = (v: number, e: number) => `${VECTOR_NAMES[v] ?? 'vector ' + v}${e >= 0 ? ` (error code 0x${e.toString(16)})` : ''}`;
        this.recordFault(vec, errorCode, `triple fault (${named(v2, err2)} while delivering ${named(vec, errorCode)})`, this.insnRip, true);
        return false;
      }
      const benign = (x: number) => x === 1 || x === 2 || x === 3 || x === 4 || x === 5 || x === 6 || x === 7 || x === 9 || x === 16 || x === 17 || x === 18 || x === 19 || x >= 32;
      if (benign(vec) || benign(v2) || (vec !== Vec.PF && v2 === Vec.PF)) {
        return this.deliver(v2, err2, false);
      }
      return this.deliver(Vec.DF, 0, false);
    }
  }

  private deliverInner(vec: number, errorCode: number, soft: boolean): void {
    const off = vec * 16;
    if (off + 15 > this.idtLimit) this.raise(Vec.GP, vec * 8 + 2 + (soft ? 0 : 1));
    const ga = this.idtBase + off;
    const w0 = this.sysRead32(ga), w1 = this.sysRead32(ga + 4), w2 = this.sysRead32(ga + 8);
    const type = (w1 >> 8) & 0xf, dpl = (w1 >> 13) & 3, present = (w1 >> 15) & 1;
    if (type !== 0xe && type !== 0xf) this.raise(Vec.GP, vec * 8 + 2 + (soft ? 0 : 1));
    if (soft && dpl < this.cpl) this.raise(Vec.GP, vec * 8 + 2);
    if (!present) this.raise(Vec.NP, vec * 8 + 2 + (soft ? 0 : 1));
    const selector = (w0 >>> 16) & 0xffff;
    const target = w2 * TWO32 + (((w1 & 0xffff0000) | (w0 & 0xffff)) >>> 0);
    if (!this.canonical(target)) this.raise(Vec.GP, 0);
    const ist = w1 & 7;
    const newCpl = this.descriptorDpl(selector);
    const oldSs = this.sel[2], oldRspLo = this.regs[8], oldRspHi = this.regs[9];
    const oldFlags = this.getRflags();
    const oldCs = this.sel[1];
    if (ist !== 0 || newCpl < this.cpl) {
      const slot = ist !== 0 ? 0x24 + (ist - 1) * 8 : 0x4 + newCpl * 8;
      const lo = this.sysRead32(this.tssBase + slot), hi = this.sysRead32(this.tssBase + slot + 4);
      this.regs[8] = lo; this.regs[9] = hi;
    }
    // 64-bit mode aligns the new stack to 16 bytes.
    this.regs[8] &= ~15;
    const savedCpl = this.cpl;
    if (newCpl !== this.cpl) { this.cpl = newCpl; this.flushTlb(); }
    try {
      this.push64(oldSs, 0); // the interrupted SS, also on a privilege change (SDM Vol. 3A §6.14.2)
      this.push64(oldRspLo, oldRspHi);
      // fault-class exceptions push RF set (SDM Vol. 3A §17.3.1.1), so an IRET restarting the faulting
      // instruction does not take an instruction breakpoint on it again
      this.push64(!soft && vec < 32 && FAULT_CLASS[vec] ? oldFlags | F.RF : oldFlags, 0);
      this.push64(oldCs, 0);
      this.push64(this.rip >>> 0, Math.floor(this.rip / TWO32) | 0);
      if (errorCode >= 0) this.push64(errorCode, 0);
    } catch (e) {
      this.regs[8] = oldRspLo; this.regs[9] = oldRspHi;
      if (this.cpl !== savedCpl) { this.cpl = savedCpl; this.flushTlb(); }
      throw e;
    }
    if (newCpl !== savedCpl) this.sel[2] = 0;
    this.sel[1] = (selector & ~3) | newCpl;
    materialize(this);
    this.flags &= ~(F.TF | F.NT | F.RF | F.VM | (type === 0xe ? F.IF : 0));
    this.rip = target;
    this.halted = false;
  }

  /** DPL of a code-segment descriptor in the GDT (0 if it cannot be read). */
  descriptorDpl(selector: number): number {
    const idx = selector & ~7;
    if (idx === 0 || idx + 7 > this.gdtLimit) return 0;
    try { return (this.sysRead32(this.gdtBase + idx + 4) >> 13) & 3; } catch (e) { if (e === FAULT) return 0; throw e; }
  }

  /**
   * The run stops with a fault report: `what` (default 'unhandled <vector name> (error code …)') then, as
   * every status-126 report has them, the RIP (`rip`, default the faulting instruction), the error code
   * and CR2 where they apply (`cr2`: #PF, or a triple fault whose chain may hold one) and the bytes of the
   * instruction at that RIP. Reading those bytes leaves CR2 and the pending fault as they were. The
   * report's `rip` field stays the faulting instruction's (as before), whatever RIP the message names.
   */
  private recordFault(vec: number, errorCode: number, what?: string, rip = this.insnRip, cr2 = vec === Vec.PF): void {
    const bytes: number[] = [];
    const savedCr2 = this.cr2, pendVec = this.pendVec, pendErr = this.pendErr;
    for (let k = 0; k < 15; k++) {
      try { bytes.push(this.fetchByte(rip + k)); } catch { break; }
    }
    this.cr2 = savedCr2; this.pendVec = pendVec; this.pendErr = pendErr;
    const name = VECTOR_NAMES[vec] ?? `vector ${vec}`;
    const err = errorCode >= 0 ? ` (error code 0x${errorCode.toString(16)})` : '';
    this.fault = {
      vector: vec, errorCode, rip: this.insnRip, cr2: this.cr2, bytes,
      message: `${what ?? `unhandled ${name}${err}`} at RIP ${hex64(rip)}` + (cr2 ? `, CR2 ${hex64(this.cr2)}` : '') +
        `; instruction bytes: ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ') || '(unreadable)'}`,
    };
    this.stopRequested = true;
    this.stopReason = Stop.FAULT;
  }

  // ===================================================================== run loop

  /**
   * Code probe (src/debug/timeline.ts: reverse-continue's scan on the fast tiers): linear addresses, and
   * codeProbeHit set once a block starting at a linear address whose bytes may cover one of them is looked up
   * past the jump cache. After flushCode() every executed instruction's block passes there first, so a run
   * that leaves codeProbeHit false never executed an instruction at those addresses (true: it may have).
   * Null (the default) costs one test per jump-cache miss, never one per instruction.
   */
  codeProbe: ReadonlySet<number> | null = null;
  codeProbeHit = false;
  private probeBlock(rip: number, b: Block): void {
    // the block's linear span: its bytes plus a last instruction's (at most 15) — wide is safe, only slower
    const end = rip + (b.physEnd - b.phys) + 15;
    for (const a of this.codeProbe!) if (a >= rip && a < end) { this.codeProbeHit = true; return; }
  }

  private blockAt(rip: number): Block {
    // jump cache: linear RIP -> block, cleared whenever the linear->physical mapping may change
    const j = ((rip >>> 0) ^ ((rip >>> 0) >>> 11)) & JC_MASK;
    if (this.jcTag[j] === rip) {
      const cached = this.jcBlock[j] as Block;
      if (cached.valid) return cached;
    }
    const phys = this.fetchPhys(rip);
    let b = this.blocks.get(phys);
    if (b === undefined) {
      b = decodeBlock(this, rip, phys);
      this.registerBlock(b);
    }
    if (this.codeProbe !== null) this.probeBlock(rip, b);
    this.jcTag[j] = rip;
    this.jcBlock[j] = b;
    return b;
  }

  /**
   * Run until exactly `budget` instructions have retired, or the guest halts, exits or faults.
   * One instruction = one retired x86 instruction; each iteration of a REP-prefixed string
   * instruction counts as one instruction (so RCX=5 REP MOVSB retires 5, RCX=0 retires 1).
   * Exceptions and interrupt deliveries are not instructions; INT n, INT3 and a faulting
   * instruction's handler's instructions are. Returns the Stop reason.
   */
  run(budget: number): number {
    const stop = this.runBlocks(budget);
    // the wasm functions generated for blocks that got hot in this run, compiled between runs (src/cpu/wasm;
    // under Machine.runAsync, at its event-loop turns)
    if (this.wasm !== null && this.wasm.queued !== 0 && !this.wasm.driven) this.wasm.flush();
    return stop;
  }

  private runBlocks(budget: number): number {
    this.fault = null; // a report belongs to the run that stopped on it
    if (this.hooks !== null) {
      if (this.hooks.needsStepping) return this.runHooked(budget, this.hooks);
      this.syncMemHooks(); // intr/io/syscall hooks only: the fast tiers run, they call those hooks
    }
    this.stopRequested = false;
    this.stopReason = Stop.BUDGET;
    let remaining = budget;
    while (remaining > 0) {
      let limit = remaining;
      // interrupts are taken on instruction boundaries, only here (blocks end where IF or the PIC can change)
      if (this.intShadow) {
        // STI/MOV SS shadow: exactly one more instruction runs before any interrupt is taken
        this.intShadow = false;
        limit = 1;
      } else if ((this.flags & F.IF) && this.intc !== null && this.intc.intrPending()) {
        const vec = this.intc.intrAcknowledge();
        this.halted = false;
        if (!this.deliverInterrupt(vec)) break;
        if (this.stopRequested) break; // an interrupt hook asked to stop
        continue;
      }
      if (this.halted) return Stop.HALT;
      // the trap flag, RF and DR7 breakpoints: one test per block, not per instruction (blocks end wherever
      // TF, RF or DR7 can change); while any is active, instructions run one at a time through stepDebug()
      const k = (this.flags & (F.TF | F.RF)) !== 0 || (this.dr[7] & 0xff) !== 0 ? this.stepDebug() : this.runBlock(limit);
      remaining -= k;
      if (this.stopRequested) break;
      if (this.halted) { return Stop.HALT; }
    }
    return this.stopReason;
  }

  /**
   * One instruction (one REP iteration) with the debug facilities of SDM Vol. 3B ch. 17 (18 in newer editions):
   * an enabled execute breakpoint at RIP raises a #DB fault before it (not when RF = 1); after an instruction
   * that retires, a single-step trap (TF was set when it began; DR6.BS) and enabled data breakpoints its accesses
   * hit (DR6.Bn) raise one #DB trap — held back one more instruction after MOV SS. RF is cleared after every
   * retired instruction except IRETQ, which loads it. Returns the instructions retired (0 or 1).
   */
  private stepDebug(): number {
    const dr7 = this.dr[7];
    this.syncMemHooks();
    if ((dr7 & 0xff) !== 0 && (this.flags & F.RF) === 0) {
      let hit = 0;
      for (let n = 0; n < 4; n++) if (((dr7 >>> (2 * n)) & 3) !== 0 && ((dr7 >>> (16 + 4 * n)) & 3) === 0 && this.dr[n] === this.rip) hit |= 1 << n;
      if (hit !== 0) {
        this.dr[6] = ((this.dr[6] & ~0xf) | hit) >>> 0;
        this.insnRip = this.rip;
        this.deliver(Vec.DB, -1, false);
        return 0;
      }
    }
    const tf = (this.flags & F.TF) !== 0;
    this.dataHits = 0; this.movSsShadow = false; this.softDelivered = false; this.rfLoaded = false;
    const k = this.runBlock(1);
    if (k === 0 || this.stopRequested) return k; // faulted (and delivered) or stopped: no trap, RF unchanged
    if (!this.rfLoaded) this.flags &= ~F.RF;
    let bits = this.dataHits | (tf && !this.softDelivered ? DR6_BS : 0);
    if (this.movSsShadow) { this.heldDb |= bits; return k; }
    bits |= this.heldDb; this.heldDb = 0;
    if (bits !== 0) {
      this.dr[6] = ((this.dr[6] & ~0xf) | bits) >>> 0;
      this.insnRip = this.rip;
      this.deliver(Vec.DB, -1, false);
    }
    return k;
  }

  /** A data access on the slow path while memory is watched: the hooks, and DR0-DR3 data breakpoints. */
  private memWatch(access: 'read' | 'write', la: number, sz: number, v: number): void {
    if (this.hooks !== null && this.hooks.watchesMemory) this.hooks.memAccess(this, access, la, sz, v);
    const dr7 = this.dr[7];
    const armed = dataBreakpoints(dr7);
    if (armed === 0) return;
    for (let n = 0; n < 4; n++) {
      if ((armed & (1 << n)) === 0) continue;
      const rw = (dr7 >>> (16 + 4 * n)) & 3;
      if (rw === 1 && access !== 'write') continue;
      const len = DR_LEN[(dr7 >>> (18 + 4 * n)) & 3];
      const a = this.dr[n], base = a - (((a % len) + len) % len); // the low address bits a length masks are ignored
      if (la < base + len && la + sz > base) this.dataHits |= 1 << n;
    }
  }

  /** Attach execution hooks (null detaches). Observation only: never changes what the guest does. */
  setHooks(h: Hooks | null): void {
    this.hooks = h;
    this.syncMemHooks();
  }

  /**
   * Memory hooks need every data access on the slow path without changing what the TLB holds (a guest
   * sees its TLB through A/D bits and stale entries): while they are installed, read/write TLB tags are
   * stored offset by 0.5, so the fast paths' integer compare misses and translate() finds them instead.
   */
  syncMemHooks(): void {
    const on = (this.hooks !== null && this.hooks.watchesMemory) || dataBreakpoints(this.dr[7]) !== 0;
    if (on === this.memHooked) return;
    this.memHooked = on;
    const d = on ? 0.5 : -0.5;
    for (const t of [this.tlbRTag, this.tlbWTag]) for (let i = 0; i < TLB_SIZE; i++) if (t[i] !== -1) t[i] += d;
  }

  /**
   * run() with hooks attached: one instruction (REP iteration) per step, hooks checked at each boundary.
   * Same instructions, same interrupt points (interrupts are only taken where a block would end anyway:
   * nothing makes one pending unless an instruction sets brk), same counts as the unhooked loop.
   */
  private hookResumeRip = NaN;
  private hookResumeBlock = true;
  private runHooked(budget: number, h: Hooks): number {
    this.stopRequested = false;
    this.stopReason = Stop.BUDGET;
    let remaining = budget;
    // a run that goes on where the last hooked run stopped continues its block (emuStart steps one
    // instruction per run() while it watches for an address)
    let blockStart = this.rip !== this.hookResumeRip || this.hookResumeBlock;
    while (remaining > 0) {
      this.syncMemHooks();
      if (this.intShadow) {
        // STI/MOV SS shadow: cleared below, once the instruction it protects is about to run
      } else if ((this.flags & F.IF) && this.intc !== null && this.intc.intrPending()) {
        const vec = this.intc.intrAcknowledge();
        this.halted = false;
        if (!this.deliverInterrupt(vec)) break;
        if (this.stopRequested) break; // an interrupt hook asked to stop
        blockStart = true;
        continue;
      }
      if (this.halted) return Stop.HALT;
      const start = this.rip;
      let b: Block | null = null;
      try { b = this.blockAt(start); } catch (e) { if (e !== FAULT) throw e; /* runBlock raises it again and delivers it */ }
      if (b !== null) {
        const insn = b.insns[0];
        if (h.beforeInsn(this, start, insn.end - insn.start, blockStart)) { this.stopReason = Stop.DEBUG; return Stop.DEBUG; }
      }
      this.intShadow = false;
      const k = (this.flags & (F.TF | F.RF)) !== 0 || (this.dr[7] & 0xff) !== 0 ? this.stepDebug() : this.runBlock(1);
      if (b !== null) {
        const insn = b.insns[0];
        blockStart = b.n === 1 || (this.rip !== start + insn.end && !(this.rip === start && insn.rep !== 0));
      } else blockStart = true;
      this.hookResumeRip = this.rip; this.hookResumeBlock = blockStart;
      remaining -= k;
      if (this.stopRequested) break;
      if (this.halted) return Stop.HALT;
      if (h.afterInsn(this)) { this.stopReason = Stop.DEBUG; return Stop.DEBUG; }
    }
    return this.stopReason;
  }

  private deliverInterrupt(vec: number): boolean {
    this.insnRip = this.rip;
    if (this.idtLimit === 0) { this.hooks?.intrDelivered(this, vec, false, -1); this.recordFault(vec, -1, `interrupt vector ${vec} with no IDT loaded`, this.rip); return false; }
    return this.deliver(vec, -1, false);
  }

  /** Execute (part of) one block; returns the number of instructions retired. */
  private runBlock(remaining: number): number {
    let k = 0;
    this.bonus = 0;
    this.insnRip = this.rip;
    const entry = this.icount;
    try {
      const b = this.blockAt(this.rip);
      const insns = b.insns;
      let n = b.n;
      if (n > remaining) n = remaining;
      const start = this.rip;
      this.curBlock = b; this.curBlockRip = start; this.blockLeft = remaining;
      this.brk = false;
      if (n === b.n) {
        let fn = b.fn;
        if (fn === null && ++b.hits >= this.hotBlock) fn = b.fn = (this.wasm !== null ? this.wasm.compile(b) : null) ?? compileRegion(this, b, this.inlineSemantics, this.regionBlocks, this.regionLocals);
        if (fn !== null) {
          // Compiled blocks chain here, without a trip through run(): the next block (or this one again)
          // runs at once if it is compiled and fits the budget. Exact, because nothing can make an
          // interrupt pending (or stop the run) unless an instruction sets brk, which ends the chain.
          // (A block that loops to itself may run several times in one call: it adds those to icount.)
          // (A region adds the instructions of the blocks it completed before its last one; a compiled
          // function returns before its block's end only when brk is set.)
          let blk = b, st = start, left = remaining;
          for (;;) {
            const at = st;
            k = fn(this, st, left);
            this.icount += k + this.bonus;
            if (this.brk || this.bonus !== 0) break;
            left = remaining - (this.icount - entry);
            st = this.rip;
            k = 0; // a fetch fault in blockAt belongs to the next block, which has retired nothing
            let nb: Block;
            if (st === at) nb = blk;
            else if (!this.useLinks) { this.insnRip = st; nb = this.blockAt(st); }
            else if (st === blk.l0Rip && blk.l0Ep === this.jcEpoch && blk.l0!.valid) nb = blk.l0!;
            else if (st === blk.l1Rip && blk.l1Ep === this.jcEpoch && blk.l1!.valid) nb = blk.l1!;
            else {
              this.insnRip = st;
              nb = this.blockAt(st);
              // keep the newer link in l0, the older in l1 (a branch's two successors both stay linked)
              blk.l1Rip = blk.l0Rip; blk.l1 = blk.l0; blk.l1Ep = blk.l0Ep;
              blk.l0Rip = st; blk.l0 = nb; blk.l0Ep = this.jcEpoch;
            }
            const nfn = nb.fn;
            if (nfn === null || nb.n > left) break;
            blk = nb; fn = nfn;
            this.curBlock = nb; this.curBlockRip = st; this.blockLeft = left;
          }
          this.curBlock = null;
          return this.icount - entry;
        }
      }
      for (; k < n;) {
        const i = insns[k];
        this.insnRip = start + i.start;
        this.rip = start + i.end;
        i.exec(this, i);
        k++;
        if (this.brk) break;
      }
      this.icount += k + this.bonus;
      this.curBlock = null;
      return k + this.bonus;
    } catch (e) {
      if (this.blockK >= 0) k = this.blockK; // a compiled block reports its progress
      this.blockK = -1;
      this.icount += k + this.bonus;
      const done = this.icount - entry; // with the blocks chained before this one
      this.curBlock = null;
      if (e === FAULT) {
        this.rip = this.insnRip;
        const vec = this.pendVec, err = this.pendErr;
        // a fault during instruction fetch/decode of the next block happens at the current rip
        if (vec >= 0) this.deliver(vec, err, false); // (vec -1: unsupported(), the run stops)
        return done;
      }
      this.internalError = e instanceof Error ? e : new Error(String(e));
      this.stopRequested = true;
      this.stopReason = Stop.INTERNAL;
      return done;
    }
  }

  /**
   * Instruction count of the instruction executing now (during a handler: its position in the block
   * plus REP iterations completed so far); between runs, the number retired. This is the count at
   * which a value read by the instruction (RDTSC, port, MMIO, DMA) takes effect.
   */
  currentIcount(): number {
    const k = this.currentIndex();
    return k < 0 ? this.icount : this.icount + k + this.bonus;
  }

  /** Take a software interrupt (INT n, INT3, INTO): RIP already points after the instruction. */
  softInterrupt(vec: number): void {
    if (this.idtLimit === 0) { this.hooks?.intrDelivered(this, vec, true, -1); this.recordFault(vec, -1, `INT ${vec} with no IDT loaded`); this.brk = true; return; }
    const ok = this.deliver(vec, -1, true);
    this.softDelivered = true;
    if (!ok) this.brk = true;
  }

  /** IN/INS: read a port (execution hooks see the value). */
  portIn(port: number, size: 1 | 2 | 4): number {
    const v = this.bus.portRead(port, size);
    if (this.hooks !== null) this.hooks.portAccess(this, 'in', port & 0xffff, size, v);
    return v;
  }

  /** OUT/OUTS: write a port (execution hooks see the value first). */
  portOut(port: number, size: 1 | 2 | 4, value: number): void {
    if (this.hooks !== null) this.hooks.portAccess(this, 'out', port & 0xffff, size, value);
    this.bus.portWrite(port, size, value);
  }

  /** Change CPL (flushes the TLB since user/supervisor permissions differ). */
  setCpl(cpl: number): void {
    if (cpl !== this.cpl) { this.cpl = cpl; this.flushTlb(); }
  }
}
