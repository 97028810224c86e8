import { describe, expect, it } from 'vitest';
import { crc32, crc32Update } from '../../src/replay/crc32.js';
import {
  CorruptLogError,
  LogDecoder,
  LogEncoder,
  TruncatedLogError,
  UnsupportedVersionError,
  InvalidEntryError,
  concatBytes,
  decodeLog,
  encodeLog,
} from '../../src/replay/codec.js';
import { ENTRY_KINDS, HeaderMismatchError, LOG_FORMAT_VERSION, checkHeader, type LogEntry } from '../../src/replay/format.js';
import { measureCodecThroughput, sampleEntries, sampleHeader } from '../../src/replay/codec-bench.js';
import { everyKind, frameBoundaries } from './helpers.js';

describe('msgpackr', () => {
  it('runs on the pure-JS path (the native extension is not loaded)', async () => {
    const { isNativeAccelerationEnabled } = (await import('msgpackr/unpack')) as unknown as { isNativeAccelerationEnabled: boolean };
    expect(isNativeAccelerationEnabled).toBe(false);
  });
});

describe('crc32', () => {
  it('matches the IEEE check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('long runs (zlib\'s CRC-32 where Node has it) and short steps (the table) agree with Python\'s zlib.crc32', () => {
    const b = new Uint8Array(1 << 20);
    for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 255;
    // python3: zlib.crc32(bytes(((i*7+3)&255) for i in range(1<<20))), and of [5, 300000)
    expect(crc32(b)).toBe(0x4a24d8fa);
    expect(crc32(b, 5, 300_000)).toBe(0xcc0049f8);
    let c = 0;
    for (let at = 0; at < b.length; at += 100) c = crc32Update(c, b, at, Math.min(at + 100, b.length));
    expect(c).toBe(0x4a24d8fa);
  });
});

describe('codec round trip', () => {
  it('covers every entry kind', () => {
    const entries = everyKind();
    expect(new Set(entries.map((e) => e.kind))).toEqual(new Set(ENTRY_KINDS));
    for (const batch of [1, 2, 3, 100]) {
      const bytes = encodeLog(sampleHeader(), entries, batch);
      const { header, entries: back, trailer } = decodeLog(bytes);
      expect(header).toEqual({ ...sampleHeader(), version: LOG_FORMAT_VERSION, recorder: null, ft: null });
      expect(back).toEqual(entries);
      for (const e of back) for (const v of Object.values(e.payload)) if (v instanceof Uint8Array) expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype);
      expect(trailer).toEqual({ entries: entries.length, lastIcount: 2 ** 53 - 2000 });
    }
  });

  it('delta-encodes icounts across batches, from startIcount', () => {
    const start = 1_000_000_000_000;
    const entries = sampleEntries(1000, 3, start);
    for (const batch of [1, 7, 999, 1000]) {
      const bytes = encodeLog(sampleHeader({ startIcount: start }), entries, batch);
      expect(decodeLog(bytes).entries).toEqual(entries);
    }
    // deltas, not absolute counts: a large start costs nothing per entry
    const a = encodeLog(sampleHeader({ startIcount: start }), entries, 50).length;
    const b = encodeLog(sampleHeader(), sampleEntries(1000, 3, 0), 50).length;
    expect(Math.abs(a - b)).toBeLessThan(16);
  });

  it('decodes incrementally, byte by byte and in random chunks', () => {
    const entries = sampleEntries(300, 5);
    const bytes = encodeLog(sampleHeader(), entries, 40);
    const d = new LogDecoder();
    const got: LogEntry[] = [];
    for (let i = 0; i < bytes.length; i++) {
      d.push(bytes.subarray(i, i + 1));
      got.push(...d.drain());
    }
    d.eof();
    got.push(...d.drain());
    expect(d.finished).toBe(true);
    expect(got).toEqual(entries);
    const d2 = new LogDecoder();
    const got2: LogEntry[] = [];
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + ((i * 7919) % 4000);
      d2.push(bytes.slice(i, i + n));
      i += n;
      got2.push(...d2.drain());
    }
    expect(got2).toEqual(entries);
  });

  it('refuses invalid entries at encode time', () => {
    const enc = new LogEncoder(sampleHeader({ startIcount: 10 }));
    enc.start();
    expect(() => enc.batch([{ icount: 9, kind: 'tsc', payload: { lo: 0, hi: 0 } }])).toThrow(InvalidEntryError);
    expect(() => enc.batch([{ icount: 10, kind: 'tsc', payload: { lo: -1, hi: 0 } }])).toThrow(/lo must be u32/);
    expect(() => enc.batch([{ icount: 10, kind: 'port-read', payload: { port: 1, size: 3, value: 0 } }])).toThrow(/size/);
    expect(() => enc.batch([{ icount: 1.5, kind: 'tsc', payload: { lo: 0, hi: 0 } }])).toThrow(/icount/);
    expect(() => enc.batch([{ icount: 10, kind: 'nope', payload: {} } as unknown as LogEntry])).toThrow(/unknown entry kind/);
    expect(() => enc.batch([{ icount: 10, kind: 'tsc', payload: { lo: 0, hi: 0, x: 1 } } as unknown as LogEntry])).toThrow(/unexpected/);
    expect(() => enc.batch([{ icount: 12, kind: 'tsc', payload: { lo: 0, hi: 0 } }, { icount: 11, kind: 'tsc', payload: { lo: 0, hi: 0 } }])).toThrow(/must not decrease/);
    expect(() => new LogEncoder(sampleHeader({ imageSha256: 'xyz' }))).toThrow(/imageSha256/);
  });

  it('reports every truncation as "cut at offset", never a wrong entry', () => {
    const entries = everyKind();
    const bytes = encodeLog(sampleHeader(), entries, 4);
    // frame boundaries, to know the expected valid prefix
    const full = decodeLog(bytes);
    expect(full.entries.length).toBe(entries.length);
    const boundaries = frameBoundaries(bytes);
    for (let cut = 0; cut < bytes.length; cut++) {
      const d = new LogDecoder();
      d.push(bytes.slice(0, cut));
      d.eof();
      const got: LogEntry[] = [];
      let err: unknown;
      try {
        for (const e of d.drain()) got.push(e);
      } catch (e) {
        err = e;
      }
      expect(err, `cut ${cut}`).toBeInstanceOf(TruncatedLogError);
      const prefix = Math.max(...boundaries.filter((b) => b <= cut), 0);
      expect((err as TruncatedLogError).offset, `cut ${cut}`).toBe(prefix);
      expect(entries.slice(0, got.length)).toEqual(got);
    }
  });

  it('detects every single-bit flip as corruption at the right frame offset', () => {
    const entries = everyKind();
    const bytes = encodeLog(sampleHeader(), entries, 4);
    const boundaries = frameBoundaries(bytes);
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = bytes.slice();
        bad[i]! ^= 1 << bit;
        const d = new LogDecoder();
        d.push(bad);
        d.eof();
        const got: LogEntry[] = [];
        let err: unknown;
        try {
          for (const e of d.drain()) got.push(e);
        } catch (e) {
          err = e;
        }
        expect(err, `byte ${i} bit ${bit}`).toBeInstanceOf(CorruptLogError);
        const frameStart = i < 8 ? 0 : Math.max(...boundaries.filter((b) => b <= i));
        expect((err as CorruptLogError).offset, `byte ${i} bit ${bit}`).toBe(frameStart);
        expect(entries.slice(0, got.length)).toEqual(got);
        const reason = (err as CorruptLogError).reason;
        if (i >= frameStart + 8 || (i >= frameStart + 4 && i >= 8)) expect(reason).toBe('CRC mismatch');
      }
    }
  });

  it('rejects trailing data, unknown versions and a second header', () => {
    const bytes = encodeLog(sampleHeader(), sampleEntries(10), 4);
    expect(() => decodeLog(concatBytes([bytes, new Uint8Array([1])]))).toThrow(/data after the end frame/);
    const v2 = bytes.slice();
    v2[8 + 8 + 1] = 0x7f; // version low byte inside the header frame (an unknown version)
    // fix the CRC so only the version is wrong
    const len = new DataView(v2.buffer).getUint32(8, true) & 0xffffff;
    new DataView(v2.buffer).setUint32(12, crc32(v2, 16, 16 + len), true);
    expect(() => decodeLog(v2)).toThrow(UnsupportedVersionError);
    expect(() => decodeLog(new TextEncoder().encode('ELF\x7f....'))).toThrow(/bad magic/);
  });

  it('refuses a header that does not match the replayer', () => {
    const bytes = encodeLog(sampleHeader(), sampleEntries(10), 4);
    const ok = { imageSha256: 'AB'.repeat(32), memorySize: 64 << 20, devices: { virtio: [], rtc: true, pit: true, uart: [{ irq: 4, port: 0x3f8 }] }, fromSnapshot: null };
    expect(decodeLog(bytes, { expect: ok }).entries.length).toBe(10);
    expect(() => decodeLog(bytes, { expect: { ...ok, imageSha256: 'cd'.repeat(32) } })).toThrow(HeaderMismatchError);
    expect(() => decodeLog(bytes, { expect: { ...ok, memorySize: 1 } })).toThrow(/memorySize/);
    expect(() => decodeLog(bytes, { expect: { ...ok, devices: { uart: [] } } })).toThrow(/devices/);
    expect(() => decodeLog(bytes, { expect: { ...ok, fromSnapshot: 'ee'.repeat(32) } })).toThrow(/fromSnapshot/);
    // no entry is yielded before the check
    const d = new LogDecoder({ expect: { imageSha256: '00'.repeat(32) } });
    d.push(bytes);
    expect(() => d.read()).toThrow(HeaderMismatchError);
    expect(() => d.read()).toThrow(HeaderMismatchError);
    expect(() => checkHeader(decodeLog(bytes).header, ok)).not.toThrow();
  });

  it('measures throughput', () => {
    const r = measureCodecThroughput({ entries: 20_000, rounds: 1 });
    expect(r.encodeEntriesPerSec).toBeGreaterThan(0);
    expect(r.bytesPerEntry).toBeLessThan(40);
    console.log(`codec: ${(r.encodeEntriesPerSec / 1e6).toFixed(2)} M entries/s encode, ${(r.decodeEntriesPerSec / 1e6).toFixed(2)} M/s decode, ${r.bytesPerEntry.toFixed(2)} B/entry`);
  });
});

