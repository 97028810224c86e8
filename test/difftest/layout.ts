// Difference test: the fixed memory layout shared by the native runner (native/runner.c) and the emulator
// side (emu.ts), and the scratch-buffer initial contents. Test-only; imports nothing from src/.

/** Case code is placed here (4 KiB page). */
export const CODE = 0x400000;
export const CODE_SIZE = 0x1000;
/** Scratch data buffer (64 KiB): memory operands point into [DATA+0x800, DATA+0x8000); the stack is above. */
export const DATA = 0x600000;
export const DATA_SIZE = 0x10000;
/** Initial RSP (inside the scratch buffer; pushes/pops of a case stay within DATA+0xB000..DATA+0xD000). */
export const STACK_INIT = DATA + 0xc000;

/** Arithmetic flag bits. */
export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
export const ARITH = CF | PF | AF | ZF | SF | OF;

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
