// Per-generation disk layers (fencing, FT.md "Fencing"): generation g of an FT VM writes disk n
// only into a file of its own, an append-only log of checksummed write records over the base image
// and the layers of earlier generations. Owns the layer file format and GenerationDisk (a
// DiskBackend). Imports node:fs and src/replay/crc32 only; file names come from store.ts.
//
// Layer file, version 1 (integers little-endian; u64 = lo:u32, hi:u32):
//   header := "X86FTLYR" version:u16 reserved:u16 headerLen:u32 generation:u32 disk:u32 diskSize:u64
//             count:u32 (lowerGeneration:u32 lowerEnd:u64)[count] crc:u32
//   record := offset:u64 length:u32 crc:u32 data[length]
//   crc    := CRC-32/IEEE of the header bytes before it / of a record's offset, length and data.
//   The header's (lowerGeneration, lowerEnd) pairs freeze the view below: when generation g opened,
//   it read layer h (the highest below g) up to byte lowerEnd, and every layer below h up to the end
//   h itself had recorded. A later generation reads those layers only up to those ends, so a write
//   that a stalled old primary appends after a newer generation opened is never read by anyone.
// Reading a layer: records are applied in file order (a later record wins), generations in
// ascending order (a newer generation wins), and the base image fills everything no layer wrote.
// A record that is incomplete or fails its checksum ends the layer's valid part (a torn last
// record after a crash); a frozen end beyond the valid part is a StoreError (a layer lost data).

import { closeSync, constants, fstatSync, fsync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DiskBackend } from '../machine/gate.js';
import * as zlib from 'node:zlib';
import { crc32Update } from '../replay/crc32.js';
import { X86ftError, InvalidArgumentError, fsErrorText } from '../errors.js';

export const LAYER_MAGIC = 'X86FTLYR';
export const LAYER_VERSION = 1;
const FIXED_HEADER = 8 + 2 + 2 + 4 + 4 + 4 + 8 + 4; // up to and including count
const LOWER_BYTES = 12;
const RECORD_HEADER = 16;
/** Largest data length of one record (a virtio-blk request is far smaller). */
export const MAX_RECORD_DATA = 64 << 20;
const TWO32 = 0x1_0000_0000;

/** CRC-32/IEEE continued from `crc` over `b[start, end)`: zlib's native one when Node has it (20.15+). */
const nativeCrc = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
function crcOf(crc: number, b: Uint8Array, start = 0, end = b.length): number {
  return nativeCrc ? nativeCrc(b.subarray(start, end), crc) >>> 0 : crc32Update(crc, b, start, end);
}

/** Why the store refused something. `code` says what kind of problem it is. */
export class StoreError extends X86ftError {
  constructor(
    override readonly code:
      | 'STORE_NAME' // a VM name, disk number or generation that cannot name a file
      | 'STORE_BASE' // the base image is missing, unreadable, or not the size the layers were made for
      | 'STORE_LAYER_EXISTS' // generation g's layer exists already: a generation writes its layer once
      | 'STORE_GENERATION_MOVED' // a newer generation already has a layer (this one is fenced off)
      | 'STORE_LAYER_CORRUPT' // a layer's header is bad, or it lost bytes a newer generation saw
      | 'STORE_READ_ONLY' // a write to a read-only disk or a view
      | 'STORE_NO_GENERATION' // a generation this VM (this incarnation of its name) never had
      | 'STORE_IO', // any other host I/O error
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'StoreError';
  }
}

function ioError(what: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  return new StoreError('STORE_IO', `${what}: ${code ?? (e as Error).message}`, { cause: e });
}

const put64 = (dv: DataView, at: number, v: number): void => {
  dv.setUint32(at, v % TWO32, true);
  dv.setUint32(at + 4, Math.floor(v / TWO32), true);
};
const get64 = (dv: DataView, at: number): number => dv.getUint32(at, true) + dv.getUint32(at + 4, true) * TWO32;

/** Reads exactly `len` bytes at `pos` into `buf[at..]`; returns how many were there (short at EOF). */
function preadFull(fd: number, buf: Uint8Array, at: number, len: number, pos: number): number {
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, at + done, len - done, pos + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function pwriteFull(fd: number, data: Uint8Array, pos: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, pos + done);
}

/** fsync of a directory, so a file just created there survives a host crash. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** What a layer header says. */
export interface LayerHeader {
  generation: number;
  disk: number;
  /** Size of the base image the layer was made over (bytes). */
  diskSize: number;
  /** The frozen view below: generation -> end offset in that layer's file (see the file comment). */
  lower: Map<number, number>;
  /** Header length in bytes (the first record starts here). */
  length: number;
}

export function encodeLayerHeader(h: Omit<LayerHeader, 'length'>): Uint8Array {
  const gens = [...h.lower.keys()].sort((a, b) => b - a);
  const len = FIXED_HEADER + gens.length * LOWER_BYTES + 4;
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  b.set(new TextEncoder().encode(LAYER_MAGIC), 0);
  dv.setUint16(8, LAYER_VERSION, true);
  dv.setUint16(10, 0, true);
  dv.setUint32(12, len, true);
  dv.setUint32(16, h.generation, true);
  dv.setUint32(20, h.disk, true);
  put64(dv, 24, h.diskSize);
  dv.setUint32(32, gens.length, true);
  gens.forEach((g, i) => {
    dv.setUint32(FIXED_HEADER + i * LOWER_BYTES, g, true);
    put64(dv, FIXED_HEADER + i * LOWER_BYTES + 4, h.lower.get(g)!);
  });
  dv.setUint32(len - 4, crcOf(0, b, 0, len - 4), true);
  return b;
}

function readLayerHeader(fd: number, path: string): LayerHeader {
  const fixed = new Uint8Array(FIXED_HEADER);
  const bad = (why: string) => new StoreError('STORE_LAYER_CORRUPT', `disk layer ${path}: ${why}`);
  if (preadFull(fd, fixed, 0, FIXED_HEADER, 0) < FIXED_HEADER) throw bad('shorter than its header');
  if (new TextDecoder().decode(fixed.subarray(0, 8)) !== LAYER_MAGIC) throw bad('not a disk layer (bad magic)');
  const dv0 = new DataView(fixed.buffer);
  const version = dv0.getUint16(8, true);
  if (version !== LAYER_VERSION) throw bad(`layer format version ${version} is not supported (supported: ${LAYER_VERSION})`);
  const len = dv0.getUint32(12, true);
  const count = dv0.getUint32(32, true);
  if (len !== FIXED_HEADER + count * LOWER_BYTES + 4 || len > 1 << 20) throw bad(`header length ${len} does not fit ${count} lower layers`);
  const b = new Uint8Array(len);
  if (preadFull(fd, b, 0, len, 0) < len) throw bad('shorter than its header');
  const dv = new DataView(b.buffer);
  if (dv.getUint32(len - 4, true) !== crcOf(0, b, 0, len - 4)) throw bad('header checksum mismatch');
  const lower = new Map<number, number>();
  for (let i = 0; i < count; i++) lower.set(dv.getUint32(FIXED_HEADER + i * LOWER_BYTES, true), get64(dv, FIXED_HEADER + i * LOWER_BYTES + 4));
  return { generation: dv.getUint32(16, true), disk: dv.getUint32(20, true), diskSize: get64(dv, 24), lower, length: len };
}

/** One write record found in a layer: disk bytes [offset, offset+length) are at file position `pos`. */
interface FoundRecord { offset: number; length: number; pos: number }

/**
 * Walks a layer's records from `start` up to `limit` (file offset), reading the file in large
 * chunks. Returns the records whose bytes are whole and whose checksum holds, and `end`, the file
 * offset after the last of them.
 */
function scanRecords(fd: number, start: number, limit: number, diskSize: number): { records: FoundRecord[]; end: number } {
  const records: FoundRecord[] = [];
  let buf = new Uint8Array(1 << 20);
  let bufAt = start, bufLen = 0; // buf[0, bufLen) holds file bytes [bufAt, bufAt + bufLen)
  /** Makes buf hold file bytes [pos, pos + n); false when the file (or limit) ends first. */
  const have = (pos: number, n: number): boolean => {
    if (pos + n > limit) return false;
    if (pos >= bufAt && pos + n <= bufAt + bufLen) return true;
    if (buf.length < n) buf = new Uint8Array(Math.max(n, buf.length * 2));
    const want = Math.min(buf.length, limit - pos);
    bufAt = pos;
    bufLen = preadFull(fd, buf, 0, want, pos);
    return bufLen >= n;
  };
  let pos = start;
  while (have(pos, RECORD_HEADER)) {
    const o = pos - bufAt;
    const dv = new DataView(buf.buffer, buf.byteOffset + o, RECORD_HEADER);
    const offset = get64(dv, 0), length = dv.getUint32(8, true), crc = dv.getUint32(12, true);
    if (length === 0 || length > MAX_RECORD_DATA || offset + length > diskSize) break;
    if (offset % SECTOR !== 0 || (length % SECTOR !== 0 && offset + length !== diskSize)) break;
    if (!have(pos, RECORD_HEADER + length)) break;
    const p = pos - bufAt;
    if (crcOf(crcOf(0, buf, p, p + 12), buf, p + RECORD_HEADER, p + RECORD_HEADER + length) !== crc) break;
    records.push({ offset, length, pos: pos + RECORD_HEADER });
    pos += RECORD_HEADER + length;
  }
  return { records, end: pos };
}

/** Disk sector size: records cover whole sectors (the last one may be cut by the disk's end). */
export const SECTOR = 512;
const CHUNK = 1024; // sectors per index chunk (512 KiB of disk, an 8 KiB table)
const POS_BITS = 2 ** 40; // a location is layer * 2^40 + file position (layers < 2^13, files < 1 TiB)

/**
 * Where the newest copy of each written sector lives: a sparse two-level table (chunks allocated
 * on first write), location = layer number * 2^40 + file position, 0 = not written (base image).
 * O(1) per sector to set and look up; memory ~1.6% of the disk area written.
 */
class SectorIndex {
  private readonly chunks = new Map<number, Float64Array>();

  set(sector: number, layer: number, pos: number): void {
    const c = Math.floor(sector / CHUNK);
    let t = this.chunks.get(c);
    if (!t) { t = new Float64Array(CHUNK); this.chunks.set(c, t); }
    t[sector - c * CHUNK] = layer * POS_BITS + pos;
  }

  get(sector: number): number {
    const c = Math.floor(sector / CHUNK);
    const t = this.chunks.get(c);
    return t ? t[sector - c * CHUNK]! : 0;
  }

  /** Bytes [offset, offset+length) of a record at file position `pos` of `layer` (offset sector-aligned). */
  put(offset: number, length: number, layer: number, pos: number): void {
    const first = offset / SECTOR;
    const n = Math.ceil(length / SECTOR);
    for (let k = 0; k < n; k++) this.set(first + k, layer, pos + k * SECTOR);
  }
}

/** A layer file on disk: its path and generation (store.ts lists them). */
export interface LayerFile { generation: number; path: string }

export interface GenerationDiskOptions {
  /** The base image (raw; never written once layers exist). */
  base: string;
  /** Layer files of this disk that exist now, any order (store.ts: listLayers). */
  layers: readonly LayerFile[];
  /** Disk number n (recorded in the layer header, checked when reading). */
  disk: number;
  /**
   * The generation this disk belongs to. Writable: its own layer is created at `ownLayer` (it must
   * not exist yet) and every layer of a lower generation is read as it is now. Read-only or a view:
   * no layer is created; the disk shows layers below this generation (view: up to and including it).
   */
  generation: number;
  /** Path of this generation's own layer (created); absent = a read-only disk or a view. */
  ownLayer?: string;
  /** A view reads layers up to and including `generation` (export-disk); default false. */
  view?: boolean;
}

/**
 * Disk n of generation g as a DiskBackend: reads go through layers g, g-1, …, 1 and then the base
 * image; writes go only to generation g's own layer; flush() fsyncs that layer. `size` is the base
 * image's size. Opening reads the lower layers' indexes once (a full checksum pass over each),
 * at the lengths fixed as described at the top of this file, and never looks past them later.
 */
export class GenerationDisk implements DiskBackend {
  readonly size: number;
  readonly readOnly: boolean;
  /** Generation whose view this is. */
  readonly generation: number;
  /** The lower layers read, with the file end used for each (what this generation's header records). */
  readonly lowerEnds: ReadonlyMap<number, number>;
  /** Records in this generation's own layer, and bytes appended to it (headers included). */
  readonly stats = { records: 0, bytes: 0, flushes: 0 };

  private readonly index = new SectorIndex();
  /** Open files: fds[k] is layer number k's (k >= 1) in the index; fds[0] unused. */
  private readonly fds: number[] = [-1];
  private readonly names = new Map<number, string>();
  private baseFd: number;
  private ownFd = -1;
  private ownLayer = 0;
  private tail = 0;

  private constructor(baseFd: number, size: number, generation: number, readOnly: boolean, lowerEnds: Map<number, number>) {
    this.baseFd = baseFd; this.size = size; this.generation = generation; this.readOnly = readOnly; this.lowerEnds = lowerEnds;
  }

  /** Opens disk n for generation g (see GenerationDiskOptions). Throws StoreError. */
  static open(o: GenerationDiskOptions): GenerationDisk {
    if (!Number.isSafeInteger(o.generation) || o.generation < 1) throw new StoreError('STORE_NAME', `generation ${o.generation} must be an integer >= 1`);
    let baseFd: number;
    try {
      baseFd = openSync(o.base, 'r');
    } catch (e) {
      throw new StoreError('STORE_BASE', `disk image ${o.base}: cannot open (${fsErrorText(e)})`, { cause: e });
    }
    const st = fstatSync(baseFd);
    if (!st.isFile() && !st.isBlockDevice()) { closeSync(baseFd); throw new StoreError('STORE_BASE', `disk image ${o.base}: not a regular file`); }
    const size = st.size;
    const top = o.view ? o.generation : o.generation - 1;
    const d = new GenerationDisk(baseFd, size, o.generation, o.ownLayer === undefined, new Map());
    try {
      if (!o.view && o.ownLayer !== undefined) {
        const newer = o.layers.filter((l) => l.generation >= o.generation);
        const same = newer.find((l) => l.generation === o.generation);
        if (same) throw new StoreError('STORE_LAYER_EXISTS', `disk ${o.disk} of generation ${o.generation}: layer ${same.path} exists already (a generation writes its layer once)`);
        const moved = newer.find((l) => l.generation > o.generation);
        if (moved) throw new StoreError('STORE_GENERATION_MOVED', `disk ${o.disk}: generation ${moved.generation} already has a layer (${moved.path}); generation ${o.generation} is fenced off`);
      }
      d.loadLower(o, top, size);
      if (o.ownLayer !== undefined && !o.view) d.createOwn(o.ownLayer, o.disk, size);
    } catch (e) {
      d.close();
      throw e;
    }
    return d;
  }

  /** Reads the view below `top` into the extent map (see the file comment). */
  private loadLower(o: GenerationDiskOptions, top: number, size: number): void {
    const byGen = new Map<number, LayerFile>();
    for (const l of o.layers) if (l.generation <= top) byGen.set(l.generation, l);
    if (!byGen.size) return;
    const h = Math.max(...byGen.keys());
    const hFile = byGen.get(h)!;
    const hFd = this.openLayer(hFile.path);
    const hHead = this.checkHeader(hFd, hFile, o.disk, size);
    const { records: hRecords, end: hEnd } = scanRecords(hFd, hHead.length, Number.MAX_SAFE_INTEGER, size);
    const ends = this.lowerEnds as Map<number, number>;
    ends.set(h, hEnd);
    // layers below h, at the ends h froze (ascending, so newer records are applied last)
    for (const g of [...hHead.lower.keys()].sort((a, b) => a - b)) {
      const f = byGen.get(g);
      if (!f) throw new StoreError('STORE_LAYER_CORRUPT', `disk ${o.disk}: layer of generation ${g} is missing (generation ${h}'s layer ${hFile.path} read it)`);
      const fd = this.openLayer(f.path);
      const head = this.checkHeader(fd, f, o.disk, size);
      const end = hHead.lower.get(g)!;
      const { records, end: got } = scanRecords(fd, head.length, end, size);
      if (got !== end) throw new StoreError('STORE_LAYER_CORRUPT', `disk layer ${f.path}: valid up to byte ${got}, but generation ${h} read it up to byte ${end} (the layer lost data)`);
      const li = this.fds.indexOf(fd);
      for (const r of records) this.index.put(r.offset, r.length, li, r.pos);
      ends.set(g, end);
    }
    const hi = this.fds.indexOf(hFd);
    for (const r of hRecords) this.index.put(r.offset, r.length, hi, r.pos);
  }

  private openLayer(path: string): number {
    let fd: number;
    try { fd = openSync(path, 'r'); } catch (e) { throw ioError(`disk layer ${path}: cannot open`, e); }
    this.fds.push(fd);
    this.names.set(fd, path);
    return fd;
  }

  private checkHeader(fd: number, f: LayerFile, disk: number, size: number): LayerHeader {
    const h = readLayerHeader(fd, f.path);
    if (h.generation !== f.generation || h.disk !== disk) throw new StoreError('STORE_LAYER_CORRUPT', `disk layer ${f.path}: header says disk ${h.disk} of generation ${h.generation}`);
    if (h.diskSize !== size) throw new StoreError('STORE_BASE', `disk layer ${f.path} was made over a base image of ${h.diskSize} bytes; the base image now has ${size}`);
    return h;
  }

  private createOwn(path: string, disk: number, size: number): void {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError('STORE_LAYER_EXISTS', `disk layer ${path} exists already (a generation writes its layer once)`);
      throw ioError(`disk layer ${path}: cannot create`, e);
    }
    this.ownFd = fd;
    this.ownLayer = this.fds.length;
    this.fds.push(fd);
    this.names.set(fd, path);
    const head = encodeLayerHeader({ generation: this.generation, disk, diskSize: size, lower: this.lowerEnds as Map<number, number> });
    try {
      pwriteFull(fd, head, 0);
      fsyncSync(fd);
      fsyncDir(dirname(path));
    } catch (e) { throw ioError(`disk layer ${path}: cannot write its header`, e); }
    this.tail = head.length;
    this.stats.bytes = head.length;
  }

  /** Exactly `len` bytes at `offset` (zeros past the end of the disk). */
  read(offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const end = Math.min(offset + len, this.size);
    let at = offset;
    while (at < end) {
      // one run: sectors that are consecutive in one file (or all in the base image)
      const sector = Math.floor(at / SECTOR);
      const loc = this.index.get(sector);
      const layer = Math.floor(loc / POS_BITS);
      const pos0 = loc - layer * POS_BITS + (at - sector * SECTOR);
      let to = Math.min((sector + 1) * SECTOR, end);
      while (to < end) {
        const next = this.index.get(to / SECTOR);
        if (loc === 0 ? next !== 0 : next !== loc + (to - sector * SECTOR)) break;
        to = Math.min(to + SECTOR, end);
      }
      if (loc === 0) preadFull(this.baseFd, out, at - offset, to - at, at);
      else if (preadFull(this.fds[layer]!, out, at - offset, to - at, pos0) < to - at) {
        throw new StoreError('STORE_LAYER_CORRUPT', `disk layer ${this.names.get(this.fds[layer]!) ?? layer} is shorter than its index (truncated while open?)`);
      }
      at = to;
    }
    return out;
  }

  /**
   * Appends one record to this generation's layer (one write call: header and data together).
   * A write that does not cover whole sectors is widened to them with the current content.
   */
  write(offset: number, data: Uint8Array): void {
    if (this.ownFd < 0) throw new StoreError('STORE_READ_ONLY', `disk of generation ${this.generation} is ${this.readOnly ? 'read-only' : 'closed'}`);
    const len = data.length;
    if (len === 0) return;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + len > this.size) throw new InvalidArgumentError(`disk write [${offset}, +${len}) outside the disk (${this.size} bytes)`);
    const start = Math.floor(offset / SECTOR) * SECTOR;
    const stop = Math.min(Math.ceil((offset + len) / SECTOR) * SECTOR, this.size);
    if (start !== offset || stop !== offset + len) {
      const whole = this.read(start, stop - start);
      whole.set(data, offset - start);
      this.write(start, whole);
      return;
    }
    if (len > MAX_RECORD_DATA) {
      for (let at = 0; at < len; at += MAX_RECORD_DATA) this.write(offset + at, data.subarray(at, Math.min(len, at + MAX_RECORD_DATA)));
      return;
    }
    const rec = new Uint8Array(RECORD_HEADER + len);
    const dv = new DataView(rec.buffer);
    put64(dv, 0, offset);
    dv.setUint32(8, len, true);
    rec.set(data, RECORD_HEADER);
    dv.setUint32(12, crcOf(crcOf(0, rec, 0, 12), rec, RECORD_HEADER, RECORD_HEADER + len), true);
    const pos = this.tail;
    pwriteFull(this.ownFd, rec, pos);
    this.tail = pos + rec.length;
    this.index.put(offset, len, this.ownLayer, pos + RECORD_HEADER);
    this.stats.records++;
    this.stats.bytes += rec.length;
  }

  /** fsync of this generation's layer (nothing to do for a read-only disk or a view). */
  flush(): void {
    if (this.ownFd >= 0) { fsyncSync(this.ownFd); this.stats.flushes++; }
  }

  /** flush() on the thread pool: resolves once the fsync returned, while the event loop turns
   *  (a primary making released writes durable before its release mark says so). */
  flushAsync(): Promise<void> {
    const fd = this.ownFd;
    if (fd < 0) return Promise.resolve();
    return new Promise((resolve, reject) => fsync(fd, (e) => {
      if (e) reject(ioError(`disk layer ${this.names.get(fd) ?? fd}: fsync failed`, e));
      else { this.stats.flushes++; resolve(); }
    }));
  }

  close(): void {
    for (const fd of this.fds.splice(1)) { try { closeSync(fd); } catch { /* closing: nothing to do */ } }
    if (this.baseFd >= 0) { try { closeSync(this.baseFd); } catch { /* as above */ } this.baseFd = -1; }
    this.ownFd = -1;
  }
}
