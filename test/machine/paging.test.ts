import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/index.js';
import { assembleGuestBytes, EXIT_AL } from '../helpers/asm.js';

function run(src: string, max = 100_000) {
  const m = Machine.fromElf(assembleGuestBytes(src));
  return m.run(max);
}

describe('self-modifying code', () => {
  it('sees a store into the instruction right after it in the same block', () => {
    const r = run(`_start:
      lea target(%rip), %rax
      movb $42, 1(%rax)        # patch the immediate of the next instruction
    target:
      mov $0, %bl
      mov %bl, %al
      ${EXIT_AL}`);
    expect(r.end).toBe('exit');
    expect(r.status).toBe(42);
  });
  it('re-decodes a loop body patched on each iteration', () => {
    const r = run(`_start:
      xor %edx, %edx
      mov $5, %ecx
    again:
      lea target(%rip), %rax
      addb $1, 2(%rax)         # imm8 of "add $N, %dl" grows each time
    target:
      add $0, %dl
      dec %ecx
      jnz again
      mov %dl, %al             # 1+2+3+4+5
      ${EXIT_AL}`);
    expect(r.status).toBe(15);
  });
});

describe('paging', () => {
  it('honours a guest-built 4 KiB mapping, a read-only page (WP) and INVLPG', () => {
    // Map linear 0x40000000 (PD entry 0 of PDPT slot 1 -> new PT at 0x300000) to physical 0x280000, read-only.
    const r = run(`_start:
      # new PT at 0x300000 with entry 0 -> 0x280000, present, not writable
      movq $0x280001, 0x300000
      # PD at 0x5000 (second PD, covers 1..2 GiB): entry 0 -> PT, present+rw
      movq $0x300003, 0x5000
      mov %cr3, %rax; mov %rax, %cr3        # flush
      movq $0x1122334455667788, %rbx
      mov %rbx, 0x280008                     # write through the identity map
      mov 0x40000008, %rcx                   # read through the new mapping
      cmp %rbx, %rcx; jne bad
      # make it writable, INVLPG, write through the alias and read back physically
      movq $0x280003, 0x300000
      invlpg 0x40000000
      movq $7, 0x40000010
      cmpq $7, 0x280010; jne bad
      mov $0, %al
      ${EXIT_AL}
    bad: mov $1, %al
      ${EXIT_AL}`);
    expect(r.message).toBeUndefined();
    expect(r.status).toBe(0);
  });
  it('a hot, compiled call through a linear page remapped under it (INVLPG, then a CR3 reload) runs the new code', () => {
    // linear 0x40000000 -> physical 0x280000 ("mov $1, %eax; ret"), remapped to 0x290000 ("mov $2, %eax; ret")
    // with INVLPG at ECX = 100 and back with a CR3 reload at ECX = 50: compiled blocks linked to the old
    // translation (Block.l0/l1) must not be followed after either (sum 100*1 + 50*2 + 50*1 = 250)
    const r = run(`_start:
      movl $0x000001b8, 0x280000; movw $0xc300, 0x280004
      movl $0x000002b8, 0x290000; movw $0xc300, 0x290004
      movq $0x280003, 0x300000
      movq $0x300003, 0x5000
      mov %cr3, %rax; mov %rax, %cr3
      xor %ebx, %ebx
      mov $200, %ecx
    again:
      cmp $100, %ecx
      jne 1f
      movq $0x290003, 0x300000
      invlpg 0x40000000
    1:
      cmp $50, %ecx
      jne 2f
      movq $0x280003, 0x300000
      mov %cr3, %rax; mov %rax, %cr3
    2:
      mov $0x40000000, %rax
      call *%rax
      add %eax, %ebx
      dec %ecx
      jnz again
      cmp $250, %ebx
      jne bad
      mov $0, %al
      ${EXIT_AL}
    bad: mov $1, %al
      ${EXIT_AL}`, 1_000_000);
    expect(r.message).toBeUndefined();
    expect(r.status).toBe(0);
  });
  it('a write to a read-only page with CR0.WP raises #PF with error code 3', () => {
    const r = run(`_start:
      movq $0x280001, 0x300000
      movq $0x300003, 0x5000
      mov %cr3, %rax; mov %rax, %cr3
      movq $1, 0x40000000
      hlt`);
    expect(r.end).toBe('fault');
    expect(r.message).toMatch(/#PF.*error code 0x3\).*CR2 0x40000000/);
  });
});
