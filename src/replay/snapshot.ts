// Versioned snapshot container: named sections of plain data plus RAM stored
// as its non-zero 4 KiB pages, identified by a SHA-256 and guarded by a
// CRC-32. Knows nothing about the machine: it takes and returns plain data.
//
// Layout, version 1 (integers little-endian):
//   0   magic "X86FTSNP" (8 bytes)
//   8   version u16, flags u16 (0)
//   12  body length u32
//   16  SHA-256 of body (32 bytes) = the snapshot's identity (hex in logs)
//   48  body
//   end CRC-32 u32 of every preceding byte
// body := metaLen u32, meta = msgpack({ sections, ramSize, pageSize: 4096, pageCount }),
//         pageCount × page index u32 (ascending), pageCount × 4096 page bytes
//         (the last page of a RAM size that is not a page multiple is zero-padded).
// Sections are encoded in sorted-name order, so the hash does not depend on the
// order they were given in; inside a section the given key order is kept.

import { createHash } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr/pack';
import { crc32 } from './crc32.js';
import { X86ftError } from '../errors.js';

export const SNAPSHOT_MAGIC = 'X86FTSNP';
export const SNAPSHOT_VERSION = 1;
export const PAGE_SIZE = 4096;
const MAGIC = new TextEncoder().encode(SNAPSHOT_MAGIC);
const HEAD = 48;

/** What a snapshot holds: named sections (plain objects, arrays, numbers, bigints, strings, byte/typed arrays) and RAM. */
export interface SnapshotData {
  sections: Record<string, unknown>;
  ram: Uint8Array;
}

export interface DecodedSnapshot extends SnapshotData {
  version: number;
  /** SHA-256 of the body, lowercase hex. */
  hash: string;
  /** Page numbers (PAGE_SIZE) the snapshot holds, ascending; every other page of `ram` is zero and untouched. */
  pages: number[];
}

export type SnapshotErrorCode = 'SNAPSHOT_TRUNCATED' | 'SNAPSHOT_BAD_MAGIC' | 'SNAPSHOT_CRC' | 'SNAPSHOT_VERSION' | 'SNAPSHOT_HASH' | 'SNAPSHOT_DECODE' | 'PRECOPY_STOPPED';

export class SnapshotError extends X86ftError {
  constructor(
    override readonly code: SnapshotErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'SnapshotError';
  }
}

const packr = new Packr({ useRecords: false, moreTypes: true, useBigInt64: true, useFloat32: 0 });
const unpackr = new Unpackr({ useRecords: false, moreTypes: true, useBigInt64: true, mapsAsObjects: true });

/** Sections in sorted-name order (so an encoding does not depend on the order they were given in). */
function sortedSections(s: Record<string, unknown>): Record<string, unknown> {
  const sections: Record<string, unknown> = {};
  for (const k of Object.keys(s).sort()) sections[k] = s[k];
  return sections;
}

/** The sections alone, encoded as a snapshot's metadata encodes them (msgpack, sorted names): a live
 *  snapshot's pre-copy (precopy.ts) sends RAM apart from them. */
export function packSections(s: Record<string, unknown>): Uint8Array {
  return packr.pack(sortedSections(s));
}

/** packSections() back, byte and typed arrays detached from `bytes`. Throws SnapshotError SNAPSHOT_DECODE. */
export function unpackSections(bytes: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try { v = unpackr.unpack(bytes); } catch (e) { throw new SnapshotError('SNAPSHOT_DECODE', `snapshot sections undecodable: ${(e as Error).message}`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SnapshotError('SNAPSHOT_DECODE', 'snapshot sections are malformed');
  return plain(v) as Record<string, unknown>;
}

/** Encode a snapshot. Returns the bytes and their identity hash. */
export function encodeSnapshot(data: SnapshotData): { bytes: Uint8Array; hash: string } {
  const ram = data.ram;
  const pages = nonZeroPages(ram);
  const sections = sortedSections(data.sections);
  const meta = packr.pack({ sections, ramSize: ram.length, pageSize: PAGE_SIZE, pageCount: pages.length });
  const bodyLen = 4 + meta.length + pages.length * (4 + PAGE_SIZE);
  const out = new Uint8Array(HEAD + bodyLen + 4);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint16(8, SNAPSHOT_VERSION, true);
  dv.setUint16(10, 0, true);
  dv.setUint32(12, bodyLen, true);
  let o = HEAD;
  dv.setUint32(o, meta.length, true);
  out.set(meta, o + 4);
  o += 4 + meta.length;
  for (const p of pages) {
    dv.setUint32(o, p, true);
    o += 4;
  }
  // runs of consecutive pages in one copy each (a guest's memory in use is mostly contiguous)
  for (let i = 0; i < pages.length;) {
    let j = i + 1;
    while (j < pages.length && pages[j] === pages[j - 1]! + 1) j++;
    const start = pages[i]! * PAGE_SIZE, end = Math.min(pages[j - 1]! * PAGE_SIZE + PAGE_SIZE, ram.length);
    out.set(ram.subarray(start, end), o);
    o += (j - i) * PAGE_SIZE;
    i = j;
  }
  const hash = createHash('sha256').update(out.subarray(HEAD, HEAD + bodyLen)).digest();
  out.set(hash, 16);
  dv.setUint32(HEAD + bodyLen, crc32(out, 0, HEAD + bodyLen), true);
  return { bytes: out, hash: hash.toString('hex') };
}

/** Indices of the pages of `ram` that are not all zero. */
export function nonZeroPages(ram: Uint8Array): number[] {
  const out: number[] = [];
  const n = Math.ceil(ram.length / PAGE_SIZE);
  const aligned = ram.byteOffset % 4 === 0;
  const words = aligned ? new Uint32Array(ram.buffer, ram.byteOffset, ram.length >>> 2) : undefined;
  for (let p = 0; p < n; p++) {
    const start = p * PAGE_SIZE;
    const end = Math.min(start + PAGE_SIZE, ram.length);
    let nz = false;
    if (words && end - start === PAGE_SIZE) {
      for (let i = start >>> 2, e = end >>> 2; i < e; i++)
        if (words[i] !== 0) {
          nz = true;
          break;
        }
    } else {
      for (let i = start; i < end; i++)
        if (ram[i] !== 0) {
          nz = true;
          break;
        }
    }
    if (nz) out.push(p);
  }
  return out;
}

/** Check the container (magic, CRC, version, length, hash) without decoding the body. Returns version, hash and body bounds. */
export function verifySnapshot(bytes: Uint8Array): { version: number; hash: string; bodyLen: number } {
  if (bytes.length < HEAD + 4) throw new SnapshotError('SNAPSHOT_TRUNCATED', `snapshot of ${bytes.length} bytes is too short`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw new SnapshotError('SNAPSHOT_BAD_MAGIC', 'not an x86ft snapshot (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyLen = dv.getUint32(12, true);
  if (HEAD + bodyLen + 4 > bytes.length) throw new SnapshotError('SNAPSHOT_TRUNCATED', `snapshot is cut: body of ${bodyLen} bytes, ${bytes.length - HEAD - 4} present`);
  if (HEAD + bodyLen + 4 < bytes.length) throw new SnapshotError('SNAPSHOT_CRC', `snapshot has ${bytes.length - HEAD - bodyLen - 4} bytes after its end`);
  if (crc32(bytes, 0, HEAD + bodyLen) !== dv.getUint32(HEAD + bodyLen, true)) throw new SnapshotError('SNAPSHOT_CRC', 'snapshot CRC mismatch (corrupted)');
  const version = dv.getUint16(8, true);
  if (version !== SNAPSHOT_VERSION) throw new SnapshotError('SNAPSHOT_VERSION', `snapshot version ${version} is not supported (supported: ${SNAPSHOT_VERSION})`);
  const hash = Buffer.from(bytes.buffer, bytes.byteOffset + 16, 32).toString('hex');
  const actual = createHash('sha256').update(bytes.subarray(HEAD, HEAD + bodyLen)).digest('hex');
  if (actual !== hash) throw new SnapshotError('SNAPSHOT_HASH', `snapshot content hash ${actual} != stored ${hash}`);
  return { version, hash, bodyLen };
}

/** Decode a snapshot; throws SnapshotError on any damage, or if `expectHash` is given and differs. */
export function decodeSnapshot(bytes: Uint8Array, opts: { expectHash?: string } = {}): DecodedSnapshot {
  const { version, hash, bodyLen } = verifySnapshot(bytes);
  if (opts.expectHash !== undefined && opts.expectHash.toLowerCase() !== hash)
    throw new SnapshotError('SNAPSHOT_HASH', `snapshot is ${hash}, expected ${opts.expectHash}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = HEAD + bodyLen;
  const metaLen = dv.getUint32(HEAD, true);
  if (HEAD + 4 + metaLen > end) throw new SnapshotError('SNAPSHOT_DECODE', 'snapshot metadata overruns the body');
  let meta: { sections: Record<string, unknown>; ramSize: number; pageSize: number; pageCount: number };
  try {
    meta = unpackr.unpack(bytes.subarray(HEAD + 4, HEAD + 4 + metaLen)) as typeof meta;
  } catch (e) {
    throw new SnapshotError('SNAPSHOT_DECODE', `snapshot metadata undecodable: ${(e as Error).message}`);
  }
  const { ramSize, pageSize, pageCount } = meta ?? {};
  if (typeof meta?.sections !== 'object' || meta.sections === null || !Number.isSafeInteger(ramSize) || pageSize !== PAGE_SIZE || !Number.isSafeInteger(pageCount))
    throw new SnapshotError('SNAPSHOT_DECODE', 'snapshot metadata is malformed');
  let o = HEAD + 4 + metaLen;
  if (o + pageCount * (4 + PAGE_SIZE) !== end) throw new SnapshotError('SNAPSHOT_DECODE', 'snapshot page table does not match the body length');
  const ram = new Uint8Array(ramSize);
  const maxPage = Math.ceil(ramSize / PAGE_SIZE);
  let data = o + pageCount * 4;
  let last = -1;
  const pages: number[] = [];
  for (let i = 0; i < pageCount; i++, o += 4, data += PAGE_SIZE) {
    const p = dv.getUint32(o, true);
    if (p <= last || p >= maxPage) throw new SnapshotError('SNAPSHOT_DECODE', `bad page index ${p}`);
    last = p;
    pages.push(p);
    const start = p * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE, ramSize - start);
    ram.set(bytes.subarray(data, data + n), start);
  }
  return { version, hash, sections: plain(meta.sections) as Record<string, unknown>, ram, pages };
}

/** Deep copy of decoded data with byte and typed arrays detached from the input buffer (Buffer → Uint8Array). */
function plain(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) {
    if (v instanceof DataView) return new DataView(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    if (v instanceof Uint8Array) return new Uint8Array(v); // also turns a Buffer into a plain Uint8Array
    const C = v.constructor as new (x: ArrayBufferView) => ArrayBufferView;
    return new C(v);
  }
  if (Array.isArray(v)) return v.map(plain);
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v)) o[k] = plain((v as Record<string, unknown>)[k]);
  return o;
}
