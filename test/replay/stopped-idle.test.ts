// A recording stopped by a signal while the guest idles in HLT (it polled several times at its last
// instruction count before the final digest) replays identical: found by a new user, exit 3 before.

import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, guestElf } from '../devices-guests/helpers.js';

describe('a recording stopped while the guest idles', () => {
  it('dev_echo waiting for input, stopped with SIGTERM: replay identical', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-idle-'));
    try {
      const elf = guestElf('dev_echo', 'O2'), log = join(dir, 'e.log');
      const rec = spawn(process.execPath, [CLI, 'record', elf, '--log', log, '--no-input'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      rec.stdout!.on('data', (d: Buffer) => { out += d.toString('latin1'); });
      // wait for the guest's prompt (it then idles in HLT, polling), let it idle, then stop it
      const t0 = Date.now();
      while (!out.length && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      rec.kill('SIGTERM');
      const code = await new Promise<number>((r) => rec.on('close', (c) => r(c ?? -1)));
      expect(code).toBe(130);
      const rp = spawnSync(process.execPath, [CLI, 'replay', log, '--image', elf], { encoding: 'latin1', timeout: 120_000 });
      expect(rp.stdout, rp.stdout + rp.stderr).toContain('replay identical');
      expect(rp.status).toBe(0);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
