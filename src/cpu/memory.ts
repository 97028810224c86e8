// Guest physical RAM: one ArrayBuffer, viewed as bytes and through a DataView.
// Owns no policy (paging, MMIO routing live in the MMU and the bus); imports nothing.

export class PhysMemory {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly size: number;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0x200000 || size % 4096 !== 0) {
      throw new RangeError(`memory size must be a multiple of 4096 and at least 2 MiB (got ${size})`);
    }
    this.size = size;
    this.buffer = new ArrayBuffer(size);
    this.u8 = new Uint8Array(this.buffer);
    this.dv = new DataView(this.buffer);
  }

  /** True when [phys, phys+len) lies inside RAM. */
  contains(phys: number, len: number): boolean {
    return phys >= 0 && len >= 0 && phys + len <= this.size;
  }
}
