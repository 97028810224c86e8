// `x86ft replay LOG --stop-at N --dump [--json]`: the state at instruction N of a recorded run. N is the
// count at which the guest reaches main (nm(1) gives main's address; an in-process machine stopped by a
// breakpoint hook gives the count): the dump's RIP is main, and every register equals that machine's.
import { describe, it, expect } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../../src/index.js';
import { Hooks } from '../../src/cpu/hooks.js';
import { dumpState } from '../../src/debug/dump.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const GUEST = 'guests/build/recursion-O0.elf';

describe('replay --stop-at N --dump', () => {
  it('prints the full state at N (JSON and text)', () => {
    const main = parseInt(execFileSync('nm', [GUEST], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(' main'))!.split(' ')[0], 16);
    const m = Machine.fromElf(new Uint8Array(readFileSync(GUEST)), {});
    const h = new Hooks(); h.breakpoints.add(main); m.cpu.setHooks(h);
    expect(m.run().end).toBe('debug');
    const n = m.cpu.icount;
    const log = join(mkdtempSync(join(tmpdir(), 'x86ft-dump-')), 'run.log');
    expect(spawnSync(process.execPath, [CLI, 'record', GUEST, '--log', log], { encoding: 'utf8' }).status).toBe(67);
    const r = spawnSync(process.execPath, [CLI, 'replay', log, '--image', GUEST, '--stop-at', String(n), '--dump', '--json', '--quiet'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const d = JSON.parse(r.stdout);
    expect(d.instructions).toBe(n);
    expect(BigInt(d.registers.RIP)).toBe(BigInt(main));
    expect(d).toEqual(dumpState(m));
    const t = spawnSync(process.execPath, [CLI, 'replay', log, '--image', GUEST, '--stop-at', String(n), '--dump', '--quiet'], { encoding: 'utf8' });
    expect(t.stdout).toMatch(new RegExp(`^RIP\\s+0x${main.toString(16)}$`, 'm'));
    expect(t.stdout).toMatch(/^XMM15\s+0x/m);
    expect(t.stdout).toMatch(/^FCW\s+0x37f$/m);
    const bad = spawnSync(process.execPath, [CLI, 'replay', log, '--image', GUEST, '--json'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--json goes with --dump');
  }, 120_000);
});
