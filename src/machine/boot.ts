// The boot contract (README "Boot contract"): ELF64 loading, page tables, GDT, boot-info block, entry state.
// Pure: writes guest RAM and CPU registers, never touches the host.

import type { Cpu } from '../cpu/cpu.js';
import type { PhysMemory } from '../cpu/memory.js';
import { X86ftError } from '../errors.js';

export const BOOT = {
  bootInfo: 0x1000,
  cmdline: 0x1400,
  gdt: 0x1800,
  pml4: 0x2000,
  pdpt: 0x3000,
  pd: 0x4000, // four PDs: 0x4000-0x7FFF
  pt0: 0x8000,
  stackTop: 0x80000,
  loadMin: 0x100000,
  debugExitPort: 0xf4,
} as const;

export class ElfError extends X86ftError {
  constructor(message: string) { super('X86FT_BAD_ELF', message); this.name = 'ElfError'; }
}

export interface LoadedElf { entry: number; segments: { paddr: number; filesz: number; memsz: number }[] }

const PT_LOAD = 1, PF_X = 1;
const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * Parse and load an ELF64 x86-64 ET_EXEC image into RAM at its physical addresses (README "Boot
 * contract"). Everything is checked before the first byte is copied, against the System V gABI
 * ("Program Header"): p_filesz <= p_memsz, file data inside the file, p_align 0, 1 or a power of
 * two with p_offset and p_vaddr congruent modulo it, segments inside RAM at or above 1 MiB and not
 * overlapping each other (so no segment's zero fill lands on another's code or data), and the
 * entry point inside the file-backed part of an executable (PF_X) segment. Throws ElfError
 * naming the problem.
 */
export function loadElf(mem: PhysMemory, image: Uint8Array): LoadedElf {
  if (image.length < 64) throw new ElfError('not an ELF file: shorter than an ELF64 header');
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46) throw new ElfError('not an ELF file: bad magic');
  if (image[4] !== 2) throw new ElfError('not an ELF64 file (EI_CLASS is not ELFCLASS64)');
  if (image[5] !== 1) throw new ElfError('not a little-endian ELF file');
  if (image[6] !== 1 || dv.getUint32(20, true) !== 1) throw new ElfError('unknown ELF version (EI_VERSION and e_version must be 1)');
  const type = dv.getUint16(16, true), machine = dv.getUint16(18, true);
  if (machine !== 62) throw new ElfError(`not an x86-64 ELF file (e_machine ${machine})`);
  if (type !== 2) throw new ElfError(`not an executable ELF file (e_type ${type}; ET_EXEC is required)`);
  const entry = Number(dv.getBigUint64(24, true));
  const phoff = Number(dv.getBigUint64(32, true));
  const phentsize = dv.getUint16(54, true), phnum = dv.getUint16(56, true);
  if (phnum === 0) throw new ElfError('ELF file has no program headers');
  if (phentsize < 56 || phoff + phnum * phentsize > image.length) throw new ElfError('ELF program headers lie outside the file');
  const segments: (LoadedElf['segments'][number] & { k: number; offset: number; exec: boolean })[] = [];
  for (let k = 0; k < phnum; k++) {
    const o = phoff + k * phentsize;
    if (dv.getUint32(o, true) !== PT_LOAD) continue;
    const flags = dv.getUint32(o + 4, true);
    const offset = Number(dv.getBigUint64(o + 8, true));
    const vaddr = Number(dv.getBigUint64(o + 16, true));
    const paddr = Number(dv.getBigUint64(o + 24, true));
    const filesz = Number(dv.getBigUint64(o + 32, true));
    const memsz = Number(dv.getBigUint64(o + 40, true));
    const align = dv.getBigUint64(o + 48, true);
    if (filesz > memsz) throw new ElfError(`segment ${k}: p_filesz (${hex(filesz)}) larger than p_memsz (${hex(memsz)})`);
    if (offset + filesz > image.length) throw new ElfError(`segment ${k}: file data ${hex(offset)}+${hex(filesz)} lies outside the file (${image.length} bytes)`);
    if (align > 1n) {
      if ((align & (align - 1n)) !== 0n) throw new ElfError(`segment ${k}: p_align ${hex(Number(align))} is not a power of two`);
      if ((dv.getBigUint64(o + 8, true) - dv.getBigUint64(o + 16, true)) % align !== 0n) {
        throw new ElfError(`segment ${k}: p_offset ${hex(offset)} and p_vaddr ${hex(vaddr)} are not congruent modulo p_align ${hex(Number(align))}`);
      }
    }
    if (memsz === 0) continue;
    if (paddr < BOOT.loadMin) throw new ElfError(`segment ${k}: physical address ${hex(paddr)} is below 1 MiB (reserved by the machine)`);
    if (paddr + memsz > mem.size) throw new ElfError(`segment ${k}: ${hex(paddr)}+${hex(memsz)} does not fit in ${mem.size / 1048576} MiB of RAM`);
    for (const p of segments) {
      if (paddr < p.paddr + p.memsz && p.paddr < paddr + memsz) {
        throw new ElfError(`segments ${p.k} (${hex(p.paddr)}+${hex(p.memsz)}) and ${k} (${hex(paddr)}+${hex(memsz)}) overlap`);
      }
    }
    segments.push({ paddr, filesz, memsz, k, offset, exec: (flags & PF_X) !== 0 });
  }
  if (segments.length === 0) throw new ElfError('ELF file has no loadable segments');
  // the entry is a linear address; with the identity map it runs from the segment as loaded (p_paddr)
  if (!segments.some((p) => p.exec && entry >= p.paddr && entry < p.paddr + p.filesz)) {
    const inside = segments.find((p) => entry >= p.paddr && entry < p.paddr + p.memsz);
    throw new ElfError(`entry point ${hex(entry)} is not inside the file data of an executable (PF_X) segment` +
      (inside ? ` (it lies in segment ${inside.k}${inside.exec ? '\'s zero fill' : ', which is not executable'})` : ''));
  }
  for (const p of segments) {
    mem.write(p.paddr, image.subarray(p.offset, p.offset + p.filesz));
    mem.fill(p.paddr + p.filesz, p.memsz - p.filesz);
  }
  return { entry, segments: segments.map(({ paddr, filesz, memsz }) => ({ paddr, filesz, memsz })) };
}

export interface BootDevice { type: number; irq: number; base: number }

/** Identity-map the first 4 GiB (page 0 not present), build the GDT, and put the CPU in the entry state. */
export function setupLongMode(cpu: Cpu, mem: PhysMemory): void {
  const dv = mem.dv;
  const w64 = (a: number, lo: number, hi: number) => { dv.setUint32(a, lo >>> 0, true); dv.setUint32(a + 4, hi >>> 0, true); };
  mem.u8.fill(0, BOOT.pml4, BOOT.pt0 + 0x1000);
  w64(BOOT.pml4, BOOT.pdpt | 7, 0);
  for (let g = 0; g < 4; g++) {
    w64(BOOT.pdpt + g * 8, (BOOT.pd + g * 0x1000) | 7, 0);
    for (let e = 0; e < 512; e++) {
      const phys = g * 0x40000000 + e * 0x200000;
      if (g === 0 && e === 0) w64(BOOT.pd, BOOT.pt0 | 7, 0);
      else w64(BOOT.pd + g * 0x1000 + e * 8, (phys | 0x87) >>> 0, 0); // P RW US PS
    }
  }
  for (let e = 1; e < 512; e++) w64(BOOT.pt0 + e * 8, e * 0x1000 | 7, 0);
  // GDT: null, kernel code64, kernel data, user code32, user data, user code64
  const gdt = [[0, 0], [0xffff, 0x00af9a00], [0xffff, 0x00cf9200], [0xffff, 0x00cffa00], [0xffff, 0x00cff200], [0xffff, 0x00affa00]];
  gdt.forEach(([lo, hi], k) => w64(BOOT.gdt + k * 8, lo, hi));
  mem.written(BOOT.pml4, BOOT.pt0 + 0x1000 - BOOT.pml4); mem.written(BOOT.gdt, gdt.length * 8);
  cpu.gdtBase = BOOT.gdt; cpu.gdtLimit = gdt.length * 8 - 1;
  cpu.idtBase = 0; cpu.idtLimit = 0;
  cpu.cr3 = BOOT.pml4;
  cpu.cr4 = 0x620;
  cpu.efer = 0xd01;
  cpu.cr0 = 0x80010033 >>> 0; // PE MP ET NE WP PG
  cpu.sel.set([0x10, 0x08, 0x10, 0x10, 0, 0]);
  cpu.fsBase = 0; cpu.gsBase = 0;
  cpu.setCpl(0);
  cpu.setRflags(2);
  cpu.regs.fill(0);
  cpu.regs[8] = BOOT.stackTop;
  cpu.flushTlb();
}

/** Write the boot-info block and command line; point RDI at it. */
export function writeBootInfo(cpu: Cpu, mem: PhysMemory, cmdline: string, devices: BootDevice[]): void {
  const dv = mem.dv;
  const enc = new TextEncoder().encode(cmdline).subarray(0, 1023);
  mem.u8.fill(0, BOOT.bootInfo, BOOT.gdt);
  mem.u8.set(new TextEncoder().encode('X86FTBI1'), BOOT.bootInfo);
  dv.setUint32(BOOT.bootInfo + 8, 1, true);
  dv.setUint32(BOOT.bootInfo + 12, devices.length, true);
  dv.setBigUint64(BOOT.bootInfo + 16, BigInt(mem.size), true);
  dv.setBigUint64(BOOT.bootInfo + 24, BigInt(BOOT.cmdline), true);
  dv.setUint32(BOOT.bootInfo + 32, enc.length, true);
  devices.slice(0, 40).forEach((d, k) => {
    const o = BOOT.bootInfo + 40 + k * 16;
    dv.setUint32(o, d.type, true); dv.setUint32(o + 4, d.irq, true); dv.setBigUint64(o + 8, BigInt(d.base), true);
  });
  mem.u8.set(enc, BOOT.cmdline);
  mem.written(BOOT.bootInfo, BOOT.gdt - BOOT.bootInfo); mem.written(BOOT.cmdline, enc.length);
  cpu.regs[14] = BOOT.bootInfo; cpu.regs[15] = 0;
}
