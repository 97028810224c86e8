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
