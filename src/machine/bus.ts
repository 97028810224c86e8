// The device bus: routes CPU port I/O and physical MMIO accesses to device models.
// Imports nothing from Node; device models register themselves here.

import { InvalidStateError } from '../errors.js';

/** A device that answers a range of I/O ports. `port` is the absolute port number. */
export interface PortHandler {
  portRead(port: number, size: 1 | 2 | 4): number;
  portWrite(port: number, size: 1 | 2 | 4, value: number): void;
}

/** A device that answers a range of physical addresses. `offset` is relative to the region base. */
export interface MmioHandler {
  mmioRead(offset: number, size: 1 | 2 | 4): number;
  mmioWrite(offset: number, size: 1 | 2 | 4, value: number): void;
}

interface MmioRegion { base: number; size: number; handler: MmioHandler }

export class Bus {
  private readonly ports: (PortHandler | undefined)[] = new Array(65536).fill(undefined);
  private readonly regions: MmioRegion[] = [];

  registerPorts(first: number, count: number, handler: PortHandler): void {
    for (let p = first; p < first + count; p++) {
      if (this.ports[p]) throw new InvalidStateError(`I/O port 0x${p.toString(16)} registered twice`);
      this.ports[p] = handler;
    }
  }

  registerMmio(base: number, size: number, handler: MmioHandler): void {
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) throw new InvalidStateError(`MMIO region 0x${base.toString(16)} overlaps`);
    }
    this.regions.push({ base, size, handler });
  }

  /** Unclaimed ports read as all ones, like an open ISA bus. */
  portRead(port: number, size: 1 | 2 | 4): number {
    const h = this.ports[port & 0xffff];
    if (h) return h.portRead(port & 0xffff, size);
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    const h = this.ports[port & 0xffff];
    if (h) h.portWrite(port & 0xffff, size, value);
  }

  findMmio(phys: number): MmioRegion | undefined {
    for (const r of this.regions) if (phys >= r.base && phys < r.base + r.size) return r;
    return undefined;
  }

  /** Unclaimed physical addresses outside RAM read as all ones and ignore writes. */
  mmioRead(phys: number, size: 1 | 2 | 4): number {
    const r = this.findMmio(phys);
    if (r) return r.handler.mmioRead(phys - r.base, size) >>> 0;
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  mmioWrite(phys: number, size: 1 | 2 | 4, value: number): void {
    const r = this.findMmio(phys);
    if (r) r.handler.mmioWrite(phys - r.base, size, value >>> 0);
  }
}

/** What the CPU sees of the interrupt controller (the 8259 pair now, the LAPIC later). */
export interface InterruptController {
  /** True while the INTR line is asserted. */
  intrPending(): boolean;
  /** INTA cycle: returns the vector to deliver and updates in-service state. */
  intrAcknowledge(): number;
}
