// Difference test: SSE/SSE2 and x87 forms for FP cases, and their random initial FP state (FXSAVE64 image).
// Used by gen.ts when a case is generated with `fp` (or a --filter naming an FP mnemonic). Test-only.
//
// x87 stack depth: the generator tracks bounds [fdMin, fdMax] of the number of registers in use over all paths
// (merged at forward branch targets); a form that reads ST(i) needs i < fdMin, a push needs fdMax < 8, a pop
// fdMin >= 1. About 3% of the time a form is emitted anyway, so masked stack overflow/underflow is covered too.

import type { Form, Gen } from './gen.js';
import { regName } from './gen.js';
import { ARITH, CF, CODE, DATA, F32T, F64T, F80T, PF, SF, ZF, AF, defaultFx } from './layout.js';

const RAX = 0;
const PTR: Record<number, string> = { 2: 'WORD PTR', 4: 'DWORD PTR', 8: 'QWORD PTR', 10: 'TBYTE PTR', 16: 'XMMWORD PTR' };

const xmm = (g: Gen) => `xmm${g.r.int(16)}`;

/**
 * A memory operand in the scratch buffer for FP forms: mostly aligned to `align` (so the FP-special blocks of the
 * scratch fill are hit element-wise), addressed through B, B+I*s, I*s, an absolute or a RIP-relative address.
 * `strict`: the instruction requires 16-byte alignment; 3% of those are misaligned on purpose (#GP is compared).
 */
function fmem(g: Gen, sz: number, align = Math.min(16, sz === 10 ? 16 : sz), strict = false): string {
  const r = g.r, ptr = PTR[sz];
  if (!strict && r.chance(0.2)) return g.mem(sz).t; // any address (unaligned, page-straddling, rsp-relative ...)
  let a = DATA + 0x800 + align * r.int(Math.floor(0x7000 / align));
  if (strict && r.chance(0.03)) a += r.pick([4, 8, 12]);
  const B = regName(g.B, 8), I = regName(g.I, 8), s = r.pick([1, 2, 4, 8]);
  const sg = (d: number) => (d === 0 ? '' : d < 0 ? ` - ${-d}` : ` + ${d}`);
  switch (r.int(5)) {
    case 0: return `${ptr} [${B}${sg(a - g.bVal)}]`;
    case 1: return `${ptr} [${B} + ${I}*${s}${sg(a - g.bVal - g.iVal * s)}]`;
    case 2: return `${ptr} [${I}*${s} + ${a - g.iVal * s}]`;
    case 3: return `${ptr} ds:${a}`;
    default: return `${ptr} [rip + .Lcs${g.caseIndex} + ${a - CODE}]`;
  }
}
/** XMM register or memory operand of size sz. */
const xrm = (g: Gen, sz: number, strict = false, pMem = 0.35) => (g.r.chance(pMem) ? fmem(g, sz, sz === 16 ? 16 : sz, strict) : xmm(g));

// ---------------------------------------------------------------- x87 stack depth
const LAX = 0.03;
function canPush(g: Gen, n = 1): boolean { return g.fdMax + n <= 8 || g.r.chance(LAX); }
function need(g: Gen, n: number): boolean { return g.fdMin >= n || g.r.chance(LAX); }
function pushed(g: Gen, n = 1): void { g.fdMin = Math.min(8, g.fdMin + n); g.fdMax = Math.min(8, g.fdMax + n); }
function popped(g: Gen, n = 1): void { g.fdMin = Math.max(0, g.fdMin - n); g.fdMax = Math.max(0, g.fdMax - n); }
/** A random ST(i) index below the guaranteed depth (at least `lo`), or -1. */
function sti(g: Gen, lo = 0): number {
  const hi = Math.max(g.fdMin, g.r.chance(LAX) ? 8 : 0) - 1;
  return hi < lo ? -1 : g.r.range(lo, hi);
}

/** A control word: all exceptions masked, bit 6 set, random precision (24/53/64 bits) and rounding control. */
export function randomFcw(g: Gen): number { return 0x7f | (g.r.pick([0, 2, 3, 3]) << 8) | (g.r.int(4) << 10); }
/** An MXCSR: all exceptions masked, random rounding, DAZ, FTZ, and sometimes sticky flags already set. */
export function randomMxcsr(g: Gen): number {
  const r = g.r;
  return (0x1f80 | (r.int(4) << 13) | (r.chance(0.3) ? 0x40 : 0) | (r.chance(0.3) ? 0x8000 : 0) | (r.chance(0.25) ? r.u32() & 0x3f : 0)) >>> 0;
}

const ops = (base: string[], sfx: string[]) => base.flatMap((b) => sfx.map((s) => b + s));
const SSE_ARITH = ops(['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt'], ['ps', 'pd', 'ss', 'sd']);
const SSE_CVT_X = [['cvtps2pd', 8], ['cvtpd2ps', 16], ['cvtss2sd', 4], ['cvtsd2ss', 8], ['cvtdq2ps', 16], ['cvtps2dq', 16],
  ['cvttps2dq', 16], ['cvtdq2pd', 8], ['cvtpd2dq', 16], ['cvttpd2dq', 16]] as const;
const SSE_CVT_R = ['cvtss2si', 'cvttss2si', 'cvtsd2si', 'cvttsd2si'];
const SSE_LOGIC = ['andps', 'andnps', 'orps', 'xorps', 'andpd', 'andnpd', 'orpd', 'xorpd', 'pand', 'pandn', 'por', 'pxor'];
const SSE_UNPACK = ['unpcklps', 'unpckhps', 'unpcklpd', 'unpckhpd', 'punpcklbw', 'punpcklwd', 'punpckldq', 'punpcklqdq',
  'punpckhbw', 'punpckhwd', 'punpckhdq', 'punpckhqdq', 'packsswb', 'packssdw', 'packuswb'];
const SSE_SHUF = ['shufps', 'shufpd', 'pshufd', 'pshuflw', 'pshufhw'];
const SSE_INT = [...ops(['padd', 'psub'], ['b', 'w', 'd', 'q']), ...ops(['padds', 'paddus', 'psubs', 'psubus'], ['b', 'w']),
  'pmullw', 'pmulhw', 'pmulhuw', 'pmuludq', 'pmaddwd', 'pavgb', 'pavgw', 'pmaxsw', 'pmaxub', 'pminsw', 'pminub', 'psadbw',
  ...ops(['pcmpeq', 'pcmpgt'], ['b', 'w', 'd'])];
const SSE_SHIFT = ['psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad'];
const SSE_MOV_A = ['movaps', 'movapd', 'movdqa'], SSE_MOV_U = ['movups', 'movupd', 'movdqu'];
const SSE_MOV_H = ['movlps', 'movhps', 'movlpd', 'movhpd'];
const SSE_MOV_OTHER = ['movss', 'movsd', 'movd', 'movq', 'movhlps', 'movlhps', 'movntps', 'movntpd', 'movntdq', 'movnti', 'movmskps', 'movmskpd', 'pmovmskb'];
const X87_ARITH = ['fadd', 'fsub', 'fsubr', 'fmul', 'fdiv', 'fdivr'];
const X87_CONST = ['fld1', 'fldz', 'fldpi', 'fldl2e', 'fldl2t', 'fldlg2', 'fldln2'];
const X87_UNARY = ['fchs', 'fabs', 'fsqrt', 'frndint', 'ftst', 'fxam', 'fscale', 'fprem', 'fprem1', 'fxtract', 'fnop'];
const FCMOV: [string, number][] = [['fcmovb', CF], ['fcmove', ZF], ['fcmovbe', CF | ZF], ['fcmovu', PF], ['fcmovnb', CF], ['fcmovne', ZF], ['fcmovnbe', CF | ZF], ['fcmovnu', PF]];

export const FP_FORMS: Form[] = [
  { name: 'sse-mov', mn: [...SSE_MOV_A, ...SSE_MOV_U, ...SSE_MOV_H, ...SSE_MOV_OTHER], w: 10, f: (g) => {
    const r = g.r;
    switch (r.int(10)) {
      case 0: { const op = r.pick(SSE_MOV_A); g.emit(r.chance(0.7) ? `${op} ${xmm(g)}, ${xrm(g, 16, true)}` : `${op} ${fmem(g, 16, 16, true)}, ${xmm(g)}`); return op; }
      case 1: { const op = r.pick(SSE_MOV_U); g.emit(r.chance(0.7) ? `${op} ${xmm(g)}, ${xrm(g, 16, false)}` : `${op} ${fmem(g, 16, r.pick([1, 4, 8, 16]))}, ${xmm(g)}`); return op; }
      case 2: { const op = r.pick(['movss', 'movsd']), sz = op === 'movss' ? 4 : 8; g.emit(r.chance(0.7) ? `${op} ${xmm(g)}, ${xrm(g, sz, false, 0.5)}` : `${op} ${fmem(g, sz)}, ${xmm(g)}`); return op; }
      case 3: { // movd/movq between XMM and GPR or memory
        const q = r.chance(0.5), op = q ? 'movq' : 'movd', sz = q ? 8 : 4;
        switch (r.int(4)) {
          case 0: g.emit(`${op} ${xmm(g)}, ${r.chance(0.6) ? g.reg(sz, false).t : fmem(g, sz)}`); break;
          case 1: g.emit(`${op} ${r.chance(0.6) ? g.reg(sz, true).t : fmem(g, sz)}, ${xmm(g)}`); break;
          default: g.emit(r.chance(0.5) ? `movq ${xmm(g)}, ${xrm(g, 8)}` : `movq ${fmem(g, 8)}, ${xmm(g)}`); return 'movq';
        }
        return op;
      }
      case 4: { const op = r.pick(SSE_MOV_H); g.emit(r.chance(0.6) ? `${op} ${xmm(g)}, ${fmem(g, 8)}` : `${op} ${fmem(g, 8)}, ${xmm(g)}`); return op; }
      case 5: { const op = r.pick(['movhlps', 'movlhps']); g.emit(`${op} ${xmm(g)}, ${xmm(g)}`); return op; }
      case 6: { const op = r.pick(['movntps', 'movntpd', 'movntdq']); g.emit(`${op} ${fmem(g, 16, 16, true)}, ${xmm(g)}`); return op; }
      case 7: { const sz = r.pick([4, 8]); g.emit(`movnti ${fmem(g, sz)}, ${g.reg(sz, false).t}`); return 'movnti'; }
      default: { const op = r.pick(['movmskps', 'movmskpd', 'pmovmskb']); g.emit(`${op} ${g.reg(r.pick([4, 8]), true).t}, ${xmm(g)}`); return op; }
    }
  } },
  { name: 'sse-arith', mn: SSE_ARITH, w: 14, f: (g) => {
    const op = g.r.pick(SSE_ARITH), sz = op.endsWith('ss') ? 4 : op.endsWith('sd') ? 8 : 16;
    g.emit(`${op} ${xmm(g)}, ${xrm(g, sz, true)}`);
    return op;
  } },
  { name: 'sse-cmp', mn: ops(['cmp'], ['ps', 'pd', 'ss', 'sd']), w: 4, f: (g) => {
    const sfx = g.r.pick(['ps', 'pd', 'ss', 'sd']), sz = sfx === 'ss' ? 4 : sfx === 'sd' ? 8 : 16;
    g.emit(`cmp${sfx} ${xmm(g)}, ${xrm(g, sz, true)}, ${g.r.int(8)}`);
    return 'cmp' + sfx;
  } },
  { name: 'sse-comi', mn: ['comiss', 'ucomiss', 'comisd', 'ucomisd'], w: 6, f: (g) => {
    const op = g.r.pick(['comiss', 'ucomiss', 'comisd', 'ucomisd']);
    g.emit(`${op} ${xmm(g)}, ${xrm(g, op.endsWith('ss') ? 4 : 8)}`, 0, ARITH);
    return op;
  } },
  { name: 'sse-cvt', mn: [...SSE_CVT_X.map(([o]) => o), 'cvtsi2ss', 'cvtsi2sd', ...SSE_CVT_R], w: 10, f: (g) => {
    const r = g.r;
    switch (r.int(3)) {
      case 0: { const [op, sz] = r.pick(SSE_CVT_X); g.emit(`${op} ${xmm(g)}, ${xrm(g, sz, sz === 16)}`); return op; }
      case 1: { const op = r.pick(['cvtsi2ss', 'cvtsi2sd']), sz = r.pick([4, 8]); g.emit(`${op} ${xmm(g)}, ${r.chance(0.7) ? g.reg(sz, false).t : fmem(g, sz)}`); return op; }
      default: { const op = r.pick(SSE_CVT_R); g.emit(`${op} ${g.reg(r.pick([4, 8]), true).t}, ${xrm(g, op.includes('ss') ? 4 : 8)}`); return op; }
    }
  } },
  { name: 'sse-logic', mn: SSE_LOGIC, w: 4, f: (g) => { const op = g.r.pick(SSE_LOGIC); g.emit(`${op} ${xmm(g)}, ${xrm(g, 16, true)}`); return op; } },
  { name: 'sse-shuf', mn: [...SSE_UNPACK, ...SSE_SHUF], w: 6, f: (g) => {
    if (g.r.chance(0.5)) { const op = g.r.pick(SSE_SHUF); g.emit(`${op} ${xmm(g)}, ${xrm(g, 16, true)}, ${g.r.int(256)}`); return op; }
    const op = g.r.pick(SSE_UNPACK); g.emit(`${op} ${xmm(g)}, ${xrm(g, 16, true)}`); return op;
  } },
  { name: 'sse-int', mn: [...SSE_INT, 'pextrw', 'pinsrw'], w: 8, f: (g) => {
    const r = g.r;
    if (r.chance(0.1)) { g.emit(`pextrw ${g.reg(r.pick([4, 8]), true).t}, ${xmm(g)}, ${r.int(256)}`); return 'pextrw'; }
    if (r.chance(0.1)) { g.emit(`pinsrw ${xmm(g)}, ${r.chance(0.6) ? g.reg(4, false).t : fmem(g, 2)}, ${r.int(256)}`); return 'pinsrw'; }
    const op = r.pick(SSE_INT); g.emit(`${op} ${xmm(g)}, ${xrm(g, 16, true)}`); return op;
  } },
  { name: 'sse-shift', mn: [...SSE_SHIFT, 'pslldq', 'psrldq'], w: 4, f: (g) => {
    const r = g.r;
    if (r.chance(0.2)) { const op = r.pick(['pslldq', 'psrldq']); g.emit(`${op} ${xmm(g)}, ${r.range(0, 20)}`); return op; }
    const op = r.pick(SSE_SHIFT);
    g.emit(r.chance(0.6) ? `${op} ${xmm(g)}, ${r.chance(0.8) ? r.range(0, 17) : r.range(0, 255)}` : `${op} ${xmm(g)}, ${xrm(g, 16, true)}`);
    return op;
  } },
  { name: 'mxcsr', mn: ['ldmxcsr', 'stmxcsr'], w: 2, f: (g) => {
    const m = fmem(g, 4);
    if (g.r.chance(0.4)) { g.emit(`stmxcsr ${m}`); return 'stmxcsr'; }
    g.form = '+mxcsr-value'; g.emit(`mov ${m}, ${randomMxcsr(g)}`); g.form = 'mxcsr';
    g.emit(`ldmxcsr ${m}`);
    return 'ldmxcsr';
  } },
  // ---------------------------------------------------------------- x87
  { name: 'x87-ld', mn: ['fld', 'fild', ...X87_CONST], w: 7, f: (g) => {
    const r = g.r;
    if (!canPush(g)) return null;
    let op: string;
    switch (r.int(4)) {
      case 0: op = 'fld'; g.emit(`fld ${fmem(g, r.pick([4, 8, 10]))}`); break;
      case 1: { const i = sti(g); if (i < 0) return null; op = 'fld'; g.emit(`fld st(${i})`); break; }
      case 2: op = 'fild'; g.emit(`fild ${fmem(g, r.pick([2, 4, 8]))}`); break;
      default: op = r.pick(X87_CONST); g.emit(op);
    }
    pushed(g);
    return op;
  } },
  { name: 'x87-st', mn: ['fst', 'fstp', 'fist', 'fistp'], w: 7, f: (g) => {
    const r = g.r;
    if (!need(g, 1)) return null;
    switch (r.int(5)) {
      case 0: g.emit(`fst ${fmem(g, r.pick([4, 8]))}`); return 'fst';
      case 1: { const i = sti(g); if (i < 0) return null; const p = r.chance(0.5); g.emit(`fst${p ? 'p' : ''} st(${i})`); if (p) popped(g); return p ? 'fstp' : 'fst'; }
      case 2: g.emit(`fstp ${fmem(g, r.pick([4, 8, 10]))}`); popped(g); return 'fstp';
      case 3: g.emit(`fist ${fmem(g, r.pick([2, 4]))}`); return 'fist';
      default: g.emit(`fistp ${fmem(g, r.pick([2, 4, 8]))}`); popped(g); return 'fistp';
    }
  } },
  { name: 'x87-arith', mn: [...X87_ARITH, ...X87_ARITH.map((o) => o + 'p'), ...X87_ARITH.map((o) => 'fi' + o.slice(1))], w: 8, f: (g) => {
    const r = g.r, op = r.pick(X87_ARITH);
    switch (r.int(4)) {
      case 0: { if (!need(g, 1)) return null; const i = sti(g); if (i < 0) return null; g.emit(`${op} st, st(${i})`); return op; }
      case 1: { if (!need(g, 1)) return null; const i = sti(g); if (i < 0) return null; g.emit(`${op} st(${i}), st`); return op; }
      case 2: { if (!need(g, 2)) return null; const i = sti(g, 1); if (i < 0) return null; g.emit(`${op}p st(${i}), st`); popped(g); return op + 'p'; }
      default: if (!need(g, 1)) return null; g.emit(`fi${op.slice(1)} ${fmem(g, r.pick([2, 4]))}`); return 'fi' + op.slice(1);
    }
  } },
  // x87 arithmetic with a float32/float64 memory operand (separate form: open bug, see difftest.test.ts OPEN_BUGS)
  { name: 'x87-arith-mem', mn: X87_ARITH, w: 3, f: (g) => {
    const op = g.r.pick(X87_ARITH);
    if (!need(g, 1)) return null;
    g.emit(`${op} ${fmem(g, g.r.pick([4, 8]))}`);
    return op;
  } },
  { name: 'x87-misc', mn: ['fxch', ...X87_UNARY], w: 6, f: (g) => {
    const r = g.r;
    if (r.chance(0.3)) { if (!need(g, 2)) return null; const i = sti(g, 1); if (i < 0) return null; g.emit(`fxch st(${i})`); return 'fxch'; }
    const op = r.pick(X87_UNARY);
    if (op === 'fnop') { g.emit(op); return op; }
    if (!need(g, op === 'fscale' || op === 'fprem' || op === 'fprem1' ? 2 : op === 'fxam' ? 0 : 1)) return null;
    if (op === 'fxtract') { if (!canPush(g)) return null; g.emit(op); pushed(g); return op; }
    g.emit(op);
    return op;
  } },
  { name: 'x87-cmp', mn: ['fcomi', 'fucomi', 'fcomip', 'fucomip', 'fcom', 'fcomp', 'fucom', 'fucomp', 'fcompp', 'fucompp', 'ficom', 'ficomp', 'fnstsw'], w: 7, f: (g) => {
    const r = g.r;
    switch (r.int(5)) {
      case 0: case 1: {
        if (!need(g, 1)) return null;
        const i = sti(g); if (i < 0) return null;
        const op = r.pick(['fcomi', 'fucomi', 'fcomip', 'fucomip']);
        g.emit(`${op} st, st(${i})`, 0, ARITH);
        if (op.endsWith('p')) popped(g);
        return op;
      }
      case 2: {
        if (!need(g, 1)) return null;
        const op = r.pick(['fcom', 'fcomp', 'fucom', 'fucomp', 'fcompp', 'fucompp']);
        if (op.endsWith('pp')) { if (!need(g, 2)) return null; g.emit(op); popped(g, 2); return op; }
        const i = sti(g); if (i < 0) return null;
        g.emit(`${op} st(${i})`);
        if (op.endsWith('p')) popped(g);
        return op;
      }
      case 3: {
        if (!need(g, 1)) return null;
        const op = r.pick(['fcom', 'fcomp', 'ficom', 'ficomp']);
        g.emit(`${op} ${fmem(g, op[1] === 'i' ? r.pick([2, 4]) : r.pick([4, 8]))}`);
        if (op.endsWith('p')) popped(g);
        return op;
      }
      default: // FNSTSW AX (then often SAHF: C3 C2 C0 -> ZF PF CF, so a Jcc/SETcc can read them)
        if (!g.writable(RAX)) return null;
        g.emit('fnstsw ax');
        if (r.chance(0.5)) { g.form = '+sahf'; g.emit('sahf', 0, CF | PF | AF | ZF | SF); g.form = 'x87-cmp'; }
        return 'fnstsw';
    }
  } },
  { name: 'x87-ctl', mn: ['fldcw', 'fnstcw', 'fnstsw', 'fninit', 'fnclex', ...FCMOV.map(([o]) => o)], w: 4, f: (g) => {
    const r = g.r;
    switch (r.int(6)) {
      case 0: case 1: {
        const m = fmem(g, 2);
        g.form = '+fldcw-value'; g.emit(`mov ${m}, ${randomFcw(g)}`); g.form = 'x87-ctl';
        g.emit(`fldcw ${m}`);
        return 'fldcw';
      }
      case 2: { const op = r.pick(['fnstcw', 'fnstsw']); g.emit(`${op} ${fmem(g, 2)}`); return op; }
      case 3: if (r.chance(0.3)) { g.emit('fninit'); g.fdMin = g.fdMax = 0; return 'fninit'; } g.emit('fnclex'); return 'fnclex';
      default: {
        if (!need(g, 1)) return null;
        const i = sti(g); if (i < 0) return null;
        const [op, fl] = r.pick(FCMOV);
        g.emit(`${op} st, st(${i})`, fl);
        return op;
      }
    }
  } },
];

/** Integer forms mixed into FP cases, with their weights there (flag consumers, moves, ALU, and #UD/#GP faults, so the FP state at a fault is compared too). */
export const FP_INT_FORMS: Record<string, number> = { jcc: 6, setcc: 3, cmov: 2, mov: 3, alu: 3, flagops: 1, fault: 1 };

const U32 = (g: Gen) => g.r.u32();
function f32(g: Gen): number {
  const r = g.r, k = r.int(10);
  if (k < 4) return r.pick(F32T);
  if (k < 5) return U32(g);
  return ((U32(g) & 0x807fffff) | ((110 + r.int(36)) << 23)) >>> 0;
}
function f64(g: Gen): [number, number] {
  const r = g.r, k = r.int(10);
  if (k < 4) { const t = r.pick(F64T); return [t[0], t[1]]; }
  if (k < 5) return [U32(g), U32(g)];
  return [U32(g), ((U32(g) & 0x800fffff) | ((1000 + r.int(48)) << 20)) >>> 0];
}
function f80(g: Gen): [number, number, number] {
  const r = g.r, k = r.int(20);
  if (k < 8) { const t = r.pick(F80T); return [t[0], t[1], t[2]]; }
  if (k < 9) return [U32(g), U32(g), U32(g) & 0xffff]; // any encoding (also unnormals, pseudo-NaNs ...)
  if (k < 12) { const e = r.range(0, 40), hi = (U32(g) | 0x80000000) >>> 0; return [0, e >= 31 ? hi : (hi & ~((1 << (31 - e)) - 1)) >>> 0, (U32(g) & 0x8000) | (0x3fff + e)]; } // near-integers
  return [U32(g), (U32(g) | 0x80000000) >>> 0, (U32(g) & 0x8000) | (0x3fff + r.range(-80, 80))];
}

/** Random initial FP state of an FP case; sets the generator's x87 depth bounds. */
export function fpInitialState(g: Gen): Uint8Array {
  const r = g.r;
  const fx = defaultFx();
  const dv = new DataView(fx.buffer);
  dv.setUint16(0, randomFcw(g), true);
  const top = r.int(8), n = r.range(0, 6);
  const cc = r.u32() & 0x4700, sticky = r.chance(0.25) ? r.u32() & 0x3f : 0;
  dv.setUint16(2, cc | sticky | (top << 11), true);
  let tag = 0;
  for (let k = 0; k < n; k++) tag |= 1 << ((top + k) & 7);
  fx[4] = tag;
  for (let k = 0; k < 8; k++) { // ST(k); empty registers get contents too (FXAM reports their sign in C1)
    const [lo, hi, se] = f80(g);
    dv.setUint32(32 + 16 * k, lo, true); dv.setUint32(36 + 16 * k, hi, true); dv.setUint16(40 + 16 * k, se, true);
  }
  dv.setUint32(24, randomMxcsr(g), true);
  for (let x = 0; x < 16; x++) {
    const o = 160 + 16 * x, kind = r.int(4);
    for (let l = 0; l < 4; l++) {
      if (kind === 0) dv.setUint32(o + 4 * l, f32(g), true);
      else if (kind === 1) { if (l % 2 === 0) { const [lo, hi] = f64(g); dv.setUint32(o + 4 * l, lo, true); dv.setUint32(o + 4 * l + 4, hi, true); } }
      else if (kind === 2) dv.setUint32(o + 4 * l, r.chance(0.3) ? r.pick([0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x8000, 0x7fff, 0xff, 0x80]) : U32(g), true);
      else dv.setUint32(o + 4 * l, l < 2 ? f32(g) : U32(g), true);
    }
  }
  g.fdMin = g.fdMax = n;
  return fx;
}
