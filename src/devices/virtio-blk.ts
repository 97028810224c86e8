// virtio-blk (device ID 2) over virtio-mmio: one request queue; IN, OUT, FLUSH, GET_ID.
// Imports nothing from Node. Disk data comes from the BlockIo host interface, which the
// machine binds to the gate (gate.blockIo), so read data crosses the gate before it is
// written into guest RAM and writes are outputs the replayer suppresses.

import type { PhysMemory } from '../cpu/memory.js';
import { checkState, type IrqLine } from './state.js';
import { VirtioMmio, VirtqError, readConfig, type VirtioMmioState, type Chain } from './virtio-mmio.js';

export const SECTOR = 512;
const T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8;
const S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
const F_RO = 1 << 5, F_FLUSH = 1 << 9;

/** The host side of a disk, as the device sees it. Offsets and lengths are in bytes. */
export interface BlockIo {
  /** Returns exactly `len` bytes, or null on a host I/O error. */
  read(offset: number, len: number): Uint8Array | null;
  /** Returns false on a host I/O error. */
  write(offset: number, data: Uint8Array): boolean;
  flush(): boolean;
}

export interface VirtioBlkOptions {
  /** Disk size in bytes (rounded down to whole sectors). */
  sizeBytes: number;
  readOnly?: boolean;
  /** Up to 20 ASCII bytes returned by GET_ID. */
  serial?: string;
  /** Queue size offered (QueueNumMax); default 128. */
  queueMax?: number;
}

export interface VirtioBlkState { kind: 'virtio-blk'; version: 1; transport: VirtioMmioState }

export class VirtioBlk extends VirtioMmio {
  readonly deviceId = 2;
  private readonly sectors: number;
  private readonly readOnly: boolean;
  private readonly serial: Uint8Array;
  private readonly config = new Uint8Array(0x3c);

  constructor(mem: PhysMemory, irq: IrqLine, private readonly io: BlockIo, opts: VirtioBlkOptions) {
    super(mem, irq, 1, opts.queueMax ?? 128);
    this.sectors = Math.floor(opts.sizeBytes / SECTOR);
    this.readOnly = opts.readOnly ?? false;
    const id = opts.serial ?? 'x86ft-disk';
    this.serial = new Uint8Array(20);
    for (let i = 0; i < Math.min(20, id.length); i++) this.serial[i] = id.charCodeAt(i) & 0x7f;
    const dv = new DataView(this.config.buffer);
    dv.setUint32(0, this.sectors >>> 0, true);                         // capacity (512-byte sectors)
    dv.setUint32(4, Math.floor(this.sectors / 0x100000000), true);
    dv.setUint32(20, SECTOR, true);                                    // blk_size (not offered)
  }

  protected featuresLo(): number { return F_FLUSH | (this.readOnly ? F_RO : 0); }
  protected configRead(offset: number, size: 1 | 2 | 4): number { return readConfig(this.config, offset, size); }

  protected process(qi: number): void {
    const q = this.queues[qi]!;
    let any = false;
    for (let c = q.pop(); c; c = q.pop()) {
      q.push(c.head, this.request(c));
      any = true;
    }
    if (any) this.usedNotify(q);
  }

  /** Executes one request; returns the number of bytes written into the chain. */
  private request(c: Chain): number {
    const q = this.queues[0]!;
    if (c.readLen < 16 || c.writeLen < 1) throw new VirtqError('virtio-blk request without header or status byte');
    const hdr = new DataView(q.gather(c, 0, 16).buffer);
    const type = hdr.getUint32(0, true);
    const sector = hdr.getUint32(8, true) + hdr.getUint32(12, true) * 0x100000000;
    const statusAt = c.writeLen - 1;
    const finish = (status: number, dataLen: number): number => {
      q.scatter(c, statusAt, Uint8Array.of(status));
      return dataLen + 1;
    };
    switch (type) {
      case T_IN: {
        const len = c.writeLen - 1;
        if (!this.inRange(sector, len)) return finish(S_IOERR, 0);
        const data = this.io.read(sector * SECTOR, len);
        if (!data || data.length !== len) return finish(S_IOERR, 0);
        q.scatter(c, 0, data);
        return finish(S_OK, len);
      }
      case T_OUT: {
        const len = c.readLen - 16;
        if (this.readOnly || !this.inRange(sector, len)) return finish(S_IOERR, 0);
        return finish(this.io.write(sector * SECTOR, q.gather(c, 16, len)) ? S_OK : S_IOERR, 0);
      }
      case T_FLUSH:
        return finish(this.io.flush() ? S_OK : S_IOERR, 0);
      case T_GET_ID: {
        const n = Math.min(20, c.writeLen - 1);
        q.scatter(c, 0, this.serial.subarray(0, n));
        return finish(S_OK, n);
      }
      default:
        return finish(S_UNSUPP, 0);
    }
  }

  /** Whole sectors, inside the disk. */
  private inRange(sector: number, len: number): boolean {
    return len % SECTOR === 0 && sector <= this.sectors && sector + len / SECTOR <= this.sectors;
  }

  saveState(): VirtioBlkState { return { kind: 'virtio-blk', version: 1, transport: this.saveTransport() }; }

  loadState(s: VirtioBlkState): void {
    checkState(s, 'virtio-blk', 1);
    this.loadTransport(s.transport);
  }
}
