// `node dist/bench/x87.js`: Mops/s of the x87 80-bit arithmetic, BigInt reference path (before) vs the
// non-BigInt fast path (after), on random normal operands in all rounding modes and precision controls.
// Each figure is the best of several runs (the machine may be shared).
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import * as X from '../src/cpu/fp/x87.js';

const N = 1024; // operand pairs, cycled
const A = new Uint32Array(N * 3), B = new Uint32Array(N * 3), CW = new Uint16Array(N);
let seed = 0x2545f491;
const rnd = (): number => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; };
for (let i = 0; i < N; i++) {
  A[i * 3] = rnd(); A[i * 3 + 1] = (rnd() | 0x80000000) >>> 0; A[i * 3 + 2] = (rnd() & 0x8000) | (0x3fff - 30 + (rnd() % 60));
  B[i * 3] = rnd(); B[i * 3 + 1] = (rnd() | 0x80000000) >>> 0; B[i * 3 + 2] = (rnd() & 0x8000) | (0x3fff - 30 + (rnd() % 60));
  CW[i] = 0x7f | ([0, 2, 3, 3][rnd() & 3] << 8) | ((rnd() & 3) << 10);
}
const Apos = A.slice();
for (let i = 0; i < N; i++) Apos[i * 3 + 2] &= 0x7fff;
const D = new Uint32Array(3);

const big = X.bigPath;
const NAMES = ['fadd', 'fsub', 'fmul', 'fdiv', 'fsqrt', 'fcom', 'fst_m64', 'fist_m32'];

/** One batch of 4096 operations; each case has its own (monomorphic) call site. */
function batch(c: number, fast: boolean): number {
  let acc = 0;
  for (let k = 0; k < 4096; k++) {
    const i = k & (N - 1), o = i * 3, cw = CW[i];
    let r: number;
    switch (c) {
      case 0: r = fast ? X.fadd(D, 0, A, o, B, o, cw) : big.fadd(D, 0, A, o, B, o, cw); break;
      case 1: r = fast ? X.fsub(D, 0, A, o, B, o, cw) : big.fsub(D, 0, A, o, B, o, cw); break;
      case 2: r = fast ? X.fmul(D, 0, A, o, B, o, cw) : big.fmul(D, 0, A, o, B, o, cw); break;
      case 3: r = fast ? X.fdiv(D, 0, A, o, B, o, cw) : big.fdiv(D, 0, A, o, B, o, cw); break;
      case 4: r = fast ? X.fsqrt(D, 0, Apos, o, cw) : big.fsqrt(D, 0, Apos, o, cw); break;
      case 5: r = fast ? X.fcom(A, o, B, o, false) : big.fcom(A, o, B, o, false); break;
      case 6: r = fast ? X.fstFloat(D, 0, A, o, cw, true) : big.fstFloat(D, 0, A, o, cw, true); break;
      default: r = fast ? X.fist(D, 0, A, o, cw, 32, false) : big.fist(D, 0, A, o, cw, 32, false); break;
    }
    acc ^= r + D[0];
  }
  return acc;
}
function measure(c: number, fast: boolean, ms: number): number {
  let n = 0, acc = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) { acc ^= batch(c, fast); n += 4096; t = performance.now(); }
  if (acc === 0x7fffffff) console.log(''); // keep the results alive
  return n / ((t - t0) * 1000);
}
function best(c: number, fast: boolean, runs: number, ms: number): number {
  measure(c, fast, 50); // warm-up
  let b = 0;
  for (let r = 0; r < runs; r++) b = Math.max(b, measure(c, fast, ms));
  return b;
}

const runs = Number(process.argv[2] ?? 5), ms = Number(process.argv[3] ?? 300);
console.log(`x87 Mops/s (best of ${runs} x ${ms} ms)        BigInt      fast   speed-up`);
for (let c = 0; c < NAMES.length; c++) {
  const s = best(c, false, runs, ms), f = best(c, true, runs, ms);
  console.log(`  ${NAMES[c].padEnd(36)} ${s.toFixed(2).padStart(8)} ${f.toFixed(2).padStart(9)} ${(f / s).toFixed(1).padStart(8)}x`);
}
