// Replay digests: a hash of the machine's architectural state, of the RAM pages the CPU wrote
// since the previous digest, of every device's state and of the outputs so far, plus a small
// "detail" (register file, per-page and per-device 32-bit hashes) that lets a replayer name the
// first difference. Computed identically by recorder and replayer. Reads a Machine; writes nothing.
//
// Detail layout (format.ts M12; all integers little-endian u32):
//   state   := bitmap[ceil(W/8) bytes] nonzero-word*  — the W-word register file below, with
//              only its non-zero words stored (bit i of the bitmap set = word i stored)
//   pages   := (page number, page hash)*               — pages written since the last digest, ascending
//   devices := device hash*                            — one per device, in sorted device-name order
// hash = SHA-256 (first 16 bytes) of: the W words, each written page's number and full contents,
// each device's packed state; so the hash covers contents that the 32-bit detail only samples.

import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr/pack';
import type { Machine } from '../machine/machine.js';
import { OutputTally } from '../machine/outputs.js';
import { CPU_FIELDS, CPU_WORDS, readCpuWords } from '../cpu/state.js';
import { InternalError, BadStateError } from '../errors.js';

const TWO32 = 0x100000000;
const PAGE = 4096;
export const DIGEST_HASH_BYTES = 16;

/**
 * What a digest covers. Layout 2 (logs of format version 3 on): the CPU's whole declared register
 * file (CPU_FIELDS: incl. x87 and debug registers), the outputs, every page written since the last
 * digest by the CPU or by anything else (DMA, page-walk A/D bits), every device. Layout 1 (logs of
 * format versions 1 and 2, kept so they replay unchanged): the register file below (no x87 or
 * debug-register state) and only the pages the CPU's stores wrote.
 */
export type DigestLayout = 1 | 2;
/** First log format version whose digests use layout 2. */
export const WHOLE_MACHINE_DIGEST_SINCE = 3;
/** The digest layout of a log of format `version`. */
export function digestLayout(version: number): DigestLayout { return version >= WHOLE_MACHINE_DIGEST_SINCE ? 2 : 1; }

/** Output words both layouts end with. */
const OUTPUT_FIELDS: readonly (readonly [string, number])[] = [
  ['console bytes out', 2], ['console output (hash)', 1], ['frames out', 2], ['frame output (hash)', 1],
];

/** Layout 1's register file: name and width in u32 words (2 = 64-bit, shown hi:lo). */
const FIELDS_V1: readonly (readonly [string, number])[] = [
  ...['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'].map((n) => [n, 2] as const),
  ['RIP', 2], ['RFLAGS', 1],
  ['CR0', 2], ['CR2', 2], ['CR3', 2], ['CR4', 2], ['CR8', 1], ['EFER', 2], ['CPL', 1],
  ['ES', 1], ['CS', 1], ['SS', 1], ['DS', 1], ['FS', 1], ['GS', 1],
  ['FS.base', 2], ['GS.base', 2], ['KernelGS.base', 2],
  ['GDTR.base', 2], ['GDTR.limit', 1], ['IDTR.base', 2], ['IDTR.limit', 1],
  ['LDTR', 1], ['TR', 1], ['TSS.base', 2], ['TSS.limit', 1],
  ['STAR', 2], ['LSTAR', 2], ['CSTAR', 2], ['SFMASK', 2], ['APIC_BASE', 2], ['TSC_AUX', 1],
  ['MXCSR', 1],
  ...Array.from({ length: 16 }, (_, i) => [`XMM${i}`, 4] as const),
  ['x87 (hash)', 1], ['halted', 1], ['interrupt shadow', 1], ['icount', 2],
  ...OUTPUT_FIELDS,
];
/** Layout 2's register file: derived from the CPU's declaration, then the outputs. */
const FIELDS_V2: readonly (readonly [string, number])[] = [...CPU_FIELDS.map((f) => [f.name, f.words] as const), ...OUTPUT_FIELDS];

/** The register file of a layout: (name, words) in order. */
export function stateFields(layout: DigestLayout): readonly (readonly [string, number])[] { return layout === 2 ? FIELDS_V2 : FIELDS_V1; }
/** Words in a layout's register file. */
export function stateWords(layout: DigestLayout): number { return stateFields(layout).reduce((n, f) => n + f[1], 0); }
/** Words in layout 1's register file (the one of logs of format versions 1 and 2). */
export const STATE_WORDS = stateWords(1);

/** The output tally lives with the output seam (src/machine/outputs.ts); digests cover it. */
export { OutputTally };

/** A digest as computed on a machine (or decoded from a log). */
export interface Digest {
  hash: Uint8Array;
  /** The register file (STATE_WORDS words); undefined when the log has no detail. */
  state?: Uint32Array;
  /** (page, hash) pairs. */
  pages?: Uint32Array;
  /** One hash per device, sorted device-name order. */
  devices?: Uint32Array;
}

const packr = new Packr({ useRecords: false, moreTypes: true, useFloat32: 0 });

function put64(w: Uint32Array, i: number, v: number): number {
  w[i] = (v % TWO32) >>> 0;
  w[i + 1] = Math.floor(v / TWO32) >>> 0;
  return i + 2;
}

/** FNV-1a-style 32-bit hash over bytes (device states, small blobs). */
export function hash32(b: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 16777619);
  return h >>> 0;
}

/** A fast 32-bit hash of one page given as 1024 words. */
function pageHash(w: Int32Array, start: number, end: number): number {
  let h = 0x9747b28c ^ start;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ w[i]!, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** Fills `w` with the machine's register file in `layout` (stateFields order). */
export function registerFile(m: Machine, out: OutputTally, layout: DigestLayout = 2, w = new Uint32Array(stateWords(layout))): Uint32Array {
  let i = layout === 2 ? (readCpuWords(m.cpu, w, 0), CPU_WORDS) : registerFileV1(m, w);
  i = put64(w, i, out.consoleBytes); w[i++] = out.consoleHash;
  i = put64(w, i, out.frames); w[i++] = out.frameHash;
  if (i !== w.length) throw new InternalError(`digest: register file has ${i} words, expected ${w.length}`);
  return w;
}

/** Layout 1's CPU words (FIELDS_V1 up to the outputs); returns the next index. */
function registerFileV1(m: Machine, w: Uint32Array): number {
  const c = m.cpu;
  let i = 0;
  for (let r = 0; r < 32; r++) w[i++] = c.regs[r]! >>> 0;
  i = put64(w, i, c.rip); w[i++] = c.getRflags() >>> 0;
  i = put64(w, i, c.cr0); i = put64(w, i, c.cr2); i = put64(w, i, c.cr3); i = put64(w, i, c.cr4);
  w[i++] = c.cr8 >>> 0; i = put64(w, i, c.efer); w[i++] = c.cpl >>> 0;
  for (let s = 0; s < 6; s++) w[i++] = c.sel[s]!;
  i = put64(w, i, c.fsBase); i = put64(w, i, c.gsBase); i = put64(w, i, c.kernelGsBase);
  i = put64(w, i, c.gdtBase); w[i++] = c.gdtLimit >>> 0; i = put64(w, i, c.idtBase); w[i++] = c.idtLimit >>> 0;
  w[i++] = c.ldtr >>> 0; w[i++] = c.tr >>> 0; i = put64(w, i, c.tssBase); w[i++] = c.tssLimit >>> 0;
  i = put64(w, i, c.star); i = put64(w, i, c.lstar); i = put64(w, i, c.cstar); i = put64(w, i, c.sfmask);
  i = put64(w, i, c.apicBase); w[i++] = c.tscAux >>> 0;
  w[i++] = c.mxcsr >>> 0;
  for (let x = 0; x < 64; x++) w[i++] = c.xmm[x]! >>> 0;
  w[i++] = 0; // 'x87 (hash)': layout 1 never covered the x87 unit
  w[i++] = c.halted ? 1 : 0; w[i++] = c.intShadow ? 1 : 0; i = put64(w, i, c.icount);
  return i;
}

/** Device names in digest order. */
export function deviceNames(m: Machine): string[] {
  return Object.keys(m.saveDevices()).sort();
}

/**
 * The digest of `m` now. Consumes the CPU's dirty-page set (the next digest covers pages written
 * after this one). Call at the same instruction count on recorder and replayer.
 */
export function computeDigest(m: Machine, out: OutputTally, layout: DigestLayout = 2): Digest {
  const sha = createHash('sha256');
  const state = registerFile(m, out, layout);
  sha.update(new Uint8Array(state.buffer));
  const dirty = writtenPages(m, layout);
  const u8 = m.mem.u8;
  const words = new Int32Array(u8.buffer, u8.byteOffset, u8.length >>> 2);
  const pages = new Uint32Array(dirty.length * 2);
  const num = new Uint32Array(1);
  for (let k = 0; k < dirty.length; k++) {
    const p = dirty[k]!;
    const start = p * PAGE, end = Math.min(start + PAGE, u8.length);
    pages[2 * k] = p;
    pages[2 * k + 1] = pageHash(words, start >>> 2, end >>> 2);
    num[0] = p;
    sha.update(new Uint8Array(num.buffer));
    sha.update(u8.subarray(start, end));
  }
  const devs = m.saveDevices();
  const names = Object.keys(devs).sort();
  const devices = new Uint32Array(names.length);
  names.forEach((n, k) => {
    const b = packr.pack(devs[n]);
    devices[k] = hash32(b);
    sha.update(b);
  });
  const hash = new Uint8Array(sha.digest().subarray(0, DIGEST_HASH_BYTES));
  return { hash, state, pages, devices };
}

/** Pages written since the last digest (ascending), per layout; clears both written sets. */
function writtenPages(m: Machine, layout: DigestLayout): number[] {
  const cpu = m.cpu.takeDirtyPages(), other = m.mem.takeWritten();
  if (layout === 1 || other.length === 0) return cpu;
  return [...new Set([...cpu, ...other])].sort((a, b) => a - b);
}

/** Marks every page clean without hashing (a log starts here: boot or snapshot). */
export function resetDirty(m: Machine): void {
  m.cpu.takeDirtyPages();
  m.mem.takeWritten();
}

/** Marks exactly the non-zero pages written (a version-3 log from boot, format.ts M18): its first
 *  digest covers RAM as loaded — the image, the boot-info block with the command line, memory size
 *  and device list, the page tables — so a changed header configuration cannot replay identical. */
export function markLoadedPages(m: Machine): void {
  // RAM starts zeroed and every write other than the CPU's is reported to PhysMemory, so only pages
  // reported written (or marked by an earlier call) can be non-zero. Scanning just those, one native
  // compare each: reading all of a 64 MiB RAM took 0.4 s (page faults) and stalled a primary's heartbeats.
  const candidates = new Set([...m.cpu.takeDirtyPages(), ...m.mem.peekWritten()]);
  const ram = Buffer.from(m.mem.buffer), d = m.cpu.dirty;
  for (const p of candidates) {
    const off = p * PAGE;
    if (ram.compare(ZERO_PAGE, 0, PAGE, off, off + PAGE) !== 0) d[p] = 1;
  }
}

const ZERO_PAGE = new Uint8Array(PAGE);

// ─── detail encoding ────────────────────────────────────────────────────────

function u32Bytes(w: Uint32Array): Uint8Array {
  const b = new Uint8Array(w.length * 4);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < w.length; i++) dv.setUint32(i * 4, w[i]!, true);
  return b;
}

function bytesU32(b: Uint8Array, what: string): Uint32Array {
  if (b.length % 4) throw new BadStateError(`digest detail: ${what} is not a whole number of words`);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const w = new Uint32Array(b.length / 4);
  for (let i = 0; i < w.length; i++) w[i] = dv.getUint32(i * 4, true);
  return w;
}

/** The register file, sparse: bitmap of non-zero words, then those words. */
export function packState(w: Uint32Array): Uint8Array {
  const bm = Math.ceil(w.length / 8);
  let nz = 0;
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++;
  const out = new Uint8Array(bm + nz * 4);
  const dv = new DataView(out.buffer);
  let o = bm;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === 0) continue;
    out[i >>> 3]! |= 1 << (i & 7);
    dv.setUint32(o, w[i]!, true);
    o += 4;
  }
  return out;
}

export function unpackState(b: Uint8Array, layout: DigestLayout = 2): Uint32Array {
  const n = stateWords(layout);
  const w = new Uint32Array(n);
  const bm = Math.ceil(n / 8);
  if (b.length < bm) throw new BadStateError('digest detail: register file too short');
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  let o = bm;
  for (let i = 0; i < n; i++) {
    if (!(b[i >>> 3]! & (1 << (i & 7)))) continue;
    if (o + 4 > b.length) throw new BadStateError('digest detail: register file too short');
    w[i] = dv.getUint32(o, true);
    o += 4;
  }
  if (o !== b.length) throw new BadStateError('digest detail: register file has trailing bytes');
  return w;
}

/** The two log entries of a digest at `icount`: detail (M12), then the digest itself. */
export function digestEntries(icount: number, d: Digest): [
  { icount: number; kind: 'digest-detail'; payload: { state: Uint8Array; pages: Uint8Array; devices: Uint8Array } },
  { icount: number; kind: 'digest'; payload: { hash: Uint8Array } },
] {
  return [
    { icount, kind: 'digest-detail', payload: { state: packState(d.state!), pages: u32Bytes(d.pages!), devices: u32Bytes(d.devices!) } },
    { icount, kind: 'digest', payload: { hash: d.hash } },
  ];
}

/** A recorded digest from its entries (detail optional). */
export function recordedDigest(hash: Uint8Array, detail?: { state: Uint8Array; pages: Uint8Array; devices: Uint8Array }, layout: DigestLayout = 2): Digest {
  if (!detail) return { hash };
  return { hash, state: unpackState(detail.state, layout), pages: bytesU32(detail.pages, 'pages'), devices: bytesU32(detail.devices, 'devices') };
}

// ─── comparison ─────────────────────────────────────────────────────────────

function hex(words: Uint32Array, at: number, n: number): string {
  let s = '0x';
  for (let k = n - 1; k >= 0; k--) s += words[at + k]!.toString(16).padStart(8, '0');
  return s;
}

/** One difference between a recorded and a replayed digest. */
export interface DigestDifference {
  /** 'register' (incl. outputs and CPU flags), 'memory', 'device', or 'hash' (only the hash differs). */
  where: 'register' | 'memory' | 'device' | 'hash';
  /** e.g. "RAX: recorded 0x…, replayed 0x…". */
  message: string;
}

/** True when the two digests agree. */
export function sameDigest(a: Digest, b: Digest): boolean {
  if (a.hash.length !== b.hash.length) return false;
  for (let i = 0; i < a.hash.length; i++) if (a.hash[i] !== b.hash[i]) return false;
  return true;
}

/** The first difference (register file in layout order, then memory pages ascending, then devices). */
export function firstDifference(rec: Digest, rep: Digest, devices: readonly string[], layout: DigestLayout = 2): DigestDifference {
  if (rec.state && rep.state) {
    let at = 0;
    for (const [name, n] of stateFields(layout)) {
      for (let k = 0; k < n; k++) {
        if (rec.state[at + k] !== rep.state[at + k]) {
          return { where: 'register', message: `${name}: recorded ${hex(rec.state, at, n)}, replayed ${hex(rep.state, at, n)}` };
        }
      }
      at += n;
    }
  }
  if (rec.pages && rep.pages) {
    const a = new Map<number, number>(), b = new Map<number, number>();
    for (let i = 0; i < rec.pages.length; i += 2) a.set(rec.pages[i]!, rec.pages[i + 1]!);
    for (let i = 0; i < rep.pages.length; i += 2) b.set(rep.pages[i]!, rep.pages[i + 1]!);
    const all = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y);
    for (const p of all) {
      const base = `memory page ${p} (physical 0x${(p * PAGE).toString(16)}-0x${(p * PAGE + PAGE - 1).toString(16)})`;
      const ha = a.get(p), hb = b.get(p);
      if (ha === undefined) return { where: 'memory', message: `${base}: written by the replay, not by the recording since the last digest` };
      if (hb === undefined) return { where: 'memory', message: `${base}: written by the recording, not by the replay since the last digest` };
      if (ha !== hb) return { where: 'memory', message: `${base}: contents differ (recorded page hash 0x${ha.toString(16)}, replayed 0x${hb.toString(16)})` };
    }
  }
  if (rec.devices && rep.devices) {
    for (let i = 0; i < Math.max(rec.devices.length, rep.devices.length); i++) {
      if (rec.devices[i] !== rep.devices[i]) return { where: 'device', message: `device ${devices[i] ?? `#${i}`}: state differs` };
    }
  }
  return { where: 'hash', message: 'digest hash differs (memory contents not covered by the page hashes)' };
}

/** SHA-256 (hex) of the whole machine: CPU state, every device's state, all of RAM (tests, CLI). */
export function fullStateHash(m: Machine): string {
  const sha = createHash('sha256');
  sha.update(packr.pack(m.saveCpu()));
  const devs = m.saveDevices();
  for (const n of Object.keys(devs).sort()) sha.update(packr.pack(devs[n]));
  // RAM as its size and each non-zero 4 KiB page with its number: the same machine state gives the
  // same hash, and a mostly empty 3 GiB RAM (--mem allows it) hashes in a second, in pieces that
  // one update() accepts (at most 2^31-1 bytes each)
  // (RAM only: with the wasm tier the buffer goes on with the CPU area — registers, TLBs — after it; its length
  // divided, not shifted: 2 GiB >> 2 is negative)
  const ram = m.mem.u8, words = new Int32Array(m.mem.buffer, 0, ram.length / 4), num = new Uint32Array(1);
  num[0] = ram.length / 4096;
  sha.update(new Uint8Array(num.buffer));
  for (let p = 0, w = 0; w < words.length; p++, w += 1024) {
    let nz = false;
    for (let i = w; i < w + 1024; i++) if (words[i] !== 0) { nz = true; break; }
    if (!nz) continue;
    num[0] = p;
    sha.update(new Uint8Array(num.buffer));
    sha.update(ram.subarray(p * 4096, p * 4096 + 4096));
  }
  return sha.digest('hex');
}
