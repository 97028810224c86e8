// dev_disk: the guest's own virtio-blk driver against an image file: the guest checks its
// reads against its writes; here we check its report and then the image's bytes on disk.

import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestElf, runCli } from './helpers.js';

const SECTOR = 512;
const pat = (s: number, i: number) => (s * 31 + i * 7 + 0x5a) & 0xff;
const HELLO = 'x86ft disk test: sector zero from the host';

describe('dev_disk guest (virtio-blk driver)', () => {
  for (const [opt, sectors] of [['O2', 2048], ['O0', 100]] as const) {
    it(`reads, writes, flushes and gets IOERR past the end (-${opt}, ${sectors} sectors)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'x86ft-devdisk-'));
      try {
        const img = join(dir, 'disk.img');
        const init = Buffer.alloc(sectors * SECTOR);
        init.write(HELLO + '\nrest of sector 0', 0, 'latin1');
        for (let s = 1; s < sectors; s++) init.fill(0xc3, s * SECTOR, (s + 1) * SECTOR); // "never written" marker
        writeFileSync(img, init);
        const run = runCli(guestElf('dev_disk', opt), ['--disk', img, '--no-input']);
        const code = await run.done;
        const out = run.stdout();
        expect(out, run.stderr()).toContain(`capacity ${sectors} sectors`);
        expect(out).toContain(`sector 0: "${HELLO}"\n`);
        expect(out).toContain('serial "x86ft-disk"');
        expect(out).not.toContain('FAIL');
        expect(out).toContain('disk ok: 0 failures\n');
        expect(code).toBe(0);

        const after = readFileSync(img);
        expect(after.length).toBe(sectors * SECTOR);
        const written = new Set([1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, sectors - 1]);
        for (let s = 0; s < sectors; s++) {
          const got = after.subarray(s * SECTOR, (s + 1) * SECTOR);
          let want: Buffer;
          if (s === 0) want = init.subarray(0, SECTOR);
          else if (written.has(s)) want = Buffer.from(Array.from({ length: SECTOR }, (_, i) => pat(s, i)));
          else want = Buffer.alloc(SECTOR, 0xc3);
          if (!got.equals(want)) throw new Error(`sector ${s} differs on disk`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
