// Host-CPU oracle for the FP semantics tests: builds test/fp/native/oracle.c with gcc (cached in the
// OS temp dir by source hash) and runs vectors through it. Test-only; touches the host by design.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'native', 'oracle.c');

/** One test vector: op id, control (MXCSR or x87 CW), operands a/b as 3 words, imm. */
export interface Vec { op: number; ctl: number; a: number[]; b: number[]; imm: number }

let exe = '';
export function oraclePath(): string {
  if (exe) return exe;
  const code = readFileSync(src);
  const h = createHash('sha1').update(code).digest('hex').slice(0, 12);
  exe = join(tmpdir(), `x86ft-fp-oracle-${h}`);
  if (!existsSync(exe)) execFileSync('gcc', ['-O1', '-o', exe, src]);
  return exe;
}

/** Runs vectors on the host CPU; returns 7 words per vector (r0 r1 r2 s0 s1 s2 flags). */
export function runOracle(vs: Vec[]): Uint32Array {
  const lines: string[] = [];
  for (const v of vs) {
    lines.push([v.op, v.ctl, v.a[0], v.a[1], v.a[2], v.b[0], v.b[1], v.b[2], v.imm].map((x) => (x >>> 0).toString(16)).join(' '));
  }
  const r = spawnSync(oraclePath(), { input: lines.join('\n') + '\n', maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error('oracle failed: ' + r.stderr);
  const out = new Uint32Array(vs.length * 7);
  const ls = r.stdout.split('\n');
  for (let i = 0; i < vs.length; i++) {
    const f = ls[i].split(' ');
    for (let j = 0; j < 7; j++) out[i * 7 + j] = parseInt(f[j], 16) >>> 0;
  }
  return out;
}

// ---- deterministic random generation, weighted toward edge cases ----
let seed = 0x12345678;
export function setSeed(s: number): void { seed = s >>> 0 || 1; }
export function rnd(): number { // xorshift32
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed;
}
export function pick<T>(xs: readonly T[]): T { return xs[rnd() % xs.length]; }

export const F32_SPECIAL = [
  0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xffd00001, 0x7f800001, 0x7fa00000,
  0xff812345, 1, 0x7fffff, 0x807fffff, 0x400000, 0x80000001, 0x800000, 0x80800000, 0x7f7fffff, 0xff7fffff,
  0x3f800000, 0xbf800000, 0x3f7fffff, 0x3f800001, 0x4f000000, 0xcf000000, 0x4effffff, 0xceffffff, 0x5f000000,
  0xdf000000, 0x5effffff, 0xdeffffff, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000, 0xc0200000, 0x4b000001,
  0x4b800000, 0x40000000, 0x7effffff, 0x00800001, 0x00ffffff, 0x34000000, 0x33800000, 0x7e800000, 0x01000000,
];
export const F64_SPECIAL: [number, number][] = [
  [0, 0], [0, 0x80000000], [0, 0x7ff00000], [0, 0xfff00000], [0, 0x7ff80000], [0, 0xfff80000], [0x12345, 0x7ff80000],
  [1, 0xfff80001], [1, 0x7ff00000], [0, 0x7ff40000], [0xabcdef, 0xfff01234], [1, 0], [0xffffffff, 0xfffff],
  [0xffffffff, 0x800fffff], [0, 0x80000], [1, 0x80000000], [0, 0x100000], [0, 0x80100000], [0xffffffff, 0x7fefffff],
  [0xffffffff, 0xffefffff], [0, 0x3ff00000], [0, 0xbff00000], [0xffffffff, 0x3fefffff], [1, 0x3ff00000],
  [0, 0x41e00000], [0, 0xc1e00000], [0xffc00000, 0x41dfffff], [0x200000, 0xc1e00000], [0, 0x43e00000],
  [0, 0xc3e00000], [0xffffffff, 0x43dfffff], [0xffffffff, 0xc3dfffff], [0, 0x3fe00000], [0, 0xbfe00000],
  [0, 0x3ff80000], [0, 0x40040000], [0, 0xc0040000], [1, 0x43300000], [0, 0x43400000], [0, 0x40000000],
  [0xffffffff, 0x7fdfffff], [1, 0x100000], [0xffffffff, 0x1fffff], [0, 0x3ca00000], [0, 0x3c900000],
  [0, 0x7fd00000], [0, 0x200000], [0, 0x36a00000], [0xe0000000, 0x380fffff], [0x10000000, 0x38100000],
  [0xe0000000, 0x47efffff], [0xf0000000, 0x47efffff], [0, 0x41dfffff], [0x80000000, 0x41dfffff],
];

/** A float32 bit pattern, edge-weighted. `near` (optional) biases toward values close to it. */
export function genF32(near?: number): number {
  const k = rnd() % 16;
  if (k < 4) return pick(F32_SPECIAL) >>> 0;
  if (k < 7 && near !== undefined) {
    // close to `near`: same exponent region, perturbed low bits or shifted exponent (ties, cancellation)
    const e = (near >>> 23) & 0xff;
    const s = rnd() & 1 ? 0x80000000 : 0;
    if (rnd() & 1) return ((near ^ (rnd() & 0xff)) ^ (rnd() & 1 ? 0x80000000 : 0)) >>> 0;
    const d = rnd() % 30;
    const ne = Math.max(0, Math.min(254, e - d));
    return (s | (ne << 23) | (rnd() & 0x7fffff)) >>> 0;
  }
  if (k < 9) return (rnd() & 0x807fffff) >>> 0; // denormal
  if (k < 11) { // near underflow / overflow exponents
    const e = rnd() & 1 ? rnd() % 30 : 225 + (rnd() % 30);
    return ((rnd() & 0x80000000) | (e << 23) | (rnd() & 0x7fffff)) >>> 0;
  }
  if (k < 12) return ((rnd() & 0x80000000) | ((127 + (rnd() % 64)) << 23) | (rnd() & 0x7fffff & ~((1 << (rnd() % 24)) - 1))) >>> 0;
  return rnd() >>> 0;
}

/** A float64 as [lo, hi], edge-weighted. */
export function genF64(near?: [number, number]): [number, number] {
  const k = rnd() % 16;
  if (k < 4) { const [l, h] = pick(F64_SPECIAL); return [l >>> 0, h >>> 0]; }
  if (k < 7 && near !== undefined) {
    const e = (near[1] >>> 20) & 0x7ff;
    if (rnd() & 1) return [(near[0] ^ (rnd() & 0xff)) >>> 0, (near[1] ^ (rnd() & 1 ? 0x80000000 : 0)) >>> 0];
    const d = rnd() % 60;
    const ne = Math.max(0, Math.min(2046, e - d));
    return [rnd() >>> 0, ((rnd() & 0x80000000) | (ne << 20) | (rnd() & 0xfffff)) >>> 0];
  }
  if (k < 9) return [rnd() >>> 0, (rnd() & 0x800fffff) >>> 0];
  if (k < 11) {
    const e = rnd() & 1 ? rnd() % 60 : 1990 + (rnd() % 57);
    return [rnd() >>> 0, ((rnd() & 0x80000000) | (e << 20) | (rnd() & 0xfffff)) >>> 0];
  }
  if (k < 12) {
    const sh = rnd() % 53;
    const lo = sh >= 32 ? 0 : (rnd() & ~((2 ** sh) - 1)) >>> 0;
    const hm = sh > 32 ? rnd() & 0xfffff & ~((1 << (sh - 32)) - 1) : rnd() & 0xfffff;
    return [lo, ((rnd() & 0x80000000) | ((1023 + (rnd() % 70)) << 20) | hm) >>> 0];
  }
  return [rnd() >>> 0, rnd() >>> 0];
}

/** MXCSR with all exceptions masked and random RC / DAZ / FTZ. */
export function genMxcsr(): number {
  const r = rnd();
  return 0x1f80 | ((r & 3) << 13) | (r & 4 ? 0x40 : 0) | (r & 8 ? 0x8000 : 0);
}

export const hex = (x: number): string => (x >>> 0).toString(16).padStart(8, '0');

// ---- 80-bit extended values as [lo, hi, se] ----
export const X80_SPECIAL: [number, number, number][] = [
  [0, 0, 0], [0, 0, 0x8000], [0, 0x80000000, 0x7fff], [0, 0x80000000, 0xffff], [0, 0xc0000000, 0x7fff], [0, 0xc0000000, 0xffff],
  [0x1234, 0xc0000000, 0x7fff], [1, 0x80000000, 0x7fff], [0, 0xa0000000, 0xffff], [5, 0x80000000, 0xffff],
  [0, 0x40000000, 0x7fff], [0, 0, 0x7fff], [0, 0x40000000, 0x3fff], [1, 0, 0x4000], // pseudo-NaN, pseudo-inf, unnormals
  [1, 0, 0], [0xffffffff, 0x7fffffff, 0x8000], [0, 0x40000000, 0], [0, 0x80000000, 0], [0xffffffff, 0xffffffff, 0], // denormals, pseudo-denormal
  [0, 0x80000000, 1], [0, 0x80000000, 0x8001], [0xffffffff, 0xffffffff, 0x7ffe], [0xffffffff, 0xffffffff, 0xfffe],
  [0, 0x80000000, 0x3fff], [0, 0x80000000, 0xbfff], [0xffffffff, 0xffffffff, 0x3ffe], [1, 0x80000000, 0x3fff],
  [0, 0x80000000, 0x403e], [0, 0x80000000, 0xc03e], [0xffffffff, 0xffffffff, 0x403d], [0, 0x80000000, 0x401e], [0, 0x80000000, 0xc01e],
  [0, 0xffffffff, 0x401d], [0, 0x80000000, 0x400e], [0, 0x80000000, 0xc00e], [0, 0xc0000000, 0x3ffe], [0, 0xc0000000, 0x4000],
  [0x800, 0x80000000, 0x3fff], [0x400, 0x80000000, 0x3fff], [0xc0000000, 0x2168c234, 0x4000 + 0], [0x2168c235, 0xc90fdaa2, 0x4000],
  [0x2168c234, 0xc90fdaa2, 0x3fff], [0, 0x80000000, 0x407e], [0, 0x80000000, 0x43fe], [0, 0x80000000, 0x3c01], [0, 0x80000000, 0x3f81],
];
export function genX80(near?: number[]): number[] {
  const k = rnd() % 16;
  if (k < 4) return [...pick(X80_SPECIAL)].map((x) => x >>> 0);
  const s = rnd() & 0x8000;
  const hi = (rnd() | 0x80000000) >>> 0;
  const lo = rnd() >>> 0;
  if (k < 7 && near) {
    const e = near[2] & 0x7fff;
    if (rnd() & 1) return [(near[0] ^ (rnd() & 0xfff)) >>> 0, near[1], (near[2] ^ (rnd() & 1 ? 0x8000 : 0)) >>> 0];
    return [lo, hi, s | Math.max(1, Math.min(0x7ffe, e - (rnd() % 70)))];
  }
  if (k < 8) return [lo, (hi & 0x7fffffff) >>> (rnd() % 32), s]; // denormal
  if (k < 10) { const e = rnd() & 1 ? 1 + rnd() % 80 : 0x7ffe - rnd() % 80; return [lo, hi, s | e]; }
  if (k < 11) { const sh = rnd() % 64; return sh >= 32 ? [0, (hi & ~((2 ** (sh - 32)) - 1)) >>> 0, s | (0x3fff + rnd() % 70)] : [(lo & ~((2 ** sh) - 1)) >>> 0, hi, s | (0x3fff + rnd() % 70)]; }
  if (k < 13) return [lo, hi, s | (0x3fff - 40 + rnd() % 80)];
  // values that are exact float32/float64 / small ints
  if (k < 14) return [0, (hi & 0xffffff00) >>> 0, s | (0x3fff - 10 + rnd() % 40)];
  return [lo, hi, s | (rnd() & 0x7fff)];
}
/** x87 control word: all exceptions masked, random precision control (24/53/64) and rounding control. */
export function genCw(): number {
  const pc = [0, 2, 3, 3][rnd() & 3];
  return 0x7f | (pc << 8) | ((rnd() & 3) << 10);
}
