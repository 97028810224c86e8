// Which tier runs a block never shows in the guest: a run recorded with the WebAssembly tier (X86FT_WASM=1,
// regions of 16, every block hot at its first execution; `x86ft record` compiles its modules in the
// background, so which blocks ran in wasm, in the interpreter or in JS depends on the host's timing) replays
// identically — every digest, every interrupt at its count — with the JS tier alone, and with the wasm tier
// (`x86ft replay` compiles its modules on the main thread at the end of each run slice, so other blocks run
// in wasm at other counts than in the recording), and both replays end in the same state hash. The guest is
// dev_sched: a preemptive scheduler whose PIT interrupts land in the middle of its workers' hot loops.
import { describe, it, expect } from 'vitest';
import { spawnAsync } from '../helpers/proc.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GUEST = 'guests/build/dev_sched-O2.elf';
const WASM = { X86FT_WASM: '1', X86FT_WASM_REGION: '16', X86FT_HOT_BLOCK: '1' };
const JS = { X86FT_WASM: '0' };
const x86ft = (env: Record<string, string>, ...args: string[]) =>
  spawnAsync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });

describe('record with one tier, replay with the other', () => {
  it('recorded with the wasm tier, replayed with the JS tier and with the wasm tier: identical, same state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-tier-'));
    try {
      const log = join(dir, 's.log');
      // 30 ticks of the PIT (100 Hz): the tasks switch ~30 times, each switch an interrupt at a logged count
      const r = await x86ft(WASM, 'record', GUEST, '--log', log, '--no-input', '--cmdline', '30', '--digest-every', '20000');
      expect(r.status, r.stderr).toBe(0);
      const replay = async (env: Record<string, string>): Promise<string> => {
        const p = await x86ft(env, 'replay', log, '--image', GUEST);
        expect(p.status, p.stderr).toBe(0);
        expect(p.stdout).toContain('replay identical');
        const digests = /digests checked: (\d+)/.exec(p.stdout);
        expect(digests, p.stdout).not.toBeNull();
        expect(Number(digests![1])).toBeGreaterThan(10);
        return /state sha256: ([0-9a-f]{64})/.exec(p.stdout)?.[1] ?? p.stdout;
      };
      const [js, wasm] = await Promise.all([replay(JS), replay(WASM)]);
      // (the hash covers RAM, not the wasm tier's CPU area after RAM in the same buffer: TLB contents)
      expect(wasm).toBe(js);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }, 240_000);
});
