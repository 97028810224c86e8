// Pre-copy of a running machine's RAM (src/replay/precopy.ts, the respawn of FT.md "Redundancy
// restored"): the guest ft_dirty keeps rewriting 6 MiB of RAM (a word in every page, every 16th page
// whole) while the pages are copied, digests take the CPU's dirty set between rounds as a recorder
// does, and at M the receiver's assembled machine must be the sender's machine exactly (full state
// hash: registers, devices, every page) and run on to the same end with the same console output as
// an uninterrupted run. A damaged page is refused, never used. Through the recorder (forkAtSnapshot
// with the pre-copy's finish as the snapshot): the log from M replays identical on the assembled
// machine and the whole log (with its snapshot record) too.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import { LiveGate } from '../../src/machine/gate.js';
import { ManualClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { OutputTally, computeDigest, fullStateHash } from '../../src/replay/digest.js';
import { PreCopy, PreCopyImage } from '../../src/replay/precopy.js';
import { Recorder, sha256Hex } from '../../src/replay/recorder.js';
import type { MachineSnapshot } from '../../src/replay/machine-snapshot.js';
import { guest } from '../ft/protect-harness.js';
import { memorySink, replayBytes } from './record-replay-helpers.js';

const MEM = 16 << 20;
/** ft_dirty: passes, KiB of RAM rewritten (a pass is about 1.6M instructions, its first 0.2M writing). */
const CMDLINE = '4 2048';
/** The recorder's case: 24 passes (about 38M instructions). */
const LONG_RECORDED = '24 2048';
const image = new Uint8Array(readFileSync(guest('ft_dirty')));
const meta = { imageSha256: sha256Hex(image) };

function boot(out: { s: string }, onRecord?: Recorder['onRecord'], cmdline = CMDLINE): Machine {
  const gate = new LiveGate({ clock: new ManualClock(), entropy: new SystemEntropy() }, { onRecord });
  return Machine.fromElf(image, { memSize: MEM, cmdline, gate, consoleOut: (b) => { out.s += String.fromCharCode(b); } });
}

/** The uninterrupted run's console output and end. */
function reference(cmdline = CMDLINE): { console: string; status: number | undefined } {
  const out = { s: '' };
  const r = boot(out, undefined, cmdline).run(Infinity);
  expect(r.end).toBe('exit');
  return { console: out.s, status: r.status };
}

describe('pre-copy', () => {
  const ref = reference();
  const long = reference('8 2048');
  const longRecorded = reference(LONG_RECORDED);

  it('the guest rewrites its RAM during the rounds: the assembled machine at M is the sender\'s, and runs on to the same end', async () => {
    expect(long.console).toMatch(/^dirty done 8 hash [0-9a-f]{16}\n$/m);
    const out = { s: '' };
    const m = boot(out, undefined, '8 2048');
    const tally = new OutputTally();
    m.run(1_000_000);
    const img = new PreCopyImage(MEM);
    const put = (off: number, b: Uint8Array): void => { expect(img.put(off, b)).toBeUndefined(); };
    const pc = new PreCopy(m);
    let slices = 0;
    // between batches the guest runs a fixed number of instructions (a slice) and, every other one, a
    // digest takes the CPU's dirty set (as the recorder's digests do): pages are rewritten while copied
    const between = async (): Promise<void> => { m.run(m.cpu.icount + 50_000); if (++slices % 2 === 0) computeDigest(m, tally); };
    const sent: number[] = [];
    // and between two rounds more than half a pass (a round over the few pages in use may take one slice): of
    // three such gaps one holds a pass's writing phase, whatever the batches
    for (let r = 0; r < 4; r++) {
      sent.push(await pc.round(put, between));
      m.run(m.cpu.icount + 850_000);
      computeDigest(m, tally);
    }
    // M inside a writing phase (the start of the next pass, 60k instructions on), and in the middle of a
    // round: finish() takes over the round's pages not done yet
    const lines = out.s.length;
    while (out.s.length === lines && !m.exited) m.run(m.cpu.icount + 10_000);
    m.run(m.cpu.icount + 60_000);
    expect(m.exited, 'the guest still runs at M').toBe(false);
    let point: ReturnType<PreCopy['finish']> | undefined, left = 0;
    const last = pc.round(put, async () => {
      if (point) return;
      left = (pc as unknown as { queue: number[]; next: number }).queue.length - (pc as unknown as { next: number }).next;
      m.run(m.cpu.icount + 20_000);
      computeDigest(m, tally); // M is right after a digest, as in the recorder
      point = pc.finish(meta, tally, put);
    });
    await expect(last).rejects.toThrow(/stopped/);
    expect(left, 'pages of the round in progress were left for M').toBeGreaterThan(0);
    const atM = fullStateHash(m);
    // later rounds re-sent pages the guest rewrote after they were copied, and some were left for M
    expect(sent[0]).toBeGreaterThan(512); // the 2 MiB area, written once already, and the image
    expect(sent.slice(1).reduce((a, b) => a + b), JSON.stringify(sent)).toBeGreaterThan(0);
    expect(point!.pages, JSON.stringify(sent)).toBeGreaterThan(left);
    expect(m.cpu.dirtyLog).toBeNull();
    expect(m.mem.dirtyLog).toBeNull();

    img.verify(point!.bytes, point!.hash);
    const rest = { s: '' };
    const r = img.restore({ consoleOut: (b) => { rest.s += String.fromCharCode(b); } }, point!.hash);
    expect(r.icount).toBe(point!.icount);
    expect(fullStateHash(r.machine)).toBe(atM);
    expect(Buffer.compare(Buffer.from(r.machine.mem.u8), Buffer.from(m.mem.u8))).toBe(0);
    // the assembled machine runs on to the uninterrupted run's end
    const e2 = r.machine.run(Infinity);
    expect(e2).toMatchObject({ end: 'exit', status: long.status });
    expect(out.s + rest.s).toBe(long.console);
  }, 60_000);

  it('a damaged page or state, or a page never sent, is refused (never used)', () => {
    const m = boot({ s: '' });
    m.run(2_000_000);
    const pages = new Map<number, Uint8Array>();
    const pc = new PreCopy(m);
    const point = pc.finish(meta, new OutputTally(), (off, b) => { pages.set(off, b); });
    const assemble = (change?: (off: number, b: Uint8Array) => Uint8Array | undefined): PreCopyImage => {
      const img = new PreCopyImage(MEM);
      for (const [off, b] of pages) { const c = change ? change(off, b) : b; if (c) img.put(off, c); }
      return img;
    };
    assemble().verify(point.bytes, point.hash); // intact: accepted
    const first = [...pages.keys()][0]!;
    const flipped = assemble((off, b) => { if (off !== first) return b; const c = b.slice(); c[100] ^= 1; return c; });
    expect(() => flipped.verify(point.bytes, point.hash)).toThrow(/assembled snapshot is [0-9a-f]{64}, the sender's/);
    expect(() => flipped.restore({}, point.hash)).toThrow(/not verified/);
    expect(() => assemble((off, b) => (off === first ? undefined : b)).verify(point.bytes, point.hash)).toThrow(/assembled snapshot/);
    const state = point.bytes.slice(); state[state.length - 1] ^= 1;
    expect(() => assemble().verify(state, point.hash)).toThrow(/assembled snapshot/);
    expect(new PreCopyImage(MEM).put(MEM - 4096, new Uint8Array(8192))).toMatch(/not whole pages/);
    expect(new PreCopyImage(MEM).put(100, new Uint8Array(4096))).toMatch(/not whole pages/);
  });

  it('the first round looks only at the pages in use: every non-zero page is marked (PhysMemory.used or the CPU\'s dirty set), and exactly those are sent', async () => {
    const m = boot({ s: '' });
    m.run(3_000_000);
    const nonZero = (ram: Uint8Array): number[] => {
      const b = Buffer.from(ram.buffer, ram.byteOffset, ram.length), zero = Buffer.alloc(4096), out: number[] = [];
      for (let p = 0; p < ram.length / 4096; p++) if (b.compare(zero, 0, 4096, p * 4096, p * 4096 + 4096) !== 0) out.push(p);
      return out;
    };
    const inUse = nonZero(m.mem.u8);
    expect(inUse.length).toBeGreaterThan(512); // the image and ft_dirty's 2 MiB area
    expect(inUse.filter((p) => !m.mem.used[p] && !m.cpu.dirty[p]), 'non-zero pages not marked').toEqual([]);
    const img = new PreCopyImage(MEM), sent: number[] = [];
    const put = (off: number, b: Uint8Array): void => { img.put(off, b); for (let p = off / 4096; p < (off + b.length) / 4096; p++) sent.push(p); };
    const pc = new PreCopy(m);
    await pc.round(put, async () => undefined);
    expect(sent).toEqual(inUse);
    // a page nobody used before, written by a device (a non-CPU write), goes in the next round
    const far = MEM - 8192;
    m.mem.write(far + 12, new Uint8Array([1, 2, 3]));
    sent.length = 0;
    await pc.round(put, async () => undefined);
    expect(sent).toEqual([far / 4096]);
    const point = pc.finish(meta, new OutputTally(), put);
    img.verify(point.bytes, point.hash);
    const r = img.restore({}, point.hash);
    expect(fullStateHash(r.machine)).toBe(fullStateHash(m));
    // the restored machine knows its pages in use too (a secondary that goes live pre-copies them next)
    expect(nonZero(r.machine.mem.u8).filter((p) => !r.machine.mem.used[p])).toEqual([]);
  });

  it('a descriptor\'s accessed bit set by the CPU (an implicit supervisor write, no TLB entry) reaches the receiver', async () => {
    const m = boot({ s: '' });
    m.run(1_000_000);
    const img = new PreCopyImage(MEM);
    const put = (off: number, b: Uint8Array): void => { img.put(off, b); };
    const pc = new PreCopy(m);
    await pc.round(put, async () => undefined);
    const la = 0x5a5a00; // a page of RAM the guest does not use at this point (identity-mapped)
    const before = m.mem.u8[la]!;
    m.cpu.sysWrite8(la, before ^ 0x80);
    const point = pc.finish(meta, new OutputTally(), put);
    img.verify(point.bytes, point.hash);
    expect(img.ram[la]).toBe(before ^ 0x80);
    expect(Buffer.compare(Buffer.from(img.ram), Buffer.from(m.mem.u8))).toBe(0);
  });

  it('through the recorder: the log from M replays identical on the assembled machine, the whole log (snapshot record at M) too', async () => {
    const main = memorySink(), fork = memorySink();
    const rec = new Recorder({ sink: main, image, digestEvery: 500_000 });
    const out = { s: '' };
    // long enough (38M instructions) that M comes before the end on any machine: the recorder's slices are
    // host time, so a fast machine runs more of the guest per pre-copy batch, and while more than 256 pages
    // are left M waits, for at most 50 digest points (25M instructions here)
    const m = boot(out, rec.onRecord, LONG_RECORDED);
    rec.attach(m);
    const img = new PreCopyImage(MEM);
    const put = (off: number, b: Uint8Array): void => { img.put(off, b); };
    const pc = new PreCopy(m);
    let snap: MachineSnapshot | undefined, atM = '';
    const run = rec.run();
    const forked = (async () => {
      const between = (): Promise<void> => new Promise((res) => setImmediate(res));
      for (let r = 0; r < 3; r++) await pc.round(put, between);
      // as FtPrimary.join: rounds go on until the recorder reaches M and finish() takes over
      const f = rec.forkAtSnapshot({ sink: fork, take: (mm, mt, o) => { const p = pc.finish(mt, o, put); atM = fullStateHash(mm); return p; }, onSnapshot: (s) => { snap = s; } });
      let reached = false;
      void f.then(() => { reached = true; });
      try { while (!reached) await pc.round(put, between); } catch { /* finish() took over at M */ }
      return f;
    })();
    const r = await run;
    // M comes while the guest runs, or never: after the end, a generous bound turns a missed M into a failure
    const f = await Promise.race([forked, new Promise<undefined>((res) => setTimeout(() => res(undefined), 10_000))]);
    expect(r).toMatchObject({ end: 'exit', status: longRecorded.status });
    expect(out.s).toBe(longRecorded.console);
    // (a guest that ended before M leaves no fork: then there is nothing more to check, and that is a failure here)
    expect(f, 'the guest ended before M').toBeDefined();
    img.verify(snap!.bytes, snap!.hash);
    let restoredAtM = '';
    const from = await replayBytes(fork.bytes(), { image, restore: (io, h) => { const x = img.restore(io, h); restoredAtM = fullStateHash(x.machine); return x; } });
    expect(restoredAtM).toBe(atM);
    expect(from.report.outcome, JSON.stringify(from.report.divergence)).toBe('identical');
    expect(from.report.header.fromSnapshot).toBe(snap!.hash);
    expect(from.report.header.startIcount).toBe(snap!.icount);
    expect(from.stateHash).toBe(fullStateHash(m));
    expect(longRecorded.console.endsWith(from.console)).toBe(true);
    const whole = await replayBytes(main.bytes(), { image });
    expect(whole.report.outcome, JSON.stringify(whole.report.divergence)).toBe('identical');
    expect(whole.console).toBe(longRecorded.console);
  }, 60_000);
});
