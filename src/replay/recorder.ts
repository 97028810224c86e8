// The recorder (primary side of record/replay): runs a live machine, turns every gate record into
// a log entry at its instruction count, and writes a digest every N instructions at exactly that
// count, a final digest and an end record. The recording session owns its LogWriter (rr's
// RecordSession/TraceWriter split); outputs pass through the machine's OutputSeam untouched (the
// recorder only installs its tally there).
//
// Log shape: start, then gate entries in gate order, with [digest-detail, digest] pairs at every
// multiple of the interval (counted from the log's start icount) right after the poll unit the
// live run loop delivers there, then a final digest pair and the end record.

import { createHash } from 'node:crypto';
import type { Machine, RunResult } from '../machine/machine.js';
import type { GateRecord } from '../machine/gate.js';
import type { ByteSink } from './channel.js';
import { LogWriter, type LogWriterOptions } from './writer.js';
import { LOG_FORMAT_VERSION, type LogEntry, type LogFt, type LogHeaderInit, type LogRecorder } from './format.js';
import { gateToEntry } from './gate-entries.js';
import { thisRecorder } from './process-id.js';
import { OutputTally, computeDigest, digestEntries, digestLayout, markLoadedPages, resetDirty } from './digest.js';
import { configJson, takeSnapshot, type MachineSnapshot, type SnapshotMetaInit } from './machine-snapshot.js';
import { InvalidArgumentError, InvalidStateError, InternalError } from '../errors.js';

export const DEFAULT_DIGEST_INTERVAL = 1_000_000;
/** Wall-clock ms between two heartbeat records while recording (format.ts M19). */
export const HEARTBEAT_MS = 100;

/** End reason of a log closed at a snapshot (Recorder.runToSnapshot); a log from that snapshot continues it. */
export const SNAPSHOT_END_REASON = 'snapshot';

export interface RecorderOptions {
  /** Where the log goes. */
  sink: ByteSink;
  /** The guest image (its SHA-256 goes into the header). */
  image: Uint8Array;
  /** Instructions between digests (default 1M); 0 = only the final digest. */
  digestEvery?: number;
  /** The run starts from this snapshot (hash) instead of boot; startIcount is the machine's icount. */
  fromSnapshot?: string | null;
  /** The output tally the run continues from (a run from a snapshot: digests cover outputs since boot). */
  outputs?: OutputTally;
  writer?: LogWriterOptions;
  /** Wall clock for the informational start and heartbeat records (default Date.now). */
  epochMs?: () => number;
  /** Pacing (an FT primary bounding held outputs and lag): the run stops every `chunk` instructions
   *  and waits for the promise `wait()` returns, if any, before going on. */
  pace?: { chunk: number; wait: () => Promise<void> | undefined };
  /** Extra fields of the log header (e.g. `ft` of a generation log); they win over recorder/ft below. */
  headerExtra?: Partial<LogHeaderInit>;
  /** Who records, for the header (default this process: os.hostname(), process.pid and its start time; null = unnamed). */
  recorder?: LogRecorder | null;
  /** The FT generation this log belongs to (header `ft`, M15); default null (not fault tolerance). */
  ft?: LogFt | null;
  /** Wall-clock ms between heartbeat records (default HEARTBEAT_MS; 0 = none). */
  heartbeatMs?: number;
  /** What the machine already took at its current count before this log starts (an FT primary going on
   *  alone ends generation g's log at G after its poll there; a secondary going live at its snapshot's count:
   *  ReplaySession.goLive's `carried`), as gate records or log entries (gate values and snapshot records):
   *  written first, before the start record, so a chain replay takes them before the dirty-page set
   *  restarts, as live (session.ts Mark: the ordering rule). */
  carried?: readonly (GateRecord | LogEntry)[];
}

/** How a live snapshot is taken at M (default takeSnapshot): its identity `hash` names it in the log. */
export type SnapshotTaker = (m: Machine, meta: SnapshotMetaInit, outputs: OutputTally) => MachineSnapshot;

interface ForkRequest {
  sink: ByteSink;
  take?: SnapshotTaker;
  ready?: () => boolean;
  onSnapshot: (s: MachineSnapshot) => void;
  done: (fork: LogWriter | undefined) => void;
}

export interface RecordingStats {
  entries: number;
  digests: number;
  /** Log bytes accepted by the sink. */
  bytes: number;
  /** Entries by kind. */
  byKind: Record<string, number>;
}

/** A log whose machine starts at boot (not from a snapshot, not a later FT generation) in format
 *  version 3 or later: its first digest covers RAM as loaded (format.ts M18). */
export function fromBoot(h: { version?: number; fromSnapshot: string | null; startIcount: number }): boolean {
  return h.fromSnapshot === null && h.startIcount === 0 && (h.version ?? LOG_FORMAT_VERSION) >= 3;
}

export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Records one run. Usage: const rec = new Recorder(opts); build the live machine with
 * `onRecord: rec.onRecord`, then `rec.attach(machine)` (which counts the machine's outputs) and `await rec.run(max)`.
 */
export class Recorder {
  readonly outputs: OutputTally;
  readonly stats: RecordingStats = { entries: 0, digests: 0, bytes: 0, byKind: {} };
  private writer: LogWriter | undefined;
  private m: Machine | undefined;
  private readonly every: number;
  private failure: Error | undefined;
  /** Entries produced before attach() (none in practice: the machine polls only when run). */
  private early: GateRecord[] = [];
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private heartbeatSeq = 0;
  /** The log is closed (finish or abort): no more heartbeats, and a fork request lapses at once. */
  private closed = false;
  /** Pacing (RecorderOptions.pace); may be set while the run goes on (a secondary that became the primary). */
  pace: { chunk: number; wait: () => Promise<void> | undefined } | undefined;
  /** Forked log streams (forkAtSnapshot): each gets every entry from its snapshot on. */
  private forks: LogWriter[] = [];
  private forkReq: ForkRequest | undefined;
  /** Where the digest multiples are counted from: the start record, then the last live snapshot (format.ts M17). */
  private gridFrom: number | undefined;
  /** The gate values and snapshot records logged at the count of the last one (a snapshot's meta.carried). */
  private atCount: LogEntry[] = [];

  constructor(private readonly opts: RecorderOptions) {
    this.every = opts.digestEvery ?? DEFAULT_DIGEST_INTERVAL;
    this.outputs = opts.outputs ?? new OutputTally();
    this.pace = opts.pace;
    if (!Number.isSafeInteger(this.every) || this.every < 0) throw new InvalidArgumentError(`digest interval must be a non-negative integer (got ${this.every})`);
  }

  /** Give this to the LiveGate (LiveGateOptions.onRecord / openLiveHost). */
  readonly onRecord = (r: GateRecord): void => {
    if (!this.writer) { this.early.push(r); return; }
    this.appendTaken(gateToEntry(r));
  };

  /** Appends what the machine took (a gate value, a snapshot record), noting it for a snapshot at this count. */
  private appendTaken(e: LogEntry): boolean {
    if (this.atCount.length && this.atCount[0]!.icount !== e.icount) this.atCount = [];
    this.atCount.push(e);
    return this.append(e);
  }

  /** The snapshot meta of this recording at the machine's count. */
  private snapshotMeta(): SnapshotMetaInit {
    const at = this.m!.cpu.icount;
    return { imageSha256: sha256Hex(this.opts.image), carried: this.atCount.filter((e) => e.icount === at) };
  }

  /** The header this recorder writes for `m`. */
  header(m: Machine): LogHeaderInit {
    return {
      imageSha256: sha256Hex(this.opts.image),
      memorySize: m.config.memSize,
      devices: configJson(m.config),
      digestInterval: this.every,
      startIcount: m.cpu.icount,
      fromSnapshot: this.opts.fromSnapshot ?? null,
      recorder: this.opts.recorder === undefined ? thisRecorder() : this.opts.recorder,
      ft: this.opts.ft ?? null,
      ...this.opts.headerExtra,
    };
  }

  /** Start the log for `m` (from boot, or from the snapshot it was restored from). */
  attach(m: Machine): void {
    if (this.writer) throw new InvalidStateError('recorder: attach() called twice');
    this.m = m;
    // the machine's output seam counts every output into this recorder's tally (digests cover it)
    m.outputs.tally = this.outputs;
    const header = this.header(m);
    // M18: a from-boot log's first digest covers RAM as loaded (so the header's configuration is checked)
    if (fromBoot(header)) markLoadedPages(m);
    else resetDirty(m);
    this.writer = new LogWriter(this.opts.sink, header, { ...this.opts.writer, onError: (e) => { this.failure = e; this.opts.writer?.onError?.(e); } });
    const now = this.opts.epochMs ?? Date.now;
    for (const r of this.opts.carried ?? []) this.appendTaken(typeof r.kind === 'string' ? r as LogEntry : gateToEntry(r as GateRecord));
    this.append({ icount: m.cpu.icount, kind: 'start', payload: { epochMs: now() } });
    for (const r of this.early.splice(0)) this.appendTaken(gateToEntry(r));
    // M19: heartbeats tell a follower on another host that this recorder is alive while the log is quiet
    const every = this.opts.heartbeatMs ?? HEARTBEAT_MS;
    if (every > 0) {
      this.heartbeat = setInterval(() => {
        if (this.closed || this.failure) return;
        const w = this.writer!;
        this.append({ icount: Math.max(w.lastIcount, m.cpu.icount), kind: 'heartbeat', payload: { seq: this.heartbeatSeq++, epochMs: now() } });
      }, every);
      this.heartbeat.unref?.();
    }
  }

  private stopHeartbeat(): void {
    this.closed = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private append(e: LogEntry): boolean {
    this.stats.entries++;
    this.stats.byKind[e.kind] = (this.stats.byKind[e.kind] ?? 0) + 1;
    for (const f of this.forks) { try { f.append(e); } catch { this.dropFork(f); } }
    return this.writer!.append(e);
  }

  /**
   * Asks for a live snapshot at the next slice boundary M (the next digest point, or sooner the end of a
   * `pace` chunk; off the digest multiples after a final-style digest, and the multiples then count from
   * M in this log and in the fork alike: format.ts M17): the run stops there, digests, takes the snapshot (a snapshot point:
   * this machine drops its cached translations and every page becomes clean), appends a snapshot
   * record to this log, calls `req.onSnapshot` (synchronously, the guest still paused: e.g. switch
   * outputs to hold and send the snapshot) and starts a second log stream to `req.sink` — header
   * fromSnapshot = the hash, startIcount = M — that gets every entry from there on, as this log does,
   * until the run ends (end frame) or dropFork(). The request lapses if the run ends first.
   * Resolves with the fork, or undefined when the run ended (or another request replaced this one); a request
   * made once the log is closed (the run ended, or abort()) resolves undefined at once: nothing would ever serve it.
   * `req.take` takes the snapshot instead of takeSnapshot (a pre-copy's finish: precopy.ts); it must
   * be a snapshot point and mark every page clean as takeSnapshot does. `req.ready`, asked at each
   * slice boundary, false = not this one, the next (a pre-copy whose pages left for the pause are many).
   */
  forkAtSnapshot(req: { sink: ByteSink; take?: SnapshotTaker; ready?: () => boolean; onSnapshot: (s: MachineSnapshot) => void }): Promise<LogWriter | undefined> {
    this.cancelFork();
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => { this.forkReq = { ...req, done: resolve }; });
  }

  /** Withdraws a pending forkAtSnapshot request (it resolves undefined now). */
  cancelFork(): void {
    this.forkReq?.done(undefined);
    this.forkReq = undefined;
  }

  /** Stops feeding fork `f` (its stream is abandoned without an end frame). */
  dropFork(f: LogWriter): void {
    const i = this.forks.indexOf(f);
    if (i < 0) return;
    this.forks.splice(i, 1);
    try { f.abort(new Error('fork dropped')); } catch { /* already failed */ }
  }

  /** Serves a pending fork request now (the machine is between slices, right after a digest at its icount). */
  private takeFork(): void {
    const req = this.forkReq;
    if (!req) return;
    this.forkReq = undefined;
    const m = this.m!;
    let snapshot: MachineSnapshot;
    try { snapshot = (req.take ?? takeSnapshot)(m, this.snapshotMeta(), this.outputs); } catch { req.done(undefined); return; }
    this.appendTaken({ icount: m.cpu.icount, kind: 'snapshot', payload: { hash: snapshot.hash } });
    this.gridFrom = m.cpu.icount;
    try { req.onSnapshot(snapshot); } catch { req.done(undefined); return; }
    const fork = new LogWriter(req.sink, { ...this.header(m), fromSnapshot: snapshot.hash, startIcount: m.cpu.icount }, {
      ...this.opts.writer, onError: () => this.dropFork(fork),
    });
    this.forks.push(fork);
    req.done(fork);
  }

  /** Digest now (at the machine's current icount). */
  private digest(): boolean {
    const m = this.m!;
    const [detail, digest] = digestEntries(m.cpu.icount, computeDigest(m, this.outputs, digestLayout(this.writer!.header.version)));
    this.stats.digests++;
    this.append(detail);
    return this.append(digest);
  }

  /**
   * Run to the end (exit, halt, fault) or `maxInstructions` (total count), writing digests at
   * every multiple of the interval, then the final digest and the end record, and close the log.
   * `signal.aborted` stops it at the next slice (recorded as end reason "stopped").
   */
  async run(maxInstructions = Infinity, signal?: { aborted: boolean }): Promise<RunResult> {
    const r = await this.runUntil(maxInstructions, signal);
    await this.finish(signal?.aborted && r.end === 'budget' ? 'stopped' : r.end, r.status);
    return r;
  }

  /**
   * Run to exactly instruction `at` (total count), take a machine snapshot there and close the log
   * with its final digest, a snapshot record (the hash) and end reason "snapshot". A log starting
   * from that snapshot (fromSnapshot = hash, startIcount = at) continues the run. If the guest
   * ends (or `signal` stops it) first, the log is closed as run() would and no snapshot is taken.
   */
  async runToSnapshot(at: number, signal?: { aborted: boolean }): Promise<{ result: RunResult; snapshot?: MachineSnapshot }> {
    const m = this.m;
    if (!m) throw new InvalidStateError('recorder: attach() a machine first');
    if (!Number.isSafeInteger(at) || at < m.cpu.icount) throw new InvalidArgumentError(`snapshot icount ${at} is before the machine's ${m.cpu.icount}`);
    const r = await this.runUntil(at, signal);
    if (r.end !== 'budget' || signal?.aborted || m.cpu.icount !== at) {
      await this.finish(signal?.aborted && r.end === 'budget' ? 'stopped' : r.end, r.status);
      return { result: r };
    }
    this.digest();
    const snapshot = takeSnapshot(m, this.snapshotMeta(), this.outputs);
    this.appendTaken({ icount: at, kind: 'snapshot', payload: { hash: snapshot.hash } });
    await this.finish(SNAPSHOT_END_REASON, 0, false);
    return { result: r, snapshot };
  }

  /** Runs the machine to `maxInstructions` with the periodic digests; the log stays open. */
  private async runUntil(maxInstructions: number, signal?: { aborted: boolean }): Promise<RunResult> {
    const m = this.m, w = this.writer;
    if (!m || !w) throw new InvalidStateError('recorder: attach() a machine first');
    let r: RunResult;
    for (;;) {
      const pace = this.pace;
      const ic = m.cpu.icount;
      const start = this.gridFrom ?? w.header.startIcount;
      const next = this.every > 0 ? start + (Math.floor((ic - start) / this.every) + 1) * this.every : Infinity;
      const target = Math.min(next, maxInstructions, pace ? ic + pace.chunk : Infinity);
      r = await m.runAsync(target, signal);
      if (this.failure) throw this.failure;
      if (r.end !== 'budget' || signal?.aborted) break;
      if (m.cpu.icount !== target) throw new InternalError(`recorder: run stopped at ${m.cpu.icount}, expected ${target}`);
      if (target === maxInstructions) break;
      if (target === next && !this.digest()) await w.drained();
      // a fork is taken at the next slice boundary (a digest point, or sooner the end of a pace chunk: a joining
      // secondary does not wait up to a whole interval) where the request is ready; off the multiples after a
      // final-style digest, and the multiples count from there on (format.ts M17: a snapshot record restarts
      // them), in this log and the fork
      if (this.forkReq && this.forkReq.ready?.() !== false) {
        if (target !== next) this.digest();
        this.takeFork();
      }
      const p = pace?.wait();
      if (p) await p;
      if (signal?.aborted) { r = { ...r, end: 'budget' }; break; }
    }
    return r;
  }

  /** Final digest (unless already written), end record, close. */
  private async finish(reason: string, status: number, digest = true): Promise<void> {
    const m = this.m!, w = this.writer!;
    this.stopHeartbeat();
    this.cancelFork();
    if (digest) this.digest();
    this.append({ icount: m.cpu.icount, kind: 'end', payload: { reason, status: status >>> 0 } });
    const forks = this.forks.splice(0);
    await Promise.all(forks.map((f) => f.close().catch(() => undefined)));
    await w.close();
    this.stats.bytes = this.opts.sink.stats.bytes;
  }

  /** Write the entries appended so far to the sink now; resolves when the sink accepted them. */
  flush(): Promise<void> {
    if (!this.writer) return Promise.resolve();
    // a fork that fails is dropped (its peer is gone); the recording itself goes on
    return Promise.all([this.writer.flush(), ...this.forks.map((f) => f.flush().catch(() => this.dropFork(f)))]).then(() => undefined);
  }

  /**
   * flush(), synchronously: true when every entry appended so far is with the sinks now (sinks with
   * writeSync); false otherwise (then use flush()). A fork that failed is dropped, as flush() does.
   */
  flushSync(): boolean {
    if (!this.writer) return true;
    let ok = this.writer.flushSync();
    for (const f of this.forks.slice()) {
      if (f.flushSync()) continue;
      if (f.error) this.dropFork(f); else ok = false;
    }
    return ok;
  }

  /** Abandon the recording without an end frame (the log reads as cut). */
  abort(reason?: Error): void {
    this.stopHeartbeat();
    this.cancelFork();
    for (const f of this.forks.splice(0)) { try { f.abort(reason); } catch { /* already failed */ } }
    this.writer?.abort(reason);
  }
}
