import { describe, it, expect } from 'vitest';
import { Machine, ElfError } from '../../src/index.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleGuestBytes, EXIT_AL } from '../helpers/asm.js';

/** A guest linked by ld with a script placing .text and .data/.bss (two PT_LOAD segments) where
 *  asked; ld is told not to check section overlaps, so it writes the bad layout for real. */
function linked(entry: string, textAt: number, dataAt: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-ld-'));
  writeFileSync(join(dir, 'g.S'), `.globl _start\n.text\n_start: mov $1, %al\n out %al, $0xf4\n.data\n.globl d\nd: .quad 1,2,3,4\n.bss\n.lcomm buf, 0x3000\n`);
  writeFileSync(join(dir, 'g.ld'), `ENTRY(${entry})
PHDRS { text PT_LOAD FLAGS(5); data PT_LOAD FLAGS(6); }
SECTIONS {
  .text 0x${textAt.toString(16)} : { *(.text) } :text
  .data 0x${dataAt.toString(16)} : { *(.data) } :data
  .bss : { *(.bss) } :data
}`);
  execFileSync('gcc', ['-nostdlib', '-static', '-no-pie', '-Wl,--build-id=none', '-Wl,--no-check-sections', '-Wl,-T,' + join(dir, 'g.ld'), '-o', join(dir, 'g.elf'), join(dir, 'g.S')], { stdio: 'ignore' });
  return readFileSync(join(dir, 'g.elf'));
}
/** Offset of program header k's field at byte `field` (p_offset 8, p_vaddr 16, p_align 48). */
const ph = (b: Uint8Array, k: number, field: number): number => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(32, true)) + 56 * k + field;

function run(src: string, opts: { memSize?: number; cmdline?: string } = {}, max = 1_000_000) {
  const out: number[] = [];
  const m = Machine.fromElf(assembleGuestBytes(src), { ...opts, consoleOut: (b) => out.push(b) });
  const r = m.run(max);
  return { ...r, out: Buffer.from(out).toString('latin1'), m };
}

describe('ELF loader', () => {
  const good = assembleGuestBytes('_start: mov $7, %al\n' + EXIT_AL);
  it('rejects a file that is not ELF', () => {
    expect(() => Machine.fromElf(new TextEncoder().encode('#!/bin/sh\necho hi\n'))).toThrow(ElfError);
  });
  it('rejects a truncated ELF', () => {
    expect(() => Machine.fromElf(good.subarray(0, 40))).toThrow(/shorter|outside/);
    expect(() => Machine.fromElf(good.subarray(0, 100))).toThrow(ElfError);
  });
  it('rejects 32-bit, big-endian, non-x86-64 and non-executable files', () => {
    const c = (f: (b: Uint8Array) => void) => { const b = new Uint8Array(good); f(b); return b; };
    expect(() => Machine.fromElf(c((b) => { b[4] = 1; }))).toThrow(/ELF64/);
    expect(() => Machine.fromElf(c((b) => { b[5] = 2; }))).toThrow(/little-endian/);
    expect(() => Machine.fromElf(c((b) => { b[18] = 40; b[19] = 0; }))).toThrow(/x86-64/);
    expect(() => Machine.fromElf(c((b) => { b[16] = 3; }))).toThrow(/ET_EXEC/);
  });
  it('rejects segments that do not fit in RAM or sit below 1 MiB', () => {
    const low = new Uint8Array(assembleGuestBytes('_start: hlt'));
    // p_paddr of the first program header
    const dv = new DataView(low.buffer);
    const phoff = Number(dv.getBigUint64(32, true));
    dv.setBigUint64(phoff + 24, 0x1000n, true);
    expect(() => Machine.fromElf(low)).toThrow(/below 1 MiB/);
    expect(() => Machine.fromElf(good, { memSize: 0x100000 })).toThrow(/memSize must be a multiple of 4096 between/); // InvalidArgumentError
  });
  it('the ld-linked layout used below is a valid guest when nothing overlaps', () => {
    const m = Machine.fromElf(linked('_start', 0x100000, 0x101000));
    expect(m.run(100)).toMatchObject({ end: 'exit', status: 1 });
  });
  it('rejects overlapping segments, naming both', () => {
    expect(() => Machine.fromElf(linked('_start', 0x100000, 0x100002))).toThrow(/segments 0 \(0x100000\+0x4\) and 1 \(0x100002\+0x3026\) overlap/);
  });
  it('rejects a zero fill (bss) over another segment\'s code', () => {
    // .data/.bss at 0x101000 with 0x3000 bytes of .bss: its zero fill covers .text at 0x102000
    expect(() => Machine.fromElf(linked('_start', 0x102000, 0x101000))).toThrow(/overlap/);
  });
  it('rejects an entry point outside every executable segment', () => {
    expect(() => Machine.fromElf(linked('d', 0x100000, 0x101000))).toThrow(/entry point 0x101000 is not inside the file data of an executable \(PF_X\) segment \(it lies in segment 1, which is not executable\)/);
    const b = new Uint8Array(linked('_start', 0x100000, 0x101000));
    new DataView(b.buffer).setBigUint64(24, 0x200000n, true);
    expect(() => Machine.fromElf(b)).toThrow(/entry point 0x200000 is not inside/);
    new DataView(b.buffer).setBigUint64(24, 0x101030n, true); // in .bss: zeros, not code
    expect(() => Machine.fromElf(b)).toThrow(/entry point 0x101030 .*segment 1/);
  });
  it('rejects p_filesz > p_memsz, a p_align that is not a power of two, and p_offset/p_vaddr not congruent', () => {
    const good = linked('_start', 0x100000, 0x101000);
    const edit = (f: (dv: DataView) => void) => { const b = new Uint8Array(good); f(new DataView(b.buffer)); return b; };
    expect(() => Machine.fromElf(edit((dv) => dv.setBigUint64(ph(good, 1, 32), 0x4000n, true)))).toThrow(/p_filesz \(0x4000\) larger than p_memsz/);
    expect(() => Machine.fromElf(edit((dv) => dv.setBigUint64(ph(good, 0, 48), 0x3000n, true)))).toThrow(/p_align 0x3000 is not a power of two/);
    expect(() => Machine.fromElf(edit((dv) => dv.setBigUint64(ph(good, 1, 8), dv.getBigUint64(ph(good, 1, 8), true) + 8n, true)))).toThrow(/not congruent modulo p_align 0x1000/);
    expect(() => Machine.fromElf(edit((dv) => dv.setUint32(20, 2, true)))).toThrow(/ELF version/);
  });
  it('runs a valid guest to its exit status', () => {
    const r = run('_start: mov $7, %al\n' + EXIT_AL);
    expect(r.end).toBe('exit');
    expect(r.status).toBe(7);
    expect(r.instructions).toBe(2);
  });
});

describe('boot contract', () => {
  it('enters in 64-bit mode with the documented registers and boot-info block', () => {
    const r = run(`_start:
      # RDI = boot info, RSP = 0x80000
      cmp $0x1000, %rdi; jne bad2
      cmp $0x80000, %rsp; jne bad3
      movabs $0x3149425446363858, %rax   # "X86FTBI1"
      cmp (%rdi), %rax; jne bad4
      cmpl $1, 8(%rdi); jne bad5
      mov 16(%rdi), %rax; cmp $0x4000000, %rax; jne bad6
      mov 24(%rdi), %rsi; movzbl (%rsi), %eax; cmp $'h', %al; jne bad7
      cmpl $5, 32(%rdi); jne bad8
      pushf; pop %rax; test $0x200, %eax; jnz bad9
      mov %cr0, %rax; cmp $0x80010033, %eax; jne bad10
      mov %cr4, %rax; cmp $0x620, %eax; jne bad11
      mov %cr3, %rax; cmp $0x2000, %eax; jne bad12
      mov %cs, %eax; cmp $8, %eax; jne bad13
      mov $0xc0000080, %ecx; rdmsr; cmp $0xd01, %eax; jne bad14
      mov $0, %al
      ${EXIT_AL}
      ${Array.from({ length: 20 }, (_, k) => `bad${k + 2}: mov $${k + 2}, %al\n ${EXIT_AL}`).join('\n')}`, { memSize: 64 << 20, cmdline: 'hello' });
    expect(r.end).toBe('exit');
    expect(r.status).toBe(0);
  });
  it('leaves page 0 unmapped: a null dereference without an IDT stops with a fault report', () => {
    const r = run('_start: mov (0), %rax\n hlt');
    expect(r.end).toBe('fault');
    expect(r.message).toMatch(/#PF/);
    expect(r.message).toMatch(/CR2 0x0/);
    expect(r.message).toMatch(/48 8b 04 25 00 00 00 00/);
  });
  it('reports #UD with the instruction bytes', () => {
    const r = run('_start: nop\n ud2\n');
    expect(r.end).toBe('fault');
    expect(r.message).toMatch(/#UD.*0f 0b/);
    expect(r.instructions).toBe(1);
  });
  it('HLT with interrupts disabled ends the run as halted', () => {
    const r = run('_start: nop\n nop\n hlt\n');
    expect(r.end).toBe('halt');
    expect(r.instructions).toBe(3);
  });
});

describe('instruction counting', () => {
  it('run(budget) retires exactly the budget', () => {
    const m = Machine.fromElf(assembleGuestBytes('_start: inc %rax\n jmp _start\n'));
    for (const n of [1, 2, 3, 17, 1000, 65537]) {
      const before = m.cpu.icount;
      m.cpu.run(n);
      expect(m.cpu.icount - before).toBe(n);
    }
    // every other instruction is INC: the count is visible in RAX
    expect(m.cpu.regs[0]).toBe(Math.ceil(m.cpu.icount / 2));
  });
});

describe('malformed ELF files', () => {
  it('1,000 random corruptions of a real ELF give ElfError or a guest-level run, never another exception', () => {
    const good = assembleGuestBytes('_start: mov $3, %al\n' + EXIT_AL + 'nop\n'.repeat(64));
    let s = 0x1234567;
    const rnd = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s; };
    let elfErrors = 0, runs = 0;
    for (let n = 0; n < 1000; n++) {
      const b = new Uint8Array(good);
      // flip bytes in the headers (ELF header and program headers), where structure lives
      const flips = 1 + (rnd() % 4);
      for (let k = 0; k < flips; k++) b[rnd() % 0x100] = rnd() & 0xff;
      const img = rnd() % 10 === 0 ? b.subarray(0, rnd() % b.length) : b; // sometimes also truncated
      let m: Machine;
      try { m = Machine.fromElf(img, { memSize: 8 << 20 }); } catch (e) {
        if (!(e instanceof ElfError)) throw e;
        elfErrors++;
        continue;
      }
      const r = m.run(10_000);
      expect(r.end).not.toBe('internal-error');
      runs++;
    }
    expect(elfErrors).toBeGreaterThan(100);
    expect(runs).toBeGreaterThan(100);
  });
});
