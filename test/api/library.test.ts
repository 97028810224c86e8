// The library's edge: runtime enums, Error subclasses with codes, argument checks, emuStart's count
// semantics, and the examples in examples/ run as a user would (node, importing the package by name).
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as api from '../../src/index.js';
import { Machine, Reg, Stop, Vec, X86ftError, InvalidArgumentError, GuestFaultError } from '../../src/index.js';

const CODE_AT = 0x100000;

describe('library API', () => {
  it('enums a JavaScript caller needs exist at run time', () => {
    expect(Stop.FAULT).toBe(3);
    expect(Stop[Stop.HALT]).toBe('HALT');
    expect(Vec.PF).toBe(14); // SDM Vol. 3 Table 6-1
    expect(Reg.RAX).toBe(0);
    expect(Reg[Reg.R15]).toBe('R15');
  });

  it('bad arguments are rejected with InvalidArgumentError (code X86FT_INVALID_ARGUMENT)', () => {
    const m = Machine.create({ memSize: 4 << 20 });
    for (const bad of [NaN, -1, 1.5, '10' as unknown as number]) {
      expect(() => m.run(bad)).toThrow(InvalidArgumentError);
    }
    for (const size of [4 * 1024 ** 3, 1 << 20, (4 << 20) + 1, NaN]) {
      let err: unknown;
      try { Machine.create({ memSize: size }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(X86ftError);
      expect((err as X86ftError).code).toBe('X86FT_INVALID_ARGUMENT');
    }
    expect(() => m.regWrite(Reg.RAX, 5 as unknown as bigint)).toThrow(InvalidArgumentError);
    expect(() => m.regWrite(Reg.RAX, 1n << 64n)).toThrow(InvalidArgumentError);
    expect(() => m.regWrite(Reg.RIP, 0x0000_8000_0000_0000n)).toThrow(/canonical/);
    expect(() => m.memWrite(m.mem.size - 1, Uint8Array.of(1, 2))).toThrow(InvalidArgumentError);
    expect(() => m.emuStart(CODE_AT, null, { count: NaN })).toThrow(InvalidArgumentError);
    // a string address would have been parsed by BigInt(); a misspelt option would have been ignored
    expect(() => m.emuStart('0x100000' as unknown as number, null, { count: 1 })).toThrow(/begin must be an address.*got string/);
    expect(() => m.emuStart(CODE_AT, 1.5, { count: 1 })).toThrow(/until must be an address.*got 1\.5/);
    expect(() => Machine.create({ memSiz: 4 << 20 } as unknown as { memSize: number })).toThrow(/unknown machine option 'memSiz'/);
    expect(() => Machine.create(null as unknown as object)).toThrow(InvalidArgumentError);
    // numbers in messages are numbers: no '0xNaN', no '0x-1'
    expect(() => m.memRead(NaN, 4)).toThrow(/^address must be an integer or a bigint, got NaN$/);
    expect(() => m.memRead(0, NaN)).toThrow(/^length must be a non-negative integer, got NaN$/);
    expect(() => m.memWrite(-1, Uint8Array.of(1))).toThrow(/^range -1\+1 is outside RAM \(0\.\.0x400000\)$/);
    expect(() => m.regWrite(Reg.RAX, -(1n << 64n))).toThrow(/^value -0x10000000000000000 does not fit in 64 bits/);
  });

  it('emuStart from inside a running emuStart or run (a hook) is refused with InvalidStateError', () => {
    const m = Machine.create({ memSize: 4 << 20 });
    m.memWrite(CODE_AT, Uint8Array.of(0x90, 0x90, 0xf4)); // nop; nop; hlt
    let inner: unknown;
    const h = m.hookAdd('code', () => { try { m.emuStart(CODE_AT, null, { count: 1 }); } catch (e) { inner = e; } });
    expect(m.emuStart(CODE_AT, null, { count: 2 })).toMatchObject({ end: 'count', instructions: 2 });
    expect(inner).toBeInstanceOf(X86ftError);
    expect((inner as X86ftError).code).toBe('X86FT_INVALID_STATE');
    expect((inner as Error).message).toMatch(/emuStart called while this machine is already running/);
    inner = undefined;
    m.cpu.rip = CODE_AT;
    m.run(m.icount + 1);
    expect((inner as X86ftError).code).toBe('X86FT_INVALID_STATE');
    m.hookDel(h);
    expect(m.emuStart(CODE_AT, null, { count: 2 })).toMatchObject({ end: 'count' }); // not left 'running'
  });

  it('a #PF report prints CR2 as the SDM gives it, the 64-bit linear address (sign-extended upper half unsigned)', () => {
    const m = Machine.create({ memSize: 4 << 20 });
    m.memWrite(CODE_AT, Uint8Array.of(0x8a, 0x00)); // mov al, [rax]
    m.regWrite(Reg.RAX, 0xffff_ffff_ffff_ffffn); // canonical, not mapped (only the low 4 GiB are)
    const r = m.emuStart(CODE_AT, null, { count: 1 });
    expect(r.message).toMatch(/^unhandled #PF page fault \(error code 0x0\) at RIP 0x100000, CR2 0xffffffffffffffff; instruction bytes: 8a 00/);
    expect(m.regRead(Reg.CR2)).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('a CPU access that faults throws a GuestFaultError, not a plain object', () => {
    const m = Machine.create({ memSize: 4 << 20 });
    let err: unknown;
    try { m.cpu.read8(0x2_0000_0000); } catch (e) { err = e; } // beyond the 4 GiB identity map: not present
    expect(err).toBeInstanceOf(GuestFaultError);
    expect(err).toBeInstanceOf(Error);
    expect((err as GuestFaultError).code).toBe('X86FT_GUEST_FAULT');
    expect(m.cpu.pendVec).toBe(Vec.PF);
  });

  it('registers round-trip as unsigned 64-bit bigints', () => {
    const m = Machine.create({ memSize: 4 << 20 });
    m.regWrite(Reg.R9, 0xfedc_ba98_7654_3210n);
    expect(m.regRead(Reg.R9)).toBe(0xfedc_ba98_7654_3210n);
    m.regWrite(Reg.RSI, -1n);
    expect(m.regRead(Reg.RSI)).toBe(0xffff_ffff_ffff_ffffn);
    m.regWrite(Reg.RIP, 0xffff_8000_0000_1000n);
    expect(m.regRead(Reg.RIP)).toBe(0xffff_8000_0000_1000n);
  });

  it('emuStart: count is from this call, REP iterations count one each, until is not executed', () => {
    const m = Machine.create({ memSize: 4 << 20 });
    // mov ecx, 5; rep stosb; nop; nop
    m.memWrite(CODE_AT, Uint8Array.of(0xb9, 5, 0, 0, 0, 0xf3, 0xaa, 0x90, 0x90));
    m.regWrite(Reg.RDI, 0x200000n);
    let r = m.emuStart(CODE_AT, null, { count: 3 });
    expect(r).toMatchObject({ end: 'count', instructions: 3, icount: 3 });
    expect(m.regRead(Reg.RCX)).toBe(3n); // two iterations of REP STOSB done (SDM: RCX counts down per iteration)
    r = m.emuStart(m.regRead(Reg.RIP), CODE_AT + 8, { count: 100 });
    expect(r).toMatchObject({ end: 'until', instructions: 4, icount: 7 }); // 3 more iterations + one NOP
    expect(m.regRead(Reg.RIP)).toBe(BigInt(CODE_AT + 8));
    r = m.emuStart(CODE_AT + 8, CODE_AT + 8);
    expect(r).toMatchObject({ end: 'until', instructions: 0 });
  });

  it('a fault ends emuStart with a report, and cpu.fault does not stay set on a resumed run', () => {
    const m = Machine.create({ memSize: 4 << 20 });
    m.memWrite(CODE_AT, Uint8Array.of(0x0f, 0x0b, 0x90, 0xf4)); // ud2; nop; hlt
    let r = m.emuStart(CODE_AT, null);
    expect(r.end).toBe('fault');
    expect(r.message).toMatch(/#UD/);
    expect(m.cpu.fault).not.toBeNull();
    r = m.emuStart(CODE_AT + 2, null);
    expect(r).toMatchObject({ end: 'halt', instructions: 2 }); // IF=0 after create
    expect(m.cpu.fault).toBeNull();
  });

  it('the package exports the API only: no benchmark or test helpers', () => {
    expect(Object.keys(api).filter((k) => /bench|sample|measure/i.test(k))).toEqual([]);
  });
});

describe('examples/', () => {
  // each example runs as a user runs it (node, importing the package by name: its exports map resolves
  // 'x86ft' to dist/, ESM or CommonJS) and prints what the manual or an outside tool implies
  const run = (file: string) => execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
  it('snippet.mjs (Unicorn style: hooks, a custom I/O port device) prints the results the x86 manual implies', () => {
    // inc rcx: 0x1235; dec rdx: 0x788f; add rax,rbx: 0xfffffffffffffff0 + 0x20 = 0x10 (mod 2^64); mov [rdi],eax stores
    // 10 00 00 00; OUT 0x80, al writes 0x10; UD2 is #UD
    expect(run('examples/snippet.mjs')).toBe(readFileSync('examples/snippet.expected', 'utf8'));
  });
  it('commonjs.cjs: require() gets the CommonJS build; LOOP sums 10..1 = 55 in 21 instructions, 10 blocks', () => {
    expect(run('examples/commonjs.cjs')).toBe(readFileSync('examples/commonjs.expected', 'utf8'));
  });
  it('port-device.mjs: a gcc guest and an embedder\'s port device agree on CRC-32 (zlib; 414fa339 is the published value)', () => {
    const out = run('examples/port-device.mjs');
    expect(out).toContain('"The quick brown fox jumps over the lazy dog": device crc32 414fa339, guest crc32 414fa339: agree');
    expect(out).toBe(readFileSync('examples/port-device.expected', 'utf8'));
  });
  it('mixed-builds.cjs: one program using require() and import(): errors and machines are instanceof across the two builds', () => {
    expect(run('examples/mixed-builds.cjs')).toBe(readFileSync('examples/mixed-builds.expected', 'utf8'));
  });
  it('record-replay.mjs: a timer-driven run recorded and replayed in memory replays identical', () => {
    expect(run('examples/record-replay.mjs')).toBe(readFileSync('examples/record-replay.expected', 'utf8'));
  });
});
