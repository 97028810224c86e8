// Shared harness for the per-family CPU tests: runs the same instruction bytes on the host CPU (through
// test/cpu/native/runner.c, built with gcc and cached by source hash) and in the emulator, and compares
// GPRs (except RSP), the arithmetic flags + DF, the fault vector and the bytes written to a 4 KiB buffer at 0x700000.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysMemory } from '../../src/cpu/memory.js';
import { Bus } from '../../src/machine/bus.js';
import { setupLongMode } from '../../src/machine/boot.js';

const here = dirname(fileURLToPath(import.meta.url));
export const DATA = 0x700000;
export const DATA_SIZE = 4096;
const M64 = (1n << 64n) - 1n;

export interface Case {
  code: string; regs: bigint[]; flags: number; seed: number; note?: string;
  /** What the manuals leave undefined for this case (see undef.ts): flags, register bits, buffer bytes [offset, length]. */
  undefFlags?: number; undefRegBits?: [number, bigint][]; undefMem?: [number, number];
  /** The 4 KiB data page: 0 read-write (default), 1 read-only, 2 not accessible (host: mprotect; emulator: its PTE). */
  prot?: 0 | 1 | 2;
}
export interface Result { regs: bigint[]; flags: number; fault: number; mem: Map<number, number>; err: number }

/** Build test/cpu/native/NAME.c with gcc once (cached in the temp directory by source hash); the executable's path. */
export function buildNative(name: string): string {
  const src = join(here, 'native', `${name}.c`);
  const h = createHash('sha1').update(readFileSync(src)).digest('hex').slice(0, 12);
  const exe = join(tmpdir(), `x86ft-${name}-${h}`);
  if (!existsSync(exe)) execFileSync('gcc', ['-O1', '-o', exe, src]);
  return exe;
}

let exe = '';
function runnerPath(): string {
  if (!exe) exe = buildNative('runner');
  return exe;
}

function parse(line: string): Result {
  const f = line.trim().split(' ');
  const regs: bigint[] = [];
  for (let r = 0; r < 16; r++) regs.push(BigInt('0x' + f[r]));
  const mem = new Map<number, number>();
  const nd = parseInt(f[18], 10);
  for (let k = 0; k < nd; k++) mem.set(parseInt(f[19 + 2 * k], 16), parseInt(f[20 + 2 * k], 16));
  return { regs, flags: parseInt(f[16], 16), fault: parseInt(f[17], 10), mem, err: parseInt(f[19 + 2 * nd], 16) };
}

/** Run the cases on the host CPU. */
export function hostRun(cases: Case[]): Result[] {
  const lines = cases.map((c) => [c.code, ...c.regs.map((v) => (v & M64).toString(16)), (c.flags >>> 0).toString(16), (c.seed >>> 0).toString(16), String(c.prot ?? 0)].join(' '));
  const r = spawnSync(runnerPath(), { input: lines.join('\n') + '\n', maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error('runner failed: ' + r.stderr);
  const out = r.stdout.split('\n').filter((l) => l.length > 0);
  if (out.length !== cases.length) throw new Error(`runner returned ${out.length} of ${cases.length}`);
  return out.map(parse);
}

export function fillPattern(u8: Uint8Array, off: number, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let k = 0; k < DATA_SIZE; k++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    u8[off + k] = x & 0xff;
  }
}

export class Emu {
  readonly mem = new PhysMemory(16 << 20);
  readonly cpu = new Cpu(this.mem, new Bus());
  private init = new Uint8Array(DATA_SIZE);
  /** A 4 KiB page table for 0x600000-0x7fffff (the identity map uses a 2 MiB page there), so the data page can be protected. */
  private static readonly PT = 0xe00000;
  constructor() {
    setupLongMode(this.cpu, this.mem);
    const dv = this.mem.dv, pd = this.cpu.cr3; // PML4 -> PDPT -> PD: follow the identity map's first entries
    const pdpt = dv.getUint32(pd, true) & ~0xfff, pdir = dv.getUint32(pdpt, true) & ~0xfff;
    for (let k = 0; k < 512; k++) dv.setUint32(Emu.PT + 8 * k, (0x600000 + 0x1000 * k) | 7, true);
    dv.setUint32(pdir + 3 * 8, Emu.PT | 7, true); dv.setUint32(pdir + 3 * 8 + 4, 0, true);
  }

  /** Load a case: code at 0x100000 followed by HLT, registers, flags, the data buffer. */
  load(c: Case, codeAt = 0x100000): void {
    const cpu = this.cpu, mem = this.mem;
    const bytes = hexBytes(c.code);
    mem.u8.set(bytes, codeAt);
    mem.u8[codeAt + bytes.length] = 0xf4;
    cpu.flushCode(); cpu.flushTlb();
    fillPattern(mem.u8, DATA, c.seed);
    fillPattern(this.init, 0, c.seed);
    // data page: RW, read-only (no R/W bit; CR0.WP is set, so CPL 0 writes fault too) or not present
    mem.dv.setUint32(Emu.PT + 8 * ((DATA - 0x600000) >> 12), c.prot === 2 ? 0 : DATA | (c.prot === 1 ? 5 : 7), true);
    for (let r = 0; r < 16; r++) cpu.setReg64(r, r === 4 ? 0x80000n : c.regs[r] & M64);
    cpu.setRflags((c.flags & 0xcd5) | 2);
    cpu.halted = false; cpu.fault = null; cpu.rip = codeAt;
  }

  run(c: Case, budget = 100000): Result {
    this.load(c);
    this.cpu.run(budget);
    return this.result();
  }

  result(): Result {
    const cpu = this.cpu;
    const regs: bigint[] = [];
    for (let r = 0; r < 16; r++) regs.push(cpu.reg64(r) & M64);
    const mem = new Map<number, number>();
    for (let k = 0; k < DATA_SIZE; k++) if (this.mem.u8[DATA + k] !== this.init[k]) mem.set(k, this.mem.u8[DATA + k]);
    const fault = cpu.fault ? cpu.fault.vector : -1;
    if (cpu.internalError) throw cpu.internalError;
    return { regs, flags: cpu.getRflags() & 0xcd5, fault, mem, err: cpu.fault ? cpu.fault.errorCode : 0 };
  }
}

export function hexBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2);
  for (let k = 0; k < b.length; k++) b[k] = parseInt(s.substr(2 * k, 2), 16);
  return b;
}

const FLAG_NAMES: [number, string][] = [[1, 'CF'], [4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x800, 'OF'], [0x400, 'DF']];

/** Describe differences (empty string = equal). flagMask selects the flags compared. */
export function diff(c: Case, host: Result, emu: Result, flagMask = 0xcd5): string {
  const out: string[] = [];
  if (host.fault !== emu.fault) out.push(`fault host ${host.fault} emu ${emu.fault}`);
  // #PF error code: P and W (the host runs at CPL 3, the emulator at CPL 0: U differs by construction)
  else if (host.fault === 14 && (host.err & 3) !== (emu.err & 3)) out.push(`#PF error code host ${host.err} emu ${emu.err}`);
  for (let r = 0; r < 16; r++) {
    if (r === 4) continue;
    let care = M64;
    for (const [n, bits] of c.undefRegBits ?? []) if (n === r) care &= ~bits;
    if ((host.regs[r] & care) !== (emu.regs[r] & care)) out.push(`r${r} host ${host.regs[r].toString(16)} emu ${emu.regs[r].toString(16)}`);
  }
  // a faulting instruction leaves all state unchanged: nothing is undefined then
  const fd = (host.flags ^ emu.flags) & flagMask & ~(host.fault < 0 ? c.undefFlags ?? 0 : 0);
  if (fd) out.push('flags ' + FLAG_NAMES.filter(([b]) => fd & b).map(([b, n]) => `${n}=${host.flags & b ? 1 : 0}/${emu.flags & b ? 1 : 0}`).join(' '));
  const keys = new Set([...host.mem.keys(), ...emu.mem.keys()]);
  let md = 0;
  const [uOff, uLen] = c.undefMem ?? [0, 0];
  for (const k of keys) if (host.mem.get(k) !== emu.mem.get(k) && !(k >= uOff && k < uOff + uLen)) { if (md++ < 4) out.push(`mem[+${k.toString(16)}] host ${host.mem.get(k)} emu ${emu.mem.get(k)}`); }
  if (md > 4) out.push(`... ${md} bytes differ`);
  if (out.length === 0) return '';
  return `${c.note ?? ''} code ${c.code} regs [${c.regs.map((v) => (v & M64).toString(16)).join(' ')}] flags ${c.flags.toString(16)}: ` + out.join('; ');
}

/** Run all cases on host and emulator; return the list of mismatch descriptions. */
export function compareAll(cases: Case[], flagMask = 0xcd5): string[] {
  const host = hostRun(cases);
  const emu = new Emu();
  const bad: string[] = [];
  for (let k = 0; k < cases.length; k++) {
    const d = diff(cases[k], host[k], emu.run(cases[k]), flagMask);
    if (d) bad.push(d);
  }
  return bad;
}

// ---- deterministic random values weighted toward edge cases
let seed = 0x9e3779b9;
export function setSeed(s: number): void { seed = s >>> 0 || 1; }
export function rnd32(): number { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; }
export function rnd(n: number): number { return rnd32() % n; }
const EDGE = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xfffffffffffffffen, 0x1fffffffffffffn, 0x20000000000000n];
/** A random 64-bit value: edge values, small values, or full random. */
export function rnd64(): bigint {
  switch (rnd(6)) {
    case 0: return EDGE[rnd(EDGE.length)];
    case 1: return BigInt(rnd(64));
    case 2: return (BigInt(rnd32()) << 32n | BigInt(rnd32())) >> BigInt(rnd(64));
    case 3: return M64 - BigInt(rnd(300));
    default: return BigInt(rnd32()) << 32n | BigInt(rnd32());
  }
}
export function rndFlags(): number { return rnd32() & 0x8d5; }
/** 16 random registers (RSP ignored). */
export function rndRegs(): bigint[] { const r: bigint[] = []; for (let k = 0; k < 16; k++) r.push(rnd64()); return r; }
