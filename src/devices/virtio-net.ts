// virtio-net (device ID 1) over virtio-mmio: receiveq 0, transmitq 1, MAC in config.
// Imports nothing from Node. Received frames enter only through rxFrame() (called by the
// gate, which logs them); transmitted frames leave through the `tx` sink (suppressed on replay).

import type { PhysMemory } from '../cpu/memory.js';
import { checkState, type IrqLine } from './state.js';
import { VirtioMmio, VirtqError, readConfig, type VirtioMmioState } from './virtio-mmio.js';
import { InvalidArgumentError } from '../errors.js';

/** struct virtio_net_hdr with VIRTIO_F_VERSION_1 (num_buffers always present). */
export const NET_HDR_LEN = 12;
const F_MAC = 1 << 5, F_STATUS = 1 << 16;
const RXQ = 0, TXQ = 1;

export interface VirtioNetOptions {
  /** 6-byte MAC address, e.g. [0x52, 0x54, 0, 0x12, 0x34, 0x56]. */
  mac: ArrayLike<number>;
  queueMax?: number;
}

export interface VirtioNetState { kind: 'virtio-net'; version: 1; transport: VirtioMmioState; rxDropped: number; txDropped: number }

export class VirtioNet extends VirtioMmio {
  readonly deviceId = 1;
  private readonly config = new Uint8Array(8);
  /** Frames dropped because the guest's receive buffer was too small. */
  rxDropped = 0;
  /** Transmit chains too short to hold a header. */
  txDropped = 0;

  constructor(mem: PhysMemory, irq: IrqLine, private readonly tx: (frame: Uint8Array) => void, opts: VirtioNetOptions) {
    super(mem, irq, 2, opts.queueMax ?? 256);
    if (opts.mac.length !== 6) throw new InvalidArgumentError('virtio-net: MAC must be 6 bytes');
    for (let i = 0; i < 6; i++) this.config[i] = opts.mac[i]! & 0xff;
    this.config[6] = 1; // status: VIRTIO_NET_S_LINK_UP
  }

  protected featuresLo(): number { return F_MAC | F_STATUS; }
  protected configRead(offset: number, size: 1 | 2 | 4): number { return readConfig(this.config, offset, size); }

  protected process(qi: number): void {
    if (qi !== TXQ) return; // new receive buffers are picked up when the next frame arrives
    const q = this.queues[TXQ]!;
    let any = false;
    for (let c = q.pop(); c; c = q.pop()) {
      if (c.readLen >= NET_HDR_LEN) this.tx(q.gather(c, NET_HDR_LEN, c.readLen - NET_HDR_LEN));
      else this.txDropped++;
      q.push(c.head, 0);
      any = true;
    }
    if (any) this.usedNotify(q);
  }

  /**
   * True when a frame delivered now would be taken: the receive queue has a buffer, or is so badly
   * programmed that taking a frame fails. Only the live gate asks (a replaying machine never does),
   * so this is a pure query; the failure itself (DEVICE_NEEDS_RESET, config interrupt) happens in
   * rxFrame, on the logged frame, identically on primary and replay.
   */
  rxReady(): boolean {
    const q = this.queues[RXQ]!;
    if (!this.live() || !q.ready) return false;
    try { return q.hasAvail(); } catch (e) { if (e instanceof VirtqError) return true; throw e; }
  }

  /** A received Ethernet frame (DMA data from the gate). Dropped when no buffer fits it. */
  rxFrame(frame: Uint8Array): void {
    const q = this.queues[RXQ]!;
    if (!this.live() || !q.ready) { this.rxDropped++; return; }
    this.run(() => {
      const c = q.pop();
      if (!c) { this.rxDropped++; return; }
      if (c.writeLen < NET_HDR_LEN + frame.length) {
        this.rxDropped++;
        q.push(c.head, 0);
        this.usedNotify(q);
        return;
      }
      const hdr = new Uint8Array(NET_HDR_LEN);
      hdr[10] = 1; // num_buffers
      q.scatter(c, 0, hdr);
      q.scatter(c, NET_HDR_LEN, frame);
      q.push(c.head, NET_HDR_LEN + frame.length);
      this.usedNotify(q);
    });
  }

  saveState(): VirtioNetState {
    return { kind: 'virtio-net', version: 1, transport: this.saveTransport(), rxDropped: this.rxDropped, txDropped: this.txDropped };
  }

  loadState(s: VirtioNetState): void {
    checkState(s, 'virtio-net', 1);
    this.loadTransport(s.transport);
    this.rxDropped = s.rxDropped; this.txDropped = s.txDropped;
  }
}
