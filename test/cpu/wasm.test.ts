// The WebAssembly tier (src/cpu/wasm, X86FT_WASM=1) against the interpreter and the host CPU. Guests: one
// machine only interprets, the other compiles every block at its first execution (to wasm where the subset
// allows, else to JS); both run the same gcc-built guest in the same slices on the CPU alone (RDTSC from the
// exact instruction count), and after every slice the registers, RIP, RFLAGS, the count and the stop reason
// must be equal, at the end the console output and all of RAM. Random sequences: the difference test
// (host CPU as the oracle) with every block compiled, weighted to the tier's subset.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';

process.env.X86FT_WASM = '1'; // read when the CPU modules load: import them only after these lines
process.env.X86FT_HOT_BLOCK = '1';
const { Machine } = await import('../../src/machine/machine.js');
const { WASM_TOTALS, WASM_DEFAULTS } = await import('../../src/cpu/wasm/compile.js');
const { runDifftest } = await import('../difftest/run.js');
const { PhysMemory } = await import('../../src/cpu/memory.js');
const { Cpu: CpuClass } = await import('../../src/cpu/cpu.js');
const { Bus } = await import('../../src/machine/bus.js');
const { setupLongMode } = await import('../../src/machine/boot.js');
type Cpu = import('../../src/cpu/cpu.js').Cpu;
type CpuHost = import('../../src/cpu/cpu.js').CpuHost;

const build = new URL('../../guests/build/', import.meta.url).pathname;
/** -O0 (memory operands everywhere), faults (except), CoreMark's hot blocks. */
const GUESTS = ['arith-O0', 'except-O2', 'coremark-O2'];
const SLICE = 100_000, MAX = 600_000;

const exactHost: CpuHost = {
  rdtsc(c) { const t = c.currentIcount() * 4; c.tmpLo = t >>> 0; c.tmpHi = Math.floor(t / 4294967296) | 0; },
  rdrand(c) { const x = (c.currentIcount() * 2654435761) >>> 0; c.tmpLo = x; c.tmpHi = (x * 31) >>> 0; },
};

function state(c: Cpu): string {
  return `rip ${c.rip.toString(16)} rflags ${c.getRflags().toString(16)} icount ${c.icount} regs ${Array.from(c.regs).join(',')}`;
}

/** How the tier compiles (WasmTier): each function at once, in batches at the end of each run, or in the background. */
type Mode = 'immediate' | 'batched' | 'background';

describe('wasm tier = interpreter on the guests', () => {
  // one block per wasm function, and regions of up to 16 blocks (X86FT_WASM_REGION) on the -O2 guests; the
  // short guests compile each function at once (they end within a few slices), CoreMark in batches, and
  // with regions in the background: the blocks waiting for their module run in the interpreter, and each
  // module is installed between two slices
  const cases: [string, number, Mode][] = [['arith-O0', 1, 'immediate'], ['except-O2', 1, 'immediate'], ['coremark-O2', 1, 'batched'],
    ['except-O2', 16, 'immediate'], ['coremark-O2', 16, 'background']];
  for (const [name, region, mode] of cases) {
    const path = `${build}${name}.elf`;
    it.skipIf(name.startsWith('coremark') && !existsSync(path))(`${name}${region > 1 ? `, regions of up to ${region} blocks` : ''}, ${mode}`, async () => {
      const image = readFileSync(path);
      const outI: number[] = [], outW: number[] = [];
      const cmdline = name.startsWith('coremark') ? '0x0 0x0 0x66 1' : '';
      const boot = (out: number[], compiled: boolean) => {
        const m = Machine.fromElf(image, { cmdline, memSize: 16 << 20, consoleOut: (b) => out.push(b) });
        m.cpu.host = exactHost;
        m.cpu.hotBlock = compiled ? 1 : Infinity;
        return m;
      };
      const mi = boot(outI, false), mw = boot(outW, true);
      expect(mw.cpu.wasm).not.toBeNull();
      const tier = mw.cpu.wasm!;
      tier.regionBlocks = region;
      tier.immediate = mode === 'immediate'; tier.background = tier.driven = mode === 'background';
      for (let done = 0; done < MAX;) {
        const si = mi.cpu.run(SLICE), sw = mw.cpu.run(SLICE);
        expect(state(mw.cpu), `after ${done} + ${SLICE} instructions`).toBe(state(mi.cpu));
        expect(sw).toBe(si);
        done += SLICE;
        if (mi.cpu.stopRequested || mi.cpu.halted) break;
        // (as Machine.runAsync does at its turns: hand the functions over, the event loop compiles them)
        if (mode === 'background') { tier.flush(); await tier.settled(); }
        await new Promise((r) => setImmediate(r)); // keep the worker answering vitest
      }
      const st = tier.stats;
      expect(st.failed, st.error).toBe(0);
      expect(st.compiled).toBeGreaterThan(10);
      if (mode === 'background') expect(st.background).toBe(st.modules);
      if (mode !== 'immediate') { expect(st.modules).toBeLessThan(st.compiled); expect(st.waiting).toBeGreaterThan(0); }
      if (region > 1) expect(st.members).toBeGreaterThan(st.compiled); // some functions hold several blocks
      expect(st.calls).toBeGreaterThan(st.exits); // most executions run to the block's end in wasm
      expect(Buffer.from(outW).toString('latin1')).toBe(Buffer.from(outI).toString('latin1'));
      expect(Buffer.compare(mw.mem.u8, mi.mem.u8)).toBe(0);
    }, 60_000);
  }
});

describe('wasm tier = host CPU on random sequences', () => {
  // generator forms (test/difftest/gen.ts FORMS) with nothing in the tier's subset, left out so that most
  // blocks compile to wasm (a case ends in HLT: the wasm prefix runs, the interpreter the HLT)
  const EXCLUDE = ['xchg', 'bswap', 'mul1', 'div', 'shxd', 'bt', 'bsf', 'xadd', 'cmpxchg', 'cmpxchg16b', 'xlat', 'prefix', 'fault', 'lockud', 'convert', 'flagops', 'string', 'pushf', 'loop'];
  it('subset integer sequences agree with the host', async () => {
    const before = { ...WASM_TOTALS };
    // each case is one Cpu.run: its blocks must run in wasm from their first execution
    WASM_DEFAULTS.immediate = true;
    let r: Awaited<ReturnType<typeof runDifftest>>;
    try { r = await runDifftest({ seed: 0x3a5d, count: 250, exclude: EXCLUDE, maxMismatches: 3 }); } finally { WASM_DEFAULTS.immediate = false; }
    expect(r.mismatchCount, r.mismatches.map((m) => JSON.stringify(m).slice(0, 2000)).join('\n')).toBe(0);
    expect(r.compared).toBeGreaterThan(230);
    // (the difftest flushes the TLB for every case: a block's first memory access exits to the interpreter)
    expect(WASM_TOTALS.compiled - before.compiled).toBeGreaterThan(50);
    expect(WASM_TOTALS.failed - before.failed).toBe(0);
  }, 60_000);
});

/** A tiny deterministic PRNG (xorshift32). */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
}

const CODE = 0x400000, DATA = 0x500000, STACK = 0x580000;
/** Registers a sequence may change: not RSP (4), RBX (3: the data pointer) or R15 (15: the loop counter). */
const FREE = [0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];

/**
 * Machine code of a random loop over the tier's subset: `body; dec r15; jnz top; hlt`, the body's
 * instructions drawn from the forms the tier compiles (register and [rbx+disp8] operands, 8/16/32/64-bit,
 * forward Jcc that split the loop into blocks, a CALL — rel32, CALL R11 or CALL [RIP + disp32] — to a
 * subroutine that RETs, JMP R11 to the next instruction), encoded by hand (Intel SDM
 * Vol. 2 encodings) so that every instruction is one the tier takes.
 */
function randomLoop(r: (n: number) => number): number[] {
  const out: number[] = [];
  const reg = () => FREE[r(4)]; // few registers: equal operands and reuse of results are common
  const rex = (w: boolean, rr: number, b: number) => 0x40 | (w ? 8 : 0) | ((rr & 8) >> 1) | ((b & 8) >> 3);
  const rr = (a: number, b: number) => 0xc0 | ((a & 7) << 3) | (b & 7);
  const md = (a: number) => [0x40 | ((a & 7) << 3) | 3, 8 * r(16)]; // [rbx + disp8]
  const wide = () => r(2) === 0;
  const insn = (): number[] => {
    const a = reg(), b = r(4) === 0 ? a : reg(), w = wide();
    const alu = [0x01, 0x09, 0x21, 0x29, 0x31, 0x39, 0x85, 0x89, 0x39, 0x29][r(10)];
    switch (r(19)) {
      case 0: case 1: return [rex(w, b, a), alu, rr(b, a)];
      case 2: return [rex(w, a, 3), alu, ...md(a)]; // op [rbx+d], r
      case 3: return [rex(w, a, 3), alu + 2 - (alu === 0x85 ? 2 : 0), ...md(a)]; // op r, [rbx+d]
      case 4: return [rex(w, 0, a), 0x83, rr(r(8) === 2 ? 0 : [0, 1, 4, 5, 6, 7][r(6)], a), r(256)];
      case 5: return [r(2) ? 0x00 : 0x28, rr(r(8), r(8))]; // byte ADD/SUB, AH..BH included
      case 6: return [0x66, rex(false, b, a), [0x01, 0x29, 0x31, 0x89][r(4)], rr(b, a)]; // 16-bit
      case 7: return [rex(w, 0, a), 0xc1, rr([4, 5, 7][r(3)], a), r(70)]; // SHL/SHR/SAR r, imm
      case 8: return [rex(w, 0, a), 0xd1, rr([4, 5, 7][r(3)], a)];
      case 9: return r(2) ? [rex(false, a, b), 0x0f, 0xaf, rr(a, b)] : [rex(false, a, b), 0x6b, rr(a, b), r(256)]; // IMUL r32
      case 10: return [rex(w, 0, a), 0xff, rr(r(2), a)]; // INC/DEC
      case 11: return [rex(w, a, b), 0x8d, 0x44 | ((a & 7) << 3), (r(4) << 6) | ((b & 7) << 3) | 3, r(256)]; // LEA a, [rbx + b*s + d8]
      case 12: return [rex(w, a, b), 0x0f, [0xb6, 0xb7, 0xbe, 0xbf][r(4)], rr(a, b)];
      case 13: return [rex(true, a, b), 0x63, rr(a, b)]; // MOVSXD
      case 14: return [rex(w, a, b), 0x0f, 0x40 + r(16), rr(a, b)]; // CMOVcc
      case 15: return [0x0f, 0x90 + r(16), rr(0, r(8))]; // SETcc r8
      case 16: return [rex(false, 0, a), 0x50 + (a & 7), rex(false, 0, b), 0x58 + (b & 7)]; // PUSH a; POP b
      case 17: return [rex(w, a, 3), r(2) ? 0x8b : 0x89, ...md(a)]; // MOV
      default: return [rex(true, 0, a), 0xb8 + (a & 7), r(256), r(256), r(256), r(256), r(256), r(256), r(256), r(256)]; // MOV r64, imm64
    }
  };
  const n = 2 + r(10);
  const calls: number[] = [], absCalls: number[] = [], ptrCalls: number[] = [];
  for (let k = 0; k < n; k++) {
    const c = r(6);
    if (c === 0) { const x = insn(); out.push(0x70 + r(16), x.length, ...x); } // Jcc over one instruction
    else if (c === 1) {
      // CALL sub (patched below): rel32, or near indirect through R11 or a qword after the code (RIP-relative)
      const f = r(3);
      if (f === 0) { out.push(0xe8, 0, 0, 0, 0); calls.push(out.length); }
      else if (f === 1) { out.push(0x49, 0xbb); absCalls.push(out.length); out.push(0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0xff, 0xd3); } // MOV R11, imm64; CALL R11
      else { out.push(0xff, 0x15, 0, 0, 0, 0); ptrCalls.push(out.length); } // CALL [RIP + disp32]
    } else if (c === 2 && r(3) === 0) { // JMP R11 to the next instruction (a computed target in the same page)
      out.push(0x49, 0xbb); const at = out.length; out.push(0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0xff, 0xe3);
      const to = CODE + out.length; for (let q = 0; q < 8; q++) out[at + q] = q < 4 ? (to >>> (8 * q)) & 255 : 0;
    } else out.push(...insn());
  }
  out.push(0x49, 0xff, 0xcf); // DEC r15
  const back = -(out.length + 6);
  out.push(0x0f, 0x85, back & 255, (back >> 8) & 255, (back >> 16) & 255, (back >> 24) & 255, 0xf4); // JNZ top; HLT
  const sub = out.length;
  for (let k = 0; k < 2; k++) out.push(...insn());
  out.push(0xc3);
  for (const at of calls) { const d = sub - at; out[at - 4] = d & 255; out[at - 3] = (d >> 8) & 255; out[at - 2] = (d >> 16) & 255; out[at - 1] = (d >> 24) & 255; }
  const ptr = out.length, abs = CODE + sub;
  out.push(abs & 255, (abs >> 8) & 255, (abs >> 16) & 255, (abs >>> 24) & 255, 0, 0, 0, 0); // the qword CALL [RIP + disp32] reads
  for (const at of absCalls) for (let q = 0; q < 4; q++) out[at + q] = (abs >>> (8 * q)) & 255;
  for (const at of ptrCalls) { const d = ptr - at; for (let q = 0; q < 4; q++) out[at - 4 + q] = (d >> (8 * q)) & 255; }
  return out;
}

// The JS tier's regions (src/cpu/compile.ts compileRegion: structured control flow, guest registers in
// locals or in cpu.regs) run the same loops: compiled at a block's second execution, when its successors
// are decoded, so each loop becomes one region; the slices end runs inside them.
describe('wasm tier and JS regions = interpreter on random loops of its subset', () => {
  it('same registers, flags, count, stop and memory after every slice', () => {
    const r = rng(0x5eed);
    const mk = (compiled: boolean) => {
      const mem = new PhysMemory(8 << 20);
      const c = new CpuClass(mem, new Bus());
      c.hotBlock = compiled ? 1 : Infinity;
      return { mem, c };
    };
    const I = mk(false), W = mk(true), R = mk(true);
    expect(W.c.wasm).not.toBeNull();
    W.c.wasm!.immediate = true; // R batches: its blocks run in the interpreter until the end of a slice
    R.c.wasm!.regionBlocks = 16;
    const J = mk(true);
    (J.c as { wasm: unknown }).wasm = null;
    J.c.hotBlock = 2; J.c.regionBlocks = 16;
    let jsRegions = 0;
    const before = W.c.wasm!.stats.compiled;
    for (let t = 0; t < 200; t++) {
      const code = randomLoop(r);
      // edge values (0, ±1, the signed limits of each size) make equal operands, carries and overflows common
      const EDGE = [0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000];
      const regs = Array.from({ length: 32 }, (_, k) => (k & 1 ? [0, -1, 0x7fffffff, -0x80000000][r(4)] : r(2) ? EDGE[r(EDGE.length)] : r(0x7fffffff) - r(0x7fffffff)));
      const data = Array.from({ length: 256 }, () => r(256));
      const iters = 1 + r(6), slices = Array.from({ length: 6 }, () => 1 + r(40));
      J.c.regionLocals = (t & 1) === 0; // registers in locals on even loops, in cpu.regs on odd ones
      for (const { mem, c } of [I, W, R, J]) {
        c.flushCode();
        setupLongMode(c, mem);
        mem.write(CODE, Uint8Array.from(code));
        mem.write(DATA, Uint8Array.from(data));
        for (let k = 0; k < 32; k++) c.regs[k] = regs[k];
        c.regs[6] = DATA; c.regs[7] = 0; c.regs[8] = STACK; c.regs[9] = 0; c.regs[30] = iters; c.regs[31] = 0;
        c.rip = CODE; c.halted = false; c.icount = 0;
        c.setRflags(2 | (regs[0] & 0x8d5));
      }
      for (let s = 0; s < 40; s++) {
        const budget = s < slices.length ? slices[s] : 1000;
        const si = I.c.run(budget), sw = W.c.run(budget), sr = R.c.run(budget);
        expect(state(W.c), `loop ${t} (${Buffer.from(code).toString('hex')}), slice ${s}`).toBe(state(I.c));
        expect(state(R.c), `regions: loop ${t} (${Buffer.from(code).toString('hex')}), slice ${s}`).toBe(state(I.c));
        expect(sw).toBe(si); expect(sr).toBe(si);
        const sj = J.c.run(budget);
        expect(state(J.c), `JS regions (${J.c.regionLocals ? 'locals' : 'cpu.regs'}): loop ${t} (${Buffer.from(code).toString('hex')}), slice ${s}`).toBe(state(I.c));
        expect(sj).toBe(si);
        if (I.c.halted || I.c.stopRequested) break;
      }
      expect(I.c.halted, `loop ${t} ends in its HLT`).toBe(true);
      expect(Buffer.compare(W.mem.u8.subarray(DATA, STACK), I.mem.u8.subarray(DATA, STACK))).toBe(0);
      expect(Buffer.compare(R.mem.u8.subarray(DATA, STACK), I.mem.u8.subarray(DATA, STACK))).toBe(0);
      expect(Buffer.compare(J.mem.u8.subarray(DATA, STACK), I.mem.u8.subarray(DATA, STACK))).toBe(0);
      for (const b of J.c.blocks.values()) if (b.fn !== null && b.fn.name.startsWith('region_')) jsRegions++;
    }
    expect(jsRegions).toBeGreaterThan(100);
    expect(W.c.wasm!.stats.compiled - before).toBeGreaterThan(200);
    expect(W.c.wasm!.stats.calls).toBeGreaterThan(2 * W.c.wasm!.stats.exits);
    expect(R.c.wasm!.stats.members).toBeGreaterThan(R.c.wasm!.stats.compiled);
    expect(W.c.wasm!.stats.failed + R.c.wasm!.stats.failed, W.c.wasm!.stats.error + R.c.wasm!.stats.error).toBe(0);
    expect(R.c.wasm!.stats.waiting).toBeGreaterThan(0);
  });
});

describe('wasm tier: compiling in the background', () => {
  it('a block whose code changes while its module compiles is never installed', async () => {
    const mk = (compiled: boolean) => {
      const mem = new PhysMemory(8 << 20);
      const c = new CpuClass(mem, new Bus());
      c.hotBlock = compiled ? 1 : Infinity;
      setupLongMode(c, mem);
      // top: ADD RAX, 1; DEC R15; JNZ top; HLT
      mem.write(CODE, Uint8Array.from([0x48, 0x83, 0xc0, 0x01, 0x49, 0xff, 0xcf, 0x0f, 0x85, 0xf3, 0xff, 0xff, 0xff, 0xf4]));
      c.regs[8] = STACK; c.regs[30] = 100; c.rip = CODE;
      return { mem, c };
    };
    const I = mk(false), W = mk(true);
    const tier = W.c.wasm!;
    tier.background = tier.driven = true; // as under Machine.runAsync: the test flushes at its "turns"
    expect(I.c.run(7)).toBe(W.c.run(7)); // the loop block got hot: its function waits for a flush
    expect(tier.queued).toBe(1);
    tier.flush();
    // the guest rewrites its loop (ADD RAX, 2) while the module compiles
    for (const { mem } of [I, W]) mem.write(CODE + 3, Uint8Array.from([0x02]));
    await tier.settled();
    expect(tier.stats.modules).toBe(1);
    expect(tier.stats.compiled).toBe(0); // the stale function was dropped
    for (let s = 0; s < 5; s++) {
      expect(W.c.run(100)).toBe(I.c.run(100));
      expect(state(W.c), `slice ${s}`).toBe(state(I.c));
      tier.flush(); await tier.settled();
    }
    expect(I.c.halted).toBe(true);
    expect(W.c.regs[0]).toBe(3 + 2 * 97); // three ADD RAX, 1 before the change (R15 98), then ADD RAX, 2 in the 97 passes left
    expect(tier.stats.compiled).toBeGreaterThan(0); // the new code was compiled and ran in wasm
    expect(tier.stats.calls).toBeGreaterThan(0);
  });
});
