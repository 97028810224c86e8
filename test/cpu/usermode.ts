// Test helper: the emulator set up like a Linux x86-64 process, so the same bytes can run natively (test/cpu/native)
// and in the emulator at CPL 3: code at 0x680000, data at 0x700000, the kernel's GDT layout (CS 0x33, SS 0x2b), and
// optionally a TSS and a #DB handler at CPL 0 that logs the RIP of each debug exception. Test-only.
import { Emu, type Case } from './hostrun.js';

export const CODE = 0x680000;
const GDT = 0x640000, TSS = 0x641000, IDT = 0x642000, KSTACK = 0x644000, HANDLER = 0x645000, LOG = 0x646000;

/** The x86-64 Linux GDT (arch/x86/kernel/cpu/common.c): kernel code32/code64/data, user data, user code64, a busy TSS
 *  at 0x40, the CPU-number data segment at 0x78 (DPL 3); limit 0x7f. User code32 (0x23) is left out: compatibility
 *  mode is not supported, and kernels without IA-32 emulation clear it. */
const LINUX_GDT: [number, number, number][] = [
  [1, 0xffff, 0x00cf9b00], [2, 0xffff, 0x00af9b00], [3, 0xffff, 0x00cf9300], [5, 0xffff, 0x00cff300], [6, 0xffff, 0x00affb00],
  [8, 0x00000067 | ((TSS & 0xffff) << 16), 0x00008b00 | ((TSS >>> 16) & 0xff)], [9, 0, 0], [15, 0x0000, 0x0040f500],
];

// #DB handler (CPL 0): log[++log[0]] = pushed RIP; DR6 at log[0x100 + n]; IRETQ with RF set
const DB_HANDLER = [
  0x50, 0x53, //                         push rax; push rbx
  0x48, 0x8b, 0x1c, 0x25, ...le32(LOG), //  mov rbx, [LOG]
  0x48, 0xff, 0xc3, //                   inc rbx
  0x48, 0x89, 0x1c, 0x25, ...le32(LOG), //  mov [LOG], rbx
  0x48, 0x8b, 0x44, 0x24, 0x10, //       mov rax, [rsp+16]  (pushed RIP)
  0x48, 0x89, 0x04, 0xdd, ...le32(LOG), // mov [LOG + rbx*8], rax
  0x0f, 0x21, 0xf0, //                   mov rax, dr6
  0x48, 0x89, 0x04, 0xdd, ...le32(LOG + 0x800), // mov [LOG + 0x800 + rbx*8], rax
  0x5b, 0x58, //                         pop rbx; pop rax
  0x81, 0x4c, 0x24, 0x10, 0x00, 0x00, 0x01, 0x00, // or dword [rsp+16], 0x10000: RF in the image, as a handler must
  0x48, 0xcf, //                         iretq                 (to pass the instruction breakpoint it stopped at)
];
function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]; }

/** Load `c` at CODE and make the CPU a CPL 3 Linux-like process; DR0-DR7 reset. With `dbHandler` an IDT whose
 *  only gate is #DB (any other exception then escalates); without it no IDT, so a fault stops the run. */
export function loadUser(e: Emu, c: Case, dbHandler = false): void {
  e.load(c, CODE);
  const cpu = e.cpu, dv = e.mem.dv;
  for (let k = 0; k < 16; k++) { dv.setUint32(GDT + 8 * k, 0, true); dv.setUint32(GDT + 8 * k + 4, 0, true); }
  for (const [n, lo, hi] of LINUX_GDT) { dv.setUint32(GDT + 8 * n, lo, true); dv.setUint32(GDT + 8 * n + 4, hi, true); }
  cpu.gdtBase = GDT; cpu.gdtLimit = 0x7f;
  e.mem.u8.fill(0, TSS, TSS + 0x68);
  dv.setUint32(TSS + 4, KSTACK, true);
  cpu.tssBase = TSS; cpu.tssLimit = 0x67; cpu.tr = 0x40;
  e.mem.u8.fill(0, IDT, IDT + 4096);
  const g = IDT + 16; // vector 1: 64-bit interrupt gate, DPL 0, selector 0x10
  dv.setUint32(g, (0x10 << 16) | (HANDLER & 0xffff), true);
  dv.setUint32(g + 4, (HANDLER & 0xffff0000) | 0x8e00, true);
  cpu.idtBase = IDT; cpu.idtLimit = dbHandler ? 4095 : 0;
  e.mem.u8.set(DB_HANDLER, HANDLER);
  e.mem.u8.fill(0, LOG, LOG + 0x1000);
  cpu.dr.set([0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400]);
  cpu.setCpl(3); cpu.sel[1] = 0x33; cpu.sel[2] = 0x2b;
  cpu.flushTlb(); cpu.flushCode();
}

/** Run until RIP reaches `end` at CPL 3 or the CPU faults (at most `max` instructions). */
export function runUserTo(e: Emu, end: number, max = 10000): void {
  const cpu = e.cpu;
  for (let n = 0; n < max && !(cpu.rip === end && cpu.cpl === 3) && cpu.fault === null; n++) cpu.run(1);
}

/** The #DB log: for each debug exception, the pushed RIP relative to CODE and DR6 as the handler read it. */
export function dbLog(e: Emu): { rip: number[]; dr6: number[] } {
  const dv = e.mem.dv, n = dv.getUint32(LOG, true);
  const rip: number[] = [], dr6: number[] = [];
  for (let k = 1; k <= n; k++) { rip.push(dv.getUint32(LOG + 8 * k, true) - CODE); dr6.push(dv.getUint32(LOG + 0x800 + 8 * k, true)); }
  return { rip, dr6 };
}
