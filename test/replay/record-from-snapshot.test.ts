// A log that starts from a snapshot, end to end: record a timer-interrupt guest, take a snapshot at
// exactly instruction N and go on recording into a second log that starts from it; replay that log
// from the snapshot (in-process and through the CLI) and compare with the recording. Wrong or
// corrupted snapshots are refused (exit 5), never replayed.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../../src/machine/machine.js';
import { LiveGate } from '../../src/machine/gate.js';
import { SystemClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { Recorder, SNAPSHOT_END_REASON } from '../../src/replay/recorder.js';
import { fullStateHash } from '../../src/replay/digest.js';
import { decodeLog } from '../../src/replay/codec.js';
import { ReplaySetupError } from '../../src/replay/replayer.js';
import type { MachineSnapshot } from '../../src/replay/machine-snapshot.js';
import { REPLAY_EXIT } from '../../src/cli/replay.js';
import { guestFile, timerGuestSource } from './record-replay-guests.js';
import { memorySink, replayBytes } from './record-replay-helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const EVERY = 100_000;
const AT = 250_000; // not a digest multiple

interface Split { logA: Uint8Array; logB: Uint8Array; snap: MachineSnapshot; console: string; consoleAtSnap: number; stateHash: string; instructions: number; status: number }

/** Records `image` with a snapshot at `at`: log A from boot to `at`, log B from the snapshot on. */
async function recordSplit(image: Uint8Array, at: number): Promise<Split> {
  const sinkA = memorySink(), sinkB = memorySink();
  let cur = new Recorder({ sink: sinkA, image, digestEvery: EVERY });
  const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy() }, { onRecord: (r) => cur.onRecord(r) });
  let out = '';
  const m = Machine.fromElf(image, { memSize: 8 << 20, gate, consoleOut: (b) => { out += String.fromCharCode(b); } });
  cur.attach(m);
  const first = await cur.runToSnapshot(at);
  expect(first.result.end).toBe('budget');
  expect(m.cpu.icount).toBe(at);
  const snap = first.snapshot!;
  expect(snap.icount).toBe(at);
  const consoleAtSnap = out.length;
  cur = new Recorder({ sink: sinkB, image, digestEvery: EVERY, fromSnapshot: snap.hash, outputs: cur.outputs });
  cur.attach(m);
  const r = await cur.run();
  return { logA: sinkA.bytes(), logB: sinkB.bytes(), snap, console: out, consoleAtSnap, stateHash: fullStateHash(m), instructions: r.instructions, status: r.status };
}

let imagePath: string;
let image: Uint8Array;
let split: Split;
let dir: string;

beforeAll(async () => {
  imagePath = guestFile('timer', timerGuestSource(40, 1193, 40_000));
  image = new Uint8Array(readFileSync(imagePath));
  split = await recordSplit(image, AT);
  dir = mkdtempSync(join(tmpdir(), 'x86ft-fromsnap-'));
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' });
}, 120_000);
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });

describe('recording with a snapshot at N (library)', () => {
  it('log A runs from boot to N and ends with the snapshot; log B starts from it', () => {
    const a = decodeLog(split.logA), b = decodeLog(split.logB);
    expect(a.header.fromSnapshot).toBeNull();
    expect(a.header.startIcount).toBe(0);
    const tail = a.entries.slice(-4).map((e) => `${e.icount} ${e.kind}`);
    expect(tail).toEqual([`${AT} digest-detail`, `${AT} digest`, `${AT} snapshot`, `${AT} end`]);
    expect((a.entries.at(-2)!.payload as { hash: string }).hash).toBe(split.snap.hash);
    expect((a.entries.at(-1)!.payload as { reason: string }).reason).toBe(SNAPSHOT_END_REASON);
    expect(b.header.fromSnapshot).toBe(split.snap.hash);
    expect(b.header.startIcount).toBe(AT);
    expect(b.entries[0]!.kind).toBe('start');
    expect(b.entries.every((e) => e.icount >= AT)).toBe(true);
    expect(b.entries.at(-1)!.kind).toBe('end');
    // the guest took timer interrupts on both sides of N
    expect(a.entries.some((e) => e.kind === 'host-time')).toBe(true);
    expect(b.entries.some((e) => e.kind === 'host-time')).toBe(true);
    expect(split.status).toBe(7);
    expect(split.console.length).toBeGreaterThan(split.consoleAtSnap);
  });

  it('log A replays from boot to N: identical, same state as the snapshot', async () => {
    const r = await replayBytes(split.logA, { image });
    expect(r.report.outcome).toBe('identical');
    expect(r.report.instructions).toBe(AT);
    expect(r.console).toBe(split.console.slice(0, split.consoleAtSnap));
  });

  it('log B replays from the snapshot: identical, same final state and the console output after N', async () => {
    const r = await replayBytes(split.logB, { image, snapshot: split.snap.bytes });
    expect(r.report.outcome).toBe('identical');
    expect(r.report.digestsChecked).toBeGreaterThan(1);
    expect(r.report.instructions).toBe(split.instructions);
    expect(r.stateHash).toBe(split.stateHash);
    expect(r.console).toBe(split.console.slice(split.consoleAtSnap));
  });

  it('log B needs its snapshot: none, another run\'s, a corrupted one are refused', async () => {
    await expect(replayBytes(split.logB, { image })).rejects.toBeInstanceOf(ReplaySetupError);
    const other = await recordSplit(image, AT);
    expect(other.snap.hash).not.toBe(split.snap.hash); // host timing differs between runs
    await expect(replayBytes(split.logB, { image, snapshot: other.snap.bytes })).rejects.toThrow(ReplaySetupError);
    await expect(replayBytes(other.logB, { image, snapshot: split.snap.bytes })).rejects.toThrow(/hash|snapshot/);
    const bad = split.snap.bytes.slice(); bad[bad.length - 50]! ^= 4;
    await expect(replayBytes(split.logB, { image, snapshot: bad })).rejects.toBeInstanceOf(ReplaySetupError);
  }, 60_000);
});

describe('x86ft record --snapshot-at / --from-snapshot (CLI)', () => {
  it('record --snapshot-at N --snapshot-out SNAP --log2: both logs replay identical; wrong snapshots exit 5', () => {
    const r = cli('record', imagePath, '--log', 'a.log', '--mem', '8M', '--digest-every', '100k', '--no-input',
      '--snapshot-at', '250k', '--snapshot-out', 's.snp', '--log2', 'b.log');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(7);
    const recorded = r.stdout;
    const ra = cli('replay', 'a.log', '--image', imagePath);
    expect(ra.status).toBe(REPLAY_EXIT.IDENTICAL);
    expect(ra.stdout).toContain(`instructions: ${AT}\n`);
    expect(ra.stdout).toContain(`recorded end: ${SNAPSHOT_END_REASON} (status 0)`);
    expect(ra.stdout).toContain('replay identical');
    const rb = cli('replay', 'b.log', '--image', imagePath, '--snapshot', 's.snp');
    expect(rb.status).toBe(REPLAY_EXIT.IDENTICAL);
    expect(rb.stdout).toContain('replay identical');
    expect(rb.stdout).toContain('recorded end: exit (status 7)');
    // what was printed before N (log A's replay) and after it (log B's) is what the recording printed
    expect(ra.stderr + rb.stderr).toBe(recorded);
    expect(rb.stderr.length).toBeGreaterThan(0);
    expect(cli('log', 'inspect', 'b.log').stdout).toMatch(/starts: +from snapshot [0-9a-f]{64} at icount 250000/);
    // a snapshot of another run (the library recording's): exit 5
    writeFileSync(join(dir, 'other.snp'), split.snap.bytes);
    const ro = cli('replay', 'b.log', '--image', imagePath, '--snapshot', 'other.snp');
    expect(ro.status).toBe(REPLAY_EXIT.MISMATCH);
    expect(ro.stdout).toBe('');
    // a corrupted snapshot file: exit 5
    const bad = new Uint8Array(readFileSync(join(dir, 's.snp'))); bad[bad.length - 30]! ^= 1;
    writeFileSync(join(dir, 'bad.snp'), bad);
    const rc = cli('replay', 'b.log', '--image', imagePath, '--snapshot', 'bad.snp');
    expect(rc.status).toBe(REPLAY_EXIT.MISMATCH);
    expect(rc.stderr).toMatch(/snapshot/i);
    // no snapshot at all: exit 5
    expect(cli('replay', 'b.log', '--image', imagePath).status).toBe(REPLAY_EXIT.MISMATCH);
    // a snapshot (even a damaged one) for a log from boot is not that log's: exit 5, never ignored
    const rn = cli('replay', 'a.log', '--image', imagePath, '--snapshot', 'bad.snp');
    expect(rn.status).toBe(REPLAY_EXIT.MISMATCH);
    expect(rn.stderr).toMatch(/starts from boot, not from a snapshot/);
  }, 120_000);

  it('the CLI replay of a library-made log B gives the recording\'s final state hash', () => {
    writeFileSync(join(dir, 'lib-b.log'), split.logB);
    writeFileSync(join(dir, 'lib.snp'), split.snap.bytes);
    const r = cli('replay', 'lib-b.log', '--image', imagePath, '--snapshot', 'lib.snp');
    expect(r.status).toBe(REPLAY_EXIT.IDENTICAL);
    expect(r.stdout).toContain(`instructions: ${split.instructions}\n`);
    expect(r.stdout).toContain(`state sha256: ${split.stateHash}`);
    expect(r.stderr).toBe(split.console.slice(split.consoleAtSnap));
  }, 60_000);

  it('record --from-snapshot SNAP continues the run live; its log replays from SNAP', () => {
    writeFileSync(join(dir, 'seed.snp'), split.snap.bytes);
    const r = cli('record', '--from-snapshot', 'seed.snp', '--image', imagePath, '--log', 'c.log', '--digest-every', '100k', '--no-input');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(7);
    const d = decodeLog(new Uint8Array(readFileSync(join(dir, 'c.log'))));
    expect(d.header.fromSnapshot).toBe(split.snap.hash);
    expect(d.header.startIcount).toBe(AT);
    // guest time goes on from the snapshot's: the RTC keeps the wall origin it had (no new wall-clock record)
    expect(d.entries.filter((e) => e.kind === 'rtc')).toEqual([]);
    const rr = cli('replay', 'c.log', '--image', imagePath, '--snapshot', 'seed.snp');
    expect(rr.status).toBe(REPLAY_EXIT.IDENTICAL);
    expect(rr.stdout).toContain('replay identical');
    expect(rr.stderr).toBe(r.stdout);
    // a corrupted snapshot, or the snapshot with another image: exit 2
    const bad = split.snap.bytes.slice(); bad[100]! ^= 1;
    writeFileSync(join(dir, 'bad2.snp'), bad);
    expect(cli('record', '--from-snapshot', 'bad2.snp', '--image', imagePath, '--log', 'x.log', '--no-input').status).toBe(2);
    expect(cli('record', '--from-snapshot', 'seed.snp', '--image', CLI, '--log', 'x.log', '--no-input').status).toBe(2);
  }, 60_000);

  it('usage: the snapshot options go together; a guest that ends before N writes no snapshot', () => {
    const u = cli('record', imagePath, '--log', 'u.log', '--snapshot-at', '10');
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('go together');
    const e = cli('record', imagePath, '--log', 'e.log', '--mem', '8M', '--no-input', '--snapshot-at', '1G', '--snapshot-out', 'e.snp', '--log2', 'e2.log');
    expect(e.status).toBe(7);
    expect(e.stderr).toContain('before --snapshot-at');
    expect(existsSync(join(dir, 'e.snp'))).toBe(false);
    expect(existsSync(join(dir, 'e2.log'))).toBe(false);
    expect(cli('record', '--help').stdout).toContain('--snapshot-at N');
  }, 60_000);
});
