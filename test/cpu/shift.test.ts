// Group 2 shifts/rotates and SHLD/SHRD against the host CPU (test/cpu/native/runner.c), all sizes,
// register and memory destinations, counts by 1, imm8 and CL (including 0, counts above the operand size).
import { describe, it, expect } from 'vitest';
import { compareAll, rnd, rnd32, rnd64, rndFlags, setSeed, DATA, type Case } from './hostrun.js';
import { shiftEffect, shxdEffect, type ShiftOp } from './undef.js';

/** Group 2 /0-/7 (/6 is the undocumented alias of SAL). */
const GROUP2: ShiftOp[] = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];

const h2 = (b: number) => b.toString(16).padStart(2, '0');
/** prefix bytes for an operand size */
const pfx = (sz: number) => (sz === 2 ? '66' : sz === 8 ? '48' : '');

function regsWith(cl: number): bigint[] {
  const r: bigint[] = [];
  for (let k = 0; k < 16; k++) r.push(rnd64());
  r[1] = (r[1] & ~0xffn) | BigInt(cl);
  r[7] = BigInt(DATA + rnd(64) * 8); // RDI -> data buffer
  return r;
}

function count(): number {
  const x = rnd(10);
  if (x === 0) return 0;
  if (x < 3) return rnd(256);
  if (x < 5) return [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64][rnd(12)];
  return rnd(66);
}

describe('shift/rotate vs host', () => {
  it('group 2, all sizes/forms', () => {
    setSeed(1234);
    const cases: Case[] = [];
    for (const sz of [1, 2, 4, 8]) {
      for (let sub = 0; sub < 8; sub++) {
        for (let n = 0; n < 60; n++) {
          const form = n % 3; // 0: by 1, 1: imm8, 2: CL
          const mem = rnd(4) === 0;
          const modrm = mem ? (sub << 3) | 7 : 0xc0 | (sub << 3) | (rnd(3) === 0 ? 7 : 3); // [rdi], BL/RBX or BH/RDI
          const op = (form === 0 ? 0xd0 : form === 1 ? 0xc0 : 0xd2) + (sz === 1 ? 0 : 1);
          const cnt = count();
          const code = pfx(sz) + h2(op) + h2(modrm) + (form === 1 ? h2(cnt & 0xff) : '');
          const undefFlags = shiftEffect(GROUP2[sub], sz, form === 0 ? 1 : cnt & 0xff).undef;
          cases.push({ code, regs: regsWith(form === 2 ? cnt & 0xff : rnd32() & 0xff), flags: rndFlags() | (rnd(2) ? 0x8d5 : 0), seed: rnd32(), undefFlags });
        }
      }
    }
    const bad = compareAll(cases);
    if (bad.length) console.log("BAD " + bad.length + "\n" + bad.join("\n"));
    expect(bad.slice(0, 10)).toEqual([]);
  });

  it('SHLD/SHRD, all sizes, imm8 and CL', () => {
    setSeed(99);
    const cases: Case[] = [];
    for (const sz of [2, 4, 8]) {
      for (const op of [0xa4, 0xa5, 0xac, 0xad]) {
        for (let n = 0; n < 120; n++) {
          const mem = rnd(4) === 0;
          const src = rnd(2) ? 2 : 3;
          const modrm = mem ? (src << 3) | 7 : 0xc0 | (src << 3) | 3; // E = [rdi] or RBX, G = RDX or RBX (same)
          const cnt = count();
          const imm = (op & 1) === 0;
          const code = pfx(sz) + '0f' + h2(op) + h2(modrm) + (imm ? h2(cnt & 0xff) : '');
          const regs = regsWith(imm ? rnd32() & 0xff : cnt & 0xff);
          const e = shxdEffect(sz, cnt & 0xff);
          const cs: Case = { code, regs, flags: rndFlags(), seed: rnd32(), undefFlags: e.undef };
          if (e.resultUndef) { // the destination (low `sz` bytes of RBX or [RDI]) is undefined
            if (mem) cs.undefMem = [Number(regs[7]) - DATA, sz];
            else cs.undefRegBits = [[3, (1n << BigInt(sz * 8)) - 1n]];
          }
          cases.push(cs);
        }
      }
    }
    const bad = compareAll(cases);
    if (bad.length) console.log("BAD " + bad.length + "\n" + bad.join("\n"));
    expect(bad.slice(0, 10)).toEqual([]);
  });
});
