// Tiny assembler guests for the record/replay bench and tests: a timer-interrupt guest whose memory
// and output depend on where the interrupts land, and an integer-only guest with no inputs at all.
// Assembled with the host's gcc (bare-metal ELF loaded at 1 MiB).
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Programs the PIC and the PIT (divisor `divisor`, mode 2) and takes IRQ 0 while it mixes numbers
 * in a loop; the handler stores the interrupted RCX/R8 into a ring and prints '.' every 8 ticks.
 * Also reads RDTSC every 4096 iterations and RDRAND every 65536. Exits (status 7) after `ticks`
 * interrupts, printing the final mix as 16 hex digits.
 */
/** Assembler: print a 64-bit register as 16 hex digits and a newline on COM1, then exit with `status`. */
function printHexAndExit(reg: string, status: number): string {
  return `  mov $16, %esi
3:
  rol $4, %${reg}
  mov %${reg}, %rax
  and $0xf, %eax
  cmp $10, %eax
  jb 4f
  add $('a' - '0' - 10), %eax
4:
  add $'0', %eax
  mov $0x3f8, %dx
  out %al, %dx
  dec %esi
  jnz 3b
  mov $10, %al
  out %al, %dx
  mov $${status}, %al
  out %al, $0xf4`;
}

/** Timer-interrupt guest: spins (an xorshift mix into a 32 KiB ring, RDTSC every 4096 loops, RDRAND every 65536)
 *  until `ticks` PIT interrupts (divisor `divisor`: 1193 = 1 kHz) AND at least `minLoops` loops (~17 instructions each),
 *  then prints r8 and exits 7. Its length follows host time under record; `minLoops` gives tests a lower bound in
 *  instructions that does not depend on the machine's speed or load. */
export function timerGuestSource(ticks = 40, divisor = 1193, minLoops = 0): string {
  return `
.set TICKS, 0x210000
.set RING, 0x211000
.set BUF, 0x220000
_start:
  lea timer(%rip), %rax
  mov $(0x200000 + 0x20 * 16), %rbx
  mov %ax, (%rbx)
  movw $0x08, 2(%rbx)
  movw $0x8e00, 4(%rbx)
  shr $16, %rax
  mov %ax, 6(%rbx)
  shr $16, %rax
  mov %eax, 8(%rbx)
  movl $0, 12(%rbx)
  lea idtr(%rip), %rax
  lidt (%rax)
  movq $0, TICKS
  # PIC: vectors 0x20/0x28, only IRQ 0 unmasked
  mov $0x11, %al; out %al, $0x20; out %al, $0xa0
  mov $0x20, %al; out %al, $0x21
  mov $0x28, %al; out %al, $0xa1
  mov $4, %al; out %al, $0x21
  mov $2, %al; out %al, $0xa1
  mov $1, %al; out %al, $0x21; out %al, $0xa1
  mov $0xfe, %al; out %al, $0x21
  mov $0xff, %al; out %al, $0xa1
  # PIT channel 0, mode 2, divisor
  mov $0x34, %al; out %al, $0x43
  mov $(${divisor} & 0xff), %al; out %al, $0x40
  mov $(${divisor} >> 8), %al; out %al, $0x40
  xor %ecx, %ecx
  mov $0x9e3779b97f4a7c15, %r8
  xor %r9, %r9
  sti
loop:
  inc %rcx
  mov %r8, %rax
  shl $13, %rax
  xor %rax, %r8
  mov %r8, %rax
  shr $7, %rax
  xor %rax, %r8
  mov %r8, %rax
  shl $17, %rax
  xor %rax, %r8
  mov %rcx, %rdx
  and $0xfff, %rdx
  mov %r8, BUF(,%rdx,8)
  test $0xfff, %ecx
  jnz 1f
  rdtsc
  add %rax, %r9
1:
  test $0xffff, %ecx
  jnz 2f
  rdrand %rax
  xor %rax, %r9
2:
  cmpq $${ticks}, TICKS
  jb loop
  cmp $${minLoops}, %rcx
  jb loop
  cli
  # print r8 in hex and exit 7
${printHexAndExit('r8', 7)}
  hlt

timer:
  push %rax
  push %rdx
  mov TICKS, %rax
  inc %rax
  mov %rax, TICKS
  and $0xff, %eax
  mov %rcx, RING(,%rax,8)
  xor %r8, RING+2048(,%rax,8)
  test $7, %al
  jnz 5f
  mov $'.', %al
  mov $0x3f8, %dx
  out %al, %dx
5:
  mov $0x20, %al
  out %al, $0x20
  pop %rdx
  pop %rax
  iretq

.align 8
idtr:
  .word 0x30 * 16 - 1
  .quad 0x200000
`;
}

/** No inputs at all: `n` iterations of an integer mix, prints the result, exits 0. */
export function integerGuestSource(n = 2_000_000): string {
  return `
_start:
  mov $${n}, %rcx
  mov $0x12345678, %r8
  xor %r9, %r9
1:
  imul $0x5bd1e995, %r8, %r8
  add %rcx, %r8
  mov %r8, %rax
  shr $13, %rax
  xor %rax, %r8
  mov %r8, %rdx
  and $0x3ff, %rdx
  add %r8, 0x300000(,%rdx,8)
  add 0x300000(,%rdx,8), %r9
  dec %rcx
  jnz 1b
${printHexAndExit('r9', 0)}
  hlt
`;
}

/** Assemble `source` (entry _start) into an ELF file; returns its path. */
export function assemble(source: string, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-bench-'));
  const src = join(dir, `${name}.S`), out = join(dir, `${name}.elf`);
  writeFileSync(src, `.globl _start\n.text\n${source}\n`);
  execFileSync('gcc', ['-nostdlib', '-static', '-no-pie', '-Wl,-Ttext-segment=0x100000', '-Wl,--build-id=none', '-o', out, src]);
  return out;
}
