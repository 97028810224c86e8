// The x87 operations the host-FPU oracle (test/fp/native/oracle.c) runs, with the emulator's semantics for each
// (src/cpu/fp/x87.ts), and the comparison of both: shared by test/fp/x87.test.ts (random vectors) and
// test/fp/x87sweep.test.ts (special operands). Test-only.
import * as X from '../../src/cpu/fp/x87.js';
import { genCw, genF32, genF64, genX80, hex, rnd, runOracle, setSeed, type Vec } from './oracle.js';

export type R = (d: Uint32Array, s: Uint32Array, a: Uint32Array, b: Uint32Array, cw: number) => number;
export interface OpDef { id: number; name: string; args: 'ab' | 'a' | 'f32' | 'f64' | 'i16' | 'i32' | 'i64'; two?: boolean; run: R; approx?: boolean }
export const OPS: OpDef[] = [
  { id: 100, name: 'fadd', args: 'ab', run: (d, s, a, b, cw) => X.fadd(d, 0, a, 0, b, 0, cw) },
  { id: 101, name: 'fsub', args: 'ab', run: (d, s, a, b, cw) => X.fsub(d, 0, a, 0, b, 0, cw) },
  { id: 102, name: 'fmul', args: 'ab', run: (d, s, a, b, cw) => X.fmul(d, 0, a, 0, b, 0, cw) },
  { id: 103, name: 'fdiv', args: 'ab', run: (d, s, a, b, cw) => X.fdiv(d, 0, a, 0, b, 0, cw) },
  { id: 104, name: 'fsqrt', args: 'a', run: (d, s, a, b, cw) => X.fsqrt(d, 0, a, 0, cw) },
  { id: 105, name: 'fcom', args: 'ab', run: (d, s, a, b) => { d.set(a); return X.fcom(a, 0, b, 0, false); } },
  { id: 106, name: 'fucom', args: 'ab', run: (d, s, a, b) => { d.set(a); return X.fcom(a, 0, b, 0, true); } },
  { id: 107, name: 'fcomi', args: 'ab', run: (d, s, a, b) => { d.fill(0); const r = X.fcom(a, 0, b, 0, false); return (r & 0x3f) | (X.comiFlags(r) << 16); } },
  { id: 108, name: 'fucomi', args: 'ab', run: (d, s, a, b) => { const r = X.fcom(a, 0, b, 0, true); return (r & 0x3f) | (X.comiFlags(r) << 16); } },
  { id: 109, name: 'frndint', args: 'a', run: (d, s, a, b, cw) => X.frndint(d, 0, a, 0, cw) },
  { id: 110, name: 'fscale', args: 'ab', run: (d, s, a, b, cw) => X.fscale(d, 0, a, 0, b, 0, cw) },
  { id: 111, name: 'fxtract', args: 'a', two: true, run: (d, s, a) => X.fxtract(d, 0, s, 0, a, 0) },
  { id: 112, name: 'fprem', args: 'ab', run: (d, s, a, b) => X.fprem(d, 0, a, 0, b, 0, false) },
  { id: 113, name: 'fprem1', args: 'ab', run: (d, s, a, b) => X.fprem(d, 0, a, 0, b, 0, true) },
  { id: 114, name: 'fld_m32', args: 'f32', run: (d, s, a, b) => X.fldFloat(d, 0, b, 0, false) },
  { id: 115, name: 'fld_m64', args: 'f64', run: (d, s, a, b) => X.fldFloat(d, 0, b, 0, true) },
  { id: 116, name: 'fst_m32', args: 'a', run: (d, s, a, b, cw) => X.fstFloat(d, 0, a, 0, cw, false) },
  { id: 117, name: 'fst_m64', args: 'a', run: (d, s, a, b, cw) => X.fstFloat(d, 0, a, 0, cw, true) },
  { id: 118, name: 'fild_m16', args: 'i16', run: (d, s, a, b) => X.fild(d, 0, b, 0, 16) },
  { id: 119, name: 'fild_m32', args: 'i32', run: (d, s, a, b) => X.fild(d, 0, b, 0, 32) },
  { id: 120, name: 'fild_m64', args: 'i64', run: (d, s, a, b) => X.fild(d, 0, b, 0, 64) },
  { id: 121, name: 'fist_m16', args: 'a', run: (d, s, a, b, cw) => X.fist(d, 0, a, 0, cw, 16, false) },
  { id: 122, name: 'fist_m32', args: 'a', run: (d, s, a, b, cw) => X.fist(d, 0, a, 0, cw, 32, false) },
  { id: 123, name: 'fist_m64', args: 'a', run: (d, s, a, b, cw) => X.fist(d, 0, a, 0, cw, 64, false) },
  { id: 124, name: 'fisttp_m16', args: 'a', run: (d, s, a, b, cw) => X.fist(d, 0, a, 0, cw, 16, true) },
  { id: 125, name: 'fisttp_m32', args: 'a', run: (d, s, a, b, cw) => X.fist(d, 0, a, 0, cw, 32, true) },
  { id: 126, name: 'fisttp_m64', args: 'a', run: (d, s, a, b, cw) => X.fist(d, 0, a, 0, cw, 64, true) },
];

/** FSW bits compared: all but TOP (13:11), ES (7) and B (15), which the oracle's FNINIT/stack use decide. */
export const SW_MASK = ~(0x3800 | 0x80 | 0x8000) >>> 0;

export type DiffResult = Map<string, { n: number; bad: string[]; ulp1: number }>;

/** Run vectors on the host and in the emulator; per operation the count, mismatches (described) and 1-ulp ones. */
export function compareOps(ops: OpDef[], vs: Vec[]): DiffResult {
  const host = runOracle(vs);
  const res: DiffResult = new Map();
  const d = new Uint32Array(3), s = new Uint32Array(3), A = new Uint32Array(3), B = new Uint32Array(3);
  for (let i = 0; i < vs.length; i++) {
    const v = vs[i];
    const o = ops.find((x) => x.id === v.op)!;
    let r = res.get(o.name);
    if (!r) res.set(o.name, (r = { n: 0, bad: [], ulp1: 0 }));
    r.n++;
    d.fill(0); s.fill(0); A.set(v.a); B.set(v.b);
    const fl = o.run(d, s, A, B, v.ctl) >>> 0;
    const h = host.subarray(i * 7, i * 7 + 7);
    const ok = d[0] === h[0] && d[1] === h[1] && d[2] === h[2] && (!o.two || (s[0] === h[3] && s[1] === h[4] && s[2] === h[5])) &&
      (fl & SW_MASK) === (h[6] & SW_MASK);
    if (!ok && o.approx) {
      // last-bit difference of the main result, same flags except PE/C1?
      const [x0, x1, x2] = o.two && o.name !== 'fsincos' ? [s[0], s[1], s[2]] : [d[0], d[1], d[2]];
      const [y0, y1, y2] = o.two && o.name !== 'fsincos' ? [h[3], h[4], h[5]] : [h[0], h[1], h[2]];
      const X = (BigInt(x2) << 64n) | (BigInt(x1) << 32n) | BigInt(x0), Y = (BigInt(y2) << 64n) | (BigInt(y1) << 32n) | BigInt(y0);
      if (X - Y === 1n || Y - X === 1n) r.ulp1++;
    }
    if (!ok) r.bad.push(`cw=${v.ctl.toString(16)} a=${hex(v.a[2]).slice(4)}:${hex(v.a[1])}${hex(v.a[0])} b=${hex(v.b[2]).slice(4)}:${hex(v.b[1])}${hex(v.b[0])} -> js ${hex(d[2]).slice(4)}:${hex(d[1])}${hex(d[0])} ${o.two ? hex(s[2]).slice(4) + ':' + hex(s[1]) + hex(s[0]) : ''} sw=${(fl & SW_MASK).toString(16)} host ${hex(h[2]).slice(4)}:${hex(h[1])}${hex(h[0])} ${o.two ? hex(h[5]).slice(4) + ':' + hex(h[4]) + hex(h[3]) : ''} sw=${(h[6] & SW_MASK).toString(16)}`);
  }
  return res;
}

/** A random vector for `o` (operands weighted toward specials, random precision and rounding control). */
export function genVec(o: OpDef): Vec {
  let a = [0, 0, 0], b = [0, 0, 0];
  switch (o.args) {
    case 'ab': b = genX80(); a = genX80(b); break;
    case 'a': a = genX80(); break;
    case 'f32': b = [genF32(), 0, 0]; break;
    case 'f64': b = [...genF64(), 0]; break;
    case 'i16': b = [rnd() & 0xffff, 0, 0]; break;
    case 'i32': b = [rnd() >>> (rnd() % 32), 0, 0]; break;
    case 'i64': b = [rnd(), rnd() >>> (rnd() % 32), 0]; break;
  }
  return { op: o.id, ctl: genCw(), a, b, imm: 0 };
}
export { setSeed };
