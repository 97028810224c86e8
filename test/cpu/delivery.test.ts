// Exception delivery from CPL 3 through system tables (IDT, GDT, TSS) on supervisor-only pages, and the
// frame it pushes (issue 11). Judged against the SDM: system-table accesses are implicit supervisor-mode
// accesses whatever the CPL (Vol. 3A §4.6); fault-class exceptions push RFLAGS with RF set (§17.3.1.1);
// the 64-bit frame is SS, RSP, RFLAGS, CS, RIP (and the error code) on the RSP0 stack (§6.14).
import { describe, it, expect } from 'vitest';
import { Emu, type Case } from './hostrun.js';

const IDT = 0x601000, TSS = 0x602000, GDT = 0x603000, KSTACK = 0x605ff0, HANDLER = 0x100800, PT = 0xe00000;

/** Kernel tables on supervisor-only pages (the harness's 4 KiB page table covers 0x600000-0x7fffff). */
function setup(e: Emu): void {
  const dv = e.mem.dv, cpu = e.cpu;
  for (const page of [IDT, TSS, GDT, KSTACK & ~0xfff]) dv.setUint32(PT + 8 * ((page - 0x600000) >> 12), page | 3, true); // P RW, no U/S
  // GDT: null, kernel code64 (0x08), kernel data (0x10), user code32, user data (0x23), user code64 (0x2b)
  const gdt = [[0, 0], [0xffff, 0x00af9a00], [0xffff, 0x00cf9200], [0xffff, 0x00cffa00], [0xffff, 0x00cff200], [0xffff, 0x00affa00]];
  gdt.forEach(([lo, hi], k) => { dv.setUint32(GDT + 8 * k, lo, true); dv.setUint32(GDT + 8 * k + 4, hi, true); });
  cpu.gdtBase = GDT; cpu.gdtLimit = gdt.length * 8 - 1;
  for (const v of [6, 13, 14]) { // 64-bit interrupt gates, DPL 0, selector 0x08
    const g = IDT + 16 * v;
    dv.setUint32(g, (0x08 << 16) | (HANDLER & 0xffff), true);
    dv.setUint32(g + 4, (HANDLER & 0xffff0000) | 0x8e00, true);
    dv.setUint32(g + 8, 0, true); dv.setUint32(g + 12, 0, true);
  }
  cpu.idtBase = IDT; cpu.idtLimit = 256 * 16 - 1;
  dv.setUint32(TSS + 4, KSTACK, true); dv.setUint32(TSS + 8, 0, true); // RSP0
  cpu.tssBase = TSS; cpu.tssLimit = 0x67;
  e.mem.u8[HANDLER] = 0xf4; // HLT
}

/** Runs `code` at CPL 3 (user code64, RSP 0x80000); returns the frame the handler saw (RIP, CS, RFLAGS, RSP, SS, error code?). */
function runUser(code: string, flags: number, errorCode: boolean): { frame: bigint[]; cpu: Emu['cpu'] } {
  const e = new Emu();
  const c: Case = { code, regs: new Array(16).fill(0n), flags, seed: 1 };
  c.regs[7] = BigInt(TSS); // a supervisor-only address for the #PF case
  e.load(c);
  setup(e);
  const cpu = e.cpu;
  cpu.flushTlb();
  cpu.setCpl(3); cpu.sel[1] = 0x2b; cpu.sel[2] = 0x23;
  cpu.run(100);
  expect(cpu.fault).toBeNull();
  expect(cpu.cpl).toBe(0);
  expect(cpu.rip).toBe(HANDLER + 1);
  const sp = Number(cpu.reg64(4));
  const frame: bigint[] = [];
  for (let k = 0; k < (errorCode ? 6 : 5); k++) frame.push(e.mem.dv.getBigUint64(sp + 8 * k, true));
  return { frame, cpu };
}

describe('exception delivery from CPL 3', () => {
  it('reads the IDT, GDT and TSS on supervisor-only pages (no triple fault); #UD frame with RF set', () => {
    const { frame } = runUser('0f0b', 0x0d5, false); // UD2
    // RIP, CS, RFLAGS (the initial flags with RF; IF stays clear), RSP, SS
    expect(frame).toEqual([0x100000n, 0x2bn, BigInt(0x0d5 | 2 | 0x10000), 0x80000n, 0x23n]);
  });

  it('#PF from a user write to a supervisor page: error code P|W|U, CR2, RF in the pushed RFLAGS', () => {
    const { frame, cpu } = runUser('c60701', 0x800, true); // mov byte [rdi], 1 with RDI -> the TSS page
    expect(frame).toEqual([7n, 0x100000n, 0x2bn, BigInt(0x800 | 2 | 0x10000), 0x80000n, 0x23n]);
    expect(cpu.cr2).toBe(TSS);
  });

  it('a trap (INT3 has no gate here: #GP) and IRETQ do not leave RF set in RFLAGS', () => {
    const { frame, cpu } = runUser('cc', 0x1, true); // INT3 through a missing gate: #GP(3*8+2)
    expect(frame[0]).toBe(BigInt(3 * 8 + 2));
    expect(frame[3] & 0x10000n).toBe(0x10000n); // #GP is a fault: RF set
    expect(cpu.getRflags() & 0x10000).toBe(0); // the handler itself runs with RF clear
  });
});

