// Guest physical RAM: one ArrayBuffer, viewed as bytes and through a DataView, and the one way RAM is
// written by anything other than the CPU's own stores (device DMA, snapshot restore, the ELF loader,
// page-walk accessed/dirty updates): write()/fill()/setU16()/setU32(), or written() after a direct
// change. Each such write tells the CPU (onWrite: drop decoded code in the range) and is remembered
// for the next digest (takeWritten). Owns no policy (paging, MMIO routing live in the MMU and the bus).

import { InvalidArgumentError } from '../errors.js';
import { wasmRam } from './wasm/space.js';

export class PhysMemory {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly size: number;
  /** With the wasm tier (the default; src/cpu/wasm/space.ts WASM_TIER): the WebAssembly.Memory whose buffer is `buffer` (RAM at 0, then one CPU area:
   *  src/cpu/wasm/space.ts); else null. `buffer` may then be longer than `size`: use u8/dv, or [0, size). */
  readonly wasm: WebAssembly.Memory | null;
  private cpuAreaTaken = false;
  /**
   * Called for every write that is not a CPU store, with the physical range (inside RAM). The Cpu
   * that owns this memory sets it: decoded code in the range must not run again (DESIGN: decode once,
   * invalidate when the page is written, whoever writes it).
   */
  onWrite: ((phys: number, len: number) => void) | null = null;
  /** Pages changed by non-CPU writes since the last takeWritten(); 1 = changed. */
  private readonly changed: Uint8Array;
  /** True when `changed` may have a page set: takeWritten() skips the scan of a set nothing marked (most digests). */
  private changedAny = false;
  /** When set, every non-CPU write also marks its pages here (a live snapshot's pre-copy, src/replay/precopy.ts). */
  dirtyLog: Uint8Array | null = null;
  /**
   * 1 for each page written at least once since this memory was created: by a non-CPU write (written()),
   * or by the CPU once its dirty set is taken (Cpu.takeDirtyPages; pages still in that set are not here
   * yet). Every other page is still zero, so whoever needs the pages in use (a pre-copy's first round)
   * reads neither them nor the host's page tables for them (the first read of a never-touched 64 MiB RAM
   * costs 0.4 s of CPU in page faults). Never cleared.
   */
  readonly used: Uint8Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0x200000 || size % 4096 !== 0) {
      throw new InvalidArgumentError(`memory size must be a multiple of 4096 and at least 2 MiB (got ${size})`);
    }
    this.size = size;
    this.wasm = wasmRam(size);
    this.buffer = this.wasm !== null ? this.wasm.buffer : new ArrayBuffer(size);
    this.u8 = new Uint8Array(this.buffer, 0, size);
    this.dv = new DataView(this.buffer, 0, size);
    this.changed = new Uint8Array(Math.ceil(size / 4096));
    this.used = new Uint8Array(Math.ceil(size / 4096));
  }

  /** The byte offset of the CPU area in `buffer` for the first Cpu on this memory, or -1 (no wasm memory,
   *  or a second Cpu: it keeps its registers in plain arrays and has no wasm tier). */
  claimCpuArea(): number {
    if (this.wasm === null || this.cpuAreaTaken) return -1;
    this.cpuAreaTaken = true;
    return this.size;
  }

  /** True when [phys, phys+len) lies inside RAM. */
  contains(phys: number, len: number): boolean {
    return phys >= 0 && len >= 0 && phys + len <= this.size;
  }

  /** Copies `data` into RAM at `phys` (the range must be inside RAM: RangeError otherwise). */
  write(phys: number, data: Uint8Array): void {
    this.u8.set(data, phys);
    this.written(phys, data.length);
  }

  /** Sets `len` bytes at `phys` to `value`. */
  fill(phys: number, len: number, value = 0): void {
    this.u8.fill(value, phys, phys + len);
    this.written(phys, len);
  }

  /** Little-endian 16/32-bit stores (virtqueue rings). */
  setU16(phys: number, v: number): void { this.dv.setUint16(phys, v, true); this.written(phys, 2); }
  setU32(phys: number, v: number): void { this.dv.setUint32(phys, v >>> 0, true); this.written(phys, 4); }

  /** Reports a change of [phys, phys+len) made directly through u8/dv by a non-CPU writer. */
  written(phys: number, len: number): void {
    if (len <= 0) return;
    const first = Math.floor(phys / 4096), last = Math.floor((Math.min(phys + len, this.size) - 1) / 4096);
    for (let p = first; p <= last; p++) { this.changed[p] = 1; this.used[p] = 1; }
    this.changedAny = true;
    if (this.dirtyLog !== null) for (let p = first; p <= last; p++) this.dirtyLog[p] = 1;
    if (this.onWrite !== null) this.onWrite(phys, len);
  }

  /** Page numbers changed by non-CPU writes since the last takeWritten(), ascending; keeps the set. */
  peekWritten(): number[] {
    const out: number[] = [];
    const c = this.changed;
    for (let p = 0; p < c.length; p++) if (c[p]) out.push(p);
    return out;
  }

  /** Page numbers changed by non-CPU writes since the last call, ascending; clears the set. */
  takeWritten(): number[] {
    if (!this.changedAny) return [];
    this.changedAny = false;
    return takeSetBytes(this.changed, []);
  }
}

/**
 * Appends to `out` the index of every non-zero byte of `b`, ascending, and zeroes those bytes. Reads four
 * bytes at a time where it can: a page set is mostly zeros, and a digest (every 1M instructions on an FT
 * primary and its secondary) takes two sets of 16,384 bytes on a 64 MiB machine — byte by byte that was
 * about a quarter of a digest's time.
 */
export function takeSetBytes(b: Uint8Array, out: number[]): number[] {
  const words = (b.byteOffset & 3) === 0 ? b.length >>> 2 : 0;
  if (words) {
    const w = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let i = 0; i < words; i++) {
      if (w[i] === 0) continue;
      for (let k = i << 2, end = k + 4; k < end; k++) if (b[k]) { out.push(k); b[k] = 0; }
    }
  }
  for (let k = words << 2; k < b.length; k++) if (b[k]) { out.push(k); b[k] = 0; }
  return out;
}
