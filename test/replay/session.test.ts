// The replay step API (ReplaySession): feed a real recording in pieces, run only to a limit, go
// live at G mid-run on a live gate, re-issue the outputs after the release marks, and finish
// live: console and disk equal the uninterrupted recording's byte for byte. The guest is a real
// gcc-built console + disk guest (guests/src/dev_ftdisk.c) whose output does not depend on time.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import { LiveGate, type DiskBackend } from '../../src/machine/gate.js';
import { OutputSeam } from '../../src/machine/outputs.js';
import { SystemClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { Recorder } from '../../src/replay/recorder.js';
import { ReplaySession } from '../../src/replay/session.js';
import { decodeLog } from '../../src/replay/codec.js';
import { frameBoundaries } from './helpers.js';
import { memorySink } from './record-replay-helpers.js';
import { guestElf } from '../devices-guests/helpers.js';

class MemDisk implements DiskBackend {
  constructor(readonly bytes: Uint8Array) {}
  get size(): number { return this.bytes.length; }
  read(o: number, l: number): Uint8Array { return this.bytes.slice(o, o + l); }
  write(o: number, d: Uint8Array): void { this.bytes.set(d, o); }
  flush(): void {}
}

const SIZE = 64 * 512;
let image: Uint8Array;
let log: Uint8Array;
let console0: string;
let disk0: Uint8Array;
let writes: { offset: number; data: Uint8Array }[];
let lastIcount: number;

beforeAll(async () => {
  image = new Uint8Array(readFileSync(guestElf('dev_ftdisk')));
  const sink = memorySink();
  const rec = new Recorder({ sink, image, digestEvery: 50_000 });
  const disk = new MemDisk(new Uint8Array(SIZE));
  writes = [];
  const spy: DiskBackend = { size: SIZE, read: (o, l) => disk.read(o, l), write: (o, d) => { writes.push({ offset: o, data: d.slice() }); disk.write(o, d); }, flush: () => {} };
  const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), disks: [spy] }, { onRecord: rec.onRecord });
  let out = '';
  const m = Machine.fromElf(image, { memSize: 32 << 20, cmdline: '60', disks: [{ sizeBytes: SIZE }], gate, consoleOut: (b) => { out += String.fromCharCode(b); } });
  rec.attach(m);
  const r = await rec.run();
  expect(r.end).toBe('exit');
  expect(r.status).toBe(0);
  log = sink.bytes();
  console0 = out;
  disk0 = disk.bytes;
  lastIcount = r.instructions;
  expect(out).toContain('ftdisk done 60');
}, 60_000);

/** A seeded PRNG (tests are repeatable). */
function rng(seed: number): () => number {
  return () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
}

describe('ReplaySession', () => {
  it('replays a log fed in random pieces to identical, never past the limit given', () => {
    const rnd = rng(7);
    const s = new ReplaySession({ image });
    let off = 0, limit = 0;
    while (off < log.length) {
      const n = 1 + Math.floor(rnd() * 3000);
      s.feed(log.subarray(off, off + n)); off += n;
      limit = Math.max(limit, Math.floor(s.lastEntryIcount * rnd()));
      const st = s.run(limit);
      if (s.machine) expect(s.machine.cpu.icount).toBeLessThanOrEqual(limit + 1);
      expect(st.done).toBe(false);
    }
    s.end();
    const st = s.run();
    expect(st.done && st.report.outcome).toBe('identical');
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`goes live at G mid-run and finishes live with the same console and disk (seed ${seed})`, async () => {
      const rnd = rng(seed * 7919);
      const cuts = frameBoundaries(log);
      // the log as a secondary may hold it when the primary dies: cut at a frame, or inside one
      let cut = cuts[1 + Math.floor(rnd() * (cuts.length - 2))]!;
      if (rnd() < 0.5) cut += 1 + Math.floor(rnd() * 20);
      const { entries } = decodeLog(log);
      // the primary completed some prefix of its outputs (release marks) before it died
      const consoleMark = Math.floor(rnd() * console0.length * 0.5);
      const writeMark = Math.floor(rnd() * writes.length * 0.5);
      const disk = new MemDisk(new Uint8Array(SIZE));
      for (const w of writes.slice(0, writeMark)) disk.write(w.offset, w.data);
      const cons = new Uint8Array(console0.length + 1000);
      let maxCon = 0;
      cons.set(Array.from(console0.slice(0, consoleMark), (c) => c.charCodeAt(0)));
      const seam = new OutputSeam({ mode: 'suppress', sinks: { console: (b, seq) => { cons[seq - 1] = b; maxCon = Math.max(maxCon, seq); }, disks: [disk] } });
      const s = new ReplaySession({ image, outputs: seam });
      s.feed(log.subarray(0, cut));
      const lastSync = Math.max(0, s.lastEntryIcount - 1 - Math.floor(rnd() * 50_000));
      s.run(lastSync);
      // flushes count in the disk stream as well: the mark is the seq of the writeMark-th write
      let seq = 0, wseen = 0;
      for (const e of entries) {
        if (e.kind !== 'disk-status' || e.payload.op === 0) continue;
        if (e.payload.op === 1) { if (wseen === writeMark) break; wseen++; }
        seq++;
      }
      seam.trim({ console: consoleMark, disk0: seq });
      const G = Math.max(lastSync + 1, s.lastEntryIcount);
      const gl = s.goLive(G);
      expect(gl.icount).toBeLessThanOrEqual(G);
      expect(gl.machine.cpu.icount).toBe(gl.icount);
      seam.reissue();
      seam.setMode('live');
      let r = gl.report?.run;
      if (!r) {
        expect(gl.report).toBeUndefined();
        gl.gate.use(new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), disks: [disk] }, { startNs: gl.timeNs, startTsc: gl.lastTsc }));
        r = await gl.machine.runAsync();
      }
      // (a cut after the guest's exit but before the end record: the guest already ended at G)
      expect(r.end).toBe('exit');
      expect(r.status).toBe(0);
      expect(r.instructions).toBe(lastIcount);
      expect(Buffer.from(cons.subarray(0, maxCon)).toString('latin1')).toBe(console0);
      expect(Buffer.from(disk.bytes).equals(Buffer.from(disk0))).toBe(true);
    }, 60_000);
  }

  it('hold mode (the Output Rule on a primary): the guest reads back its held writes; nothing reaches a sink before release', async () => {
    const disk = new MemDisk(new Uint8Array(SIZE));
    let out = '';
    const seam = new OutputSeam({ mode: 'hold', sinks: { console: (b) => { out += String.fromCharCode(b); }, disks: [disk] } });
    const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), disks: [disk] });
    const m = Machine.fromElf(image, { memSize: 32 << 20, cmdline: '60', disks: [{ sizeBytes: SIZE }], gate, outputs: seam });
    const r = await m.runAsync();
    expect(r.end).toBe('exit');
    expect(r.status).toBe(0);
    expect(out).toBe('');
    expect(disk.bytes.every((b) => b === 0)).toBe(true);
    expect(seam.release(r.instructions)).toBeGreaterThan(60);
    expect(out).toBe(console0);
    expect(Buffer.from(disk.bytes).equals(Buffer.from(disk0))).toBe(true);
  }, 60_000);
});
