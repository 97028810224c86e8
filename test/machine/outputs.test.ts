// The output seam on its own: numbering per stream, hold/release by icount, read-through of held
// writes, suppress/trim/re-issue, counters. Real DiskBackend over memory (the seam's contract is
// the sink calls, not the storage).
import { describe, it, expect } from 'vitest';
import { OutputSeam, type Output } from '../../src/machine/outputs.js';
import type { DiskBackend } from '../../src/machine/gate.js';

class MemDisk implements DiskBackend {
  readonly bytes = new Uint8Array(8192);
  flushes = 0;
  get size(): number { return this.bytes.length; }
  read(o: number, l: number): Uint8Array { return this.bytes.slice(o, o + l); }
  write(o: number, d: Uint8Array): void { this.bytes.set(d, o); }
  flush(): void { this.flushes++; }
}

function seamWith(mode: 'live' | 'hold' | 'suppress') {
  const con: [number, number][] = [], frames: [number, number, number][] = [];
  const disk = new MemDisk();
  let ic = 0;
  const seam = new OutputSeam({ mode, sinks: { console: (b, seq) => con.push([b, seq]), frame: (n, f, seq) => frames.push([n, f.length, seq]), disks: [disk] } });
  seam.icountSource = () => ic;
  return { seam, con, frames, disk, at: (n: number) => { ic = n; } };
}

describe('OutputSeam', () => {
  it('live: numbers each stream from 1, sends at once, completes', () => {
    const { seam, con, frames, disk, at } = seamWith('live');
    at(5); seam.console(65); seam.console(66);
    seam.frame(1, new Uint8Array(60));
    expect(seam.diskWrite(7, 0, 512, new Uint8Array(512).fill(9))).toBe(true);
    expect(seam.diskFlush(8, 0)).toBe(true);
    expect(con).toEqual([[65, 1], [66, 2]]);
    expect(frames).toEqual([[1, 60, 1]]);
    expect(disk.bytes[512]).toBe(9);
    expect(disk.flushes).toBe(1);
    expect(seam.completed()).toEqual({ console: 2, net1: 1, disk0: 2 }); // the flush made the write durable
    expect(seam.counters()).toEqual({ console: 2, net1: 1, disk0: 2 });
    expect(seam.tally.consoleBytes).toBe(2);
    expect(seam.tally.frames).toBe(1);
  });

  it('live: a disk without a backend fails the write (the guest sees an I/O error)', () => {
    const seam = new OutputSeam();
    expect(seam.diskWrite(1, 3, 0, new Uint8Array(512))).toBe(false);
  });

  it('hold: nothing reaches a sink before release; release(X) issues outputs stamped <= X in order', () => {
    const { seam, con, disk, at } = seamWith('hold');
    at(10); seam.console(1);
    expect(seam.diskWrite(11, 0, 0, new Uint8Array(512).fill(4))).toBe(true);
    at(20); seam.console(2);
    expect(con).toEqual([]);
    expect(disk.bytes[0]).toBe(0);
    expect(seam.heldCount).toBe(3);
    expect(seam.heldBytes).toBe(514);
    expect(seam.oldestHeldIcount).toBe(10);
    expect(seam.release(9)).toBe(0);
    expect(seam.release(11)).toBe(2);
    expect(con).toEqual([[1, 1]]);
    expect(disk.bytes[0]).toBe(4);
    // a disk write completes only with an fsync after it (FT.md release marks: "after completion")
    expect(seam.completed()).toEqual({ console: 1 });
    expect(seam.unsynced()).toEqual([[0, 1]]);
    expect(seam.syncDisks()).toBe(1);
    expect(disk.flushes).toBe(1);
    expect(seam.completed()).toEqual({ console: 1, disk0: 1 });
    expect(seam.unsynced()).toEqual([]);
    expect(seam.release(20)).toBe(1);
    expect(con).toEqual([[1, 1], [2, 2]]);
    expect(seam.heldCount).toBe(0);
    expect(seam.heldBytes).toBe(0);
  });

  it('hold: a read sees held writes over the backend, newest last', () => {
    const { seam, disk } = seamWith('hold');
    disk.bytes.fill(1, 0, 2048);
    seam.diskWrite(1, 0, 512, new Uint8Array(512).fill(7));
    seam.diskWrite(2, 0, 768, new Uint8Array(512).fill(8));
    const base = disk.read(0, 2048);
    const got = seam.readThrough(0, 0, base);
    expect(got[0]).toBe(1);
    expect(got[512]).toBe(7);
    expect(got[767]).toBe(7);
    expect(got[768]).toBe(8);
    expect(got[1279]).toBe(8);
    expect(got[1280]).toBe(1);
    expect(base[512]).toBe(1); // the backend's buffer is not modified
    expect(seam.readThrough(1, 0, base)).toBe(base); // another disk: untouched
  });

  it('hold: release with deferred flushes issues a flush without an fsync; its disk completes only at synced()', () => {
    const { seam, con, disk, at } = seamWith('hold');
    at(1); seam.diskWrite(1, 0, 0, new Uint8Array(512).fill(5));
    at(2); expect(seam.diskFlush(2, 0)).toBe(true); // the guest is told at once (held)
    at(3); seam.console(65);
    expect(seam.release(3, true)).toBe(3);
    expect(disk.bytes[0]).toBe(5);
    expect(disk.flushes).toBe(0); // not on this thread: the owner fsyncs (ReleaseMarks, on the thread pool)
    expect(con).toEqual([[65, 1]]);
    // issued, but not completed: disk0's flush (seq 2) is no completion mark until an fsync returned
    expect(seam.completed()).toEqual({ console: 1 });
    expect(seam.unsynced()).toEqual([[0, 2]]);
    disk.flush();
    seam.synced(0, 2);
    expect(seam.completed()).toEqual({ console: 1, disk0: 2 });
    expect(seam.unsynced()).toEqual([]);
    // without deferring, a released flush fsyncs at once and completes its disk
    at(4); seam.diskFlush(4, 0);
    expect(seam.release(4)).toBe(1);
    expect(disk.flushes).toBe(2);
    expect(seam.completed()).toEqual({ console: 1, disk0: 3 });
  });

  it('hold -> live releases everything held', () => {
    const { seam, con, at } = seamWith('hold');
    at(3); seam.console(9);
    seam.setMode('live');
    expect(con).toEqual([[9, 1]]);
  });

  it('suppress: counts, keeps what follows the release marks, re-issues it in order at go-live', () => {
    const { seam, con, disk, at } = seamWith('suppress');
    for (let i = 0; i < 5; i++) { at(i); seam.console(48 + i); }
    expect(seam.diskWrite(6, 0, 0, new Uint8Array(512).fill(3), true)).toBe(true);
    expect(seam.diskWrite(7, 0, 512, new Uint8Array(512).fill(3), false)).toBe(false); // the logged status wins
    expect(con).toEqual([]);
    seam.trim({ console: 3, disk0: 1 });
    expect(seam.held.map((o: Output) => `${o.stream}#${o.seq}`)).toEqual(['console#4', 'console#5', 'disk0#2']);
    // the primary may be ahead: outputs it already completed are not kept when produced later
    seam.trim({ console: 6 });
    at(8); seam.console(60);
    expect(seam.held.map((o) => `${o.stream}#${o.seq}`)).toEqual(['disk0#2']);
    at(9); seam.console(61);
    expect(seam.reissue()).toBe(2);
    expect(con).toEqual([[61, 7]]);
    expect(disk.bytes[512]).toBe(3);
    seam.setMode('hold');
    expect(seam.mode).toBe('hold');
  });

  it('leaving suppress with kept outputs is refused', () => {
    const { seam } = seamWith('suppress');
    seam.console(1);
    expect(() => seam.setMode('live')).toThrow(/re-issued/);
  });

  it('counters carry numbering across a snapshot', () => {
    const a = seamWith('live');
    a.seam.console(1); a.seam.console(2); a.seam.frame(0, new Uint8Array(1));
    const b = seamWith('live');
    b.seam.setCounters(a.seam.counters());
    b.seam.console(3);
    expect(b.con).toEqual([[3, 3]]);
    expect(b.seam.counters()).toEqual({ console: 3, net0: 1 });
  });

  it('a throwing sink is reported, never thrown to the guest', () => {
    const errs: string[] = [];
    const seam = new OutputSeam({ sinks: { console: () => { throw new Error('EPIPE'); } }, onSinkError: (o, e) => errs.push(`${o.stream}#${o.seq}: ${(e as Error).message}`) });
    seam.console(1);
    expect(errs).toEqual(['console#1: EPIPE']);
    expect(seam.completed()).toEqual({ console: 1 });
  });
  it('hold: onHold is called after each output is queued, never in live or suppress mode', () => {
    for (const mode of ['hold', 'live', 'suppress'] as const) {
      const { seam, at } = seamWith(mode);
      let calls = 0, heldAtCall = -1;
      seam.onHold = () => { calls++; heldAtCall = seam.heldCount; };
      at(3); seam.console(65); seam.frame(0, new Uint8Array(60)); seam.diskWrite(4, 0, 0, new Uint8Array(512)); seam.diskFlush(5, 0);
      expect(calls).toBe(mode === 'hold' ? 4 : 0);
      if (mode === 'hold') expect(heldAtCall).toBe(4); // the output is already queued when it is called
    }
  });

  it('a sink with batch() gathers a release: every output between batch(true) and batch(false), which ends before release() returns', () => {
    const log: string[] = [];
    const errors: [string, number][] = [];
    let failEnd = false;
    const seam = new OutputSeam({ mode: 'hold', onSinkError: (o) => errors.push([o.stream, o.seq]), sinks: {
      console: (b, seq) => log.push(`c${seq}`),
      batch: (on) => { log.push(on ? 'begin' : 'end'); if (!on && failEnd) throw new Error('disk full'); },
    } });
    let ic = 0;
    seam.icountSource = () => ic;
    for (; ic < 4; ic++) seam.console(0x41 + ic);
    expect(seam.release(1)).toBe(2);
    expect(log).toEqual(['begin', 'c1', 'c2', 'end']);
    expect(seam.completed()).toEqual({ console: 2 });
    expect(errors).toEqual([]);
    failEnd = true;
    expect(seam.release(Infinity)).toBe(2);
    expect(log.slice(4)).toEqual(['begin', 'c3', 'c4', 'end']);
    expect(errors).toEqual([['console', 4]]); // a failed batch is reported as its last console byte's failure
  });
});
