// The output seam: the one object every output of the machine crosses (console byte, transmitted
// frame, disk write, disk flush). Imports nothing from Node and nothing above src/machine.
//
// Every output is numbered per stream ('console', 'disk<n>', 'net<n>'; seq from 1, in the order the
// guest produced them, so a primary and a replaying secondary number them alike) and stamped with
// the instruction count that produced it (Cpu.currentIcount(): the instructions retired before it).
// Mode (FT.md "The Output Rule"):
//   live      sent to its sink at once (plain run, record, a primary going on alone);
//   hold      queued until release(X) releases every output stamped <= X (a primary waiting for acks);
//             a guest read of a sector with a held write sees the held data (readThrough);
//   suppress  only counted (and hashed into the tally); the outputs after each stream's release mark
//             are kept, so that go-live can re-issue them (reissue()) before any new output.
// Sinks are synchronous: a console byte or frame has completed at its sink when the sink call
// returned (written, handed to the socket); a disk write only once an fsync that followed it returned
// (a guest flush, or the owner's syncDisks()/synced(): durable, so a host crash cannot lose a write
// the secondary was told not to re-issue). completed() gives, per stream, the highest seq completed:
// the per-stream release mark FT.md speaks of.

import type { DiskBackend } from './gate.js';
import { InvalidArgumentError, InvalidStateError, HostResourceError } from '../errors.js';

export type OutputMode = 'live' | 'hold' | 'suppress';

export type OutputKind = 'console' | 'frame' | 'write' | 'flush';

/** One numbered output. */
export interface Output {
  /** Stream name: 'console', 'disk<n>', 'net<n>'. */
  readonly stream: string;
  /** 1-based position in its stream. */
  readonly seq: number;
  /** Instruction count that produced it. */
  readonly icount: number;
  readonly kind: OutputKind;
  /** Disk or NIC number (0 for the console). */
  readonly dev: number;
  /** console: the byte; write: the byte offset on the disk; otherwise 0. */
  readonly arg: number;
  /** frame or written data (owned by the seam). */
  readonly data?: Uint8Array;
}

/** Where released outputs go. A missing sink swallows its outputs (they still count as completed). */
export interface OutputSinks {
  /** A console byte; `seq` - 1 is its offset in the console stream (a ConsoleFile writes it there). */
  console?: (byte: number, seq: number) => void;
  /** A transmitted frame of NIC `nic`. */
  frame?: (nic: number, frame: Uint8Array, seq: number) => void;
  /** Disk n's backend (write and flush are used; throwing = a host I/O error). */
  disks?: readonly (DiskBackend | undefined)[];
  /** Called with true before release()/reissue() issue several outputs and with false after them: a sink
   *  may gather them meanwhile (the console file writes a released line in one write), but must have
   *  completed every one when batch(false) returns — release()/reissue() return after it, and an owner
   *  reads completed() (its release marks) only then. Throwing = the gathered outputs failed (reported
   *  as the last console byte's failure). */
  batch?: (on: boolean) => void;
}

/** Running count and hash of the console bytes and frames a machine produced (digests cover them). */
export class OutputTally {
  consoleBytes = 0;
  consoleHash = 0x811c9dc5;
  frames = 0;
  frameHash = 0x811c9dc5;

  console(byte: number): void {
    this.consoleBytes++;
    this.consoleHash = Math.imul(this.consoleHash ^ (byte & 0xff), 16777619) >>> 0;
  }

  frame(dev: number, f: Uint8Array): void {
    this.frames++;
    let h = Math.imul(this.frameHash ^ dev, 16777619);
    h = Math.imul(h ^ f.length, 16777619);
    for (let i = 0; i < f.length; i++) h = Math.imul(h ^ f[i]!, 16777619);
    this.frameHash = h >>> 0;
  }

  copyFrom(o: OutputTally): void {
    this.consoleBytes = o.consoleBytes; this.consoleHash = o.consoleHash; this.frames = o.frames; this.frameHash = o.frameHash;
  }
}

/** Per-stream sequence counters (what a snapshot carries so numbering continues). */
export type StreamCounters = Record<string, number>;

export interface OutputSeamOptions {
  mode?: OutputMode;
  sinks?: OutputSinks;
  /** Shared with a recorder/replayer so digests cover the outputs. */
  tally?: OutputTally;
  /** Clock for held ages (ms, any origin); default Date.now. Host bookkeeping, never a guest input. */
  now?: () => number;
  /** Called when a sink throws for a console byte or frame, or when a held/re-issued disk write or
   *  flush fails (the guest was already told it succeeded). */
  onSinkError?: (o: Output, e: unknown) => void;
  /** hold: called after each output is queued (an FT primary sends a sync mark covering it at once). */
  onHold?: () => void;
}

/** Stream index: console 0, disk n 1+2n, NIC n 2+2n. */
const DISK = 1, NET = 2;
function streamIndex(kind: OutputKind, dev: number): number {
  return kind === 'console' ? 0 : kind === 'frame' ? NET + 2 * dev : DISK + 2 * dev;
}
function streamName(i: number): string {
  return i === 0 ? 'console' : (i & 1) ? `disk${(i - DISK) >> 1}` : `net${(i - NET) >> 1}`;
}
function parseStream(name: string): number {
  if (name === 'console') return 0;
  const m = /^(disk|net)(\d+)$/.exec(name);
  if (!m) throw new InvalidArgumentError(`unknown output stream '${name}'`);
  return (m[1] === 'disk' ? DISK : NET) + 2 * Number(m[2]);
}

interface Held { o: Output; at: number; bytes: number }

export class OutputSeam {
  private modeV: OutputMode;
  sinks: OutputSinks;
  /** Counted in every mode; replaceable (a recorder or replayer installs its own). */
  tally: OutputTally;
  /** The machine sets this: instruction count of the instruction executing now. */
  icountSource: () => number = () => 0;
  private readonly now: () => number;
  private readonly onSinkError?: (o: Output, e: unknown) => void;
  /** OutputSeamOptions.onHold; settable (a secondary that went live installs its own). */
  onHold: (() => void) | undefined;
  /** Per stream index: last seq assigned, highest seq issued to its sink (done), highest seq
   *  completed (console, frames: = done; disks: covered by an fsync), last release mark received (suppress). */
  private readonly seqs: number[] = [];
  private readonly done: number[] = [];
  private readonly durable: number[] = [];
  private readonly marks: number[] = [];
  /** hold: outputs waiting for release; suppress: outputs after their stream's release mark. Oldest first. */
  private queue: Held[] = [];
  private qHead = 0;
  private heldBytesV = 0;

  constructor(opts: OutputSeamOptions = {}) {
    this.modeV = opts.mode ?? 'live';
    this.sinks = opts.sinks ?? {};
    this.tally = opts.tally ?? new OutputTally();
    this.now = opts.now ?? Date.now;
    this.onSinkError = opts.onSinkError;
    this.onHold = opts.onHold;
  }

  get mode(): OutputMode { return this.modeV; }

  /**
   * Switch mode. hold -> live releases everything held first; suppress -> live/hold requires the
   * kept outputs to have been re-issued (reissue()) or dropped.
   */
  setMode(m: OutputMode): void {
    if (m === this.modeV) return;
    if (this.modeV === 'hold' && m !== 'hold') this.release(Infinity);
    if (this.modeV === 'suppress') {
      if (this.held.length) throw new InvalidStateError(`output seam: ${this.held.length} kept output(s) must be re-issued before leaving suppress mode`);
    }
    if (m === 'suppress' && this.held.length) throw new InvalidStateError('output seam: release held outputs before suppressing');
    this.modeV = m;
  }

  // ---- outputs, as the devices produce them ------------------------------------------------

  /** A byte the guest transmitted on COM1. */
  console(byte: number): void {
    this.tally.console(byte);
    const seq = this.seqs[0] = (this.seqs[0] ?? 0) + 1;
    if (this.modeV === 'live') {
      // the common case: no allocation
      try { this.sinks.console?.(byte, seq); } catch (e) { this.onSinkError?.(this.make('console', 0, seq, this.icountSource(), byte), e); }
      this.done[0] = seq;
      return;
    }
    this.enqueue(this.make('console', 0, seq, this.icountSource(), byte), 1);
  }

  /** A frame NIC `nic` transmitted. */
  frame(nic: number, f: Uint8Array): void {
    this.tally.frame(nic, f);
    const s = NET + 2 * nic;
    const seq = this.seqs[s] = (this.seqs[s] ?? 0) + 1;
    if (this.modeV === 'live') {
      try { this.sinks.frame?.(nic, f, seq); } catch (e) { this.onSinkError?.(this.make('frame', nic, seq, this.icountSource(), 0, f), e); }
      this.done[s] = seq;
      return;
    }
    this.enqueue(this.make('frame', nic, seq, this.icountSource(), 0, f.slice()), f.length);
  }

  /**
   * A disk write at `icount` (called by the gate). live: written now, returns whether it succeeded;
   * hold: queued, returns true (the pair, not this host, makes it durable); suppress: counted and
   * kept, returns `logged` (the status the primary logged).
   */
  diskWrite(icount: number, disk: number, offset: number, data: Uint8Array, logged?: boolean): boolean {
    const s = DISK + 2 * disk;
    const seq = this.seqs[s] = (this.seqs[s] ?? 0) + 1;
    if (this.modeV === 'live') {
      const ok = this.writeNow(disk, offset, data);
      this.done[s] = seq;
      return ok;
    }
    this.enqueue(this.make('write', disk, seq, icount, offset, data.slice()), data.length);
    return this.modeV === 'suppress' ? logged ?? true : true;
  }

  /** A disk flush at `icount`; as diskWrite. */
  diskFlush(icount: number, disk: number, logged?: boolean): boolean {
    const s = DISK + 2 * disk;
    const seq = this.seqs[s] = (this.seqs[s] ?? 0) + 1;
    if (this.modeV === 'live') {
      const ok = this.flushNow(disk);
      this.done[s] = seq;
      if (ok) this.durable[s] = seq;
      return ok;
    }
    this.enqueue(this.make('flush', disk, seq, icount, 0), 0);
    return this.modeV === 'suppress' ? logged ?? true : true;
  }

  /**
   * Read-through of held writes: patches `data` (read from disk `disk` at byte `offset`) with every
   * held write that overlaps it, oldest first. Returns `data` or, when patched, a patched copy.
   */
  readThrough(disk: number, offset: number, data: Uint8Array): Uint8Array {
    if (this.modeV !== 'hold') return data;
    let out = data;
    const end = offset + data.length;
    for (let i = this.qHead; i < this.queue.length; i++) {
      const o = this.queue[i]!.o;
      if (o.kind !== 'write' || o.dev !== disk) continue;
      const w = o.data!, ws = o.arg, we = ws + w.length;
      if (we <= offset || ws >= end) continue;
      if (out === data) out = data.slice();
      const from = Math.max(ws, offset), to = Math.min(we, end);
      out.set(w.subarray(from - ws, to - ws), from - offset);
    }
    return out;
  }

  // ---- hold mode ---------------------------------------------------------------------------

  /**
   * hold: issue every held output stamped <= `upToIcount`, in production order. Returns how many.
   * `deferFlushes`: a held disk flush is not fsynced here (the guest was told it completed when it was
   * held): it counts as issued, its disk stays in unsynced() until the owner's asynchronous fsync
   * returns (synced()), so the completion marks still follow a real fsync. An FT primary's ack path
   * uses it: an fsync on its main thread stopped the guest and the reading of acks (1-40 ms each).
   */
  release(upToIcount: number, deferFlushes = false): number {
    if (this.modeV !== 'hold') return 0;
    let n = 0;
    this.batchBegin();
    try {
      while (this.qHead < this.queue.length && this.queue[this.qHead]!.o.icount <= upToIcount) {
        const h = this.queue[this.qHead++]!;
        this.heldBytesV -= h.bytes;
        this.issue(h.o, deferFlushes);
        n++;
      }
    } finally { this.batchEnd(); }
    this.compact();
    return n;
  }

  /** The last console byte issued within the current batch (its failure report names it). */
  private batchLast: Output | undefined;
  private batchBegin(): void {
    this.batchLast = undefined;
    try { this.sinks.batch?.(true); } catch { /* nothing gathered yet */ }
  }
  private batchEnd(): void {
    const last = this.batchLast;
    this.batchLast = undefined;
    try { this.sinks.batch?.(false); } catch (e) { if (last) this.onSinkError?.(last, e); }
  }

  // ---- suppress mode -----------------------------------------------------------------------

  /**
   * suppress: the primary's release marks (per stream, highest seq completed at its sink): drop
   * the kept outputs they cover and keep no later output they cover either.
   */
  trim(marks: Readonly<Record<string, number>>): void {
    for (const [name, seq] of Object.entries(marks)) {
      const i = parseStream(name);
      if (seq > (this.marks[i] ?? 0)) this.marks[i] = seq;
      if (seq > (this.done[i] ?? 0)) this.done[i] = seq;
      if (seq > (this.durable[i] ?? 0)) this.durable[i] = seq;
    }
    if (this.modeV !== 'suppress') return;
    const keep: Held[] = [];
    let bytes = 0;
    for (let i = this.qHead; i < this.queue.length; i++) {
      const h = this.queue[i]!;
      if (h.o.seq <= (this.marks[streamIndex(h.o.kind, h.o.dev)] ?? 0)) continue;
      keep.push(h); bytes += h.bytes;
    }
    this.queue = keep; this.qHead = 0; this.heldBytesV = bytes;
  }

  /** suppress -> go-live: issue every kept output (per stream, in order) to the sinks now. Returns how many. */
  reissue(): number {
    let n = 0;
    this.batchBegin();
    try {
      while (this.qHead < this.queue.length) {
        const h = this.queue[this.qHead++]!;
        this.issue(h.o);
        n++;
      }
    } finally { this.batchEnd(); }
    this.queue = []; this.qHead = 0; this.heldBytesV = 0;
    return n;
  }

  // ---- what the owner observes -------------------------------------------------------------

  /** Outputs held (hold) or kept (suppress), oldest first. */
  get held(): readonly Output[] { return this.queue.slice(this.qHead).map((h) => h.o); }
  get heldCount(): number { return this.queue.length - this.qHead; }
  /** Bytes of held/kept outputs (a console byte counts 1, a flush 0). */
  get heldBytes(): number { return this.heldBytesV; }
  /** Age (ms) of the oldest held output; 0 when none. */
  heldAgeMs(): number { return this.qHead < this.queue.length ? this.now() - this.queue[this.qHead]!.at : 0; }
  /** icount of the oldest held output, or undefined. */
  get oldestHeldIcount(): number | undefined { return this.qHead < this.queue.length ? this.queue[this.qHead]!.o.icount : undefined; }

  /** Per stream: the last seq assigned (deterministic: a snapshot carries these). */
  counters(): StreamCounters {
    const c: StreamCounters = {};
    this.seqs.forEach((v, i) => { if (v) c[streamName(i)] = v; });
    return c;
  }
  /** Continue numbering from a snapshot's counters (everything up to them counts as completed). */
  setCounters(c: Readonly<StreamCounters>): void {
    for (const [name, v] of Object.entries(c)) { const i = parseStream(name); this.seqs[i] = v; this.done[i] = v; this.durable[i] = v; this.marks[i] = v; }
  }
  /** Per stream: the highest seq completed at its sink (a primary's release marks); for a disk,
   *  every write up to it was followed by a completed fsync. */
  completed(): Record<string, number> {
    const c: Record<string, number> = {};
    this.done.forEach((v, i) => {
      const n = i !== 0 && (i & 1) ? this.durable[i] ?? 0 : v;
      if (n) c[streamName(i)] = n;
    });
    return c;
  }

  /** Disks with writes issued but not yet covered by a completed fsync: [disk, highest such seq]. */
  unsynced(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = DISK; i < this.done.length; i += 2) {
      if ((this.done[i] ?? 0) > (this.durable[i] ?? 0)) out.push([(i - DISK) >> 1, this.done[i]!]);
    }
    return out;
  }

  /** An fsync of disk `disk`, started after output `seq` of its stream was issued, returned. */
  synced(disk: number, seq: number): void {
    const i = DISK + 2 * disk;
    if (seq > (this.durable[i] ?? 0)) this.durable[i] = seq;
  }

  /** fsync now (synchronously) every disk with writes not yet durable; returns how many synced.
   *  A failed fsync leaves its writes not completed (reported through onSinkError). */
  syncDisks(): number {
    let n = 0;
    for (const [disk, seq] of this.unsynced()) {
      if (this.flushNow(disk)) { this.synced(disk, seq); n++; }
      else this.onSinkError?.(this.make('flush', disk, seq, this.icountSource(), 0), new HostResourceError(`disk ${disk}: fsync failed`));
    }
    return n;
  }

  // ---- internals ---------------------------------------------------------------------------

  private make(kind: OutputKind, dev: number, seq: number, icount: number, arg: number, data?: Uint8Array): Output {
    return { stream: streamName(streamIndex(kind, dev)), seq, icount, kind, dev, arg, data };
  }

  private enqueue(o: Output, bytes: number): void {
    if (this.modeV === 'suppress' && o.seq <= (this.marks[streamIndex(o.kind, o.dev)] ?? 0)) return; // already completed on the primary
    this.queue.push({ o, at: this.modeV === 'hold' ? this.now() : 0, bytes });
    this.heldBytesV += bytes;
    if (this.modeV === 'hold') this.onHold?.();
  }

  private compact(): void {
    if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) { this.queue = this.queue.slice(this.qHead); this.qHead = 0; }
    else if (this.qHead === this.queue.length) { this.queue = []; this.qHead = 0; }
  }

  /** Send one output to its sink and mark it completed. */
  private issue(o: Output, deferFlush = false): void {
    let ok = true, err: unknown;
    const deferred = deferFlush && o.kind === 'flush';
    try {
      switch (o.kind) {
        case 'console': this.batchLast = o; this.sinks.console?.(o.arg, o.seq); break;
        case 'frame': this.sinks.frame?.(o.dev, o.data!, o.seq); break;
        case 'write': ok = this.writeNow(o.dev, o.arg, o.data!); break;
        case 'flush': ok = deferred ? this.sinks.disks?.[o.dev] !== undefined : this.flushNow(o.dev); break;
      }
    } catch (e) { ok = false; err = e; }
    if (!ok) this.onSinkError?.(o, err ?? new HostResourceError(`disk ${o.dev}: ${o.kind} failed`));
    const i = streamIndex(o.kind, o.dev);
    if (o.seq > (this.done[i] ?? 0)) this.done[i] = o.seq;
    // a completed flush makes every earlier write of its disk durable; a write alone does not (nor a deferred flush: unsynced() until synced())
    if (o.kind !== 'write' && !deferred && (o.kind !== 'flush' || ok) && o.seq > (this.durable[i] ?? 0)) this.durable[i] = o.seq;
  }

  private writeNow(disk: number, offset: number, data: Uint8Array): boolean {
    const d = this.sinks.disks?.[disk];
    if (!d) return false;
    try { d.write(offset, data); return true; } catch { return false; }
  }

  private flushNow(disk: number): boolean {
    const d = this.sinks.disks?.[disk];
    if (!d) return false;
    try { d.flush(); return true; } catch { return false; }
  }
}
