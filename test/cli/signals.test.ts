// SIGINT/SIGTERM at a command's start (issue 13, a new user's trial: a signal in the first ~0.3 s gave
// exit 143, the signal's default death, instead of the documented 130). Real x86ft processes, real signals,
// sent at two moments that are known, not guessed from timing: while the command's modules load (held
// there by test/helpers/hold-import.mjs, a module hook) and while the host waits for a console client.
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const HOLD = new URL('../helpers/hold-import.mjs', import.meta.url).pathname;
/** A guest that runs far longer than any test: dev_idle sleeps 600 s of guest time in HLT. */
const LONG = ['guests/build/dev_idle-O2.elf', '--cmdline', '600', '--no-input'];

interface Ended { status: number | null; signal: NodeJS.Signals | null; stderr: string }

/**
 * Starts x86ft with `args`, waits for `marker` on its stderr (or its end: then reports that), sends
 * `signal`, and resolves when it has ended. `hold`: the import (a module URL suffix) held until signalled.
 */
function signalAt(args: string[], marker: RegExp, signal: NodeJS.Signals, hold?: string): Promise<Ended & { sent: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-sig-'));
  const release = join(dir, 'release');
  const env = hold ? { ...process.env, X86FT_HOLD_IMPORT: hold, X86FT_HOLD_UNTIL: release } : process.env;
  const p = spawn(process.execPath, [...(hold ? ['--import', HOLD] : []), CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '', sent = false;
  p.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && marker.test(stderr)) {
      sent = true;
      p.kill(signal);
      // let the held import go on only once the signal has been delivered (a signal is handled by the time
      // kill returns to a process that is not blocking it; the release only needs to come after that)
      writeFileSync(release, '');
    }
  });
  return new Promise((res) => p.on('close', (status, sig) => res({ status, signal: sig, stderr, sent })));
}

describe.concurrent('SIGINT/SIGTERM in a command\'s first moments', () => {
  it('run: a SIGTERM while its modules load stops it with status 130 and the stop message, not the default death (143)', async () => {
    const r = await signalAt(['run', ...LONG], /hold-import: holding/, 'SIGTERM', '/cli/run.js');
    expect(r.sent).toBe(true);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(130);
    expect(r.stderr).toMatch(/x86ft: stopped by SIGTERM after \d+ instructions/);
  });

  it('run and record: SIGINT while waiting for a console client (tcp:0,wait) stop with 130; record finishes its log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-sig-'));
    const log = join(dir, 'r.log');
    const waiting = /waiting for a console client/;
    const [run, rec] = await Promise.all([
      signalAt(['run', ...LONG, '--console', 'tcp:0,wait', '--stats'], waiting, 'SIGINT'),
      signalAt(['record', ...LONG, '--console', 'tcp:0,wait', '--log', log], waiting, 'SIGINT'),
    ]);
    expect([run.sent, run.signal, run.status]).toEqual([true, null, 130]);
    expect(run.stderr).toMatch(/instructions: \d+[\s\S]*x86ft: stopped by SIGINT/);
    expect([rec.sent, rec.signal, rec.status]).toEqual([true, null, 130]);
    const insp = spawnSync(process.execPath, [CLI, 'log', 'inspect', log], { encoding: 'utf8', timeout: 60_000 });
    expect(insp.status).toBe(0); // finished: an end frame
    expect(insp.stdout).toMatch(/end reason="stopped"/);
  });

  it('a command that documents no signal status (log inspect) still ends by the signal, as before', async () => {
    const r = await signalAt(['log', 'inspect', '-'], /hold-import: holding/, 'SIGTERM', '/cli/log.js');
    expect(r.sent).toBe(true);
    expect(r.signal).toBe('SIGTERM');
  });
});
