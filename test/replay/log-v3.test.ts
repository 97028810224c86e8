// Log format v3 (src/replay/format.ts M14-M19): frames carry a sequence number and a link to the
// previous frame, so a dropped, duplicated, swapped or spliced frame is a bad log found by the
// reader (never a divergence); the header names the recorder and the FT generation; CRC-valid but
// impossible content is refused naming the field; the command line and the digest interval are
// checked; v1 and v2 logs still replay (a v2 fixture written by the v2 code is kept here).
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { decodeLog, encodeLog, concatBytes, CorruptLogError, LogError } from '../../src/replay/codec.js';
import type { LogEntry, LogHeader } from '../../src/replay/format.js';
import { guestFile, timerGuestSource, integerGuestSource } from './record-replay-guests.js';
import { recordGuest, replayBytes, type Recording } from './record-replay-helpers.js';
import { frameBoundaries } from './helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const FIX = join(import.meta.dirname, 'fixtures');
let image: Uint8Array;
let imagePath: string;
let a: Recording, b: Recording;
let header: LogHeader;
let entries: LogEntry[];
/** A guest whose length in instructions does not depend on the host's speed (the timer guest's does: it spins
 *  until 16 ticks of host time, 168k instructions in one loaded run, 400k in the next), for the digest cases. */
let detImagePath: string, detImage: Uint8Array, detHeader: LogHeader, detEntries: LogEntry[];
let dir: string;

beforeAll(async () => {
  imagePath = guestFile('timer', timerGuestSource(16, 1193, 40_000));
  image = new Uint8Array(readFileSync(imagePath));
  a = await recordGuest(image, { digestEvery: 100_000 });
  b = await recordGuest(image, { digestEvery: 100_000 });
  ({ header, entries } = decodeLog(a.log));
  detImagePath = guestFile('integer', integerGuestSource(200_000));
  detImage = new Uint8Array(readFileSync(detImagePath));
  ({ header: detHeader, entries: detEntries } = decodeLog((await recordGuest(detImage, { digestEvery: 100_000 })).log));
  dir = mkdtempSync(join(tmpdir(), 'x86ft-v3-'));
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' });
}, 60_000);

/** The frames of a log (magic + header frame first). */
function frames(log: Uint8Array): Uint8Array[] {
  const bs = frameBoundaries(log);
  const out = [log.subarray(0, bs[2]!)];
  for (let i = 2; i < bs.length - 1; i++) out.push(log.subarray(bs[i]!, bs[i + 1]!));
  return out;
}
const errorOf = async (log: Uint8Array, img = image): Promise<unknown> => replayBytes(log, { image: img }).then((r) => r.report, (e: unknown) => e);
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });

/** proc(5): field 22 of /proc/PID/stat, counted after the command name's closing parenthesis. */
const STARTTIME = 'import sys; print(open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()[19])';

describe('v3 frames: sequence numbers and links', () => {
  it('the recorder writes version 3 with its host and pid; the untouched log replays identical', async () => {
    expect(header.version).toBe(3);
    // the start time as the kernel reports it (proc(5) field 22, read by python3: not our parser;
    // the command name may hold spaces and parentheses, vitest's workers' does)
    const startTime = Number(execFileSync('python3', ['-c', STARTTIME, String(process.pid)], { encoding: 'utf8' }));
    expect(header.recorder).toEqual({ host: hostname(), pid: process.pid, startTime });
    expect(header.ft).toBeNull();
    expect((await replayBytes(a.log, { image })).report.outcome).toBe('identical');
  });

  const damaged: [string, (f: Uint8Array[], g: Uint8Array[]) => Uint8Array[], RegExp][] = [
    ['a dropped frame', (f) => [...f.slice(0, 3), ...f.slice(4)], /frame sequence number 4 where 3 was due \(a frame is missing or frames are out of order\)/],
    ['a duplicated frame', (f) => [...f.slice(0, 3), f[2]!, ...f.slice(3)], /frame sequence number 2 where 3 was due \(a duplicated or reordered frame\)/],
    ['two swapped frames', (f) => [...f.slice(0, 2), f[3]!, f[2]!, ...f.slice(4)], /frame sequence number 3 where 2 was due \(a frame is missing or frames are out of order\)/],
    ['a frame spliced from another recording', (f, g) => [...f.slice(0, 3), g[3]!, ...f.slice(4)], /frame 3 does not follow frame 2 of this log \(spliced from another log\)/],
    // at frame 3: how many frames a live recording has depends on batch timing (g[3] exists, see the case above)
    ['the tail of another recording spliced on', (f, g) => [...f.slice(0, 3), ...g.slice(3)], /frame 3 does not follow frame 2 of this log/],
  ];
  for (const [name, mutate, msg] of damaged) {
    it(`${name}: a bad log at that frame (reader), not a divergence`, async () => {
      const f = frames(a.log), g = frames(b.log);
      const log = concatBytes(mutate(f, g));
      expect(() => decodeLog(log)).toThrow(msg);
      const e = await errorOf(log);
      expect(e).toBeInstanceOf(CorruptLogError);
      expect((e as LogError).message).toMatch(msg);
    });
  }

  it('the CLI: exit 4 for a dropped frame, with no stack trace', () => {
    const f = frames(a.log);
    writeFileSync(join(dir, 'dropped.log'), concatBytes([...f.slice(0, 3), ...f.slice(4)]));
    const r = cli('replay', 'dropped.log', '--image', imagePath, '--quiet');
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/^x86ft replay: bad log: log is corrupted at offset \d+: frame sequence number 4 where 3 was due/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('v1 and v2 logs still replay', () => {
  it('the v2 fixture (written by the v2 recorder) replays identical, console byte for byte', async () => {
    const fimg = new Uint8Array(readFileSync(join(FIX, 'dev_timer-O2.elf')));
    const log = new Uint8Array(readFileSync(join(FIX, 'timer-v2.log')));
    const d = decodeLog(log);
    expect(d.header.version).toBe(2);
    expect(d.header.recorder).toBeNull();
    const r = await replayBytes(log, { image: fimg });
    expect(r.report.outcome).toBe('identical');
    expect(r.report.digestsChecked).toBe(12);
    expect(r.console).toBe(readFileSync(join(FIX, 'timer-v2.console'), 'latin1'));
    // and the same entries as a version-1 stream (no digest details: digests are checked by hash)
    const v1 = encodeLog({ ...d.header, version: 1, recorder: null, ft: null }, d.entries.filter((e) => e.kind !== 'digest-detail'));
    const r1 = await replayBytes(v1, { image: fimg });
    expect(r1.report.outcome).toBe('identical');
    expect(r1.report.digestsChecked).toBe(12);
  });

  it('the CLI replays the v2 fixture: exit 0', () => {
    const r = cli('replay', join(FIX, 'timer-v2.log'), '--image', join(FIX, 'dev_timer-O2.elf'), '--quiet');
    expect(r.stdout).toContain('replay identical');
    expect(r.status).toBe(0);
  });
});

describe('v3 header fields', () => {
  it('ft round-trips and is validated (generation >= 1, previousGeneration = generation - 1)', () => {
    const ft = { vm: 'web', generation: 2, previousGeneration: 1 };
    expect(decodeLog(encodeLog({ ...header, ft }, entries)).header.ft).toEqual(ft);
    expect(() => encodeLog({ ...header, ft: { vm: 'web', generation: 2, previousGeneration: null } }, entries)).toThrow(/ft.previousGeneration must be 1/);
    expect(() => encodeLog({ ...header, ft: { vm: '', generation: 1, previousGeneration: null } }, entries)).toThrow(/ft.vm/);
    expect(() => encodeLog({ ...header, recorder: { host: 'h', pid: 0 } }, entries)).toThrow(/recorder.pid/);
    expect(() => encodeLog({ ...header, version: 2, recorder: { host: 'h', pid: 1 } }, entries)).toThrow(/version 3/);
  });
});

describe('CRC-valid but impossible content is a bad log naming the field', () => {
  const dev = (over: Record<string, unknown>) => ({ ...(header.devices as object), ...over });
  const withEntry = (e: LogEntry): LogEntry[] => {
    const i = entries.findIndex((x) => x.kind === 'host-time' && x.icount > 10_000);
    return [...entries.slice(0, i), { ...e, icount: entries[i - 1]!.icount } as LogEntry, ...entries.slice(i)];
  };
  const DET = true; // the case uses the deterministic guest's log and image
  const cases: [string, () => Uint8Array, RegExp, boolean?][] = [
    ['a malformed device list', () => encodeLog({ ...header, devices: dev({ disks: 'none' }) }, entries), /devices.disks must be a list/],
    ['an unknown device field', () => encodeLog({ ...header, devices: dev({ gpu: [] }) }, entries), /devices.gpu is not a known field/],
    ['a multicast MAC', () => encodeLog({ ...header, devices: dev({ nets: [{ mac: [1, 2, 3, 4, 5, 6] }] }) }, entries), /devices.nets\[0\].mac 01:02:03:04:05:06 is a multicast address/],
    ['a MAC of 5 bytes', () => encodeLog({ ...header, devices: dev({ nets: [{ mac: [0x52, 0, 0, 0, 1] }] }) }, entries), /devices.nets\[0\].mac must be 6 bytes/],
    ['more than 4 virtio devices', () => encodeLog({ ...header, devices: dev({ disks: [1, 2, 3].map(() => ({ sizeBytes: 512, readOnly: false })), nets: [{ mac: null }, { mac: null }] }) }, entries), /3 disks \+ 2 nets is more than 4 virtio devices/],
    ['an impossible memory size', () => encodeLog({ ...header, memorySize: 4095 * 1024, devices: dev({ memSize: 4095 * 1024 }) }, entries), /memorySize 4193280 is not a multiple of 4 KiB/],
    ['memory larger than 3 GiB', () => encodeLog({ ...header, memorySize: 2 ** 40, devices: dev({ memSize: 2 ** 40 }) }, entries), /memorySize 1099511627776 is not a multiple of 4 KiB between/],
    ['memorySize disagreeing with the devices', () => encodeLog({ ...header, memorySize: 16 << 20 }, entries), /devices.memSize 8388608 is not memorySize 16777216/],
    ['a too long command line', () => encodeLog({ ...header, devices: dev({ cmdline: 'x'.repeat(1024) }) }, entries), /devices.cmdline must be at most 1023/],
    ['a short digest-detail', () => {
      const es = entries.map((e) => (e.kind === 'digest-detail' ? { ...e, payload: { ...e.payload, state: e.payload.state.subarray(0, 3) } } : e)) as LogEntry[];
      return encodeLog(header, es);
    }, /digest-detail at icount \d+: digest detail: register file too short/],
    ['a digest-detail page outside memory', () => {
      const es = entries.map((e) => (e.kind === 'digest-detail' ? { ...e, payload: { ...e.payload, pages: new Uint8Array([0, 0, 0, 0x10, 1, 2, 3, 4]) } } : e)) as LogEntry[];
      return encodeLog(header, es);
    }, /digest-detail: page 268435456 is outside memory/],
    ['a disk read of a disk that does not exist', () => encodeLog(header, withEntry({ icount: 0, kind: 'disk-read', payload: { device: 0, sector: 0, data: new Uint8Array(512) } })), /disk-read: device 0 does not exist \(the machine has 0 disk/],
    ['a disk status of a disk that does not exist', () => encodeLog(header, withEntry({ icount: 0, kind: 'disk-status', payload: { device: 1, op: 1, sector: 0, status: 0 } })), /disk-status: device 1 does not exist/],
    ['a frame for a NIC that does not exist', () => encodeLog(header, withEntry({ icount: 0, kind: 'net-rx', payload: { device: 0, data: new Uint8Array(60) } })), /net-rx: device 0 does not exist/],
    ['an interrupt line out of range', () => encodeLog(header, withEntry({ icount: 0, kind: 'interrupt', payload: { irq: 16, level: 1 } })), /interrupt: irq 16 is not a line 0-15/],
    ['console input for another UART', () => encodeLog(header, withEntry({ icount: 0, kind: 'console-input', payload: { unit: 1, data: new Uint8Array([65]) } })), /console-input: unit 1 does not exist/],
    ['a port-read entry (nothing produces it)', () => encodeLog(header, withEntry({ icount: 0, kind: 'port-read', payload: { port: 0x3f8, size: 1, value: 0 } })), /port-read: reserved kind that nothing produces/],
    ['an mmio-read entry (nothing produces it)', () => encodeLog(header, withEntry({ icount: 0, kind: 'mmio-read', payload: { addr: 0xd0000000, size: 4, lo: 0, hi: 0 } })), /mmio-read: reserved kind that nothing produces/],
    ['a changed digest interval', () => encodeLog({ ...detHeader, digestInterval: 150_000 }, detEntries), /the digest at icount 100000 is neither at a multiple of digestInterval 150000/, DET],
    ['a removed digest', () => encodeLog(detHeader, detEntries.filter((e) => !((e.kind === 'digest' || e.kind === 'digest-detail') && e.icount === 200_000))), /no digest at icount 200000 \(digestInterval 100000 from 0\)/, DET],
  ];
  it('the deterministic guest runs past 300,000 instructions (digests at 100k, 200k, 300k)', () => {
    expect(detEntries.filter((e) => e.kind === 'digest').map((e) => e.icount).slice(0, 3)).toEqual([100_000, 200_000, 300_000]);
  });
  for (const [name, make, msg, det] of cases) {
    it(name, async () => {
      const e = await errorOf(make(), det ? detImage : image);
      expect(e).toBeInstanceOf(CorruptLogError);
      expect((e as Error).message).toMatch(msg);
    });
  }

  it('the CLI: exit 4 naming the field, never a stack trace (one case of each kind)', () => {
    for (const [name, make, msg, det] of [0, 2, 4, 5, 9, 11, 16, 18].map((i) => cases[i]!)) {
      writeFileSync(join(dir, 'content.log'), make());
      const r = cli('replay', 'content.log', '--image', det ? detImagePath : imagePath, '--quiet');
      expect(r.status, name).toBe(4);
      expect(r.stderr, name).toMatch(msg);
      expect(r.stderr, name).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});

describe('the configuration in the header is checked by the first digest (M18)', () => {
  it('a changed command line is a divergence at the first digest, naming the boot-info page', async () => {
    const log = encodeLog({ ...header, devices: { ...(header.devices as object), cmdline: 'changed' } }, entries);
    const r = (await replayBytes(log, { image })).report;
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.icount).toBe(100_000);
    expect(r.divergence!.message).toContain('memory page 1 (physical 0x1000-0x1fff)');
  });

  it('a changed memory size (header and devices alike) is a divergence too', async () => {
    const log = encodeLog({ ...header, memorySize: 16 << 20, devices: { ...(header.devices as object), memSize: 16 << 20 } }, entries);
    const r = (await replayBytes(log, { image })).report;
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.icount).toBe(100_000);
  });
});
