// Pre-copy of a running machine's RAM for a live snapshot (FT.md "Redundancy restored"), as live
// migration does it: while the guest keeps running, RAM pages go to the receiver in rounds, each round
// the pages written since the previous one began; then, at the snapshot point M (guest paused between
// slices), only the pages changed since the last round, the CPU and the devices. The receiver
// assembles the image and checks one hash over the whole machine state at M.
//
// Pages written: the CPU's dirty set (a page is marked when a write translates it or hits its write-TLB
// entry, and every CPU store — interpreter, compiled blocks' inline fast path, string instructions —
// goes through such an entry or through translate()), the pages a digest took from that set meanwhile (Cpu.dirtyLog),
// and every non-CPU write (device DMA, page-walk A/D bits: PhysMemory.dirtyLog). Nothing is added to
// the store paths, and the TLB is never flushed here (a flush at a time that depends on the host would
// make the recording differ from its replay). A shadow copy holds what was sent; a candidate page goes
// out only when it differs from it. The first round looks only at the pages in use (PhysMemory.used and
// the dirty set): the others are zero, as the receiver's RAM starts, so they are neither read nor sent,
// and the identity's table names them with the SHA-256 of a zero page, as the receiver's does.
//
// Identity ("pre-copy identity", hex): SHA-256 over "x86ftpc1", u32 LE length of the sections, u32 LE
// page count, the sections (snapshot.ts packSections) and the SHA-256 of every 4 KiB page of RAM in
// order. It names the state at M as a snapshot's hash does (the fork log's fromSnapshot, the snapshot
// record), and both sides compute it: the sender from its page hashes (only the last pages hashed in
// the pause), the receiver from the assembled RAM.

import { createHash, hash as oneShotHash } from 'node:crypto';
import type { Machine, MachineIo } from '../machine/machine.js';
import { snapshotPoint } from '../cpu/state.js';
import { PAGE_SIZE, packSections, unpackSections, SnapshotError } from './snapshot.js';
import { machineSections, restoreSections, type RestoredMachine, type SnapshotMetaInit } from './machine-snapshot.js';
import { resetDirty, type OutputTally } from './digest.js';

const HASH_BYTES = 32;
const MAGIC = Buffer.from('x86ftpc1', 'latin1');
const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);
const ZERO_HASH = pageHash(ZERO_PAGE);
/** Pages sent between two of the guest's run slices during a round (about 2-10 ms of work). */
export const PRECOPY_BATCH_PAGES = 128;
/** Pages looked at (compared with what was sent) between two run slices at most: an unchanged page costs one
 *  native compare, and each turn costs the guest's slice (4 ms, much more on a loaded host), so a batch of
 *  unchanged pages is long (ft_demo's 8 MiB of zeroed BSS, 2,080 pages in use, took 17 turns at 128). */
export const PRECOPY_LOOK_PAGES = 2048;

function pageHash(page: Uint8Array): Buffer {
  return oneShotHash('sha256', page, 'buffer') as unknown as Buffer;
}

/** The pre-copy identity of a state: its sections (packed) and the SHA-256 of each RAM page (`table`, 32 bytes a page). */
export function precopyId(sections: Uint8Array, table: Uint8Array): string {
  const head = Buffer.alloc(16);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(sections.length, 8);
  head.writeUInt32LE(table.length / HASH_BYTES, 12);
  return createHash('sha256').update(head).update(sections).update(table).digest('hex');
}

/** Sends `bytes` (a copy the caller never changes) for RAM at `offset`; a promise = wait for it (back-pressure). */
export type RamSend = (offset: number, bytes: Uint8Array) => void | Promise<unknown>;

/** What finish() took at M. */
export interface PreCopyPoint {
  /** The pre-copy identity of the state at M. */
  hash: string;
  icount: number;
  /** The machine's sections (packSections(machineSections())), for the receiver. */
  bytes: Uint8Array;
  /** Pages sent at M (changed since the last round). */
  pages: number;
}

/**
 * The sender's side. Create it when the receiver is connected (it starts the dirty log), call round()
 * between the guest's run slices as often as wanted, finish() once at M, or stop() to give up.
 */
export class PreCopy {
  /** What the receiver has (once every send arrived): RAM as sent. */
  private readonly shadow: Uint8Array;
  /** 1 for each page of the shadow written (sent at least once); the others are zero. */
  private readonly inShadow: Uint8Array;
  /** SHA-256 of each page of the shadow. */
  private readonly table: Uint8Array;
  /** Pages written since the current round began (besides those still in the CPU's dirty set). */
  private log: Uint8Array;
  private first = true;
  private stopped = false;
  /** The current round's pages and how many of them are done. */
  private queue: number[] = [];
  private next = 0;
  readonly stats = { rounds: 0, pagesSent: 0 };

  constructor(private readonly m: Machine) {
    const pages = Math.ceil(m.mem.u8.length / PAGE_SIZE);
    this.shadow = new Uint8Array(m.mem.u8.length);
    this.table = new Uint8Array(pages * HASH_BYTES);
    for (let p = 0; p < pages; p++) this.table.set(ZERO_HASH, p * HASH_BYTES);
    this.log = new Uint8Array(pages);
    this.inShadow = new Uint8Array(pages);
    m.cpu.dirtyLog = this.log;
    m.mem.dirtyLog = this.log;
  }

  /** Pages that may differ from the shadow: every page in use the first time (PhysMemory.used and the CPU's dirty set: the
   *  others are zero, as the receiver's RAM starts, and are neither read nor sent); then the log and the dirty set. Starts a new log. */
  private candidates(): number[] {
    const n = this.log.length, out: number[] = [], d = this.m.cpu.dirty;
    const also = this.first ? this.m.mem.used : this.log;
    this.first = false;
    for (let p = 0; p < n; p++) if (also[p] || d[p]) out.push(p);
    this.log.fill(0);
    return out;
  }

  /**
   * Copies the candidate pages `pages[from..]` that changed into the shadow and the hash table, up to `maxSent`
   * changed pages or `maxLook` looked at; returns runs [first, end) of changed pages and the index after the last page looked at.
   */
  private refresh(pages: number[], from: number, maxSent = Infinity, maxLook = Infinity): { runs: [number, number][]; to: number } {
    const ram = this.m.mem.u8, shadow = this.shadow, inShadow = this.inShadow, runs: [number, number][] = [];
    const ramB = Buffer.from(ram.buffer, ram.byteOffset, ram.length), shB = Buffer.from(shadow.buffer, shadow.byteOffset, shadow.length);
    const to = Math.min(pages.length, from + maxLook);
    let i = from, sent = 0;
    for (; i < to && sent < maxSent; i++) {
      const p = pages[i]!, off = p * PAGE_SIZE, end = Math.min(off + PAGE_SIZE, ram.length);
      // a shadow page never written is zero: compared with ZERO_PAGE, it is never read (nor mapped by the host)
      if (inShadow[p] ? ramB.compare(shB, off, end, off, end) === 0 : ramB.compare(ZERO_PAGE, 0, end - off, off, end) === 0) continue;
      shadow.set(ram.subarray(off, end), off);
      inShadow[p] = 1;
      sent++;
      this.table.set(pageHash(shadow.subarray(off, end)), p * HASH_BYTES);
      const last = runs[runs.length - 1];
      if (last && last[1] === p) last[1] = p + 1; else runs.push([p, p + 1]);
    }
    return { runs, to: i };
  }

  /** Sends copies of the shadow's runs; returns the pages sent and the last back-pressure promise. */
  private send(runs: [number, number][], send: RamSend): { pages: number; wait?: Promise<unknown> } {
    let pages = 0, wait: Promise<unknown> | undefined;
    for (const [a, b] of runs) {
      const w = send(a * PAGE_SIZE, this.shadow.slice(a * PAGE_SIZE, Math.min(b * PAGE_SIZE, this.shadow.length)));
      if (w) wait = w;
      pages += b - a;
    }
    this.stats.pagesSent += pages;
    return { pages, wait };
  }

  /**
   * One round while the guest runs: sends every page changed since the previous round began (all
   * pages in use, the first time), with `between()` (let the guest run a slice) after each
   * PRECOPY_BATCH_PAGES pages sent or PRECOPY_LOOK_PAGES looked at, and at least once. Returns the pages sent. finish() may come while a
   * round waits in `between` (it takes over the round's pages not done yet; the round then throws).
   * Throws what `send` throws (e.g. the receiver left).
   */
  async round(send: RamSend, between: () => Promise<unknown>): Promise<number> {
    if (this.stopped) throw new SnapshotError('PRECOPY_STOPPED', 'pre-copy: stopped');
    this.queue = this.candidates();
    this.next = 0;
    this.stats.rounds++;
    let sent = 0;
    do {
      const { runs, to } = this.refresh(this.queue, this.next, PRECOPY_BATCH_PAGES, PRECOPY_LOOK_PAGES);
      const r = this.send(runs, send);
      this.next = to;
      sent += r.pages;
      if (r.wait) await r.wait;
      await between();
      if (this.stopped) throw new SnapshotError('PRECOPY_STOPPED', 'pre-copy: stopped');
    } while (this.next < this.queue.length);
    return sent;
  }

  /**
   * At M, the guest paused between slices (the recorder's snapshot point): a snapshot point of the
   * CPU (cached translations dropped, as on a restored machine); the pages changed since the last
   * round began, and those of a round in progress not done yet, are hashed and given to `send`; the
   * state taken, every page marked clean (resetDirty, as takeSnapshot does), the dirty log ended.
   * `send` must not wait (it queues).
   */
  finish(meta: SnapshotMetaInit, outputs: OutputTally, send: RamSend): PreCopyPoint {
    if (this.stopped) throw new SnapshotError('PRECOPY_STOPPED', 'pre-copy: stopped');
    const m = this.m;
    snapshotPoint(m.cpu);
    const cands = this.candidates();
    if (this.next < this.queue.length) {
      const mark = new Uint8Array(this.log.length);
      for (const p of cands) mark[p] = 1;
      for (let i = this.next; i < this.queue.length; i++) mark[this.queue[i]!] = 1;
      cands.length = 0;
      for (let p = 0; p < mark.length; p++) if (mark[p]) cands.push(p);
    }
    const { pages } = this.send(this.refresh(cands, 0).runs, send);
    const bytes = packSections(machineSections(m, meta, outputs));
    const hash = precopyId(bytes, this.table);
    resetDirty(m);
    this.stop();
    return { hash, icount: m.cpu.icount, bytes, pages };
  }

  /** Pages finish() would look at now (written since the round in progress began, or not done in it yet). */
  pending(): number {
    const log = this.log, d = this.m.cpu.dirty;
    let n = this.queue.length - this.next;
    for (let p = 0; p < log.length; p++) if (log[p] || d[p]) n++;
    return n;
  }

  /** Ends the dirty log (the machine runs on untouched). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.m.cpu.dirtyLog === this.log) this.m.cpu.dirtyLog = null;
    if (this.m.mem.dirtyLog === this.log) this.m.mem.dirtyLog = null;
  }
}

/** The receiver's side: RAM assembled from the pages sent, checked against the identity at M. */
export class PreCopyImage {
  readonly ram: Uint8Array;
  /** 1 for each page put at least once: the others are zero and never read (reading a whole untouched 64 MiB
   *  RAM maps every page of it, about 2 s on a loaded host, in verify() and again in restore()). */
  private readonly put1: Uint8Array;
  private verified: { sections: Record<string, unknown>; hash: string } | undefined;

  /** `ramSize`: the machine's memory size in bytes (a multiple of 4096). */
  constructor(ramSize: number) {
    this.ram = new Uint8Array(ramSize);
    this.put1 = new Uint8Array(Math.ceil(ramSize / PAGE_SIZE));
  }

  /** Puts pages at `offset`; an error message for a range that is not whole pages inside RAM. */
  put(offset: number, bytes: Uint8Array): string | undefined {
    if (this.verified) return 'RAM pages after the snapshot';
    if (offset % PAGE_SIZE !== 0 || offset + bytes.length > this.ram.length || (bytes.length % PAGE_SIZE !== 0 && offset + bytes.length !== this.ram.length))
      return `RAM pages at ${offset} (+${bytes.length}) are not whole pages of a ${this.ram.length}-byte RAM`;
    this.ram.set(bytes, offset);
    this.put1.fill(1, offset / PAGE_SIZE, Math.ceil((offset + bytes.length) / PAGE_SIZE));
    return undefined;
  }

  /**
   * The assembled state with the sections received: its pre-copy identity must be `expect`. Throws
   * SnapshotError (SNAPSHOT_HASH: the assembled state is not the sender's; SNAPSHOT_DECODE) — a broken
   * transfer is never used, not even in part.
   */
  verify(sectionBytes: Uint8Array, expect: string): void {
    const ram = this.ram, pages = Math.ceil(ram.length / PAGE_SIZE), table = new Uint8Array(pages * HASH_BYTES);
    const ramB = Buffer.from(ram.buffer, ram.byteOffset, ram.length);
    for (let p = 0; p < pages; p++) {
      const off = p * PAGE_SIZE, end = Math.min(off + PAGE_SIZE, ram.length);
      table.set(!this.put1[p] || (end - off === PAGE_SIZE && ramB.compare(ZERO_PAGE, 0, PAGE_SIZE, off, end) === 0) ? ZERO_HASH : pageHash(ram.subarray(off, end)), p * HASH_BYTES);
    }
    const hash = precopyId(sectionBytes, table);
    if (hash !== expect) throw new SnapshotError('SNAPSHOT_HASH', `the assembled snapshot is ${hash}, the sender's ${expect}`);
    this.verified = { sections: unpackSections(sectionBytes), hash };
  }

  /** The machine of the verified state (hash = `expectHash`, e.g. the log header's fromSnapshot), wired to `io`. */
  restore(io: MachineIo, expectHash: string): RestoredMachine {
    const v = this.verified;
    if (!v) throw new SnapshotError('SNAPSHOT_HASH', 'the pre-copied snapshot was not verified');
    if (v.hash !== expectHash) throw new SnapshotError('SNAPSHOT_HASH', `snapshot is ${v.hash}, expected ${expectHash}`);
    const pages: number[] = [];
    for (let p = 0; p < this.put1.length; p++) if (this.put1[p]) pages.push(p);
    return restoreSections(v.sections, this.ram, v.hash, io, pages);
  }
}
