import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PhysMemory } from '../../src/cpu/memory.js';
import { VirtioBlk } from '../../src/devices/virtio-blk.js';
import { FileDisk } from '../../src/devices/backends/disk.js';
import { ManualClock } from '../../src/devices/backends/clock.js';
import { LiveGate, GateKind, type GateRecord } from '../../src/machine/gate.js';
import { TestDriver } from './virtq-driver.js';

const HDR = 0x100000, DATA = 0x101000, STATUS = 0x10f000;

let dir: string, img: string, disk: FileDisk, mem: PhysMemory, blk: VirtioBlk, drv: TestDriver, log: GateRecord[], irq: boolean;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'x86ft-blk-'));
  img = join(dir, 'disk.img');
  const content = new Uint8Array(64 * 512);
  for (let s = 0; s < 64; s++) content.fill(s, s * 512, s * 512 + 512);
  writeFileSync(img, content);
  disk = FileDisk.open(img);
  log = [];
  const gate = new LiveGate({ clock: new ManualClock(), disks: [disk] }, { onRecord: (r) => log.push(r) });
  mem = new PhysMemory(4 << 20);
  irq = false;
  blk = new VirtioBlk(mem, (l) => { irq = l; }, gate.blockIo(0, () => 1234), { sizeBytes: disk.size, serial: 'SER-123' });
  drv = new TestDriver(mem, blk);
});
afterEach(() => { disk.close(); rmSync(dir, { recursive: true, force: true }); });

function header(type: number, sector: number): void {
  mem.dv.setUint32(HDR, type, true); mem.dv.setUint32(HDR + 4, 0, true);
  mem.dv.setUint32(HDR + 8, sector, true); mem.dv.setUint32(HDR + 12, 0, true);
}
function up(): void {
  expect(drv.negotiate(0)).toBe(true);
  drv.setupQueue(0, 8, 0x10000);
  drv.driverOk();
}

describe('virtio-blk over virtio-mmio', () => {
  it('identifies itself and exposes capacity', () => {
    expect(drv.r(0x000)).toBe(0x74726976);
    expect(drv.r(0x004)).toBe(2);
    expect(drv.r(0x008)).toBe(2);
    expect(blk.mmioRead(0x100, 4)).toBe(64);
    expect(blk.mmioRead(0x104, 4)).toBe(0);
    drv.w(0x14, 1);
    expect(drv.r(0x10) & 1).toBe(1); // VIRTIO_F_VERSION_1
    drv.w(0x30, 0);
    expect(drv.r(0x34)).toBe(128);
  });

  it('refuses FEATURES_OK without VERSION_1 or with unknown features', () => {
    expect(drv.negotiate(0, 0)).toBe(false);
    expect(drv.negotiate(1 << 28)).toBe(false);
    expect(drv.negotiate(1 << 9)).toBe(true);
  });

  it('reads sectors (IN) through the gate into guest RAM', () => {
    up();
    header(0, 3);
    const head = drv.submit(0, [{ addr: HDR, len: 16 }, { addr: DATA, len: 1024, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(drv.used(0)).toEqual([{ id: head, len: 1025 }]);
    expect(mem.u8[STATUS]).toBe(0);
    expect(mem.u8[DATA]).toBe(3);
    expect(mem.u8[DATA + 1023]).toBe(4);
    expect(irq).toBe(true);
    expect(drv.r(0x60)).toBe(1);
    drv.w(0x64, 1);
    expect(irq).toBe(false);
    const rec = log.find((r) => r.kind === GateKind.DiskRead)!;
    expect(rec.icount).toBe(1234);
    expect((rec.payload as Uint8Array).length).toBe(1024);
  });

  it('writes sectors (OUT) to the image file, FLUSH and GET_ID', () => {
    up();
    header(1, 5);
    mem.u8.fill(0xee, DATA, DATA + 512);
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: DATA, len: 512 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(drv.used(0)[0]!.len).toBe(1);
    expect(mem.u8[STATUS]).toBe(0);
    const f = readFileSync(img);
    expect(f[5 * 512]).toBe(0xee);
    expect(f[6 * 512]).toBe(6);
    header(4, 0);
    mem.u8[STATUS] = 0xff;
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(mem.u8[STATUS]).toBe(0);
    header(8, 0);
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: DATA, len: 20, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(new TextDecoder().decode(mem.u8.subarray(DATA, DATA + 7))).toBe('SER-123');
    expect(log.map((r) => r.kind)).toEqual([GateKind.DiskWrite, GateKind.DiskFlush]);
  });

  it('answers IOERR for out-of-range sectors and UNSUPP for unknown types', () => {
    up();
    header(0, 63);
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: DATA, len: 1024, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(mem.u8[STATUS]).toBe(1);
    header(99, 0);
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(mem.u8[STATUS]).toBe(2);
    expect(blk.needsReset).toBe(false);
  });

  it('a buffer outside RAM sets DEVICE_NEEDS_RESET with a config interrupt', () => {
    up();
    header(0, 0);
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: 0x7ff00000, len: 512, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(drv.r(0x70) & 64).toBe(64);
    expect(drv.r(0x60) & 2).toBe(2);
    expect(irq).toBe(true);
    // A reset brings it back.
    up();
    expect(drv.r(0x70) & 64).toBe(0);
  });

  it('a descriptor loop sets DEVICE_NEEDS_RESET', () => {
    up();
    header(0, 0);
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: DATA, len: 512, write: true }], (head) => {
      mem.dv.setUint16(drv.descAddr(0, head + 1) + 12, 3, true); // NEXT|WRITE
      mem.dv.setUint16(drv.descAddr(0, head + 1) + 14, head, true); // back to the head
    });
    drv.notify(0);
    expect(blk.needsReset).toBe(true);
  });

  it('a queue placed outside RAM sets DEVICE_NEEDS_RESET, never throws', () => {
    expect(drv.negotiate(0)).toBe(true);
    drv.setupQueue(0, 8, 0x7fff0000);
    drv.driverOk();
    expect(() => drv.notify(0)).not.toThrow();
    expect(blk.needsReset).toBe(true);
  });

  it('snapshot round trip keeps queue positions', () => {
    up();
    header(0, 1);
    drv.submit(0, [{ addr: HDR, len: 16 }, { addr: DATA, len: 512, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    const s = JSON.parse(JSON.stringify(blk.saveState()));
    expect(s.transport.queues[0].lastAvail).toBe(1);
    blk.loadState(s);
    expect(drv.r(0x70)).toBe(0x0f);
  });

  it('FileDisk reports a missing image clearly', () => {
    expect(() => FileDisk.open(join(dir, 'nope.img'))).toThrow(/nope\.img: cannot open \(no such file or directory\)/);
  });
});
