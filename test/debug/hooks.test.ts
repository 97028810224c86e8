// The execution-hook mechanism (src/cpu/hooks.ts) on real gcc-built guests: hooks observe without changing
// what the guest does (same output, same state, same instruction count as a run without hooks), code hooks
// fire once per retired instruction, breakpoints stop before the instruction at a symbol nm(1) names, and
// memory-write hooks see RAM stores to a global variable.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Machine, Stop } from '../../src/index.js';
import { Hooks } from '../../src/cpu/hooks.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { saveCpu } from '../../src/cpu/state.js';
import { createHash } from 'node:crypto';

const elf = (name: string) => `guests/build/${name}.elf`;
/** Symbol address from binutils' nm (not from the emulator's own ELF reader). */
const nmOut = new Map<string, string>();
function sym(name: string, s: string): number {
  if (!nmOut.has(name)) nmOut.set(name, execFileSync('nm', [elf(name)], { encoding: 'utf8' })); // once per guest
  const line = nmOut.get(name)!.split('\n').find((l) => l.endsWith(` ${s}`));
  if (!line) throw new Error(`no symbol ${s} in ${name}`);
  return parseInt(line.split(' ')[0], 16);
}
function boot(name: string, out: number[]): Machine {
  return Machine.fromElf(new Uint8Array(readFileSync(elf(name))), { consoleOut: (b) => out.push(b) });
}
const ramHash = (m: Machine) => createHash('sha256').update(m.mem.u8).digest('hex');
const cpuJson = (m: Machine) => JSON.stringify(saveCpu(m.cpu), (_k, v) => (typeof v === 'bigint' ? v.toString() : ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v));

describe('execution hooks', () => {
  for (const g of ['strings-O0', 'sort-O2', 'except-O0']) {
    it(`${g}: code + memory hooks change nothing and count every instruction`, () => {
      const outA: number[] = [], outB: number[] = [];
      const a = boot(g, outA), b = boot(g, outB);
      const N = 400_000;
      a.run(N);
      const h = new Hooks();
      let calls = 0, writes = 0, faults = 0;
      let lastCode = NaN;
      // an exception raised by an instruction the code hook saw (not by fetching an unreachable one)
      h.add({ kind: 'intr', fn: (c, vector, soft) => { if (!soft && vector < 32 && c.insnRip === lastCode) faults++; lastCode = NaN; } });
      h.add({ kind: 'code', begin: -(2 ** 53), end: 2 ** 53, fn: (_c, address) => { calls++; lastCode = address; } });
      h.add({ kind: 'mem-write', begin: -(2 ** 53), end: 2 ** 53, fn: () => { writes++; } });
      b.cpu.setHooks(h);
      b.run(N);
      expect(b.cpu.icount).toBe(a.cpu.icount);
      // a code hook fires before each instruction (REP iteration), also before one that faults (not retired)
      expect(calls - faults).toBe(b.cpu.icount);
      expect(writes).toBeGreaterThan(0);
      expect(cpuJson(b)).toBe(cpuJson(a));
      expect(ramHash(b)).toBe(ramHash(a));
      b.cpu.setHooks(null);
      const ra = a.run(), rb = b.run();
      expect(rb).toEqual(ra);
      expect(Buffer.from(outB).toString()).toBe(Buffer.from(outA).toString());
    }, 120_000);
  }

  it('a breakpoint on main stops before its first instruction; resuming continues exactly', () => {
    const out: number[] = [], ref: number[] = [];
    const m = boot('hello-O0', out);
    const main = sym('hello-O0', 'main');
    const h = new Hooks();
    h.breakpoints.add(main);
    m.cpu.setHooks(h);
    const r = m.run();
    expect(r.end).toBe('debug');
    expect(m.cpu.rip).toBe(main);
    expect(h.reason).toEqual({ kind: 'breakpoint', address: main });
    // single-step: one instruction, then stop
    const at = m.cpu.icount;
    h.stepping = true;
    h.skipBreakpointOnce(main);
    expect(m.cpu.run(10)).toBe(Stop.DEBUG);
    expect(m.cpu.icount).toBe(at + 1);
    expect(m.cpu.rip).not.toBe(main);
    h.stepping = false;
    const end = m.run();
    const r2 = boot('hello-O0', ref).run();
    expect(end).toEqual(r2);
    expect(Buffer.from(out).toString()).toBe(Buffer.from(ref).toString());
  });

  it('a write hook on a RAM variable stops after the store (a watchpoint)', () => {
    const m = boot('sort-O0', []);
    // any writable global the guest stores to: the first data symbol nm lists in .data/.bss
    const nm = execFileSync('nm', ['-S', elf('sort-O0')], { encoding: 'utf8' }).split('\n')
      .map((l) => l.split(' ')).filter((p) => p.length === 4 && /^[bBdD]$/.test(p[2]));
    expect(nm.length).toBeGreaterThan(0);
    const h = new Hooks();
    let hits = 0;
    for (const [addr, size] of nm) {
      const a = parseInt(addr, 16), s = parseInt(size, 16);
      h.add({ kind: 'mem-write', begin: a, end: a + s, fn: (_c, access, address) => { expect(access).toBe('write'); expect(address + 8 > a).toBe(true); hits++; h.stopAfter(); } });
    }
    m.cpu.setHooks(h);
    const r = m.run();
    expect(r.end).toBe('debug');
    expect(hits).toBeGreaterThanOrEqual(1); // a store may reach the slow path as two halves
    expect(h.reason?.kind).toBe('watch');
    const w = h.reason!.address;
    expect(nm.some(([addr, size]) => w >= parseInt(addr, 16) && w < parseInt(addr, 16) + parseInt(size, 16))).toBe(true);
  });

  it('an empty range is refused; del removes by handle', () => {
    const h = new Hooks();
    expect(() => h.add({ kind: 'code', begin: 5, end: 5, fn: () => {} })).toThrow(InvalidArgumentError);
    const id = h.add({ kind: 'mem-read', begin: 0, end: 8, fn: () => {} });
    expect(h.watchesMemory).toBe(true);
    expect(h.del(id)).toBe(true);
    expect(h.del(id)).toBe(false);
    expect(h.watchesMemory).toBe(false);
  });
});
