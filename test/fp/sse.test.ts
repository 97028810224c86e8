// Differential test of src/cpu/fp/sse.ts against the host CPU (test/fp/native/oracle.c).
import { describe, expect, it } from 'vitest';
import * as S from '../../src/cpu/fp/sse.js';
import { genF32, genF64, genMxcsr, hex, rnd, runOracle, setSeed, type Vec } from './oracle.js';

type Kind = 'ss' | 'sd' | 'si32' | 'si64';
interface OpDef { id: number; name: string; a: Kind | null; b: Kind; run: (d: Uint32Array, a: Uint32Array, b: Uint32Array, mx: number, imm: number) => number }

const bin = (f: typeof S.addsd) => (d: Uint32Array, a: Uint32Array, b: Uint32Array, mx: number) => f(d, 0, a, 0, b, 0, mx);
const OPS: OpDef[] = [
  { id: 0, name: 'addss', a: 'ss', b: 'ss', run: bin(S.addss) },
  { id: 1, name: 'subss', a: 'ss', b: 'ss', run: bin(S.subss) },
  { id: 2, name: 'mulss', a: 'ss', b: 'ss', run: bin(S.mulss) },
  { id: 3, name: 'divss', a: 'ss', b: 'ss', run: bin(S.divss) },
  { id: 4, name: 'sqrtss', a: null, b: 'ss', run: (d, a, b, mx) => S.sqrtss(d, 0, b, 0, mx) },
  { id: 5, name: 'minss', a: 'ss', b: 'ss', run: bin(S.minss) },
  { id: 6, name: 'maxss', a: 'ss', b: 'ss', run: bin(S.maxss) },
  { id: 7, name: 'addsd', a: 'sd', b: 'sd', run: bin(S.addsd) },
  { id: 8, name: 'subsd', a: 'sd', b: 'sd', run: bin(S.subsd) },
  { id: 9, name: 'mulsd', a: 'sd', b: 'sd', run: bin(S.mulsd) },
  { id: 10, name: 'divsd', a: 'sd', b: 'sd', run: bin(S.divsd) },
  { id: 11, name: 'sqrtsd', a: null, b: 'sd', run: (d, a, b, mx) => S.sqrtsd(d, 0, b, 0, mx) },
  { id: 12, name: 'minsd', a: 'sd', b: 'sd', run: bin(S.minsd) },
  { id: 13, name: 'maxsd', a: 'sd', b: 'sd', run: bin(S.maxsd) },
  { id: 14, name: 'cmpss', a: 'ss', b: 'ss', run: (d, a, b, mx, imm) => S.cmpss(d, 0, a, 0, b, 0, imm, mx) },
  { id: 15, name: 'cmpsd', a: 'sd', b: 'sd', run: (d, a, b, mx, imm) => S.cmpsd(d, 0, a, 0, b, 0, imm, mx) },
  { id: 16, name: 'comiss', a: 'ss', b: 'ss', run: (d, a, b, mx) => S.comiss(a, 0, b, 0, mx, false) },
  { id: 17, name: 'ucomiss', a: 'ss', b: 'ss', run: (d, a, b, mx) => S.comiss(a, 0, b, 0, mx, true) },
  { id: 18, name: 'comisd', a: 'sd', b: 'sd', run: (d, a, b, mx) => S.comisd(a, 0, b, 0, mx, false) },
  { id: 19, name: 'ucomisd', a: 'sd', b: 'sd', run: (d, a, b, mx) => S.comisd(a, 0, b, 0, mx, true) },
  { id: 20, name: 'cvtss2sd', a: null, b: 'ss', run: (d, a, b, mx) => S.cvtss2sd(d, 0, b, 0, mx) },
  { id: 21, name: 'cvtsd2ss', a: null, b: 'sd', run: (d, a, b, mx) => S.cvtsd2ss(d, 0, b, 0, mx) },
  { id: 22, name: 'cvtss2si32', a: null, b: 'ss', run: (d, a, b, mx) => S.cvtss2si(d, 0, b, 0, mx, false, false) },
  { id: 23, name: 'cvtss2si64', a: null, b: 'ss', run: (d, a, b, mx) => S.cvtss2si(d, 0, b, 0, mx, false, true) },
  { id: 24, name: 'cvttss2si32', a: null, b: 'ss', run: (d, a, b, mx) => S.cvtss2si(d, 0, b, 0, mx, true, false) },
  { id: 25, name: 'cvttss2si64', a: null, b: 'ss', run: (d, a, b, mx) => S.cvtss2si(d, 0, b, 0, mx, true, true) },
  { id: 26, name: 'cvtsd2si32', a: null, b: 'sd', run: (d, a, b, mx) => S.cvtsd2si(d, 0, b, 0, mx, false, false) },
  { id: 27, name: 'cvtsd2si64', a: null, b: 'sd', run: (d, a, b, mx) => S.cvtsd2si(d, 0, b, 0, mx, false, true) },
  { id: 28, name: 'cvttsd2si32', a: null, b: 'sd', run: (d, a, b, mx) => S.cvtsd2si(d, 0, b, 0, mx, true, false) },
  { id: 29, name: 'cvttsd2si64', a: null, b: 'sd', run: (d, a, b, mx) => S.cvtsd2si(d, 0, b, 0, mx, true, true) },
  { id: 30, name: 'cvtsi2ss32', a: null, b: 'si32', run: (d, a, b, mx) => S.cvtsi2ss(d, 0, b, 0, mx, false) },
  { id: 31, name: 'cvtsi2ss64', a: null, b: 'si64', run: (d, a, b, mx) => S.cvtsi2ss(d, 0, b, 0, mx, true) },
  { id: 32, name: 'cvtsi2sd32', a: null, b: 'si32', run: (d, a, b, mx) => S.cvtsi2sd(d, 0, b, 0, mx, false) },
  { id: 33, name: 'cvtsi2sd64', a: null, b: 'si64', run: (d, a, b, mx) => S.cvtsi2sd(d, 0, b, 0, mx, true) },
];

const INT_EDGE = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x80000001, 0x1000001, 0x1000003, 0xfeffffff, 0x20000001];
function gen(k: Kind, near?: number[]): number[] {
  switch (k) {
    case 'ss': return [genF32(near?.[0]), 0, 0];
    case 'sd': { const [l, h] = genF64(near ? [near[0], near[1]] : undefined); return [l, h, 0]; }
    case 'si32': return [rnd() & 3 ? (rnd() >>> (rnd() % 32)) ^ (rnd() & 1 ? 0xffffffff : 0) : INT_EDGE[rnd() % INT_EDGE.length], 0, 0].map((x) => x >>> 0);
    default: {
      const sh = rnd() % 64;
      let lo = rnd(), hi = rnd();
      if (sh >= 32) { lo = hi >>> (sh - 32); hi = 0; } else if (sh > 0) { lo = ((lo >>> sh) | (hi << (32 - sh))) >>> 0; hi = hi >>> sh; }
      if (rnd() & 1) { lo = ~lo >>> 0; hi = ~hi >>> 0; }
      if ((rnd() & 7) === 0) { lo = INT_EDGE[rnd() % INT_EDGE.length]; hi = INT_EDGE[rnd() % INT_EDGE.length]; }
      return [lo >>> 0, hi >>> 0, 0];
    }
  }
}

const N = 6000;

describe('SSE scalar semantics vs host CPU', () => {
  setSeed(0x5eed5eed);
  const vs: Vec[] = [];
  for (const o of OPS) {
    for (let i = 0; i < N; i++) {
      const b = gen(o.b);
      const a = o.a ? gen(o.a, b) : [0, 0, 0];
      vs.push({ op: o.id, ctl: genMxcsr(), a, b, imm: rnd() % 32 });
    }
  }
  const host = runOracle(vs);
  const d = new Uint32Array(4), A = new Uint32Array(4), B = new Uint32Array(4);
  const stats: string[] = [];
  for (const o of OPS) {
    it(o.name, () => {
      const bad: string[] = [];
      let n = 0;
      for (let i = 0; i < vs.length; i++) {
        const v = vs[i];
        if (v.op !== o.id) continue;
        n++;
        d.fill(0); A.set(v.a); B.set(v.b);
        const fl = o.run(d, A, B, v.ctl, v.imm) >>> 0;
        const h = host.subarray(i * 7, i * 7 + 7);
        if (d[0] !== h[0] || d[1] !== h[1] || fl !== h[6]) {
          if (bad.length < 8) bad.push(`mx=${v.ctl.toString(16)} imm=${v.imm} a=${hex(v.a[1])}${hex(v.a[0])} b=${hex(v.b[1])}${hex(v.b[0])} -> js ${hex(d[1])}${hex(d[0])} fl=${fl.toString(16)} host ${hex(h[1])}${hex(h[0])} fl=${h[6].toString(16)}`);
          else bad.push('');
        }
      }
      stats.push(`${o.name}: ${n - bad.length}/${n}`);
      if (bad.length) console.log(`${o.name}: ${bad.length} mismatches\n  ` + bad.filter((x) => x).join('\n  '));
      expect(bad.length).toBe(0);
    });
  }
  it('summary', () => { console.log('SSE agreement: ' + stats.join(', ')); });
});
