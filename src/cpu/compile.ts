// Block compiler: turns a hot decoded block into one JS function. The commonest instruction forms (MOV,
// ALU/CMP/TEST, LEA, MOVZX/MOVSX, CMOVcc/SETcc, Jcc/JMP/CALL/RET, PUSH/POP: `Gen` below) are generated
// inline — register operands straight from cpu.regs, memory through an inline read/write-TLB fast path,
// arithmetic flags kept in locals and written to the lazy-flag fields only where something can see them
// (a fault, a handler, the block's end; CMP/TEST + Jcc/CMOVcc/SETcc becomes a direct compare). Every other
// instruction calls its handler directly: each generated function has its own call sites, so they are
// monomorphic and the JIT can inline the small handlers. Semantics are identical to Cpu.runBlock's loop:
// same stores, same brk checks, and a fault leaves the state the interpreter leaves (cpu.insnRip and the
// block position are set before anything that can fault; lazy flags are written before it).

import type { Cpu } from './cpu.js';
import { TLB_MASK } from './cpu.js';
import { ud, gp0, type Block, type Handler, type Insn } from './decoder.js';
import { LF, PARITY, getOF, getCF, getZF, getSF, getPF } from './flags.js';
import { nop } from './ops/mov.js';
import { movups, movaps, movupsSt, movapsSt, addsdH, subsdH, mulsdH, addpdH, subpdH, mulpdH } from './ops/sse.js';
import { envFlag, envInt } from '../env.js';

/**
 * A compiled block: runs all b.n instructions from linear address `start`; returns how many retired in its
 * last pass. A block that branches to its own start and calls no handler loops inside the function while
 * `left` (the instructions the run may still retire, at least b.n) allows another pass; it adds the
 * instructions of every earlier pass to cpu.icount itself.
 */
export type BlockFn = (c: Cpu, start: number, left: number) => number;

/** Executions after which a block is compiled (X86FT_HOT_BLOCK overrides: 1 compiles every block at once,
 *  which the tests use to run the compiler on everything; 0 disables compilation). */
const envHot = envInt('X86FT_HOT_BLOCK');
export const HOT_BLOCK = envHot === 0 ? Infinity : envHot;

/** Whether the stores being generated mark their page dirty (Cpu.trackDirty of the CPU compileRegion compiles for). */
let markStores = true;
const mark = (p: string): string => markStores ? ` dd[${p} >>> 12] = 1;` : '';

/** Generate the common forms inline (default; X86FT_INLINE=0: every instruction calls its handler). */
export const INLINE_DEFAULT = envFlag('X86FT_INLINE');

/**
 * Which instructions may skip computing flags: walking backwards, flags are dead after instruction k when a
 * later instruction overwrites all six before anything can read them — and nothing in between can fault
 * (a fault would make RFLAGS visible to the guest's handler). Flags are live at the block's end. A compiled
 * block always runs whole, so no stop can fall between an instruction and the one that overwrites its flags.
 */
function flagsDead(b: Block): boolean[] {
  const dead = new Array<boolean>(b.n).fill(false);
  let live = true;
  for (let k = b.n - 1; k >= 0; k--) {
    const i = b.insns[k];
    dead[k] = !live;
    if (i.fx === 1) live = false;
    else if (i.fx === 2) { /* transparent */ }
    else if (i.nf !== null && !live) { /* flag-free shift: neither reads nor needs flags here */ }
    else live = true;
  }
  return dead;
}

export function compileBlock(b: Block, inline = INLINE_DEFAULT): BlockFn {
  return new Gen(b, inline).compile();
}

/** Blocks a region may hold (X86FT_REGION_BLOCKS; the default 1: every function is one block — regions of
 *  up to 16 or 64 blocks measured no faster on CoreMark, README "Speed"). */
export const REGION_BLOCKS = envInt('X86FT_REGION_BLOCKS');
/** Regions hold guest registers in locals across their blocks (X86FT_REGION_LOCALS). */
export const REGION_LOCALS = envFlag('X86FT_REGION_LOCALS');
/** Instructions a region may hold (bigger functions cost V8 more to optimise than they save). */
const REGION_INSNS = 256;

/**
 * Compile the hot block e (executed at linear address `start`) as a region: e plus the blocks its inline
 * direct branches and fall-throughs reach, transitively, that are already decoded, lie wholly in e's
 * physical page and call no handler (their semantics all inline). A branch between two of its blocks is a
 * `continue` of the function's dispatch loop when the budget allows, not a return to Cpu.runBlock.
 * Invariants: every member lies in e's page, so whatever invalidates one (SMC, DMA: invalidateCode is per
 * page, flushCode drops all) invalidates e, which owns the function, and the linear->physical mapping within
 * one page is e's; a branch to a member is taken inside only when `left` covers that member whole (exact
 * counting: a region ends at the budget like a block); members call no handler, so nothing but an inline
 * slow path can set brk, and those return at once; the instructions of the members that completed are
 * added to cpu.icount at each branch, so a fault (cpu.blockK: the position in the member) and a brk exit
 * count exactly; cpu.curBlock/curBlockRip name the member running when it touches memory (an MMIO access
 * takes effect at currentIcount()). Falls back to compileBlock when no second member qualifies.
 */
export function compileRegion(c: Cpu, e: Block, inline = INLINE_DEFAULT, maxBlocks = REGION_BLOCKS, locals = REGION_LOCALS): BlockFn {
  markStores = c.trackDirty;
  const pg = Math.floor(e.phys / 4096);
  if (!inline || maxBlocks <= 1 || Math.floor(e.physEnd / 4096) !== pg) return compileBlock(e, inline);
  const trial = (b: Block): Gen | null => { const g = new Gen(b, true); g.gen(); return g.calls === 0 ? g : null; };
  const t0 = trial(e);
  if (t0 === null) return compileBlock(e, inline);
  const members: Block[] = [e], rels = [0], at = new Map<number, number>([[0, 0]]);
  let insns = e.n;
  const succs: number[][] = [t0.succ];
  for (let q = 0; q < members.length && members.length < maxBlocks; q++) {
    for (const off of succs[q]) {
      const rel = rels[q] + off, ph = e.phys + rel;
      if (at.has(rel) || Math.floor(ph / 4096) !== pg) continue;
      const b = c.blocks.get(ph);
      if (b === undefined || !b.valid || Math.floor(b.physEnd / 4096) !== pg || insns + b.n > REGION_INSNS) continue;
      if (b.fn === null && 2 * b.hits < e.hits) continue; // cold so far: V8 would optimise it without type feedback
      const t = trial(b);
      if (t === null) continue;
      at.set(rel, members.length); members.push(b); rels.push(rel); succs.push(t.succ); insns += b.n;
      if (members.length >= maxBlocks) break;
    }
  }
  if (members.length === 1) return compileBlock(e, inline);
  // lay the members out in reverse postorder from the entry (depth first over the region's own edges):
  // then every edge is forward (a labelled break), back to the entry (a continue) or, rarely, a back edge
  // to another member, which leaves the function (Cpu.runBlock goes on there)
  const order: number[] = [], seen = new Set<number>();
  const dfs = (q: number): void => {
    seen.add(q);
    for (const off of succs[q]) { const m = at.get(rels[q] + off); if (m !== undefined && !seen.has(m)) dfs(m); }
    order.push(q);
  };
  dfs(0);
  order.reverse();
  const mem2 = order.map((q) => members[q]), rel2 = order.map((q) => rels[q]);
  const at2 = new Map<number, number>(rel2.map((rel, j) => [rel, j]));
  const region: Region = { at: at2, ns: mem2.map((b) => b.n), locals };
  const hs: Handler[] = [], is: Insn[] = [];
  let mem = false;
  // nesting: member j's code follows the labelled block B<j> that holds members 0..j-1 (break B<j> = go to j);
  // every way out of the region (a branch or fall-through elsewhere, the budget, brk) sets constants and
  // breaks to one shared exit after the loop: cold paths hold no arithmetic V8 has never run (an operation
  // without type feedback deoptimises the whole function the first time it runs). A member charges the
  // instructions of the member before it (pn) at its top, so an edge is constant stores and a jump.
  let body = '';
  mem2.forEach((b, j) => {
    const g = new Gen(b, true, hs, is, region, rel2[j], j);
    g.gen();
    mem ||= g.mem;
    const cur = g.mem ? ` c.curBlock = bs[${j}]; c.curBlockRip = start;` : '';
    const top = `c.icount += pn; left -= pn; if (left < ${b.n}) { xr = ${rel2[j]}; xn = 0; xi = -1; break X; }\n    `;
    const out = g.out.join('\n    ').replace(/(c\.(?:readSlow|read64|writeSlow|write64|readRmw|writeN)\(|\bi\d+\.ea\(c|\bh\d+\(c,)/g, 'void $WB$ || $1');
    const code = `{\n    ${top}const start = start0 + ${rel2[j]};${cur}\n    ${out}\n    $WB$; return ${b.n};\n    }`;
    body = j === 0 ? code : `B${j}: {\n    ${body}\n    }\n    ${code}`;
  });
  const exit = `const t = start0 + xr; if (xi >= 0 && (t >= ${CANON} || t < ${-CANON})) { c.insnRip = start0 + xi; c.raise(13, 0); }\n    c.rip = t; return xn;`;
  let src = `let xr = 0, xn = 0, xi = -1, pn = 0;\n    X: { L: for (;;) {\n    ${body}\n    } }\n    $WB$; ${exit}`;
  if (!locals) return assemble(`region_${e.phys.toString(16)}`, 'start0', src.replace(/void \$WB\$ \|\| |\$WB\$; /g, ''), e.n, mem, hs, is, mem2);
  // guest registers in locals G<n> (n: the index in cpu.regs, 2 per register): loaded at entry, written
  // back ($WB$) before every slow path that may read cpu.regs (the effective-address and memory slow
  // paths, a handler), at every return and in the fault path
  src = src.replace(/\br\[(\d+)\]/g, 'G$1');
  const used = [...new Set([...src.matchAll(/\bG(\d+)\b/g)].map((x) => Number(x[1])))].sort((a, b) => a - b);
  const written = [...new Set([...src.matchAll(/\bG(\d+) = (?!=)/g)].map((x) => Number(x[1])))].sort((a, b) => a - b);
  const wb = written.map((n) => `r[${n}] = G${n}`).join(', ') || '0';
  src = src.replace(/\$WB\$/g, `(${wb})`);
  const decl = used.length === 0 ? '' : `let ${used.map((n) => `G${n} = r[${n}]`).join(', ')};`;
  return assemble(`region_${e.phys.toString(16)}`, 'start0', src, e.n, mem, hs, is, mem2, { decl, wb: `${wb};` });
}

/** The generated function: handler and instruction constants, the register views, the body, the fault path. */
function assemble(name: string, startName: string, body: string, n: number, mem: boolean, hs: Handler[], is: Insn[], bs: Block[],
  locals: { decl: string; wb: string } = { decl: '', wb: '' }): BlockFn {
  const decl = hs.map((_, k) => `const h${k} = hs[${k}], i${k} = is[${k}];`).join('\n');
  const pre = mem ? 'const dv = c.dv, u8 = c.u8, tRT = c.tlbRTag, tRP = c.tlbRPhys, tWT = c.tlbWTag, tWP = c.tlbWPhys, dd = c.dirty;' : '';
  const src = `${decl}
return function ${name}(c, ${startName}, left) {
  const r = c.regs, r8 = c.regs8, r16 = c.regs16; ${pre}
  let k = 0; ${locals.decl}
  try {
    ${body}
    return ${n};
  } catch (e) { ${locals.wb} c.blockK = k; throw e; }
};`;
  return new Function('hs', 'is', 'bs', 'getOF', 'getCF', 'getZF', 'getSF', 'getPF', 'PARITY', src)(hs, is, bs, getOF, getCF, getZF, getSF, getPF, PARITY) as BlockFn;
}

// ------------------------------------------------------------------------------------------ inline forms

const TWO32 = 4294967296;
const CANON = 140737488355328; // 2^47: branch targets outside [-CANON, CANON) raise #GP(0)
const enum A { ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7 }
const CC_EXPR = ['getOF(c)', 'getCF(c)', 'getZF(c)', '(getCF(c) | getZF(c))', 'getSF(c)', 'getPF(c)', '(getSF(c) ^ getOF(c))', '(getZF(c) | (getSF(c) ^ getOF(c)))'];

/** Arithmetic flags of the last inline flag-writer, not yet in cpu.lf*: JS expressions (locals, literals). */
interface Pend { op: number; sz: number; a: string; aH: string; b: string; bH: string; r: string; rH: string; cin?: string }
/** Pend.op for flags set eagerly (IMUL): r is the six arithmetic flag bits. */
const EAGER = -1;

/** A JS literal for an int32/number constant (parenthesised: safe next to any operator). */
const lit = (n: number): string => `(${n})`;

/** A region being compiled: its blocks by their byte offset from the entry block's first byte, and their sizes. */
interface Region { at: Map<number, number>; ns: number[]; locals: boolean }

class Gen {
  readonly out: string[] = [];
  private pend: Pend | null = null;
  private readonly dead: boolean[];
  private k = 0;
  private i!: Insn;
  /** Does the block read guest memory through the inline fast path (the function loads the TLB arrays)? */
  mem = false;
  /** Offsets (from this block's start) of the direct successors an inline branch or fall-through names. */
  readonly succ: number[] = [];

  /**
   * b: the block; hs/is: the function's handler and instruction arrays (shared by a region's blocks, this
   * block's from index g0); region: null for a function of one block, else the region (this block is
   * region member j (its place in the layout), `delta` bytes after the entry block's start).
   */
  constructor(private readonly b: Block, private readonly inline: boolean, private readonly hs: Handler[] = [], private readonly is: Insn[] = [],
    private readonly region: Region | null = null, private readonly delta = 0, private readonly j = 0) {
    this.dead = flagsDead(b);
    this.loc = region !== null && region.locals;
  }
  /** Registers live in locals (G<n>, n the cpu.regs index; compileRegion renames r[n] after generation):
   *  byte and word registers are read and written as bits of those locals, not through regs8/regs16. */
  private readonly loc: boolean;
  /** Index of this block's first instruction in hs/is. */
  private g0 = 0;

  /** Generate the block's statements into out (after which calls, mem, succ are known). */
  gen(): void {
    const b = this.b, base = this.g0 = this.is.length;
    let endsInline = false;
    for (let k = 0; k < b.n; k++) {
      const i = b.insns[k];
      this.k = k; this.i = i;
      this.hs.push(this.dead[k] && i.nf !== null ? i.nf : i.exec); this.is.push(i);
      if (this.inline && i.exec !== ud && i.exec !== gp0 && !i.lock && this.form()) { endsInline = true; continue; }
      endsInline = false;
      this.calls++;
      this.flush();
      this.out.push(`k = ${k}; c.insnRip = start + ${i.start}; c.rip = start + ${i.end}; h${base + k}(c, i${base + k}); if (c.brk) return ${k + 1};`);
    }
    if (endsInline && !this.branched) { this.flush(); this.out.push(this.next(b.insns[b.n - 1].end)); }
    else this.flush();
  }

  compile(): BlockFn {
    const b = this.b;
    this.gen();
    const name = `block_${b.phys.toString(16)}`;
    const body = this.loops ? `for (;;) {\n    ${this.out.join('\n    ')}\n    return ${b.n};\n    }` : this.out.join('\n    ');
    return assemble(name, 'start', body, b.n, this.mem, this.hs, this.is, []);
  }

  private branched = false;
  /** Handler calls emitted so far; a self-loop is compiled only into a block without any. */
  calls = 0;
  /** The block branches to its own start from inside its function (the body is wrapped in a loop). */
  private loops = false;
  private emit(s: string): void { this.out.push(s); }

  /** Write pending flags to the lazy-flag fields (as alu() leaves them: the fields the getters read). */
  private flushStr(p: Pend | null): string {
    if (p === null) return '';
    if (p.op === EAGER) return `c.lfOp = ${LF.NONE}; c.flags = (c.flags & ${~0x8d5}) | ${p.r};`;
    if (p.op === LF.SHIFT) return `c.lfOp = ${LF.SHIFT}; c.lfSz = ${p.sz}; c.lfR = ${p.r}; c.lfCin = ${p.cin}; c.lfB = ${p.b};${p.sz === 8 ? ` c.lfRH = ${p.rH};` : ''}`;
    if (p.op === LF.INC || p.op === LF.DEC) {
      return `c.lfOp = ${p.op}; c.lfSz = ${p.sz}; c.lfR = ${p.r}; c.lfCin = ${p.cin}; c.lfA = ${p.a}; c.lfB = 1;${p.sz === 8 ? ` c.lfRH = ${p.rH}; c.lfAH = ${p.aH}; c.lfBH = 0;` : ''}`;
    }
    let s = `c.lfOp = ${p.op}; c.lfSz = ${p.sz}; c.lfR = ${p.r};`;
    if (p.op !== LF.LOGIC) s += ` c.lfA = ${p.a}; c.lfB = ${p.b};`;
    if (p.sz === 8) s += p.op !== LF.LOGIC ? ` c.lfRH = ${p.rH}; c.lfAH = ${p.aH}; c.lfBH = ${p.bH};` : ` c.lfRH = ${p.rH};`;
    return s;
  }
  private flush(): void {
    if (this.pend !== null) { this.emit(this.flushStr(this.pend)); this.pend = null; }
  }
  /** Before anything that can fault: flags visible, the position known. */
  private faultPoint(): void {
    this.flush();
    this.emit(`k = ${this.k}; c.insnRip = start + ${this.i.start};`);
  }
  /** After an access that may have set brk (MMIO, a write to a code page): end the block after this instruction. */
  private brkExit(): string {
    if (this.region !== null) return `if (c.brk) { ${this.flushStr(this.pend)} xr = ${this.delta + this.i.end}; xn = ${this.k + 1}; xi = -1; break X; }`;
    return `if (c.brk) { ${this.flushStr(this.pend)} c.rip = start + ${this.i.end}; return ${this.k + 1}; }`;
  }

  // ---- operands
  private regLo(n: number): string { return `r[${2 * n}]`; }
  private regHi(n: number): string { return `r[${2 * n + 1}]`; }
  /** Register read of size sz (1: byte offset bOff in regs8). */
  private rd(n: number, bOff: number, sz: number): string {
    if (this.loc && sz <= 2) {
      const g = `r[${bOff >> 2}]`;
      return sz === 2 ? `(r[${2 * n}] & 65535)` : (bOff & 7) !== 0 ? `((${g} >>> 8) & 255)` : `(${g} & 255)`;
    }
    return sz === 1 ? `r8[${bOff}]` : sz === 2 ? `r16[${4 * n}]` : this.regLo(n);
  }
  /** Register write of (lo, hi) with size sz; 32-bit writes zero the upper half. */
  private wr(n: number, bOff: number, sz: number, lo: string, hi: string): string {
    switch (sz) {
      case 1: if (this.loc) { const g = `r[${bOff >> 2}]`; return (bOff & 7) !== 0 ? `${g} = (${g} & -65281) | ((${lo}) & 255) << 8;` : `${g} = (${g} & -256) | ((${lo}) & 255);`; }
        return `r8[${bOff}] = ${lo};`;
      case 2: return this.loc ? `r[${2 * n}] = (r[${2 * n}] & -65536) | ((${lo}) & 65535);` : `r16[${4 * n}] = ${lo};`;
      case 4: return `${this.regLo(n)} = ${lo}; ${this.regHi(n)} = 0;`;
      default: return `${this.regLo(n)} = ${lo}; ${this.regHi(n)} = ${hi};`;
    }
  }

  /** Linear address of the memory operand into local la<k> (after faultPoint). */
  private ea(): string {
    const i = this.i, k = this.k, la = `la${k}`;
    if (i.asz === 8 && i.seg !== 4 && i.seg !== 5) {
      if (i.base === 16) { this.emit(`const ${la} = start + ${i.end + i.disp};`); return la; }
      if (i.base < 0 && i.index < 0) { this.emit(`const ${la} = ${i.disp};`); return la; }
      const terms: string[] = [], his: string[] = [];
      if (i.base >= 0) { terms.push(`(r[${2 * i.base}] >>> 0)`); his.push(`r[${2 * i.base + 1}]`); }
      if (i.index >= 0) { terms.push(i.scale === 1 ? `(r[${2 * i.index}] >>> 0)` : `(r[${2 * i.index}] >>> 0) * ${i.scale}`); his.push(`r[${2 * i.index + 1}]`); }
      if (i.disp !== 0) terms.push(lit(i.disp));
      // the common case: every term in the low 4 GiB; anything else takes the decoder's exact function
      this.emit(`let ${la} = ${terms.join(' + ')}; if ((${his.join(' | ')}) !== 0 || ${la} < 0 || ${la} >= ${TWO32}) ${la} = i${this.g0 + k}.ea(c, i${this.g0 + k});`);
      return la;
    }
    this.emit(`c.rip = start + ${i.end}; const ${la} = i${this.g0 + k}.ea(c, i${this.g0 + k});`);
    return la;
  }

  /** Load sz bytes at la into locals v (and vh for 8). */
  private load(la: string, sz: number, v: string, vh: string): void {
    this.mem = true;
    const k = this.k, o = `o${k}`, t = `t${k}`;
    this.emit(`const ${o} = ${la} & 4095, ${t} = (${la} >>> 12) & ${TLB_MASK};`);
    const hit = `tRT[${t}] === ${la} - ${o}`;
    switch (sz) {
      case 1: this.emit(`const ${v} = ${hit} ? u8[tRP[${t}] + ${o}] : c.readSlow(${la}, 1);`); break;
      case 2: this.emit(`const ${v} = ${hit} && ${o} <= 4094 ? dv.getUint16(tRP[${t}] + ${o}, true) : c.readSlow(${la}, 2);`); break;
      case 4: this.emit(`const ${v} = ${hit} && ${o} <= 4092 ? dv.getInt32(tRP[${t}] + ${o}, true) : c.readSlow(${la}, 4);`); break;
      default: this.emit(`let ${v}, ${vh}; if (${hit} && ${o} <= 4088) { const p = tRP[${t}] + ${o}; ${v} = dv.getInt32(p, true); ${vh} = dv.getInt32(p + 4, true); } else { ${v} = c.read64(${la}); ${vh} = c.hi; }`);
    }
  }

  /** Store sz bytes (lo, hi) at la; the slow path may set brk (MMIO, code page): with exit, the block ends
   *  there (the store is the instruction's last effect), else the caller checks brk once it is done. */
  private store(la: string, sz: number, lo: string, hi: string, exitNow = true): void {
    this.mem = true;
    const k = this.k, o = `o${k}`, t = `t${k}`;
    this.emit(`const ${o} = ${la} & 4095, ${t} = (${la} >>> 12) & ${TLB_MASK};`);
    const hit = `tWT[${t}] === ${la} - ${o}`;
    const exit = exitNow ? this.brkExit() : '';
    switch (sz) {
      // a write-TLB hit marks its page dirty (Cpu.dirty: digests, pre-copy)
      case 1: this.emit(`if (${hit}) { const p = tWP[${t}] + ${o}; u8[p] = ${lo};${mark('p')} } else { c.writeSlow(${la}, 1, ${lo}); ${exit} }`); break;
      case 2: this.emit(`if (${hit} && ${o} <= 4094) { const p = tWP[${t}] + ${o}; dv.setUint16(p, ${lo}, true);${mark('p')} } else { c.writeSlow(${la}, 2, ${lo}); ${exit} }`); break;
      case 4: this.emit(`if (${hit} && ${o} <= 4092) { const p = tWP[${t}] + ${o}; dv.setInt32(p, ${lo}, true);${mark('p')} } else { c.writeSlow(${la}, 4, ${lo}); ${exit} }`); break;
      default: this.emit(`if (${hit} && ${o} <= 4088) { const p = tWP[${t}] + ${o}; dv.setInt32(p, ${lo}, true); dv.setInt32(p + 4, ${hi}, true);${mark('p')} } else { c.write64(${la}, ${lo}, ${hi}); ${exit} }`);
    }
  }

  // ---- conditions

  /** Condition cc (0-15) as a JS boolean expression: from the pending flags when it can be, else the getters. */
  private cond(cc: number): string {
    const p = this.pend;
    const e = p === null ? null : fuse(p, cc >> 1);
    if (e !== null) return cc & 1 ? `!(${e})` : `(${e})`;
    this.flush();
    return `(${CC_EXPR[cc >> 1]} ${cc & 1 ? '===' : '!=='} 0)`;
  }

  // ---- the forms

  /** Emit the current instruction inline; false (nothing emitted) when it is not one of the inline forms. */
  private form(): boolean {
    const i = this.i, op = i.op, sz = i.osz;
    const wide = sz === 4 || sz === 8;
    if (op < 0x40 && (op & 7) <= 5) {
      const kind = (op >> 3) & 7;
      if (kind === A.ADC || kind === A.SBB) return false;
      switch (op & 7) {
        case 0: case 1: return this.alu(kind, sz, 'E', 'G'); // op Eb,Gb / Ev,Gv
        case 2: case 3: return this.alu(kind, sz, 'G', 'E'); // op Gb,Eb / Gv,Ev
        default: return this.alu(kind, sz, 'A', 'I'); // op AL,Ib / rAX,Iz
      }
    }
    switch (op) {
      case 0x80: case 0x81: case 0x83: return i.sub !== A.ADC && i.sub !== A.SBB && this.alu(i.sub, sz, 'E', 'I');
      case 0x84: case 0x85: return this.alu(A.AND, sz, 'E', 'G', true);
      case 0xa8: case 0xa9: return this.alu(A.AND, sz, 'A', 'I', true);
      case 0xf6: case 0xf7: return i.sub <= 1 && this.alu(A.AND, sz, 'E', 'I', true);
      case 0x88: case 0x89: return this.mov('E', 'G');
      case 0x8a: case 0x8b: return this.mov('G', 'E');
      case 0xc6: case 0xc7: return i.sub === 0 && this.mov('E', 'I');
      case 0x10d: case 0x118: case 0x119: case 0x11a: case 0x11b: case 0x11c: case 0x11d: case 0x11e: case 0x11f:
        return i.exec === nop; // NOP, hint NOPs, prefetch: nothing at all (no address, no fault)
      case 0x8d: return wide && i.rm < 0 && i.asz === 8 && this.lea();
      case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf: return wide && this.movx(op & 1 ? 2 : 1, op >= 0x1be);
      case 0x63: return sz === 8 && this.movx(4, true);
      case 0xeb: case 0xe9: return this.jmp();
      case 0xe8: return this.call();
      case 0xc3: return this.ret();
      default:
    }
    if (op >= 0xb8 && op <= 0xbf) return sz !== 2 && this.movRI();
    if (op >= 0xb0 && op <= 0xb7) return this.movRI();
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) return this.jcc(op & 15);
    if (op >= 0x140 && op <= 0x14f) return wide && this.cmov(op & 15);
    if (op >= 0x190 && op <= 0x19f) return i.rm >= 0 && this.setcc(op & 15);
    if (op === 0xc0 || op === 0xc1 || op === 0xd0 || op === 0xd1) return i.rm >= 0 && i.sub >= 4 && this.shift(op >= 0xd0 ? 1 : i.imm);
    if (op === 0x1af || op === 0x69 || op === 0x6b) return sz === 4 && this.imul32();
    if (op === 0xff && i.sub <= 1) return wide && i.rm >= 0 && this.incdec(i.sub === 0);
    if (i.exec === movups || i.exec === movaps) return this.sseMove(true, i.exec === movaps);
    if (i.exec === movupsSt || i.exec === movapsSt) return this.sseMove(false, i.exec === movapsSt);
    if (i.exec === addsdH || i.exec === subsdH || i.exec === mulsdH) return i.rm >= 0 && this.fpArith(i.exec === mulsdH, i.exec === subsdH, 1);
    if (i.exec === addpdH || i.exec === subpdH || i.exec === mulpdH) return i.rm >= 0 && this.fpArith(i.exec === mulpdH, i.exec === subpdH, 2);
    if (op >= 0x50 && op <= 0x57) return sz === 8 && this.push();
    if (op >= 0x58 && op <= 0x5f) return sz === 8 && this.pop();
    return false;
  }

  /** ADD OR AND SUB XOR CMP (and TEST: test = true) of size 1/4/8; a memory destination is left to the handler. */
  private alu(kind: number, sz: number, dst: 'E' | 'G' | 'A', src: 'E' | 'G' | 'I', test = false): boolean {
    const i = this.i, k = this.k;
    const write = !test && kind !== A.CMP;
    const memDst = dst === 'E' && i.rm < 0, memSrc = src === 'E' && i.rm < 0;
    const rmw = memDst && write;
    let a: string, aH = '0', b: string, bH = '0';
    if (rmw) {
      // read-modify-write: a write-TLB hit covers both accesses (p >= 0); else readRmw checks the write
      // permission before anything changes and writeN stores through the slow path
      this.faultPoint();
      const la = this.ea();
      this.mem = true;
      const o = `o${k}`, t = `t${k}`, p = `p${k}`;
      this.emit(`const ${o} = ${la} & 4095, ${t} = (${la} >>> 12) & ${TLB_MASK}, ${p} = tWT[${t}] === ${la} - ${o} && ${o} <= ${4096 - sz} ? tWP[${t}] + ${o} : -1;`);
      if (markStores) this.emit(`if (${p} >= 0)${mark(p)}`);
      switch (sz) {
        case 1: this.emit(`const m${k} = ${p} >= 0 ? u8[${p}] : c.readRmw(${la}, 1);`); break;
        case 2: this.emit(`const m${k} = ${p} >= 0 ? dv.getUint16(${p}, true) : c.readRmw(${la}, 2);`); break;
        case 4: this.emit(`const m${k} = ${p} >= 0 ? dv.getInt32(${p}, true) : c.readRmw(${la}, 4);`); break;
        default: this.emit(`let m${k}, mh${k}; if (${p} >= 0) { m${k} = dv.getInt32(${p}, true); mh${k} = dv.getInt32(${p} + 4, true); } else { m${k} = c.readRmw(${la}, 8); mh${k} = c.hi; }`);
      }
    } else if (memDst || memSrc) {
      this.faultPoint();
      const la = this.ea();
      this.load(la, sz, `m${k}`, `mh${k}`);
    }
    const operand = (which: 'E' | 'G' | 'A' | 'I'): [string, string] => {
      switch (which) {
        case 'I': return sz === 1 ? [lit(i.imm & 0xff), '0'] : sz === 2 ? [lit(i.imm & 0xffff), '0'] : [lit(i.imm | 0), lit(i.immHi | 0)];
        case 'A': return [this.rd(0, 0, sz), sz === 8 ? this.regHi(0) : '0'];
        case 'G': return [this.rd(i.reg, i.regB, sz), sz === 8 ? this.regHi(i.reg) : '0'];
        default: return i.rm < 0 ? [`m${k}`, sz === 8 ? `mh${k}` : '0'] : [this.rd(i.rm, i.rmB, sz), sz === 8 ? this.regHi(i.rm) : '0'];
      }
    };
    [a, aH] = operand(dst); [b, bH] = operand(src);
    // operands into locals (the destination register is overwritten; the flags need the inputs)
    const A_ = `a${k}`, AH = `ah${k}`, B_ = `b${k}`, BH = `bh${k}`, V = `v${k}`, VH = `vh${k}`;
    const decl = [`${A_} = ${a}`];
    if (sz === 8) decl.push(`${AH} = ${aH}`);
    const bLit = src === 'I';
    if (!bLit) { decl.push(`${B_} = ${b}`); if (sz === 8) decl.push(`${BH} = ${bH}`); }
    const bb = bLit ? b : B_, bbH = bLit ? bH : BH;
    this.emit(`const ${decl.join(', ')};`);
    let lf: number;
    if (sz === 8) {
      switch (kind) {
        case A.ADD: this.emit(`const d${k} = (${A_} >>> 0) + (${bb} >>> 0), ${V} = d${k} | 0, ${VH} = (${AH} + ${bbH} + (d${k} >= ${TWO32} ? 1 : 0)) | 0;`); lf = LF.ADD; break;
        case A.SUB: case A.CMP: this.emit(`const d${k} = (${A_} >>> 0) - (${bb} >>> 0), ${V} = d${k} | 0, ${VH} = (${AH} - ${bbH} - (d${k} < 0 ? 1 : 0)) | 0;`); lf = LF.SUB; break;
        default: {
          const o = kind === A.OR ? '|' : kind === A.XOR ? '^' : '&';
          this.emit(`const ${V} = ${A_} ${o} ${bb}, ${VH} = ${AH} ${o} ${bbH};`); lf = LF.LOGIC;
        }
      }
    } else {
      const m = sz === 1 ? ' & 255' : sz === 2 ? ' & 65535' : ' | 0';
      switch (kind) {
        case A.ADD: this.emit(`const ${V} = (${A_} + ${bb})${m};`); lf = LF.ADD; break;
        case A.SUB: case A.CMP: this.emit(`const ${V} = (${A_} - ${bb})${m};`); lf = LF.SUB; break;
        default: {
          const o = kind === A.OR ? '|' : kind === A.XOR ? '^' : '&';
          this.emit(`const ${V} = ${A_} ${o} ${bb};`); lf = LF.LOGIC;
        }
      }
    }
    if (rmw) {
      const p = `p${k}`, la = `la${k}`;
      switch (sz) {
        case 1: this.emit(`if (${p} >= 0) u8[${p}] = ${V}; else c.writeN(${la}, 1, ${V}, 0);`); break;
        case 2: this.emit(`if (${p} >= 0) dv.setUint16(${p}, ${V}, true); else c.writeN(${la}, 2, ${V}, 0);`); break;
        case 4: this.emit(`if (${p} >= 0) dv.setInt32(${p}, ${V}, true); else c.writeN(${la}, 4, ${V}, 0);`); break;
        default: this.emit(`if (${p} >= 0) { dv.setInt32(${p}, ${V}, true); dv.setInt32(${p} + 4, ${VH}, true); } else c.writeN(${la}, 8, ${V}, ${VH});`);
      }
    } else if (write) {
      // dst is a register here ('E' with rm >= 0, 'G' or 'A')
      const n = dst === 'A' ? 0 : dst === 'G' ? i.reg : i.rm, bo = dst === 'A' ? 0 : dst === 'G' ? i.regB : i.rmB;
      this.emit(this.wr(n, bo, sz, V, VH));
    }
    this.pend = { op: lf, sz, a: A_, aH: sz === 8 ? AH : '0', b: bb, bH: sz === 8 ? bbH : '0', r: V, rH: sz === 8 ? VH : '0' };
    if (memDst || memSrc) this.emit(this.brkExit());
    return true;
  }

  /** MOV E,G / G,E / E,imm (sizes 1, 4, 8). */
  private mov(dst: 'E' | 'G', src: 'E' | 'G' | 'I'): boolean {
    const i = this.i, k = this.k, sz = i.osz;
    let lo: string, hi: string;
    if (src === 'I') { lo = sz === 1 ? lit(i.imm & 0xff) : sz === 2 ? lit(i.imm & 0xffff) : lit(i.imm | 0); hi = lit(i.immHi | 0); }
    else if (src === 'G') { lo = this.rd(i.reg, i.regB, sz); hi = this.regHi(i.reg); }
    else if (i.rm >= 0) { lo = this.rd(i.rm, i.rmB, sz); hi = this.regHi(i.rm); }
    else {
      this.faultPoint();
      const la = this.ea();
      this.load(la, sz, `m${k}`, `mh${k}`);
      this.emit(this.wr(i.reg, i.regB, sz, `m${k}`, `mh${k}`));
      this.emit(this.brkExit());
      return true;
    }
    if (dst === 'G') { this.emit(sz === 8 ? `{ const l = ${lo}, h = ${hi}; ${this.wr(i.reg, i.regB, sz, 'l', 'h')} }` : this.wr(i.reg, i.regB, sz, lo, hi)); return true; }
    if (i.rm >= 0) { this.emit(sz === 8 ? `{ const l = ${lo}, h = ${hi}; ${this.wr(i.rm, i.rmB, sz, 'l', 'h')} }` : this.wr(i.rm, i.rmB, sz, lo, hi)); return true; }
    this.faultPoint();
    const la = this.ea();
    this.emit(`const s${k} = ${lo}${sz === 8 ? `, sh${k} = ${hi}` : ''};`);
    this.store(la, sz, `s${k}`, `sh${k}`);
    return true;
  }

  /** MOV r, imm (B0-B7 byte, B8-BF 32/64). */
  private movRI(): boolean {
    const i = this.i, sz = i.osz;
    this.emit(this.wr(i.reg, i.regB, sz, sz === 1 ? lit(i.imm & 0xff) : lit(i.imm | 0), lit(i.immHi | 0)));
    return true;
  }

  /** LEA r32/r64 with 64-bit addressing: exact 64-bit arithmetic, no segment base (as lea()). */
  private lea(): boolean {
    const i = this.i, k = this.k;
    if (i.base === 16) {
      this.emit(`{ const v = start + ${i.end + i.disp}; ${this.wr(i.reg, 0, i.osz, '(v >>> 0) | 0', 'Math.floor(v / 4294967296) | 0')} }`);
      return true;
    }
    if (i.osz === 4) {
      // the low 32 bits of the sum (every term below 2^36: exact in a double)
      const t: string[] = [];
      if (i.base >= 0) t.push(`r[${2 * i.base}]`);
      if (i.index >= 0) t.push(i.scale === 1 ? `r[${2 * i.index}]` : `r[${2 * i.index}] * ${i.scale}`);
      t.push(lit(i.disp));
      this.emit(`${this.regLo(i.reg)} = (${t.join(' + ')}) | 0; ${this.regHi(i.reg)} = 0;`);
      return true;
    }
    const s0 = i.disp < 0 ? i.disp + TWO32 : i.disp, h0 = i.disp < 0 ? -1 : 0;
    const s: string[] = [String(s0)], h: string[] = [String(h0)];
    if (i.base >= 0) { s.push(`(r[${2 * i.base}] >>> 0)`); h.push(`r[${2 * i.base + 1}]`); }
    if (i.index >= 0) { s.push(`(r[${2 * i.index}] >>> 0) * ${i.scale}`); h.push(`r[${2 * i.index + 1}] * ${i.scale}`); }
    this.emit(`{ const s = ${s.join(' + ')}, h = ${h.join(' + ')}, lo = s >>> 0; ${this.regLo(i.reg)} = lo | 0; ${this.regHi(i.reg)} = (h + (s - lo) / ${TWO32}) | 0; }`);
    void k;
    return true;
  }

  /** MOVZX/MOVSX r32/r64 from 8/16 bits, MOVSXD r64 from 32 (ssz = source size). */
  private movx(ssz: number, signed: boolean): boolean {
    const i = this.i, k = this.k;
    let v: string;
    if (i.rm >= 0) v = ssz === 4 ? this.regLo(i.rm) : this.rd(i.rm, i.rmB, ssz);
    else {
      this.faultPoint();
      const la = this.ea();
      this.load(la, ssz, `m${k}`, `mh${k}`);
      v = `m${k}`;
    }
    const ext = !signed ? v : ssz === 1 ? `(${v} << 24) >> 24` : ssz === 2 ? `(${v} << 16) >> 16` : `${v} | 0`;
    if (i.osz === 8 && signed) this.emit(`{ const x = ${ext}; ${this.regLo(i.reg)} = x; ${this.regHi(i.reg)} = x >> 31; }`);
    else this.emit(`${this.regLo(i.reg)} = ${ext}; ${this.regHi(i.reg)} = 0;`);
    if (i.rm < 0) this.emit(this.brkExit());
    return true;
  }

  /** CMOVcc r32/r64, r/m: the source is read (and may fault) whatever the condition; 32-bit zero-extends. */
  private cmov(cc: number): boolean {
    const i = this.i, k = this.k, sz = i.osz;
    let lo: string, hi: string;
    if (i.rm >= 0) { lo = this.regLo(i.rm); hi = this.regHi(i.rm); }
    else {
      this.faultPoint();
      const la = this.ea();
      this.load(la, sz, `m${k}`, `mh${k}`);
      lo = `m${k}`; hi = `mh${k}`;
    }
    const cond = this.cond(cc);
    if (sz === 8) this.emit(`if (${cond}) { const l = ${lo}, h = ${hi}; ${this.regLo(i.reg)} = l; ${this.regHi(i.reg)} = h; }`);
    else this.emit(`if (${cond}) ${this.regLo(i.reg)} = ${lo}; ${this.regHi(i.reg)} = 0;`);
    if (i.rm < 0) this.emit(this.brkExit());
    return true;
  }

  private setcc(cc: number): boolean {
    const i = this.i;
    this.emit(this.wr(i.rm, i.rmB, 1, `(${this.cond(cc)} ? 1 : 0)`, '0'));
    return true;
  }

  /** A branch target start + off: #GP(0) unless canonical, then RIP. Ends the block. */
  private jumpTo(off: number): string {
    const i = this.i, k = this.k;
    return `{ const t = start + ${off}; if (t >= ${CANON} || t < ${-CANON}) { k = ${k}; c.insnRip = start + ${i.start}; c.rip = start + ${i.end}; c.raise(13, 0); } c.rip = t; }`;
  }

  /** A taken direct branch to start + off: to a block of the region (or, in a function of one block that
   *  calls no handler, to its own start), the next block runs here when the budget allows. */
  private taken(off: number): string {
    this.succ.push(off);
    const n = this.b.n;
    if (this.region !== null) {
      const m = this.region.at.get(this.delta + off);
      return m !== undefined && (m === 0 || m > this.j) ? this.enter(m) : this.leave(off, true);
    }
    if (off !== 0 || this.calls !== 0) return this.jumpTo(off);
    this.loops = true;
    return `{ if (left >= ${2 * n}) { c.icount += ${n}; left -= ${n}; continue; } c.rip = start; }`;
  }

  /** Fall through to start + off (no canonical check: the next byte after an instruction of this block). */
  private next(off: number): string {
    this.succ.push(off);
    if (this.region === null) return `c.rip = start + ${off};`;
    const m = this.region.at.get(this.delta + off);
    return m !== undefined && (m === 0 || m > this.j) ? this.enter(m) : this.leave(off, false);
  }

  /** Go on with region member m (laid out after this one: a labelled break; the entry: a continue of the
   *  region's loop). Each edge is its own direct jump, no dispatch on a member number; m's top charges this
   *  block's instructions and checks the budget. */
  private enter(m: number): string {
    return `{ pn = ${this.b.n}; ${m === 0 ? 'continue L' : `break B${m}`}; }`;
  }

  /** Leave the region for start + off (a taken branch's target is checked for canonical form there); a
   *  member at or before this one other than the entry is left to Cpu.runBlock too (no loop there). */
  private leave(off: number, check: boolean): string {
    return `{ ${check ? `k = ${this.k}; ` : ''}xr = ${this.delta + off}; xn = ${this.b.n}; xi = ${check ? this.delta + this.i.start : -1}; break X; }`;
  }

  private jcc(cc: number): boolean {
    const i = this.i;
    const cond = this.cond(cc);
    // the flags stay live after the block: pending ones are written first (the condition reads locals)
    this.flush();
    this.emit(`if (${cond}) ${this.taken(i.end + i.imm)} else ${this.next(i.end)}`);
    this.branched = true;
    return true;
  }

  private jmp(): boolean {
    this.flush();
    this.emit(this.taken(this.i.end + this.i.imm));
    this.branched = true;
    return true;
  }

  /** RSP - 8 as (lo in nl, hi in nh) and the address, for a push. */
  private pushAddr(): void {
    const k = this.k;
    this.emit(`let nl${k} = (r[8] >>> 0) - 8, nh${k} = r[9]; if (nl${k} < 0) { nl${k} += ${TWO32}; nh${k} = (nh${k} - 1) | 0; } const la${k} = nh${k} * ${TWO32} + nl${k};`);
  }

  private call(): boolean {
    const i = this.i, k = this.k;
    this.faultPoint();
    this.emit(`const tg${k} = start + ${i.end + i.imm}; if (tg${k} >= ${CANON} || tg${k} < ${-CANON}) c.raise(13, 0);`);
    this.emit(`const ra${k} = start + ${i.end};`);
    this.pushAddr();
    this.store(`la${k}`, 8, `(ra${k} >>> 0) | 0`, `Math.floor(ra${k} / ${TWO32}) | 0`, false); // CALL ends the block anyway
    this.emit(`r[8] = nl${k} | 0; r[9] = nh${k}; c.rip = tg${k};`);
    this.branched = true;
    return true;
  }

  private ret(): boolean {
    const i = this.i, k = this.k;
    if (i.op !== 0xc3) return false;
    this.faultPoint();
    this.emit(`const la${k} = r[9] * ${TWO32} + (r[8] >>> 0);`);
    this.load(`la${k}`, 8, `m${k}`, `mh${k}`);
    this.emit(`const tg${k} = mh${k} * ${TWO32} + (m${k} >>> 0); if (tg${k} >= ${CANON} || tg${k} < ${-CANON}) c.raise(13, 0);`);
    this.emit(`{ const s = (r[8] >>> 0) + 8, lo = s >>> 0; r[9] = (r[9] + (s - lo) / ${TWO32}) | 0; r[8] = lo | 0; } c.rip = tg${k};`);
    this.branched = true;
    return true;
  }

  /** SHL/SAL/SHR/SAR r32/r64 by an immediate count (C1 /4-7, D1 /4-7): OF by the count-1 rule for every
   *  count, as the handlers (src/cpu/ops/shift.ts); a masked count of 0 changes nothing but zero-extends. */
  private shift(count: number): boolean {
    const i = this.i, k = this.k, sz = i.osz, d = 2 * i.rm;
    const n = count & (sz === 8 ? 63 : 31);
    if (n === 0) { if (sz === 4) this.emit(`r[${d + 1}] = 0;`); return true; }
    const kind = i.sub === 6 ? 4 : i.sub; // SAL = SHL
    const V = `v${k}`, VH = `vh${k}`, CF = `cf${k}`, OF = `of${k}`;
    if (sz <= 2) {
      // as shiftSmall: the operand unsigned; a count above the width shifts everything out
      const bits = sz * 8, m = sz === 1 ? 255 : 65535, x = 32 - bits, reg = this.rd(i.rm, i.rmB, sz);
      this.emit(`const a${k} = ${reg};`);
      const a = `a${k}`;
      if (kind === 4) this.emit(n <= bits ? `const ${V} = (${a} << ${n}) & ${m}, ${CF} = (${a} >>> ${bits - n}) & 1, ${OF} = ((${a} >>> ${bits - 1}) ^ (${a} >>> ${bits - 2})) & 1;`
        : `const ${V} = 0, ${CF} = 0, ${OF} = ((${a} >>> ${bits - 1}) ^ (${a} >>> ${bits - 2})) & 1;`);
      else if (kind === 5) this.emit(n <= bits ? `const ${V} = ${a} >>> ${n}, ${CF} = (${a} >>> ${n - 1}) & 1, ${OF} = ${a} >>> ${bits - 1};`
        : `const ${V} = 0, ${CF} = 0, ${OF} = ${a} >>> ${bits - 1};`);
      else this.emit(`const s${k} = (${a} << ${x}) >> ${x}, ${V} = (s${k} >> ${n}) & ${m}, ${CF} = (s${k} >> ${n - 1}) & 1, ${OF} = 0;`);
      this.emit(this.wr(i.rm, i.rmB, sz, V, '0'));
    } else if (sz === 4) {
      this.emit(`const a${k} = r[${d}];`);
      const a = `a${k}`;
      if (kind === 4) this.emit(`const ${V} = ${a} << ${n}, ${CF} = (${a} >>> ${32 - n}) & 1, ${OF} = ((${a} >>> 31) ^ (${a} >>> 30)) & 1;`);
      else if (kind === 5) this.emit(`const ${V} = (${a} >>> ${n}) | 0, ${CF} = (${a} >>> ${n - 1}) & 1, ${OF} = ${a} >>> 31;`);
      else this.emit(`const ${V} = ${a} >> ${n}, ${CF} = (${a} >> ${n - 1}) & 1, ${OF} = 0;`);
      this.emit(`r[${d}] = ${V}; r[${d + 1}] = 0;`);
    } else {
      this.emit(`const ql${k} = r[${d}], qh${k} = r[${d + 1}];`);
      const lo = `ql${k}`, hi = `qh${k}`;
      let e: string;
      if (kind === 4) {
        e = n < 32 ? `${VH} = (${hi} << ${n}) | (${lo} >>> ${32 - n}), ${V} = ${lo} << ${n}, ${CF} = (${hi} >>> ${32 - n}) & 1`
          : `${VH} = ${lo} << ${n - 32}, ${V} = 0, ${CF} = ${n === 32 ? `${hi} & 1` : `(${lo} >>> ${64 - n}) & 1`}`;
        e += `, ${OF} = ((${hi} >>> 31) ^ (${hi} >>> 30)) & 1`;
      } else if (kind === 5) {
        e = n < 32 ? `${V} = (${lo} >>> ${n}) | (${hi} << ${32 - n}), ${VH} = (${hi} >>> ${n}) | 0, ${CF} = (${lo} >>> ${n - 1}) & 1`
          : `${V} = (${hi} >>> ${n - 32}) | 0, ${VH} = 0, ${CF} = ${n === 32 ? `${lo} >>> 31` : `(${hi} >>> ${n - 33}) & 1`}`;
        e += `, ${OF} = ${hi} >>> 31`;
      } else {
        e = n < 32 ? `${V} = (${lo} >>> ${n}) | (${hi} << ${32 - n}), ${VH} = ${hi} >> ${n}, ${CF} = (${lo} >>> ${n - 1}) & 1`
          : `${V} = ${hi} >> ${n - 32}, ${VH} = ${hi} >> 31, ${CF} = ${n === 32 ? `${lo} >>> 31` : `(${hi} >> ${n - 33}) & 1`}`;
        e += `, ${OF} = 0`;
      }
      this.emit(`const ${e};`);
      this.emit(`r[${d}] = ${V}; r[${d + 1}] = ${VH};`);
    }
    this.pend = { op: LF.SHIFT, sz, a: '0', aH: '0', b: OF, bH: '0', r: V, rH: sz === 8 ? VH : '0', cin: CF };
    return true;
  }

  /** IMUL r32, r/m32 (0F AF) and IMUL r32, r/m32, imm (69, 6B): CF = OF = the product does not fit, SF and
   *  PF from the result, ZF = AF = 0 (as imulTo/mulFlags). */
  private imul32(): boolean {
    const i = this.i, k = this.k;
    let src: string;
    if (i.rm >= 0) src = this.regLo(i.rm);
    else {
      this.faultPoint();
      const la = this.ea();
      this.load(la, 4, `m${k}`, `mh${k}`);
      src = `m${k}`;
    }
    const [a, b] = i.op === 0x1af ? [this.regLo(i.reg), src] : [src, lit(i.imm | 0)];
    this.emit(`const a${k} = ${a}, b${k} = ${b}, v${k} = Math.imul(a${k}, b${k}), x${k} = a${k} * b${k};`);
    this.emit(`const f${k} = (x${k} < -2147483648 || x${k} > 2147483647 ? ${0x801} : 0) | ((v${k} >>> 31) << 7) | PARITY[v${k} & 255];`);
    this.emit(`${this.regLo(i.reg)} = v${k}; ${this.regHi(i.reg)} = 0;`);
    this.pend = { op: EAGER, sz: 4, a: '0', aH: '0', b: '0', bH: '0', r: `f${k}`, rH: '0' };
    if (i.rm < 0) this.emit(this.brkExit());
    return true;
  }

  /** INC/DEC r32/r64 (FF /0, /1): CF is kept (read from the pending flags when it can be). */
  private incdec(inc: boolean): boolean {
    const i = this.i, k = this.k, sz = i.osz, d = 2 * i.rm;
    const p = this.pend;
    let cf: string | null = null;
    if (p !== null) {
      if (p.op === LF.LOGIC) cf = '0';
      else if (p.op === LF.SHIFT || p.op === LF.INC || p.op === LF.DEC) cf = p.cin!;
      else if (p.op === LF.SUB && p.sz === 4) cf = `((${p.a} >>> 0) < (${p.b} >>> 0) ? 1 : 0)`;
    }
    if (cf === null) { this.flush(); cf = 'getCF(c)'; }
    this.emit(`const c${k} = ${cf};`);
    const delta = inc ? 1 : -1;
    if (sz === 4) {
      this.emit(`const a${k} = r[${d}], v${k} = (a${k} + ${lit(delta)}) | 0; r[${d}] = v${k}; r[${d + 1}] = 0;`);
    } else {
      this.emit(`const a${k} = r[${d}], ah${k} = r[${d + 1}], d${k} = (a${k} >>> 0) + ${lit(delta)}, v${k} = d${k} | 0, vh${k} = (ah${k} + (d${k} >= ${TWO32} ? 1 : d${k} < 0 ? -1 : 0)) | 0; r[${d}] = v${k}; r[${d + 1}] = vh${k};`);
    }
    this.pend = { op: inc ? LF.INC : LF.DEC, sz, a: `a${k}`, aH: sz === 8 ? `ah${k}` : '0', b: '1', bH: '0', r: `v${k}`, rH: sz === 8 ? `vh${k}` : '0', cin: `c${k}` };
    return true;
  }

  /**
   * MOVUPS/MOVAPS/MOVUPD/MOVAPD/MOVDQU/MOVDQA, load (xmm, xmm/m128) and store (xmm/m128, xmm) forms: 128 bits
   * copied word by word, memory through the TLB fast path when it hits and the 16 bytes lie in one page.
   * Anything else — SSE unavailable (CR0.EM/TS, CR4.OSFXSR: #UD/#NM), a misaligned MOVAPS (#GP), a TLB miss,
   * MMIO, a code page, watched memory — runs the handler itself, which raises or takes its slow path. That
   * fallback is not counted as a handler call (a self-loop stays allowed): it is not a REP instruction, so the
   * count and position a device or fault sees are exact as for the inline slow paths.
   */
  private sseMove(load: boolean, align: boolean): boolean {
    const i = this.i, k = this.k, g = this.g0 + k;
    this.faultPoint();
    const off = `(c.cr0 & 12) !== 0 || (c.cr4 & 512) === 0`;
    const call = `{ c.rip = start + ${i.end}; h${g}(c, i${g}); if (c.brk) return ${k + 1}; }`;
    const xr = (i.reg << 2);
    if (i.rm >= 0) {
      const d = (load ? i.reg : i.rm) << 2, s = (load ? i.rm : i.reg) << 2;
      this.emit(`if (${off}) ${call} else { const x = c.xmm; x[${d}] = x[${s}]; x[${d + 1}] = x[${s + 1}]; x[${d + 2}] = x[${s + 2}]; x[${d + 3}] = x[${s + 3}]; }`);
      return true;
    }
    const la = this.ea();
    this.mem = true;
    const o = `o${k}`, t = `t${k}`;
    this.emit(`const ${o} = ${la} & 4095, ${t} = (${la} >>> 12) & ${TLB_MASK};`);
    const miss = `${off} || ${align ? `(${la} & 15) !== 0 || ` : ''}${load ? 'tRT' : 'tWT'}[${t}] !== ${la} - ${o} || ${o} > 4080`;
    if (load) {
      this.emit(`if (${miss}) ${call} else { const p = tRP[${t}] + ${o}, x = c.xmm; x[${xr}] = dv.getInt32(p, true); x[${xr + 1}] = dv.getInt32(p + 4, true); x[${xr + 2}] = dv.getInt32(p + 8, true); x[${xr + 3}] = dv.getInt32(p + 12, true); }`);
    } else {
      this.emit(`if (${miss}) ${call} else { const p = tWP[${t}] + ${o}, x = c.xmm; dv.setInt32(p, x[${xr}], true); dv.setInt32(p + 4, x[${xr + 1}], true); dv.setInt32(p + 8, x[${xr + 2}], true); dv.setInt32(p + 12, x[${xr + 3}], true);${mark('p')} }`);
    }
    return true;
  }

  /**
   * ADDSD/SUBSD/MULSD and ADDPD/SUBPD/MULPD xmm, xmm (lanes: 1 or 2 doubles): the common case inline — SSE
   * available, MXCSR rounding to nearest with precision (PE) masked, every operand a normal number and every
   * result a normal number (for a product also both operands below 1e298, so Dekker's error term cannot
   * overflow): then the double operation is the instruction's result and PE is set when a lane was inexact,
   * as src/cpu/fp/sse.ts's fast path. Anything else runs the handler (exact rounding, NaNs, denormals,
   * directed rounding, unmasked exceptions, #UD/#NM), which computes every lane itself.
   */
  private fpArith(mul: boolean, sub: boolean, lanes: number): boolean {
    const i = this.i, k = this.k, g = this.g0 + k;
    this.faultPoint();
    const call = `{ c.rip = start + ${i.end}; h${g}(c, i${g}); if (c.brk) return ${k + 1}; }`;
    const f = `f${k}`, conds = ['(c.cr0 & 12) === 0', '(c.cr4 & 512) !== 0', '(c.mxcsr & 0x7000) === 0x1000'], writes: string[] = [], errs: string[] = [];
    this.emit(`const ${f} = c.xmmF64, w${k} = c.xmm;`);
    for (let l = 0; l < lanes; l++) {
      const d = (i.reg << 1) + l, s = (i.rm << 1) + l, v = `${k}_${l}`;
      const x = `x${v}`, y = `y${v}`, r = `r${v}`, ar = `ar${v}`, e = `e${v}`;
      this.emit(`const xe${v} = w${k}[${2 * d + 1}] & 0x7ff00000, ye${v} = w${k}[${2 * s + 1}] & 0x7ff00000, ${x} = ${f}[${d}], ${y} = ${sub ? '-' : ''}${f}[${s}];`);
      conds.push(`xe${v} !== 0`, `xe${v} !== 0x7ff00000`, `ye${v} !== 0`, `ye${v} !== 0x7ff00000`);
      if (mul) {
        this.emit(`const ${r} = ${x} * ${y}, ${ar} = Math.abs(${r});`);
        const ok = `${ar} >= 2.0e-292 && ${ar} <= 1.7976931348623157e308 && Math.abs(${x}) < 1e298 && Math.abs(${y}) < 1e298`;
        conds.push(ok);
        this.emit(`let ${e} = 0; if (${ok}) { let t = 134217729 * ${x}; const xh = t - (t - ${x}), xl = ${x} - xh; t = 134217729 * ${y}; const yh = t - (t - ${y}), yl = ${y} - yh; ${e} = ((xh * yh - ${r}) + xh * yl + xl * yh) + xl * yl; }`);
      } else {
        this.emit(`const ${r} = ${x} + ${y}, ${ar} = Math.abs(${r}), bb${v} = ${r} - ${x}, ${e} = (${x} - (${r} - bb${v})) + (${y} - bb${v});`);
        conds.push(`${ar} >= 2.2250738585072014e-308 && ${ar} <= 1.7976931348623157e308`);
      }
      writes.push(`${f}[${d}] = ${r};`); errs.push(`${e} !== 0`);
    }
    this.emit(`if (${conds.join(' && ')}) { ${writes.join(' ')} if (${errs.join(' || ')}) c.mxcsr |= 32; } else ${call}`);
    return true;
  }

  private push(): boolean {
    const i = this.i, k = this.k;
    this.faultPoint();
    this.emit(`const s${k} = r[${2 * i.reg}], sh${k} = r[${2 * i.reg + 1}];`);
    this.pushAddr();
    this.store(`la${k}`, 8, `s${k}`, `sh${k}`, false);
    this.emit(`r[8] = nl${k} | 0; r[9] = nh${k};`);
    this.emit(this.brkExit());
    return true;
  }

  private pop(): boolean {
    const i = this.i, k = this.k;
    this.faultPoint();
    this.emit(`const la${k} = r[9] * ${TWO32} + (r[8] >>> 0);`);
    this.load(`la${k}`, 8, `m${k}`, `mh${k}`);
    // RSP advances first, then the register is written (POP RSP loads the popped value)
    this.emit(`{ const s = (r[8] >>> 0) + 8, lo = s >>> 0; r[9] = (r[9] + (s - lo) / ${TWO32}) | 0; r[8] = lo | 0; } r[${2 * i.reg}] = m${k}; r[${2 * i.reg + 1}] = mh${k};`);
    this.emit(this.brkExit());
    return true;
  }
}

/** Condition t (cc >> 1: 0 O, 1 B, 2 Z, 3 BE, 4 S, 5 P, 6 L, 7 LE) from pending flags, or null when not fused. */
function fuse(p: Pend, t: number): string | null {
  const { a, aH, b, bH, r, rH, sz } = p;
  const zero = sz === 8 ? `(${r} | ${rH}) === 0` : `${r} === 0`;
  const sign = sz === 8 ? `${rH} < 0` : sz === 4 ? `${r} < 0` : sz === 2 ? `(${r} & 32768) !== 0` : `(${r} & 128) !== 0`;
  if (p.op === LF.SUB) {
    if (sz === 8) {
      switch (t) {
        case 1: return `${aH} !== ${bH} ? (${aH} >>> 0) < (${bH} >>> 0) : (${a} >>> 0) < (${b} >>> 0)`;
        case 2: return `${a} === ${b} && ${aH} === ${bH}`;
        case 3: return `${aH} !== ${bH} ? (${aH} >>> 0) < (${bH} >>> 0) : (${a} >>> 0) <= (${b} >>> 0)`;
        case 4: return sign;
        case 6: return `${aH} !== ${bH} ? ${aH} < ${bH} : (${a} >>> 0) < (${b} >>> 0)`;
        case 7: return `${aH} !== ${bH} ? ${aH} < ${bH} : (${a} >>> 0) <= (${b} >>> 0)`;
        default: return null;
      }
    }
    if (sz === 4) {
      switch (t) {
        case 1: return `(${a} >>> 0) < (${b} >>> 0)`;
        case 2: return `${a} === ${b}`;
        case 3: return `(${a} >>> 0) <= (${b} >>> 0)`;
        case 4: return sign;
        case 6: return `${a} < ${b}`;
        case 7: return `${a} <= ${b}`;
        default: return null;
      }
    }
    const x = sz === 1 ? 24 : 16; // bytes and words: a, b unsigned (masked)
    switch (t) {
      case 1: return `${a} < ${b}`;
      case 2: return `${a} === ${b}`;
      case 3: return `${a} <= ${b}`;
      case 4: return sign;
      case 6: return `((${a} << ${x}) >> ${x}) < ((${b} << ${x}) >> ${x})`;
      case 7: return `((${a} << ${x}) >> ${x}) <= ((${b} << ${x}) >> ${x})`;
      default: return null;
    }
  }
  if (p.op === LF.LOGIC) { // CF = OF = 0
    switch (t) {
      case 0: case 1: return 'false';
      case 2: case 3: return zero;
      case 4: case 6: return sign;
      case 7: return `${zero} || ${sign}`;
      default: return null;
    }
  }
  if (p.op === LF.ADD || p.op === LF.SHIFT || p.op === LF.INC || p.op === LF.DEC) {
    if (t === 2) return zero;
    if (t === 4) return sign;
  }
  if (p.op === LF.SHIFT && t === 1) return `${p.cin} !== 0`;
  return null;
}
