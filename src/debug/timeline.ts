// A replayed run as a timeline the gdb stub moves along in both directions (reverse execution, issue 12):
// the machine replays the log; every N instructions it keeps an in-memory checkpoint (CPU and device state
// as machine snapshots save them, RAM as the 4 KiB pages changed since the previous checkpoint); going back
// restores the nearest checkpoint at or before the target and re-executes to the exact instruction count.
// Imports the machine and the replay layer; knows nothing of the GDB protocol (gdbstub.ts).
//
// A position in the run is (icount, rip). After `m.run(k)` the machine is at its "fast state" at k: the
// k-th instruction retired, the poll logged at k delivered, no interrupt taken yet. A breakpoint stop at
// icount k can lie after an interrupt or exception delivery at k (rip = the handler): such a position is
// reached by running to k and then to the first instruction boundary at that rip (no instruction retires
// in between). Replay is deterministic, so any position is reached again exactly.
//
// Every run that crosses a checkpoint's icount stops there and drops the CPU's cached translations and
// decoded code (snapshotPoint, as a restored machine starts without them), so the first pass and every
// re-execution see the same TLB contents.

import type { Machine, RunResult } from '../machine/machine.js';
import type { DeviceStates } from '../machine/machine.js';
import { GateDivergence, GateSwitch, ReplayGate, type GateRecord } from '../machine/gate.js';
import type { StreamCounters } from '../machine/outputs.js';
import { Hooks, type DebugStop, type MemHookFn } from '../cpu/hooks.js';
import { snapshotPoint, type CpuState } from '../cpu/state.js';
import { ReplaySession } from '../replay/session.js';
import { readLog } from '../replay/reader.js';
import { TruncatedLogError } from '../replay/codec.js';
import { entryToGate } from '../replay/gate-entries.js';
import type { LogEntry, LogHeader } from '../replay/format.js';
import { InternalError } from '../errors.js';
import { hex64 } from '../hex.js';

const PAGE = 4096;
const ZERO_PAGE = new Uint8Array(PAGE);

/** End reasons of a recording that stopped a running guest: its history ends at the end record. */
const STOPPED_REASONS = new Set(['budget', 'stopped', 'snapshot']);

export interface TimelineOptions {
  /** The guest image (logs from boot). */
  image?: Uint8Array;
  /** The snapshot the log starts from (header.fromSnapshot). */
  snapshot?: Uint8Array;
  /** Instructions between checkpoints (default 10,000,000). */
  checkpointEvery?: number;
  /** The history ends here (total icount) even if the log goes on. */
  stopAt?: number;
  /** Receives each console byte the guest writes the first time the replay reaches it (a re-execution
   *  does not repeat output already shown). */
  consoleOut?: (byte: number) => void;
}

/** Where a timeline operation left the machine. */
export type TimelineStop =
  /** A hook stopped it (or a reverse step/continue arrived): `reason` says why. */
  | { kind: 'debug'; reason: DebugStop }
  /** Interrupted (Ctrl-C). */
  | { kind: 'signal' }
  /** Going back reached the start of the recorded history. */
  | { kind: 'begin' }
  /** Going forward reached the end of the recorded history (a recording stopped while the guest ran,
   *  an unfinished log, --stop-at), or the log could not explain the run there (`message`). */
  | { kind: 'end'; message?: string }
  /** The guest's run ended (exit, halt with interrupts off, fault, internal error). */
  | { kind: 'finished'; run: RunResult };

interface Checkpoint {
  index: number;
  icount: number;
  cpu: CpuState;
  devices: DeviceStates;
  exited: boolean;
  counters: StreamCounters;
  tally: [number, number, number, number];
  consoleSeen: number;
  /** Position of the next gate record to consume (index into the log's gate records). */
  gatePos: number;
}

/** Collects a byte source into memory. */
async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const c of source) chunks.push(c);
  return chunks;
}

async function* fromChunks(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> { for (const c of chunks) yield c; }

/**
 * The replayed run of one log (or stitched chain), with checkpoints. Create with ReplayTimeline.open().
 * Errors from open(): LogError (cut or corrupted log — an unfinished log is accepted and replayed to its
 * last whole frame), HeaderMismatchError / ReplaySetupError (not for this image or snapshot), ChannelError.
 */
export class ReplayTimeline {
  readonly machine: Machine;
  readonly header: LogHeader;
  /** Instructions between checkpoints. */
  readonly every: number;
  /** icount where the recorded history starts (0, or the snapshot's icount). */
  readonly startIcount: number;
  /** icount past which the history does not go (Infinity: the run ends by itself). */
  readonly endIcount: number;
  private readonly records: GateRecord[];
  private readonly sw: GateSwitch;
  private gate!: ReplayGate;
  private gateBase = 0;
  private readonly cks: Checkpoint[] = [];
  /** Per physical page: its stored versions, [checkpoint index, bytes], ascending. */
  private readonly versions: { idx: number; data: Uint8Array }[][];
  private storedBytes = 0;
  /** RAM equals this checkpoint's except on the pages written since (cpu.dirty, mem written). */
  private ramAt = 0;
  /** Checkpoint icount processed last (taken, or its cached translations dropped). */
  private processed = -1;
  private consoleSeen = 0;
  private consoleShown = 0;
  private readonly stepHooks = new Hooks();
  private readonly ram: Buffer;

  private constructor(session: ReplaySession, records: GateRecord[], endIcount: number, private readonly opts: TimelineOptions) {
    const m = session.machine!;
    if (!(m.gate instanceof GateSwitch)) throw new InternalError('timeline: the replaying machine has no gate switch');
    this.machine = m;
    this.header = session.header!;
    this.sw = m.gate;
    this.records = records;
    this.every = opts.checkpointEvery ?? 10_000_000;
    this.startIcount = m.cpu.icount;
    this.endIcount = Math.min(endIcount, opts.stopAt ?? Infinity);
    this.versions = Array.from({ length: m.mem.size / PAGE }, () => []);
    this.ram = Buffer.from(m.mem.buffer, 0, m.mem.size);
    this.useGate(0);
    this.stepHooks.stepping = true;
    this.take();
  }

  /** Reads the whole log from `source` and builds the machine at the start of its history. */
  static async open(source: AsyncIterable<Uint8Array>, opts: TimelineOptions = {}): Promise<ReplayTimeline> {
    const chunks = await collect(source);
    let t: ReplayTimeline | undefined;
    const consoleOut = (b: number): void => { t?.console(b); };
    // the session checks the header against the image / snapshot and builds the machine (and checks
    // every frame of the log); the timeline runs that machine on its own gate over the same records
    const session = new ReplaySession({ image: opts.image, snapshot: opts.snapshot, consoleOut });
    for (const c of chunks) session.feed(c);
    try { session.end(); } catch (e) { if (e instanceof TruncatedLogError) session.unfinished(e); else throw e; }
    const entries: LogEntry[] = [];
    let unfinished = false;
    try {
      for await (const e of readLog(fromChunks(chunks), { content: true })) entries.push(e);
    } catch (e) { if (e instanceof TruncatedLogError) unfinished = true; else throw e; }
    const records: GateRecord[] = [];
    let end = Infinity;
    for (const e of entries) {
      const g = entryToGate(e);
      if (g) records.push(g);
      else if (e.kind === 'end' && STOPPED_REASONS.has(e.payload.reason)) end = e.icount;
    }
    if (unfinished || !entries.some((e) => e.kind === 'end')) end = Math.max(session.machine!.cpu.icount, entries.length ? entries[entries.length - 1]!.icount : 0);
    t = new ReplayTimeline(session, records, end, opts);
    return t;
  }

  private console(b: number): void {
    if (this.consoleSeen++ >= this.consoleShown) { this.consoleShown = this.consoleSeen; this.opts.consoleOut?.(b); }
  }

  private useGate(pos: number): void {
    this.gateBase = pos;
    this.gate = new ReplayGate(this.records.slice(pos), true);
    this.sw.use(this.gate);
  }

  /** Checkpoints kept, and the bytes their RAM pages and state take. */
  get checkpointStats(): { count: number; pages: number; ramBytes: number; frontier: number } {
    let pages = 0;
    for (const v of this.versions) pages += v.length;
    return { count: this.cks.length, pages, ramBytes: this.storedBytes, frontier: this.cks[this.cks.length - 1]!.icount };
  }

  get position(): { icount: number; rip: number } { return { icount: this.machine.cpu.icount, rip: this.machine.cpu.rip }; }

  // ---- checkpoints

  /** Takes a checkpoint at the current (fast) state. */
  private take(): void {
    const m = this.machine;
    snapshotPoint(m.cpu);
    const index = this.cks.length;
    const dirty = index === 0 ? null : new Set([...m.cpu.takeDirtyPages(), ...m.mem.takeWritten()]);
    if (index === 0) { m.cpu.takeDirtyPages(); m.mem.takeWritten(); }
    this.ramAt = index;
    const n = this.versions.length;
    for (let p = 0; p < n; p++) {
      if (dirty !== null && !dirty.has(p)) continue;
      const list = this.versions[p]!;
      const tip = list.length ? list[list.length - 1]!.data : null;
      const at = p * PAGE;
      if (tip !== null && this.ram.compare(tip, 0, PAGE, at, at + PAGE) === 0) continue;
      let data: Uint8Array;
      if (this.ram.compare(ZERO_PAGE, 0, PAGE, at, at + PAGE) === 0) data = ZERO_PAGE;
      else { data = m.mem.u8.slice(at, at + PAGE); this.storedBytes += PAGE; }
      list.push({ idx: index, data });
    }
    const t = m.outputs.tally;
    this.cks.push({
      index, icount: m.cpu.icount, cpu: m.saveCpu(), devices: structuredClone(m.saveDevices()), exited: m.exited,
      counters: m.outputs.counters(), tally: [t.consoleBytes, t.consoleHash, t.frames, t.frameHash],
      consoleSeen: this.consoleSeen, gatePos: this.gateBase + this.gate.consumed,
    });
    this.processed = m.cpu.icount;
  }

  /** The page's bytes at checkpoint `idx`. */
  private pageAt(p: number, idx: number): Uint8Array {
    const list = this.versions[p]!;
    let lo = 0, hi = list.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (list[mid]!.idx <= idx) lo = mid; else hi = mid - 1; }
    return list[lo]!.data;
  }

  private restore(ck: Checkpoint): void {
    const m = this.machine;
    // RAM is checkpoint ramAt's except for the pages written since: only those, and the pages whose
    // version differs between ramAt and ck, can differ from ck's
    const dirty = m.cpu.dirty;
    for (const p of m.mem.takeWritten()) dirty[p] = 1;
    for (let p = 0; p < this.versions.length; p++) {
      const v = this.pageAt(p, ck.index);
      if (!dirty[p] && v === this.pageAt(p, this.ramAt)) continue;
      const at = p * PAGE;
      if (this.ram.compare(v, 0, PAGE, at, at + PAGE) !== 0) m.mem.write(at, v);
    }
    m.cpu.takeDirtyPages(); m.mem.takeWritten();
    this.ramAt = ck.index;
    m.loadCpu(ck.cpu); // also a snapshot point
    m.loadDevices(structuredClone(ck.devices));
    m.exited = ck.exited;
    const counters: StreamCounters = {};
    for (const k of Object.keys(m.outputs.counters())) counters[k] = 0;
    m.outputs.setCounters({ ...counters, ...ck.counters });
    const t = m.outputs.tally;
    [t.consoleBytes, t.consoleHash, t.frames, t.frameHash] = ck.tally;
    this.consoleSeen = ck.consoleSeen;
    this.useGate(ck.gatePos);
    this.processed = ck.icount;
  }

  /** The last checkpoint at or before icount `k`. */
  private checkpointAt(k: number): Checkpoint {
    let lo = 0, hi = this.cks.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (this.cks[mid]!.icount <= k) lo = mid; else hi = mid - 1; }
    return this.cks[lo]!;
  }

  /** The first checkpoint icount >= k (a future one past the last: last + every). */
  private boundaryFrom(k: number): number {
    const last = this.cks[this.cks.length - 1]!;
    if (k > last.icount) return last.icount + this.every;
    const c = this.checkpointAt(k);
    return c.icount === k ? k : this.cks[c.index + 1]!.icount;
  }

  /** At a checkpoint's icount in its fast state: take it (first time there) or drop cached translations. */
  private atBoundary(): void {
    const k = this.machine.cpu.icount;
    if (this.processed === k) return;
    if (k > this.cks[this.cks.length - 1]!.icount) this.take();
    else { snapshotPoint(this.machine.cpu); this.processed = k; }
  }

  // ---- running

  /**
   * Runs forward with `hooks` attached (null: none, the fast paths) until `target` (total icount), a hook
   * stop, the end of the history, the guest's end or `signal`. Stops at every checkpoint icount on the
   * way (taking new checkpoints past the last one).
   */
  private async advance(target: number, hooks: Hooks | null, signal: { aborted: boolean }): Promise<TimelineStop | null> {
    const m = this.machine;
    m.cpu.setHooks(hooks);
    try {
      for (;;) {
        const k = m.cpu.icount;
        let b = this.boundaryFrom(k);
        if (b === k) { this.atBoundary(); b = this.boundaryFrom(k + 1); }
        if (k >= target) return null;
        if (k >= this.endIcount) return { kind: 'end' };
        let r: RunResult;
        try {
          r = await m.runAsync(Math.min(b, target, this.endIcount), signal);
        } catch (e) {
          if (e instanceof GateDivergence) return { kind: 'end', message: e.message };
          throw e;
        }
        if (r.end === 'budget') { if (signal.aborted) return { kind: 'signal' }; continue; }
        if (r.end === 'debug') return { kind: 'debug', reason: hooks!.reason! };
        if (r.end === 'wait-log') return { kind: 'end' };
        if (r.end === 'internal-error' && m.cpu.internalError instanceof GateDivergence) return { kind: 'end', message: m.cpu.internalError.message };
        return { kind: 'finished', run: r };
      }
    } finally { m.cpu.setHooks(null); }
  }

  /** Moves to position `p` (a position of this run): restores the nearest checkpoint at or before it unless
   *  the machine is already before it, then re-executes. */
  private async goTo(p: { icount: number; rip: number }, signal: { aborted: boolean }): Promise<void> {
    const m = this.machine;
    const k = m.cpu.icount;
    if (k === p.icount && m.cpu.rip === p.rip) return;
    if (!(k < p.icount) || p.icount - this.checkpointAt(p.icount).icount < p.icount - k) this.restore(this.checkpointAt(p.icount));
    const s = await this.advance(p.icount, null, signal);
    if (s !== null || m.cpu.icount !== p.icount) throw new InternalError(`timeline: re-execution to icount ${p.icount} stopped at ${m.cpu.icount} (${s?.kind ?? 'budget'})`);
    if (m.cpu.rip === p.rip) return;
    // a position after an interrupt or exception delivery at this count: no instruction retires before it
    const h = new Hooks();
    h.breakpoints.add(p.rip);
    const s2 = await this.advance(p.icount + 1, h, signal);
    if (s2?.kind !== 'debug' || m.cpu.icount !== p.icount || m.cpu.rip !== p.rip) {
      throw new InternalError(`timeline: position (icount ${p.icount}, rip ${hex64(p.rip)}) not reached`);
    }
  }

  /** Forward: continue (or one step with `step`) with `hooks` attached; null (not stepping): none, the
   *  fast paths. */
  async forward(hooks: Hooks | null, step: boolean, signal: { aborted: boolean }): Promise<TimelineStop> {
    const h = hooks ?? (step ? new Hooks() : null);
    if (h === null) return (await this.advance(Infinity, null, signal))!;
    h.stepping = step;
    h.skipBreakpointOnce(this.machine.cpu.rip);
    try {
      return (await this.advance(Infinity, h, signal))!;
    } finally { h.stepping = false; }
  }

  /** Re-executes from the nearest checkpoint to the fast state at icount `k`. */
  private async fastState(k: number, signal: { aborted: boolean }): Promise<void> {
    this.restore(this.checkpointAt(k));
    const s = await this.advance(k, null, signal);
    if (s !== null || this.machine.cpu.icount !== k) throw new InternalError(`timeline: re-execution to icount ${k} stopped at ${this.machine.cpu.icount} (${s?.kind ?? 'budget'})`);
  }

  /**
   * Back one instruction (reverse-stepi): to the last position a forward single step passes through
   * before the current one — the previous instruction boundary, or the boundary before an interrupt or
   * exception delivery that led here. 'begin' at the start of the history (the machine stays there).
   */
  async stepBack(signal: { aborted: boolean }): Promise<TimelineStop> {
    const here = this.position;
    await this.fastState(here.icount, signal);
    // `here` lies after a delivery at its count: the fast state there precedes it
    if (this.machine.cpu.rip === here.rip) {
      if (here.icount <= this.startIcount) return { kind: 'begin' };
      await this.fastState(here.icount - 1, signal);
    }
    const passed = await this.stepsUntil(here, signal);
    const prev = passed[passed.length - 1]!;
    await this.goTo(prev, signal);
    return { kind: 'debug', reason: { kind: 'step', address: prev.rip } };
  }

  /** Single-steps from the current position until `here` (or past its icount); returns the positions
   *  passed before it, the current one first. */
  private async stepsUntil(here: { icount: number; rip: number }, signal: { aborted: boolean }): Promise<{ icount: number; rip: number }[]> {
    const seen = [this.position];
    for (;;) {
      const s = await this.advance(here.icount + 1, this.stepHooks, signal);
      if (s?.kind !== 'debug') break;
      const p = this.position;
      if (p.icount > here.icount || (p.icount === here.icount && p.rip === here.rip)) break;
      seen.push(p);
    }
    return seen;
  }

  /**
   * Re-executes from checkpoint `ck` to icount `end` on the fast tiers, watching for what `watch` (the
   * breakpoints' addresses and the watch ranges of Hooks.watchRanges) could stop at: `code` when an
   * instruction at a breakpoint address may have executed (the CPU's code probe), `dataAt` a lower bound of
   * the count of the last instruction (or delivery) that accessed a watched range (-1: none did; data watch
   * hooks observe on the fast tiers, Hooks.memOnFastTiers), `signal` when interrupted.
   */
  private async probe(ck: Checkpoint, end: number, addrs: ReadonlySet<number>,
    ranges: readonly { kind: 'mem-read' | 'mem-write'; begin: number; end: number }[], signal: { aborted: boolean }): Promise<{ code: boolean; dataAt: number } | 'signal'> {
    const cpu = this.machine.cpu;
    this.restore(ck);
    let dataAt = -1;
    let observer: Hooks | null = null;
    if (ranges.length > 0) {
      observer = new Hooks();
      observer.memOnFastTiers = true;
      // cpu.icount inside: the count at the block's start, never past the accessing instruction's
      const fn: MemHookFn = (c) => { dataAt = c.icount; };
      for (const r of ranges) observer.add({ kind: r.kind, begin: r.begin, end: r.end, fn });
    }
    if (addrs.size > 0) { cpu.flushCode(); cpu.codeProbe = addrs; cpu.codeProbeHit = false; } // every block looked up, and probed, afresh
    try {
      const s = await this.advance(end, observer, signal);
      if (s !== null && s.kind === 'signal') return 'signal';
      // the run ended early (the guest's end, a divergence): scan it all
      const early = s !== null && s.kind !== 'end';
      return { code: cpu.codeProbeHit || early, dataAt: early ? ck.icount : dataAt };
    } finally { cpu.codeProbe = null; cpu.codeProbeHit = false; }
  }

  /**
   * Back to the last stop `hooks` (breakpoints, watchpoints) make before the current position
   * (reverse-continue); a watchpoint stops before the instruction that made the access. 'begin' when
   * there is none: the machine is then at the start of the history. The scan resumes where a stop left it:
   * past a breakpoint, but a code hook that requests a stop must not request it again there (it would stop
   * the scan for ever).
   */
  async continueBack(hooks: Hooks, signal: { aborted: boolean }): Promise<TimelineStop> {
    const m = this.machine;
    const here = this.position;
    let segEnd = here.icount;
    // With breakpoints and data watchpoints only, each stretch is first re-executed on the fast tiers with the
    // CPU's code probe on the breakpoint addresses and the watch ranges observed on the slow data path: a
    // stretch that reached neither is passed over; one whose code probe hit is scanned one instruction at a
    // time from its checkpoint; otherwise the scan starts where the last access to a watched range was seen.
    const ranges = hooks.watchRanges;
    const fast = ranges !== null && (hooks.breakpoints.size > 0 || ranges.length > 0);
    // scan the stretch from each checkpoint to the next (the last: to here), latest first
    for (let ck = this.checkpointAt(here.icount); ;) {
      let from = ck.icount;
      if (fast && segEnd > ck.icount) {
        const p = await this.probe(ck, segEnd, hooks.breakpoints, ranges, signal);
        if (p === 'signal') return { kind: 'signal' };
        if (!p.code && p.dataAt < 0) {
          if (ck.index === 0) { this.restore(ck); return { kind: 'begin' }; }
          segEnd = ck.icount; ck = this.cks[ck.index - 1]!;
          continue;
        }
        if (!p.code && p.dataAt < segEnd) from = p.dataAt;
      }
      this.restore(ck);
      if (from > ck.icount) {
        const s = await this.advance(from, null, signal);
        if (s?.kind === 'signal') return s;
        if (s !== null || m.cpu.icount !== from) throw new InternalError(`timeline: re-execution to icount ${from} stopped at ${m.cpu.icount} (${s?.kind ?? 'budget'})`);
      }
      const last = await this.scan(here, segEnd, hooks, signal);
      if (last === 'signal') return { kind: 'signal' };
      if (last !== null) { await this.goTo(last.pos, signal); return { kind: 'debug', reason: last.reason }; }
      // nothing from `from` on (the hit seen there was the current position's own): the stretch before it
      if (from > ck.icount) { segEnd = from; continue; }
      if (ck.index === 0) { this.restore(ck); return { kind: 'begin' }; }
      segEnd = ck.icount; ck = this.cks[ck.index - 1]!;
    }
  }

  /** Runs from the current position to `segEnd` one instruction at a time with `hooks` attached; returns
   *  the last stop before `here` (a watchpoint's: before the accessing instruction), null for none. */
  private async scan(here: { icount: number; rip: number }, segEnd: number, hooks: Hooks, signal: { aborted: boolean }): Promise<{ pos: { icount: number; rip: number }; reason: DebugStop } | null | 'signal'> {
    const m = this.machine;
    let last: { pos: { icount: number; rip: number }; reason: DebugStop } | null = null;
    m.cpu.setHooks(hooks);
    hooks.stepping = false;
    try {
      for (;;) {
        let r: RunResult;
        try { r = await m.runAsync(segEnd, signal); } catch (e) { if (e instanceof GateDivergence) break; throw e; }
        if (r.end === 'budget' && signal.aborted) return 'signal';
        if (r.end !== 'debug') break;
        const why = hooks.reason!;
        const pos = this.position;
        if (pos.icount === here.icount && pos.rip === here.rip) continue; // where we are is not before us
        if (why.kind === 'watch') last = { pos: { icount: pos.icount - 1, rip: m.cpu.insnRip }, reason: why };
        else { last = { pos, reason: why }; hooks.skipBreakpointOnce(pos.rip); }
      }
    } finally { m.cpu.setHooks(null); }
    return last;
  }
}
