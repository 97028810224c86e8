// Shared storage of fault tolerance (FT.md "Fencing", "Generation logs", "Console … exactly once"):
// the layout of STORE/vms/NAME/ (storePath is the only place a path in it is built), the console
// file written at sequence offsets (ConsoleFile), per-generation disk layers (GenerationDisk, in
// store-layer.ts) and export of a disk's current content. Imports node:fs, store-layer and
// src/replay; nothing below src/ft imports it.
//
// Layout (STORE = --store, default the dir: control path):
//   STORE/vms/NAME/                    one directory per FT VM (mode 0700)
//   STORE/vms/NAME/gen-<g>.log         generation g's log (g = 1, 2, …; a log of src/replay/format.ts)
//   STORE/vms/NAME/disk<n>.gen-<g>.layer  disk n's writes made by generation g (store-layer.ts)
//   STORE/vms/NAME/console             the console file (default; --console-file puts it elsewhere)

import { closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GenerationDisk, StoreError, fsyncDir, type LayerFile } from './store-layer.js';
import { checkName } from './control.js';
import { InvalidArgumentError, fsErrorText } from '../errors.js';

export { GenerationDisk, StoreError, type LayerFile } from './store-layer.js';

/** One thing in an FT VM's storage directory. */
export type StoreItem =
  | { kind: 'vm' }
  | { kind: 'log'; generation: number }
  | { kind: 'layer'; disk: number; generation: number }
  | { kind: 'console' };

const LOG_FILE = /^gen-([1-9][0-9]{0,15})\.log$/;
const LAYER_FILE = /^disk([0-9]{1,3})\.gen-([1-9][0-9]{0,15})\.layer$/;

function checkNumber(what: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new StoreError('STORE_NAME', `${what} ${String(v)} must be an integer >= ${min}`);
}

/** The path of `item` of VM `vm` in store `store` (the only function that builds these paths). */
export function storePath(store: string, vm: string, item: StoreItem): string {
  checkName('VM name', vm); // the control plane's rule: names are file names there too
  const dir = join(resolve(store), 'vms', vm);
  switch (item.kind) {
    case 'vm': return dir;
    case 'log': checkNumber('generation', item.generation, 1); return join(dir, `gen-${item.generation}.log`);
    case 'layer':
      checkNumber('generation', item.generation, 1); checkNumber('disk', item.disk, 0);
      return join(dir, `disk${item.disk}.gen-${item.generation}.layer`);
    case 'console': return join(dir, 'console');
  }
}

/** Creates STORE/vms/NAME (and the directories above it) with owner-only permissions; returns it. */
export function ensureVmDir(store: string, vm: string): string {
  const dir = storePath(store, vm, { kind: 'vm' });
  try { mkdirSync(dir, { recursive: true, mode: 0o700 }); } catch (e) { throw new StoreError('STORE_IO', `cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e }); }
  return dir;
}

function listDir(dir: string): string[] {
  try { return readdirSync(dir); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StoreError('STORE_IO', `cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
}

/**
 * The generation logs of `vm` that exist, ascending by generation, from `firstGeneration` on (the
 * generation this incarnation of the VM was created with, VmRecord.firstGeneration: a name reused
 * after `ended` continues the numbers, and the older files belong to the earlier incarnation).
 */
export function listGenerationLogs(store: string, vm: string, firstGeneration = 1): { generation: number; path: string }[] {
  const out: { generation: number; path: string }[] = [];
  for (const f of listDir(storePath(store, vm, { kind: 'vm' }))) {
    const m = LOG_FILE.exec(f);
    if (m && Number(m[1]) >= firstGeneration) { const generation = Number(m[1]); out.push({ generation, path: storePath(store, vm, { kind: 'log', generation }) }); }
  }
  return out.sort((a, b) => a.generation - b.generation);
}

/** The layer files of disk `disk` of `vm` that exist, ascending by generation, from `firstGeneration` on. */
export function listLayers(store: string, vm: string, disk: number, firstGeneration = 1): LayerFile[] {
  const out: LayerFile[] = [];
  for (const f of listDir(storePath(store, vm, { kind: 'vm' }))) {
    const m = LAYER_FILE.exec(f);
    if (m && Number(m[1]) === disk && Number(m[2]) >= firstGeneration) { const generation = Number(m[2]); out.push({ generation, path: storePath(store, vm, { kind: 'layer', disk, generation }) }); }
  }
  return out.sort((a, b) => a.generation - b.generation);
}

/** Which disk of which VM, over which base image. */
export interface StoreDisk {
  store: string;
  vm: string;
  /** Disk number n (virtio-blk order). */
  disk: number;
  /** The base image file. */
  base: string;
  /** The generation this incarnation of the VM was created with (VmRecord.firstGeneration; default 1):
   *  layers of earlier generations belong to an earlier VM of that name and are not read. */
  firstGeneration?: number;
}

/**
 * Disk n of generation g (FT.md "Fencing"): reads through the layers of generations < g (as they
 * are now) and the base image; a writable disk creates generation g's layer, which must not exist
 * yet, and writes only there. A read-only disk never gets a layer. Throws StoreError.
 */
export function openGenerationDisk(d: StoreDisk & { generation: number; readOnly?: boolean }): GenerationDisk {
  const layers = listLayers(d.store, d.vm, d.disk, d.firstGeneration);
  const ownLayer = d.readOnly ? undefined : storePath(d.store, d.vm, { kind: 'layer', disk: d.disk, generation: d.generation });
  if (ownLayer) ensureVmDir(d.store, d.vm);
  return GenerationDisk.open({ base: d.base, layers, disk: d.disk, generation: d.generation, ownLayer });
}

/**
 * The content of disk n as generation `generation` left it (default: the newest generation with a
 * layer): base image plus layers, read-only. Throws StoreError.
 */
export function openDiskView(d: StoreDisk & { generation?: number; lastGeneration?: number }): GenerationDisk {
  const layers = listLayers(d.store, d.vm, d.disk, d.firstGeneration);
  const first = d.firstGeneration ?? 1;
  if (d.generation !== undefined) {
    // a generation the VM had: from its first to the newest with a log, a layer, or (lastGeneration) its record's
    const last = Math.max(d.lastGeneration ?? 0, ...layers.map((l) => l.generation), ...listGenerationLogs(d.store, d.vm, first).map((l) => l.generation));
    if (d.generation < first || d.generation > last)
      throw new StoreError('STORE_NO_GENERATION', last < first
        ? `VM ${d.vm} has no generation ${d.generation}: ${d.store} holds no generation of it`
        : `VM ${d.vm} has no generation ${d.generation}: it has generations ${first} to ${last}`);
  }
  const generation = d.generation ?? Math.max(first, ...layers.map((l) => l.generation));
  return GenerationDisk.open({ base: d.base, layers, disk: d.disk, generation, view: true });
}

/**
 * Writes the current content of disk n (base image + every layer, as openDiskView sees it) into a
 * plain image file `out` (created or replaced; never the base image itself), fsyncs it and returns
 * its size in bytes. What `x86ft ft export-disk` does. `generation`: the content as that generation left it;
 * one the VM never had (before its first, after the newest log, layer or `lastGeneration`) is a StoreError
 * STORE_NO_GENERATION.
 */
export function exportDisk(d: StoreDisk & { generation?: number; lastGeneration?: number; out: string }): number {
  if (resolve(d.out) === resolve(d.base)) throw new StoreError('STORE_NAME', `export-disk: the output ${d.out} is the base image`);
  const view = openDiskView(d);
  let fd: number | undefined;
  try {
    try { fd = openSync(d.out, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600); } catch (e) {
      throw new StoreError('STORE_IO', `cannot create ${d.out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
    }
    const CHUNK = 1 << 20;
    for (let at = 0; at < view.size; at += CHUNK) {
      const b = view.read(at, Math.min(CHUNK, view.size - at));
      let done = 0;
      while (done < b.length) done += writeSync(fd, b, done, b.length - done, at + done);
    }
    fsyncSync(fd);
    return view.size;
  } finally {
    if (fd !== undefined) closeSync(fd);
    view.close();
  }
}

/**
 * The console file (FT.md "Console, input and network, exactly once"): byte n of the console
 * stream (n from 0, i.e. the console output with seq n+1) is written at offset n, so a re-issued
 * byte lands on itself and can never be doubled. create() truncates (VM creation); open() never
 * does (failover, a new primary). A write is complete when write() returns.
 */
export class ConsoleFile {
  private fd: number;

  private constructor(readonly path: string, fd: number) { this.fd = fd; }

  /** Creates or truncates the console file (only when the VM is created). */
  static create(path: string): ConsoleFile {
    return ConsoleFile.openFlags(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, true);
  }

  /** Opens the console file without truncating it (created empty if missing). */
  static open(path: string): ConsoleFile {
    return ConsoleFile.openFlags(path, constants.O_RDWR | constants.O_CREAT, false);
  }

  private static openFlags(path: string, flags: number, created: boolean): ConsoleFile {
    let fd: number;
    try { fd = openSync(path, flags, 0o600); } catch (e) {
      throw new StoreError('STORE_IO', `console file ${path}: cannot open (${fsErrorText(e)})`, { cause: e });
    }
    if (!fstatSync(fd).isFile()) { closeSync(fd); throw new StoreError('STORE_IO', `console file ${path}: not a regular file`); }
    if (created) { fsyncSync(fd); fsyncDir(resolve(path, '..')); }
    return new ConsoleFile(path, fd);
  }

  /** Writes `data` as console bytes offset, offset+1, …; returns when the write is complete. */
  write(offset: number, data: Uint8Array): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`console offset ${offset} must be a non-negative integer`);
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  private readonly one = new Uint8Array(1);
  /** Within batch(true) … batch(false): consecutive bytes waiting for one write (pendLen of them from offset pendAt). */
  private batching = false;
  private pend = new Uint8Array(4096);
  private pendAt = 0;
  private pendLen = 0;

  /** Writes console byte `offset` (the output with seq offset+1): at once, or within a batch with the bytes around it. */
  writeByte(offset: number, byte: number): void {
    if (!this.batching) {
      this.one[0] = byte;
      this.write(offset, this.one);
      return;
    }
    if (this.pendLen && (offset !== this.pendAt + this.pendLen || this.pendLen === this.pend.length)) this.writePending();
    if (!this.pendLen) this.pendAt = offset;
    this.pend[this.pendLen++] = byte;
  }

  /**
   * OutputSinks.batch: between batch(true) and batch(false) writeByte collects consecutive bytes, and
   * batch(false) writes them (one pwrite for a released line instead of one per byte); it returns when
   * they are written, before the seam counts them completed. Throws as write() does.
   */
  batch(on: boolean): void {
    this.batching = on;
    if (!on) this.writePending();
  }

  private writePending(): void {
    const n = this.pendLen;
    this.pendLen = 0;
    if (n) this.write(this.pendAt, this.pend.subarray(0, n));
  }

  /** Up to `len` console bytes from `offset` (fewer at the end of the file). */
  read(offset: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, b, done, len - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return b.subarray(0, done);
  }

  /** Bytes in the file (the console stream up to there, when written in order). */
  size(): number { return fstatSync(this.fd).size; }

  /** fsync of the file. */
  flush(): void { fsyncSync(this.fd); }

  close(): void {
    if (this.fd >= 0) { closeSync(this.fd); this.fd = -1; }
  }
}
