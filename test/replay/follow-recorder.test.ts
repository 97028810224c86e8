// `replay --follow` tells a stalled recorder from a dead one (issue 8): the v3 header names the
// recorder's host and pid; a follower on the same host waits while that process exists (even
// stopped with SIGSTOP, longer than --idle-ms), ends at once as "unfinished" (exit 6) when it is
// killed, and a follower of a recorder on another host is kept waiting by the heartbeat records
// (every 100 ms) and gives up only after --idle-ms of silence. Real processes, real signals.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, statSync, existsSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { LogWriter } from '../../src/replay/writer.js';
import { openFileSink } from '../../src/replay/channel-file.js';
import { decodeLog } from '../../src/replay/codec.js';
import { sha256Hex } from '../../src/replay/recorder.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const GUEST = join(ROOT, 'guests/build/dev_timer-O2.elf'); // runs ~2 s of guest time (200 PIT ticks)
const IDLE = join(ROOT, 'guests/build/dev_idle-O2.elf');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'x86ft-follow-'));
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' });
});

function start(args: string[]): ChildProcess & { out: () => string; done: Promise<number | null> } {
  const p = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', () => {});
  const done = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  return Object.assign(p, { out: () => out, done });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function grown(path: string, bytes: number): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (existsSync(path) && statSync(path).size >= bytes) return;
    await sleep(10);
  }
  throw new Error(`${path} did not reach ${bytes} bytes`);
}

/** proc(5): field 22 of /proc/PID/stat, counted after the command name's closing parenthesis. */
const STARTTIME = 'import sys; print(open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()[19])';

describe('replay --follow and the recorder process', () => {
  it('a recorder stopped (SIGSTOP) longer than --idle-ms is waited for; the replay is identical', async () => {
    const log = join(dir, 'stopped.log');
    // dev_idle: 4 s of 100 Hz ticks in HLT and nothing that ends early (dev_timer checks its clocks against
    // each other and may end at once when a loaded machine stalls it: then nothing was left to stop)
    const rec = start(['record', IDLE, '--log', log, '--no-input', '--digest-every', '200k', '--cmdline', '4']);
    await grown(log, 2000);
    // the recorder's start time as the kernel reports it (proc(5) field 22, read by python3: not our parser;
    // the command name may hold spaces and parentheses, vitest's workers' does)
    const startTime = Number(execFileSync('python3', ['-c', STARTTIME, String(rec.pid)], { encoding: 'utf8' }));
    const fol = start(['replay', log, '--image', IDLE, '--follow', '--idle-ms', '2000', '--quiet']);
    rec.kill('SIGSTOP');
    await sleep(3500); // > --idle-ms: the old follower gave up here
    expect(fol.exitCode, fol.out()).toBeNull(); // still following
    rec.kill('SIGCONT');
    const status = await rec.done; // the guest's status (it may notice the pause in its clocks)
    expect(await fol.done).toBe(0);
    expect(fol.out()).toContain('replay identical');
    expect(fol.out()).toContain(`replayed end: exit (status ${status})`);
    expect(decodeLog(new Uint8Array(readFileSync(log))).header.recorder).toEqual({ host: hostname(), pid: rec.pid, startTime });
  }, 60_000);

  it('a killed recorder (SIGKILL): the follower ends with the log unfinished (exit 6), long before --idle-ms', async () => {
    const log = join(dir, 'killed.log');
    const rec = start(['record', GUEST, '--log', log, '--no-input', '--digest-every', '200k']);
    await grown(log, 2000);
    const fol = start(['replay', log, '--image', GUEST, '--follow', '--idle-ms', '600000', '--quiet']);
    await sleep(300);
    rec.kill('SIGKILL');
    await rec.done;
    expect(await fol.done).toBe(6);
    expect(fol.out()).toMatch(/replay incomplete: the log is unfinished \(log is cut at offset \d+/);
  }, 60_000);

  it('the recorder\'s pid now belongs to another process (pid reuse): the follower ends (exit 6), long before --idle-ms', async () => {
    // a live process with the pid the header names, started at another time than the header says
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const startTime = Number(execFileSync('python3', ['-c', STARTTIME, String(other.pid)], { encoding: 'utf8' }));
      const image = new Uint8Array(readFileSync(GUEST));
      const log = join(dir, 'reused.log');
      const w = new LogWriter(await openFileSink(log), {
        imageSha256: sha256Hex(image), memorySize: 16 << 20, devices: { memSize: 16 << 20, cmdline: '', disks: [], nets: [] },
        digestInterval: 0, startIcount: 0, fromSnapshot: null, recorder: { host: hostname(), pid: other.pid!, startTime: startTime - 1 }, ft: null,
      });
      w.append({ icount: 0, kind: 'start', payload: { epochMs: Date.now() } });
      await w.flush();
      const fol = start(['replay', log, '--image', GUEST, '--follow', '--idle-ms', '600000', '--quiet']);
      expect(await fol.done).toBe(6);
      expect(fol.out()).toContain('the log is unfinished');
      w.abort();
    } finally {
      other.kill('SIGKILL');
    }
  }, 60_000);

  it('a recorder on another host: heartbeats keep the follower waiting; it gives up after --idle-ms of silence (exit 6)', async () => {
    // a real recording's header, but the recorder is named on another host: only heartbeats follow
    const image = new Uint8Array(readFileSync(GUEST));
    const log = join(dir, 'remote.log');
    const w = new LogWriter(await openFileSink(log), {
      imageSha256: sha256Hex(image), memorySize: 16 << 20, devices: { memSize: 16 << 20, cmdline: '', disks: [], nets: [] },
      digestInterval: 0, startIcount: 0, fromSnapshot: null, recorder: { host: 'another-host.invalid', pid: 1 }, ft: null,
    });
    w.append({ icount: 0, kind: 'start', payload: { epochMs: Date.now() } });
    let seq = 0;
    const beat = setInterval(() => w.append({ icount: 0, kind: 'heartbeat', payload: { seq: seq++, epochMs: Date.now() } }), 100);
    await w.flush();
    const fol = start(['replay', log, '--image', GUEST, '--follow', '--idle-ms', '1500', '--quiet']);
    await sleep(3500); // heartbeats for longer than --idle-ms
    const alive = fol.exitCode;
    clearInterval(beat); // the recorder falls silent (still "running" elsewhere, as far as anyone here knows)
    const code = await fol.done;
    expect(alive).toBeNull();
    expect(seq).toBeGreaterThan(20);
    expect(code).toBe(6);
    expect(fol.out()).toContain('the log is unfinished');
    w.abort();
  }, 60_000);
});
