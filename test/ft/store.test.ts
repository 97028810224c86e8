// Shared storage of fault tolerance (src/ft/store.ts, store-layer.ts) on real files: the layout,
// per-generation disk layers (reads through layers, precedence, torn records, fencing of a late
// write by a stalled old primary in a real stopped process, fsync on flush seen by strace, equality
// with a plain image written the same way), export-disk and the console file.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDisk } from '../../src/devices/backends/disk.js';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  ConsoleFile, StoreError, exportDisk, listGenerationLogs, listLayers, openDiskView, openGenerationDisk, storePath,
} from '../../src/ft/store.js';
import { ROOT } from '../devices-guests/helpers.js';

const SECTOR = 512;
let dir: string, store: string, base: string;

/** A deterministic PRNG (xorshift32) for test data. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}
const fill = (len: number, v: number): Uint8Array => new Uint8Array(len).fill(v);
const bytesOf = (r: () => number, len: number): Uint8Array => Uint8Array.from({ length: len }, () => r() & 0xff);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'x86ft-store-'));
  store = join(dir, 'store');
  base = join(dir, 'base.img');
  const b = Buffer.alloc(64 * SECTOR);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
  writeFileSync(base, b);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const disk = (generation: number, extra: { readOnly?: boolean; disk?: number } = {}) =>
  openGenerationDisk({ store, vm: 'vm1', disk: extra.disk ?? 0, base, generation, readOnly: extra.readOnly });

describe('store layout', () => {
  it('names every file of an FT VM in one place', () => {
    const d = join(store, 'vms', 'web-1');
    expect(storePath(store, 'web-1', { kind: 'vm' })).toBe(d);
    expect(storePath(store, 'web-1', { kind: 'log', generation: 3 })).toBe(join(d, 'gen-3.log'));
    expect(storePath(store, 'web-1', { kind: 'layer', disk: 1, generation: 2 })).toBe(join(d, 'disk1.gen-2.layer'));
    expect(storePath(store, 'web-1', { kind: 'console' })).toBe(join(d, 'console'));
  });

  it('refuses names that are not a plain file name and generations below 1', () => {
    for (const bad of ['', '..', '.hidden', 'a/b', 'x'.repeat(65), 'a b', 'a\0b']) {
      expect(() => storePath(store, bad, { kind: 'vm' }), bad).toThrow(/VM name/);
    }
    expect(() => storePath(store, 'ok', { kind: 'log', generation: 0 })).toThrow(/generation 0/);
    expect(() => storePath(store, 'ok', { kind: 'layer', disk: -1, generation: 1 })).toThrow(/disk -1/);
  });

  it('lists generation logs and layers by number, not by name order', () => {
    disk(1).close();
    for (const g of [10, 2, 1]) writeFileSync(storePath(store, 'vm1', { kind: 'log', generation: g }), '');
    writeFileSync(join(store, 'vms', 'vm1', 'gen-x.log'), '');
    expect(listGenerationLogs(store, 'vm1').map((l) => l.generation)).toEqual([1, 2, 10]);
    expect(listLayers(store, 'vm1', 0).map((l) => l.generation)).toEqual([1]);
    expect(listLayers(store, 'vm1', 1)).toEqual([]);
    expect(listGenerationLogs(store, 'nothing')).toEqual([]);
    expect(statSync(storePath(store, 'vm1', { kind: 'vm' })).mode & 0o777).toBe(0o700);
  });
});

describe('GenerationDisk', () => {
  it('reads through several layers; a newer write wins, within a layer and across generations', () => {
    const plain = Buffer.from(readFileSync(base));
    const put = (d: ReturnType<typeof disk>, off: number, data: Uint8Array) => { d.write(off, data); plain.set(data, off); };
    const g1 = disk(1);
    expect(g1.size).toBe(64 * SECTOR);
    put(g1, 0, fill(SECTOR, 0x11));
    put(g1, 4 * SECTOR, fill(4 * SECTOR, 0x12));
    put(g1, 5 * SECTOR, fill(SECTOR, 0x13)); // overwrites the middle of the previous record
    expect(Buffer.from(g1.read(0, 10 * SECTOR))).toEqual(plain.subarray(0, 10 * SECTOR));
    g1.close();
    const g2 = disk(2);
    put(g2, 3 * SECTOR + 100, fill(2 * SECTOR, 0x21)); // straddles base and a gen-1 record
    put(g2, 0, fill(10, 0x22));
    g2.close();
    const g3 = disk(3);
    put(g3, 6 * SECTOR, fill(SECTOR, 0x31));
    expect(Buffer.from(g3.read(0, g3.size))).toEqual(plain);
    // a few unaligned windows
    for (const [o, l] of [[1, 7], [3 * SECTOR + 90, 30], [5 * SECTOR - 1, SECTOR + 2], [63 * SECTOR, SECTOR]]) {
      expect(Buffer.from(g3.read(o!, l!)), `${o}+${l}`).toEqual(plain.subarray(o!, o! + l!));
    }
    expect(Array.from(g3.lowerEnds.keys()).sort()).toEqual([1, 2]);
    g3.close();
    expect(readFileSync(base)).not.toEqual(plain); // the base image itself was never written
  });

  it('equals a plain image written the same way (seeded random writes over four generations)', () => {
    const plainPath = join(dir, 'plain.img');
    copyFileSync(base, plainPath);
    const plain = FileDisk.open(plainPath);
    const r = rng(4242);
    for (let g = 1; g <= 4; g++) {
      const d = disk(g);
      for (let k = 0; k < 60; k++) {
        const sector = r() % 64, n = 1 + (r() % Math.min(8, 64 - sector));
        const data = bytesOf(r, n * SECTOR);
        d.write(sector * SECTOR, data);
        plain.write(sector * SECTOR, data);
        if (k % 7 === 0) {
          const o = r() % (64 * SECTOR - 3000), l = 1 + (r() % 3000);
          expect(Buffer.from(d.read(o, l))).toEqual(Buffer.from(plain.read(o, l)));
        }
      }
      d.flush();
      d.close();
    }
    plain.close();
    const out = join(dir, 'export.img');
    expect(exportDisk({ store, vm: 'vm1', disk: 0, base, out })).toBe(64 * SECTOR);
    expect(readFileSync(out)).toEqual(readFileSync(plainPath));
    // a view of an earlier generation is that generation's content, not the latest
    const v2 = openDiskView({ store, vm: 'vm1', disk: 0, base, generation: 2 });
    const v4 = openDiskView({ store, vm: 'vm1', disk: 0, base });
    expect(v4.generation).toBe(4);
    expect(Buffer.from(v2.read(0, v2.size))).not.toEqual(readFileSync(plainPath));
    expect(() => v4.write(0, fill(1, 1))).toThrow(StoreError);
    v2.close(); v4.close();
  });

  it('ignores a torn last record (cut inside it, or garbage after the last whole record)', () => {
    const g1 = disk(1);
    g1.write(0, fill(SECTOR, 0xa1));
    g1.write(SECTOR, fill(SECTOR, 0xa2));
    g1.close();
    const layer = storePath(store, 'vm1', { kind: 'layer', disk: 0, generation: 1 });
    truncateSync(layer, statSync(layer).size - 100); // the second record is cut
    const g2 = disk(2);
    expect(g2.read(0, SECTOR)).toEqual(fill(SECTOR, 0xa1));
    expect(Buffer.from(g2.read(SECTOR, SECTOR))).toEqual(readFileSync(base).subarray(SECTOR, 2 * SECTOR));
    g2.write(2 * SECTOR, fill(SECTOR, 0xb1));
    g2.close();
    // garbage appended to generation 2's layer: a record header whose checksum fails
    const l2 = storePath(store, 'vm1', { kind: 'layer', disk: 0, generation: 2 });
    appendFileSync(l2, Buffer.concat([Buffer.from([0, 6, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 2, 3, 4]), Buffer.alloc(SECTOR, 0xee)]));
    const g3 = disk(3);
    expect(g3.read(2 * SECTOR, SECTOR)).toEqual(fill(SECTOR, 0xb1));
    expect(g3.read(3 * SECTOR, SECTOR)).not.toEqual(fill(SECTOR, 0xee));
    g3.close();
  });

  it('fences a stalled old primary: its late write (real process, SIGSTOP/SIGCONT) is read by no later generation', async () => {
    const storeJs = join(ROOT, 'dist/src/ft/store.js');
    if (!existsSync(storeJs)) throw new Error('build first (npm run build)');
    const script = `
      import { openGenerationDisk } from ${JSON.stringify(storeJs)};
      import { createInterface } from 'node:readline';
      const d = openGenerationDisk({ store: ${JSON.stringify(store)}, vm: 'vm1', disk: 0, base: ${JSON.stringify(base)}, generation: 1 });
      d.write(0, new Uint8Array(512).fill(0x01));
      console.log('ready');
      createInterface({ input: process.stdin }).once('line', () => {
        d.write(0, new Uint8Array(512).fill(0x66));      // the late write: released before the stall
        d.write(8 * 512, new Uint8Array(512).fill(0x67));
        d.flush();
        console.log('done');
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const seen = (s: string) => new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`child did not print ${s}: ${out}`)), 20_000);
      const check = () => { if (out.includes(s)) { clearTimeout(t); res(); } };
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); check(); });
      child.on('exit', () => check());
      check();
    });
    try {
      await seen('ready');
      child.kill('SIGSTOP');
      const g2 = disk(2); // the new primary opens while the old one is stopped
      expect(g2.read(0, SECTOR)).toEqual(fill(SECTOR, 0x01));
      g2.write(16 * SECTOR, fill(SECTOR, 0x22));
      child.kill('SIGCONT');
      child.stdin.write('go\n');
      await seen('done');
      // the late writes are in generation 1's layer, where nobody reads
      expect(g2.read(0, SECTOR)).toEqual(fill(SECTOR, 0x01));
      expect(Buffer.from(g2.read(8 * SECTOR, SECTOR))).toEqual(readFileSync(base).subarray(8 * SECTOR, 9 * SECTOR));
      g2.close();
      const g3 = disk(3); // opened after the late write: it reads generation 1 only as far as generation 2 did
      expect(g3.read(0, SECTOR)).toEqual(fill(SECTOR, 0x01));
      expect(Buffer.from(g3.read(8 * SECTOR, SECTOR))).toEqual(readFileSync(base).subarray(8 * SECTOR, 9 * SECTOR));
      expect(g3.read(16 * SECTOR, SECTOR)).toEqual(fill(SECTOR, 0x22));
      g3.close();
      const out2 = join(dir, 'export.img');
      exportDisk({ store, vm: 'vm1', disk: 0, base, out: out2 });
      expect(readFileSync(out2).subarray(0, SECTOR)).toEqual(Buffer.alloc(SECTOR, 0x01));
      // and generation 1 can never open again once generation 2 has a layer
      expect(() => disk(1)).toThrow(expect.objectContaining({ code: 'STORE_LAYER_EXISTS' }));
    } finally {
      child.kill('SIGKILL');
    }
    expect(() => openGenerationDisk({ store, vm: 'vm1', disk: 0, base, generation: 1 })).toThrow(StoreError);
  });

  it('refuses to open an older generation once a newer one has a layer, and a layer twice', () => {
    disk(1).close();
    disk(3).close();
    expect(() => disk(2)).toThrow(expect.objectContaining({ code: 'STORE_GENERATION_MOVED' }));
    expect(() => disk(3)).toThrow(expect.objectContaining({ code: 'STORE_LAYER_EXISTS' }));
  });

  it('a VM created again under the same name (firstGeneration) does not read the earlier incarnation\'s layers', () => {
    const g1 = disk(1);
    g1.write(0, fill(SECTOR, 0x99));
    g1.close();
    const again = openGenerationDisk({ store, vm: 'vm1', disk: 0, base, generation: 2, firstGeneration: 2 });
    expect(Buffer.from(again.read(0, SECTOR))).toEqual(readFileSync(base).subarray(0, SECTOR));
    again.write(SECTOR, fill(SECTOR, 0x98));
    again.close();
    const view = openDiskView({ store, vm: 'vm1', disk: 0, base, firstGeneration: 2 });
    expect(view.generation).toBe(2);
    expect(Buffer.from(view.read(0, 2 * SECTOR))).toEqual(Buffer.concat([readFileSync(base).subarray(0, SECTOR), Buffer.alloc(SECTOR, 0x98)]));
    view.close();
    for (const g of [1, 2, 3]) writeFileSync(storePath(store, 'vm1', { kind: 'log', generation: g }), '');
    expect(listGenerationLogs(store, 'vm1', 2).map((l) => l.generation)).toEqual([2, 3]);
  });

  it('a read-only disk never gets a layer and refuses writes', () => {
    const d = disk(1, { readOnly: true });
    expect(d.readOnly).toBe(true);
    expect(() => d.write(0, fill(SECTOR, 1))).toThrow(expect.objectContaining({ code: 'STORE_READ_ONLY' }));
    d.flush();
    d.close();
    expect(listLayers(store, 'vm1', 0)).toEqual([]);
  });

  it('refuses a changed base image, a corrupt layer header and a lower layer that lost data', () => {
    const g1 = disk(1);
    g1.write(0, fill(SECTOR, 5));
    g1.write(SECTOR, fill(SECTOR, 6));
    g1.close();
    disk(2).close();
    const l1 = storePath(store, 'vm1', { kind: 'layer', disk: 0, generation: 1 });
    const saved = readFileSync(l1);
    truncateSync(l1, saved.length - 10); // generation 2 had read all of it
    expect(() => disk(3)).toThrow(expect.objectContaining({ code: 'STORE_LAYER_CORRUPT' }));
    writeFileSync(l1, saved);
    const bad = Buffer.from(saved); bad[20] ^= 0xff; // header checksum
    writeFileSync(l1, bad);
    expect(() => disk(3)).toThrow(/header checksum/);
    writeFileSync(l1, saved);
    appendFileSync(base, Buffer.alloc(SECTOR));
    expect(() => disk(3)).toThrow(expect.objectContaining({ code: 'STORE_BASE' }));
    expect(() => openGenerationDisk({ store, vm: 'vm1', disk: 0, base: join(dir, 'missing.img'), generation: 3 })).toThrow(/cannot open/);
    expect(() => g1.write(0, fill(1, 1))).toThrow(StoreError); // closed
  });

  it('handles a base image whose size is not whole sectors (the last sector is cut; zeros past the end)', () => {
    const odd = Buffer.alloc(10 * SECTOR + 100, 0x5a);
    writeFileSync(base, odd);
    const d1 = disk(1);
    expect(d1.size).toBe(10 * SECTOR + 100);
    d1.write(d1.size - 50, fill(50, 0x77)); // widened to the cut last sector
    d1.write(9 * SECTOR + 10, fill(20, 0x78));
    d1.close();
    const want = Buffer.concat([odd, Buffer.alloc(200)]);
    want.fill(0x77, odd.length - 50, odd.length);
    want.fill(0x78, 9 * SECTOR + 10, 9 * SECTOR + 30);
    const d2 = disk(2);
    expect(Buffer.from(d2.read(9 * SECTOR, SECTOR + 300))).toEqual(want.subarray(9 * SECTOR, 10 * SECTOR + 300));
    d2.close();
  });

  it('rejects writes outside the disk (the guest sees an I/O error, nothing is written)', () => {
    const d = disk(1);
    expect(() => d.write(64 * SECTOR - 10, fill(SECTOR, 1))).toThrow(InvalidArgumentError);
    expect(d.stats.records).toBe(0);
    d.close();
  });

  it('flush() fsyncs the layer after the writes (seen by strace in a real process)', () => {
    try { execFileSync('strace', ['-V'], { stdio: 'ignore' }); } catch { throw new Error('this test needs strace (.ci/run installs it)'); }
    const storeJs = join(ROOT, 'dist/src/ft/store.js');
    const script = `
      import { openGenerationDisk } from ${JSON.stringify(storeJs)};
      import { writeSync } from 'node:fs';
      const d = openGenerationDisk({ store: ${JSON.stringify(store)}, vm: 'vm1', disk: 0, base: ${JSON.stringify(base)}, generation: 1 });
      writeSync(1, 'MARK-OPEN\\n');
      d.write(512, new Uint8Array(512).fill(7));
      writeSync(1, 'MARK-WRITTEN\\n');
      d.flush();
      writeSync(1, 'MARK-FLUSHED\\n');
      d.close();`;
    const trace = join(dir, 'trace.txt');
    execFileSync('strace', ['-f', '-y', '-o', trace, '-e', 'trace=fsync,fdatasync,pwrite64,write', process.execPath, '--input-type=module', '-e', script], { stdio: 'ignore' });
    const lines = readFileSync(trace, 'utf8').split('\n');
    const at = (s: string) => lines.findIndex((l) => l.includes(s));
    const opened = at('MARK-OPEN'), written = at('MARK-WRITTEN'), flushed = at('MARK-FLUSHED');
    expect(opened).toBeGreaterThan(0);
    const isLayerSync = (l: string) => /f(data)?sync\(\d+<[^>]*disk0\.gen-1\.layer>\)\s+= 0/.test(l);
    const isLayerWrite = (l: string) => /pwrite64\(\d+<[^>]*disk0\.gen-1\.layer>/.test(l);
    expect(lines.slice(opened, written).some(isLayerWrite)).toBe(true); // the record went to the layer …
    expect(lines.slice(opened, written).some(isLayerSync)).toBe(false); // … without an fsync yet
    expect(lines.slice(written, flushed).some(isLayerSync)).toBe(true); // flush() is the fsync
    expect(lines.slice(0, opened).some(isLayerSync)).toBe(true); // the header was made durable at creation
  });
});

describe('ConsoleFile', () => {
  it('writes byte n at offset n, so a re-issue cannot double a byte; truncated only at creation', () => {
    const path = storePath(store, 'vm1', { kind: 'console' });
    mkdirP(join(store, 'vms', 'vm1'));
    writeFileSync(path, 'old content from a previous VM of that name');
    const c = ConsoleFile.create(path);
    expect(c.size()).toBe(0);
    const text = new TextEncoder().encode('line 1\nline 2\n');
    c.write(0, text.subarray(0, 9)); // the old primary released 9 bytes
    c.close();
    const again = ConsoleFile.open(path); // failover: no truncation
    expect(again.size()).toBe(9);
    again.write(5, text.subarray(5)); // the new primary re-issues from its release mark (5 < 9)
    for (let i = 0; i < 3; i++) again.writeByte(text.length + i, 0x41 + i);
    expect(Buffer.from(again.read(0, 100)).toString()).toBe('line 1\nline 2\nABC');
    expect(again.read(text.length + 2, 10)).toEqual(Uint8Array.of(0x43));
    again.flush();
    again.close();
    expect(readFileSync(path, 'utf8')).toBe('line 1\nline 2\nABC');
    expect(() => ConsoleFile.open(join(dir, 'no-dir', 'console'))).toThrow(StoreError);
    expect(readdirSync(join(store, 'vms', 'vm1'))).toEqual(['console']);
  });

  it('batch(true) … batch(false) gathers consecutive bytes (a released line in one write), all written when batch(false) returns', () => {
    const path = storePath(store, 'vm2', { kind: 'console' });
    mkdirP(join(store, 'vms', 'vm2'));
    const c = ConsoleFile.create(path);
    c.batch(true);
    for (let i = 0; i < 5000; i++) c.writeByte(i, 0x61 + (i % 26)); // more than one buffer's worth
    expect(c.size()).toBe(4096); // gathered: only the first full buffer is in the file yet
    c.writeByte(6000, 0x5a); // not consecutive: the bytes before it are written first, with a hole
    expect(c.size()).toBe(5000);
    c.batch(false);
    const all = c.read(0, 7000);
    expect(all.length).toBe(6001);
    expect(all[4999]).toBe(0x61 + (4999 % 26));
    expect(all[5500]).toBe(0); // the hole
    expect(all[6000]).toBe(0x5a);
    c.writeByte(6001, 0x21); // outside a batch: at once
    expect(c.size()).toBe(6002);
    c.close();
  });
});

function mkdirP(p: string): void { execFileSync('mkdir', ['-p', p]); }
