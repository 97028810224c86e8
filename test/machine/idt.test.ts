import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/index.js';
import { assembleGuestBytes, EXIT_AL } from '../helpers/asm.js';

// A guest that builds a 64-bit IDT at 0x200000 with gates for vectors 0, 3, 6, 13, 14 and 0x80, then
// raises each and checks what the handler saw (error code, CR2, the pushed frame, IF cleared).
const IDT_GUEST = `
.macro GATE vec, handler
  lea \\handler(%rip), %rax
  mov $(0x200000 + \\vec * 16), %rbx
  mov %ax, (%rbx)
  movw $0x08, 2(%rbx)
  movw $0x8e00, 4(%rbx)       # present, DPL 0, 64-bit interrupt gate
  shr $16, %rax
  mov %ax, 6(%rbx)
  shr $16, %rax
  mov %eax, 8(%rbx)
  movl $0, 12(%rbx)
.endm
_start:
  GATE 0, h_de
  GATE 3, h_bp
  GATE 6, h_ud
  GATE 13, h_gp
  GATE 14, h_pf
  GATE 0x80, h_soft
  lea idtr(%rip), %rax
  lidt (%rax)
  xor %r15, %r15              # r15 collects a bit per successful check
  # #DE: divide by zero; the handler skips the 2-byte DIV
  mov $5, %eax; xor %ecx, %ecx; xor %edx, %edx
de_at: div %ecx
  # #UD
ud_at: ud2
  # #PF: write to unmapped page 0 at 0x18
  movq $0x18, %rsi
pf_at: movq $1, (%rsi)
  # #BP
  int3
  # INT 0x80
  mov $0x1234, %rax
  int $0x80
  # #GP: non-canonical address
  movabs $0x8000000000000000, %rsi
gp_at: mov (%rsi), %rax
  mov %r15d, %eax
  ${EXIT_AL}

h_de:
  lea de_at(%rip), %rax; cmp %rax, (%rsp); jne 1f
  cmpq $0x08, 8(%rsp); jne 1f
  testq $0x200, 16(%rsp); jnz 1f
  or $1, %r15
1: addq $2, (%rsp)
  iretq
h_ud:
  lea ud_at(%rip), %rax; cmp %rax, (%rsp); jne 1f
  or $2, %r15
1: addq $2, (%rsp)
  iretq
h_pf:
  cmpq $2, (%rsp); jne 1f        # error code: not present, write, supervisor
  mov %cr2, %rax; cmp $0x18, %rax; jne 1f
  lea pf_at(%rip), %rax; cmp %rax, 8(%rsp); jne 1f
  or $4, %r15
1: add $8, %rsp
  addq $7, (%rsp)                # skip movq $1,(%rsi) (7 bytes)
  iretq
h_bp:
  or $8, %r15                    # INT3 is a trap: RIP already points after it
  iretq
h_soft:
  cmp $0x1234, %rax; jne 1f
  or $16, %r15
1: iretq
h_gp:
  cmpq $0, (%rsp); jne 1f
  lea gp_at(%rip), %rax; cmp %rax, 8(%rsp); jne 1f
  or $32, %r15
1: add $8, %rsp
  addq $3, (%rsp)
  iretq
.data
idtr: .word 256*16-1
      .quad 0x200000
`;

describe('exceptions through the guest IDT', () => {
  it('delivers #DE, #UD, #PF (error code, CR2), #BP, INT n and #GP, and IRETQ resumes', () => {
    const m = Machine.fromElf(assembleGuestBytes(IDT_GUEST));
    const r = m.run(10_000);
    expect(r.message).toBeUndefined();
    expect(r.end).toBe('exit');
    expect(r.status).toBe(63);
  });

  it('a fault while delivering through a missing gate escalates to #DF and then a triple fault', () => {
    const m = Machine.fromElf(assembleGuestBytes(`
_start:
  lea idtr(%rip), %rax
  lidt (%rax)            # an IDT whose gates are all not present
  ud2
.data
idtr: .word 255
      .quad 0x200000
`));
    const r = m.run(1000);
    expect(r.end).toBe('fault');
    expect(r.message).toMatch(/triple fault/);
  });
});
