// A tampered log is a divergence reported at the right place; a damaged log is a log error
// (never a divergence); a snapshot taken mid-replay continues in a fresh process identically.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { decodeLog, encodeLog, CorruptLogError, LogDecoder, LogError } from '../../src/replay/codec.js';
import type { LogEntry } from '../../src/replay/format.js';
import { takeSnapshot, type MachineSnapshot } from '../../src/replay/machine-snapshot.js';
import { sha256Hex } from '../../src/replay/recorder.js';
import { guestFile, timerGuestSource } from './record-replay-guests.js';
import { recordGuest, replayBytes, type Recording } from './record-replay-helpers.js';
import { frameBoundaries } from './helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const EVERY = 100_000;
let image: Uint8Array;
let imagePath: string;
let rec: Recording;
let entries: LogEntry[];
let header: ReturnType<typeof decodeLog>['header'];

beforeAll(async () => {
  imagePath = guestFile('timer', timerGuestSource(40, 1193, 40_000));
  image = new Uint8Array(readFileSync(imagePath));
  rec = await recordGuest(image, { digestEvery: EVERY, virtualClock: true }); // the same log in every run
  const d = decodeLog(rec.log);
  entries = d.entries;
  header = d.header;
}, 60_000);

const rebuild = (es: LogEntry[]): Uint8Array => encodeLog(header, es, 16);
/** icount of the first digest at or after `ic`. */
const digestAfter = (ic: number): number => entries.find((e) => e.kind === 'digest' && e.icount >= ic)!.icount;

describe('divergence detection', () => {
  it('the untampered log replays identically', async () => {
    expect((await replayBytes(rebuild(entries), { image })).report.outcome).toBe('identical');
  });

  it('a removed TSC entry is caught by the gate at that instruction', async () => {
    const i = entries.findIndex((e) => e.kind === 'tsc' && e.icount > 300_000);
    const ic = entries[i]!.icount;
    const r = (await replayBytes(rebuild(entries.filter((_, k) => k !== i)), { image })).report;
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.kind).toBe('gate');
    expect(r.divergence!.message).toContain(`machine asks Tsc[0] at icount ${ic}`);
    expect(r.divergence!.lastEntries.length).toBeGreaterThan(0);
  });

  it('a TSC entry moved by one instruction is caught by the gate, naming both counts', async () => {
    const i = entries.findIndex((e) => e.kind === 'tsc' && e.icount > 500_000);
    const ic = entries[i]!.icount;
    const moved = entries.map((e, k) => (k === i ? { ...e, icount: ic + 1 } : e));
    const r = (await replayBytes(rebuild(moved), { image })).report;
    expect(r.divergence).toMatchObject({ kind: 'gate' });
    expect(r.divergence!.message).toContain(`at icount ${ic}, log has Tsc[0] at ${ic + 1}`);
  });

  it('a changed TSC value is caught at the next digest and names the register', async () => {
    const i = entries.findIndex((e) => e.kind === 'tsc' && e.icount > 700_000);
    const e = entries[i] as Extract<LogEntry, { kind: 'tsc' }>;
    const changed = entries.map((x, k) => (k === i ? { ...e, payload: { lo: (e.payload.lo + 1) >>> 0, hi: e.payload.hi } } : x));
    const r = (await replayBytes(rebuild(changed), { image })).report;
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.kind).toBe('digest');
    expect(r.divergence!.icount).toBe(digestAfter(e.icount));
    // the guest adds RDTSC into R9
    expect(r.divergence!.message).toMatch(/R9: recorded 0x[0-9a-f]{16}, replayed 0x[0-9a-f]{16}/);
    expect(r.divergence!.lastGoodDigest).toBe(digestAfter(e.icount) - EVERY);
  });

  it('a changed host time is caught at the next digest (timer device state)', async () => {
    // (a time change that moves no timer edge is overwritten by the next poll and has no effect
    // on the guest; one delivered just before a digest is in the devices' state there)
    const i = entries.findIndex((e) => e.kind === 'host-time' && e.icount > 400_000 && e.icount % EVERY === 0);
    const e = entries[i] as Extract<LogEntry, { kind: 'host-time' }>;
    const changed = entries.map((x, k) => (k === i ? { ...e, payload: { ns: e.payload.ns + 700_000 } } : x));
    const r = (await replayBytes(rebuild(changed), { image })).report;
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.icount).toBe(digestAfter(e.icount));
    // which device differs first (they are compared in name order) depends on where the recorder's slices read
    // the host clock, which follows host speed: the PIC's pending request can differ before the PIT does
    expect(r.divergence!.message).toMatch(/device (pic|pit|rtc|uart): state differs|: recorded 0x/);
  });

  it('a removed poll unit (host time) is caught', async () => {
    const i = entries.findIndex((e) => e.kind === 'host-time' && e.icount > 600_000 && e.icount % EVERY !== 0);
    const r = (await replayBytes(rebuild(entries.filter((_, k) => k !== i)), { image })).report;
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.icount).toBeLessThanOrEqual(digestAfter(entries[i]!.icount));
  });

  it('a changed memory page is named by page number', async () => {
    // tamper with the recorded digest detail of one page instead of the input: the replay's page differs
    const i = entries.findIndex((e) => e.kind === 'digest-detail' && e.icount >= 3 * EVERY && e.payload.pages.length >= 8);
    const e = entries[i] as Extract<LogEntry, { kind: 'digest-detail' }>;
    const pages = e.payload.pages.slice();
    pages[4] ^= 1; // hash of the first page listed
    const dv = new DataView(pages.buffer);
    const page = dv.getUint32(0, true);
    const tampered = entries.map((x, k) => (k === i ? { ...e, payload: { ...e.payload, pages } } : k === i + 1 ? { ...x, payload: { hash: new Uint8Array(16) } } : x)) as LogEntry[];
    const r = (await replayBytes(rebuild(tampered), { image })).report;
    expect(r.divergence!.icount).toBe(e.icount);
    expect(r.divergence!.message).toContain(`memory page ${page} (physical 0x${(page * 4096).toString(16)}-`);
  });
});

describe('damaged logs are log errors, not divergences', () => {
  it('truncated (inside or after a frame): unfinished, replayed to the last whole frame, no divergence', async () => {
    const b = frameBoundaries(rec.log);
    const at = b[Math.floor(b.length / 2)]!;
    const full = decodeLog(rec.log);
    for (const cut of [rec.log.subarray(0, at + 5), rec.log.subarray(0, at)]) {
      const r = (await replayBytes(cut, { image })).report;
      expect(r.outcome).toBe('incomplete');
      expect(r.unfinished!.offset).toBe(at);
      // it ran as far as the entries of the whole frames take it, and no further than the log's last entry
      const d = new LogDecoder(); d.push(cut); const held = [...d.drain()];
      expect(r.instructions).toBeLessThanOrEqual(held[held.length - 1]!.icount);
      expect(r.instructions).toBeGreaterThan(0);
      expect(held.length).toBeLessThan(full.entries.length);
    }
  });

  it('a flipped bit: CorruptLogError naming the frame offset', async () => {
    const b = frameBoundaries(rec.log);
    const bad = rec.log.slice();
    const at = b[3]!;
    bad[at + 12] ^= 0x10;
    const err = await replayBytes(bad, { image }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptLogError);
    expect((err as LogError).offset).toBe(at);
  });
});

describe('CLI and snapshots (fresh processes)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'x86ft-rr-cli-'));
    if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' });
  }, 120_000);
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });

  it('record then replay: exit statuses 7 (guest) and 0, divergence 3, bad log 4, wrong image 5', () => {
    const log = join(dir, 't.log');
    const r1 = cli('record', imagePath, '--log', log, '--mem', '8M', '--digest-every', '100k', '--no-input');
    expect(r1.status).toBe(7);
    const r2 = cli('replay', log, '--image', imagePath);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toContain('replay identical');
    expect(r2.stderr).toBe(r1.stdout); // suppressed guest output is copied to stderr
    // tamper: change one TSC value
    const d = decodeLog(new Uint8Array(readFileSync(log)));
    const i = d.entries.findIndex((e) => e.kind === 'tsc' && e.icount > 300_000);
    const e = d.entries[i] as Extract<LogEntry, { kind: 'tsc' }>;
    d.entries[i] = { ...e, payload: { lo: (e.payload.lo + 1) >>> 0, hi: e.payload.hi } };
    writeFileSync(join(dir, 'bad.log'), encodeLog(d.header, d.entries));
    const r3 = cli('replay', 'bad.log', '--image', imagePath, '--quiet');
    expect(r3.status).toBe(3);
    expect(r3.stdout).toMatch(/REPLAY DIVERGENCE at instruction \d+ \(digest\): digest at icount \d+ differs: R9: recorded/);
    expect(r3.stdout).toContain('last log entries before it:');
    const bytes = new Uint8Array(readFileSync(log));
    writeFileSync(join(dir, 'cut.log'), bytes.subarray(0, bytes.length - 7));
    const r4 = cli('replay', 'cut.log', '--image', imagePath, '--quiet');
    expect(r4.status).toBe(6); // unfinished (a killed recorder), not bad
    expect(r4.stdout).toMatch(/replay incomplete: the log is unfinished \(log is cut at offset \d+/);
    const r5 = cli('replay', log, '--image', CLI);
    expect(r5.status).toBe(5);
    expect(cli('record', '--help').stdout).toContain('--digest-every');
    expect(cli('replay', '--help').stdout).toContain('exit status');
    expect(cli('log', 'inspect', log).stdout).toContain('digest-detail');
  }, 60_000);

  it('snapshot mid-replay, restore in a fresh process, continue: identical to the uninterrupted run', async () => {
    let snap: MachineSnapshot | undefined;
    const at = 5 * EVERY;
    const full = await replayBytes(rec.log, {
      image,
      onDigest: (m, ic, out) => { if (ic === at) snap = takeSnapshot(m, { imageSha256: sha256Hex(image) }, out); },
    });
    expect(full.report.outcome).toBe('identical');
    expect(snap).toBeDefined();
    // the log tail after the digest at `at`, starting from the snapshot
    const k = entries.findIndex((e) => e.kind === 'digest' && e.icount === at);
    const tail = encodeLog({ ...header, startIcount: at, fromSnapshot: snap!.hash }, entries.slice(k + 1));
    writeFileSync(join(dir, 'tail.log'), tail);
    writeFileSync(join(dir, 'snap.bin'), snap!.bytes);
    const r = cli('replay', 'tail.log', '--snapshot', 'snap.bin', '--image', imagePath);
    expect(r.stderr).toBe(rec.console.slice(rec.console.length - r.stderr.length));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('replay identical');
    expect(r.stdout).toContain(`instructions: ${rec.result.instructions}`);
    expect(r.stdout).toContain(`state sha256: ${rec.stateHash}`);
    // a wrong snapshot is refused, not replayed
    const other = snap!.bytes.slice(); other[other.length - 100] ^= 1;
    writeFileSync(join(dir, 'snap-bad.bin'), other);
    expect(cli('replay', 'tail.log', '--snapshot', 'snap-bad.bin').status).toBe(5);
  }, 60_000);
});
