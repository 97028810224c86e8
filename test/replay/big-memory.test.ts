// Everything the CLI accepts must replay: a recording with 2 GiB of RAM or more replays identical,
// final state hash included (a hash over the whole RAM in one piece failed past 2^31-1 bytes).
import { describe, it, expect } from 'vitest';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { spawnAsync } from '../helpers/proc.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const GUEST = join(ROOT, 'guests/build/hello-O2.elf');

describe('recordings with large RAM', () => {
  it('--mem 2G: record, then replay identical with the final state hash', async () => {
    if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' });
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-bigmem-'));
    const log = join(dir, 'big.log');
    const r1 = await spawnAsync(process.execPath, [CLI, 'record', GUEST, '--log', log, '--mem', '2G', '--no-input', '--cmdline', 'big'], { encoding: 'utf8' });
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(42); // the hello guest's exit status
    const r2 = await spawnAsync(process.execPath, [CLI, 'replay', log, '--image', GUEST], { encoding: 'utf8' });
    expect(r2.stdout).toContain('replay identical');
    expect(r2.stdout).toMatch(/state sha256: [0-9a-f]{64}/);
    expect(r2.stderr).toBe(r1.stdout); // the suppressed console equals the recorded one
    expect(r2.status).toBe(0);
  }, 240_000);
});
