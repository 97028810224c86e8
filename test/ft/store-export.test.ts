// `x86ft ft export-disk` (src/cli/ft-export-disk.ts) in a real process: an FT VM's disk content
// (base + generation layers) as a plain image, found through the VM record or given by hand.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGenerationDisk } from '../../src/ft/store.js';
import { createVm, openControl } from '../../src/ft/control.js';
import { CLI } from '../devices-guests/helpers.js';

const SECTOR = 512;
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'x86ft-export-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'ft', 'export-disk', ...args], { encoding: 'utf8' });

describe('x86ft ft export-disk', () => {
  it('writes base + layers of the VM record\'s disk; clear errors and exit statuses otherwise', async () => {
    const ctl = join(dir, 'control'), store = join(dir, 'store');
    const base = join(dir, 'base.img');
    writeFileSync(base, Buffer.alloc(16 * SECTOR, 0x11));
    const cp = await openControl(`dir:${ctl}`);
    await createVm(cp, 'vm1', {
      image: join(dir, 'guest.elf'), imageSha256: 'a'.repeat(64), memorySize: 16 << 20, cmdline: '', disks: [base], nets: [],
      consoleFile: null, store, ft: { heartbeatMs: 50, failureTimeoutMs: 500, maxHeldBytes: 4 << 20, maxHeldMs: 200, maxLagMs: 50 }, hosts: null,
    }, { hostId: 'test', pid: process.pid });
    await cp.close();
    const want = Buffer.alloc(16 * SECTOR, 0x11);
    for (const g of [1, 2]) {
      const d = openGenerationDisk({ store, vm: 'vm1', disk: 0, base, generation: g });
      d.write(g * SECTOR, Buffer.alloc(SECTOR, 0x20 + g));
      want.fill(0x20 + g, g * SECTOR, (g + 1) * SECTOR);
      d.close();
    }
    const out = join(dir, 'out.img');
    const ok = cli('vm1', '--control', `dir:${ctl}`, '--out', out);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`${16 * SECTOR} bytes written`);
    expect(readFileSync(out).equals(want)).toBe(true);
    expect(readFileSync(base).equals(Buffer.alloc(16 * SECTOR, 0x11))).toBe(true);

    // generation 1's content
    const g1 = cli('vm1', '--control', `dir:${ctl}`, '--out', out, '--generation', '1');
    expect(g1.status).toBe(0);
    expect(readFileSync(out).subarray(2 * SECTOR, 3 * SECTOR).equals(Buffer.alloc(SECTOR, 0x11))).toBe(true);

    // without a record: base and store by hand
    const byHand = cli('vm1', '--control', `dir:${join(dir, 'other')}`, '--store', store, '--base', base, '--out', out);
    expect(byHand.status).toBe(0);
    expect(readFileSync(out).equals(want)).toBe(true);

    // a generation the VM never had: exit 3 naming the ones it has, the output untouched
    const before = readFileSync(out);
    const g99 = cli('vm1', '--control', `dir:${ctl}`, '--out', out, '--generation', '99');
    expect(g99.status).toBe(3);
    expect(g99.stderr).toBe('x86ft ft export-disk: VM vm1 has no generation 99: it has generations 1 to 2\n');
    const g3 = cli('vm1', '--control', `dir:${join(dir, 'other')}`, '--store', store, '--base', base, '--out', out, '--generation', '3');
    expect(g3.status).toBe(3);
    expect(readFileSync(out).equals(before)).toBe(true);

    const noRecord = cli('vm2', '--control', `dir:${ctl}`, '--out', out);
    expect(noRecord.status).toBe(1);
    expect(noRecord.stderr).toContain('vm2 has no record');
    const noDisk = cli('vm1', '--control', `dir:${ctl}`, '--out', out, '--disk', '3');
    expect(noDisk.status).toBe(1);
    expect(noDisk.stderr).toContain('has no disk 3');
    const onBase = cli('vm1', '--control', `dir:${ctl}`, '--out', base);
    expect(onBase.status).toBe(1);
    expect(onBase.stderr).toContain('is the base image');
    const usage = cli('vm1', '--control', `dir:${ctl}`);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--out FILE is required');
    for (const r of [g99, g3, noRecord, noDisk, onBase, usage]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
