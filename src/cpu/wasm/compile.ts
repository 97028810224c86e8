// The WebAssembly tier (the default; X86FT_WASM=0 turns it off; issue 14): a hot decoded block whose instructions are
// all in the subset below becomes one wasm function with native i64 arithmetic. Registers are read and
// written in place (cpu.regs is a view of the wasm memory: space.ts), guest RAM through the CPU's own read
// and write TLBs (also in wasm memory), arithmetic flags kept as operands in locals and computed only where
// a condition or an exit reads them (as getters in flags.ts). Anything the fast path cannot do — a TLB
// miss, a page-crossing access, a non-canonical branch target — exits before that instruction with the
// count retired so far, and the rest of the block runs in the interpreter, which faults precisely.
// Subset: MOV (incl. imm), ADD OR AND SUB XOR CMP TEST, LEA, MOVZX/MOVSX/MOVSXD, SHL/SHR/SAR r by an
// immediate, IMUL r32, INC/DEC r32/r64, CMOVcc, SETcc r8, PUSH/POP r64, CALL rel, CALL/JMP r/m64, RET, JMP rel,
// Jcc, NOP. In a region, a computed target (RET, CALL/JMP r/m64) that is a CALL's return site there stays in the function.
// Other blocks are compiled by src/cpu/compile.ts (the JS tier).

import type { Cpu } from '../cpu.js';
import { compileRegion, type BlockFn } from '../compile.js';
import { ud, gp0, type Block, type Insn } from '../decoder.js';
import { LF } from '../flags.js';
import { nop } from '../ops/mov.js';
import { Code, Op, T, moduleBytes, type Func } from './encode.js';
import { Area, TLB_ENTRIES } from './space.js';
import { envFlag, envInt } from '../../env.js';

const enum A { ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7 }
/** Pend.op for flags computed eagerly (IMUL): local r (i32) holds the six arithmetic flag bits. */
const EAGER = -1;
const ARITH = 0x8d5;
const MAXLEFT = 0x7fffffff;
/** Blocks per wasm function (X86FT_WASM_REGION; 1: one block each). */
export const WASM_REGION = envInt('X86FT_WASM_REGION');
/** Machine.runAsync lets the tier compile in the background (X86FT_WASM_BACKGROUND; see WasmTier.background). */
export const WASM_BACKGROUND = envFlag('X86FT_WASM_BACKGROUND');

/** The last flag writer's operands, in locals (i64, zero-extended to sz bytes; cin/of i32). */
interface Pend { op: number; sz: number; a: number; b: number; r: number; cin: number; of: number }

/** Counters of one Cpu's wasm tier (for the bench and the README's figures). */
export interface WasmStats {
  /** Blocks compiled to wasm, and blocks the subset left to the JS tier. */
  compiled: number; rejected: number;
  /** Main-thread milliseconds (performance.now(): host time, a diagnostic only, never seen by the guest)
   *  spent generating the wasm code (region selection and encoding), and compiling and instantiating
   *  modules synchronously (0 for modules compiled in the background). */
  genMs: number; compileMs: number;
  /** Modules made (each holds the functions of every block that got hot since the last one), and of
   *  those, compiled in the background (WebAssembly.instantiate while the event loop turns). */
  modules: number; background: number;
  /** Calls JS -> wasm (one per compiled-block execution), and exits before a block's end. */
  calls: number; exits: number;
  /** Blocks in the compiled functions (more than `compiled` with regions). */
  members: number;
  /** Executions of blocks whose wasm was not installed yet (the interpreter ran them). */
  waiting: number;
  /** Modules V8 refused (a bug in this tier: their blocks went to the JS tier), and the first refusal. */
  failed: number; error: string;
}

/** Blocks compiled and rejected by every Cpu of this process (tests: the tier really ran). */
export const WASM_TOTALS = { compiled: 0, rejected: 0, failed: 0 };
/** Initial WasmTier.immediate of the tiers made from now on (tests set it). */
export const WASM_DEFAULTS = { immediate: false };

/** A function generated for a hot block, waiting for its module (WasmTier.flush). */
interface Queued {
  b: Block; members: Block[]; rels: number[]; m: number; f: Func;
  /** b.fn until the wasm is installed: runs b in the interpreter. */
  waiting: BlockFn;
}

/** Functions per module at most (a flush makes several modules when more blocks got hot since the last). */
const MODULE_FUNCS = 64;

export class WasmTier {
  /** Blocks per wasm function from now on (WASM_REGION by default; 1: one block each). */
  regionBlocks = WASM_REGION;
  /**
   * Compile modules in the background: WebAssembly.instantiate (V8 compiles on its own threads) and the
   * functions installed when the promise settles, on an event-loop turn between two Cpu.run calls. Set
   * by Machine.runAsync while it drives the machine (its loop turns); false: flush() compiles
   * synchronously (a caller of the synchronous Machine.run never turns the event loop).
   */
  background = false;
  /** Machine.runAsync drives the CPU: it calls flush() at its event-loop turns (every few ms), so that a
   *  module holds every function generated since the last turn; false: Cpu.run calls it at its end. */
  driven = false;
  /** Compile each function as soon as it is generated (the block runs in wasm from its first compiled
   *  execution on): tests that need the tier from the first execution. False: batched (see compile). */
  immediate = WASM_DEFAULTS.immediate;
  readonly stats: WasmStats = { compiled: 0, rejected: 0, genMs: 0, compileMs: 0, modules: 0, background: 0, calls: 0, exits: 0, members: 0, waiting: 0, failed: 0, error: '' };
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly pages: number;
  private queue: Queued[] = [];
  private readonly inflight = new Set<Promise<void>>();

  /** `area`: byte offset of the CPU area in c.mem.wasm (space.ts). */
  constructor(private readonly c: Cpu, private readonly area: number) {
    const buf = c.mem.buffer;
    this.i32 = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
    this.pages = buf.byteLength / 65536;
  }

  /** Functions generated and not yet in a module (Cpu.run calls flush() at its end when this is not 0, unless `driven`). */
  get queued(): number { return this.queue.length; }

  /**
   * A BlockFn for `b`, or null (the JS tier compiles it). A block whose instructions are all in the subset,
   * or all but its last (HLT, an indirect branch, …: the interpreter runs that one), gets a wasm function,
   * generated now and compiled with the others of the next flush(); until then the BlockFn returned runs
   * the block in the interpreter, and flush (or, in the background, the settled compile) replaces b.fn —
   * unless b was invalidated (SMC, DMA, a restore) or its b.fn dropped meanwhile: a stale function is never
   * installed. Every tier runs a block to the same state, so which one ran it never shows in the guest.
   * With X86FT_WASM_REGION=N > 1, a whole block also takes up to N-1 more: the hot, fully supported blocks
   * its direct branches and fall-throughs reach in the same 4 KiB page (as compileRegion in compile.ts), so
   * that control passes between them inside wasm (they are in b's page: invalidating any invalidates b).
   */
  compile(b: Block): BlockFn | null {
    const t0 = performance.now();
    let m = 0;
    while (m < b.n && supported(b.insns[m])) m++;
    if (m === 0 || m < b.n - 1) { this.stats.rejected++; WASM_TOTALS.rejected++; return null; }
    const members = [b], rels = [0], at = new Map<number, number>([[0, 0]]);
    const pg = Math.floor(b.phys / 4096);
    if (m === b.n && this.regionBlocks > 1 && Math.floor(b.physEnd / 4096) === pg) {
      for (let q = 0; q < members.length && members.length < this.regionBlocks; q++) {
        for (const off of successors(members[q])) {
          const rel = rels[q] + off, ph = b.phys + rel;
          if (at.has(rel) || Math.floor(ph / 4096) !== pg) continue;
          const x = this.c.blocks.get(ph);
          if (x === undefined || !x.valid || Math.floor(x.physEnd / 4096) !== pg) continue;
          if (x.fn === null && 2 * x.hits < b.hits) continue; // cold so far
          if (!x.insns.every(supported)) continue;
          at.set(rel, members.length); members.push(x); rels.push(rel);
          if (members.length >= this.regionBlocks) break;
        }
      }
    }
    // the members a computed target (RET, CALL/JMP r/m64) can reach inside the function: the CALLs' return sites
    const dyn = new Set<number>();
    for (let q = 0; q < members.length; q++) {
      const l = members[q].insns[members[q].n - 1];
      const to = l.op === 0xe8 || (l.op === 0xff && l.sub === 2) ? at.get(rels[q] + l.end) : undefined;
      if (to !== undefined) dyn.add(to);
    }
    const g = new Gen(members, rels, at, m, this.area, [...dyn].sort((x, y) => x - y));
    const code = g.gen();
    const waiting: BlockFn = (c: Cpu, start: number): number => { this.stats.waiting++; return interpret(c, b, start, 0); };
    this.queue.push({ b, members, rels, m, f: { locals: g.locals, code }, waiting });
    this.stats.genMs += performance.now() - t0;
    b.fn = waiting;
    if (this.immediate) this.flush();
    return b.fn;
  }

  /** Settles when every module compiling in the background has been installed (or refused). */
  async settled(): Promise<void> { while (this.inflight.size !== 0) await Promise.all([...this.inflight]); }

  /**
   * Puts the functions generated since the last flush into modules (up to MODULE_FUNCS each) and compiles
   * them: at once (then installs them), or in the background (see `background`). Called by Cpu.run at its
   * end, outside any block. A module V8 refuses (a bug here) sends its blocks to the JS tier (exact too) and
   * is counted in stats.failed.
   */
  flush(): void {
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += MODULE_FUNCS) {
      const q = all.slice(i, i + MODULE_FUNCS);
      const t0 = performance.now();
      const bytes = moduleBytes([T.F64, T.I32], [T.I32], q.map((x) => x.f), this.pages);
      this.stats.genMs += performance.now() - t0;
      const imports = { e: { m: this.c.mem.wasm! } };
      this.stats.modules++;
      if (this.background) {
        this.stats.background++;
        const p = WebAssembly.instantiate(bytes, imports).then((r) => this.install(q, r.instance), (e: unknown) => this.fail(q, e))
          .finally(() => this.inflight.delete(p));
        this.inflight.add(p);
        continue;
      }
      const t1 = performance.now();
      let inst: WebAssembly.Instance;
      try { inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports); } catch (e) { this.fail(q, e); continue; }
      this.stats.compileMs += performance.now() - t1;
      this.install(q, inst);
    }
  }

  private install(q: Queued[], inst: WebAssembly.Instance): void {
    for (let j = 0; j < q.length; j++) {
      const x = q[j];
      if (!x.b.valid || x.b.fn !== x.waiting) continue; // invalidated or dropped since it was generated
      x.b.fn = this.wrap(x.members, x.rels, x.m, inst.exports[String(j)] as (start: number, left: number) => number);
      this.stats.compiled++; WASM_TOTALS.compiled++; this.stats.members += x.members.length;
    }
  }

  private fail(q: Queued[], e: unknown): void {
    this.stats.failed++; WASM_TOTALS.failed++;
    if (this.stats.error === '') this.stats.error = e instanceof Error ? e.message : String(e);
    const c = this.c;
    for (const x of q) if (x.b.valid && x.b.fn === x.waiting) x.b.fn = compileRegion(c, x.b, c.inlineSemantics, c.regionBlocks, c.regionLocals);
  }

  /**
   * The BlockFn around wasm function w (see BlockFn; members/rels as for Gen; m: instructions of a single
   * block it runs). One closure shared by every block (measured: generating one wrapper per block, so that
   * each call of w is monomorphic, made CoreMark 15-25% slower — each wrapper then warms up on its own).
   */
  private wrap(members: Block[], rels: number[], m: number, w: (start: number, left: number) => number): BlockFn {
    const i32 = this.i32, f64 = this.f64, st = this.stats;
    const FL = (this.area + Area.FLAGS) >>> 2, DN = (this.area + Area.DONE) >>> 2, MB = (this.area + Area.MEMBER) >>> 2, RIP = (this.area + Area.RIP) >>> 3; // >>>: the area lies past RAM, above 2 GiB for a large --mem
    return (c: Cpu, start: number, left: number): number => {
      st.calls++;
      i32[FL] = c.getRflags();
      const k = w(start, left > MAXLEFT ? MAXLEFT : left);
      c.flags = i32[FL]; c.lfOp = LF.NONE;
      c.icount += i32[DN];
      const j = i32[MB], b = members[j];
      if (k === b.n) { c.rip = f64[RIP]; return k; }
      // exited before instruction k of member j, or ran a single block's wasm prefix (k = m): the interpreter
      // runs the rest of that block (and raises any fault precisely); a block ends early only with brk set,
      // as the chain loop in Cpu.runBlock expects
      if (j !== 0 || k < m) st.exits++;
      const s = start + rels[j];
      if (j !== 0) { const cc = c as unknown as { curBlock: Block; curBlockRip: number }; cc.curBlock = b; cc.curBlockRip = s; }
      return interpret(c, b, s, k);
    };
  }
}

/**
 * Runs instructions k.. of block b (linear start s) in the interpreter, as Cpu.runBlock's own loop does;
 * returns the index reached (b.n, or earlier with brk set). A fault leaves that index in c.blockK.
 */
function interpret(c: Cpu, b: Block, s: number, k: number): number {
  const insns = b.insns, n = b.n;
  try {
    while (k < n) {
      const i = insns[k];
      c.insnRip = s + i.start; c.rip = s + i.end;
      i.exec(c, i);
      k++;
      if (c.brk) break;
    }
  } catch (e) { c.blockK = k; throw e; }
  return k;
}

/** Linear offsets (from the block's start) where control may go after block b: direct branch targets, the fall-through. */
function successors(b: Block): number[] {
  const l = b.insns[b.n - 1], op = l.op;
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) return [l.end + l.imm, l.end];
  if (op === 0xeb || op === 0xe9) return [l.end + l.imm];
  if (op === 0xe8) return [l.end + l.imm, l.end]; // the callee, and where its RET comes back to
  if (op === 0xff && l.sub === 2) return [l.end];
  if (op === 0xc3 || op === 0xff) return [];
  return [l.end];
}

/** Can the tier compile this instruction? (Mirrors Gen.insn: true exactly for the forms it emits.) */
export function supported(i: Insn): boolean {
  if (i.exec === ud || i.exec === gp0 || i.lock) return false;
  // memory operands: 64-bit addressing without an FS/GS base
  if (i.rm < 0 && (i.asz !== 8 || i.seg === 4 || i.seg === 5) && usesModrmMemory(i.op)) return false;
  const op = i.op, sz = i.osz, wide = sz === 4 || sz === 8;
  if (op < 0x40 && (op & 7) <= 5) { const kind = (op >> 3) & 7; return kind !== A.ADC && kind !== A.SBB; }
  switch (op) {
    case 0x80: case 0x81: case 0x83: return i.sub !== A.ADC && i.sub !== A.SBB;
    case 0x84: case 0x85: case 0xa8: case 0xa9: case 0x88: case 0x89: case 0x8a: case 0x8b: return true;
    case 0xf6: case 0xf7: return i.sub <= 1;
    case 0xc6: case 0xc7: return i.sub === 0;
    case 0x10d: case 0x118: case 0x119: case 0x11a: case 0x11b: case 0x11c: case 0x11d: case 0x11e: case 0x11f: return i.exec === nop;
    case 0x8d: return wide && i.rm < 0 && i.asz === 8;
    case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf: return wide;
    case 0x63: return sz === 8;
    case 0xeb: case 0xe9: case 0xe8: return true;
    case 0xc3: return true;
    default:
  }
  if (op >= 0xb0 && op <= 0xbf) return true;
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) return true;
  if (op >= 0x140 && op <= 0x14f) return wide;
  if (op >= 0x190 && op <= 0x19f) return i.rm >= 0;
  if (op === 0xc0 || op === 0xc1 || op === 0xd0 || op === 0xd1) return i.rm >= 0 && i.sub >= 4;
  if (op === 0x1af || op === 0x69 || op === 0x6b) return sz === 4;
  if (op === 0xff) return (i.sub <= 1 && wide && i.rm >= 0) || i.sub === 2 || i.sub === 4; // INC/DEC r; CALL/JMP near indirect
  if (op >= 0x50 && op <= 0x5f) return sz === 8;
  return false;
}

/** Opcodes of the subset with a ModRM memory operand (LEA computes an address without a segment base). */
function usesModrmMemory(op: number): boolean {
  return op !== 0x8d && !(op >= 0x50 && op <= 0x5f) && !(op >= 0xb0 && op <= 0xbf) && op !== 0xe8 && op !== 0xc3 && op !== 0xeb && op !== 0xe9
    && !(op >= 0x70 && op <= 0x7f) && !(op >= 0x180 && op <= 0x18f) && !(op >= 0xa8 && op <= 0xa9) && !(op < 0x40 && (op & 7) >= 4);
}

const mask = (sz: number): [number, number] => (sz === 8 ? [-1, -1] : [sz === 4 ? -1 : sz === 2 ? 0xffff : 0xff, 0]);

class Gen {
  /** Extra locals' types (after the params: 0 start f64, 1 left i32). */
  readonly locals: T[] = [];
  readonly c = new Code();
  private pend: Pend | null = null;
  private k = 0;
  private i!: Insn;
  /** The member being generated (its index, linear offset from the entry's start, instruction count). */
  private j = 0;
  private rel = 0;
  private n = 0;
  /** Open block/loop/if constructs, the body's loop (the outermost) included. */
  private depth = 0;
  private branched = false;
  private readonly s0: number; // i64: the entry block's linear start
  private readonly s: number; // i64: the current member's linear start
  private readonly fl: number; // i32: RFLAGS (arithmetic bits valid when pend is null)
  private readonly done: number; // i32: instructions retired in earlier passes / members of this call
  private readonly R: number; // byte offset of cpu.regs

  /**
   * Compiles members[0] (the entry) and, in a region, the other members (same 4 KiB page; rels: their
   * linear offsets from the entry, at: offset -> member index): a branch from one member to another is a
   * jump inside the function. m < members[0].n (a single block only): the function returns after its
   * first m instructions.
   */
  constructor(private readonly members: Block[], private readonly rels: number[], private readonly at: Map<number, number>,
    private readonly m: number, private readonly area: number, private readonly dyn: number[]) {
    this.s0 = this.local(T.I64); this.s = this.local(T.I64); this.fl = this.local(T.I32); this.done = this.local(T.I32);
    this.R = area + Area.REGS;
  }

  private local(t: T): number { this.locals.push(t); return 1 + this.locals.length; }

  gen(): Code {
    const c = this.c, M = this.members.length;
    c.get(0).op(Op.i64_trunc_f64_s).set(this.s0);
    c.i32(0).mem(Op.i32_load, 2, this.area + Area.FLAGS).set(this.fl);
    // for (;;) switch (member): a loop around nested blocks and a br_table on the member index
    c.open(Op.loop); this.depth = 1;
    const bi = this.local(T.I32);
    this.bi = bi;
    if (M > 1) {
      for (let j = M - 1; j >= 0; j--) c.open(Op.block);
      c.get(bi).brTable(Array.from({ length: M }, (_, j) => j), M - 1);
    }
    for (let j = 0; j < M; j++) {
      if (M > 1) c.op(Op.end);
      this.depth = 1 + (M - 1 - j);
      const b = this.members[j];
      this.j = j; this.rel = this.rels[j]; this.n = b.n; this.pend = null; this.branched = false;
      for (const x of this.pool.values()) x.used = 0;
      c.get(this.s0).i64(this.rel, this.rel < 0 ? -1 : 0).op(Op.i64_add).set(this.s);
      const m = M > 1 ? b.n : this.m;
      for (let k = 0; k < m; k++) { this.k = k; this.i = b.insns[k]; this.insn(); }
      if (!this.branched && m === b.n) this.goto(b.insns[b.n - 1].end);
      this.saveState();
      c.i32(m).op(Op.return);
    }
    c.op(Op.end); c.op(Op.unreachable);
    return c;
  }
  private bi = 0;

  // ---- exits and state

  /** Flags, the instructions of earlier passes/members and the member index into the CPU area (every return does this). */
  private saveState(): void {
    const c = this.c;
    c.i32(0); this.flagsValue(); c.mem(Op.i32_store, 2, this.area + Area.FLAGS);
    c.i32(0).get(this.done).mem(Op.i32_store, 2, this.area + Area.DONE);
    c.i32(0).i32(this.j).mem(Op.i32_store, 2, this.area + Area.MEMBER);
  }
  /** Return k (instructions retired) when the i32 on the stack is non-zero: before instruction k did anything. */
  private exitIf(): void {
    const c = this.c;
    c.open(Op.if); this.saveState(); c.i32(this.k).op(Op.return).op(Op.end);
  }
  private storeRip(value: () => void): void {
    this.c.i32(0); value(); this.c.op(Op.f64_convert_i64_s).mem(Op.f64_store, 3, this.area + Area.RIP);
  }

  // ---- flags (as flags.ts's getters compute them from the lazy fields)

  /** Push the full RFLAGS (i32) as it is now. */
  private flagsValue(): void {
    const c = this.c, p = this.pend;
    c.get(this.fl);
    if (p === null) return;
    c.i32(~ARITH).op(Op.i32_and);
    if (p.op === EAGER) c.get(p.r);
    else {
      this.cf(p);
      this.pf(p); c.i32(2).op(Op.i32_shl).op(Op.i32_or);
      this.af(p); c.i32(4).op(Op.i32_shl).op(Op.i32_or);
      this.zf(p); c.i32(6).op(Op.i32_shl).op(Op.i32_or);
      this.sf(p); c.i32(7).op(Op.i32_shl).op(Op.i32_or);
      this.of(p); c.i32(11).op(Op.i32_shl).op(Op.i32_or);
    }
    c.op(Op.i32_or);
  }
  private bit(pos: number): void { this.c.get(this.fl).i32(pos).op(Op.i32_shr_u).i32(1).op(Op.i32_and); }
  private eagerBit(p: Pend, pos: number): void { this.c.get(p.r).i32(pos).op(Op.i32_shr_u).i32(1).op(Op.i32_and); }
  /** Each pushes an i32 0/1. */
  private cf(p: Pend | null): void {
    const c = this.c;
    if (p === null) return this.bit(0);
    switch (p.op) {
      case EAGER: return this.eagerBit(p, 0);
      case LF.ADD: c.get(p.r).get(p.a).op(Op.i64_lt_u); return;
      case LF.SUB: c.get(p.a).get(p.b).op(Op.i64_lt_u); return;
      case LF.LOGIC: c.i32(0); return;
      default: c.get(p.cin); // INC DEC SHIFT
    }
  }
  private zf(p: Pend | null): void {
    if (p === null) return this.bit(6);
    if (p.op === EAGER) return this.eagerBit(p, 6);
    this.c.get(p.r).op(Op.i64_eqz);
  }
  private sf(p: Pend | null): void {
    if (p === null) return this.bit(7);
    if (p.op === EAGER) return this.eagerBit(p, 7);
    this.c.get(p.r).i64(p.sz * 8 - 1).op(Op.i64_shr_u).op(Op.i32_wrap_i64);
  }
  private pf(p: Pend | null): void {
    if (p === null) return this.bit(2);
    if (p.op === EAGER) return this.eagerBit(p, 2);
    this.c.get(p.r).op(Op.i32_wrap_i64).i32(255).op(Op.i32_and).op(Op.i32_popcnt).i32(1).op(Op.i32_and).op(Op.i32_eqz);
  }
  private af(p: Pend): void {
    const c = this.c;
    if (p.op === EAGER) return this.eagerBit(p, 4);
    if (p.op === LF.LOGIC || p.op === LF.SHIFT) { c.i32(0); return; }
    c.get(p.a).get(p.b).op(Op.i64_xor).get(p.r).op(Op.i64_xor).op(Op.i32_wrap_i64).i32(4).op(Op.i32_shr_u).i32(1).op(Op.i32_and);
  }
  private of(p: Pend | null): void {
    const c = this.c;
    if (p === null) return this.bit(11);
    const top = p.sz * 8 - 1;
    const min = (l: number): void => { const [lo, hi] = p.sz === 8 ? [0, 0x80000000] : [1 << top >>> 0, 0]; c.get(l).i64(lo, hi).op(Op.i64_eq); };
    switch (p.op) {
      case EAGER: return this.eagerBit(p, 11);
      case LF.ADD: c.get(p.a).get(p.r).op(Op.i64_xor).get(p.b).get(p.r).op(Op.i64_xor).op(Op.i64_and).i64(top).op(Op.i64_shr_u).op(Op.i32_wrap_i64); return;
      case LF.SUB: c.get(p.a).get(p.b).op(Op.i64_xor).get(p.a).get(p.r).op(Op.i64_xor).op(Op.i64_and).i64(top).op(Op.i64_shr_u).op(Op.i32_wrap_i64); return;
      case LF.LOGIC: c.i32(0); return;
      case LF.SHIFT: c.get(p.of); return;
      case LF.INC: return min(p.r);
      default: return min(p.a); // DEC
    }
  }

  /** Push condition cc (0-15) as an i32 0/1; CMP/TEST + Jcc compare the operands directly. */
  private cond(cc: number): void {
    const c = this.c, p = this.pend, t = cc >> 1;
    let done = false;
    if (p !== null && p.op === LF.SUB) {
      const sx = (l: number): void => { c.get(l); if (p.sz !== 8) c.i64(64 - 8 * p.sz).op(Op.i64_shl); };
      done = true;
      switch (t) {
        case 1: c.get(p.a).get(p.b).op(Op.i64_lt_u); break;
        case 2: c.get(p.a).get(p.b).op(Op.i64_eq); break;
        case 3: c.get(p.a).get(p.b).op(Op.i64_le_u); break;
        case 6: sx(p.a); sx(p.b); c.op(Op.i64_lt_s); break;
        case 7: sx(p.a); sx(p.b); c.op(Op.i64_le_s); break;
        default: done = false;
      }
    }
    if (!done) {
      switch (t) {
        case 0: this.of(p); break;
        case 1: this.cf(p); break;
        case 2: this.zf(p); break;
        case 3: this.cf(p); this.zf(p); c.op(Op.i32_or); break;
        case 4: this.sf(p); break;
        case 5: this.pf(p); break;
        case 6: this.sf(p); this.of(p); c.op(Op.i32_xor); break;
        default: this.zf(p); this.sf(p); this.of(p); c.op(Op.i32_xor).op(Op.i32_or);
      }
    }
    if (cc & 1) c.op(Op.i32_eqz);
  }

  // ---- operands (i64 values zero-extended to their size)

  private regAddr(n: number, bOff: number, sz: number): number { return this.R + (sz === 1 ? bOff : 8 * n); }
  private pushReg(n: number, bOff: number, sz: number): void {
    const o = sz === 1 ? Op.i64_load8_u : sz === 2 ? Op.i64_load16_u : sz === 4 ? Op.i64_load32_u : Op.i64_load;
    this.c.i32(0).mem(o, 0, this.regAddr(n, bOff, sz));
  }
  /** Register write of local v (sz 4 clears the upper half: v is zero-extended). */
  private storeReg(n: number, bOff: number, sz: number, v: number): void {
    const o = sz === 1 ? Op.i64_store8 : sz === 2 ? Op.i64_store16 : Op.i64_store;
    this.c.i32(0).get(v).mem(o, 0, this.regAddr(n, bOff, sz));
  }
  private pushImm(sz: number): void {
    const i = this.i;
    if (sz === 8) this.c.i64(i.imm, i.immHi); else this.c.i64(i.imm & mask(sz)[0]);
  }
  private toLocal(t: T): number { const l = this.temp(t); this.c.set(l); return l; }
  /**
   * A fresh local of type t for a value used inside the current member only: members reuse one another's
   * (every value is written before it is read in its member, none crosses members). A function's locals are
   * then as many as its largest member needs, not their sum: each is carried around the members' loop, and
   * V8's optimising compiler measured 1.9x slower on regions of 32 blocks with a local for every value.
   */
  private temp(t: T): number {
    let pool = this.pool.get(t);
    if (pool === undefined) this.pool.set(t, pool = { all: [], used: 0 });
    if (pool.used === pool.all.length) pool.all.push(this.local(t));
    return pool.all[pool.used++];
  }
  private readonly pool = new Map<T, { all: number[]; used: number }>();
  private maskTop(sz: number): void { if (sz !== 8) { const [lo, hi] = mask(sz); this.c.i64(lo, hi).op(Op.i64_and); } }

  /** The linear address of the memory operand (64-bit addressing, no segment base) into an i64 local. */
  private ea(): number {
    const i = this.i, c = this.c;
    if (i.base === 16) c.get(this.s).i64(i.end + i.disp, i.end + i.disp < 0 ? -1 : 0).op(Op.i64_add);
    else {
      c.i64(i.disp, i.disp < 0 ? -1 : 0);
      if (i.base >= 0) { this.pushReg(i.base, 0, 8); c.op(Op.i64_add); }
      if (i.index >= 0) { this.pushReg(i.index, 0, 8); if (i.scale !== 1) c.i64(Math.log2(i.scale)).op(Op.i64_shl); c.op(Op.i64_add); }
    }
    return this.toLocal(T.I64);
  }

  /** Physical address (i32 local) of sz bytes at linear la through the read (w false) or write TLB; exits on a miss. */
  private phys(la: number, sz: number, write: boolean): number {
    const c = this.c, tag = this.area + (write ? Area.WTAG : Area.RTAG), ph = this.area + (write ? Area.WPHYS : Area.RPHYS);
    c.get(la).op(Op.i32_wrap_i64).i32(12).op(Op.i32_shr_u).i32(TLB_ENTRIES - 1).op(Op.i32_and).i32(3).op(Op.i32_shl);
    const t = this.toLocal(T.I32);
    c.get(la).op(Op.i32_wrap_i64).i32(4095).op(Op.i32_and);
    const o = this.toLocal(T.I32);
    c.get(t).mem(Op.f64_load, 3, tag).get(la).i64(-4096, -1).op(Op.i64_and).op(Op.f64_convert_i64_s).op(Op.f64_eq);
    if (sz > 1) c.get(o).i32(4096 - sz).op(Op.i32_le_u).op(Op.i32_and);
    c.op(Op.i32_eqz); this.exitIf();
    c.get(t).mem(Op.f64_load, 3, ph).op(Op.i32_trunc_f64_u).get(o).op(Op.i32_add);
    return this.toLocal(T.I32);
  }
  private pushMem(p: number, sz: number): void {
    const o = sz === 1 ? Op.i64_load8_u : sz === 2 ? Op.i64_load16_u : sz === 4 ? Op.i64_load32_u : Op.i64_load;
    this.c.get(p).mem(o, 0, 0);
  }
  private storeMem(p: number, sz: number, v: number): void {
    const o = sz === 1 ? Op.i64_store8 : sz === 2 ? Op.i64_store16 : sz === 4 ? Op.i64_store32 : Op.i64_store;
    this.c.get(p).get(v).mem(o, 0, 0);
  }
  /** Load the r/m operand (register or memory through the read TLB) into an i64 local. */
  private rmValue(sz: number, bOff = this.i.rmB): number {
    const i = this.i;
    if (i.rm >= 0) this.pushReg(i.rm, bOff, sz);
    else { const p = this.phys(this.ea(), sz, false); this.pushMem(p, sz); }
    return this.toLocal(T.I64);
  }
  /** Exit unless the i64 local t is canonical (bits 63-47 equal). */
  private canonical(t: number): void {
    this.c.get(t).i64(0, 0x8000).op(Op.i64_add).i64(0, 0x10000).op(Op.i64_ge_u); this.exitIf();
  }

  // ---- instructions

  private insn(): void {
    const i = this.i, op = i.op, sz = i.osz;
    if (op < 0x40 && (op & 7) <= 5) {
      const kind = (op >> 3) & 7;
      switch (op & 7) {
        case 0: case 1: return this.alu(kind, sz, 'E', 'G');
        case 2: case 3: return this.alu(kind, sz, 'G', 'E');
        default: return this.alu(kind, sz, 'A', 'I');
      }
    }
    switch (op) {
      case 0x80: case 0x81: case 0x83: return this.alu(i.sub, sz, 'E', 'I');
      case 0x84: case 0x85: return this.alu(A.AND, sz, 'E', 'G', true);
      case 0xa8: case 0xa9: return this.alu(A.AND, sz, 'A', 'I', true);
      case 0xf6: case 0xf7: return this.alu(A.AND, sz, 'E', 'I', true);
      case 0x88: case 0x89: return this.mov('E', 'G');
      case 0x8a: case 0x8b: return this.mov('G', 'E');
      case 0xc6: case 0xc7: return this.mov('E', 'I');
      case 0x8d: { this.c.get(this.ea()); this.maskTop(sz); return this.storeReg(i.reg, 0, sz, this.toLocal(T.I64)); }
      case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf: return this.movx(op & 1 ? 2 : 1, op >= 0x1be);
      case 0x63: return this.movx(4, true);
      case 0xeb: case 0xe9: return this.jump();
      case 0xe8: return this.call();
      case 0xc3: return this.ret();
      default:
    }
    if (op >= 0xb0 && op <= 0xbf) { this.pushImm(sz); return this.storeReg(i.reg, i.regB, sz, this.toLocal(T.I64)); }
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) return this.jcc(op & 15);
    if (op >= 0x140 && op <= 0x14f) return this.cmov(op & 15);
    if (op >= 0x190 && op <= 0x19f) { this.cond(op & 15); this.c.op(Op.i64_extend_i32_u); return this.storeReg(i.rm, i.rmB, 1, this.toLocal(T.I64)); }
    if (op === 0xc0 || op === 0xc1 || op === 0xd0 || op === 0xd1) return this.shift(op >= 0xd0 ? 1 : i.imm);
    if (op === 0x1af || op === 0x69 || op === 0x6b) return this.imul32();
    if (op === 0xff) return i.sub <= 1 ? this.incdec(i.sub === 0) : this.indirect(i.sub === 2);
    if (op >= 0x50 && op <= 0x57) return this.push();
    if (op >= 0x58 && op <= 0x5f) return this.pop();
    // NOPs: nothing
  }

  private alu(kind: number, sz: number, dst: 'E' | 'G' | 'A', src: 'E' | 'G' | 'I', test = false): void {
    const i = this.i, c = this.c;
    const write = !test && kind !== A.CMP;
    const memDst = dst === 'E' && i.rm < 0, memSrc = src === 'E' && i.rm < 0;
    let p = -1, m = -1;
    if (memDst || memSrc) {
      // a memory destination that is written goes through the write TLB for the read too (no fault after a change)
      p = this.phys(this.ea(), sz, memDst && write);
      this.pushMem(p, sz); m = this.toLocal(T.I64);
    }
    const operand = (w: 'E' | 'G' | 'A' | 'I'): number => {
      switch (w) {
        case 'I': this.pushImm(sz); return this.toLocal(T.I64);
        case 'A': this.pushReg(0, 0, sz); return this.toLocal(T.I64);
        case 'G': this.pushReg(i.reg, i.regB, sz); return this.toLocal(T.I64);
        default: if (m >= 0) return m; this.pushReg(i.rm, i.rmB, sz); return this.toLocal(T.I64);
      }
    };
    const a = operand(dst), b = operand(src);
    c.get(a).get(b);
    let lf: number;
    switch (kind) {
      case A.ADD: c.op(Op.i64_add); this.maskTop(sz); lf = LF.ADD; break;
      case A.SUB: case A.CMP: c.op(Op.i64_sub); this.maskTop(sz); lf = LF.SUB; break;
      case A.OR: c.op(Op.i64_or); lf = LF.LOGIC; break;
      case A.XOR: c.op(Op.i64_xor); lf = LF.LOGIC; break;
      default: c.op(Op.i64_and); lf = LF.LOGIC;
    }
    const r = this.toLocal(T.I64);
    if (write) {
      if (memDst) this.storeMem(p, sz, r);
      else if (dst === 'A') this.storeReg(0, 0, sz, r);
      else if (dst === 'G') this.storeReg(i.reg, i.regB, sz, r);
      else this.storeReg(i.rm, i.rmB, sz, r);
    }
    this.pend = { op: lf, sz, a, b, r, cin: -1, of: -1 };
  }

  private mov(dst: 'E' | 'G', src: 'E' | 'G' | 'I'): void {
    const i = this.i, sz = i.osz;
    let v: number;
    if (src === 'I') { this.pushImm(sz); v = this.toLocal(T.I64); }
    else if (src === 'G') { this.pushReg(i.reg, i.regB, sz); v = this.toLocal(T.I64); }
    else v = this.rmValue(sz);
    if (dst === 'G') return this.storeReg(i.reg, i.regB, sz, v);
    if (i.rm >= 0) return this.storeReg(i.rm, i.rmB, sz, v);
    this.storeMem(this.phys(this.ea(), sz, true), sz, v);
  }

  private movx(ssz: number, signed: boolean): void {
    const i = this.i, c = this.c;
    const v = this.rmValue(ssz);
    c.get(v);
    if (signed) { c.op(ssz === 1 ? Op.i64_extend8_s : ssz === 2 ? Op.i64_extend16_s : Op.i64_extend32_s); this.maskTop(i.osz); }
    this.storeReg(i.reg, 0, i.osz, this.toLocal(T.I64));
  }

  private cmov(cc: number): void {
    const i = this.i, c = this.c, sz = i.osz;
    const v = this.rmValue(sz);
    c.get(v); this.pushReg(i.reg, 0, sz); this.cond(cc); c.op(Op.select);
    this.storeReg(i.reg, 0, sz, this.toLocal(T.I64));
  }

  /** The branch target start + off into an i64 local; exits (the interpreter raises #GP) unless canonical. */
  private target(off: number): number {
    this.c.get(this.s).i64(off, off < 0 ? -1 : 0).op(Op.i64_add);
    const t = this.toLocal(T.I64);
    this.canonical(t);
    return t;
  }

  /**
   * Control goes on at the current member's start + off: into a member of this function when it is one and
   * `left` allows its whole block (the flags materialised, the count carried in `done`), else out with RIP.
   */
  private goto(off: number): void {
    const c = this.c, n = this.n;
    const to = this.at.get(this.rel + off);
    if (to !== undefined && this.m === this.members[0].n) { c.get(1).i32(n + this.members[to].n).op(Op.i32_ge_s); this.enter(to); }
    const t = this.target(off);
    this.storeRip(() => c.get(t));
  }

  private jcc(cc: number): void {
    const i = this.i, c = this.c;
    this.cond(cc);
    c.open(Op.if); this.depth++;
    this.goto(i.end + i.imm);
    c.op(Op.else);
    this.goto(i.end);
    c.op(Op.end); this.depth--;
    this.branched = true;
  }

  private jump(): void { this.goto(this.i.end + this.i.imm); this.branched = true; }

  /** Pushes i64 local `v` (CALL's return address, PUSH r64): stored at RSP - 8, then RSP = RSP - 8. */
  private push64(v: number): void {
    this.pushReg(4, 0, 8); this.c.i64(8).op(Op.i64_sub);
    const la = this.toLocal(T.I64);
    this.storeMem(this.phys(la, 8, true), 8, v);
    this.storeReg(4, 0, 8, la);
  }

  /** Reads the qword at RSP (RET, POP r64) into an i64 local; RSP is left to the caller (POP RSP's order). */
  private pop64(): { la: number; v: number } {
    this.pushReg(4, 0, 8);
    const la = this.toLocal(T.I64);
    this.pushMem(this.phys(la, 8, false), 8);
    return { la, v: this.toLocal(T.I64) };
  }

  private call(): void {
    const i = this.i, c = this.c;
    this.target(i.end + i.imm); // #GP(0) before the push
    c.get(this.s).i64(i.end).op(Op.i64_add);
    this.push64(this.toLocal(T.I64));
    this.goto(i.end + i.imm);
    this.branched = true;
  }

  private ret(): void {
    const c = this.c;
    const { la, v: t } = this.pop64();
    this.canonical(t);
    c.get(la).i64(8).op(Op.i64_add);
    this.storeReg(4, 0, 8, this.toLocal(T.I64));
    this.dynamic(t);
    this.storeRip(() => c.get(t));
    this.branched = true;
  }

  /** FF /2 CALL r/m64, FF /4 JMP r/m64 (near indirect, 64-bit operand): the target read first, #GP(0) before the push. */
  private indirect(call: boolean): void {
    const i = this.i, c = this.c;
    let t: number;
    if (i.rm >= 0) { this.pushReg(i.rm, 0, 8); t = this.toLocal(T.I64); } else { this.pushMem(this.phys(this.ea(), 8, false), 8); t = this.toLocal(T.I64); }
    this.canonical(t);
    if (call) { c.get(this.s).i64(i.end).op(Op.i64_add); this.push64(this.toLocal(T.I64)); }
    this.dynamic(t);
    this.storeRip(() => c.get(t));
    this.branched = true;
  }

  /**
   * A computed target (RET, indirect CALL/JMP: i64 local t) that is the start of a member in `dyn` (the return
   * sites of the region's CALLs) goes on there inside the function, when `left` allows that member's whole
   * block (as goto does for a direct branch); any other target leaves the function.
   */
  private dynamic(t: number): void {
    const c = this.c, n = this.n;
    if (this.members.length === 1 || this.m !== this.members[0].n) return;
    for (const to of this.dyn) {
      const rel = this.rels[to], nn = this.members[to].n;
      c.get(t).get(this.s0).i64(rel, rel < 0 ? -1 : 0).op(Op.i64_add).op(Op.i64_eq);
      c.get(1).i32(n + nn).op(Op.i32_ge_s).op(Op.i32_and);
      this.enter(to);
    }
  }

  /** If the i32 on the stack is non-zero: on to member `to` (the flags materialised, this member's count carried in `done`). */
  private enter(to: number): void {
    const c = this.c, n = this.n;
    c.open(Op.if); this.depth++;
    this.flagsValue(); c.set(this.fl);
    c.get(this.done).i32(n).op(Op.i32_add).set(this.done);
    c.get(1).i32(n).op(Op.i32_sub).set(1);
    c.i32(to).set(this.bi);
    c.br(Op.br, this.depth - 1);
    c.op(Op.end); this.depth--;
  }

  private push(): void {
    this.pushReg(this.i.reg, 0, 8);
    this.push64(this.toLocal(T.I64));
  }

  private pop(): void {
    const c = this.c;
    const { la, v } = this.pop64();
    // RSP advances first, then the register is written (POP RSP loads the popped value)
    c.get(la).i64(8).op(Op.i64_add);
    this.storeReg(4, 0, 8, this.toLocal(T.I64));
    this.storeReg(this.i.reg, 0, 8, v);
  }

  /** SHL/SAL/SHR/SAR r by an immediate (as src/cpu/ops/shift.ts: OF by the count-1 rule for every count). */
  private shift(count: number): void {
    const i = this.i, c = this.c, sz = i.osz, bits = sz * 8;
    const n = count & (sz === 8 ? 63 : 31);
    if (n === 0) { if (sz === 4) { this.pushReg(i.rm, 0, 4); this.storeReg(i.rm, 0, 4, this.toLocal(T.I64)); } return; }
    const kind = i.sub === 6 ? 4 : i.sub;
    this.pushReg(i.rm, i.rmB, sz);
    const a = this.toLocal(T.I64);
    const sh = (x: number, op: Op, by: number): void => { c.get(x).i64(by).op(op); };
    let v: number, cf: number, of: number;
    if (kind === 4) {
      sh(a, Op.i64_shl, n); this.maskTop(sz); v = this.toLocal(T.I64);
      if (n <= bits) { sh(a, Op.i64_shr_u, bits - n); c.op(Op.i32_wrap_i64).i32(1).op(Op.i32_and); } else c.i32(0);
      cf = this.toLocal(T.I32);
      sh(a, Op.i64_shr_u, bits - 1); sh(a, Op.i64_shr_u, bits - 2); c.op(Op.i64_xor).op(Op.i32_wrap_i64).i32(1).op(Op.i32_and);
      of = this.toLocal(T.I32);
    } else if (kind === 5) {
      if (n <= bits) { sh(a, Op.i64_shr_u, n); v = this.toLocal(T.I64); sh(a, Op.i64_shr_u, n - 1); c.op(Op.i32_wrap_i64).i32(1).op(Op.i32_and); }
      else { c.i64(0); v = this.toLocal(T.I64); c.i32(0); }
      cf = this.toLocal(T.I32);
      sh(a, Op.i64_shr_u, bits - 1); c.op(Op.i32_wrap_i64);
      of = this.toLocal(T.I32);
    } else {
      c.get(a);
      if (sz !== 8) c.op(sz === 1 ? Op.i64_extend8_s : sz === 2 ? Op.i64_extend16_s : Op.i64_extend32_s);
      const sa = this.toLocal(T.I64);
      sh(sa, Op.i64_shr_s, n); this.maskTop(sz); v = this.toLocal(T.I64);
      sh(sa, Op.i64_shr_s, n - 1); c.op(Op.i32_wrap_i64).i32(1).op(Op.i32_and); cf = this.toLocal(T.I32);
      c.i32(0); of = this.toLocal(T.I32);
    }
    this.storeReg(i.rm, i.rmB, sz, v);
    this.pend = { op: LF.SHIFT, sz, a, b: a, r: v, cin: cf, of };
  }

  /** IMUL r32, r/m32 (0F AF) and r32, r/m32, imm: CF = OF = the product does not fit, SF, PF of the result, ZF = AF = 0. */
  private imul32(): void {
    const i = this.i, c = this.c;
    const src = this.rmValue(4);
    if (i.op === 0x1af) { this.pushReg(i.reg, 0, 4); c.op(Op.i64_extend32_s).get(src).op(Op.i64_extend32_s); }
    else c.get(src).op(Op.i64_extend32_s).i64(i.imm | 0, (i.imm | 0) < 0 ? -1 : 0);
    c.op(Op.i64_mul);
    const x = this.toLocal(T.I64);
    c.get(x); this.maskTop(4);
    const v = this.toLocal(T.I64);
    // flags: (x != sext32(v)) * 0x801 | SF << 7 | PF << 2
    c.i32(0).get(x).get(v).op(Op.i64_extend32_s).op(Op.i64_ne).op(Op.i32_sub).i32(0x801).op(Op.i32_and);
    c.get(v).i64(31).op(Op.i64_shr_u).op(Op.i32_wrap_i64).i32(7).op(Op.i32_shl).op(Op.i32_or);
    c.get(v).op(Op.i32_wrap_i64).i32(255).op(Op.i32_and).op(Op.i32_popcnt).i32(1).op(Op.i32_and).op(Op.i32_eqz).i32(2).op(Op.i32_shl).op(Op.i32_or);
    const f = this.toLocal(T.I32);
    this.storeReg(i.reg, 0, 4, v);
    this.pend = { op: EAGER, sz: 4, a: -1, b: -1, r: f, cin: -1, of: -1 };
  }

  private incdec(inc: boolean): void {
    const i = this.i, c = this.c, sz = i.osz;
    this.cf(this.pend);
    const cin = this.toLocal(T.I32);
    this.pushReg(i.rm, 0, sz);
    const a = this.toLocal(T.I64);
    c.i64(1);
    const one = this.toLocal(T.I64);
    c.get(a).get(one).op(inc ? Op.i64_add : Op.i64_sub); this.maskTop(sz);
    const r = this.toLocal(T.I64);
    this.storeReg(i.rm, 0, sz, r);
    this.pend = { op: inc ? LF.INC : LF.DEC, sz, a, b: one, r, cin, of: -1 };
  }
}
