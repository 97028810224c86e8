// The non-BigInt x87 fast paths (src/cpu/fp/x87fast.ts): bit-exact results and status flags, checked
// (1) against the host FPU on vectors aimed at the fast-path domain (normal operands and zeros, rounding ties,
// cancellation, exact quotients/roots, exponents near the overflow/underflow limits) in every RC/PC, and
// (2) in-process against the BigInt reference path (bigPath) on a larger random set, including operands the fast
// path must decline (NaN, infinity, denormals, unnormals).
import { describe, expect, it } from 'vitest';
import * as X from '../../src/cpu/fp/x87.js';
import * as F from '../../src/cpu/fp/x87fast.js';
import { genCw, genF32, genF64, genX80, hex, rnd, runOracle, setSeed, type Vec } from './oracle.js';

type Fn = (d: Uint32Array, a: Uint32Array, b: Uint32Array, cw: number) => number;
interface Op { id: number; name: string; args: 'ab' | 'a' | 'f32' | 'f64' | 'i16' | 'i32' | 'i64'; fast: Fn; pub: Fn; big: Fn }
const B = X.bigPath;
const OPS: Op[] = [
  { id: 100, name: 'fadd', args: 'ab', fast: (d, a, b, cw) => F.addFast(d, 0, a, 0, b, 0, cw, 0), pub: (d, a, b, cw) => X.fadd(d, 0, a, 0, b, 0, cw), big: (d, a, b, cw) => B.fadd(d, 0, a, 0, b, 0, cw) },
  { id: 101, name: 'fsub', args: 'ab', fast: (d, a, b, cw) => F.addFast(d, 0, a, 0, b, 0, cw, 0x8000), pub: (d, a, b, cw) => X.fsub(d, 0, a, 0, b, 0, cw), big: (d, a, b, cw) => B.fsub(d, 0, a, 0, b, 0, cw) },
  { id: 102, name: 'fmul', args: 'ab', fast: (d, a, b, cw) => F.mulFast(d, 0, a, 0, b, 0, cw), pub: (d, a, b, cw) => X.fmul(d, 0, a, 0, b, 0, cw), big: (d, a, b, cw) => B.fmul(d, 0, a, 0, b, 0, cw) },
  { id: 103, name: 'fdiv', args: 'ab', fast: (d, a, b, cw) => F.divFast(d, 0, a, 0, b, 0, cw), pub: (d, a, b, cw) => X.fdiv(d, 0, a, 0, b, 0, cw), big: (d, a, b, cw) => B.fdiv(d, 0, a, 0, b, 0, cw) },
  { id: 104, name: 'fsqrt', args: 'a', fast: (d, a, b, cw) => F.sqrtFast(d, 0, a, 0, cw), pub: (d, a, b, cw) => X.fsqrt(d, 0, a, 0, cw), big: (d, a, b, cw) => B.fsqrt(d, 0, a, 0, cw) },
  { id: 105, name: 'fcom', args: 'ab', fast: (d, a, b) => { const r = F.comFast(a, 0, b, 0); if (r >= 0) d.set(a); return r; }, pub: (d, a, b) => { d.set(a); return X.fcom(a, 0, b, 0, false); }, big: (d, a, b) => { d.set(a); return B.fcom(a, 0, b, 0, false); } },
  { id: 106, name: 'fucom', args: 'ab', fast: (d, a, b) => { const r = F.comFast(a, 0, b, 0); if (r >= 0) d.set(a); return r; }, pub: (d, a, b) => { d.set(a); return X.fcom(a, 0, b, 0, true); }, big: (d, a, b) => { d.set(a); return B.fcom(a, 0, b, 0, true); } },
  { id: 114, name: 'fld_m32', args: 'f32', fast: (d, a, b) => F.fldFloatFast(d, 0, b, 0, false), pub: (d, a, b) => X.fldFloat(d, 0, b, 0, false), big: (d, a, b) => B.fldFloat(d, 0, b, 0, false) },
  { id: 115, name: 'fld_m64', args: 'f64', fast: (d, a, b) => F.fldFloatFast(d, 0, b, 0, true), pub: (d, a, b) => X.fldFloat(d, 0, b, 0, true), big: (d, a, b) => B.fldFloat(d, 0, b, 0, true) },
  { id: 116, name: 'fst_m32', args: 'a', fast: (d, a, b, cw) => F.fstFloatFast(d, 0, a, 0, cw, false), pub: (d, a, b, cw) => X.fstFloat(d, 0, a, 0, cw, false), big: (d, a, b, cw) => B.fstFloat(d, 0, a, 0, cw, false) },
  { id: 117, name: 'fst_m64', args: 'a', fast: (d, a, b, cw) => F.fstFloatFast(d, 0, a, 0, cw, true), pub: (d, a, b, cw) => X.fstFloat(d, 0, a, 0, cw, true), big: (d, a, b, cw) => B.fstFloat(d, 0, a, 0, cw, true) },
  { id: 118, name: 'fild_m16', args: 'i16', fast: (d, a, b) => F.fildFast(d, 0, b, 0, 16), pub: (d, a, b) => X.fild(d, 0, b, 0, 16), big: (d, a, b) => B.fild(d, 0, b, 0, 16) },
  { id: 119, name: 'fild_m32', args: 'i32', fast: (d, a, b) => F.fildFast(d, 0, b, 0, 32), pub: (d, a, b) => X.fild(d, 0, b, 0, 32), big: (d, a, b) => B.fild(d, 0, b, 0, 32) },
  { id: 120, name: 'fild_m64', args: 'i64', fast: (d, a, b) => F.fildFast(d, 0, b, 0, 64), pub: (d, a, b) => X.fild(d, 0, b, 0, 64), big: (d, a, b) => B.fild(d, 0, b, 0, 64) },
  ...([16, 32, 64] as const).flatMap((bits, k) => [false, true].map((trunc): Op => ({
    id: (trunc ? 124 : 121) + k, name: `${trunc ? 'fisttp' : 'fist'}_m${bits}`, args: 'a',
    fast: (d, a, b, cw) => F.fistFast(d, 0, a, 0, cw, bits, trunc), pub: (d, a, b, cw) => X.fist(d, 0, a, 0, cw, bits, trunc),
    big: (d, a, b, cw) => B.fist(d, 0, a, 0, cw, bits, trunc),
  }))),
];

// ---- vectors aimed at the fast-path domain ----
const rb = (n: number) => n >= 32 ? rnd() >>> 0 : (rnd() & ((2 ** n) - 1)) >>> 0;
/** A 64-bit significand (integer bit set) as [lo, hi], with patterns that produce exact results and rounding ties. */
function genSig(): [number, number] {
  switch (rnd() % 10) {
    case 0: { // k significant bits
      const k = 1 + (rnd() % 64);
      let hi = (rnd() | 0x80000000) >>> 0, lo = rnd() >>> 0;
      if (k <= 32) { hi = (hi & ~((2 ** (32 - k)) - 1)) >>> 0; lo = 0; } else lo = (lo & ~((2 ** (64 - k)) - 1)) >>> 0;
      return [lo, (hi | 0x80000000) >>> 0];
    }
    case 1: { // around the 24/53/64-bit rounding points: ...x 1 000 / 0 111 / 1 000..01 patterns
      const where = [8, 11, 0][rnd() % 3];
      const hi = (rnd() | 0x80000000) >>> 0;
      let lo = rnd() >>> 0;
      if (where === 8) { const t = [0x80, 0x7f, 0x81, 0x00, 0xff][rnd() % 5]; return [rnd() % 3 === 0 ? rb(rnd() % 3) : 0, ((hi & ~0xff) | t) >>> 0]; }
      if (where === 11) { const t = [0x400, 0x3ff, 0x401, 0, 0x7ff][rnd() % 5]; lo = ((lo & ~0x7ff) | t) >>> 0; return [lo, hi]; }
      return [[0, 1, 0xffffffff, 0xfffffffe][rnd() % 4], hi];
    }
    case 2: return [[0xffffffff, 0, 0xfffff800, 0xffffff00][rnd() % 4], [0xffffffff, 0x80000000, 0xffffff00][rnd() % 3]];
    default: return [rnd() >>> 0, (rnd() | 0x80000000) >>> 0];
  }
}
function genExp(): number {
  const k = rnd() % 16;
  if (k < 11) return 0x3fff - 40 + (rnd() % 80);
  if (k < 12) return 1 + (rnd() % 70); // near the bottom of the range (tiny results decline)
  if (k < 13) return 0x7ffe - (rnd() % 70); // near the top (overflowing results decline)
  if (k < 14) return 0x3fff - 1100 + (rnd() % 2200); // double range
  return 1 + (rnd() % 0x7ffe);
}
function genNorm(): number[] {
  const s = rnd() & 0x8000;
  if (rnd() % 24 === 0) return [0, 0, s];
  const [lo, hi] = genSig();
  return [lo, hi, s | genExp()];
}
/** b close to a: same or nearby exponent (alignment shifts 0..3, 30..34, 62..67, 94..98), low-bit perturbations. */
function genNear(a: number[]): number[] {
  const ea = a[2] & 0x7fff;
  if (ea === 0) return genNorm();
  const s = rnd() & 1 ? a[2] & 0x8000 : (a[2] ^ 0x8000) & 0x8000;
  switch (rnd() % 4) {
    case 0: return [(a[0] ^ rb(rnd() % 12)) >>> 0, a[1], s | ea];
    case 1: { const [lo, hi] = genSig(); return [lo, hi, s | ea]; }
    default: {
      const dd = [0, 1, 2, 3, 31, 32, 33, 34, 62, 63, 64, 65, 66, 67, 94, 95, 96, 97, 98, 150][rnd() % 20] * (rnd() & 1 ? 1 : -1);
      const e = Math.max(1, Math.min(0x7ffe, ea + dd));
      const [lo, hi] = rnd() & 1 ? genSig() : [a[0], a[1]];
      return [lo, hi, s | e];
    }
  }
}
function sigBits(k: number): [number, number] { // random significand with exactly k <= 32 significant bits
  const v = (((rnd() | 0x80000000) >>> 0) & ~((2 ** (32 - k)) - 1)) >>> 0;
  return [0, v];
}

const scratch = new Uint32Array(3);
function genVec(o: Op): Vec {
  let a = [0, 0, 0], b = [0, 0, 0];
  const cw = genCw();
  switch (o.args) {
    case 'ab':
      a = genNorm(); b = rnd() % 3 === 0 ? genNorm() : genNear(a);
      if (o.name === 'fdiv' && rnd() % 4 === 0) { // exact quotient with 24/25/53/54 bits: ties in PC 24/53
        const kq = [24, 25, 26, 32][rnd() % 4], kb = 1 + (rnd() % (64 - kq > 32 ? 32 : 64 - kq));
        const [ql, qh] = kq <= 32 ? sigBits(kq) : [0, 0];
        const [bl, bh] = sigBits(kb);
        const Q = Uint32Array.of(ql, qh, 0x3fff + (rnd() % 8)), Bv = Uint32Array.of(bl, bh, (rnd() & 0x8000) | (0x3fff - 4 + (rnd() % 8)));
        X.fmul(scratch, 0, Q, 0, Bv, 0, 0x37f);
        a = [...scratch]; b = [...Bv];
      }
      break;
    case 'a':
      a = genNorm();
      if (o.name === 'fst_m32' && rnd() & 1) a[2] = (a[2] & 0x8000) | (0x3fff - 127 + (rnd() % 255));
      if (o.name.startsWith('fist')) a[2] = (a[2] & 0x8000) | (0x3fff - 3 + (rnd() % (o.name.endsWith('16') ? 20 : o.name.endsWith('32') ? 36 : 68)));
      if (o.name === 'fsqrt') {
        a[2] &= 0x7fff;
        if (rnd() % 4 === 0) { // perfect squares: exact roots with 24/25 bits (ties in PC 24)
          const [yl, yh] = sigBits([24, 25, 20, 32][rnd() % 4]);
          const Y = Uint32Array.of(yl, yh, 0x3fff - 30 + (rnd() % 60));
          X.fmul(scratch, 0, Y, 0, Y, 0, 0x37f);
          a = [...scratch];
        }
      }
      break;
    case 'f32': b = [rnd() & 1 ? genF32() : ((rnd() & 0x80000000) | ((1 + (rnd() % 254)) << 23) | (rnd() & 0x7fffff)) >>> 0, 0, 0]; break;
    case 'f64': b = rnd() & 1 ? [...genF64(), 0] : [rnd() >>> 0, ((rnd() & 0x80000000) | ((1 + (rnd() % 2046)) << 20) | (rnd() & 0xfffff)) >>> 0, 0]; break;
    case 'i16': b = [rnd() & 0xffff, 0, 0]; break;
    case 'i32': b = [rnd() >>> (rnd() % 32), 0, 0]; break;
    case 'i64': b = [rnd(), rnd() >>> (rnd() % 32), 0]; break;
  }
  return { op: o.id, ctl: cw, a, b, imm: 0 };
}

const SW_MASK = ~(0x3800 | 0x80 | 0x8000) >>> 0;
const fmt = (w: ArrayLike<number>, i = 0) => `${hex(w[i + 2]).slice(4)}:${hex(w[i + 1])}${hex(w[i])}`;
const N_HOST = 4000;
const N_BIG = 40000;

describe('x87 fast paths vs host FPU', () => {
  setSeed(0xfa57f00d);
  const vs: Vec[] = [];
  for (const o of OPS) for (let i = 0; i < N_HOST; i++) vs.push(genVec(o));
  const host = runOracle(vs);
  const d = new Uint32Array(3), A = new Uint32Array(3), Bb = new Uint32Array(3);
  const lines: string[] = [];
  for (const o of OPS) {
    it(o.name, () => {
      let n = 0, answered = 0;
      const bad: string[] = [];
      for (let i = 0; i < vs.length; i++) {
        const v = vs[i];
        if (v.op !== o.id) continue;
        n++;
        const h = host.subarray(i * 7, i * 7 + 7);
        for (const which of ['fast', 'pub'] as const) {
          d.fill(0); A.set(v.a); Bb.set(v.b);
          const fl = o[which](d, A, Bb, v.ctl);
          if (fl < 0) continue;
          if (which === 'fast') answered++;
          if (d[0] !== h[0] || d[1] !== h[1] || d[2] !== h[2] || (fl & SW_MASK) !== (h[6] & SW_MASK)) {
            bad.push(`${which} cw=${v.ctl.toString(16)} a=${fmt(v.a)} b=${fmt(v.b)} -> js ${fmt(d)} sw=${(fl & SW_MASK).toString(16)} host ${fmt(h)} sw=${(h[6] & SW_MASK).toString(16)}`);
          }
        }
      }
      lines.push(`${o.name}: ${n} vectors, fast path answered ${answered}`);
      if (bad.length) console.log(`${o.name}: ${bad.length} mismatches\n  ` + bad.slice(0, 8).join('\n  '));
      expect(bad.length).toBe(0);
      expect(answered / n).toBeGreaterThan(0.75);
    });
  }
  it('summary', () => { console.log('x87 fast paths vs host:\n  ' + lines.join('\n  ')); });
});

describe('x87 fast paths vs the BigInt path (in-process)', () => {
  const d1 = new Uint32Array(3), d2 = new Uint32Array(3), d3 = new Uint32Array(3), A = new Uint32Array(3), Bb = new Uint32Array(3);
  const lines: string[] = [];
  for (const o of OPS) {
    it(o.name, () => {
      setSeed(0xb16b00b5 ^ o.id);
      let answered = 0;
      const bad: string[] = [];
      for (let i = 0; i < N_BIG; i++) {
        // 3 in 4 aimed at the fast path; 1 in 4 arbitrary encodings (must decline or agree)
        let v: Vec;
        if (i % 4 !== 3) v = genVec(o);
        else {
          v = genVec(o);
          if (o.args === 'ab' || o.args === 'a') { v.b = genX80(); v.a = o.args === 'ab' && rnd() & 1 ? genX80(v.b) : genX80(); }
        }
        d1.fill(0x5a5a5a5a); d2.fill(0x5a5a5a5a); d3.fill(0x5a5a5a5a);
        A.set(v.a); Bb.set(v.b);
        const fb = o.big(d1, A, Bb, v.ctl);
        const fp = o.pub(d2, A, Bb, v.ctl);
        const ff = o.fast(d3, A, Bb, v.ctl);
        const same = (dd: Uint32Array, f: number) => dd[0] === d1[0] && dd[1] === d1[1] && dd[2] === d1[2] && f === fb;
        if (ff >= 0) answered++;
        else if (d3[0] !== 0x5a5a5a5a || d3[1] !== 0x5a5a5a5a || d3[2] !== 0x5a5a5a5a) bad.push(`declined but wrote the destination: a=${fmt(v.a)} b=${fmt(v.b)}`);
        if (!same(d2, fp) || (ff >= 0 && !same(d3, ff))) {
          bad.push(`cw=${v.ctl.toString(16)} a=${fmt(v.a)} b=${fmt(v.b)} -> big ${fmt(d1)} sw=${fb.toString(16)} pub ${fmt(d2)} sw=${fp.toString(16)} fast ${fmt(d3)} sw=${ff.toString(16)}`);
        }
        if (bad.length > 20) break;
      }
      lines.push(`${o.name}: ${N_BIG} vectors, fast path answered ${answered}`);
      if (bad.length) console.log(`${o.name}: mismatches\n  ` + bad.slice(0, 8).join('\n  '));
      expect(bad.length).toBe(0);
    });
  }
  it('summary', () => { console.log('x87 fast paths vs BigInt:\n  ' + lines.join('\n  ')); });
});

describe('x87 library terminates outside the documented domains', () => {
  const d = new Uint32Array(3), y = Uint32Array.of(0, 0x80000000, 0x3fff);
  it('F2XM1 with |x| > 1 returns x with PE', () => {
    for (const x of [[0, 0x80000000, 0x4000], [1, 0x80000000, 0xbfff], [0, 0xc0000000, 0x3fff], [0xffffffff, 0xffffffff, 0x7ffe], [0, 0x80000000, 0xc100]]) {
      const X3 = Uint32Array.of(...x);
      expect(X.f2xm1(d, 0, X3, 0, 0x37f)).toBe(0x20);
      expect([...d]).toEqual(x);
    }
  });
  it('FYL2XP1: x <= -1 returns x with PE; x >= 2 is FYL2X(x + 1) with PE; x near -1 finishes', () => {
    for (const x of [[0, 0x80000000, 0xbfff], [0, 0xc0000000, 0xc005], [0xffffffff, 0xffffffff, 0xfffe]]) {
      const X3 = Uint32Array.of(...x);
      expect(X.fyl2xp1(d, 0, y, 0, X3, 0, 0x37f)).toBe(0x20);
      expect([...d]).toEqual(x);
    }
    const e = new Uint32Array(3), v = new Uint32Array(3), one = Uint32Array.of(0, 0x80000000, 0x3fff);
    for (const x of [[0, 0x80000000, 0x4000], [0x1234, 0xdeadbeef, 0x4123], [0xffffffff, 0xffffffff, 0x7ffe]]) {
      const X3 = Uint32Array.of(...x);
      const r = X.fyl2xp1(d, 0, y, 0, X3, 0, 0x37f);
      X.fadd(v, 0, X3, 0, one, 0, 0x37f);
      const r2 = X.fyl2x(e, 0, y, 0, v, 0, 0x37f) | 0x20;
      expect(r).toBe(r2);
      expect([...d]).toEqual([...e]);
    }
    // x = -1 + 2^-64 and x = -0.75: ln(1 + x) must not take ~2^63 series terms (that would hang: the test's
    // timeout is the guard, not a bound on how fast this machine is)
    X.fyl2xp1(d, 0, y, 0, Uint32Array.of(0xffffffff, 0xffffffff, 0xbffe), 0, 0x37f);
    expect(d[2]).toBe(0xc005); // log2(2^-64) = -64
    expect(d[1]).toBe(0x80000000);
    X.fyl2xp1(d, 0, y, 0, Uint32Array.of(0, 0xc0000000, 0xbffe), 0, 0x37f);
    expect([...d]).toEqual([0, 0x80000000, 0xc000]); // log2(0.25) = -2
  }, 60_000);
});
