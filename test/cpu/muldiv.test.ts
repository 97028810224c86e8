// MUL/IMUL/DIV/IDIV (F6/F7), IMUL Gv,Ev(,Iz/Ib), TEST/NOT/NEG group-3 rows, against the host CPU.
import { describe, it, expect } from 'vitest';
import { compareAll, rnd, rnd32, rnd64, rndFlags, setSeed, DATA, type Case } from './hostrun.js';
import { EFFECT } from './undef.js';

/** Group 3 (F6/F7) /0-/7: TEST TEST NOT NEG MUL IMUL DIV IDIV. */
const GROUP3 = [EFFECT.logic, EFFECT.logic, EFFECT.none, EFFECT.arith, EFFECT.mul, EFFECT.mul, EFFECT.div, EFFECT.div];

const h2 = (b: number) => b.toString(16).padStart(2, '0');
const pfx = (sz: number) => (sz === 2 ? '66' : sz === 8 ? '48' : '');
const M64 = (1n << 64n) - 1n;

function regs(): bigint[] {
  const r: bigint[] = [];
  for (let k = 0; k < 16; k++) r.push(rnd64());
  r[7] = BigInt(DATA + rnd(64) * 8);
  return r;
}

function report(bad: string[]): void {
  if (bad.length) console.log('BAD ' + bad.length + '\n' + bad.slice(0, 40).join('\n'));
  expect(bad.slice(0, 10)).toEqual([]);
}

describe('mul/div vs host', () => {
  it('group 3 rows, all sizes', () => {
    setSeed(7);
    const cases: Case[] = [];
    for (const sz of [1, 2, 4, 8]) {
      for (let sub = 0; sub < 8; sub++) {
        for (let n = 0; n < 150; n++) {
          const mem = rnd(4) === 0;
          const modrm = mem ? (sub << 3) | 7 : 0xc0 | (sub << 3) | (rnd(3) === 0 ? 7 : 3);
          let imm = '';
          if (sub <= 1) imm = sz === 1 ? h2(rnd(256)) : sz === 2 ? h2(rnd(256)) + h2(rnd(256)) : h2(rnd(256)) + h2(rnd(256)) + h2(rnd(256)) + h2(rnd(256));
          const r = regs();
          if (sub >= 6) {
            // make most divisions legal: small high half of the dividend relative to the divisor
            const k = rnd(5);
            if (k === 0) r[2] = 0n;
            else if (k === 1) r[2] = r[3] >> BigInt(1 + rnd(63));
            else if (k === 2) r[2] = (r[0] >> 63n) ? M64 : 0n; // sign extension of RAX
            else if (k === 3) { r[3] = BigInt(rnd32()); r[2] = BigInt(rnd32() % Number(r[3] || 1n)); }
          }
          if (rnd(8) === 0) r[3] = 0n; // divide by zero sometimes
          cases.push({ code: pfx(sz) + (sz === 1 ? 'f6' : 'f7') + h2(modrm) + imm, regs: r, flags: rndFlags(), seed: rnd32(), undefFlags: GROUP3[sub].undef });
        }
      }
    }
    // IDIV edge cases: INT_MIN / -1 and the largest negative quotient
    for (const sz of [1, 2, 4, 8]) {
      const bits = BigInt(sz * 8);
      const min = 1n << (bits - 1n);
      const r = regs();
      r[0] = min; r[2] = sz === 1 ? 0n : M64; r[3] = M64;
      if (sz === 1) r[0] = 0xff80n;
      const u = EFFECT.div.undef;
      cases.push({ code: pfx(sz) + (sz === 1 ? 'f6fb' : 'f7fb'), regs: r.slice(), flags: 0, seed: 1, undefFlags: u });
      r[3] = 1n; cases.push({ code: pfx(sz) + (sz === 1 ? 'f6fb' : 'f7fb'), regs: r.slice(), flags: 0, seed: 1, undefFlags: u });
      r[3] = 2n; cases.push({ code: pfx(sz) + (sz === 1 ? 'f6fb' : 'f7fb'), regs: r.slice(), flags: 0, seed: 1, undefFlags: u });
    }
    report(compareAll(cases));
  });

  it('IMUL Gv,Ev / Gv,Ev,Iz / Gv,Ev,Ib', () => {
    setSeed(8);
    const cases: Case[] = [];
    for (const sz of [2, 4, 8]) {
      for (const form of ['0faf', '69', '6b']) {
        for (let n = 0; n < 200; n++) {
          const mem = rnd(4) === 0;
          const modrm = mem ? (2 << 3) | 7 : 0xc0 | (2 << 3) | 3;
          const imm = form === '6b' ? h2(rnd(256)) : form === '69' ? (sz === 2 ? h2(rnd(256)) + h2(rnd(256)) : h2(rnd(256)) + h2(rnd(256)) + h2(rnd(256)) + h2(rnd(256))) : '';
          cases.push({ code: pfx(sz) + form + h2(modrm) + imm, regs: regs(), flags: rndFlags(), seed: rnd32(), undefFlags: EFFECT.mul.undef });
        }
      }
    }
    report(compareAll(cases));
  });
});
