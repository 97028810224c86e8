import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOG_EXIT, logCommand } from '../../src/cli/log.js';
import { openFileSink } from '../../src/replay/channel-file.js';
import { encodeLog } from '../../src/replay/codec.js';
import { LogWriter } from '../../src/replay/writer.js';
import { LOG_FORMAT_VERSION } from '../../src/replay/format.js';
import { sampleEntries, sampleHeader } from '../../src/replay/codec-bench.js';
import { everyKind, frameBoundaries } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'x86ft-logcli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await logCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe('x86ft log inspect', () => {
  it('describes a finished log written by LogWriter', async () => {
    const path = join(dir, 'ok.x86log');
    const w = new LogWriter(await openFileSink(path), sampleHeader({ startIcount: 1000 }));
    for (const e of everyKind()) w.append({ ...e, icount: e.icount + 1000 } as typeof e);
    await w.close();
    const r = await run('inspect', path, '--head', '4', '--tail', '2');
    expect(r.code).toBe(LOG_EXIT.FINISHED);
    expect(r.err).toBe('');
    expect(r.out).toContain(`format:       x86ft log, version ${LOG_FORMAT_VERSION}`);
    expect(r.out).toContain(`image:        sha256 ${'ab'.repeat(32)}`);
    expect(r.out).toContain('memory:       67108864 bytes (64 MiB)');
    expect(r.out).toContain('starts:       from boot at icount 1000');
    expect(r.out).toContain(`entries:      ${everyKind().length} in 1 batch frame(s)`);
    expect(r.out).toContain(`icount span:  1000 .. ${2 ** 53 - 2000 + 1000}`);
    expect(r.out).toMatch(/port-read\s+1\s+\d+/);
    expect(r.out).toMatch(/disk-read\s+1\s+5\d\d\s/);
    expect(r.out).toContain('first 4:\n  @1000 start epochMs=1700000000000\n  @1000 interrupt irq=4 level=1\n  @1005 port-read port=0xffff size=4 value=0xffffffff\n');
    expect(r.out).toContain('last 2:\n');
    expect(r.out).toContain('end reason="exit — ok" status=3');
    expect(r.out).toContain('mmio-read addr=0x10000000008 size=8 value=0x9abcdef012345678');
    expect(r.out).toMatch(new RegExp(`status:       finished \\(end frame: ${everyKind().length} entries`));
  });

  it('reports a cut log with the offset of its valid prefix', async () => {
    const bytes = encodeLog(sampleHeader(), sampleEntries(500), 100);
    const b = frameBoundaries(bytes);
    const cutAt = b[4]! + 10; // inside the 3rd batch frame (b[2] is the 1st)
    const path = join(dir, 'cut.x86log');
    writeFileSync(path, bytes.subarray(0, cutAt));
    const r = await run('inspect', path);
    expect(r.code).toBe(LOG_EXIT.CUT);
    expect(r.out).toContain(`status:       cut at offset ${b[4]} (unfinished: no end frame; 200 valid entries before it)`);
    expect(r.out).toContain('entries:      200 in 2 batch frame(s)');
    // cut exactly at a frame boundary: still unfinished
    writeFileSync(path, bytes.subarray(0, b[3]));
    const r2 = await run('inspect', path);
    expect(r2.code).toBe(LOG_EXIT.CUT);
    expect(r2.out).toContain(`cut at offset ${b[3]}`);
  });

  it('reports a corrupted log with the offset of the bad frame', async () => {
    const bytes = encodeLog(sampleHeader(), sampleEntries(500), 100);
    const b = frameBoundaries(bytes);
    const bad = bytes.slice();
    bad[b[3]! + 50]! ^= 0x10;
    const path = join(dir, 'bad.x86log');
    writeFileSync(path, bad);
    const r = await run('inspect', path);
    expect(r.code).toBe(LOG_EXIT.CORRUPT);
    expect(r.out).toContain(`status:       corrupted at offset ${b[3]}: CRC mismatch (100 valid entries before it)`);
  });

  it('distinguishes not-a-log, missing files and usage errors', async () => {
    const path = join(dir, 'notalog');
    writeFileSync(path, 'hello world, not a log');
    const r = await run('inspect', path);
    expect(r.code).toBe(LOG_EXIT.CORRUPT);
    expect(r.out).toContain('corrupted at offset 0: not an x86ft log (bad magic)');
    const m = await run('inspect', join(dir, 'missing'));
    expect(m.code).toBe(LOG_EXIT.IO_ERROR);
    expect(m.err).toContain('cannot read');
    expect((await run()).code).toBe(LOG_EXIT.USAGE);
    expect((await run('inspect')).code).toBe(LOG_EXIT.USAGE);
    expect((await run('frobnicate')).code).toBe(LOG_EXIT.USAGE);
    expect((await run('inspect', path, '--head', 'x')).code).toBe(LOG_EXIT.USAGE);
    expect((await run('--help')).code).toBe(0);
  });
});
