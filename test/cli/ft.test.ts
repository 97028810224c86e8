// `x86ft ft primary|secondary` refusals: documented exit statuses and clear messages, never a stack
// trace (bad arguments, a second primary of a running VM, a secondary on the primary's host).
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync, truncateSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, guestElf } from '../devices-guests/helpers.js';
import { ftOptions } from '../../src/cli/ft.js';

function cli(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'latin1', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noTrace = (s: string): void => { expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/); };

describe('x86ft ft', () => {
  it('--help documents both roles and the exit statuses', () => {
    const r = cli(['ft', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('x86ft ft primary');
    expect(r.stdout).toContain('x86ft ft secondary');
    expect(r.stdout).toMatch(/exit status/);
  });

  it('commands that read a cluster never create its control directory (status, console, list, wait, replay)', () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'x86ft-nocluster-')), 'ctl');
    for (const args of [['ft', 'status'], ['console'], ['ft', 'list'], ['ft', 'wait', 'vm1'], ['replay', 'vm1']]) {
      const r = cli([...args, '--control', `dir:${missing}`]);
      expect(r.stderr, args.join(' ')).toMatch(/control directory .* does not exist .*nothing was created/);
      expect(r.status, args.join(' ')).not.toBe(0);
      noTrace(r.stderr);
      expect(existsSync(missing), args.join(' ')).toBe(false);
    }
  });

  it('bad arguments: exit 2 with a message', () => {
    for (const args of [['ft', 'tertiary'], ['ft', 'primary'], ['ft', 'primary', 'x.elf', '--listen', '127.0.0.1:0'],
      ['ft', 'primary', 'x.elf', '--control', 'dir:/tmp/x', '--listen', 'nonsense'], ['ft', 'secondary', '--control', 'bogus:x'],
      ['ft', 'secondary', '--control', 'dir:/tmp/x', '--heartbeat-ms', '500', '--failure-timeout-ms', '100']]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/x86ft ft/);
      noTrace(r.stderr);
    }
  });

  it('--max-held-bytes takes any byte count (it was parsed as a guest memory size: at least 2 MiB, "memory size must be …")', () => {
    const held = (v: string): number => ftOptions(new Map([['--max-held-bytes', v]])).maxHeldBytes;
    expect(held('2048')).toBe(2048);
    expect(held('64K')).toBe(65536);
    expect(held('4M')).toBe(4 * 1024 * 1024);
    expect(() => held('lots')).toThrow(/^--max-held-bytes needs a size 'lots'/);
    expect(() => held('0')).toThrow(/--max-held-bytes must be > 0/);
    expect(() => held('99999999999G')).toThrow(/--max-held-bytes '99999999999G' is too large/);
  });

  it('a second primary of a running VM exits 2 naming its primary; a secondary on the primary host id exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-ftcli-'));
    chmodSync(dir, 0o700);
    const base = join(dir, 'base.img');
    writeFileSync(base, new Uint8Array(0)); truncateSync(base, 64 * 512);
    const elf = guestElf('dev_ftdisk');
    const args = ['ft', 'primary', elf, '--control', `dir:${join(dir, 'ctl')}`, '--listen', '127.0.0.1:0', '--host-id', 'local-a', '--disk', base, '--mem', '32M'];
    const first: ChildProcess = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    first.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      while (!/waiting for the secondary/.test(err)) {
        if (first.exitCode !== null) throw new Error(`first primary ended: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const second = cli(args);
      expect(second.status).toBe(2);
      expect(second.stderr).toMatch(/already running \(primary: local-a pid \d+\)/);
      noTrace(second.stderr);
      const same = cli(['ft', 'secondary', '--control', `dir:${join(dir, 'ctl')}`, '--host-id', 'local-a']);
      expect(same.status).toBe(2);
      expect(same.stderr).toMatch(/host id 'local-a' is the primary's/);
      noTrace(same.stderr);
      // killed while it waited for its secondary: the VM is lost (it stayed 'starting' naming the dead pid, and a
      // restart said 'already running'); the restart names the recovery, ft stop ends it, then it starts again
      const pid = first.pid!;
      first.kill('SIGKILL');
      await new Promise((r) => (first.exitCode !== null || first.signalCode !== null ? r(undefined) : first.once('exit', r)));
      const st = cli(['ft', 'status', '--control', `dir:${join(dir, 'ctl')}`, '--json']);
      expect(st.status, st.stderr).toBe(0);
      const vm = (JSON.parse(st.stdout) as { name: string; state: string; reason: string | null }[]).find((v) => v.name === 'default');
      expect(vm?.state).toBe('lost');
      expect(vm?.reason).toMatch(new RegExp(`primary \\(host local-a pid ${pid}\\) no longer runs on this machine`));
      const sec = cli(['ft', 'secondary', '--control', `dir:${join(dir, 'ctl')}`, '--host-id', 'local-b']);
      expect(sec.status).toBe(2); // it was exit 1, ECONNREFUSED
      expect(sec.stderr).toMatch(/FT VM 'default' is lost: .*'x86ft ft stop default'/);
      const again = cli(args);
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/FT VM 'default' is lost: .*'x86ft ft stop default' ends its record/);
      noTrace(again.stderr);
      expect(cli(['ft', 'stop', 'default', '--control', `dir:${join(dir, 'ctl')}`]).status).toBe(0);
      const restarted: ChildProcess = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err2 = '';
      restarted.stderr!.on('data', (d: Buffer) => { err2 += d.toString(); });
      try {
        while (!/waiting for the secondary/.test(err2)) {
          if (restarted.exitCode !== null) throw new Error(`the restarted primary ended: ${err2}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally { restarted.kill('SIGKILL'); }
    } finally {
      first.kill('SIGKILL');
    }
  }, 90_000);
  it('a disk the primary cannot open: protect exits 2 naming it; the VM it created is ended with the reason, its name free', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-ftcli-'));
    chmodSync(dir, 0o700);
    const ctl = `dir:${join(dir, 'ctl')}`;
    const elf = guestElf('dev_ftdisk');
    const r = cli(['protect', elf, '--control', ctl, '--disk', join(dir, 'no-such.img'), '--mem', '32M', '--no-input']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/no-such\.img/);
    noTrace(r.stderr);
    // the secondary was never started: the primary never named its channel address
    expect(r.stderr).not.toMatch(/secondary pid/);
    const st = cli(['ft', 'status', '--control', ctl, '--json']);
    expect(st.status).toBe(0);
    const [vm] = JSON.parse(st.stdout) as { state: string; reason: string | null }[];
    expect(vm!.state).toBe('ended');
    expect(vm!.reason).toMatch(/^the primary could not start: .*no-such\.img/);
  }, 60_000);
});
