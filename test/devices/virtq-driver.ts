// Test helper: a minimal virtio-mmio driver that builds real split virtqueues in PhysMemory,
// the way a guest driver does (virtio 1.x sections 3.1 and 2.7).

import type { PhysMemory } from '../../src/cpu/memory.js';
import type { VirtioMmio } from '../../src/devices/virtio-mmio.js';

export interface Buf { addr: number; len: number; write?: boolean }

export class TestDriver {
  private readonly q: { num: number; desc: number; avail: number; used: number; nextDesc: number; availIdx: number; lastUsed: number }[] = [];
  constructor(readonly mem: PhysMemory, readonly dev: VirtioMmio) {}

  r(off: number): number { return this.dev.mmioRead(off, 4); }
  w(off: number, v: number): void { this.dev.mmioWrite(off, 4, v); }

  /** Reset, ACK, DRIVER, features, FEATURES_OK; returns false when the device refused them. */
  negotiate(featLo: number, featHi = 1): boolean {
    this.w(0x70, 0);
    this.w(0x70, 1); this.w(0x70, 3);
    this.w(0x24, 0); this.w(0x20, featLo);
    this.w(0x24, 1); this.w(0x20, featHi);
    this.w(0x70, 0x0b);
    return (this.r(0x70) & 8) !== 0;
  }

  /** Places queue qi at `base` (desc, then avail, then used 4-aligned) and makes it ready. */
  setupQueue(qi: number, num: number, base: number): void {
    const desc = base, avail = base + 16 * num, used = (avail + 6 + 2 * num + 3) & ~3;
    this.w(0x30, qi);
    this.w(0x38, num);
    this.w(0x80, desc); this.w(0x84, 0);
    this.w(0x90, avail); this.w(0x94, 0);
    this.w(0xa0, used); this.w(0xa4, 0);
    this.w(0x44, 1);
    this.q[qi] = { num, desc, avail, used, nextDesc: 0, availIdx: 0, lastUsed: 0 };
  }

  driverOk(): void { this.w(0x70, 0x0f); }

  /** Writes a descriptor chain and publishes it in the avail ring; returns the head index. */
  submit(qi: number, bufs: Buf[], rawDesc?: (i: number) => void): number {
    const q = this.q[qi]!;
    const dv = this.mem.dv;
    const head = q.nextDesc;
    bufs.forEach((b, k) => {
      const i = (head + k) % q.num;
      const d = q.desc + 16 * i;
      dv.setUint32(d, b.addr, true); dv.setUint32(d + 4, 0, true);
      dv.setUint32(d + 8, b.len, true);
      dv.setUint16(d + 12, (k < bufs.length - 1 ? 1 : 0) | (b.write ? 2 : 0), true);
      dv.setUint16(d + 14, (i + 1) % q.num, true);
    });
    if (rawDesc) rawDesc(head);
    q.nextDesc = (head + bufs.length) % q.num;
    dv.setUint16(q.avail + 4 + 2 * (q.availIdx % q.num), head, true);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    dv.setUint16(q.avail + 2, q.availIdx, true);
    return head;
  }

  notify(qi: number): void { this.w(0x50, qi); }

  /** New used-ring entries since the last call. */
  used(qi: number): { id: number; len: number }[] {
    const q = this.q[qi]!;
    const dv = this.mem.dv;
    const idx = dv.getUint16(q.used + 2, true);
    const out: { id: number; len: number }[] = [];
    while (q.lastUsed !== idx) {
      const e = q.used + 4 + 8 * (q.lastUsed % q.num);
      out.push({ id: dv.getUint32(e, true), len: dv.getUint32(e + 4, true) });
      q.lastUsed = (q.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  descAddr(qi: number, i: number): number { return this.q[qi]!.desc + 16 * i; }
}
