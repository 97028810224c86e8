// Record real guests on a live gate (host timing deliberately disturbed), replay them from the log
// alone: console output, frames, disk image and final machine state must be identical.
import { describe, it, expect } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GateKind, type GateRecord } from '../../src/machine/gate.js';
import { FileDisk } from '../../src/devices/backends/disk.js';
import { gateToEntry, entryToGate } from '../../src/replay/gate-entries.js';
import { encodeLog, decodeLog, LogEncoder, InvalidEntryError } from '../../src/replay/codec.js';
import { sampleHeader } from '../../src/replay/codec-bench.js';
import { guestFile, timerGuestSource, integerGuestSource } from './record-replay-guests.js';
import { recordGuest, replayBytes, sha256 } from './record-replay-helpers.js';

const timerImage = () => new Uint8Array(readFileSync(guestFile('timer', timerGuestSource(40, 1193, 40_000))));
const GUESTS = join(import.meta.dirname, '../../guests/build');

describe('gate records <-> log entries', () => {
  it('round-trips every gate record kind exactly, in order, through the codec', () => {
    const rnd = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 0xff]);
    const recs: GateRecord[] = [
      { icount: 0, kind: GateKind.Wall, chan: 0, payload: 1_700_000_000_123 },
      { icount: 0, kind: GateKind.Irq, chan: 3, payload: 1 },
      { icount: 0, kind: GateKind.ConsoleIn, chan: 0, payload: new Uint8Array([0x61, 0x62]) },
      { icount: 0, kind: GateKind.NetRx, chan: 1, payload: new Uint8Array(60).fill(9) },
      { icount: 0, kind: GateKind.Time, chan: 0, payload: 123_456_789 },
      { icount: 7, kind: GateKind.Tsc, chan: 0, payload: 2 ** 52 + 3 },
      { icount: 7, kind: GateKind.Rdrand, chan: 0, payload: rnd },
      { icount: 9, kind: GateKind.DiskRead, chan: 0, payload: new Uint8Array(1024).fill(5), arg: 512 * 77 },
      { icount: 9, kind: GateKind.DiskRead, chan: 1, payload: 1, arg: 512 * 2 ** 30 },
      { icount: 10, kind: GateKind.DiskWrite, chan: 0, payload: 0, arg: 4096 },
      { icount: 10, kind: GateKind.DiskWrite, chan: 0, payload: 1, arg: 0 },
      { icount: 11, kind: GateKind.DiskFlush, chan: 0, payload: 0 },
      { icount: 11, kind: GateKind.DiskFlush, chan: 2, payload: 1 },
      { icount: 12, kind: GateKind.Irq, chan: 3, payload: 0 },
      { icount: 12, kind: GateKind.Time, chan: 0, payload: 123_999_999 },
    ];
    const bytes = encodeLog(sampleHeader(), recs.map(gateToEntry), 4);
    const back = decodeLog(bytes).entries.map(entryToGate);
    expect(back).toEqual(recs);
    expect(() => gateToEntry({ icount: 1, kind: GateKind.DiskWrite, chan: 0, payload: 0, arg: 100 })).toThrow(/not a multiple of 512/);
  });

  it('reads version-1 streams and refuses version-2 kinds in them', () => {
    const v1 = encodeLog({ ...sampleHeader(), version: 1 }, [{ icount: 1, kind: 'tsc', payload: { lo: 1, hi: 2 } }, { icount: 2, kind: 'end', payload: { reason: 'exit', status: 0 } }]);
    const d = decodeLog(v1);
    expect(d.header.version).toBe(1);
    expect(d.entries.map((e) => e.kind)).toEqual(['tsc', 'end']);
    const enc = new LogEncoder({ ...sampleHeader(), version: 1 });
    enc.start();
    expect(() => enc.batch([{ icount: 1, kind: 'disk-status', payload: { device: 0, op: 2, sector: 0, status: 0 } }])).toThrow(InvalidEntryError);
  });
});

describe('record and replay real guests', () => {
  it('timer-interrupt guest: two recordings under different host timing both replay identically', async () => {
    const image = timerImage();
    const a = await recordGuest(image, { digestEvery: 100_000 });
    const b = await recordGuest(image, { digestEvery: 100_000, disturb: 4242 });
    expect(a.result).toMatchObject({ end: 'exit', status: 7 });
    expect(b.result).toMatchObject({ end: 'exit', status: 7 });
    // the host timing really differed: the interrupts landed elsewhere
    expect(sha256(a.log)).not.toBe(sha256(b.log));
    expect(a.stateHash).not.toBe(b.stateHash);
    for (const rec of [a, b]) {
      const rep = await replayBytes(rec.log, { image });
      expect(rep.report.outcome).toBe('identical');
      expect(rep.report.instructions).toBe(rec.result.instructions);
      expect(rep.report.digestsChecked).toBe(rec.recorder.stats.digests);
      expect(rep.console).toBe(rec.console);
      expect(rep.stateHash).toBe(rec.stateHash);
    }
  });

  it('integer guest with no inputs: digests every 10k instructions all match', async () => {
    const image = new Uint8Array(readFileSync(guestFile('intmix', integerGuestSource(30_000))));
    const rec = await recordGuest(image, { digestEvery: 10_000 });
    expect(rec.result.end).toBe('exit');
    const rep = await replayBytes(rec.log, { image });
    expect(rep.report.outcome).toBe('identical');
    expect(rep.report.digestsChecked).toBeGreaterThan(30);
    expect(rep.console).toBe(rec.console);
    expect(rep.stateHash).toBe(rec.stateHash);
  });

  it('dev_disk guest: replayed disk writes rebuild the same disk image, reads come from the log', async () => {
    const path = join(GUESTS, 'dev_disk-O2.elf');
    const image = new Uint8Array(readFileSync(path));
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-rr-disk-'));
    try {
      const orig = new Uint8Array(128 * 512);
      orig.set(new TextEncoder().encode('hello from sector 0\n'));
      const file = join(dir, 'd.img');
      writeFileSync(file, orig);
      const disk = FileDisk.open(file);
      let rec;
      try {
        rec = await recordGuest(image, { memSize: 16 << 20, disks: [{ sizeBytes: disk.size }], backends: { disks: [disk] }, disturb: 99 });
      } finally { disk.close(); }
      expect(rec.result).toMatchObject({ end: 'exit', status: 0 });
      const kinds = new Set(decodeLog(rec.log).entries.map((e) => e.kind));
      expect(kinds).toContain('disk-read');
      expect(kinds).toContain('disk-status');
      const replica = orig.slice();
      const rep = await replayBytes(rec.log, { image, diskWrite: (_d, off, data) => replica.set(data, off) });
      expect(rep.report.outcome).toBe('identical');
      expect(rep.console).toBe(rec.console);
      expect(rep.console).toContain('hello from sector 0');
      expect(rep.stateHash).toBe(rec.stateHash);
      expect(sha256(replica)).toBe(sha256(new Uint8Array(readFileSync(file))));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('dev_timer guest (HLT idling, PIT/RTC, RDTSC) replays identically', async () => {
    const image = new Uint8Array(readFileSync(join(GUESTS, 'dev_timer-O2.elf')));
    const rec = await recordGuest(image, { memSize: 32 << 20, cmdline: '500', digestEvery: 1_000_000, disturb: 5 });
    expect(rec.result.end).toBe('exit');
    const rep = await replayBytes(rec.log, { image });
    expect(rep.report.outcome).toBe('identical');
    expect(rep.console).toBe(rec.console);
    expect(rep.stateHash).toBe(rec.stateHash);
    // replay does not wait for host time: it is much faster than the recording of an idling guest
    expect(rep.report.run?.status).toBe(rec.result.status);
  }, 60_000);
});
