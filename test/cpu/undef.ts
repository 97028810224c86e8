// What the Intel SDM (Vol. 2, each instruction's "Flags Affected") and the AMD APM (Vol. 3, "rFLAGS
// Affected") leave undefined, per instruction form: the one declaration that the per-family host tests
// (test/cpu/*.test.ts) and the difference-test generator (test/difftest/gen.ts) mask. CPUs differ there
// (Intel and AMD set MUL's SF/ZF/AF/PF differently, SHLD's OF and AF too), so a test comparing them passes
// only on the CPU it was written on. The emulator computes fixed values (README "Flags the SDM leaves
// undefined") and never reads this table or the host. Test-only; imports nothing.

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
export const ARITH = CF | PF | AF | ZF | SF | OF;

/** Flag effect of one instruction: `def` written with a defined value, `undef` left undefined; others kept. */
export interface FlagEffect { def: number; undef: number }

/** Fixed effects by family (operand size and count do not matter). */
export const EFFECT = {
  /** ADD ADC SUB SBB CMP NEG XADD CMPXCHG, CMPS/SCAS that execute at least once */
  arith: { def: ARITH, undef: 0 },
  /** AND OR XOR TEST: CF = OF = 0, SF ZF PF by the result */
  logic: { def: CF | OF | SF | ZF | PF, undef: AF },
  /** INC DEC (CF kept) */
  incdec: { def: ARITH & ~CF, undef: 0 },
  /** MUL and IMUL, every form: CF = OF = (high half significant) */
  mul: { def: CF | OF, undef: SF | ZF | AF | PF },
  /** DIV IDIV (on completion; a #DE leaves the flags as they were) */
  div: { def: 0, undef: ARITH },
  /** BT BTS BTR BTC: CF = the bit; ZF kept */
  bt: { def: CF, undef: OF | SF | AF | PF },
  /** BSF BSR with a nonzero source (a zero source also leaves the destination undefined) */
  bsf: { def: ZF, undef: CF | OF | SF | AF | PF },
  /** NOT, MOV and every form that writes no flag */
  none: { def: 0, undef: 0 },
} satisfies Record<string, FlagEffect>;

export type ShiftOp = 'rol' | 'ror' | 'rcl' | 'rcr' | 'shl' | 'sal' | 'shr' | 'sar';

/**
 * Group 2 (C0/C1/D0-D3) flag effect. `count` is the instruction's count byte (imm8, 1, or CL when known),
 * null when unknown (CL forms of the difference test: it may be 0, then nothing changes). The count is
 * masked to 5 bits (6 with REX.W); a masked count of 0 changes no flag (defined).
 * Rotates: CF defined, OF only for a masked count of 1. Shifts: CF SF ZF PF defined, OF only for 1, AF
 * undefined; SHL/SHR also leave CF undefined when the masked count >= the operand width (8/16-bit).
 */
export function shiftEffect(op: ShiftOp, size: number, count: number | null): FlagEffect {
  const rot = op[0] === 'r';
  const wideCf = (op === 'shl' || op === 'sal' || op === 'shr') && size <= 2;
  if (count === null) return { def: 0, undef: rot ? OF : OF | AF | (wideCf ? CF : 0) };
  const c = count & (size === 8 ? 63 : 31);
  if (c === 0) return EFFECT.none;
  if (rot) return { def: CF | (c === 1 ? OF : 0), undef: c === 1 ? 0 : OF };
  const cfUndef = wideCf && c >= size * 8 ? CF : 0;
  return { def: ((CF | SF | ZF | PF | (c === 1 ? OF : 0)) & ~cfUndef), undef: AF | (c === 1 ? 0 : OF) | cfUndef };
}

/**
 * SHLD/SHRD flag effect, and whether the destination itself is undefined: a masked count greater than the
 * operand width (16-bit forms, counts 17-31) leaves the result and all flags undefined.
 */
export function shxdEffect(size: number, count: number | null): FlagEffect & { resultUndef: boolean } {
  if (count === null) { // CL unknown: it may be 0 (nothing changes)
    if (size === 2) throw new Error('shxdEffect: a 16-bit count must be known (above 16 the result is undefined)');
    return { def: 0, undef: OF | AF, resultUndef: false };
  }
  const c = count & (size === 8 ? 63 : 31);
  if (c === 0) return { ...EFFECT.none, resultUndef: false };
  if (c > size * 8) return { def: 0, undef: ARITH, resultUndef: true };
  return { def: CF | SF | ZF | PF | (c === 1 ? OF : 0), undef: AF | (c === 1 ? 0 : OF), resultUndef: false };
}

/** Flags compared after an instruction with effect e, starting from `undef` (the flags already undefined). */
export function afterEffect(undef: number, e: FlagEffect): number { return (undef & ~(e.def | e.undef)) | e.undef; }

/**
 * Not a flag, but the same kind of vendor difference: a REP string instruction with a 0x67 prefix and ECX = 0
 * performs no iteration, and both manuals' pseudo-code then write nothing (AMD does so; the emulator too).
 * Intel CPUs zero bits 63:32 of RCX (MOVS/STOS also of RSI/RDI) anyway. Those bits are masked there.
 */
export const REP32_ZERO_COUNT_UPPER = [1, 6, 7];

/**
 * x87 FYL2XP1 is defined only for |ST(0)| < 1 - sqrt(2)/2 (SDM Vol. 2A "FYL2XP1": "the source operand in ST(0)
 * must be in the range ±(1 - sqrt(2)/2); outside it the result is undefined"; NaN operands propagate as usual).
 * `se` is the sign/exponent word, `sig` the 64-bit significand of ST(0).
 */
export function fyl2xp1Defined(se: number, sig: bigint): boolean {
  const e = se & 0x7fff;
  if (e === 0x7fff) return sig !== 1n << 63n; // NaN: defined; infinity: not
  return e < 16381 || (e === 16381 && sig <= 0x95f619980c4336f7n); // floor((1 - sqrt(2)/2) * 2^65)
}
