// A primary's release marks follow completion (FT.md "The Output Rule"): a released disk write is
// marked completed only after an fsync of its layer returned. Seen by strace in a real process: the
// primary's ReleaseMarks over a real generation disk layer and a real output seam in hold mode,
// its marks written to stdout (the channel's part is its own test).

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../devices-guests/helpers.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'x86ft-marks-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('release marks', () => {
  it('a released disk write is marked completed only after its layer\'s fsync returned (strace)', () => {
    try { execFileSync('strace', ['-V'], { stdio: 'ignore' }); } catch { throw new Error('this test needs strace (.ci/run installs it)'); }
    const base = join(dir, 'base.img');
    writeFileSync(base, Buffer.alloc(64 * 512));
    const js = (p: string) => JSON.stringify(join(ROOT, 'dist/src', p));
    const script = `
      import { openGenerationDisk } from ${js('ft/store.js')};
      import { OutputSeam } from ${js('machine/outputs.js')};
      import { ReleaseMarks } from ${js('ft/primary.js')};
      import { writeSync } from 'node:fs';
      const d = openGenerationDisk({ store: ${JSON.stringify(join(dir, 'store'))}, vm: 'vm1', disk: 0, base: ${JSON.stringify(base)}, generation: 1 });
      const seam = new OutputSeam({ mode: 'hold', sinks: { console: () => {}, disks: [d] } });
      seam.console(65);
      seam.diskWrite(1, 0, 512, new Uint8Array(512).fill(7));
      writeSync(1, 'MARK-HELD\\n');
      seam.release(1);
      const marks = new ReleaseMarks(seam, [d], (m) => writeSync(1, 'MARKS ' + JSON.stringify(m) + '\\n'), (t) => writeSync(1, 'REPORT ' + t + '\\n'));
      marks.released();
      setTimeout(() => { writeSync(1, 'MARK-END\\n'); d.close(); }, 300);`;
    const trace = join(dir, 'trace.txt');
    execFileSync('strace', ['-f', '-y', '-o', trace, '-e', 'trace=fsync,fdatasync,pwrite64,write', process.execPath, '--input-type=module', '-e', script], { stdio: 'ignore' });
    const lines = readFileSync(trace, 'utf8').split('\n');
    const at = (re: RegExp, from = 0) => { const i = lines.slice(from).findIndex((l) => re.test(l)); return i < 0 ? -1 : from + i; };
    const held = at(/MARK-HELD/);
    expect(held).toBeGreaterThan(0);
    const written = at(/pwrite64\(\d+<[^>]*disk0\.gen-1\.layer>/, held);
    const first = at(/MARKS \{/, held);
    const sync = at(/fsync\(\d+<[^>]*disk0\.gen-1\.layer>/, held);
    const durable = at(/MARKS \{.*disk0/, held);
    expect(written).toBeGreaterThan(held); // released: the record went to the layer
    expect(first).toBeGreaterThan(written);
    expect(lines[first]).toContain('\\"console\\":1'); // the console byte is marked at once …
    expect(lines[first]).not.toContain('disk0'); // … the write is not, before its fsync
    expect(sync).toBeGreaterThan(first);
    // the fsync ran on another thread: its return is the line with "= 0" (or "fsync resumed> ... = 0")
    const returned = lines.findIndex((l, i) => i >= sync && /fsync(\(\d+<[^>]*disk0\.gen-1\.layer>\)| resumed>.*\))\s+= 0/.test(l));
    expect(returned).toBeGreaterThanOrEqual(sync);
    expect(durable).toBeGreaterThan(returned); // the disk's mark follows the completed fsync
    expect(lines[durable]).toContain('\\"disk0\\":1');
    expect(at(/REPORT/)).toBe(-1);
  });
});
