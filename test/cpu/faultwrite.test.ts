// A faulting memory destination leaves all state unchanged (issue 11): every memory-destination form with its
// operand on a read-only page (the load succeeds, only the store may fault) and on a not-present page, against
// the host CPU (test/cpu/native/runner.c: the same bytes on an mprotect'ed page, state from the signal context).
// Compared: GPRs, arithmetic flags + DF, the fault vector, the #PF error code's P and W bits, every data byte.
import { describe, it, expect } from 'vitest';
import { compareAll, rnd, rnd32, rnd64, rndFlags, setSeed, DATA, type Case } from './hostrun.js';

const h2 = (b: number) => b.toString(16).padStart(2, '0');
const pfx = (sz: number) => (sz === 2 ? '66' : sz === 8 ? '48' : '');
const imm = (n: number) => { let s = ''; for (let k = 0; k < n; k++) s += h2(rnd(256)); return s; };

/** Memory-destination forms as [name, hex bytes] with the operand [RDI] (modrm mod 00, rm 111). */
function forms(): [string, string][] {
  const f: [string, string][] = [];
  const m = (reg: number) => h2((reg << 3) | 7);
  for (const sz of [1, 2, 4, 8]) {
    const b = sz === 1 ? 0 : 1, p = pfx(sz), iz = sz === 1 ? 1 : sz === 2 ? 2 : 4;
    for (let op = 0; op < 8; op++) {
      f.push([`alu${op} E,G/${sz}`, p + h2(op * 8 + b) + m(2)]);
      f.push([`grp1/${op} E,I/${sz}`, p + h2(0x80 + b) + m(op) + imm(iz)]);
      if (sz > 1) f.push([`grp1/${op} E,Ib/${sz}`, p + '83' + m(op) + imm(1)]);
      f.push([`grp2/${op} E,1/${sz}`, p + h2(0xd0 + b) + m(op)]);
      f.push([`grp2/${op} E,Ib/${sz}`, p + h2(0xc0 + b) + m(op) + h2(rnd(3) === 0 ? 0 : rnd(40))]);
      f.push([`grp2/${op} E,CL/${sz}`, p + h2(0xd2 + b) + m(op)]);
    }
    f.push([`inc/${sz}`, p + h2(0xfe + b) + m(0)], [`dec/${sz}`, p + h2(0xfe + b) + m(1)]);
    f.push([`not/${sz}`, p + h2(0xf6 + b) + m(2)], [`neg/${sz}`, p + h2(0xf6 + b) + m(3)]);
    f.push([`test/${sz}`, p + h2(0x84 + b) + m(2)]);
    f.push([`xchg/${sz}`, p + h2(0x86 + b) + m(2)], [`mov E,G/${sz}`, p + h2(0x88 + b) + m(2)]);
    f.push([`mov E,I/${sz}`, p + h2(0xc6 + b) + m(0) + imm(iz)]);
    f.push([`xadd/${sz}`, p + '0f' + h2(0xc0 + b) + m(2)], [`cmpxchg/${sz}`, p + '0f' + h2(0xb0 + b) + m(2)]);
    f.push([`stos/${sz}`, p + h2(0xaa + b)], [`movs/${sz}`, p + h2(0xa4 + b)], [`rep stos/${sz}`, 'f3' + p + h2(0xaa + b)]);
    if (sz > 1) {
      for (const [n, o] of [['bt', 0xa3], ['bts', 0xab], ['btr', 0xb3], ['btc', 0xbb]] as [string, number][]) f.push([`${n} E,G/${sz}`, p + '0f' + h2(o) + m(2)]);
      for (let s = 4; s < 8; s++) f.push([`bt/${s} E,Ib/${sz}`, p + '0fba' + m(s) + h2(rnd(256))]);
      f.push([`shld Ib/${sz}`, p + '0fa4' + m(2) + h2(rnd(40))], [`shld CL/${sz}`, p + '0fa5' + m(2)]);
      f.push([`shrd Ib/${sz}`, p + '0fac' + m(2) + h2(rnd(40))], [`shrd CL/${sz}`, p + '0fad' + m(2)]);
    }
  }
  for (let cc = 0; cc < 16; cc++) f.push([`set${cc}`, '0f' + h2(0x90 + cc) + m(0)]);
  f.push(['cmpxchg8b', '0fc70f'], ['movups store', '0f1107'], ['movq store', '660fd607'], ['movd store', '660f7e07']);
  f.push(['fst m32', 'd917'], ['fstp m64', 'dd1f'], ['fistp m16', 'df1f'], ['fstp m80', 'db3f'], ['fnstcw', 'd93f'], ['fnstsw', 'dd3f']);
  return f;
}

describe('a faulting memory destination leaves all state unchanged (host CPU, mprotect)', () => {
  it('every memory-destination form on a read-only and on a not-present page', () => {
    setSeed(0xfa17);
    const cases: Case[] = [];
    for (const [name, code] of forms()) {
      for (const prot of [1, 2] as const) {
        for (let n = 0; n < 3; n++) {
          const regs: bigint[] = [];
          for (let k = 0; k < 16; k++) regs.push(rnd64());
          regs[7] = BigInt(DATA + 8 * rnd(500)); // RDI: the operand, 8-aligned (CMPXCHG8B, MOVS/STOS too)
          regs[6] = BigInt(DATA + 8 * rnd(500)); // RSI: the MOVS source (on the protected page as well)
          regs[1] = BigInt(rnd(4) === 0 ? 0 : rnd(40)); // CL / RCX: counts, sometimes 0
          if (name.startsWith('bt')) regs[2] = BigInt(rnd(64)); // a register bit offset within the page
          cases.push({ code, regs, flags: rndFlags() | (rnd32() & 1 ? 0x400 : 0), seed: rnd32(), prot, note: `${name} prot=${prot}` });
        }
      }
    }
    const bad = compareAll(cases);
    if (bad.length) console.log('BAD ' + bad.length + '\n' + bad.slice(0, 30).join('\n'));
    expect(bad.slice(0, 10)).toEqual([]);
    expect(cases.length).toBeGreaterThan(1500);
  });
});
