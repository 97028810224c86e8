// Host-CPU harness for the SSE and x87 tests: runs instruction bytes natively (a small C runner, built with gcc
// into the OS temp dir, that loads the whole FP state with FXRSTOR64 and saves it with FXSAVE64) and in the emulator,
// from the same GPRs, RFLAGS, FXSAVE image and 256 bytes of data at 0x700000 (the same address natively and in the
// emulator). Compares GPRs, arithmetic flags, FCW/FSW/abridged tags/ST0-7, MXCSR, XMM0-15, the fault vector, where
// the fault was raised (offset of the faulting instruction from CODE) and memory; on a fault the FP state is the one
// at the fault (natively read from the signal context).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysMemory } from '../../src/cpu/memory.js';
import { Bus } from '../../src/machine/bus.js';
import { setupLongMode } from '../../src/machine/boot.js';
import { loadFx, saveFx } from '../helpers/fxstate.js';
import { fyl2xp1Defined } from './undef.js';
export { loadFx, saveFx };

export const DATA = 0x700000;
export const CODE = 0x100000;
const M64 = (1n << 64n) - 1n;

const C_SRC = String.raw`
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#define DATA ((uint8_t *)0x700000)
#define CODE ((uint8_t *)0x100000)
uint64_t st[17];
uint8_t fx[512] __attribute__((aligned(64)));
void *code_ptr; uint64_t saved_rsp, tmp_rdi;
extern void run_insn(void);
__asm__(".text\n.globl run_insn\nrun_insn:\n"
  "push %rbx\npush %rbp\npush %r12\npush %r13\npush %r14\npush %r15\n"
  "mov %rsp, saved_rsp(%rip)\n"
  "fxrstor64 fx(%rip)\n"
  "lea st(%rip), %rdi\n"
  "pushq 128(%rdi)\npopfq\n"
  "mov 0(%rdi),%rax\nmov 8(%rdi),%rcx\nmov 16(%rdi),%rdx\nmov 24(%rdi),%rbx\n"
  "mov 40(%rdi),%rbp\nmov 48(%rdi),%rsi\nmov 64(%rdi),%r8\nmov 72(%rdi),%r9\n"
  "mov 80(%rdi),%r10\nmov 88(%rdi),%r11\nmov 96(%rdi),%r12\nmov 104(%rdi),%r13\n"
  "mov 112(%rdi),%r14\nmov 120(%rdi),%r15\nmov 56(%rdi),%rdi\n"
  "jmp *code_ptr(%rip)\n"
  ".globl run_back\nrun_back:\n"
  "pushfq\n"
  "fxsave64 fx(%rip)\n"
  "mov %rdi, tmp_rdi(%rip)\n"
  "lea st(%rip), %rdi\n"
  "popq 128(%rdi)\n"
  "mov %rax,0(%rdi)\nmov %rcx,8(%rdi)\nmov %rdx,16(%rdi)\nmov %rbx,24(%rdi)\n"
  "mov %rbp,40(%rdi)\nmov %rsi,48(%rdi)\nmov %r8,64(%rdi)\nmov %r9,72(%rdi)\n"
  "mov %r10,80(%rdi)\nmov %r11,88(%rdi)\nmov %r12,96(%rdi)\nmov %r13,104(%rdi)\n"
  "mov %r14,112(%rdi)\nmov %r15,120(%rdi)\nmov tmp_rdi(%rip),%rax\nmov %rax,56(%rdi)\n"
  "mov saved_rsp(%rip), %rsp\ncld\n"
  "pop %r15\npop %r14\npop %r13\npop %r12\npop %rbp\npop %rbx\nret\n");
extern char run_back[];
static sigjmp_buf jb; static volatile int fault_sig; static volatile long fault_at;
static void on_sig(int s, siginfo_t *si, void *uc) {
  (void)si; fault_sig = s;
  ucontext_t *u = uc; if (u->uc_mcontext.fpregs) memcpy(fx, u->uc_mcontext.fpregs, 512); /* the FP state at the fault */
  fault_at = (long)(u->uc_mcontext.gregs[REG_RIP] - (greg_t)(uintptr_t)CODE);
  siglongjmp(jb, 1);
}
static int hx(int ch) { return ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10; }
static void unhex(const char *s, uint8_t *d, int n) { for (int k = 0; k < n; k++) d[k] = (uint8_t)(hx(s[2*k]) << 4 | hx(s[2*k+1])); }
int main(void) {
  uint8_t *code = mmap(CODE, 4096, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0);
  uint8_t *data = mmap(DATA, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0);
  if (code != CODE || data != DATA) { fprintf(stderr, "mmap failed\n"); return 2; }
  static uint8_t init[4096];
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_sigaction = on_sig; sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, NULL); sigaction(SIGSEGV, &sa, NULL); sigaction(SIGILL, &sa, NULL); sigaction(SIGBUS, &sa, NULL);
  static char line[1 << 16];
  while (fgets(line, sizeof line, stdin)) {
    char *e; char *hex = strtok_r(line, " \n", &e); if (!hex) continue;
    int n = 0;
    for (size_t k = 0; hex[k] && hex[k+1]; k += 2) code[n++] = (uint8_t)(hx(hex[k]) << 4 | hx(hex[k+1]));
    code[n++] = 0xff; code[n++] = 0x25; code[n++] = 0; code[n++] = 0; code[n++] = 0; code[n++] = 0;
    uint64_t back = (uint64_t)run_back; memcpy(code + n, &back, 8);
    for (int r = 0; r < 17; r++) st[r] = strtoull(strtok_r(NULL, " \n", &e), NULL, 16);
    unhex(strtok_r(NULL, " \n", &e), fx, 512);
    memset(init, 0, 4096);
    unhex(strtok_r(NULL, " \n", &e), init, 256);
    memcpy(data, init, 4096);
    st[16] = (st[16] & 0xcd5) | 2;
    code_ptr = code; fault_sig = 0; fault_at = -1; int vec = -1;
    if (sigsetjmp(jb, 1) == 0) run_insn();
    else { vec = fault_sig == SIGFPE ? 16 : fault_sig == SIGSEGV ? 13 : fault_sig == SIGILL ? 6 : 99; }
    for (int r = 0; r < 17; r++) printf("%llx ", (unsigned long long)(r == 16 ? (st[16] & 0xcd5) : st[r]));
    printf("%d %ld ", vec, vec < 0 ? -1L : (long)fault_at);
    for (int k = 0; k < 512; k++) printf("%02x", fx[k]);
    int nd = 0; for (int k = 0; k < 4096; k++) nd += data[k] != init[k];
    printf(" %d", nd);
    for (int k = 0; k < 4096; k++) if (data[k] != init[k]) printf(" %x %x", k, data[k]);
    printf("\n");
  }
  return 0;
}
`;

let exe = '';
function runner(): string {
  if (exe) return exe;
  const h = createHash('sha1').update(C_SRC).digest('hex').slice(0, 12);
  exe = join(tmpdir(), `x86ft-fp-runner-${h}`);
  if (!existsSync(exe)) {
    const src = exe + '.c';
    writeFileSync(src, C_SRC);
    execFileSync('gcc', ['-O1', '-o', exe, src]);
  }
  return exe;
}

export interface FCase {
  code: number[];
  regs: bigint[]; // 16
  flags: number;
  fx: Uint8Array; // 512-byte FXSAVE64 image (input)
  mem: Uint8Array; // 256 bytes at DATA
  name: string;
}
/** `fault`: the vector raised (-1 none); `faultAt`: offset of the faulting instruction from CODE (-1 none). */
export interface FResult { regs: bigint[]; flags: number; fault: number; faultAt: number; fx: Uint8Array; mem: Map<number, number> }

const hex = (b: Uint8Array | number[]) => Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
const unhex = (s: string) => { const o = new Uint8Array(s.length >> 1); for (let k = 0; k < o.length; k++) o[k] = parseInt(s.substr(2 * k, 2), 16); return o; };

export function hostRun(cases: FCase[]): FResult[] {
  const lines = cases.map((c) => [hex(c.code), ...c.regs.map((v) => (v & M64).toString(16)), (c.flags >>> 0).toString(16), hex(c.fx), hex(c.mem)].join(' '));
  const r = spawnSync(runner(), { input: lines.join('\n') + '\n', maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error('runner failed: ' + r.stderr);
  const out = r.stdout.split('\n').filter((l) => l.length > 0);
  if (out.length !== cases.length) throw new Error(`runner returned ${out.length} of ${cases.length}`);
  return out.map((line) => {
    const f = line.split(' ');
    const regs: bigint[] = [];
    for (let k = 0; k < 16; k++) regs.push(BigInt('0x' + f[k]));
    const mem = new Map<number, number>();
    const nd = parseInt(f[20], 10);
    for (let k = 0; k < nd; k++) mem.set(parseInt(f[21 + 2 * k], 16), parseInt(f[22 + 2 * k], 16));
    return { regs, flags: parseInt(f[16], 16), fault: parseInt(f[17], 10), faultAt: parseInt(f[18], 10), fx: unhex(f[19]), mem };
  });
}

export class Emu {
  readonly mem = new PhysMemory(16 << 20);
  readonly cpu = new Cpu(this.mem, new Bus());
  constructor() { setupLongMode(this.cpu, this.mem); }

  run(c: FCase): FResult {
    const cpu = this.cpu, mem = this.mem;
    setupLongMode(cpu, mem);
    mem.u8.set(c.code, CODE);
    mem.u8[CODE + c.code.length] = 0xf4;
    cpu.flushCode(); cpu.flushTlb();
    mem.u8.fill(0, DATA, DATA + 8192);
    mem.u8.set(c.mem, DATA);
    for (let r = 0; r < 16; r++) cpu.setReg64(r, r === 4 ? 0x80000n : c.regs[r] & M64);
    cpu.setRflags((c.flags & 0xcd5) | 2);
    cpu.halted = false; cpu.fault = null; cpu.rip = CODE;
    loadFx(cpu, c.fx);
    cpu.run(100);
    const regs: bigint[] = [];
    for (let r = 0; r < 16; r++) regs.push(cpu.reg64(r) & M64);
    const fx = saveFx(cpu);
    const m = new Map<number, number>();
    for (let k = 0; k < 4096; k++) if (mem.u8[DATA + k] !== (k < 256 ? c.mem[k] : 0)) m.set(k, mem.u8[DATA + k]);
    const f = cpu.fault;
    return { regs, flags: cpu.getRflags() & 0xcd5, fault: f ? f.vector : -1, faultAt: f ? f.rip - CODE : -1, fx, mem: m };
  }
}



/**
 * Differences between host and emulator results (empty when equal); pointer fields (FOP/FIP/FDP) are ignored.
 * A fault compares its vector only, unless `atFault`: then also where it was raised and the FP state at it
 * (FCW FSW tags ST0-7 MXCSR XMM), as for #MF (SDM Vol. 3A §6.15), whose frame leaves the FP state to the handler.
 */
export function diff(h: FResult, e: FResult, ignoreMem: (off: number) => boolean = () => false, atFault = false): string[] {
  const d: string[] = [];
  if (h.fault !== e.fault) { d.push(`fault host ${h.fault} emu ${e.fault}`); return d; }
  if (h.fault >= 0 && !atFault) return d;
  if (h.fault >= 0 && h.faultAt !== e.faultAt) d.push(`fault at host +${h.faultAt} emu +${e.faultAt}`);
  if (h.fault < 0) for (let r = 0; r < 16; r++) if (r !== 4 && h.regs[r] !== e.regs[r]) d.push(`r${r} host ${h.regs[r].toString(16)} emu ${e.regs[r].toString(16)}`);
  if (h.fault < 0 && h.flags !== e.flags) d.push(`flags host ${h.flags.toString(16)} emu ${e.flags.toString(16)}`);
  const hx = (b: Uint8Array, o: number, n: number) => Array.from(b.subarray(o, o + n)).reverse().map((v) => v.toString(16).padStart(2, '0')).join('');
  const fields: [string, number, number][] = [['fcw', 0, 2], ['fsw', 2, 2], ['ftw', 4, 1], ['mxcsr', 24, 4]];
  for (let k = 0; k < 8; k++) fields.push([`st${k}`, 32 + 16 * k, 10]);
  for (let k = 0; k < 16; k++) fields.push([`xmm${k}`, 160 + 16 * k, 16]);
  for (const [n, o, len] of fields) {
    if (n.startsWith('st') && !(h.fx[4] & (1 << ((((h.fx[3] >> 3) & 7) + Number(n.slice(2))) & 7)))) continue; // empty register: contents not compared
    const a = hx(h.fx, o, len), b = hx(e.fx, o, len);
    if (a !== b) d.push(`${n} host ${a} emu ${b}`);
  }
  const keys = new Set([...h.mem.keys(), ...e.mem.keys()]);
  for (const k of [...keys].sort((a, b) => a - b)) {
    if (ignoreMem(k)) continue;
    if (h.mem.get(k) !== e.mem.get(k)) d.push(`mem+${k.toString(16)} host ${h.mem.get(k)?.toString(16)} emu ${e.mem.get(k)?.toString(16)}`);
  }
  return d;
}

// ---- x87 results two correct CPUs may differ in (shared by the x87 host tests)

/**
 * Differences a transcendental (FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1) may show between two correct
 * CPUs: the SDM (Vol. 1 8.3.10) bounds its error by 1 ulp (round to nearest; 1.5 ulps in the directed modes), not
 * to the correctly rounded value, so two CPUs (and the emulator, whose results test/fp/x87.test.ts holds to the
 * reference) may differ by up to 2 ulps in a result register, and C1 (rounded up) may differ with it. Nothing else.
 */
export function transOk(s: string): boolean {
  const m = /^(st\d|fsw) host ([0-9a-f]+) emu ([0-9a-f]+)$/.exec(s);
  if (!m) return false;
  const h = BigInt('0x' + m[2]), e = BigInt('0x' + m[3]);
  if (m[1] === 'fsw') return (h ^ e) === 0x200n;
  if (h >> 79n !== e >> 79n) return false;
  // position among the values of one sign: biased exponent and fraction (the explicit integer bit 63 dropped)
  const ord = (x: bigint) => (((x >> 64n) & 0x7fffn) << 63n) | (x & ((1n << 63n) - 1n));
  const d = ord(h) - ord(e);
  return d >= -2n && d <= 2n;
}

/** FYL2XP1 outside its domain: result and exception flags undefined; the stack (TOP) and the rest still compared. */
export function st0Defined(c: FCase): boolean {
  const dv = new DataView(c.fx.buffer), top = (dv.getUint16(2, true) >> 11) & 7;
  if (!(c.fx[4] & (1 << top))) return true; // empty: stack underflow, defined
  const o = 32; // FXSAVE image: ST(0) first (stack order); the tag bits are by physical register
  return fyl2xp1Defined(dv.getUint16(o + 8, true), dv.getBigUint64(o, true));
}
export function undefinedOk(s: string): boolean {
  const m = /^(st\d|fsw) host ([0-9a-f]+) emu ([0-9a-f]+)$/.exec(s);
  return m !== null && (m[1] !== 'fsw' || ((parseInt(m[2], 16) ^ parseInt(m[3], 16)) & 0x3800) === 0);
}

// ---- deterministic random inputs, weighted to edge cases
let seed = 0x9e3779b9;
export function setSeed(s: number): void { seed = s >>> 0 || 1; }
export function rnd(): number { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; }
export function pick<T>(xs: readonly T[]): T { return xs[rnd() % xs.length]; }

const F32S = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xff812345, 0x7fa00001, 1, 0x807fffff,
  0x00800000, 0x7f7fffff, 0x3f800000, 0xbf800000, 0x3fc00000, 0x4f000000, 0xcf000000, 0x5f000000, 0x3effffff, 0x40490fdb, 0x4b400000];
const F64S: [number, number][] = [[0, 0], [0, 0x80000000], [0, 0x7ff00000], [0, 0xfff00000], [0, 0x7ff80000], [0x1234, 0xfff80000],
  [5, 0x7ff40000], [1, 0], [0xffffffff, 0x800fffff], [0, 0x00100000], [0xffffffff, 0x7fefffff], [0, 0x3ff00000], [0, 0xbff00000],
  [0, 0x41e00000], [0, 0xc1e00000], [0, 0x43e00000], [0x54442d18, 0x400921fb], [0, 0x3fe00000], [1, 0x3ff00000], [0, 0x43300000]];

/** A random float32 bit pattern: half specials, half random finite with a moderate exponent. */
export function rf32(): number {
  const r = rnd() % 8;
  if (r < 3) return pick(F32S) >>> 0;
  if (r < 4) return rnd() >>> 0;
  return (((rnd() & 0x80000000) | ((110 + (rnd() % 36)) << 23) | (rnd() & 0x7fffff)) >>> 0);
}
export function rf64(): [number, number] {
  const r = rnd() % 8;
  if (r < 3) return pick(F64S);
  if (r < 4) return [rnd(), rnd()];
  return [rnd(), ((rnd() & 0x80000000) | ((1000 + (rnd() % 48)) << 20) | (rnd() & 0xfffff)) >>> 0];
}
export function ri32(): number {
  const r = rnd() % 6;
  if (r === 0) return pick([0, 1, -1, 0x7fffffff, 0x80000000, 0x7fff, 0x8000, 0xff, 0x80]) >>> 0;
  if (r === 1) return rnd() & 0xffff;
  return rnd();
}

/** Fill 16 bytes at `o` of `b` with lanes of the given kind: 0 float32, 1 float64, 2 integers. */
export function fillLanes(b: Uint8Array, o: number, kind: number): void {
  const dv = new DataView(b.buffer, b.byteOffset);
  for (let k = 0; k < 4; k++) {
    if (kind === 0) dv.setUint32(o + 4 * k, rf32(), true);
    else if (kind === 2) dv.setUint32(o + 4 * k, ri32(), true);
    else if (k % 2 === 0) { const [lo, hi] = rf64(); dv.setUint32(o + 4 * k, lo, true); dv.setUint32(o + 4 * k + 4, hi, true); }
  }
}

export function freshFx(): Uint8Array {
  const fx = new Uint8Array(512);
  const dv = new DataView(fx.buffer);
  dv.setUint16(0, 0x37f, true);
  dv.setUint32(24, 0x1f80, true);
  dv.setUint32(28, 0xffff, true);
  return fx;
}
