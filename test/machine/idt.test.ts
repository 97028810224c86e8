import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/index.js';
import { assembleGuestBytes, EXIT_AL } from '../helpers/asm.js';

// A guest that builds a 64-bit IDT at 0x200000 with gates for vectors 0, 3, 6, 13, 14 and 0x80, then
// raises each and checks what the handler saw (error code, CR2, the pushed frame, IF cleared).
/** GATE vec, handler: a 64-bit interrupt gate (present, DPL 0, selector 0x08) in the IDT at 0x200000. */
const GATE_MACRO = `
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
`;
const IDT_GUEST = `${GATE_MACRO}_start:
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
    // #UD finds an all-zero gate, no interrupt or trap gate: #GP(8 * 6 + IDT + EXT) (the INT n pseudocode in
    // SDM Vol. 2A checks the type before P); benign then contributory: the #GP is delivered and finds the
    // same: contributory in contributory is #DF (SDM Vol. 3A Table 6-5), whose gate is no gate either: the
    // #GP there (vector 8 << 3 | IDT | EXT = 0x43, §6.13) is a triple fault. The report names the
    // instruction that started it, CR2 and its bytes (ud2: 0f 0b)
    expect(r.message).toMatch(/^triple fault \(#GP general protection \(error code 0x43\) while delivering #DF double fault \(error code 0x0\)\) at RIP 0x10[0-9a-f]{4}, CR2 0x0; instruction bytes: 0f 0b( [0-9a-f]{2}){13}$/);
  });
});

// Instruction fetches that fault (SDM Vol. 3A §4.7, §6.15 #PF): CR2 = the linear address of the byte the
// fetch could not use — for an instruction that runs into an inaccessible page, that page's first byte;
// the pushed RIP is the instruction's start; error code bit 4 (I/D) is set (EFER.NXE = 1), bit 0 (P) says
// whether a present translation existed. The handler stores CR2, the error code and the pushed RIP at
// 0x1fd000 and ends the run. Each case runs in a fresh machine after an earlier #PF left CR2 at 0x18, so a
// CR2 left over from an earlier fault (or never written) fails the check.
function fetchFaultGuest(setup: string): string {
  return `${GATE_MACRO}_start:
  GATE 0, h_de
  GATE 14, h_pf
  lea idtr(%rip), %rax
  lidt (%rax)
  movq $1, %r14                 # first fault: a read of unmapped 0x18 (CR2 0x18), resumed after it
  movq $0x18, %rsi
  mov (%rsi), %rax
  xor %r14, %r14
${setup}
h_pf:
  test %r14, %r14; jz 1f
  addq $3, 8(%rsp)              # skip the 3-byte mov (%rsi), %rax
  add $8, %rsp
  iretq
1: mov %cr2, %rax; mov %rax, 0x1fd000
  mov (%rsp), %rax; mov %rax, 0x1fd008
  mov 8(%rsp), %rax; mov %rax, 0x1fd010
  mov $0, %al
  ${EXIT_AL}
h_de:                           # #DE (no error code): 0xde in the error-code slot
  mov %cr2, %rax; mov %rax, 0x1fd000
  movq $0xde, 0x1fd008
  mov (%rsp), %rax; mov %rax, 0x1fd010
  mov $0, %al
  ${EXIT_AL}
.data
idtr: .word 256*16-1
      .quad 0x200000
`;
}

function fetchFault(setup: string, memSize?: number) {
  const m = Machine.fromElf(assembleGuestBytes(fetchFaultGuest(setup)), memSize === undefined ? {} : { memSize });
  const r = m.run(10_000);
  expect(r.message).toBeUndefined();
  expect(r.end).toBe('exit');
  const v = m.memRead(0x1fd000, 24);
  const q = (k: number) => Number(new DataView(v.buffer, v.byteOffset).getBigUint64(k * 8, true));
  return { cr2: q(0), errorCode: q(1), rip: q(2) };
}

describe('#PF on instruction fetch: CR2, error code and RIP as the SDM gives them', () => {
  it('a jump into identity-mapped memory past the end of RAM: CR2 = the target, P | I/D', () => {
    // the first 4 GiB are identity-mapped (present); executing outside RAM is refused with a #PF
    expect(fetchFault('  mov $0x80000000, %eax\n  jmp *%rax')).toEqual({ cr2: 0x80000000, errorCode: 0x11, rip: 0x80000000 });
  });

  it('an instruction that runs from the last bytes of RAM past its end: CR2 = the first byte after RAM', () => {
    const mem = 4 << 20;
    // movabs $imm64, %rax (10 bytes) starting 2 bytes before the end of RAM
    expect(fetchFault(`  movw $0xb848, ${mem - 2}\n  mov $${mem - 2}, %eax\n  jmp *%rax`, mem))
      .toEqual({ cr2: mem, errorCode: 0x11, rip: mem - 2 });
  });

  it('an instruction that runs into a not-present page: CR2 = that page\'s first byte, I/D without P', () => {
    // PT entry 511 (0x8ff8, page 0x1ff000) cleared: the movabs at 0x1feffe needs its bytes 2-9 from there
    expect(fetchFault('  movq $0, 0x8ff8\n  invlpg 0x1ff000\n  movw $0xb848, 0x1feffe\n  mov $0x1feffe, %eax\n  jmp *%rax'))
      .toEqual({ cr2: 0x1ff000, errorCode: 0x10, rip: 0x1feffe });
  });

  it('an instruction that cannot be fetched does not change CR2 when an earlier one faults first', () => {
    // div %ecx (ECX 0: #DE) at 0x1feffc, then the movabs at 0x1feffe that runs into the not-present page:
    // the #DE is taken, the movabs never runs, so CR2 still holds the first fault's 0x18
    expect(fetchFault('  movq $0, 0x8ff8\n  invlpg 0x1ff000\n  movw $0xf1f7, 0x1feffc\n  movw $0xb848, 0x1feffe\n' +
      '  xor %ecx, %ecx\n  mov $0x1feffc, %eax\n  jmp *%rax')).toEqual({ cr2: 0x18, errorCode: 0xde, rip: 0x1feffc });
  });
});
