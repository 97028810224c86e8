// The gate: the single entry of every host value into the guest. Imports nothing from Node
// (backends are passed in as interfaces). Two implementations behind the `Gate` interface:
// LiveGate takes values from host backends and hands each one, stamped with the instruction
// count at which it takes effect, to a listener (the log); ReplayGate takes them only from
// such a list. GateSwitch lets a secondary go live without rewiring devices.
//
// ---------------------------------------------------------------------------------------
// How the machine wires it (icount = retired-instruction count, the log's clock)
//
//  * Construct devices with plain host interfaces; then
//      gate.connect({ console: uart, clocks: [pit, rtc, uart], wall: [rtc], nets: [net0],
//                     irq: (line, level) => pic.setIrq(line, level) });
//    disks are bound with  new VirtioBlk(mem, irq, gate.blockIo(0, () => cpu.icount), opts).
//
//  * Run loop: between run slices (and while the CPU is halted) call  gate.poll(icount).
//    A poll delivers, in this order: the wall clock (first poll only), host-caused IRQ line
//    changes, received console bytes (only as many as the UART can take), received frames
//    (only while the NIC has a receive buffer), and finally the guest time (ns) to every
//    clock target (PIT -> IRQ 0 edges, RTC -> update/periodic/alarm, UART -> RX timeout).
//    The same records are one "poll unit", which always ends with exactly one Time record.
//    Live: poll() always returns true. Replay: poll(icount) delivers the next unit only if
//    it was logged at exactly this icount and returns true, else returns false. A replaying
//    machine must end its slices at gate.nextPoll() so that it polls at the same counts:
//      nextPoll() = icount of the next logged poll unit; Infinity when the log is complete
//      and has none left; undefined when not yet known (secondary: wait for more log).
//    On the primary the run loop chooses its slice ends freely (e.g. every 100k instructions
//    or on HLT); nextPoll() returns Infinity.
//
//  * Synchronous values, requested by the CPU or a device in the middle of a slice, at the
//    icount of the instruction that needs them:
//      gate.tsc(icount)            -> [lo, hi]  RDTSC/RDTSCP (nanoseconds of guest time)
//      gate.rdrand(icount)         -> [lo, hi]  RDRAND/RDSEED 64 random bits (CF=1 always)
//      gate.diskRead(icount, disk, offset, len)  -> bytes | null (host I/O error)
//      gate.diskWrite(icount, disk, offset, data) -> ok?   (an output: not done on replay)
//      gate.diskFlush(icount, disk)               -> ok?
//    The returned pairs are reused buffers: copy them before the next call. A replay gate
//    throws GateDivergence when the next record is not the one asked for (kind, channel or
//    icount differ) — that is a replay divergence, reported precisely.
//
//  * The time a HLT waits for: on the primary, the run loop polls (sleeping briefly between
//    polls) until the CPU has an interrupt; on replay it simply polls at each logged unit.
//
//  * Resume (go-live, `record --from-snapshot`): the one way to continue guest time is
//      new LiveGate(backends, { resume: t, ... })   with t = replayGate.guestTime() at go-live
//    or a snapshot's meta.time: TSC, PIT and RTC continue from the saved guest time with no jump;
//    the RTC keeps its wall origin, so the guest's wall clock lags the host's by the pause.
// ---------------------------------------------------------------------------------------

import type { BlockIo } from '../devices/virtio-blk.js';
import { InternalError, InvalidStateError, X86ftError } from '../errors.js';

/**
 * Where guest time stands, for a live gate to resume from (LiveGateOptions.resume): the last guest
 * time delivered (ns), the last TSC value handed out, and the wall clock (ms since 1970 UTC) at
 * guest time 0 that the RTC was given (null: none delivered yet).
 */
export interface GuestTime { timeNs: number; lastTsc: number; wallOriginMs: number | null }

/** Record kinds (numbers so a log codec stores them compactly). */
export const GateKind = {
  /** Guest time in ns (number); ends a poll unit. */
  Time: 1,
  /** Wall clock in ms since 1970 UTC at guest time 0 (number). */
  Wall: 2,
  /** Received console bytes (Uint8Array). */
  ConsoleIn: 3,
  /** A received Ethernet frame for NIC `chan` (Uint8Array). */
  NetRx: 4,
  /** A host-caused interrupt line change: line `chan`, payload 1 (raise) or 0 (lower). */
  Irq: 5,
  /** RDTSC value (number, < 2^53). */
  Tsc: 6,
  /** RDRAND value (Uint8Array of 8 bytes, little-endian). */
  Rdrand: 7,
  /** Disk `chan` read: Uint8Array of data, or number 1 for a host I/O error. */
  DiskRead: 8,
  /** Disk `chan` write completed: payload 0 ok, 1 error. */
  DiskWrite: 9,
  /** Disk `chan` flush completed: payload 0 ok, 1 error. */
  DiskFlush: 10,
} as const;
export type GateKind = (typeof GateKind)[keyof typeof GateKind];

/** One logged host value. `chan` says which device instance (0 when there is one); `arg`
 *  is the byte offset of a DiskRead/DiskWrite (checked on replay, and what a log codec
 *  stores as the sector: arg / 512). */
export interface GateRecord { icount: number; kind: GateKind; chan: number; payload: number | Uint8Array; arg?: number }

const KIND_NAME: Record<number, string> = Object.fromEntries(Object.entries(GateKind).map(([k, v]) => [v, k]));
const POLL_KINDS = new Set<number>([GateKind.Time, GateKind.Wall, GateKind.ConsoleIn, GateKind.NetRx, GateKind.Irq]);

/** Where delivered values go (devices satisfy these shapes structurally). `rxSpace` and `rxReady`
 *  are asked by the live gate only (a replaying machine never asks), so they must be pure queries:
 *  anything that changes guest-visible state happens in a delivery, which replay repeats. */
export interface GateTargets {
  console?: { rxSpace(): number; rxBytes(bytes: Uint8Array): void };
  /** nextEventNs(): guest time (ns) of the target's next interrupt-raising event (Infinity: none
   *  until the guest acts); a live gate polls a halted CPU only when one is due (idlePollDue). */
  clocks?: { setTime(ns: number): void; nextEventNs?(): number }[];
  wall?: { setWall(ms: number): void }[];
  nets?: { rxReady(): boolean; rxFrame(frame: Uint8Array): void }[];
  irq?: (line: number, level: boolean) => void;
  /** Where disk writes and flushes go (the machine's OutputSeam, src/machine/outputs.ts), and the
   *  read-through of held writes. Without it (a gate used without a Machine) a LiveGate writes to
   *  its disk backends itself and a ReplayGate drops writes. */
  outputs?: DiskOutputs;
}

/** The disk side of the output seam, as a gate sees it. */
export interface DiskOutputs {
  /** Live gate: performs (or holds) the write, returns its status. Replay gate: passes the logged status. */
  diskWrite(icount: number, disk: number, offset: number, data: Uint8Array, logged?: boolean): boolean;
  diskFlush(icount: number, disk: number, logged?: boolean): boolean;
  /** `data` as read from the backend, patched with held writes (see OutputSeam.readThrough). */
  readThrough(disk: number, offset: number, data: Uint8Array): Uint8Array;
}

/** The interface the machine programs against; see the comment at the top of this file. */
export interface Gate {
  readonly mode: 'live' | 'replay';
  connect(targets: GateTargets): void;
  poll(icount: number): boolean;
  nextPoll(): number | undefined;
  /** The guest time (ns) delivered by the last poll. */
  readonly timeNs: number;
  /** Where guest time stands now (snapshots and go-live resume from it). */
  guestTime(): GuestTime;
  tsc(icount: number): readonly [number, number];
  rdrand(icount: number): readonly [number, number];
  diskRead(icount: number, disk: number, offset: number, len: number): Uint8Array | null;
  diskWrite(icount: number, disk: number, offset: number, data: Uint8Array): boolean;
  diskFlush(icount: number, disk: number): boolean;
  /** A BlockIo for virtio-blk whose every call crosses this gate at icount(). */
  blockIo(disk: number, icount: () => number): BlockIo;
  /** Replay: throws GateDivergence if the log holds a record stamped before `icount` that the
   *  machine has not consumed (it ran past that record's point). Live: nothing to check. */
  checkPassed(icount: number): void;
  /** Live: whether a poll now can wake a CPU halted in HLT — a host value waits (console bytes the
   *  UART can take, a frame the NIC can take, an IRQ request, the first wall clock) or a clock target's
   *  next event is due. While it is false the run loop does not poll, so an idle guest logs a Time
   *  record per timer event, not per millisecond. Replay: always true (polls come from the log). */
  idlePollDue(): boolean;
}

// ---- host backend interfaces (implemented in src/devices/backends) ----------------------

export interface HostClock {
  /** Monotonic nanoseconds (any origin). */
  monoNs(): number;
  /** Wall clock, ms since 1970 UTC. */
  wallMs(): number;
}
export interface HostEntropy { fill(buf: Uint8Array): void }
export interface ConsoleInput {
  /** Takes up to `max` buffered input bytes without blocking (empty/null when none). */
  read(max: number): Uint8Array | null;
  /** Whether read() would return bytes now (without taking them); absent: assumed (polls as before). */
  hasInput?(): boolean;
}
export interface DiskBackend {
  readonly size: number;
  /** Exactly `len` bytes (zeros past the end of the file); throws on a host error. */
  read(offset: number, len: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  flush(): void;
}
export interface FrameInput {
  /** The oldest received frame not yet taken, or undefined. */
  receive(): Uint8Array | undefined;
  /** Whether receive() would return a frame now; absent: assumed. */
  hasInput?(): boolean;
}

export interface LiveBackends {
  clock: HostClock;
  entropy?: HostEntropy;
  console?: ConsoleInput;
  disks?: DiskBackend[];
  nets?: FrameInput[];
}

export interface LiveGateOptions {
  /** Receives every record, in order (the recorder appends it to the log). */
  onRecord?: (r: GateRecord) => void;
  /**
   * Continue guest time from a saved point (a snapshot's meta.time, or the replaying gate's
   * guestTime() at go-live): the first poll delivers time.timeNs plus the host time elapsed since
   * this gate was made, TSC values never go below time.lastTsc, and no Wall record is sent (the RTC
   * keeps its origin, so the guest's wall clock lags the host's by the pause) unless
   * time.wallOriginMs is null (the wall clock was never delivered: sent at the first poll as at boot).
   */
  resume?: GuestTime;
  /** Guest time at the first poll (the older form of resume.timeNs; ignored with resume). Default 0. */
  startNs?: number;
  /** Lower bound for TSC values (the older form of resume.lastTsc; ignored with resume). */
  startTsc?: number;
  /** Frames delivered per NIC per poll at most (default 64). */
  maxFramesPerPoll?: number;
}

/** A replay log and the machine disagree. */
export class GateDivergence extends X86ftError {
  constructor(msg: string) { super('X86FT_DIVERGENCE', `replay divergence: ${msg}`); this.name = 'GateDivergence'; }
}

abstract class GateBase {
  protected t: GateTargets = {};
  protected readonly pair: [number, number] = [0, 0];
  protected lastTimeNsV = 0;
  protected lastTscV = 0;
  protected wallOriginV: number | null = null;

  connect(targets: GateTargets): void { this.t = targets; }
  get timeNs(): number { return this.lastTimeNsV; }
  guestTime(): GuestTime { return { timeNs: this.lastTimeNsV, lastTsc: this.lastTscV, wallOriginMs: this.wallOriginV }; }
  /** The last guest time delivered. */
  get lastTimeNs(): number { return this.lastTimeNsV; }
  /** The last TSC value returned. */
  get lastTsc(): number { return this.lastTscV; }

  abstract diskRead(icount: number, disk: number, offset: number, len: number): Uint8Array | null;
  abstract diskWrite(icount: number, disk: number, offset: number, data: Uint8Array): boolean;
  abstract diskFlush(icount: number, disk: number): boolean;

  blockIo(disk: number, icount: () => number): BlockIo {
    return {
      read: (offset, len) => this.diskRead(icount(), disk, offset, len),
      write: (offset, data) => this.diskWrite(icount(), disk, offset, data),
      flush: () => this.diskFlush(icount(), disk),
    };
  }

  /** Hands one poll-kind record to its device. */
  protected deliver(r: GateRecord): void {
    const t = this.t;
    switch (r.kind) {
      case GateKind.Wall:
        this.wallOriginV = r.payload as number;
        for (const w of t.wall ?? []) w.setWall(r.payload as number);
        break;
      case GateKind.Irq: if (t.irq) t.irq(r.chan, r.payload !== 0); break;
      case GateKind.ConsoleIn: if (t.console) t.console.rxBytes(r.payload as Uint8Array); break;
      case GateKind.NetRx: t.nets?.[r.chan]?.rxFrame(r.payload as Uint8Array); break;
      case GateKind.Time:
        this.lastTimeNsV = r.payload as number;
        for (const c of t.clocks ?? []) c.setTime(r.payload as number);
        break;
      default: throw new InternalError(`gate: record kind ${r.kind} is not deliverable`);
    }
  }

  protected setPair(lo: number, hi: number): readonly [number, number] {
    this.pair[0] = lo >>> 0; this.pair[1] = hi >>> 0;
    return this.pair;
  }
}

/** Takes values from host backends; every value is reported to onRecord. */
export class LiveGate extends GateBase implements Gate {
  readonly mode = 'live' as const;
  private readonly hostOrigin: number;
  private readonly startNs: number;
  private wallSent = false;
  private readonly irqQueue: [number, boolean][] = [];
  private readonly onRecord: (r: GateRecord) => void;
  private readonly maxFrames: number;

  constructor(private readonly b: LiveBackends, opts: LiveGateOptions = {}) {
    super();
    this.onRecord = opts.onRecord ?? (() => {});
    const r = opts.resume;
    this.startNs = r ? r.timeNs : opts.startNs ?? 0;
    this.lastTimeNsV = this.startNs;
    this.lastTscV = r ? r.lastTsc : opts.startTsc ?? 0;
    if (r && r.wallOriginMs !== null) { this.wallSent = true; this.wallOriginV = r.wallOriginMs; }
    this.maxFrames = opts.maxFramesPerPoll ?? 64;
    this.hostOrigin = b.clock.monoNs();
  }

  nextPoll(): number { return Infinity; }
  checkPassed(_icount: number): void { /* live: every value is taken when asked for */ }

  idlePollDue(): boolean {
    if (!this.wallSent || this.irqQueue.length) return true;
    const t = this.t, b = this.b;
    if (t.console && b.console && t.console.rxSpace() > 0 && (b.console.hasInput?.() ?? true)) return true;
    const nets = t.nets ?? [];
    for (let i = 0; i < nets.length; i++) {
      const src = b.nets?.[i];
      if (src && nets[i]!.rxReady() && (src.hasInput?.() ?? true)) return true;
    }
    let next = Infinity;
    for (const c of t.clocks ?? []) {
      if (!c.nextEventNs) return true;
      next = Math.min(next, c.nextEventNs());
    }
    return next !== Infinity && this.guestNs() >= next;
  }

  /** The disk backends (a Machine built on this gate without an OutputSeam writes to them). */
  get diskBackends(): readonly DiskBackend[] | undefined { return this.b.disks; }

  /** Guest time now: start + host time elapsed, never going backwards. */
  private guestNs(): number {
    const ns = Math.max(this.lastTimeNsV, this.startNs + Math.floor(this.b.clock.monoNs() - this.hostOrigin));
    return ns;
  }

  private rec(icount: number, kind: GateKind, chan: number, payload: number | Uint8Array, arg?: number): GateRecord {
    const r: GateRecord = arg === undefined ? { icount, kind, chan, payload } : { icount, kind, chan, payload, arg };
    this.onRecord(r);
    return r;
  }

  /** A host-side source (not a device model) asks for an interrupt line change; it is
   *  delivered, and logged, at the next poll. */
  requestIrq(line: number, level: boolean): void { this.irqQueue.push([line, level]); }

  poll(icount: number): boolean {
    const now = this.guestNs();
    if (!this.wallSent) {
      this.wallSent = true;
      this.deliver(this.rec(icount, GateKind.Wall, 0, this.b.clock.wallMs() - Math.floor(now / 1e6)));
    }
    for (const [line, level] of this.irqQueue.splice(0)) this.deliver(this.rec(icount, GateKind.Irq, line, level ? 1 : 0));
    const con = this.t.console;
    if (con && this.b.console) {
      const space = con.rxSpace();
      if (space > 0) {
        const bytes = this.b.console.read(space);
        if (bytes && bytes.length) this.deliver(this.rec(icount, GateKind.ConsoleIn, 0, bytes.slice(0, space)));
      }
    }
    const nets = this.t.nets ?? [];
    for (let i = 0; i < nets.length; i++) {
      const src = this.b.nets?.[i];
      if (!src) continue;
      for (let n = 0; n < this.maxFrames && nets[i]!.rxReady(); n++) {
        const f = src.receive();
        if (!f) break;
        this.deliver(this.rec(icount, GateKind.NetRx, i, f));
      }
    }
    this.deliver(this.rec(icount, GateKind.Time, 0, now));
    return true;
  }

  tsc(icount: number): readonly [number, number] {
    const v = Math.max(this.lastTscV, this.guestNs());
    this.lastTscV = v;
    this.rec(icount, GateKind.Tsc, 0, v);
    return this.setPair(v % 0x100000000, Math.floor(v / 0x100000000));
  }

  rdrand(icount: number): readonly [number, number] {
    const buf = new Uint8Array(8);
    if (!this.b.entropy) throw new InvalidStateError('gate: RDRAND needs an entropy backend');
    this.b.entropy.fill(buf);
    this.rec(icount, GateKind.Rdrand, 0, buf);
    const dv = new DataView(buf.buffer);
    return this.setPair(dv.getUint32(0, true), dv.getUint32(4, true));
  }

  private disk(disk: number): DiskBackend {
    const d = this.b.disks?.[disk];
    if (!d) throw new InvalidStateError(`gate: no disk backend ${disk}`);
    return d;
  }

  diskRead(icount: number, disk: number, offset: number, len: number): Uint8Array | null {
    let data: Uint8Array | null;
    try { data = this.disk(disk).read(offset, len); } catch { data = null; }
    if (data && data.length !== len) data = null;
    // the guest sees its own held writes (Output Rule); the log records what the guest sees
    if (data && this.t.outputs) data = this.t.outputs.readThrough(disk, offset, data);
    this.rec(icount, GateKind.DiskRead, disk, data ?? 1, offset);
    return data;
  }

  diskWrite(icount: number, disk: number, offset: number, data: Uint8Array): boolean {
    let ok = true;
    const out = this.t.outputs;
    if (out) ok = out.diskWrite(icount, disk, offset, data);
    else try { this.disk(disk).write(offset, data); } catch { ok = false; }
    this.rec(icount, GateKind.DiskWrite, disk, ok ? 0 : 1, offset);
    return ok;
  }

  diskFlush(icount: number, disk: number): boolean {
    let ok = true;
    const out = this.t.outputs;
    if (out) ok = out.diskFlush(icount, disk);
    else try { this.disk(disk).flush(); } catch { ok = false; }
    this.rec(icount, GateKind.DiskFlush, disk, ok ? 0 : 1);
    return ok;
  }
}

/** Takes values only from a list of records; no backend is attached. */
export class ReplayGate extends GateBase implements Gate {
  readonly mode = 'replay' as const;
  private readonly log: GateRecord[] = [];
  private pos = 0;
  private ended = false;

  /** @param records the log so far; more can be fed with feed(); end() marks it complete. */
  constructor(records: readonly GateRecord[] = [], complete = true) {
    super();
    this.feed(records);
    this.ended = complete;
  }

  feed(records: readonly GateRecord[]): void { for (const r of records) this.log.push(r); }
  idlePollDue(): boolean { return true; }
  end(): void { this.ended = true; }

  private holdAt = Infinity;
  /**
   * Polls deliver no record at or after log position `pos` (Infinity: no hold) until the hold moves:
   * a replay session holds the poll units its log has after a digest, start or snapshot record at the
   * same count until it has taken that record (session.ts). A held unit at the machine's count is
   * one it waits for (poll() false, as for a unit not complete yet); nextPoll() still names its count.
   */
  hold(pos: number): void { this.holdAt = pos; }

  /** Guest time as a snapshot saved it (a replay from the snapshot: go-live resumes from it until a Time record comes). */
  resumeFrom(t: GuestTime): void { this.lastTimeNsV = t.timeNs; this.lastTscV = t.lastTsc; this.wallOriginV = t.wallOriginMs; }

  /** The records consumed last that are stamped `icount` (what the machine took at that count), in order. */
  consumedAt(icount: number): GateRecord[] {
    let i = this.pos;
    while (i > 0 && this.log[i - 1]!.icount === icount) i--;
    return this.log.slice(i, this.pos);
  }

  /** Records not consumed yet. */
  get remaining(): number { return this.log.length - this.pos; }
  /** Records fed so far, and consumed so far (positions in the log's gate-record order). */
  get fed(): number { return this.log.length; }
  get consumed(): number { return this.pos; }

  /** Index of the Time record ending the unit that starts at pos, or -1 if not yet logged. */
  private unitEnd(): number {
    for (let i = this.pos; i < this.log.length; i++) {
      const k = this.log[i]!.kind;
      if (!POLL_KINDS.has(k)) return -2; // a synchronous record comes first
      if (k === GateKind.Time) return i;
    }
    return -1;
  }

  nextPoll(): number | undefined {
    // Sync records before the next unit are consumed by the CPU/devices during the slice.
    for (let i = this.pos; i < this.log.length; i++) {
      const r = this.log[i]!;
      if (POLL_KINDS.has(r.kind)) {
        for (let j = i; j < this.log.length; j++) if (this.log[j]!.kind === GateKind.Time) return r.icount;
        return this.ended ? r.icount : undefined;
      }
    }
    return this.ended ? Infinity : undefined;
  }

  /** What the log holds next, for reports. */
  private describe(r: GateRecord): string { return `${KIND_NAME[r.kind]}[${r.chan}] at icount ${r.icount}`; }

  checkPassed(icount: number): void {
    const r = this.log[this.pos];
    if (r && r.icount < icount) {
      throw new GateDivergence(`the machine reached icount ${icount} without consuming the log's ${this.describe(r)}`);
    }
  }

  poll(icount: number): boolean {
    const first = this.log[this.pos];
    if (!first) return false;
    if (first.icount > icount || this.pos >= this.holdAt) return false;
    if (!POLL_KINDS.has(first.kind)) {
      // a synchronous value logged before this poll that the machine did not ask for: waiting
      // for it would never end (the machine only goes on from here by polling)
      throw new GateDivergence(`the machine polls at icount ${icount} but has not asked for the log's ${this.describe(first)}`);
    }
    if (first.icount < icount) {
      throw new GateDivergence(`log has a poll at icount ${first.icount}, machine polled first at ${icount}`);
    }
    const end = this.unitEnd();
    if (end === -2) throw new GateDivergence(`poll unit at ${icount} is interrupted by a synchronous record`);
    if (end === -1) {
      if (this.ended) throw new GateDivergence(`log ends inside a poll unit at icount ${icount}`);
      return false;
    }
    while (this.pos <= end) {
      const r = this.log[this.pos++]!;
      if (r.icount !== icount) throw new GateDivergence(`poll unit at ${icount} has a record at ${r.icount}`);
      this.deliver(r);
    }
    return true;
  }

  /** The next record, which must be (kind, chan) at icount. */
  private take(icount: number, kind: GateKind, chan: number): GateRecord {
    const r = this.log[this.pos];
    if (!r) throw new GateDivergence(`${KIND_NAME[kind]} at icount ${icount}: log exhausted`);
    if (r.kind !== kind || r.chan !== chan || r.icount !== icount) {
      throw new GateDivergence(`machine asks ${KIND_NAME[kind]}[${chan}] at icount ${icount}, log has ${KIND_NAME[r.kind]}[${r.chan}] at ${r.icount}`);
    }
    this.pos++;
    return r;
  }

  tsc(icount: number): readonly [number, number] {
    const v = this.take(icount, GateKind.Tsc, 0).payload as number;
    this.lastTscV = v;
    return this.setPair(v % 0x100000000, Math.floor(v / 0x100000000));
  }

  rdrand(icount: number): readonly [number, number] {
    const b = this.take(icount, GateKind.Rdrand, 0).payload as Uint8Array;
    const dv = new DataView(b.buffer, b.byteOffset, 8);
    return this.setPair(dv.getUint32(0, true), dv.getUint32(4, true));
  }

  private checkOffset(r: GateRecord, offset: number): void {
    if (r.arg !== undefined && r.arg !== offset) {
      throw new GateDivergence(`${KIND_NAME[r.kind]}[${r.chan}] at icount ${r.icount}: machine offset ${offset}, log has ${r.arg}`);
    }
  }

  diskRead(icount: number, disk: number, offset: number, len: number): Uint8Array | null {
    const r = this.take(icount, GateKind.DiskRead, disk);
    this.checkOffset(r, offset);
    const p = r.payload;
    if (typeof p === 'number') return null;
    if (p.length !== len) throw new GateDivergence(`disk ${disk} read of ${len} bytes at ${offset}: log has ${p.length}`);
    return p;
  }

  diskWrite(icount: number, disk: number, offset: number, data: Uint8Array): boolean {
    const r = this.take(icount, GateKind.DiskWrite, disk);
    this.checkOffset(r, offset);
    const ok = r.payload === 0;
    this.t.outputs?.diskWrite(icount, disk, offset, data, ok);
    return ok;
  }

  diskFlush(icount: number, disk: number): boolean {
    const ok = this.take(icount, GateKind.DiskFlush, disk).payload === 0;
    this.t.outputs?.diskFlush(icount, disk, ok);
    return ok;
  }
}

/** Forwards to the current gate; go-live swaps a ReplayGate for a LiveGate under the devices. */
export class GateSwitch implements Gate {
  private targets: GateTargets = {};
  constructor(private cur: Gate) {}
  get current(): Gate { return this.cur; }
  use(g: Gate): void { this.cur = g; g.connect(this.targets); }
  get mode(): 'live' | 'replay' { return this.cur.mode; }
  get timeNs(): number { return this.cur.timeNs; }
  guestTime(): GuestTime { return this.cur.guestTime(); }
  connect(t: GateTargets): void { this.targets = t; this.cur.connect(t); }
  poll(icount: number): boolean { return this.cur.poll(icount); }
  nextPoll(): number | undefined { return this.cur.nextPoll(); }
  tsc(icount: number): readonly [number, number] { return this.cur.tsc(icount); }
  rdrand(icount: number): readonly [number, number] { return this.cur.rdrand(icount); }
  diskRead(i: number, d: number, o: number, l: number): Uint8Array | null { return this.cur.diskRead(i, d, o, l); }
  diskWrite(i: number, d: number, o: number, data: Uint8Array): boolean { return this.cur.diskWrite(i, d, o, data); }
  diskFlush(i: number, d: number): boolean { return this.cur.diskFlush(i, d); }
  checkPassed(icount: number): void { this.cur.checkPassed(icount); }
  idlePollDue(): boolean { return this.cur.idlePollDue(); }
  blockIo(disk: number, icount: () => number): BlockIo {
    return {
      read: (o, l) => this.diskRead(icount(), disk, o, l),
      write: (o, data) => this.diskWrite(icount(), disk, o, data),
      flush: () => this.diskFlush(icount(), disk),
    };
  }
}
