// The trap flag and DR0-DR3 breakpoints (issue 11; SDM Vol. 3B ch. 17 "Debug, branch profile, TSC and intel
// resource director technology features", §17.2-17.3). Single-step is compared with the host CPU: the same bytes
// run natively in Linux user mode with TF set by POPF (test/cpu/native/step.c records each SIGTRAP's RIP) and in the
// emulator at CPL 3 with a #DB handler that logs each pushed RIP. Breakpoints are checked against the SDM.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Emu, buildNative, type Case } from './hostrun.js';
import { assemble } from './asm.js';
import { CODE, loadUser, runUserTo, dbLog } from './usermode.js';

const ON = 'pushfq; orq $0x100, (%rsp); popfq;', OFF = ';pushfq; andq $-0x101, (%rsp); popfq';

function hostTraps(codes: string[]): number[][] {
  const r = spawnSync(buildNative('step'), { input: codes.join('\n') + '\n', encoding: 'utf8' });
  if (r.status !== 0) throw new Error('step runner failed: ' + r.stderr);
  return r.stdout.trim().split('\n').map((l) => l.split(' ').slice(1).map((x) => parseInt(x, 16)));
}

function emuRun(code: string, setup?: (e: Emu) => void): { e: Emu; log: ReturnType<typeof dbLog> } {
  const e = new Emu();
  const c: Case = { code, regs: new Array(16).fill(0n), flags: 0, seed: 1 };
  loadUser(e, c, true);
  setup?.(e);
  runUserTo(e, CODE + code.length / 2);
  expect(e.cpu.fault).toBeNull();
  return { e, log: dbLog(e) };
}

describe('single-step (TF) vs the host CPU', () => {
  const bodies = [
    'nop; nop',
    'mov $3, %ecx; mov $0x700000, %edi; rep stosb', //         a trap after each REP iteration, RIP at the REP
    'xor %ecx, %ecx; mov $0x700000, %edi; rep stosb; nop', //  RCX = 0: one trap
    'mov %ss, %eax; mov %eax, %ss; nop; nop', //               MOV SS holds the trap until after the next instruction
    'call 1f; jmp 2f; 1: ret; 2: nop', //                       traps at branch targets
    'mov $5, %ecx; 1: dec %ecx; jnz 1b',
    // (no CPUID: under a hypervisor it is emulated, and the test machine's loses the trap after it)
    'pushfq; popq %rax; bswap %eax; lea 8(%rax), %rbx; xchg %rax, %rbx',
    'mov $0x700000, %edi; movq $7, (%rdi); addq $1, (%rdi); lock incl 4(%rdi)',
    'pushfq; andq $-0x101, (%rsp); popfq; nop; nop', //         the POPF that clears TF still traps
  ];
  it('traps after the same instructions, with the same RIPs', () => {
    const codes = assemble(bodies.map((b) => ON + b + OFF));
    const host = hostTraps(codes);
    codes.forEach((code, k) => {
      const { log } = emuRun(code);
      expect(log.rip, bodies[k]).toEqual(host[k]);
      // every trap is a single-step: DR6.BS (bit 14) set, B0-B3 clear
      for (const d of log.dr6) expect(d & 0x400f).toBe(0x4000);
    });
    expect(host.map((t) => t.length).reduce((a, b) => a + b)).toBeGreaterThan(50);
  });
});

const DATA = 0x700000;
/** DR7 for breakpoint n: L enable, R/W (0 execute, 1 write, 3 read/write), LEN (1, 2, 4, 8 bytes). */
function dr7(n: number, rw: number, len: 1 | 2 | 4 | 8): number {
  return (1 << (2 * n)) | (rw << (16 + 4 * n)) | ({ 1: 0, 2: 1, 8: 2, 4: 3 }[len] << (18 + 4 * n));
}
function withDr(bps: [number, number, number, 1 | 2 | 4 | 8][]): (e: Emu) => void {
  return (e) => { let d7 = 0x400; for (const [n, addr, rw, len] of bps) { e.cpu.dr[n] = addr; d7 |= dr7(n, rw, len); } e.cpu.dr[7] = d7; };
}
/** Offsets of the instructions of `src` (the bytes of each prefix), to name breakpoint RIPs. */
function ends(lines: string[]): number[] { return assemble(lines.map((_, k) => lines.slice(0, k + 1).join(';'))).map((h) => h.length / 2); }

describe('DR0-DR3 breakpoints (SDM Vol. 3B §17.2.4, §17.3.1)', () => {
  it('execute breakpoint: #DB fault before the instruction (RIP at it, DR6.B0), not again once the handler sets RF', () => {
    const lines = ['xor %eax, %eax', 'inc %eax', 'inc %eax', 'nop'];
    const [code] = assemble([lines.join(';')]);
    const at = ends(lines)[0]; // the first INC
    const { e, log } = emuRun(code, withDr([[0, CODE + at, 0, 1]]));
    expect(log.rip).toEqual([at]);
    expect(log.dr6[0] & 0xf).toBe(1);
    expect(Number(e.cpu.reg64(0))).toBe(2); // the INC ran exactly once
  });

  it('data write breakpoint: #DB trap after the writing instruction; reads do not hit it; LEN masks the low address bits', () => {
    const lines = ['movb $1, 0x70000c', 'movb $1, 0x70000a', 'mov 0x700008, %eax', 'movw $1, 0x700007', 'nop'];
    const [code] = assemble([lines.join(';')]);
    const end = ends(lines);
    // DR0 = DATA+9 with LEN 4 covers 0x700008-0x70000b (bits 1:0 ignored)
    const { log } = emuRun(code, withDr([[0, DATA + 9, 1, 4]]));
    expect(log.rip).toEqual([end[1], end[3]]); // after the byte write at +a, after the word write straddling +8
    for (const d of log.dr6) expect(d & 0x400f).toBe(1);
  });

  it('read/write breakpoint: reads hit too; one instruction hitting two breakpoints sets both B bits', () => {
    const lines = ['mov 0x700008, %eax', 'movq $0, 0x700010', 'nop'];
    const [code] = assemble([lines.join(';')]);
    const end = ends(lines);
    const { log } = emuRun(code, withDr([[1, DATA + 8, 3, 2], [2, DATA + 0x10, 3, 1], [3, DATA + 0x17, 1, 1]]));
    expect(log.rip).toEqual([end[0], end[1]]);
    expect(log.dr6.map((d) => d & 0xf)).toEqual([2, 4 | 8]);
  });

  it('a breakpoint disabled in DR7 (no L/G bit) is never raised', () => {
    const [code] = assemble(['movq $0, 0x700010; nop']);
    const { log } = emuRun(code, (e) => { e.cpu.dr[0] = DATA + 0x10; e.cpu.dr[7] = 0x400 | (1 << 16) | (2 << 18); });
    expect(log.rip).toEqual([]);
  });

  it('REP STOSB: the trap comes after the iteration that writes the watched byte, RIP at the REP', () => {
    const lines = ['mov $6, %ecx', 'mov $0x700020, %edi', 'rep stosb', 'nop'];
    const [code] = assemble([lines.join(';')]);
    const end = ends(lines);
    const { e, log } = emuRun(code, withDr([[0, DATA + 0x22, 1, 1]]));
    expect(log.rip).toEqual([end[1]]); // the REP's own address: iterations remain
    expect(Number(e.cpu.reg64(1))).toBe(0);
  });

  it('single-step and a data breakpoint in the same instruction: one #DB with BS and B0', () => {
    const lines = ['movb $1, 0x700030', 'nop'];
    const [code] = assemble([ON + lines.join(';') + OFF]);
    const { log } = emuRun(code, withDr([[0, DATA + 0x30, 1, 1]]));
    expect(log.dr6[0] & 0x400f).toBe(0x4001);
    expect(log.dr6.slice(1).every((d) => (d & 0x400f) === 0x4000)).toBe(true);
  });

  it('MOV SS holds the data breakpoint its own read hits until after the next instruction', () => {
    const lines = ['mov %ss, %eax', 'mov %eax, 0x700040', 'mov 0x700040, %ss', 'nop', 'nop'];
    const [code] = assemble([lines.join(';')]);
    const end = ends(lines);
    const { log } = emuRun(code, withDr([[0, DATA + 0x40, 3, 2]]));
    expect(log.rip).toEqual([end[1], end[3]]); // after the store; then after the NOP following MOV SS, not after MOV SS
  });
});
