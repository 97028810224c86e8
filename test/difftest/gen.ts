// Difference test: the random case generator. Emits GNU as (Intel syntax) text for short sequences of the
// general-purpose integer instructions compilers emit, plus the initial register/flag state, and tracks which
// arithmetic flags the SDM leaves undefined at every point (see README.md "Defined flags"). Test-only.

import { ARITH, AF, CF, CODE, DATA, DF, NP_PAGE, OF, PF, RO_PAGE, Rng, SF, STACK_INIT, ZF, defaultFx } from './layout.js';
import { FP_FORMS, FP_INT_FORMS, fpInitialState } from './fpgen.js';
import { EFFECT, shiftEffect, shxdEffect, type FlagEffect, type ShiftOp } from '../cpu/undef.js';

export const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const R8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
const R8H = ['ah', 'ch', 'dh', 'bh'];
const PTR: Record<number, string> = { 1: 'BYTE PTR', 2: 'WORD PTR', 4: 'DWORD PTR', 8: 'QWORD PTR', 10: 'TBYTE PTR', 16: 'XMMWORD PTR' };
const RAX = 0, RCX = 1, RDX = 2, RSP = 4, RSI = 6, RDI = 7;

/** Condition codes and the flags each reads. */
const CONDS: [string, number][] = [
  ['o', OF], ['no', OF], ['b', CF], ['ae', CF], ['e', ZF], ['ne', ZF], ['be', CF | ZF], ['a', CF | ZF],
  ['s', SF], ['ns', SF], ['p', PF], ['np', PF], ['l', SF | OF], ['ge', SF | OF], ['le', ZF | SF | OF], ['g', ZF | SF | OF],
];

export function regName(n: number, sz: number, high = false): string {
  if (sz === 1) return high ? R8H[n] : R8[n];
  return (sz === 2 ? R16 : sz === 4 ? R32 : R64)[n];
}

/** An operand as text, with the encoding constraints that matter for validity. */
interface Op { t: string; rex: boolean; high: boolean; reg: number }

/** One emitted line: an instruction (or an assembler directive producing instructions). */
export interface Line {
  text: string;
  /** Undefined-flags mask in effect before this instruction executes. */
  undefBefore: number;
  /** Logical slot (label `.Lc<case>_s<slot>` precedes the first line of the slot). */
  slot: number;
  /** The form that produced the line (helpers set up by a form carry the form's name with a '+' prefix). */
  form: string;
}

export interface Case {
  index: number;
  /** Seed of the whole run and the per-case stream: the case is reproducible from (seed, index). */
  seed: number;
  fillSeed: number;
  /** Scratch fill mode: 0 integer words, 1 with float specials overlaid (FP cases); see layout.ts initScratch. */
  fillMode: number;
  /** Initial x87/MXCSR/XMM state as an FXSAVE64 image. */
  fx: Uint8Array;
  regs: bigint[];
  rflags: number;
  lines: Line[];
  nSlots: number;
  /** Arithmetic flags undefined at the end of the sequence (after the last instruction on any path). */
  undefEnd: number;
  /** Mnemonics of the main instructions, for --filter and reports. */
  mnemonics: string[];
  /** CLI options that regenerate this case besides --seed/--case (filter, exclude). */
  genArgs: string;
}

export interface Form { name: string; mn: string[]; w: number; f: (g: Gen) => string | null }

const U64 = (1n << 64n) - 1n;

function special64(r: Rng): bigint {
  switch (r.int(12)) {
    case 0: return r.pick([0n, 1n, U64, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
      0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffff00000000n, 0xffffffff80000000n]);
    case 1: return BigInt(r.range(0, 300));
    case 2: return BigInt.asUintN(64, BigInt(r.range(-300, -1)));
    case 3: return BigInt(r.u32());
    case 4: return BigInt.asUintN(64, BigInt(r.u32() | 0));
    case 5: return BigInt(r.u32()) << 32n;
    default: return (BigInt(r.u32()) << 32n) | BigInt(r.u32());
  }
}

export class Gen {
  readonly r: Rng;
  readonly caseIndex: number;
  lines: Line[] = [];
  undef = 0;
  slot = 0;
  nSlots = 0;
  pending: number[] = [];
  depth = 0;
  /** Reserved registers: B (scratch base) and I (small index), never written by the sequence; RSP is the stack. */
  B = 3; I = 5;
  bVal = 0; iVal = 0;
  form = '';
  /** FP case: bounds (over all paths) of the number of x87 registers in use, and at forward branch targets. */
  fdMin = 0; fdMax = 0;
  pfMin: number[] = []; pfMax: number[] = [];

  constructor(r: Rng, caseIndex: number) { this.r = r; this.caseIndex = caseIndex; }

  writable(n: number): boolean { return n !== RSP && n !== this.B && n !== this.I; }
  reg(sz: number, write: boolean, exclude: number[] = []): Op {
    for (;;) {
      const n = this.r.int(16);
      if (write && !this.writable(n)) continue;
      if (exclude.includes(n)) continue;
      if (sz === 1 && n < 4 && this.r.chance(0.3)) return { t: R8H[n], rex: false, high: true, reg: n };
      return this.regN(n, sz);
    }
  }
  regN(n: number, sz: number): Op {
    return { t: regName(n, sz), rex: n >= 8 || sz === 8 || (sz === 1 && n >= 4), high: false, reg: n };
  }
  wregs(...ns: number[]): boolean { return ns.every((n) => this.writable(n)); }

  /** A memory operand of size sz (0: no PTR, for LEA-like uses) pointing into the scratch buffer. */
  mem(sz: number): Op {
    const r = this.r, B = this.B, I = this.I;
    const ptr = sz ? PTR[sz] + ' ' : '';
    const disp = () => r.pick([0, r.range(-128, 127), r.range(-0x800, 0x800)]);
    const sgn = (d: number) => (d === 0 ? '' : d < 0 ? ` - ${-d}` : ` + ${d}`);
    const scale = r.pick([1, 2, 4, 8]);
    if (sz && r.chance(0.03)) { // on the read-only or the no-access page (RO_PAGE, NP_PAGE): the access may fault
      const a = r.chance(0.5) ? RO_PAGE + r.range(0, 0xff0) : NP_PAGE + r.range(0, 0xff0);
      // sometimes straddling from the scratch buffer's last (writable) bytes, or from the read-only page onto the no-access one
      const b = r.chance(0.2) ? r.pick([RO_PAGE, NP_PAGE]) - r.range(1, Math.max(1, sz - 1)) : a;
      return { t: `${ptr}ds:${b}`, rex: false, high: false, reg: -1 };
    }
    if (r.chance(0.06)) { // straddle a 4 KiB page boundary (the emulator's split-access path)
      const a = DATA + 0x1000 * r.range(1, 7) - r.range(1, Math.max(1, sz || 8) - (sz > 1 ? 1 : 0) || 1);
      return { t: sz ? `${ptr}ds:${a}` : `[${a}]`, rex: false, high: false, reg: -1 };
    }
    switch (r.int(9)) {
      case 0: case 1: { const d = disp(); return { t: `${ptr}[${R64[B]}${sgn(d)}]`, rex: B >= 8, high: false, reg: -1 }; }
      case 2: case 3: { const d = disp(); return { t: `${ptr}[${R64[B]} + ${R64[I]}*${scale}${sgn(d)}]`, rex: B >= 8 || I >= 8, high: false, reg: -1 }; }
      case 4: { const d = disp(); return { t: `${ptr}[${R32[B]} + ${R32[I]}*${scale}${sgn(d)}]`, rex: B >= 8 || I >= 8, high: false, reg: -1 }; }
      case 5: return { t: `${ptr}[${R64[I]}*${scale} + ${DATA + r.range(0x800, 0x7000)}]`, rex: I >= 8, high: false, reg: -1 };
      case 6: return { t: sz ? `${ptr}ds:${DATA + r.range(0x800, 0x7800)}` : `[${DATA + r.range(0x800, 0x7800)}]`, rex: false, high: false, reg: -1 };
      case 7: return { t: `${ptr}[rip + .Lcs${this.caseIndex} + ${DATA - CODE + r.range(0x800, 0x7800)}]`, rex: false, high: false, reg: -1 };
      default: return { t: `${ptr}[rsp + ${r.range(0, 0x40)}]`, rex: false, high: false, reg: -1 };
    }
  }
  /** Register or memory operand. */
  rm(sz: number, write: boolean, pMem = 0.35): Op { return this.r.chance(pMem) ? this.mem(sz) : this.reg(sz, write); }

  imm(sz: number): number {
    const r = this.r;
    const k = r.int(6);
    if (k === 0) return r.range(-128, 127);
    if (k === 1) return r.pick([0, 1, -1, 0x7f, -0x80, 0x7fff, -0x8000, 0x7fffffff, -0x80000000].slice(0, sz === 1 ? 5 : sz === 2 ? 7 : 9));
    if (sz === 1) return r.range(-128, 255);
    if (sz === 2) return r.range(-0x8000, 0xffff);
    return r.u32() | 0;
  }
  imm8(): number { return this.r.range(-128, 127); }

  /** Emit one instruction with its flag effect from the shared table (test/cpu/undef.ts); reads fr. */
  emitE(text: string, fr: number, e: FlagEffect): void { this.emit(text, fr, e.def, e.undef); }
  /** Emit one instruction with its flag effects: reads fr, writes fw (defined), leaves fu undefined. */
  emit(text: string, fr = 0, fw = 0, fu = 0): void {
    if (fr & this.undef) this.define();
    this.lines.push({ text, undefBefore: this.undef, slot: this.slot, form: this.form });
    this.undef = (this.undef & ~(fw | fu)) | fu;
  }
  /** Make every arithmetic flag defined (a CMP between two registers). */
  define(): void {
    const a = this.r.int(16), b = this.r.int(16);
    this.lines.push({ text: `cmp ${R32[a]}, ${R32[b]}`, undefBefore: this.undef, slot: this.slot, form: '+define' });
    this.undef = 0;
  }
  /** A forward label `maxAhead` slots ahead at most; records the flag state flowing there. */
  target(maxAhead: number): string {
    const t = Math.min(this.nSlots, this.slot + 1 + this.r.int(maxAhead));
    this.pending[t] |= this.undef;
    this.pfMin[t] = Math.min(this.pfMin[t] ?? 9, this.fdMin); this.pfMax[t] = Math.max(this.pfMax[t] ?? -1, this.fdMax);
    return `.Lc${this.caseIndex}_s${t}`;
  }
}

function ok(...ops: Op[]): boolean {
  return !(ops.some((o) => o.high) && ops.some((o) => o.rex));
}

const pickSz = (g: Gen, szs: number[] = [1, 2, 4, 8]) => g.r.pick(szs);
const ARITH_OPS = ['add', 'adc', 'sub', 'sbb', 'cmp', 'and', 'or', 'xor'];

/** The forms. Each returns the main mnemonic it emitted, or null when it does not apply to this case. */
export const FORMS: Form[] = [
  { name: 'alu', mn: ARITH_OPS, w: 14, f: (g) => {
    const op = g.r.pick(ARITH_OPS), sz = pickSz(g), write = op !== 'cmp';
    const logic = op === 'and' || op === 'or' || op === 'xor';
    const fr = op === 'adc' || op === 'sbb' ? CF : 0, fe = logic ? EFFECT.logic : EFFECT.arith;
    for (let k = 0; k < 20; k++) {
      let a: Op, b: Op | null = null, imm: number | null = null;
      let lock = '';
      switch (g.r.int(6)) {
        case 0: a = g.reg(sz, write); b = g.reg(sz, false); break;
        case 1: a = g.reg(sz, write); b = g.mem(sz); break;
        case 2: a = g.mem(sz); b = g.reg(sz, false); if (write && g.r.chance(0.15)) lock = 'lock '; break;
        case 3: a = g.reg(sz, write); imm = g.imm(sz); break;
        case 4: a = g.mem(sz); imm = g.imm(sz); if (write && g.r.chance(0.15)) lock = 'lock '; break;
        default: // AL/AX/EAX/RAX short form: needs an immediate that does not fit in imm8
          if (write && !g.writable(RAX)) continue;
          a = g.regN(RAX, sz); imm = sz === 1 ? g.r.range(-128, 255) : g.r.pick([1, -1]) * g.r.range(128, sz === 2 ? 0x7fff : 0x7fffffff);
      }
      if (b && !ok(a, b)) continue;
      g.emitE(`${lock}${op} ${a.t}, ${b ? b.t : imm}`, fr, fe);
      return op;
    }
    return null;
  } },
  { name: 'test', mn: ['test'], w: 4, f: (g) => {
    const sz = pickSz(g);
    for (let k = 0; k < 20; k++) {
      const a = g.rm(sz, false);
      const b = g.r.chance(0.5) ? g.reg(sz, false) : null;
      if (b && !ok(a, b)) continue;
      const src = b ? b.t : g.r.chance(0.3) && !a.t.includes('PTR') ? String(g.r.range(-128, 127)) : String(g.imm(sz));
      const dst = !b && g.r.chance(0.2) ? regName(RAX, sz) : a.t;
      g.emitE(`test ${dst}, ${src}`, 0, EFFECT.logic);
      return 'test';
    }
    return null;
  } },
  { name: 'unary', mn: ['inc', 'dec', 'neg', 'not'], w: 6, f: (g) => {
    const op = g.r.pick(['inc', 'dec', 'neg', 'not']), sz = pickSz(g);
    const a = g.rm(sz, true);
    const lock = a.t.includes('PTR') && g.r.chance(0.15) ? 'lock ' : '';
    g.emitE(`${lock}${op} ${a.t}`, 0, op === 'not' ? EFFECT.none : op === 'neg' ? EFFECT.arith : EFFECT.incdec);
    return op;
  } },
  { name: 'mov', mn: ['mov', 'movabs'], w: 10, f: (g) => {
    const sz = pickSz(g);
    for (let k = 0; k < 20; k++) {
      switch (g.r.int(7)) {
        case 0: { const a = g.reg(sz, true), b = g.reg(sz, false); if (!ok(a, b)) continue; g.emit(`mov ${a.t}, ${b.t}`); return 'mov'; }
        case 1: { const a = g.reg(sz, true), b = g.mem(sz); if (!ok(a, b)) continue; g.emit(`mov ${a.t}, ${b.t}`); return 'mov'; }
        case 2: { const a = g.mem(sz), b = g.reg(sz, false); if (!ok(a, b)) continue; g.emit(`mov ${a.t}, ${b.t}`); return 'mov'; }
        case 3: { const a = g.rm(sz, true); g.emit(`mov ${a.t}, ${g.imm(sz)}`); return 'mov'; }
        case 4: { const a = g.reg(8, true); g.emit(`movabs ${a.t}, ${'0x' + special64(g.r).toString(16)}`); return 'movabs'; }
        case 5: { // moffs forms: accumulator <-> 64-bit absolute address
          if (!g.writable(RAX)) continue;
          const addr = DATA + g.r.range(0x800, 0x7800);
          if (g.r.chance(0.5)) g.emit(`movabs ${regName(RAX, sz)}, ds:${addr}`); else g.emit(`movabs ds:${addr}, ${regName(RAX, sz)}`);
          return 'movabs';
        }
        default: { const a = g.reg(4, true); g.emit(`mov ${a.t}, ${g.imm(4)}`); return 'mov'; } // zero-extends
      }
    }
    return null;
  } },
  { name: 'movx', mn: ['movzx', 'movsx', 'movsxd'], w: 6, f: (g) => {
    for (let k = 0; k < 20; k++) {
      const kind = g.r.int(5);
      if (kind === 4) { const a = g.reg(8, true), b = g.rm(4, false); g.emit(`movsxd ${a.t}, ${b.t}`); return 'movsxd'; }
      const op = kind & 1 ? 'movsx' : 'movzx';
      const ssz = kind & 2 ? 2 : 1, dsz = g.r.pick(ssz === 1 ? [2, 4, 8] : [4, 8]);
      const a = g.reg(dsz, true), b = g.rm(ssz, false);
      if (!ok(a, b)) continue;
      g.emit(`${op} ${a.t}, ${b.t}`);
      return op;
    }
    return null;
  } },
  { name: 'lea', mn: ['lea'], w: 5, f: (g) => {
    const sz = g.r.pick([2, 4, 8]);
    const a = g.reg(sz, true);
    const r = g.r;
    let addr: string;
    if (r.chance(0.4)) addr = g.mem(0).t;
    else { // any registers (LEA does not access memory)
      const a32 = r.chance(0.2), names = a32 ? R32 : R64;
      const parts: string[] = [];
      if (r.chance(0.85)) parts.push(names[r.int(16)]);
      if (r.chance(0.6)) { let x = r.int(16); if (x === RSP) x = 0; parts.push(`${names[x]}*${r.pick([1, 2, 4, 8])}`); }
      const d = r.pick([0, r.range(-128, 127), r.u32() | 0]);
      if (parts.length === 0 || d !== 0) parts.push(String(d));
      addr = `[${parts.join(' + ')}]`.replace(/\+ -/g, '- ');
    }
    g.emit(`lea ${a.t}, ${addr}`);
    return 'lea';
  } },
  { name: 'xchg', mn: ['xchg'], w: 3, f: (g) => {
    const sz = pickSz(g);
    for (let k = 0; k < 20; k++) {
      const a = g.reg(sz, true);
      const b = g.r.chance(0.3) ? g.mem(sz) : g.r.chance(0.3) && g.writable(RAX) ? g.regN(RAX, sz) : g.reg(sz, true);
      if (!ok(a, b)) continue;
      g.emit(g.r.chance(0.5) ? `xchg ${a.t}, ${b.t}` : `xchg ${b.t}, ${a.t}`);
      return 'xchg';
    }
    return null;
  } },
  { name: 'stack', mn: ['push', 'pop'], w: 5, f: (g) => {
    const k = g.r.int(7);
    if (k <= 3 || g.depth <= 0) {
      g.depth++;
      if (k === 0) g.emit(`push ${g.reg(8, false).t}`);
      else if (k === 1) g.emit(`push ${g.mem(8).t}`);
      else if (k === 2) g.emit(`push ${g.r.chance(0.5) ? g.imm8() : g.imm(4)}`);
      else g.emit(`push ${g.reg(2, false).t}`);
      return 'push';
    }
    g.depth--;
    if (k === 4) g.emit(`pop ${g.mem(8).t}`);
    else if (k === 5) g.emit(`pop ${g.reg(2, true).t}`);
    else g.emit(`pop ${g.reg(8, true).t}`);
    return 'pop';
  } },
  { name: 'bswap', mn: ['bswap'], w: 1, f: (g) => { g.emit(`bswap ${g.reg(g.r.pick([4, 8]), true).t}`); return 'bswap'; } },
  { name: 'cmov', mn: ['cmov'], w: 4, f: (g) => {
    const [cc, fl] = g.r.pick(CONDS), sz = g.r.pick([2, 4, 8]);
    g.emit(`cmov${cc} ${g.reg(sz, true).t}, ${g.rm(sz, false).t}`, fl);
    return 'cmov';
  } },
  { name: 'setcc', mn: ['set'], w: 3, f: (g) => {
    const [cc, fl] = g.r.pick(CONDS);
    g.emit(`set${cc} ${g.rm(1, true).t}`, fl);
    return 'set';
  } },
  { name: 'mul1', mn: ['mul', 'imul'], w: 4, f: (g) => {
    const op = g.r.pick(['mul', 'imul']), sz = pickSz(g);
    if (!g.wregs(RAX, sz === 1 ? RAX : RDX)) return null;
    g.emitE(`${op} ${g.rm(sz, false).t}`, 0, EFFECT.mul);
    return op;
  } },
  { name: 'imul2', mn: ['imul'], w: 4, f: (g) => {
    const sz = g.r.pick([2, 4, 8]);
    const a = g.reg(sz, true), b = g.rm(sz, false);
    if (g.r.chance(0.5)) g.emitE(`imul ${a.t}, ${b.t}`, 0, EFFECT.mul);
    else g.emitE(`imul ${a.t}, ${b.t}, ${g.r.chance(0.5) ? g.imm8() : g.imm(sz === 2 ? 2 : 4)}`, 0, EFFECT.mul);
    return 'imul';
  } },
  { name: 'div', mn: ['div', 'idiv'], w: 4, f: (g) => {
    const op = g.r.pick(['div', 'idiv']), sz = pickSz(g);
    if (!g.wregs(RAX, RDX)) return null;
    const construct = g.r.chance(0.85);
    let src: Op;
    for (let k = 0; ; k++) {
      if (k > 20) return null;
      src = g.r.chance(0.35) ? g.mem(sz) : g.reg(sz, true, [RAX, RDX]);
      if (!src.high) break;
    }
    if (construct) {
      // #DE-free by construction: dividend high part = 0 (DIV) or the sign extension (IDIV); divisor | 1
      g.form = '+div-setup';
      if (op === 'div') { if (sz === 1) g.emit('mov ah, 0'); else g.emitE('xor edx, edx', 0, EFFECT.logic); }
      else g.emit(['cbw', 'cwd', 'cdq', 'cqo'][[1, 2, 4, 8].indexOf(sz)]);
      g.emitE(`or ${src.t}, 1`, 0, EFFECT.logic);
      g.form = 'div';
    }
    g.emitE(`${op} ${src.t}`, 0, EFFECT.div);
    return op;
  } },
  { name: 'shift', mn: ['shl', 'sal', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'], w: 10, f: (g) => {
    const op = g.r.pick<ShiftOp>(['shl', 'sal', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']), sz = pickSz(g);
    const bits = sz * 8;
    const a = g.rm(sz, true);
    const fr = op === 'rcl' || op === 'rcr' ? CF : 0;
    const k = g.r.int(3);
    if (k === 2) { // by CL: the count may be 0 (flags unchanged), so nothing becomes defined for sure
      g.emitE(`${op} ${a.t}, cl`, fr, shiftEffect(op, sz, null));
      return op;
    }
    const count = k === 0 ? 1 : g.r.chance(0.7) ? g.r.range(0, bits + 1) : g.r.range(0, 255);
    g.emitE(`${op} ${a.t}, ${count}`, fr, shiftEffect(op, sz, count));
    return op;
  } },
  { name: 'shxd', mn: ['shld', 'shrd'], w: 3, f: (g) => {
    const op = g.r.pick(['shld', 'shrd']), sz = g.r.pick([2, 4, 8]);
    const mask = sz === 8 ? 63 : 31;
    const a = g.rm(sz, true), b = g.reg(sz, false);
    if (g.r.chance(0.4)) {
      let cl: number | null = null; // unknown for 32/64-bit
      if (sz === 2) { // a 16-bit count above 16 leaves the result undefined: set CL first
        if (!g.writable(RCX) || a.reg === RCX || b.reg === RCX) return null;
        cl = g.r.range(0, 16) + g.r.pick([0, 32, 64]);
        g.form = '+shxd-count';
        g.emit(`mov cl, ${cl}`);
        g.form = 'shxd';
      }
      g.emitE(`${op} ${a.t}, ${b.t}, cl`, 0, shxdEffect(sz, cl));
      return op;
    }
    const count = sz === 2 ? g.r.range(0, 16) + g.r.pick([0, 32]) : g.r.range(0, 255);
    g.emitE(`${op} ${a.t}, ${b.t}, ${count}`, 0, shxdEffect(sz, count));
    return op;
  } },
  { name: 'bt', mn: ['bt', 'bts', 'btr', 'btc'], w: 5, f: (g) => {
    const op = g.r.pick(['bt', 'bts', 'btr', 'btc']), sz = g.r.pick([2, 4, 8]), write = op !== 'bt';
    const lock = write && g.r.chance(0.2) ? 'lock ' : '';
    const fe = EFFECT.bt;
    switch (g.r.int(4)) {
      case 0: g.emitE(`${op} ${g.reg(sz, write).t}, ${g.reg(sz, false).t}`, 0, fe); break;
      case 1: g.emitE(`${op} ${g.reg(sz, write).t}, ${g.r.range(0, 255)}`, 0, fe); break;
      case 2: g.emitE(`${lock}${op} ${g.mem(sz).t}, ${g.r.range(0, 255)}`, 0, fe); break;
      default: // memory bit string with a register bit offset: the reserved small index register I
        g.emitE(`${lock}${op} ${g.mem(sz).t}, ${regName(g.I, sz)}`, 0, fe);
    }
    return op;
  } },
  { name: 'bsf', mn: ['bsf', 'bsr'], w: 3, f: (g) => {
    const op = g.r.pick(['bsf', 'bsr']), sz = g.r.pick([2, 4, 8]);
    const a = g.reg(sz, true);
    const src = g.r.chance(0.4) ? g.mem(sz) : g.reg(sz, true);
    // a zero source leaves the destination undefined (SDM): make the source nonzero first
    g.form = '+bsf-nonzero';
    g.emitE(`bts ${src.t}, ${g.r.range(0, sz * 8 - 1)}`, 0, EFFECT.bt);
    g.form = 'bsf';
    g.emitE(`${op} ${a.t}, ${src.t}`, 0, EFFECT.bsf);
    return op;
  } },
  { name: 'xadd', mn: ['xadd'], w: 2, f: (g) => {
    const sz = pickSz(g);
    for (let k = 0; k < 20; k++) {
      const a = g.rm(sz, true), b = g.reg(sz, true);
      if (!ok(a, b)) continue;
      g.emitE(`${a.t.includes('PTR') && g.r.chance(0.3) ? 'lock ' : ''}xadd ${a.t}, ${b.t}`, 0, EFFECT.arith);
      return 'xadd';
    }
    return null;
  } },
  { name: 'cmpxchg', mn: ['cmpxchg', 'cmpxchg8b'], w: 3, f: (g) => {
    if (!g.writable(RAX)) return null;
    if (g.r.chance(0.2)) {
      if (!g.writable(RDX)) return null;
      g.emit(`${g.r.chance(0.5) ? 'lock ' : ''}cmpxchg8b ${g.mem(8).t}`, 0, ZF);
      return 'cmpxchg8b';
    }
    const sz = pickSz(g);
    for (let k = 0; k < 20; k++) {
      const a = g.rm(sz, true, 0.5), b = g.reg(sz, false);
      if (!ok(a, b)) continue;
      g.emitE(`${a.t.includes('PTR') && g.r.chance(0.3) ? 'lock ' : ''}cmpxchg ${a.t}, ${b.t}`, 0, EFFECT.arith);
      return 'cmpxchg';
    }
    return null;
  } },
  { name: 'cmpxchg16b', mn: ['cmpxchg16b'], w: 1, f: (g) => {
    if (!g.wregs(RAX, RDX)) return null;
    // 16-byte aligned, or (10%) misaligned: #GP(0)
    const a = DATA + 0x800 + 16 * g.r.range(0, 0x600) + (g.r.chance(0.1) ? g.r.pick([1, 4, 8]) : 0);
    g.emit(`${g.r.chance(0.5) ? 'lock ' : ''}cmpxchg16b XMMWORD PTR ds:${a}`, 0, ZF);
    return 'cmpxchg16b';
  } },
  { name: 'xlat', mn: ['xlat'], w: 1, f: (g) => {
    if (g.B !== 3 || !g.writable(RAX)) return null; // XLAT reads [RBX + AL]: only when RBX is the scratch base
    g.emit('xlatb');
    return 'xlat';
  } },
  { name: 'prefix', mn: ['prefix'], w: 2, f: (g) => {
    // redundant and misplaced prefixes (SDM Vol. 2A §2.1-§2.2.1): null segment prefixes, repeated 66 on a
    // 16-bit form, REX prefixes followed by a legacy prefix (ignored); or a 16-byte instruction (#GP)
    if (g.r.chance(0.04)) { g.emit(`.byte ${new Array(15).fill('0x2e').join(', ')}; nop`); return 'prefix'; }
    const op = g.r.pick(ARITH_OPS), sz = g.r.pick([2, 4, 8]);
    const a = g.reg(sz, op !== 'cmp'), b = g.reg(sz, false);
    const bytes: number[] = [];
    for (let k = g.r.range(1, 5); k > 0; k--) bytes.push(g.r.pick([0x2e, 0x3e, 0x26, 0x36, 0x40 | g.r.int(16), sz === 2 ? 0x66 : 0x3e]));
    if ((bytes[bytes.length - 1] & 0xf0) === 0x40) bytes.push(0x3e); // a REX must not reach the opcode
    const logic = op === 'and' || op === 'or' || op === 'xor';
    g.emitE(`.byte ${bytes.map((x) => '0x' + x.toString(16)).join(', ')}; ${op} ${a.t}, ${b.t}`, op === 'adc' || op === 'sbb' ? CF : 0, logic ? EFFECT.logic : EFFECT.arith);
    return 'prefix';
  } },
  { name: 'fault', mn: ['ud2', 'fault'], w: 1, f: (g) => {
    switch (g.r.int(3)) {
      case 0: g.emit('ud2'); return 'ud2';
      case 1: { // non-canonical address: #GP(0)
        if (!g.writable(RAX)) return null;
        const a = g.r.pick(['0x8000000000000000', '0x0000800000000000', '0x7fff000000001000', '0xffff7ffffffff000']);
        g.emit(g.r.chance(0.5) ? `movabs eax, ds:${a}` : `movabs ds:${a}, al`);
        return 'fault';
      }
      default: g.emit(`.byte 0x${g.r.pick(['06', '07', '0e', '16', '17', '1e', '1f', '27', '2f', '37', '3f', '60', '61', 'd4', 'd5', 'd6', 'ce'])}`); return 'fault'; // invalid in 64-bit mode: #UD
    }
  } },
  { name: 'lockud', mn: ['lock-ud'], w: 1, f: (g) => {
    // LOCK on an instruction that is not lockable, or on a lockable one with a register destination: #UD
    const m = g.mem(4).t;
    const insn = g.r.pick(['mov eax, ebx', 'add eax, ebx', 'nop', 'lea rax, [rbx]', 'xchg eax, ebx', 'not ecx', 'bts eax, 3',
      `mov ${m}, eax`, `cmp ${m}, eax`, `test ${m}, eax`, `bt ${m}, 3`, `mov eax, ${m}`, `add eax, ${m}`]);
    g.emit(`.byte 0xf0; ${insn}`);
    return 'lock-ud';
  } },
  { name: 'convert', mn: ['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo'], w: 2, f: (g) => {
    const op = g.r.pick(['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo']);
    if (!g.wregs(RAX, RDX)) return null;
    g.emit(op);
    return op;
  } },
  { name: 'flagops', mn: ['lahf', 'sahf', 'clc', 'stc', 'cmc', 'cld', 'std'], w: 4, f: (g) => {
    const op = g.r.pick(['lahf', 'sahf', 'clc', 'stc', 'cmc', 'cld', 'std']);
    if (op === 'lahf') { if (!g.writable(RAX)) return null; g.emit(op, CF | PF | AF | ZF | SF); }
    else if (op === 'sahf') g.emit(op, 0, CF | PF | AF | ZF | SF);
    else if (op === 'cmc') g.emit(op, CF, CF);
    else if (op === 'clc' || op === 'stc') g.emit(op, 0, CF);
    else g.emit(op);
    return op;
  } },
  { name: 'string', mn: ['movs', 'stos', 'lods', 'cmps', 'scas'], w: 5, f: (g) => {
    const op = g.r.pick(['movs', 'stos', 'lods', 'cmps', 'scas']);
    const sfx = g.r.pick(['b', 'w', 'd', 'q']);
    const usesSi = op === 'movs' || op === 'lods' || op === 'cmps', usesDi = op !== 'lods';
    const pfx = g.r.chance(0.35) ? '' : op === 'cmps' || op === 'scas' ? g.r.pick(['repe ', 'repne ']) : 'rep ';
    if (!g.writable(RSI) || !g.writable(RDI) || (pfx && !g.writable(RCX)) || (op === 'lods' && !g.writable(RAX))) return null;
    g.form = '+string-setup';
    const off = () => g.r.range(-0x600, 0x600);
    // 0x67: the string instruction uses ESI/EDI/ECX; garbage above bit 31 of RSI/RDI must be ignored
    const a32 = g.r.chance(0.15);
    const n = g.r.chance(0.1) ? 0 : g.r.range(1, 16);
    // REP with 0x67 and ECX = 0: bits 63:32 of RCX/RSI/RDI are vendor-specific (undef.ts): keep them 0 then
    const garbage = a32 && !(pfx && n === 0);
    if (usesSi) g.emit(`lea rsi, [${R64[g.B]} + ${off()}]`);
    if (usesDi) g.emit(`lea rdi, [${R64[g.B]} + ${off()}]`);
    if (garbage && usesSi && g.r.chance(0.7)) g.emitE(`bts rsi, ${g.r.range(32, 63)}`, 0, EFFECT.bt);
    if (garbage && usesDi && g.r.chance(0.7)) g.emitE(`bts rdi, ${g.r.range(32, 63)}`, 0, EFFECT.bt);
    if (pfx) g.emit(garbage && g.r.chance(0.5) ? `mov rcx, ${'0x' + ((BigInt((g.r.u32() | 1) >>> 0) << 32n) | BigInt(n)).toString(16)}` : `mov ecx, ${n}`);
    g.form = 'string';
    const cmp = op === 'cmps' || op === 'scas';
    g.emitE(`${a32 ? '.byte 0x67; ' : ''}${pfx}${op}${sfx}`, 0, cmp && (!pfx || n > 0) ? EFFECT.arith : EFFECT.none);
    return op;
  } },
  { name: 'pushf', mn: ['pushf', 'popf'], w: 2, f: (g) => {
    if (g.r.chance(0.5)) { g.depth++; g.emit('pushfq', ARITH); return 'pushf'; }
    // POPF of a value with only the arithmetic flags and DF chosen; IF=1 (user mode cannot change it, and the
    // emulator runs at CPL 0 where POPF would); TF, AC, ID and the rest 0
    g.form = '+popf-value';
    g.emit(`push ${(g.r.u32() & (ARITH | DF)) | 0x202}`);
    g.form = 'pushf';
    g.emit('popfq', 0, ARITH);
    return 'popf';
  } },
  { name: 'nop', mn: ['nop'], w: 2, f: (g) => {
    if (g.r.chance(0.5)) g.emit(`.nops ${g.r.range(1, 11)}`);
    else g.emit(`nop ${g.r.pick(['WORD', 'DWORD'])} PTR [${R64[g.r.int(16)]} + ${R64[g.r.pick([0, 1, 2, 3, 5, 6, 7, 8, 12, 15])]}*${g.r.pick([1, 2, 4, 8])} + ${g.r.range(0, 300)}]`);
    return 'nop';
  } },
  { name: 'jcc', mn: ['j'], w: 5, f: (g) => {
    if (g.slot >= g.nSlots - 1) return null;
    if (g.r.chance(0.25)) { g.emit(`jmp ${g.target(3)}`); return 'jmp'; }
    const [cc, fl] = g.r.pick(CONDS);
    if (fl & g.undef) g.define();
    g.emit(`j${cc} ${g.target(4)}`, fl);
    return 'j';
  } },
  { name: 'loop', mn: ['loop', 'loope', 'loopne', 'jrcxz', 'jecxz'], w: 2, f: (g) => {
    if (g.slot >= g.nSlots - 1) return null;
    const op = g.r.pick(['loop', 'loope', 'loopne', 'jrcxz', 'jecxz']);
    if (op.startsWith('loop') && !g.writable(RCX)) return null;
    const fl = op === 'loop' || op[0] === 'j' ? 0 : ZF;
    if (fl & g.undef) g.define();
    g.emit(`${op} ${g.target(1)}`, fl); // rel8 only: the next slot
    return op;
  } },
];

export interface GenOptions {
  filter?: string;
  /** FP case: SSE/SSE2/x87 forms (fpgen.ts) mixed with a few integer forms, random FP state and FP-special scratch. */
  fp?: boolean;
  /** Form names left out of the mix (e.g. forms with an open emulator bug). */
  exclude?: string[];
}

/** Form mnemonics that are prefixes of a family (cmovCC, setCC, jCC): --filter cmovz selects them. */
const PREFIX_MN = ['cmov', 'set', 'j'];

function initialState(g: Gen): { regs: bigint[]; rflags: number } {
  const r = g.r;
  const regs: bigint[] = [];
  for (let n = 0; n < 16; n++) regs.push(special64(r));
  regs[RSP] = BigInt(STACK_INIT - 8 * r.int(8) - (r.chance(0.1) ? r.int(8) : 0));
  g.bVal = DATA + r.range(0x1800, 0x6000);
  g.iVal = r.range(-64, 64);
  regs[g.B] = BigInt(g.bVal);
  regs[g.I] = BigInt.asUintN(64, BigInt(g.iVal));
  const rflags = (r.u32() & ARITH) | 2 | (r.chance(0.1) ? DF : 0);
  return { regs, rflags };
}

/** Generate case `index` of run `seed`. */
export function generateCase(seed: number, index: number, opts: GenOptions = {}): Case {
  const r = new Rng(seed, index);
  const g = new Gen(r, index);
  // reserve B and I (any registers but RSP), so every register is a destination in some cases
  const cands = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  g.B = r.pick(cands);
  do g.I = r.pick(cands); while (g.I === g.B);
  const { regs, rflags } = initialState(g);
  const matches = (m: string) => m === opts.filter || (PREFIX_MN.includes(m) && opts.filter!.startsWith(m));
  const fp = opts.fp === true || (opts.filter !== undefined && !FORMS.some((f) => f.mn.some(matches)) && FP_FORMS.some((f) => f.mn.some(matches)));
  let fx = defaultFx();
  if (fp) {
    g.bVal &= ~15; regs[g.B] = BigInt(g.bVal); // 16-byte aligned scratch base: aligned SSE operands are easy to form
    fx = fpInitialState(g);
  }
  g.nSlots = r.range(1, 12);
  g.pending = new Array(g.nSlots + 1).fill(0);
  const pool = fp ? [...FP_FORMS, ...FORMS.filter((f) => f.name in FP_INT_FORMS).map((f) => ({ ...f, w: FP_INT_FORMS[f.name] }))] : FORMS;
  const filtered = opts.filter ? pool.filter((f) => f.mn.some(matches)) : [];
  if (opts.filter && filtered.length === 0) throw new Error(`--filter ${opts.filter}: no generator form emits that mnemonic`);
  const forms = opts.exclude ? pool.filter((f) => !opts.exclude!.includes(f.name)) : pool;
  const total = forms.reduce((s, f) => s + f.w, 0);
  const mnemonics: string[] = [];
  let sawFilter = false;
  for (g.slot = 0; g.slot < g.nSlots; g.slot++) {
    g.undef |= g.pending[g.slot];
    if (g.pfMax[g.slot] !== undefined) { g.fdMin = Math.min(g.fdMin, g.pfMin[g.slot]); g.fdMax = Math.max(g.fdMax, g.pfMax[g.slot]); }
    const useFilter = opts.filter !== undefined && (g.r.chance(0.6) || (!sawFilter && g.slot === g.nSlots - 1));
    for (let tries = 0; tries < 200; tries++) {
      const snap = { n: g.lines.length, undef: g.undef, pending: g.pending.slice(), depth: g.depth, fdMin: g.fdMin, fdMax: g.fdMax, pfMin: g.pfMin.slice(), pfMax: g.pfMax.slice() };
      let form: Form;
      if (useFilter) form = r.pick(filtered);
      else { let x = r.int(total); form = forms[0]; for (const f of forms) { if (x < f.w) { form = f; break; } x -= f.w; } }
      g.form = form.name;
      const m = form.f(g);
      if (m !== null && (!useFilter || matches(m))) {
        if (useFilter) sawFilter = true;
        mnemonics.push(m);
        break;
      }
      g.lines.length = snap.n; g.undef = snap.undef; g.pending = snap.pending; g.depth = snap.depth;
      g.fdMin = snap.fdMin; g.fdMax = snap.fdMax; g.pfMin = snap.pfMin; g.pfMax = snap.pfMax;
    }
  }
  g.undef |= g.pending[g.nSlots];
  const genArgs = (opts.fp ? ' --fp' : '') + (opts.filter ? ` --filter ${opts.filter}` : '') + (opts.exclude?.length ? ` --exclude ${opts.exclude.join(',')}` : '');
  return { index, seed, fillSeed: (r.u32() ^ index) >>> 0, fillMode: fp ? 1 : 0, fx, regs, rflags, lines: g.lines, nSlots: g.nSlots, undefEnd: g.undef, mnemonics, genArgs };
}

/** Flags to compare after a case: arithmetic flags that are defined, plus DF. */
export function compareMask(undef: number): number { return (ARITH & ~undef) | DF; }

/** A hand-written case (for the runner's own tests): the given lines in one slot each, flags all defined. */
export function makeCase(lines: string[], regs: bigint[], rflags = 2, index = 0, fillSeed = 1): Case {
  return {
    index, seed: 0, fillSeed, fillMode: 0, fx: defaultFx(), regs, rflags, nSlots: lines.length, undefEnd: 0, mnemonics: lines.map((l) => l.split(' ')[0]), genArgs: ' (hand-written)',
    lines: lines.map((text, slot) => ({ text, undefBefore: 0, slot, form: 'manual' })),
  };
}
