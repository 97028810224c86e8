// BT/BTS/BTR/BTC (register, memory bit-base, imm8), BSF/BSR (and F3-prefixed = BSF/BSR here), XADD,
// CMPXCHG against the host CPU.
import { describe, it, expect } from 'vitest';
import { compareAll, hostRun, rnd, rnd32, rnd64, rndFlags, setSeed, DATA, Emu, type Case } from './hostrun.js';

const h2 = (b: number) => b.toString(16).padStart(2, '0');
const pfx = (sz: number) => (sz === 2 ? '66' : sz === 8 ? '48' : '');

function regs(): bigint[] {
  const r: bigint[] = [];
  for (let k = 0; k < 16; k++) r.push(rnd64());
  r[7] = BigInt(DATA + 1024 + rnd(256) * 8);
  return r;
}
function report(bad: string[]): void {
  if (bad.length) console.log('BAD ' + bad.length + '\n' + bad.slice(0, 20).join('\n'));
  expect(bad.slice(0, 10)).toEqual([]);
}

describe('bit ops vs host', () => {
  it('BT/BTS/BTR/BTC reg, mem (signed bit base), imm8', () => {
    setSeed(11);
    const cases: Case[] = [];
    for (const sz of [2, 4, 8]) {
      for (const op of [0xa3, 0xab, 0xb3, 0xbb, 0xba]) {
        for (let n = 0; n < 80; n++) {
          const mem = rnd(2) === 0;
          const sub = op === 0xba ? 4 + rnd(4) : 2;
          const modrm = mem ? (sub << 3) | 7 : 0xc0 | (sub << 3) | 3;
          const r = regs();
          // memory bit offsets within +-8000 bits so the access stays in the buffer
          if (mem && op !== 0xba) r[2] = BigInt.asUintN(64, BigInt(rnd(16000) - 8000));
          cases.push({ code: pfx(sz) + '0f' + h2(op) + h2(modrm) + (op === 0xba ? h2(rnd(256)) : ''), regs: r, flags: rndFlags(), seed: rnd32() });
        }
      }
    }
    report(compareAll(cases));
  });

  it('BSF/BSR (zero and non-zero sources), and F3 0F BC/BD behave as BSF/BSR', () => {
    setSeed(12);
    const cases: Case[] = [];
    for (const sz of [2, 4, 8]) {
      for (const op of [0xbc, 0xbd]) {
        for (let n = 0; n < 100; n++) {
          const mem = rnd(4) === 0;
          const modrm = mem ? (2 << 3) | 7 : 0xc0 | (2 << 3) | 3;
          const r = regs();
          if (rnd(4) === 0) r[3] = 0n;
          else if (rnd(3) === 0) r[3] = 1n << BigInt(rnd(64));
          cases.push({ code: pfx(sz) + '0f' + h2(op) + h2(modrm), regs: r, flags: rndFlags(), seed: rnd(4) === 0 ? 0 : rnd32() });
        }
      }
    }
    report(compareAll(cases));
    // the F3 forms: the emulator must give the BSF/BSR result (the host itself would run TZCNT/LZCNT)
    const host = hostRun(cases);
    const e = new Emu();
    const bad: string[] = [];
    cases.forEach((c, k) => {
      const got = e.run({ ...c, code: c.code.replace(/(66|48)?0f/, (m) => (m.startsWith('66') ? '66f3' : m.startsWith('48') ? 'f348' : 'f3') + '0f') });
      if (got.regs.some((v, r) => r !== 4 && v !== host[k].regs[r]) || ((got.flags ^ host[k].flags) & 0x40)) bad.push(c.code);
    });
    expect(bad).toEqual([]);
  });

  it('XADD and CMPXCHG, all sizes, reg and mem, equal and not equal', () => {
    setSeed(13);
    const cases: Case[] = [];
    for (const sz of [1, 2, 4, 8]) {
      for (const op of [0xc0, 0xb0]) {
        for (let n = 0; n < 100; n++) {
          const mem = rnd(3) === 0;
          const reg = [2, 3, 0][rnd(3)];
          const modrm = mem ? (reg << 3) | 7 : 0xc0 | (reg << 3) | (rnd(2) ? 3 : 6);
          const r = regs();
          if (op === 0xb0 && rnd(2)) { if (mem) r[0] = 0n; else r[0] = r[(modrm & 7)]; }
          cases.push({ code: pfx(sz) + '0f' + h2(op + (sz === 1 ? 0 : 1)) + h2(modrm), regs: r, flags: rndFlags(), seed: mem && op === 0xb0 && rnd(2) ? 0 : rnd32() });
        }
      }
    }
    report(compareAll(cases));
  });
});
