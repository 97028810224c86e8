// The replay session (rr's ReplaySession): the step API under the Replayer and the FT secondary.
// It owns its log decoder and the replaying machine: feed() log bytes as they arrive, run() to
// what is complete (never past a limit the caller gives, e.g. the last sync mark), and goLive(G)
// to consume exactly the entries with icount < G and hand the machine over. Takes bytes, never a
// socket; imports nothing from src/ft.

import { Machine, type MachineConfig, type MachineIo, type RunResult } from '../machine/machine.js';
import { ReplayGate, GateDivergence, GateSwitch } from '../machine/gate.js';
import { OutputSeam, type OutputSinks } from '../machine/outputs.js';
import type { DiskBackend, GuestTime } from '../machine/gate.js';
import { CorruptLogError, LogDecoder, type TruncatedLogError } from './codec.js';
import type { LogEntry, LogHeader } from './format.js';
import { entryToGate, gateToEntry } from './gate-entries.js';
import { OutputTally, computeDigest, deviceNames, digestLayout, firstDifference, markLoadedPages, recordedDigest, resetDirty, sameDigest, type Digest } from './digest.js';
import { configFromJson, restoreSnapshot, restoredOutputs, type RestoredMachine } from './machine-snapshot.js';
import { snapshotPoint } from '../cpu/state.js';
import { fromBoot, sha256Hex, SNAPSHOT_END_REASON } from './recorder.js';
import { InternalError, X86ftError, InvalidArgumentError } from '../errors.js';

/** End reasons of a recording that stopped a still-running guest (budget, signal, snapshot taken):
 *  the replay is identical when it reaches that icount still running. */
const STOPPED_REASONS = new Set(['budget', 'stopped', SNAPSHOT_END_REASON]);

/** How a replay ended. */
export type ReplayOutcome =
  /** Every digest matched and the run ended as recorded. */
  | 'identical'
  /** The replay stopped at a difference (see divergence). */
  | 'divergence'
  /** The log ended (finished) before the run did: replayed as far as the log goes, no end record. */
  | 'incomplete';

export interface Divergence {
  /** Instruction count where it was detected. */
  icount: number;
  /** 'digest' (a digest did not match), 'gate' (the log and the machine disagree on an input),
   *  'end' (the run ended differently), 'machine' (the replay stopped in a way the log does not explain). */
  kind: 'digest' | 'gate' | 'end' | 'machine';
  /** The first difference, e.g. "RAX: recorded 0x…, replayed 0x…". */
  message: string;
  /** icount of the last digest that matched (-1: none). */
  lastGoodDigest: number;
  /** The last log entries consumed before the divergence (oldest first). */
  lastEntries: string[];
}

export interface ReplayReport {
  outcome: ReplayOutcome;
  header: LogHeader;
  /** Instructions retired (total count, from boot). */
  instructions: number;
  /** How the replayed run ended, when it did. */
  run?: RunResult;
  /** The end record of the log (reason, status), when present. */
  recordedEnd?: { reason: string; status: number };
  digestsChecked: number;
  entries: number;
  divergence?: Divergence;
  /** Suppressed outputs. */
  consoleBytes: number;
  frames: number;
  /** The log just stops (no end frame: a killed recorder, or a follower gave up waiting): it was
   *  replayed up to its last whole frame, and the outcome is 'incomplete' unless it diverged. */
  unfinished?: { offset: number; message: string };
}

export interface ReplayerOptions {
  /** The guest image: checked against header.imageSha256 (unless the run starts from a snapshot). */
  image?: Uint8Array;
  /** Snapshot bytes, when the log starts from one (header.fromSnapshot). */
  snapshot?: Uint8Array;
  /** Instead of `snapshot`: the machine of the snapshot the log starts from (a pre-copied one,
   *  precopy.ts PreCopyImage.restore), given the header's fromSnapshot to check. */
  restore?: (io: MachineIo, expectHash: string) => RestoredMachine;
  /** Receives each replayed console byte (e.g. to show what the guest printed); ignored with `outputs`. */
  consoleOut?: (byte: number) => void;
  /** Receives each replayed frame; ignored with `outputs`. */
  netOut?: (dev: number, frame: Uint8Array) => void;
  /** Sees each disk write the guest makes (the disk itself is not touched on replay); e.g. a
   *  secondary keeping its own copy of the disk image. Ignored with `outputs`. */
  diskWrite?: (disk: number, offset: number, data: Uint8Array) => void;
  /** The machine's output seam (an FT secondary: mode 'suppress'). Default: a live seam whose sinks
   *  are consoleOut, netOut and diskWrite (observers: nothing reaches a real backend). */
  outputs?: OutputSeam;
  /** Stop at this icount (total) even if the log goes on; outcome 'incomplete'. */
  stopAt?: number;
  /** Called at each matched digest (e.g. to snapshot there: the machine is between slices). */
  onDigest?: (m: Machine, icount: number, outputs: OutputTally) => void;
  /** Entries kept for the divergence report (default 8). */
  historyLength?: number;
  /** Log entries handed to the machine at a time (default 256, >= 1). Any value replays alike: the
   *  machine never runs past an entry it has not been handed (a tuning knob and a test hook). */
  releaseBatch?: number;
}

/** Why the replayer refused a log or its inputs before replaying (image/snapshot mismatch). */
export class ReplaySetupError extends X86ftError {
  constructor(msg: string) { super('X86FT_REPLAY_SETUP', msg); this.name = 'ReplaySetupError'; }
}

/** Short text of an entry for reports. */
export function describeEntry(e: LogEntry): string {
  const p = e.payload as unknown as Record<string, unknown>;
  const parts = Object.entries(p).map(([k, v]) => {
    if (v instanceof Uint8Array) return `${k}=bytes[${v.length}]`;
    if (typeof v === 'number' && (k === 'lo' || k === 'hi')) return `${k}=0x${(v >>> 0).toString(16)}`; // a 32-bit half, unsigned
    return `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
  });
  return `@${e.icount} ${e.kind} ${parts.join(' ')}`;
}

/** An observing DiskBackend: sees writes, never reads (a replay reads from the log). */
function tapDisk(disk: number, tap: (disk: number, offset: number, data: Uint8Array) => void): DiskBackend {
  return { size: 0, read: () => { throw new InternalError('replay: disk reads come from the log'); }, write: (o, d) => tap(disk, o, d), flush: () => {} };
}

/** Entries handed to the gate at a time. */
const RELEASE_BATCH = 256;

/**
 * A record of the log that is not a gate value and acts on the machine at its count: a digest (checked),
 * a start (a recorder attached there: its dirty-page set starts there, chain.ts) or a snapshot (the
 * recorder took one there: a snapshot point). `gateBefore`: gate records the log holds before it.
 *
 * Ordering rule (FT.md "Generation logs": the chain is one run, and an FT secondary replays what the
 * primary wrote): the records of one count are taken in the order the recorder wrote them, whatever
 * their kind. A live run at count X polls (a poll unit), and between its slices a recorder may attach
 * (start; a primary going on alone carries the records of its poll at G before generation g+1's
 * start), digest, take a join snapshot (digest then snapshot), then poll again at X (a guest waiting
 * in HLT) before it executes anything: so at X the replay delivers exactly the poll units logged before
 * a mark, takes the mark, and only then the units after it. The gate is held at the first mark's
 * position (ReplayGate.hold) so that the machine's own poll at X cannot take a unit logged after it;
 * loop() takes the marks at the machine's count at its head, in order (takeMark). Nothing at X that a
 * guest instruction asks for (TSC, RDRAND, disk) can come before a mark at X: those are logged when
 * the machine executes from X, after every mark there.
 */
interface Mark { icount: number; kind: 'digest' | 'start' | 'snapshot'; gateBefore: number; d?: Digest; hash?: string }

/** Where a session stands after run(). */
export type StepState =
  /** Needs more log (or a higher limit) to go on. */
  | { done: false }
  /** The replay is over (ended as recorded, diverged, or stopped at stopAt). */
  | { done: true; report: ReplayReport };

/** What goLive() hands over. */
export interface GoLive {
  machine: Machine;
  /** The switch under the machine's devices: use(liveGate) swaps the replay gate out. */
  gate: GateSwitch;
  /** The machine's instruction count (G, or earlier when the guest waits in HLT with no more log). */
  icount: number;
  /** Guest time (ns) and last TSC the replay delivered. */
  timeNs: number;
  lastTsc: number;
  /** Where guest time stands (with the RTC's wall origin): a live gate resumes from it, new LiveGate(b, { resume: time }). */
  time: GuestTime;
  /** Entries dropped (icount >= G). */
  dropped: number;
  /** What the machine took at its count before G (or where it waits), in log order: its snapshot's `carried`
   *  and the snapshot itself when it is still at the snapshot's count, then the gate values and snapshot
   *  records of this log at that count. The recorder of the log from here carries them (RecorderOptions.carried):
   *  a chain replay takes this log's entries < that count only (FT.md "Generation logs"). */
  carried: LogEntry[];
  /** Set when the guest already ended (or the replay diverged) before G: nothing to go live with. */
  report?: ReplayReport;
}

/**
 * One replay, driven by its owner. Errors: feed()/end() throw LogError for a cut or corrupted log,
 * HeaderMismatchError / ReplaySetupError for a log not for this image or snapshot.
 */
export class ReplaySession {
  machine: Machine | undefined;
  header: LogHeader | undefined;
  readonly outputs = new OutputTally();
  private readonly decoder: LogDecoder;
  private readonly gate = new ReplayGate([], false);
  private readonly sw = new GateSwitch(this.gate);
  /** Decoded entries not yet given to the gate (icount above the caller's limit). */
  private pending: LogEntry[] = [];
  private pHead = 0;
  /** The log's digest, start and snapshot records not taken yet, in log order (see Mark). */
  private marks: Mark[] = [];
  /** The snapshot records taken at the machine's count, with the gate position they came at (goLive's carried). */
  private snapsHere: { icount: number; pos: number; hash: string }[] = [];
  /** The snapshot the log starts from: its count and what the machine took there (SnapshotMeta.carried, the snapshot). */
  private restoredAt: { icount: number; entries: LogEntry[] } | undefined;
  private pendingDetail: LogEntry | undefined;
  private endRec: { icount: number; reason: string; status: number } | undefined;
  private complete = false;
  private history: string[] = [];
  private entries = 0;
  private devNames: string[] = [];
  private checked = 0;
  private lastGood = -1;
  private final: ReplayReport | undefined;
  private lastEntryIcountV = -1;
  private headerErr: unknown;
  /** The log stopped without its end frame (format.ts: unfinished): replay up to its last whole frame. */
  private unfinishedErr: TruncatedLogError | undefined;

  private readonly batch: number;

  constructor(private readonly opts: ReplayerOptions = {}) {
    const b = opts.releaseBatch ?? RELEASE_BATCH;
    if (!Number.isInteger(b) || b < 1) throw new InvalidArgumentError(`releaseBatch must be an integer >= 1, not ${b}`);
    this.batch = b;
    this.decoder = new LogDecoder({
      // CRC-valid but impossible content is a bad log naming the field (format.ts M16, M17)
      content: true,
      onHeader: (h) => { try { this.onHeader(h); } catch (e) { this.headerErr = e; throw e; } },
    });
  }

  /**
   * The log just stops (`e` from end(): a killed recorder, a follower that gave up): replay what it
   * holds, up to its last whole frame and no further, and report 'incomplete' with `unfinished`
   * (unless it diverges first). Needs the header (else there is nothing to replay: rethrow `e`).
   */
  unfinished(e: TruncatedLogError): void {
    if (!this.machine) throw e;
    this.unfinishedErr = e;
    this.complete = true;
    if (this.final) this.final = this.finish(this.final);
  }

  /** Where an unfinished log lets the machine run to (Infinity otherwise). */
  private get logLimit(): number { return this.unfinishedErr ? Math.max(this.lastEntryIcountV, 0) : Infinity; }

  private finish(r: ReplayReport): ReplayReport {
    const u = this.unfinishedErr;
    if (!u) return r;
    return { ...r, outcome: r.outcome === 'identical' ? 'incomplete' : r.outcome, unfinished: { offset: u.offset, message: u.message } };
  }

  private consoleInputBytesV = 0;
  /** Console input bytes handed to the machine so far (after goLive: those consumed before G). */
  get consoleInputBytes(): number { return this.consoleInputBytesV; }
  /** icount of the last entry decoded (-1: none yet). */
  get lastEntryIcount(): number { return this.lastEntryIcountV; }
  /** The log's end frame has been decoded (or end() was called). */
  get logComplete(): boolean { return this.complete; }
  /** The decoder (offsets, frames, trailer). */
  get log(): LogDecoder { return this.decoder; }
  /** The replay's result once over. */
  get result(): ReplayReport | undefined { return this.final; }

  /** Next bytes of the log. Throws LogError / ReplaySetupError (sticky: the session is unusable after). */
  feed(bytes: Uint8Array): void {
    if (this.complete) return; // bytes after the end frame: the decoder rejects them on its own terms
    this.decoder.push(bytes);
    this.drain();
  }

  /** The source ended: throws TruncatedLogError if the log stops inside a frame or before its end frame. */
  end(): void {
    if (this.complete) return;
    this.decoder.eof();
    this.drain();
    this.complete = true;
  }

  private drain(): void {
    try {
      for (let e = this.decoder.read(); e !== undefined; e = this.decoder.read()) {
        if (e.kind === 'digest-detail') {
          // the register file's layout is the digest's (format.ts M16): check it on arrival
          try { recordedDigest(new Uint8Array(0), e.payload, digestLayout(this.header!.version)); } catch (err) {
            throw new CorruptLogError(this.decoder.offset, `digest-detail at icount ${e.icount}: ${(err as Error).message}`);
          }
        }
        this.pending.push(e);
        this.lastEntryIcountV = e.icount;
      }
    } catch (e) { throw this.headerErr ?? e; }
    if (this.decoder.trailer) this.complete = true;
  }

  private onHeader(h: LogHeader): void {
    const io = { gate: this.sw, outputs: this.opts.outputs ?? this.observer((configFromJson(h.devices).disks ?? []).length) };
    if (h.fromSnapshot === null) {
      if (!this.opts.image) throw new ReplaySetupError('the log starts from boot: the guest image is needed');
      // a snapshot given for a log from boot would be ignored: the caller meant another log or snapshot
      if (this.opts.snapshot || this.opts.restore) throw new ReplaySetupError('the log starts from boot, not from a snapshot: the snapshot given is not this log\'s');
      // a later generation's log (FT.md "Generation logs": it starts at G, where the previous one stops) cannot be
      // replayed from boot: it replayed and reported a divergence that is not there (new-user trial)
      if (h.startIcount !== 0) {
        const ft = (h as unknown as { ft?: { generation?: unknown; previousGeneration?: unknown } }).ft;
        const gen = typeof ft?.generation === 'number' ? ` (generation ${ft.generation}${typeof ft.previousGeneration === 'number' ? `, following generation ${ft.previousGeneration}` : ''})` : '';
        throw new ReplaySetupError(`the log${gen} starts at instruction ${h.startIcount}, where an earlier log stops: replay it after the logs before it (x86ft replay GEN1.log … this log, or x86ft replay --control SPEC NAME)`);
      }
      const sha = sha256Hex(this.opts.image);
      if (sha !== h.imageSha256) throw new ReplaySetupError(`the image's SHA-256 ${sha} is not the log's ${h.imageSha256}`);
      const config: MachineConfig = configFromJson(h.devices);
      if ((config.memSize ?? 0) !== h.memorySize) throw new ReplaySetupError(`header memory size ${h.memorySize} != device configuration ${String(config.memSize)}`);
      this.machine = Machine.fromElf(this.opts.image, { ...config, ...io });
    } else {
      const { snapshot, restore } = this.opts;
      if (!snapshot && !restore) throw new ReplaySetupError(`the log starts from snapshot ${h.fromSnapshot}: the snapshot file is needed`);
      let r;
      try {
        r = snapshot ? restoreSnapshot(snapshot, io, { expectHash: h.fromSnapshot }) : restore!(io, h.fromSnapshot);
      } catch (e) { throw new ReplaySetupError((e as Error).message); }
      if (r.meta.imageSha256 !== h.imageSha256) throw new ReplaySetupError(`snapshot is of image ${r.meta.imageSha256}, the log of ${h.imageSha256}`);
      if (this.opts.image && sha256Hex(this.opts.image) !== h.imageSha256) throw new ReplaySetupError(`the image's SHA-256 is not the log's ${h.imageSha256}`);
      if (r.icount !== h.startIcount) throw new ReplaySetupError(`snapshot is at icount ${r.icount}, the log starts at ${h.startIcount}`);
      this.machine = r.machine;
      restoredOutputs(r.meta, this.outputs);
      // guest time as the snapshot saved it: going live before a Time record came resumes from it, not from 0
      this.gate.resumeFrom(r.meta.time);
      this.restoredAt = { icount: r.icount, entries: [...(r.meta.carried ?? []), { icount: r.icount, kind: 'snapshot', payload: { hash: h.fromSnapshot } }] };
    }
    this.machine.outputs.tally = this.outputs;
    // M18: a v3 log from boot digests RAM as loaded first (the header's configuration is checked)
    if (fromBoot(h)) markLoadedPages(this.machine); else resetDirty(this.machine);
    this.devNames = deviceNames(this.machine);
    this.header = h;
  }

  /** The default seam of a plain replay: live, to observers only. */
  private observer(disks: number): OutputSeam {
    const o = this.opts;
    const sinks: OutputSinks = { console: o.consoleOut, frame: o.netOut };
    const tap = o.diskWrite;
    if (tap) sinks.disks = Array.from({ length: disks }, (_, n) => tapDisk(n, tap));
    return new OutputSeam({ sinks });
  }

  /** Sorts one entry into the gate, the digest queue or the end record. */
  private take(e: LogEntry): void {
    this.entries++;
    if (e.kind === 'console-input') this.consoleInputBytesV += e.payload.data.length;
    const h = this.history;
    h.push(describeEntry(e));
    // keep enough to cover a released batch the machine has not reached yet
    const keep = (this.opts.historyLength ?? 8) * 2 + this.batch;
    if (h.length > keep * 2) h.splice(0, h.length - keep);
    const g = entryToGate(e);
    if (g) { this.gate.feed([g]); return; }
    switch (e.kind) {
      case 'digest-detail': this.pendingDetail = e; break;
      case 'digest': {
        const det = this.pendingDetail && this.pendingDetail.icount === e.icount && this.pendingDetail.kind === 'digest-detail' ? this.pendingDetail.payload : undefined;
        this.pendingDetail = undefined;
        this.marks.push({ icount: e.icount, kind: 'digest', d: recordedDigest(e.payload.hash, det, digestLayout(this.header!.version)), gateBefore: this.gate.fed });
        break;
      }
      case 'end': this.endRec = { icount: e.icount, reason: e.payload.reason, status: e.payload.status }; break;
      case 'start': this.marks.push({ icount: e.icount, kind: e.kind, gateBefore: this.gate.fed }); break;
      case 'snapshot': this.marks.push({ icount: e.icount, kind: e.kind, gateBefore: this.gate.fed, hash: e.payload.hash }); break;
      default: break; // heartbeat: nothing to replay
    }
  }

  /** Holds the gate at the first mark not taken (Mark: the ordering rule). */
  private holdGate(): void { this.gate.hold(this.marks.length ? this.marks[0]!.gateBefore : Infinity); }

  /** Give the gate the next pending entries with icount <= limit (at most `max`: the divergence
   *  report's history stays near where the machine is). Returns how many. */
  private release(limit: number, max = Infinity): number {
    const p = this.pending;
    let n = 0;
    // never stop between entries of one icount (a digest and the snapshot record after it go together)
    let last = -1;
    while (this.pHead < p.length && p[this.pHead]!.icount <= limit && (n < max || p[this.pHead]!.icount === last)) { last = p[this.pHead]!.icount; this.take(p[this.pHead++]!); n++; }
    if (this.pHead === p.length) { this.pending = []; this.pHead = 0; }
    else if (this.pHead > 4096) { this.pending = p.slice(this.pHead); this.pHead = 0; }
    this.holdGate();
    // the whole log has reached the gate: it may end
    if (this.complete && !this.unfinishedErr && this.pHead === this.pending.length) this.gate.end();
    return n;
  }

  /** History up to (and including) entries at or before `icount`. */
  private lastEntries(icount: number): string[] {
    const n = this.opts.historyLength ?? 8;
    const upto = this.history.filter((s) => Number(s.slice(1, s.indexOf(' '))) <= icount);
    return upto.slice(-n);
  }

  private report(outcome: ReplayOutcome, run?: RunResult, divergence?: Divergence): ReplayReport {
    const m = this.machine!;
    return this.final = this.finish({
      outcome, header: this.header!, instructions: m.cpu.icount, run, recordedEnd: this.endRec ? { reason: this.endRec.reason, status: this.endRec.status } : undefined,
      digestsChecked: this.checked, entries: this.entries, divergence,
      consoleBytes: this.outputs.consoleBytes, frames: this.outputs.frames,
    });
  }

  private diverge(kind: Divergence['kind'], message: string, run?: RunResult): ReplayReport {
    const m = this.machine!;
    return this.report('divergence', run, { icount: m.cpu.icount, kind, message, lastGoodDigest: this.lastGood, lastEntries: this.lastEntries(m.cpu.icount) });
  }

  /** Takes the first mark, at the machine's count (Mark: the ordering rule). */
  private takeMark(run?: RunResult): ReplayReport | null {
    const m = this.machine!;
    const k = this.marks.shift()!;
    // First the poll units logged before it at this count: the machine polled once here at most (a
    // guest idling in HLT polls several times at one count, e.g. a recording stopped by a signal).
    try {
      while (this.gate.consumed < k.gateBefore && this.gate.poll(m.cpu.icount)) { /* one logged poll unit per call */ }
    } catch (e) {
      if (e instanceof GateDivergence) return this.diverge('gate', e.message.replace(/^replay divergence: /, ''), run);
      throw e;
    }
    this.holdGate();
    switch (k.kind) {
      // A recorder starts its dirty-page set where it attaches: so does the replay, which matters where
      // a chain of logs continues (generation g+1 from G); RAM as loaded for a v3 log from boot (M18).
      case 'start':
        if (m.cpu.icount === 0 && fromBoot(this.header!)) markLoadedPages(m); else resetDirty(m);
        return null;
      // Taking a snapshot is a snapshot point on the recording machine (cached translations and
      // decoded code dropped, every page clean): the replay does the same there, or a guest that
      // relies on a stale translation would run differently past a live snapshot (respawn).
      case 'snapshot':
        snapshotPoint(m.cpu);
        resetDirty(m);
        this.snapsHere = this.snapsHere.filter((s) => s.icount === k.icount);
        this.snapsHere.push({ icount: k.icount, pos: this.gate.consumed, hash: k.hash! });
        return null;
      case 'digest': return this.check(k, run);
    }
  }

  /** Takes the marks at the machine's count (Mark), in log order. */
  private takeMarksHere(run?: RunResult): ReplayReport | null {
    while (this.marks.length && this.marks[0]!.icount === this.machine!.cpu.icount) {
      const d = this.takeMark(run);
      if (d) return d;
    }
    return null;
  }

  private check(want: Mark, run?: RunResult): ReplayReport | null {
    const m = this.machine!;
    const layout = digestLayout(this.header!.version);
    const got = computeDigest(m, this.outputs, layout);
    if (!sameDigest(want.d!, got)) {
      const diff = firstDifference(want.d!, got, this.devNames, layout);
      return this.diverge('digest', `digest at icount ${want.icount} differs: ${diff.message}`, run);
    }
    this.checked++; this.lastGood = want.icount;
    this.opts.onDigest?.(m, m.cpu.icount, this.outputs);
    return null;
  }

  /**
   * Replay as far as the log received so far allows, consuming only entries with icount <= `limit`
   * (an FT secondary passes its last sync mark). Synchronous; returns when more log is needed, the
   * replay is over, or host time passed `deadline` (a performance.now() value, ms: an FT secondary
   * slices replay by time so its acks and heartbeats keep going out).
   */
  run(limit = Infinity, deadline = Infinity): StepState {
    if (this.final) return { done: true, report: this.final };
    if (!this.machine) return { done: false };
    if (this.ranEnd) { this.release(limit); return this.resumeEnded(); }
    const cap = limit === Infinity ? Infinity : limit + 1;
    for (;;) {
      this.release(limit, this.batch);
      const r = this.loop(cap, false, deadline);
      if (r) return { done: true, report: r };
      if (this.ranEnd) return this.resumeEnded();
      const more = this.pHead < this.pending.length && this.pending[this.pHead]!.icount <= limit;
      if (!more || this.machine.cpu.icount >= cap || performance.now() >= deadline) return { done: false };
    }
  }

  /** The run loop: null = wait for more log. `cap` bounds the icount (go-live: G). */
  private loop(cap: number, goingLive = false, deadline = Infinity): ReplayReport | null {
    const m = this.machine!;
    let last: RunResult | undefined;
    for (;;) {
      // the digest, start and snapshot records at this count, in log order (Mark: the ordering rule)
      const k = this.marks[0];
      if (k && k.icount < m.cpu.icount) return this.diverge('machine', `the log has a ${k.kind} record at icount ${k.icount}, the replay is already at ${m.cpu.icount}`, last);
      const d = this.takeMarksHere(last);
      if (d) return d;
      const nextMark = this.marks.length ? this.marks[0]!.icount : Infinity;
      const endAt = this.endRec ? this.endRec.icount : Infinity;
      // never past an entry not handed over yet (a digest or the end record there would be missed)
      const unreleased = this.pHead < this.pending.length ? this.pending[this.pHead]!.icount : Infinity;
      const target = Math.min(nextMark, endAt, this.opts.stopAt ?? Infinity, cap, this.logLimit, unreleased);
      if (target < m.cpu.icount) return this.diverge('machine', `the log has a record at icount ${target}, the replay is already at ${m.cpu.icount}`, last);
      let r: RunResult;
      try {
        r = m.run(target, deadline);
      } catch (e) {
        if (e instanceof GateDivergence) {
          // going live: a guest waiting in HLT with every entry consumed is where the log stops
          if (goingLive && m.cpu.halted && this.gate.remaining === 0) return null;
          return this.diverge('gate', e.message.replace(/^replay divergence: /, ''));
        }
        throw e;
      }
      last = r;
      // at a mark's count: take it first (the gate holds the poll units logged after it)
      if ((r.end === 'wait-log' || r.end === 'budget') && this.marks.length && this.marks[0]!.icount === m.cpu.icount) continue;
      if (r.end === 'wait-log') {
        if (this.complete && this.pHead === this.pending.length && !goingLive) {
          if (this.unfinishedErr) return this.report('incomplete', r); // replayed all it holds
          // finished log, the machine wants more: the run went on past where the recording stopped
          return this.diverge('machine', `the machine needs log past icount ${m.cpu.icount}, but the log has no more input`, r);
        }
        return null;
      }
      if (r.end === 'budget') {
        if (this.opts.stopAt !== undefined && m.cpu.icount >= this.opts.stopAt) return this.report('incomplete', r);
        if (this.endRec && m.cpu.icount === this.endRec.icount) return this.endStill(r);
        if (m.cpu.icount >= this.logLimit) return this.pHead === this.pending.length ? this.report('incomplete', r) : null; // (null: release the rest first)
        if (m.cpu.icount >= cap) return null; // the caller's limit
        if (m.cpu.icount >= unreleased) return null; // hand over the next entries first
        if (m.cpu.icount < target && performance.now() >= deadline) return null; // the caller's time slice
        continue; // target moved
      }
      // the replayed run ended (exit, halt, fault, internal error): what the log holds up to the
      // caller's limit decides (its digest and end record at this icount may not be handed over yet)
      this.release(cap - 1);
      if (r.end === 'internal-error') {
        const ie = m.cpu.internalError;
        if (ie instanceof GateDivergence) return this.diverge('gate', ie.message.replace(/^replay divergence: /, ''), r);
        return this.diverge('machine', `internal emulator error during replay: ${r.message}`, r);
      }
      const dm = this.takeMarksHere(r);
      if (dm) return dm;
      // wait for the end record (following a live log); its digest comes with it
      if (!this.endRec) {
        if (!this.complete && !goingLive) { this.ranEnd = r; return null; }
        return this.report('incomplete', r);
      }
      return this.endRun(r);
    }
  }

  /** The run ended before more log arrived: finish it once the end record is here. */
  private ranEnd: RunResult | undefined;

  private endStill(r: RunResult): ReplayReport {
    const e = this.endRec!;
    if (STOPPED_REASONS.has(e.reason)) return this.report('identical', r);
    return this.diverge('end', `the recording ended with '${e.reason}' (status ${e.status}) at ${e.icount}; the replay is still running there`, r);
  }

  private endRun(r: RunResult): ReplayReport {
    const m = this.machine!, e = this.endRec!;
    const d = this.takeMarksHere(r);
    if (d) return d;
    if (e.icount !== m.cpu.icount || e.reason !== r.end || (r.end === 'exit' && e.status !== r.status)) {
      return this.diverge('end', `the replay ended with '${r.end}'${r.end === 'exit' ? ` (status ${r.status})` : ''} at icount ${m.cpu.icount}; the recording ended with '${e.reason}' (status ${e.status}) at ${e.icount}${r.message ? `: ${r.message}` : ''}`, r);
    }
    if (this.marks.length) return this.diverge('end', `the replay ended at ${m.cpu.icount} but the log has a ${this.marks[0]!.kind} record at ${this.marks[0]!.icount}`, r);
    if (this.gate.remaining > 0) return this.diverge('gate', `the replay ended at ${m.cpu.icount} but ${this.gate.remaining} logged input(s) were not consumed`, r);
    return this.report('identical', r);
  }

  /** Resume a run that ended while the end record was still to come. */
  private resumeEnded(): StepState {
    const r = this.ranEnd!;
    const d = this.takeMarksHere(r);
    if (d) return { done: true, report: d };
    if (this.endRec) { this.ranEnd = undefined; return { done: true, report: this.endRun(r) }; }
    if (this.complete) { this.ranEnd = undefined; return { done: true, report: this.report('incomplete', r) }; }
    return { done: false };
  }

  /**
   * Go live at G (FT.md "Failure, arbitration, go-live"): consume exactly the entries with icount
   * < G, drop the rest, and run the machine to G (or to where it waits in HLT with no log left).
   * Digests before G are still checked. Afterwards swap the gate (result.gate.use(liveGate)).
   */
  goLive(G: number): GoLive {
    const m = this.machine;
    if (!m) throw new ReplaySetupError('go-live before the log header arrived');
    let dropped = 0;
    for (let i = this.pHead; i < this.pending.length; i++) if (this.pending[i]!.icount >= G) dropped++;
    this.release(G - 1);
    this.pending = []; this.pHead = 0;
    this.complete = true;
    this.gate.end();
    let report = this.final;
    if (!report) {
      if (this.ranEnd) report = this.resumeEnded().done ? this.final : undefined;
      else report = this.loop(G, true) ?? undefined;
    }
    const g = this.gate;
    return { machine: m, gate: this.sw, icount: m.cpu.icount, timeNs: g.lastTimeNs, lastTsc: g.lastTsc, time: g.guestTime(), dropped, report, carried: this.takenHere() };
  }

  /** What the machine took at its count, in log order (GoLive.carried). */
  private takenHere(): LogEntry[] {
    const X = this.machine!.cpu.icount;
    const out = this.restoredAt?.icount === X ? [...this.restoredAt.entries] : [];
    const recs = this.gate.consumedAt(X);
    const from = this.gate.consumed - recs.length;
    let i = 0;
    for (const s of this.snapsHere) {
      if (s.icount !== X) continue;
      for (; i < recs.length && from + i < s.pos; i++) out.push(gateToEntry(recs[i]!));
      out.push({ icount: X, kind: 'snapshot', payload: { hash: s.hash } });
    }
    for (; i < recs.length; i++) out.push(gateToEntry(recs[i]!));
    return out;
  }
}
