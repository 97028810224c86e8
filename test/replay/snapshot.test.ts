import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, SnapshotError, decodeSnapshot, encodeSnapshot, nonZeroPages } from '../../src/replay/snapshot.js';

function sample() {
  const ram = new Uint8Array(64 * PAGE_SIZE + 100); // not a page multiple
  ram[5] = 1;
  ram.fill(0xcc, 10 * PAGE_SIZE, 12 * PAGE_SIZE);
  ram[ram.length - 1] = 0x7f; // in the partial last page
  return {
    sections: {
      cpu: { rip: 0x100000, gpr: new Uint32Array([1, 2, 3, 0xffffffff]), tsc: 2n ** 63n + 5n, flags: { cf: true, zf: false }, mode: 'long' },
      devices: { uart: { version: 1, fifo: new Uint8Array([0x41, 0x42]), lcr: 3 }, pic: [{ imr: 0xff }, { imr: 0xfb }] },
      blob: new Uint8Array([9, 8, 7]),
      nothing: null,
    },
    ram,
  };
}

describe('snapshot', () => {
  it('round-trips sections and RAM, storing only non-zero pages', () => {
    const s = sample();
    const { bytes, hash } = encodeSnapshot(s);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(nonZeroPages(s.ram)).toEqual([0, 10, 11, 64]);
    expect(bytes.length).toBeLessThan(5 * PAGE_SIZE);
    const d = decodeSnapshot(bytes, { expectHash: hash });
    expect(d.hash).toBe(hash);
    expect(d.version).toBe(1);
    expect(d.ram).toEqual(s.ram);
    expect(d.sections).toEqual(s.sections);
    expect((d.sections.cpu as { gpr: unknown }).gpr).toBeInstanceOf(Uint32Array);
    expect(Object.getPrototypeOf((d.sections.devices as { uart: { fifo: unknown } }).uart.fifo)).toBe(Uint8Array.prototype);
  });

  it('hash is content identity: same content same hash, section order irrelevant', () => {
    const a = sample();
    const b = { sections: Object.fromEntries(Object.entries(a.sections).reverse()), ram: a.ram.slice() };
    expect(encodeSnapshot(a).hash).toBe(encodeSnapshot(b).hash);
    b.ram[100] = 1;
    expect(encodeSnapshot(a).hash).not.toBe(encodeSnapshot(b).hash);
    // unaligned RAM views work too
    const buf = new Uint8Array(a.ram.length + 1);
    buf.set(a.ram, 1);
    expect(encodeSnapshot({ sections: a.sections, ram: buf.subarray(1) }).hash).toBe(encodeSnapshot(a).hash);
  });

  it('detects corruption, truncation and a wrong hash with typed errors', () => {
    const { bytes } = encodeSnapshot(sample());
    const codeOf = (b: Uint8Array, expectHash?: string) => {
      try {
        decodeSnapshot(b, { expectHash });
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(SnapshotError);
        return (e as SnapshotError).code;
      }
    };
    // every 97th byte, every bit
    for (let i = 0; i < bytes.length; i += i < 200 ? 1 : 97) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = bytes.slice();
        bad[i]! ^= 1 << bit;
        expect(codeOf(bad), `byte ${i}`).not.toBe('ok');
      }
    }
    expect(codeOf(bytes.subarray(0, bytes.length - 1))).toBe('SNAPSHOT_TRUNCATED');
    expect(codeOf(bytes.subarray(0, 20))).toBe('SNAPSHOT_TRUNCATED');
    expect(codeOf(new TextEncoder().encode('X86FTLOG' + ' '.repeat(60)))).toBe('SNAPSHOT_BAD_MAGIC');
    expect(codeOf(bytes, '00'.repeat(32))).toBe('SNAPSHOT_HASH');
    const flipped = bytes.slice();
    flipped[100]! ^= 1;
    expect(codeOf(flipped)).toBe('SNAPSHOT_CRC');
  });
});
