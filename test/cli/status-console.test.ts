// Exit statuses told apart (--status-line) and the TCP console's ',wait' and its dropped-output notice
// (issue 13), with real processes and sockets.
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { assembleGuest, assembleOkGuest } from '../helpers/asm.js';
import { spawnAsync } from '../helpers/proc.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const x86ft = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
/** The same, concurrently (each start of node costs seconds on a loaded machine). */
const x86ftAsync = (args: string[]) => spawnAsync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const lastLine = (s: string): string => s.trimEnd().split('\n').pop()!;

describe('--status-line: who chose the exit status', () => {
  const g2 = assembleOkGuest(2), g124 = assembleOkGuest(124);
  it('a guest exiting 2 or 124 is by=guest; the same numbers from x86ft are by=x86ft with a reason', async () => {
    const cases: [string[], number, string][] = [
      [['run', g2], 2, 'x86ft-status: by=guest status=2'],
      [['run', g124], 124, 'x86ft-status: by=guest status=124'],
      [['record', g124, '--log', '/dev/null'], 124, 'x86ft-status: by=guest status=124'],
      [['run', g2, '--max-instructions', '5'], 124, 'x86ft-status: by=x86ft status=124 reason=budget'],
      [['run', g2, '--mem', '1Q'], 2, 'x86ft-status: by=x86ft status=2 reason=usage'],
      [['run', '/nonexistent.elf'], 2, 'x86ft-status: by=x86ft status=2 reason=usage'],
      [['run', assembleGuest('_start: hlt\n')], 125, 'x86ft-status: by=x86ft status=125 reason=halt'],
      [['run', assembleGuest('_start: ud2\n')], 126, 'x86ft-status: by=x86ft status=126 reason=fault'],
    ];
    // without the option: the same status, no such line (for `run` with the guest's status and the budget's 124,
    // test/cli/run.test.ts checks that on runs it makes anyway)
    const plain = [1, 2];
    const [withLine, without] = await Promise.all([
      Promise.all(cases.map(([args]) => x86ftAsync([...args, '--status-line']))),
      Promise.all(plain.map((n) => x86ftAsync(cases[n]![0]))),
    ]);
    cases.forEach(([, status, line], n) => {
      expect(withLine[n]!.status, withLine[n]!.stderr).toBe(status);
      expect(lastLine(withLine[n]!.stderr)).toBe(line); // the last line on stderr
    });
    without.forEach((r, k) => { expect(r.status).toBe(cases[plain[k]!]![1]); expect(r.stderr).not.toContain('x86ft-status'); });
  }, 120_000);
});

describe('--console tcp:PORT,wait and dropped output', () => {
  const g = assembleOkGuest(9);
  it(',wait: the guest starts when the client connects, and the client gets all of its output', async () => {
    const p = spawn(process.execPath, [CLI, 'run', g, '--console', 'tcp:0,wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const ended = new Promise<number | null>((res) => p.on('close', (c) => res(c)));
    const port = await new Promise<number>((res, rej) => {
      p.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /waiting for a console client on 127\.0\.0\.1:(\d+)/.exec(err);
        if (m) res(Number(m[1]));
      });
      void ended.then((c) => rej(new Error(`x86ft ended (${c}) before it waited: ${err}`)));
    });
    const sock: Socket = await new Promise((res, rej) => { const s = connect(port, '127.0.0.1', () => res(s)); s.once('error', rej); });
    let got = '';
    sock.on('data', (d: Buffer) => { got += d.toString(); });
    const closed = new Promise<void>((res) => sock.on('close', () => res()));
    expect(await ended).toBe(9);
    await closed; // x86ft closed the connection after the last byte
    expect(got).toBe('ok\n');
    expect(err).not.toContain('dropped');
  }, 60_000);

  it('without a client, output is dropped and stderr says so once', () => {
    const r = x86ft(['run', g, '--console', 'tcp:0']);
    expect(r.status).toBe(9);
    expect(r.stderr).toMatch(/^x86ft: console: no client connected to 127\.0\.0\.1:\d+: guest output is dropped until one connects\n$/);
  }, 60_000);

  it('a bad --console is a usage error naming the forms', async () => {
    const rs = await Promise.all(['tcp:99999', 'tcp:1,nowait', 'tcp:'].map((v) => x86ftAsync(['run', g, '--console', v])));
    for (const r of rs) {
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--console/);
    }
  });
});
