// CoreMark (EEMBC) correctness: a short run of our port under `x86ft run` must print the same CRCs as
// the native build (the host CPU is the reference) and pass CoreMark's own check of its list, matrix
// and state CRCs against EEMBC's known values (exit status 0). Speed is `npm run bench`'s business.
import { describe, it, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const build = join(root, 'guests/build');
const cli = join(root, 'dist/src/cli/main.js');
const ARGS = ['0x0', '0x0', '0x66', '3']; // the performance run's seeds, 3 iterations (~1M instructions)

function crcLines(out: string): string[] {
  return out.split('\n').filter((l) => /^(seedcrc|\[0\]crc(list|matrix|state|final))\s*:/.test(l));
}

describe('CoreMark', () => {
  it('x86ft run prints the native build\'s CRCs and CoreMark validates them', () => {
    for (const f of ['coremark-O2.elf', 'coremark-native']) {
      if (!existsSync(join(build, f))) execFileSync('make', ['-s', '-C', join(root, 'guests'), 'coremark'], { stdio: 'inherit' });
      expect(existsSync(join(build, f)), `${f} is not built: CoreMark's sources must be in ../shared/coremark (guests/Makefile COREMARK_DIR)`).toBe(true);
    }
    const native = spawnSync(join(build, 'coremark-native'), ARGS, { encoding: 'utf8' });
    expect(native.status).toBe(0);
    const want = crcLines(native.stdout);
    expect(want).toHaveLength(5);
    const emu = spawnSync(process.execPath, [cli, 'run', join(build, 'coremark-O2.elf'), '--no-input', '--cmdline', ARGS.join(' ')], { encoding: 'utf8', timeout: 120_000 });
    expect(emu.status, emu.stderr).toBe(0);
    expect(crcLines(emu.stdout)).toEqual(want);
    // CoreMark's own checks of the list/matrix/state CRCs (EEMBC's table): no ERROR line but the 10-second rule
    expect(emu.stdout.split('\n').filter((l) => l.includes('ERROR') && !l.includes('10 secs'))).toEqual([]);
  }, 150_000);
});
