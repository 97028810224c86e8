// Sample-entry generator and codec throughput measurement, for bench/ and
// tests. Deterministic (seeded PRNG). Imports only the codec and format.

import { LogDecoder, LogEncoder } from './codec.js';
import type { LogEntry, LogHeaderInit } from './format.js';

/** A valid header for samples and tests. */
export function sampleHeader(over: Partial<LogHeaderInit> = {}): LogHeaderInit {
  return {
    imageSha256: 'ab'.repeat(32),
    memorySize: 64 << 20,
    devices: { uart: [{ port: 0x3f8, irq: 4 }], pit: true, rtc: true, virtio: [] },
    digestInterval: 1_000_000,
    startIcount: 0,
    fromSnapshot: null,
    ...over,
  };
}

/** xorshift32 PRNG in [0, 2^32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

/**
 * `n` valid entries with a realistic mix (mostly port reads, TSC, interrupts
 * and host-time, some console input, digests, rare DMA), icounts
 * non-decreasing from `start`.
 */
export function sampleEntries(n: number, seed = 1, start = 0): LogEntry[] {
  const r = rng(seed);
  const out: LogEntry[] = [];
  let ic = start;
  for (let i = 0; i < n; i++) {
    ic += r() % 4 === 0 ? 0 : r() % 5000;
    const x = r() % 100;
    let e: LogEntry;
    if (x < 35) e = { icount: ic, kind: 'port-read', payload: { port: 0x3f8 + (r() % 8), size: 1, value: r() & 0xff } };
    else if (x < 55) e = { icount: ic, kind: 'tsc', payload: { lo: r(), hi: r() & 0xff } };
    else if (x < 70) e = { icount: ic, kind: 'interrupt', payload: { irq: r() % 16, level: r() & 1 } };
    else if (x < 82) e = { icount: ic, kind: 'host-time', payload: { ns: 1e12 + ic * 3 } };
    else if (x < 88) e = { icount: ic, kind: 'console-input', payload: { unit: 0, data: bytes(r, 1 + (r() % 4)) } };
    else if (x < 91) e = { icount: ic, kind: 'mmio-read', payload: { addr: 0xfeb00000 + (r() % 64) * 4, size: 4, lo: r(), hi: 0 } };
    else if (x < 94) e = { icount: ic, kind: 'rdrand', payload: { size: 8, lo: r(), hi: r(), ok: true } };
    else if (x < 96) e = { icount: ic, kind: 'digest', payload: { hash: bytes(r, 32) } };
    else if (x < 97) e = { icount: ic, kind: 'rtc', payload: { epochMs: 1_700_000_000_000 + ic } };
    else if (x < 98) e = { icount: ic, kind: 'disk-read', payload: { device: 0, sector: r() % 1000, data: bytes(r, 512) } };
    else if (x < 99) e = { icount: ic, kind: 'net-rx', payload: { device: 1, data: bytes(r, 60 + (r() % 100)) } };
    else e = { icount: ic, kind: 'heartbeat', payload: { seq: i, epochMs: 1_700_000_000_000 + i } };
    out.push(e);
  }
  return out;
}

function bytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r() & 0xff;
  return b;
}

export interface CodecThroughput {
  entries: number;
  batchSize: number;
  encodeEntriesPerSec: number;
  decodeEntriesPerSec: number;
  bytesPerEntry: number;
  totalBytes: number;
}

/**
 * Encode then decode `entries` sample entries (or the given ones) in batches
 * of `batchSize`, `rounds` times, and report throughput and size.
 * Encoding includes validation, as the writer does it.
 */
export function measureCodecThroughput(opts: { entries?: number; batchSize?: number; rounds?: number; sample?: LogEntry[] } = {}): CodecThroughput {
  const sample = opts.sample ?? sampleEntries(opts.entries ?? 100_000, 7);
  const batchSize = opts.batchSize ?? 512;
  const rounds = opts.rounds ?? 3;
  let encNs = 0;
  let decNs = 0;
  let total = 0;
  for (let round = 0; round < rounds; round++) {
    const t0 = process.hrtime.bigint();
    const enc = new LogEncoder(sampleHeader());
    const parts: Uint8Array[] = [enc.start()];
    let prev = 0;
    for (let i = 0; i < sample.length; i += batchSize) {
      const b = sample.slice(i, i + batchSize);
      for (const e of b) {
        LogEncoder.check(e, prev);
        prev = e.icount;
      }
      parts.push(enc.batch(b, true));
    }
    parts.push(enc.end());
    const t1 = process.hrtime.bigint();
    const dec = new LogDecoder();
    let n = 0;
    for (const p of parts) {
      dec.push(p);
      while (dec.read() !== undefined) n++;
    }
    const t2 = process.hrtime.bigint();
    if (n !== sample.length || !dec.finished) throw new Error('codec benchmark: round trip lost entries');
    encNs += Number(t1 - t0);
    decNs += Number(t2 - t1);
    total = parts.reduce((s, p) => s + p.length, 0);
  }
  const count = sample.length * rounds;
  return {
    entries: sample.length,
    batchSize,
    encodeEntriesPerSec: count / (encNs / 1e9),
    decodeEntriesPerSec: count / (decNs / 1e9),
    bytesPerEntry: total / sample.length,
    totalBytes: total,
  };
}
