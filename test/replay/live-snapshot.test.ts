// A live snapshot in the middle of a recording (Recorder.forkAtSnapshot, the respawn of FT.md
// "Redundancy restored"): the recording goes on with a snapshot record at M, and a second log
// stream from M names the snapshot. Both replay identical. The guest changes a page-table entry
// without INVLPG right before M and reads through it right after: the recording machine's snapshot
// point drops the stale translation, so the replay of the whole log must do the same at the snapshot
// record (it read the stale page before that was fixed), and the restored machine starts without it.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import { LiveGate } from '../../src/machine/gate.js';
import { ManualClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { fullStateHash } from '../../src/replay/digest.js';
import { Recorder, type RecorderOptions } from '../../src/replay/recorder.js';
import type { MachineSnapshot } from '../../src/replay/machine-snapshot.js';
import { assembleGuest, EXIT_AL } from '../helpers/asm.js';
import { memorySink, replayBytes } from './record-replay-helpers.js';

const MEM = 2 << 20;
const gate = (onRecord?: Recorder['onRecord']) => new LiveGate({ clock: new ManualClock(), entropy: new SystemEntropy() }, { onRecord });

const path = assembleGuest(`_start:
  movl $0x11, 0x150000
  movl $0x22, 0x151000
  mov 0x150000, %eax
  movq $0x151007, 0x8000 + 0x150 * 8
snap_here:
  mov 0x150000, %eax
  ${EXIT_AL}`, 'forksnap');
const image = new Uint8Array(readFileSync(path));
const snapRip = parseInt(/^([0-9a-f]+) \w snap_here$/m.exec(execFileSync('nm', [path], { encoding: 'utf8' }))![1]!, 16);

/** Records `img` to its end with a fork requested before the run (taken at the first chance: M). */
async function recordForked(img: Uint8Array, o: Pick<RecorderOptions, 'digestEvery' | 'pace'>) {
  const main = memorySink(), fork = memorySink();
  const rec = new Recorder({ sink: main, image: img, ...o });
  const live = Machine.fromElf(img, { memSize: MEM, gate: gate(rec.onRecord) });
  rec.attach(live);
  let snap: MachineSnapshot | undefined;
  const forked = rec.forkAtSnapshot({ sink: fork, onSnapshot: (s) => { snap = s; } });
  const r = await rec.run();
  expect(await forked).toBeDefined();
  return { main, fork, live, r, snap: snap! };
}

describe('Recorder.forkAtSnapshot', () => {
  it('the log with the snapshot record and the stream from the snapshot both replay identical (stale translation dropped at M)', async () => {
    // M = the icount at snap_here: the digest interval, so M is the first digest point
    const probe = Machine.fromElf(image, { memSize: MEM, gate: gate() });
    while (probe.cpu.rip !== snapRip && probe.cpu.icount < 10_000) probe.run(probe.cpu.icount + 1);
    const M = probe.cpu.icount;
    expect(probe.cpu.rip).toBe(snapRip);

    const { main, fork, live, r, snap } = await recordForked(image, { digestEvery: M });
    expect(snap.icount).toBe(M);
    // the snapshot point dropped the stale translation: the read walks the page table as it is in RAM
    expect(r).toMatchObject({ end: 'exit', status: 0x22 });

    const whole = await replayBytes(main.bytes(), { image });
    expect(whole.report.outcome, JSON.stringify(whole.report.divergence)).toBe('identical');
    expect(whole.report.run).toMatchObject({ end: 'exit', status: 0x22 });
    expect(whole.stateHash).toBe(fullStateHash(live));

    const from = await replayBytes(fork.bytes(), { image, snapshot: snap.bytes });
    expect(from.report.outcome, JSON.stringify(from.report.divergence)).toBe('identical');
    expect(from.report.header.startIcount).toBe(M);
    expect(from.report.header.fromSnapshot).toBe(snap.hash);
    expect(from.report.run).toMatchObject({ end: 'exit', status: 0x22 });
    expect(from.stateHash).toBe(fullStateHash(live));
  });

  it('a fork between two digest points (at the end of a pace chunk): both logs count the digest multiples from M and replay identical', async () => {
    // 20000 rounds of 3 instructions; digests every 10000, pace chunks of 3000: the fork is taken at 3000, off the multiples
    const loop = new Uint8Array(readFileSync(assembleGuest(`_start:
  mov $20000, %ecx
1: add %ecx, %eax
  dec %ecx
  jnz 1b
  mov $0x33, %al
  ${EXIT_AL}`, 'forkpace')));
    const { main, fork, live, r, snap } = await recordForked(loop, { digestEvery: 10_000, pace: { chunk: 3000, wait: () => undefined } });
    expect(r).toMatchObject({ end: 'exit', status: 0x33 });
    const M = snap.icount;
    expect(M % 10_000, `M = ${M} is not a digest multiple`).not.toBe(0);
    expect(M).toBeLessThan(10_000);

    const whole = await replayBytes(main.bytes(), { image: loop });
    expect(whole.report.outcome, JSON.stringify(whole.report.divergence)).toBe('identical');
    const from = await replayBytes(fork.bytes(), { image: loop, snapshot: snap.bytes });
    expect(from.report.outcome, JSON.stringify(from.report.divergence)).toBe('identical');
    expect(from.report.header.startIcount).toBe(M);
    expect(from.stateHash).toBe(fullStateHash(live));
    // the digests after M sit at M + k*10000 (the reader refuses a log whose multiples are missing): in the fork,
    // every one of them up to the end, plus the final digest
    const multiples = Math.floor((r.instructions - M) / 10_000);
    expect(from.report.digestsChecked).toBe(multiples + 1);
    expect(whole.report.digestsChecked).toBe(multiples + 2); // and the one at M
  });
  it('a request made once the log is closed (the run ended, or abort) resolves undefined at once; a pending one when withdrawn', async () => {
    // an FT primary's join asks for the snapshot at M after its pre-copy: when the guest ended meanwhile nothing
    // would ever serve it (before: it stayed pending for good, and the join's wait with it)
    const rec = new Recorder({ sink: memorySink(), image });
    rec.attach(Machine.fromElf(image, { memSize: MEM, gate: gate(rec.onRecord) }));
    expect(await rec.run()).toMatchObject({ end: 'exit' });
    expect(await rec.forkAtSnapshot({ sink: memorySink(), onSnapshot: () => { throw new Error('no snapshot after the end'); } })).toBeUndefined();
    const cut = new Recorder({ sink: memorySink(), image });
    cut.attach(Machine.fromElf(image, { memSize: MEM, gate: gate(cut.onRecord) }));
    const pending = cut.forkAtSnapshot({ sink: memorySink(), onSnapshot: () => { throw new Error('not served'); } });
    cut.cancelFork();
    expect(await pending).toBeUndefined();
    cut.abort();
    expect(await cut.forkAtSnapshot({ sink: memorySink(), onSnapshot: () => { throw new Error('no snapshot after abort'); } })).toBeUndefined();
  });
});
