// Progress on a terminal (issue 13): run, record, replay --follow and log inspect --follow show a progress
// line on stderr when it is a real pseudo-terminal (util-linux `script`), never when it is a pipe; SIGINT and
// SIGTERM on `run` print the --stats of what ran. Each guest has a lower bound on its length that does not
// depend on the machine's speed (ft_demo idles 400 ms of guest time, i.e. host time, after each line), and
// the test acts at guest progress (a console line), never after a delay.
import { describe, it, expect } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestElf } from '../devices-guests/helpers.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'x86ft-progress-'));
const demo = guestElf('ft_demo');
const disk = join(dir, 'disk.img');
writeFileSync(disk, new Uint8Array(64 * 512)); // ft_demo needs at least 40 sectors
/** 4 lines, each followed by 400 ms of guest idle time: at least 1.2 s from the first line to the end. */
const CMDLINE = '4 10 400';
const PROGRESS = /\r\x1b\[Kx86ft (run|record|replay|log inspect): [\d,]+ (instructions|entries)/;

interface Ended { status: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** Runs a process to its end; `onOut` sees its stdout as it comes. */
function run(cmd: string, args: string[], onOut?: (all: string, p: ReturnType<typeof spawn>) => void): Promise<Ended> {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString('latin1'); onOut?.(out, p); });
  p.stderr!.on('data', (d: Buffer) => { err += d.toString('latin1'); });
  return new Promise((res) => p.on('close', (status, signal) => res({ status, signal, out, err })));
}

/** x86ft with stdin, stdout and stderr on a pseudo-terminal (`script`: its status is the command's). */
function onPty(args: string[]): Promise<Ended> {
  const line = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  return run('script', ['-qefc', line, '/dev/null']);
}

describe('progress line on a terminal', () => {
  it('run and record show instructions and MIPS (record: log bytes) on a pty; the guest lines stay whole', async () => {
    const [r, rec, piped] = await Promise.all([
      onPty(['run', demo, '--disk', disk, '--cmdline', CMDLINE, '--stats']),
      onPty(['record', demo, '--disk', disk, '--cmdline', CMDLINE, '--log', join(dir, 'rec.log')]),
      run(process.execPath, [CLI, 'run', demo, '--disk', disk, '--cmdline', CMDLINE]),
    ]);
    // never on a pipe: stderr holds what it held before (nothing)
    expect(piped.status).toBe(0);
    expect(piped.err).toBe('');
    expect(piped.out).not.toMatch(PROGRESS);
    for (const [e, cmd] of [[r, 'run'], [rec, 'record']] as const) {
      expect(e.status, e.out).toBe(0);
      expect(e.out).toMatch(new RegExp(`\\r\\x1b\\[Kx86ft ${cmd}: [\\d,]+ instructions, [\\d.]+ MIPS`));
      // each guest line arrives whole, at the start of a line (the progress line is cleared first)
      for (let n = 1; n <= 4; n++) expect(e.out).toMatch(new RegExp(`(^|\\n|\\x1b\\[K)demo line 0*${n} of 4 hash`));
      expect(e.out).toMatch(/demo done 4 hash/);
    }
    expect(rec.out).toMatch(/x86ft record: [\d,]+ instructions, [\d.]+ MIPS, log [\d.]+ k?B/);
    expect(r.out).toMatch(/(\n|\x1b\[K)instructions: \d+\r?\n/); // --stats at the start of a line
  }, 60_000);

  it('replay --follow and log inspect --follow show progress on a pty while the recorder writes a FIFO', async () => {
    const followed = async (follower: string[]): Promise<[Ended, Ended]> => {
      const fifo = join(dir, `f${Math.random().toString(36).slice(2)}`);
      execFileSync('mkfifo', [fifo]);
      // the recorder waits for the follower (the FIFO's reader) before it starts the guest
      return Promise.all([
        run(process.execPath, [CLI, 'record', demo, '--disk', disk, '--cmdline', CMDLINE, '--log', fifo]),
        onPty([...follower.map((a) => (a === 'FIFO' ? fifo : a))]),
      ]);
    };
    const [[rec1, rep], [rec2, insp]] = await Promise.all([
      followed(['replay', 'FIFO', '--follow', '--image', demo]),
      followed(['log', 'inspect', 'FIFO', '--follow']),
    ]);
    expect(rec1.status).toBe(0); expect(rec2.status).toBe(0);
    expect(rep.status, rep.out).toBe(0);
    expect(rep.out).toMatch(/\r\x1b\[Kx86ft replay: [\d,]+ instructions, [\d.]+ MIPS, log [\d.]+ k?B/);
    expect(rep.out).toMatch(/replay identical/);
    expect(insp.status, insp.out).toBe(0);
    expect(insp.out).toMatch(/\r\x1b\[Kx86ft log inspect: [\d,]+ entries, at icount [\d,]+, log [\d.]+ k?B/);
    expect(insp.out).toMatch(/status: +finished/);
  }, 60_000);
});

describe('SIGINT and SIGTERM on run', () => {
  it('--stats of what ran, a message, status 130', async () => {
    await Promise.all((['SIGTERM', 'SIGINT'] as const).map(async (sig) => {
      let sent = false;
      const r = await run(process.execPath, [CLI, 'run', demo, '--disk', disk, '--cmdline', '6 10 400', '--stats'], (out, p) => {
        if (!sent && /demo line 0*1 of 6/.test(out)) { sent = true; p.kill(sig); } // >= 2 s of guest time left
      });
      expect(sent).toBe(true);
      expect(r.out).not.toMatch(/demo done/);
      expect(r.status, r.err).toBe(130);
      expect(r.err).toMatch(/^instructions: \d+\nwall time: [\d.]+ s\nMIPS: [\d.]+\n/);
      expect(r.err).toContain(`x86ft: stopped by ${sig} after`);
    }));
  }, 60_000);
});
