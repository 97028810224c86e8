// Difference test: the fixed memory layout shared by the native runner (native/runner.c) and the emulator
// side (emu.ts), and the scratch-buffer initial contents. Test-only; imports nothing from src/.

/** Case code is placed here (4 KiB page). */
export const CODE = 0x400000;
export const CODE_SIZE = 0x1000;
/** Scratch data buffer (64 KiB): memory operands point into [DATA+0x800, DATA+0x8000); the stack is above. */
export const DATA = 0x600000;
export const DATA_SIZE = 0x10000;
/** A read-only page (bytes (k * 37 + 11) & 0xff) and after it a page with no access, right above the scratch
 *  buffer: memory operands pointing there fault (stores on the first, every access on the second). */
export const RO_PAGE = DATA + DATA_SIZE;
export const NP_PAGE = RO_PAGE + 0x1000;
export function roByte(k: number): number { return (k * 37 + 11) & 0xff; }

/** Initial RSP (inside the scratch buffer; pushes/pops of a case stay within DATA+0xB000..DATA+0xD000). */
export const STACK_INIT = DATA + 0xc000;

/** Arithmetic flag bits (declared with the undefined-flags table). */
export { CF, PF, AF, ZF, SF, OF, DF, ARITH } from '../cpu/undef.js';

/** Initial scratch contents for a case: xorshift32 words (a sixteenth zero, a sixteenth all-ones); mirrors fill() in runner.c. */
export function fillScratch(seed: number, out: Uint8Array): void {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  if (s === 0) s = 1;
  const w32 = new Uint32Array(out.buffer, out.byteOffset, DATA_SIZE >>> 2); // little-endian host
  for (let i = 0; i < DATA_SIZE >>> 2; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const t = s & 15;
    w32[i] = t === 0 ? 0 : t === 1 ? 0xffffffff : s;
  }
}

/** Small seeded PRNG (xorshift128) used by the generator; reproducible from (seed, case index). */
export class Rng {
  private a: number; private b: number; private c: number; private d: number;
  constructor(seed: number, stream = 0) {
    // splitmix32-style scrambling of (seed, stream) into four nonzero words
    let x = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => { x = (x + 0x6d2b79f5) >>> 0; let t = Math.imul(x ^ (x >>> 15), x | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return (t ^ (t >>> 14)) >>> 0; };
    this.a = next() || 1; this.b = next(); this.c = next(); this.d = next();
  }
  /** Uniform 32-bit unsigned. */
  u32(): number {
    let t = this.d;
    const s = this.a;
    this.d = this.c; this.c = this.b; this.b = s;
    t ^= t << 11; t ^= t >>> 8;
    this.a = (t ^ s ^ (s >>> 19)) >>> 0;
    return this.a;
  }
  /** Integer in [0, n). */
  int(n: number): number { return Math.floor((this.u32() / 4294967296) * n); }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
}

// FP cases: float specials and ordinary values overlaid on the integer fill, per 16-byte block (mirrors fp_fill()
// in runner.c). Tables: float32, float64 [lo, hi], float80 [lo, hi, sign|exponent].
export const F32T = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xff812345,
  0x7fa00001, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0x3f800000, 0xcf000000, 0x4f000000];
export const F64T = [[0, 0], [0, 0x80000000], [0, 0x7ff00000], [0, 0xfff00000], [0, 0x7ff80000], [0x1234, 0xfff80000],
  [5, 0x7ff40000], [1, 0], [0xffffffff, 0x800fffff], [0, 0x00100000], [0xffffffff, 0x7fefffff],
  [0, 0x3ff00000], [0, 0xc1e00000], [0, 0x43e00000], [0xffc00000, 0x41dfffff], [0, 0x3fe00000]];
export const F80T = [[0, 0, 0], [0, 0, 0x8000], [0, 0x80000000, 0x7fff], [0, 0x80000000, 0xffff],
  [0, 0xc0000000, 0xffff], [0x5678, 0xc0001234, 0x7fff], [1, 0x80000000, 0x7fff], [0, 0xa0000000, 0xffff],
  [1, 0x00001234, 0x0000], [0, 0x80000000, 0x0001], [0xffffffff, 0xffffffff, 0x7ffe], [0, 0x80000000, 0x3fff],
  [0, 0xa0000000, 0xc000], [0, 0x80000000, 0x403e], [0x2168c235, 0xc90fdaa2, 0x4000], [0, 0xc0000000, 0x3ffe]];

export function fpFill(seed: number, out: Uint8Array): void {
  let s = (seed ^ 0x85ebca6b) >>> 0;
  if (s === 0) s = 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  const w = new Uint32Array(out.buffer, out.byteOffset, DATA_SIZE >>> 2);
  for (let b = 0; b < DATA_SIZE >>> 2; b += 4) {
    const k = next();
    switch (k & 7) {
      case 0: for (let l = 0; l < 4; l++) w[b + l] = F32T[(k >>> (4 + 4 * l)) & 15]; break;
      case 1: for (let l = 0; l < 2; l++) { const t = F64T[(k >>> (4 + 4 * l)) & 15]; w[b + 2 * l] = t[0]; w[b + 2 * l + 1] = t[1]; } break;
      case 2: { const t = F80T[(k >>> 4) & 15]; w[b] = t[0]; w[b + 1] = t[1]; w[b + 2] = ((w[b + 2] & 0xffff0000) | t[2]) >>> 0; break; }
      case 3: for (let l = 0; l < 4; l++) { const r = next(); w[b + l] = ((r & 0x807fffff) | ((120 + ((r >>> 23) & 15)) << 23)) >>> 0; } break;
      case 4: for (let l = 0; l < 2; l++) { const r = next(); w[b + 2 * l] = next(); w[b + 2 * l + 1] = ((r & 0x800fffff) | ((1016 + ((r >>> 20) & 15)) << 20)) >>> 0; } break;
      case 5: { const r = next(); w[b] = next(); w[b + 1] = (r | 0x80000000) >>> 0; w[b + 2] = ((w[b + 2] & 0xffff0000) | ((r & 0x8000) | (0x3ff0 + (r & 31)))) >>> 0; break; }
      default: break;
    }
  }
}

/** Initial scratch contents of a case: the integer fill, plus the FP overlay in fill mode 1. */
export function initScratch(seed: number, mode: number, out: Uint8Array): void {
  fillScratch(seed, out);
  if (mode === 1) fpFill(seed, out);
}

/** The default FP state (after FNINIT, MXCSR 0x1f80) as an FXSAVE64 image (MXCSR_MASK 0xffff). */
export function defaultFx(): Uint8Array {
  const fx = new Uint8Array(512);
  const dv = new DataView(fx.buffer);
  dv.setUint16(0, 0x37f, true);
  dv.setUint32(24, 0x1f80, true);
  dv.setUint32(28, 0xffff, true);
  return fx;
}
