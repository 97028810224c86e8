// A secondary that follows the log while the primary is still writing it (two processes).
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { guestFile, timerGuestSource } from './record-replay-guests.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');

function run(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('replay --follow', () => {
  beforeAll(() => { if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' }); }, 120_000);

  it('replays a log while it is being recorded, to the same output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-rr-follow-'));
    const guest = guestFile('timer400', timerGuestSource(400));
    const log = join(dir, 'live.log');
    // start the follower first: it waits for the file to appear
    const follower = run(['replay', log, '--image', guest, '--follow', '--idle-ms', '20000'], dir);
    const recorder = run(['record', guest, '--log', log, '--mem', '8M', '--digest-every', '200k', '--no-input'], dir);
    const [f, r] = await Promise.all([follower, recorder]);
    expect(r.status).toBe(7);
    expect(f.stdout).toContain('replay identical');
    expect(f.status).toBe(0);
    expect(f.stderr).toBe(r.stdout);
    expect(f.stdout).toMatch(/digests checked: [1-9]\d*/);
  }, 120_000);
});
