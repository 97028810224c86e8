// virtio-mmio transport (virtio 1.x, register layout version 2) and split virtqueues over
// guest RAM. Device types (virtio-blk.ts, virtio-net.ts) extend VirtioMmio. Imports nothing
// from Node. Every DMA write into guest RAM goes through PhysMemory's write helpers, so decoded
// code there is invalidated and the page is in the next digest. A driver that programs the device wrongly (addresses outside RAM, descriptor
// loops, bad lengths) gets DEVICE_NEEDS_RESET, never a host exception.

import type { MmioHandler } from '../machine/bus.js';
import type { PhysMemory } from '../cpu/memory.js';
import type { IrqLine } from './state.js';

export const VIRTIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_VENDOR = 0x54463858; // "X8FT"
/** Size of one device's MMIO window. */
export const VIRTIO_MMIO_SIZE = 0x1000;

const enum VirtioStatus { Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8, NeedsReset = 64, Failed = 128 }
const F_HI_VERSION_1 = 1; // feature bit 32
const DESC_F_NEXT = 1, DESC_F_WRITE = 2, DESC_F_INDIRECT = 4;
const AVAIL_F_NO_INTERRUPT = 1;

/** A driver error detected while walking a queue; caught inside this file. */
export class VirtqError extends Error {}

/** One guest buffer segment of a descriptor chain. */
export interface Seg { addr: number; len: number }

/** A popped descriptor chain: device-readable segments, then device-writable ones. */
export interface Chain { head: number; readable: Seg[]; writable: Seg[]; readLen: number; writeLen: number }

export interface QueueState {
  num: number; ready: boolean; desc: number; driver: number; device: number; lastAvail: number; usedIdx: number;
}

/** A split virtqueue (virtio 1.x section 2.7) living in guest RAM. */
export class Virtqueue implements QueueState {
  num = 0; ready = false; desc = 0; driver = 0; device = 0; lastAvail = 0; usedIdx = 0;

  constructor(private readonly mem: PhysMemory, readonly max: number) {}

  reset(): void {
    this.num = 0; this.ready = false; this.desc = 0; this.driver = 0; this.device = 0; this.lastAvail = 0; this.usedIdx = 0;
  }

  private check(addr: number, len: number): void {
    if (!this.mem.contains(addr, len)) throw new VirtqError(`virtqueue access 0x${addr.toString(16)}+${len} outside RAM`);
  }
  private u16(addr: number): number { this.check(addr, 2); return this.mem.dv.getUint16(addr, true); }

  private validate(): void {
    if (!this.ready || this.num === 0 || this.num > this.max) throw new VirtqError('queue not ready or bad size');
    this.check(this.desc, 16 * this.num);
    this.check(this.driver, 6 + 2 * this.num);
    this.check(this.device, 6 + 8 * this.num);
  }

  /** True when the driver has made a buffer available that the device has not taken. */
  hasAvail(): boolean {
    this.validate();
    return this.u16(this.driver + 2) !== this.lastAvail;
  }

  /** Takes the next available chain, or null when there is none. Throws VirtqError on a bad chain. */
  pop(): Chain | null {
    if (!this.hasAvail()) return null;
    const head = this.u16(this.driver + 4 + 2 * (this.lastAvail % this.num));
    const chain: Chain = { head, readable: [], writable: [], readLen: 0, writeLen: 0 };
    let i = head;
    for (let n = 0; ; n++) {
      if (i >= this.num) throw new VirtqError(`descriptor index ${i} >= queue size ${this.num}`);
      if (n >= this.num) throw new VirtqError('descriptor chain loops');
      const d = this.desc + 16 * i;
      const addr = this.mem.dv.getUint32(d, true) + this.mem.dv.getUint32(d + 4, true) * 0x100000000;
      const len = this.mem.dv.getUint32(d + 8, true);
      const flags = this.mem.dv.getUint16(d + 12, true);
      if (flags & DESC_F_INDIRECT) throw new VirtqError('indirect descriptor not negotiated');
      this.check(addr, len);
      if (flags & DESC_F_WRITE) { chain.writable.push({ addr, len }); chain.writeLen += len; }
      else {
        if (chain.writable.length) throw new VirtqError('device-readable descriptor after a writable one');
        chain.readable.push({ addr, len }); chain.readLen += len;
      }
      if (!(flags & DESC_F_NEXT)) break;
      i = this.mem.dv.getUint16(d + 14, true);
    }
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return chain;
  }

  /** Gives the chain back to the driver (the next pop() returns it again). */
  unpop(): void { this.lastAvail = (this.lastAvail - 1) & 0xffff; }

  /** Returns a chain to the driver with `len` bytes written. */
  push(head: number, len: number): void {
    const e = this.device + 4 + 8 * (this.usedIdx % this.num);
    this.check(e, 8);
    this.mem.setU32(e, head);
    this.mem.setU32(e + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.mem.setU16(this.device + 2, this.usedIdx);
  }

  /** The driver asked not to be interrupted (VIRTQ_AVAIL_F_NO_INTERRUPT). */
  suppressed(): boolean { return (this.u16(this.driver) & AVAIL_F_NO_INTERRUPT) !== 0; }

  /** Copies `len` bytes of chain c's readable segments, from byte `offset`, out of guest RAM. */
  gather(c: Chain, offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let pos = 0, skip = offset;
    for (const s of c.readable) {
      if (pos >= len) break;
      if (skip >= s.len) { skip -= s.len; continue; }
      const n = Math.min(s.len - skip, len - pos);
      out.set(this.mem.u8.subarray(s.addr + skip, s.addr + skip + n), pos);
      pos += n; skip = 0;
    }
    return out;
  }

  /** Copies `data` into chain c's writable segments from byte `offset`. */
  scatter(c: Chain, offset: number, data: Uint8Array): void {
    let pos = 0, skip = offset;
    for (const s of c.writable) {
      if (pos >= data.length) break;
      if (skip >= s.len) { skip -= s.len; continue; }
      const n = Math.min(s.len - skip, data.length - pos);
      this.mem.write(s.addr + skip, data.subarray(pos, pos + n));
      pos += n; skip = 0;
    }
  }

  save(): QueueState {
    return { num: this.num, ready: this.ready, desc: this.desc, driver: this.driver, device: this.device, lastAvail: this.lastAvail, usedIdx: this.usedIdx };
  }
  load(s: QueueState): void {
    this.num = s.num; this.ready = s.ready; this.desc = s.desc; this.driver = s.driver; this.device = s.device;
    this.lastAvail = s.lastAvail; this.usedIdx = s.usedIdx;
  }
}

export interface VirtioMmioState {
  status: number; deviceFeatSel: number; driverFeatSel: number; driverFeatures: [number, number];
  queueSel: number; interruptStatus: number; configGeneration: number; queues: QueueState[]; irqLevel: boolean;
}

/** The transport: registers at offsets 0x000-0x0FC, device config from 0x100. */
export abstract class VirtioMmio implements MmioHandler {
  protected status = 0;
  private deviceFeatSel = 0;
  private driverFeatSel = 0;
  protected driverFeatures: [number, number] = [0, 0];
  private queueSel = 0;
  private interruptStatus = 0;
  protected configGeneration = 0;
  private irqLevel = false;
  readonly queues: Virtqueue[];

  /** The virtio device ID (1 net, 2 block). */
  abstract readonly deviceId: number;
  /** Device feature bits 0-31 and 32-63 (VERSION_1 is added by the transport). */
  protected abstract featuresLo(): number;
  protected featuresHi(): number { return 0; }
  protected abstract configRead(offset: number, size: 1 | 2 | 4): number;
  protected configWrite(_offset: number, _size: 1 | 2 | 4, _value: number): void {}
  /** Handles a notification of queue q (DRIVER_OK, queue ready). May throw VirtqError. */
  protected abstract process(q: number): void;
  /** Device-specific reset (the transport resets itself). */
  protected deviceReset(): void {}

  constructor(protected readonly mem: PhysMemory, private readonly irq: IrqLine, numQueues: number, queueMax: number) {
    this.queues = [];
    for (let i = 0; i < numQueues; i++) this.queues.push(new Virtqueue(mem, queueMax));
  }

  /** True when the driver is up and the device has not failed. */
  protected live(): boolean {
    return (this.status & VirtioStatus.DriverOk) !== 0 && !(this.status & VirtioStatus.NeedsReset);
  }

  mmioRead(offset: number, size: 1 | 2 | 4): number {
    if (offset >= 0x100) return this.configRead(offset - 0x100, size) >>> 0;
    if (size !== 4) return 0; // registers are 32-bit only
    switch (offset) {
      case 0x000: return VIRTIO_MAGIC;
      case 0x004: return 2;
      case 0x008: return this.deviceId;
      case 0x00c: return VIRTIO_VENDOR;
      case 0x010:
        if (this.deviceFeatSel === 0) return this.featuresLo() >>> 0;
        if (this.deviceFeatSel === 1) return (this.featuresHi() | F_HI_VERSION_1) >>> 0;
        return 0;
      case 0x034: { const q = this.queues[this.queueSel]; return q ? q.max : 0; }
      case 0x044: { const q = this.queues[this.queueSel]; return q && q.ready ? 1 : 0; }
      case 0x060: return this.interruptStatus;
      case 0x070: return this.status;
      case 0x0fc: return this.configGeneration;
      default: return 0;
    }
  }

  mmioWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset >= 0x100) { this.configWrite(offset - 0x100, size, value); return; }
    if (size !== 4) return;
    const v = value >>> 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case 0x014: this.deviceFeatSel = v; break;
      case 0x020: if (this.driverFeatSel < 2) this.driverFeatures[this.driverFeatSel] = v; break;
      case 0x024: this.driverFeatSel = v; break;
      case 0x030: this.queueSel = v; break;
      case 0x038: if (q) q.num = v > q.max ? 0 : v; break;
      case 0x044:
        if (!q) break;
        q.ready = (v & 1) !== 0;
        if (q.ready) { q.lastAvail = 0; q.usedIdx = 0; }
        break;
      case 0x050: this.notify(v & 0xffff); break;
      case 0x064: this.interruptStatus &= ~v; this.updateIrq(); break;
      case 0x070: this.writeStatus(v & 0xff); break;
      case 0x080: if (q) q.desc = q.desc - (q.desc >>> 0) + v; break;
      case 0x084: if (q) q.desc = (q.desc >>> 0) + v * 0x100000000; break;
      case 0x090: if (q) q.driver = q.driver - (q.driver >>> 0) + v; break;
      case 0x094: if (q) q.driver = (q.driver >>> 0) + v * 0x100000000; break;
      case 0x0a0: if (q) q.device = q.device - (q.device >>> 0) + v; break;
      case 0x0a4: if (q) q.device = (q.device >>> 0) + v * 0x100000000; break;
      default: break;
    }
  }

  private writeStatus(v: number): void {
    if (v === 0) { this.reset(); return; }
    if ((v & VirtioStatus.FeaturesOk) && !(this.status & VirtioStatus.FeaturesOk)) {
      const okLo = (this.driverFeatures[0] & ~this.featuresLo()) === 0;
      const okHi = (this.driverFeatures[1] & ~(this.featuresHi() | F_HI_VERSION_1)) === 0 &&
        (this.driverFeatures[1] & F_HI_VERSION_1) !== 0;
      if (!okLo || !okHi) v &= ~VirtioStatus.FeaturesOk; // the driver reads it back and gives up
    }
    this.status = v | (this.status & VirtioStatus.NeedsReset);
  }

  private reset(): void {
    this.status = 0; this.deviceFeatSel = 0; this.driverFeatSel = 0; this.driverFeatures = [0, 0];
    this.queueSel = 0; this.interruptStatus = 0;
    for (const q of this.queues) q.reset();
    this.deviceReset();
    this.updateIrq();
  }

  private notify(qi: number): void {
    const q = this.queues[qi];
    if (!q || !q.ready || !this.live()) return;
    this.run(() => this.process(qi));
  }

  /** Runs device work, turning a driver error into DEVICE_NEEDS_RESET. */
  protected run(work: () => void): void {
    try {
      work();
    } catch (e) {
      if (!(e instanceof VirtqError)) throw e;
      this.fail();
    }
  }

  /** Enters the DEVICE_NEEDS_RESET state and tells the driver (config change interrupt). */
  protected fail(): void {
    this.status |= VirtioStatus.NeedsReset;
    if (this.status & VirtioStatus.DriverOk) { this.interruptStatus |= 2; this.updateIrq(); }
  }

  /** Signals used buffers on queue q unless the driver suppressed it. */
  protected usedNotify(q: Virtqueue): void {
    if (q.suppressed()) return;
    this.interruptStatus |= 1;
    this.updateIrq();
  }

  /** The interrupt line is a level: high while InterruptStatus is non-zero. */
  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level !== this.irqLevel) { this.irqLevel = level; this.irq(level); }
  }

  /** True when the device reported DEVICE_NEEDS_RESET. */
  get needsReset(): boolean { return (this.status & VirtioStatus.NeedsReset) !== 0; }

  protected saveTransport(): VirtioMmioState {
    return {
      status: this.status, deviceFeatSel: this.deviceFeatSel, driverFeatSel: this.driverFeatSel,
      driverFeatures: [this.driverFeatures[0], this.driverFeatures[1]], queueSel: this.queueSel,
      interruptStatus: this.interruptStatus, configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.save()), irqLevel: this.irqLevel,
    };
  }

  protected loadTransport(s: VirtioMmioState): void {
    this.status = s.status; this.deviceFeatSel = s.deviceFeatSel; this.driverFeatSel = s.driverFeatSel;
    this.driverFeatures = [s.driverFeatures[0], s.driverFeatures[1]]; this.queueSel = s.queueSel;
    this.interruptStatus = s.interruptStatus; this.configGeneration = s.configGeneration; this.irqLevel = s.irqLevel;
    s.queues.forEach((qs, i) => this.queues[i]?.load(qs));
  }
}

/** Little-endian read of `size` bytes at `offset` of a config image; out of range reads 0. */
export function readConfig(cfg: Uint8Array, offset: number, size: 1 | 2 | 4): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v * 256) + (offset + i < cfg.length && offset + i >= 0 ? cfg[offset + i]! : 0);
  return v >>> 0;
}
