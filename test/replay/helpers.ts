// Shared fixtures for the replay tests.
import type { LogEntry } from '../../src/replay/format.js';

/** One entry of every kind, including edge values. */
export function everyKind(): LogEntry[] {
  const big = 2 ** 53 - 2000;
  return [
    { icount: 0, kind: 'start', payload: { epochMs: 1_700_000_000_000 } },
    { icount: 0, kind: 'interrupt', payload: { irq: 4, level: 1 } },
    { icount: 5, kind: 'port-read', payload: { port: 0xffff, size: 4, value: 0xffffffff } },
    { icount: 5, kind: 'mmio-read', payload: { addr: 2 ** 40 + 8, size: 8, lo: 0x12345678, hi: 0x9abcdef0 } },
    { icount: 300, kind: 'tsc', payload: { lo: 0, hi: 0xffffffff } },
    { icount: 70_000, kind: 'rtc', payload: { epochMs: 1_700_000_000_123 } },
    { icount: 70_001, kind: 'rdrand', payload: { size: 2, lo: 0xbeef, hi: 0, ok: false } },
    { icount: 2 ** 32 + 1, kind: 'host-time', payload: { ns: 2 ** 53 - 1 } },
    { icount: 2 ** 32 + 1, kind: 'console-input', payload: { unit: 0, data: new Uint8Array([0x61, 0x0d]) } },
    { icount: 2 ** 33, kind: 'disk-read', payload: { device: 0, sector: 2 ** 40, data: new Uint8Array(512).fill(7) } },
    { icount: 2 ** 33, kind: 'net-rx', payload: { device: 1, data: new Uint8Array(0) } },
    { icount: 2 ** 33 + 5, kind: 'disk-status', payload: { device: 2, op: 1, sector: 2 ** 40, status: 1 } },
    { icount: 2 ** 34, kind: 'digest-detail', payload: { state: new Uint8Array([1, 0, 2]), pages: new Uint8Array(8).fill(3), devices: new Uint8Array(0) } },
    { icount: 2 ** 34, kind: 'digest', payload: { hash: new Uint8Array(32).fill(0xaa) } },
    { icount: 2 ** 34, kind: 'snapshot', payload: { hash: 'cd'.repeat(32) } },
    { icount: 2 ** 34 + 1, kind: 'heartbeat', payload: { seq: 9, epochMs: 1_700_000_000_999 } },
    { icount: big, kind: 'end', payload: { reason: 'exit — ok', status: 3 } },
  ];
}

/** Offsets where frames start (after the magic), plus the end of stream. */
export function frameBoundaries(bytes: Uint8Array): number[] {
  const out = [0, 8];
  let o = 8;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (o < bytes.length) {
    o += 8 + (dv.getUint32(o, true) & 0xffffff);
    out.push(o);
  }
  return out;
}
