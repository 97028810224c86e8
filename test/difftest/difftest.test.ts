// Difference test: random integer instruction sequences run on the host CPU and in the emulator, compared
// register by register, flag by flag (defined flags only) and byte by byte over the scratch buffer.
// DIFFTEST_SEED=<n|random> and DIFFTEST_COUNT=<n> override the defaults; the seed is printed.
import { describe, expect, it } from 'vitest';
import { assemble } from './asm.js';
import { compare, formatMismatch } from './compare.js';
import { generateCase, makeCase } from './gen.js';
import { DATA, STACK_INIT, fillScratch, defaultFx } from './layout.js';
import { runNative } from './native.js';
import { runEmu } from './emu.js';
import { culprit, runDifftest } from './run.js';

const envSeed = process.env.DIFFTEST_SEED;
const SEED = envSeed === 'random' ? (Math.random() * 2 ** 31) >>> 0 : envSeed ? Number(envSeed) >>> 0 : 0x5eed;
const COUNT = Number(process.env.DIFFTEST_COUNT ?? 3000);
/** FP cases (SSE/SSE2/x87, gen.ts `fp`), run in addition to the COUNT integer ones. */
const FP_COUNT = Number(process.env.DIFFTEST_FP_COUNT ?? 2000);
/**
 * Generator forms with an open emulator bug, left out of the main runs (each gets an `it.fails` below that checks
 * it; when the bug is fixed that test starts failing: remove the entry and the test). None open now.
 */
const OPEN_BUGS: string[] = [];

const regs0 = (): bigint[] => Array.from({ length: 16 }, (_, n) => (n === 4 ? BigInt(STACK_INIT) : BigInt(n) * 0x1111111111111111n));

describe('difftest harness (native side)', () => {
  it('generates the same case from the same (seed, index)', async () => {
    const a = assemble([generateCase(42, 17)]).ok[0], b = assemble([generateCase(42, 17)]).ok[0];
    expect(a.source).toBe(b.source);
    expect(Buffer.from(a.code).equals(Buffer.from(b.code))).toBe(true);
    expect(a.source).not.toBe(assemble([generateCase(43, 17)]).ok[0].source);
  });

  it('an empty-ish case returns the initial registers and a memory store is seen', async () => {
    const c = makeCase(['mov QWORD PTR ds:' + (DATA + 0x100) + ', rdx', 'stc'], regs0(), 0x2);
    const [a] = assemble([c]).ok;
    const [s] = await runNative([a]);
    expect(s.status).toBe('end');
    for (let n = 0; n < 16; n++) {
      expect(BigInt(s.regs[2 * n]) | (BigInt(s.regs[2 * n + 1]) << 32n)).toBe(c.regs[n]);
    }
    expect(s.rflags & 0x8d5).toBe(1);
    const init = new Uint8Array(0x10000);
    fillScratch(c.fillSeed, init);
    for (let o = 0x100; o < 0x108; o++) expect(s.mem.get(o) ?? init[o]).toBe(0x22);
    expect([...s.mem.keys()].every((o) => o >= 0x100 && o < 0x108)).toBe(true);
  });

  it('a divide error is reported as #DE with the faulting RIP and the registers at the fault', async () => {
    const c = makeCase(['mov eax, 7', 'xor edx, edx', 'xor ecx, ecx', 'div ecx', 'mov eax, 9'], regs0());
    const [a] = assemble([c]).ok;
    const [s] = await runNative([a]);
    expect(s.status).toBe('fault');
    expect(s.vector).toBe(0);
    expect(s.ripOff).toBe(a.offsets[3]);
    expect(s.regs[0]).toBe(7);
  });

  it('the comparison notices a wrong register, a wrong defined flag and a wrong memory byte', async () => {
    const [a] = assemble([makeCase(['add eax, ecx', 'mov DWORD PTR ds:' + (DATA + 0x200) + ', eax'], regs0())]).ok;
    const [s] = await runNative([a]);
    expect(compare(a, s, { ...s })).toBeNull();
    const r = s.regs.slice(); r[2] ^= 1;
    expect(compare(a, s, { ...s, regs: r })?.reasons).toEqual(['register rcx']);
    expect(compare(a, s, { ...s, rflags: s.rflags ^ 0x40 })?.reasons).toEqual(['flags ZF']);
    const m = new Map(s.mem); m.set(0x200, (m.get(0x200)! + 1) & 0xff);
    expect(compare(a, s, { ...s, mem: m })?.reasons).toEqual(['memory (1 bytes)']);
  });

  it('the FP state is loaded before the case and saved after it (also at a fault)', async () => {
    const fx = defaultFx();
    const dv = new DataView(fx.buffer);
    dv.setUint32(24, 0x1f80 | 0x6000, true); // MXCSR: round toward zero
    dv.setUint32(160 + 16 * 2, 0x3f800000, true); // xmm2 = 1.0f
    const c = { ...makeCase(['addss xmm2, xmm2', 'fld1', 'fldpi', 'ud2'], regs0()), fx };
    const [a] = assemble([c]).ok;
    const [s] = await runNative([a]);
    expect(s.status).toBe('fault');
    const o = new DataView(s.fx.buffer, s.fx.byteOffset);
    expect(o.getUint32(24, true) & 0xffff).toBe(0x7f80);
    expect(o.getUint32(160 + 16 * 2, true)).toBe(0x40000000);
    expect((o.getUint16(2, true) >> 11) & 7).toBe(6); // TOP after two pushes
    expect(s.fx[4]).toBe(0xc0);
    expect(o.getUint16(40, true)).toBe(0x4000); // ST0 = pi (exponent 1)
    expect(o.getUint16(40 + 16, true)).toBe(0x3fff); // ST1 = 1
    expect(compare(a, s, runEmu(a))).toBeNull();
    const x = s.fx.slice(); x[160 + 16 * 5] ^= 1;
    expect(compare(a, s, { ...s, fx: x })?.reasons).toEqual(['fp xmm5']);
    const y = s.fx.slice(); y[2] ^= 2; y[32 + 16] ^= 1; y[32 + 16 * 4] ^= 1; // FSW.DE, ST1, and the empty ST4
    expect(compare(a, s, { ...s, fx: y })?.reasons).toEqual(['fp fsw st1']);
  });

  it('an undefined flag is not compared (AF after AND)', async () => {
    const [a] = assemble([makeCase(['and eax, ecx'], regs0())].map((c) => ({ ...c, undefEnd: 0x10 }))).ok;
    const [s] = await runNative([a]);
    expect(compare(a, s, { ...s, rflags: s.rflags ^ 0x10 })).toBeNull();
  });
});

describe('difftest: host CPU vs emulator', () => {
  it('runs a hand-written case in the emulator with the native result', async () => {
    const [a] = assemble([makeCase(['mov rax, -1', 'add al, 1', 'adc ah, 0', 'push rax', 'pop rbx'], regs0())]).ok;
    const [s] = await runNative([a]);
    expect(compare(a, s, runEmu(a))).toBeNull();
  });

  it(`${COUNT} random sequences agree (seed ${SEED}; DIFFTEST_SEED to override)`, async () => {
    console.log(`difftest seed ${SEED}, ${COUNT} cases (reproduce one: npm run difftest -- --seed ${SEED} --case N${OPEN_BUGS.length ? ` --exclude ${OPEN_BUGS.join(',')}` : ''})`);
    const r = await runDifftest({ seed: SEED, count: COUNT, maxMismatches: 5, exclude: OPEN_BUGS });
    console.log(`difftest: compared ${r.compared}, dropped ${r.dropped.length}, native exceptions ${[...r.nativeFaults].map(([v, n]) => `#${v}:${n}`).join(' ') || 'none'}, mismatches ${r.mismatchCount}`);
    expect(r.dropped.length).toBeLessThan(COUNT / 100);
    // memory operands on the read-only / no-access pages: page faults compared (state at the fault) in >= 1% of cases
    expect(r.nativeFaults.get(14) ?? 0).toBeGreaterThan(COUNT / 100);
    if (r.mismatchCount) {
      const summary = [...r.byMnemonic].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${n} ${k}`).join(', ');
      const reports = r.mismatches.map((m) => `[${culprit(m)}]\n${formatMismatch(m)}`).join('\n\n');
      expect.fail(`${r.mismatchCount} of ${r.compared} cases differ (seed ${SEED}): ${summary}\n\n${reports}`);
    }
  });

  it(`${FP_COUNT} random SSE/SSE2/x87 sequences agree (seed ${SEED})`, async () => {
    console.log(`difftest FP: seed ${SEED}, ${FP_COUNT} cases (reproduce one: npm run difftest -- --fp --seed ${SEED} --case N${OPEN_BUGS.length ? ` --exclude ${OPEN_BUGS.join(',')}` : ''})`);
    const r = await runDifftest({ seed: SEED, count: FP_COUNT, fp: true, maxMismatches: 5, exclude: OPEN_BUGS });
    console.log(`difftest FP: compared ${r.compared}, dropped ${r.dropped.length}, native exceptions ${[...r.nativeFaults].map(([v, n]) => `#${v}:${n}`).join(' ') || 'none'}, mismatches ${r.mismatchCount}`);
    expect(r.dropped.length).toBeLessThan(FP_COUNT / 100);
    if (r.mismatchCount) {
      const summary = [...r.byMnemonic].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${n} ${k}`).join(', ');
      const reports = r.mismatches.map((m) => `[${culprit(m)}]\n${formatMismatch(m)}`).join('\n\n');
      expect.fail(`${r.mismatchCount} of ${r.compared} FP cases differ (seed ${SEED}): ${summary}\n\n${reports}`);
    }
  });

  // found by this test and fixed: a NaN in ST0 wins over a denormal memory operand
  it('x87 arithmetic with a denormal m32/m64 operand and a NaN in ST0 leaves FSW.DE clear as on the host', async () => {
    const den = ['mov DWORD PTR ds:' + (DATA + 0x100) + ', 1', 'mov DWORD PTR ds:' + (DATA + 0x104) + ', 0'];
    for (const op of ['fadd QWORD PTR', 'fmul DWORD PTR', 'fdivr QWORD PTR']) {
      const [a] = assemble([makeCase([...den, 'fld1', 'fchs', 'fsqrt', `${op} ds:${DATA + 0x100}`], regs0())]).ok;
      const [s] = await runNative([a]);
      expect(compare(a, s, runEmu(a))).toBeNull();
    }
    // and a divide by zero wins over it too: denormal / -0 sets ZE but no DE (seed 778, case 5585)
    for (const op of ['fdivr DWORD PTR', 'fdivr QWORD PTR']) {
      const [a] = assemble([makeCase([...den, 'fldz', 'fchs', `${op} ds:${DATA + 0x100}`], regs0())]).ok;
      const [s] = await runNative([a]);
      expect(compare(a, s, runEmu(a))).toBeNull();
    }
    const others = ['sse-mov', 'sse-arith', 'sse-cmp', 'sse-comi', 'sse-cvt', 'sse-logic', 'sse-shuf', 'sse-int', 'sse-shift', 'mxcsr', 'x87-st', 'x87-arith', 'x87-cmp', 'x87-ctl'];
    const r = await runDifftest({ seed: SEED, count: 300, fp: true, exclude: others, maxMismatches: 1, localize: 0 });
    expect(r.compared).toBeGreaterThan(200);
    expect(r.mismatchCount).toBe(0);
  });

  it('LOCK on a non-lockable form or a register destination raises #UD as on the host', async () => {
    const r = await runDifftest({ seed: SEED, count: 200, filter: 'lock-ud', maxMismatches: 1, localize: 0 });
    expect(r.compared).toBeGreaterThan(100);
    expect(r.mismatchCount).toBe(0);
  });
});
