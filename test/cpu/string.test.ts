// String instructions against the host CPU (REP/REPE/REPNE, DF, sizes, 0x67), plus the instruction-count
// rule (budget splits, faults mid-way), the bulk fast path and self-modifying REP STOS.
import { describe, it, expect } from 'vitest';
import { compareAll, rnd, rnd32, rnd64, setSeed, DATA, Emu, type Case } from './hostrun.js';
import { REP32_ZERO_COUNT_UPPER } from './undef.js';

const h2 = (b: number) => b.toString(16).padStart(2, '0');

function regs(df: boolean, sz: number, cnt: number): bigint[] {
  const r: bigint[] = [];
  for (let k = 0; k < 16; k++) r.push(rnd64());
  const span = (cnt + 1) * sz;
  const lo = df ? span : 0, hi = df ? 4096 - sz : 4096 - span;
  r[6] = BigInt(DATA + lo + rnd(hi - lo));
  r[7] = BigInt(DATA + lo + rnd(hi - lo));
  r[1] = BigInt(cnt);
  return r;
}

function report(bad: string[]): void {
  if (bad.length) console.log('BAD ' + bad.length + '\n' + bad.slice(0, 20).join('\n'));
  expect(bad.slice(0, 10)).toEqual([]);
}

describe('string ops vs host', () => {
  it('MOVS CMPS STOS LODS SCAS, all sizes, REP/REPE/REPNE, DF, 0x67', () => {
    setSeed(5);
    const cases: Case[] = [];
    for (const op of [0xa4, 0xa6, 0xaa, 0xac, 0xae]) {
      for (const sz of [1, 2, 4, 8]) {
        for (let n = 0; n < 40; n++) {
          const rep = ['', 'f3', 'f2'][rnd(3)];
          const df = rnd(3) === 0;
          const cnt = rnd(4) === 0 ? 0 : rnd(5) === 0 ? rnd(400) : rnd(20);
          const r = regs(df, sz, cnt);
          // CMPS/SCAS: make equal runs likely (same seed bytes: point both at the same place or AL match)
          if ((op === 0xa6 || op === 0xae) && rnd(2)) { r[6] = r[7]; r[0] = 0n; }
          const a67 = rnd(5) === 0;
          const code = (a67 ? '67' : '') + (sz === 2 ? '66' : '') + rep + (sz === 8 ? '48' : '') + h2(op + (sz === 1 ? 0 : 1));
          if (a67) { r[1] |= 0xabcd00000000n; r[6] |= 0x1234500000000n; r[7] |= 0x5432100000000n; }
          const cs: Case = { code, regs: r, flags: (rnd32() & 0x8d5) | (df ? 0x400 : 0), seed: rnd32() };
          if (a67 && rep && cnt === 0) cs.undefRegBits = REP32_ZERO_COUNT_UPPER.map((n) => [n, 0xffffffff00000000n]);
          cases.push(cs);
        }
      }
    }
    report(compareAll(cases));
  });

  it('REP MOVS overlapping forward copy (byte replication) and long runs across pages', () => {
    const cases: Case[] = [];
    for (const [d, cnt, sz] of [[1, 300, 1], [3, 500, 1], [8, 100, 8], [4, 200, 8], [-5, 400, 1], [0, 50, 1], [2048, 2000, 1], [1000, 380, 8]]) {
      const r = regs(false, 1, 0);
      r[6] = BigInt(DATA + 16); r[7] = BigInt(DATA + 16 + d); r[1] = BigInt(cnt);
      cases.push({ code: 'f3' + (sz === 8 ? '48a5' : 'a4'), regs: r, flags: 0, seed: 77 });
      r[7] = BigInt(DATA + 100); r[0] = 0x1122334455667788n;
      cases.push({ code: 'f3' + (sz === 8 ? '48ab' : 'aa'), regs: r.slice(), flags: 0, seed: 78 });
    }
    report(compareAll(cases));
  });
});

describe('REP counting, faults, SMC', () => {
  it('a REP instruction is interruptible: budget splits give the same state and count', () => {
    for (const code of ['f3a4', 'f348a5', 'f3aa', 'f348ab', 'f3a6', 'f2ae']) {
      const c: Case = { code, regs: new Array(16).fill(0n), flags: 0, seed: 9 };
      c.regs[6] = BigInt(DATA); c.regs[7] = BigInt(DATA + 2048); c.regs[1] = 37n; c.regs[0] = 0x41n;
      const whole = new Emu();
      const ref = whole.run(c);
      const refCount = whole.cpu.icount;
      for (const b of [1, 2, 3, 5, 8, 13]) {
        const e = new Emu();
        e.load(c);
        let guard = 0;
        while (!e.cpu.halted && guard++ < 1000) {
          const before = e.cpu.icount;
          e.cpu.run(b);
          expect(e.cpu.icount - before).toBeLessThanOrEqual(b);
        }
        const got = e.result();
        expect(got.regs).toEqual(ref.regs);
        expect(got.mem).toEqual(ref.mem);
        expect(e.cpu.icount).toBe(refCount);
      }
    }
  });

  it('counts: RCX=n retires n (+ HLT), RCX=0 retires one', () => {
    const e = new Emu();
    const c: Case = { code: 'f3aa', regs: new Array(16).fill(0n), flags: 0, seed: 1 };
    c.regs[7] = BigInt(DATA); c.regs[1] = 10n;
    e.run(c);
    expect(e.cpu.icount).toBe(11);
    const e2 = new Emu();
    c.regs[1] = 0n;
    e2.run(c);
    expect(e2.cpu.icount).toBe(2);
    const e3 = new Emu();
    c.regs[1] = 1000n;
    e3.load(c);
    e3.cpu.run(400);
    expect(e3.cpu.icount).toBe(400);
    expect(e3.cpu.reg64(1)).toBe(600n);
    expect(e3.cpu.rip).toBe(0x100000);
  });

  it('a REP with a 0x67 prefix and ECX = 0 writes nothing (SDM/APM pseudo-code; Intel CPUs differ, see undef.ts)', () => {
    for (const code of ['67f3a4', '67f3aa', '67f3ac', '67f3a6', '67f2ae', '67f348a5']) {
      const c: Case = { code, regs: new Array(16).fill(0n), flags: 0, seed: 3 };
      c.regs[1] = 0xabcd00000000n; c.regs[6] = 0x1234500700010n; c.regs[7] = 0x5432100700020n;
      const e = new Emu();
      e.run(c);
      expect([e.cpu.reg64(1), e.cpu.reg64(6), e.cpu.reg64(7)]).toEqual([c.regs[1], c.regs[6], c.regs[7]]);
      expect(e.cpu.icount).toBe(2);
    }
  });

  it('a fault mid-way keeps the completed iterations and counts them', () => {
    // STOSB downward from 0x1005 into page 0 (not present): 6 iterations complete, the 7th faults
    const e = new Emu();
    const c: Case = { code: 'f3aa', regs: new Array(16).fill(0n), flags: 0x400, seed: 1 };
    c.regs[7] = 0x1005n; c.regs[1] = 20n; c.regs[0] = 0x5an;
    e.run(c);
    expect(e.cpu.fault?.vector).toBe(14);
    expect(e.cpu.reg64(7)).toBe(0xfffn);
    expect(e.cpu.reg64(1)).toBe(14n);
    expect(e.cpu.icount).toBe(6);
    expect(Array.from(e.mem.u8.subarray(0x1000, 0x1006))).toEqual([0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a]);
  });

  it('REP STOSB over the following instructions (self-modifying code)', () => {
    // rep stosb (AL=0x90, RDI=next insn, RCX=2) turns "mov al,5" into two NOPs
    const e = new Emu();
    const c: Case = { code: 'f3aab005', regs: new Array(16).fill(0n), flags: 0, seed: 1 };
    c.regs[7] = 0x100002n; c.regs[1] = 2n; c.regs[0] = 0x90n;
    e.run(c);
    expect(e.cpu.reg64(0)).toBe(0x90n);
    expect(e.cpu.icount).toBe(2 + 2 + 1);
  });

  it('REP MOVSQ bulk copy of 64 KiB', () => {
    const e = new Emu();
    const c: Case = { code: 'f348a5', regs: new Array(16).fill(0n), flags: 0, seed: 1 };
    c.regs[6] = 0x200000n; c.regs[7] = 0x400000n; c.regs[1] = 8192n;
    for (let k = 0; k < 65536; k++) e.mem.u8[0x200000 + k] = (k * 7) & 0xff;
    e.load(c);
    for (let k = 0; k < 65536; k++) e.mem.u8[0x200000 + k] = (k * 7) & 0xff;
    e.cpu.run(100000);
    expect(e.cpu.icount).toBe(8193);
    expect(Buffer.compare(e.mem.u8.subarray(0x200000, 0x210000), e.mem.u8.subarray(0x400000, 0x410000))).toBe(0);
  });
});
