// The replayer (secondary side of record/replay): rebuilds the recorded machine on a ReplayGate
// (no backends), feeds it the log as entries arrive (a finished file, or a stream it follows),
// suppresses and tallies its outputs, and checks every digest at its exact instruction count.
// A divergence stops the replay with a precise report; a cut or corrupted log is a LogError,
// never a divergence. The replay session owns its log reader.

import { Machine, type MachineConfig, type RunResult } from '../machine/machine.js';
import { ReplayGate, GateDivergence, GateSwitch, type Gate } from '../machine/gate.js';
import { readLog } from './reader.js';
import type { LogDecoder } from './codec.js';
import type { LogEntry, LogHeader } from './format.js';
import { entryToGate } from './gate-entries.js';
import { OutputTally, computeDigest, deviceNames, firstDifference, recordedDigest, resetDirty, sameDigest, type Digest } from './digest.js';
import { configFromJson, restoreSnapshot, restoredOutputs } from './machine-snapshot.js';
import { sha256Hex, SNAPSHOT_END_REASON } from './recorder.js';

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
}

export interface ReplayerOptions {
  /** The guest image: checked against header.imageSha256 (unless the run starts from a snapshot). */
  image?: Uint8Array;
  /** Snapshot bytes, when the log starts from one (header.fromSnapshot). */
  snapshot?: Uint8Array;
  /** Receives each suppressed console byte (e.g. to show what the guest printed). */
  consoleOut?: (byte: number) => void;
  /** Receives each suppressed frame. */
  netOut?: (dev: number, frame: Uint8Array) => void;
  /** Sees each disk write the guest makes (suppressed on replay: the disk is not touched); e.g. a
   *  secondary keeping its own copy of the disk image. */
  diskWrite?: (disk: number, offset: number, data: Uint8Array) => void;
  /** Stop at this icount (total) even if the log goes on; outcome 'incomplete'. */
  stopAt?: number;
  /** Called at each matched digest (e.g. to snapshot there: the machine is between slices). */
  onDigest?: (m: Machine, icount: number, outputs: OutputTally) => void;
  /** Entries kept for the divergence report (default 8). */
  historyLength?: number;
}

/** Why the replayer refused a log or its inputs before replaying (image/snapshot mismatch). */
export class ReplaySetupError extends Error {
  constructor(msg: string) { super(msg); this.name = 'ReplaySetupError'; }
}

/** Short text of an entry for reports. */
export function describeEntry(e: LogEntry): string {
  const p = e.payload as unknown as Record<string, unknown>;
  const parts = Object.entries(p).map(([k, v]) => {
    if (v instanceof Uint8Array) return `${k}=bytes[${v.length}]`;
    if (typeof v === 'number' && (k === 'lo' || k === 'hi')) return `${k}=0x${v.toString(16)}`;
    return `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
  });
  return `@${e.icount} ${e.kind} ${parts.join(' ')}`;
}

/**
 * Replays one log. `replay(source)` reads it (any async iterable of byte chunks: a file, a
 * followed file, a TCP/TLS connection) while running the machine, and resolves with the report.
 * It rejects with LogError for a cut or corrupted log, HeaderMismatchError / ReplaySetupError for
 * a log that is not for this image or snapshot, and ChannelError if the transport fails.
 */
export class Replayer {
  machine: Machine | undefined;
  readonly outputs = new OutputTally();
  private gate = new ReplayGate([], false);
  private header: LogHeader | undefined;
  /** Digests not yet checked: [icount, hash, detail]. */
  private digests: { icount: number; d: Digest }[] = [];
  private pendingDetail: LogEntry | undefined;
  /** icounts of start records not reached yet: a recorder attached there (chained logs, src/replay/chain.ts). */
  private starts: number[] = [];
  private end: { icount: number; reason: string; status: number } | undefined;
  private logDone = false;
  private logError: unknown;
  private wake: (() => void) | undefined;
  private history: string[] = [];
  private entries = 0;
  private devNames: string[] = [];

  /** The gate the machine is wired to (the replay gate, tapped for disk writes if asked). */
  private readonly machineGate: Gate;

  constructor(private readonly opts: ReplayerOptions = {}) {
    const tap = opts.diskWrite;
    if (!tap) { this.machineGate = this.gate; return; }
    this.machineGate = new (class extends GateSwitch {
      override diskWrite(i: number, d: number, o: number, data: Uint8Array): boolean {
        const ok = super.diskWrite(i, d, o, data);
        if (ok) tap(d, o, data);
        return ok;
      }
    })(this.gate);
  }

  private onHeader(h: LogHeader): void {
    if (h.fromSnapshot === null) {
      if (!this.opts.image) throw new ReplaySetupError('the log starts from boot: the guest image is needed');
      const sha = sha256Hex(this.opts.image);
      if (sha !== h.imageSha256) throw new ReplaySetupError(`the image's SHA-256 ${sha} is not the log's ${h.imageSha256}`);
      const config: MachineConfig = configFromJson(h.devices);
      if ((config.memSize ?? 0) !== h.memorySize) throw new ReplaySetupError(`header memory size ${h.memorySize} != device configuration ${String(config.memSize)}`);
      this.machine = Machine.fromElf(this.opts.image, { ...config, gate: this.machineGate, consoleOut: this.consoleSink(), netOut: this.netSink() });
    } else {
      if (!this.opts.snapshot) throw new ReplaySetupError(`the log starts from snapshot ${h.fromSnapshot}: the snapshot file is needed`);
      let r;
      try {
        r = restoreSnapshot(this.opts.snapshot, { gate: this.machineGate, consoleOut: this.consoleSink(), netOut: this.netSink() }, { expectHash: h.fromSnapshot });
      } catch (e) { throw new ReplaySetupError((e as Error).message); }
      if (r.meta.imageSha256 !== h.imageSha256) throw new ReplaySetupError(`snapshot is of image ${r.meta.imageSha256}, the log of ${h.imageSha256}`);
      if (this.opts.image && sha256Hex(this.opts.image) !== h.imageSha256) throw new ReplaySetupError(`the image's SHA-256 is not the log's ${h.imageSha256}`);
      if (r.icount !== h.startIcount) throw new ReplaySetupError(`snapshot is at icount ${r.icount}, the log starts at ${h.startIcount}`);
      this.machine = r.machine;
      restoredOutputs(r.meta, this.outputs);
    }
    resetDirty(this.machine);
    this.devNames = deviceNames(this.machine);
    this.header = h;
  }

  private consoleSink(): (b: number) => void {
    const next = this.opts.consoleOut;
    return (b) => { this.outputs.console(b); next?.(b); };
  }
  private netSink(): (dev: number, f: Uint8Array) => void {
    const next = this.opts.netOut;
    return (dev, f) => { this.outputs.frame(dev, f); next?.(dev, f); };
  }

  /** Sorts one entry into the gate, the digest queue or the end record. */
  private take(e: LogEntry): void {
    this.entries++;
    const h = this.history;
    h.push(describeEntry(e));
    if (h.length > (this.opts.historyLength ?? 8) * 4) h.splice(0, h.length - (this.opts.historyLength ?? 8) * 2);
    const g = entryToGate(e);
    if (g) { this.gate.feed([g]); return; }
    switch (e.kind) {
      case 'digest-detail': this.pendingDetail = e; break;
      case 'digest': {
        const det = this.pendingDetail && this.pendingDetail.icount === e.icount && this.pendingDetail.kind === 'digest-detail' ? this.pendingDetail.payload : undefined;
        this.pendingDetail = undefined;
        this.digests.push({ icount: e.icount, d: recordedDigest(e.payload.hash, det) });
        break;
      }
      case 'end': this.end = { icount: e.icount, reason: e.payload.reason, status: e.payload.status }; break;
      // A recorder starts its dirty-page set where it attaches (its start record): so does the
      // replay, which matters where a chain of logs continues (generation g+1 from G).
      case 'start': this.starts.push(e.icount); break;
      default: break; // snapshot, heartbeat: nothing to replay (M9)
    }
  }

  /** History up to (and including) entries at or before `icount`. */
  private lastEntries(icount: number): string[] {
    const n = this.opts.historyLength ?? 8;
    const upto = this.history.filter((s) => Number(s.slice(1, s.indexOf(' '))) <= icount);
    return upto.slice(-n);
  }

  async replay(source: AsyncIterable<Uint8Array>): Promise<ReplayReport> {
    let decoder: LogDecoder | undefined;
    let headerErr: unknown;
    const it = readLog(source, {
      decoder: (d) => (decoder = d),
      onHeader: (h) => { try { this.onHeader(h); } catch (e) { headerErr = e; throw e; } },
    });
    // Pump: feed entries as they arrive; the run loop below waits for it when it needs more log.
    const pump = (async () => {
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          this.take(r.value);
          if (this.wake && (r.value.kind === 'host-time' || r.value.kind === 'digest' || r.value.kind === 'end')) this.poke();
        }
      } catch (e) {
        this.logError = headerErr ?? e;
      } finally {
        this.logDone = true;
        if (!this.logError) this.gate.end();
        this.poke();
      }
    })();
    let report: ReplayReport | undefined;
    try {
      report = await this.runLoop(() => decoder?.header);
    } finally {
      // A replay that reached the end still needs the rest of the log to be sound (the end frame
      // follows the end record): a cut or corrupted log is reported as such, never as a result.
      if (!this.logDone && report?.outcome !== 'identical') await it.return(undefined as never).catch(() => undefined);
      await pump;
    }
    if (this.logError && report!.outcome === 'identical') throw this.logError;
    return report!;
  }

  private poke(): void { const w = this.wake; this.wake = undefined; w?.(); }

  private waitMore(): Promise<void> {
    if (this.logDone) return Promise.resolve();
    return new Promise((r) => {
      this.wake = r;
      // batch boundaries also matter (sync records): poll briefly as a fallback
      setTimeout(() => this.poke(), 5);
    });
  }

  private report(outcome: ReplayOutcome, run?: RunResult, divergence?: Divergence, checked = 0): ReplayReport {
    const m = this.machine!;
    return {
      outcome, header: this.header!, instructions: m.cpu.icount, run, recordedEnd: this.end ? { reason: this.end.reason, status: this.end.status } : undefined,
      digestsChecked: checked, entries: this.entries, divergence,
      consoleBytes: this.outputs.consoleBytes, frames: this.outputs.frames,
    };
  }

  private async runLoop(header: () => LogHeader | undefined): Promise<ReplayReport> {
    // wait for the header (the machine is built there)
    while (!this.machine) {
      if (this.logError) throw this.logError;
      if (this.logDone) throw this.logError ?? new ReplaySetupError('the log has no header');
      await this.waitMore();
    }
    void header;
    const m = this.machine;
    let checked = 0, lastGood = -1;
    const diverge = (kind: Divergence['kind'], message: string, run?: RunResult): ReplayReport =>
      this.report('divergence', run, { icount: m.cpu.icount, kind, message, lastGoodDigest: lastGood, lastEntries: this.lastEntries(m.cpu.icount) }, checked);
    const check = (run?: RunResult): ReplayReport | null => {
      const want = this.digests.shift()!;
      const got = computeDigest(m, this.outputs);
      if (!sameDigest(want.d, got)) {
        const diff = firstDifference(want.d, got, this.devNames);
        return diverge('digest', `digest at icount ${want.icount} differs: ${diff.message}`, run);
      }
      checked++; lastGood = want.icount;
      this.opts.onDigest?.(m, m.cpu.icount, this.outputs);
      return null;
    };
    for (;;) {
      if (this.logError) throw this.logError;
      const nextDigest = this.digests.length ? this.digests[0]!.icount : Infinity;
      const endAt = this.end ? this.end.icount : Infinity;
      while (this.starts.length && this.starts[0]! <= m.cpu.icount) {
        if (this.starts.shift() === m.cpu.icount) resetDirty(m);
        else return diverge('machine', `the log has a start record before icount ${m.cpu.icount}, where the replay already is`);
      }
      const target = Math.min(nextDigest, endAt, this.opts.stopAt ?? Infinity, this.starts[0] ?? Infinity);
      if (target < m.cpu.icount) return diverge('machine', `the log has a record at icount ${target}, the replay is already at ${m.cpu.icount}`);
      let r: RunResult;
      try {
        r = m.run(target);
      } catch (e) {
        if (e instanceof GateDivergence) {
          if (this.logError) throw this.logError;
          return diverge('gate', e.message.replace(/^replay divergence: /, ''));
        }
        throw e;
      }
      if (r.end === 'wait-log') {
        if (this.logDone) {
          if (this.logError) throw this.logError;
          // finished log, the machine wants more: the run went on past where the recording stopped
          return diverge('machine', `the machine needs log past icount ${m.cpu.icount}, but the log has no more input`, r);
        }
        await this.waitMore();
        continue;
      }
      if (r.end === 'budget') {
        if (m.cpu.icount === nextDigest) {
          const d = check(r);
          if (d) return d;
          // an end record at this icount with reason budget/stopped: the recording stopped here
          if (this.end && this.end.icount === m.cpu.icount && !this.digests.length) {
            if (STOPPED_REASONS.has(this.end.reason)) return this.report('identical', r, undefined, checked);
            return diverge('end', `the recording ended with '${this.end.reason}' (status ${this.end.status}) at ${this.end.icount}; the replay is still running there`, r);
          }
          continue;
        }
        if (this.opts.stopAt !== undefined && m.cpu.icount >= this.opts.stopAt) return this.report('incomplete', r, undefined, checked);
        if (this.end && m.cpu.icount === this.end.icount) {
          if (STOPPED_REASONS.has(this.end.reason)) return this.report('identical', r, undefined, checked);
          return diverge('end', `the recording ended with '${this.end.reason}' (status ${this.end.status}) at ${this.end.icount}; the replay is still running there`, r);
        }
        continue; // target moved (more log arrived)
      }
      // the replayed run ended (exit, halt, fault, internal error)
      if (r.end === 'internal-error') {
        const ie = m.cpu.internalError;
        if (ie instanceof GateDivergence) {
          if (this.logError) throw this.logError;
          return diverge('gate', ie.message.replace(/^replay divergence: /, ''), r);
        }
        return diverge('machine', `internal emulator error during replay: ${r.message}`, r);
      }
      if (this.digests.length && this.digests[0]!.icount === m.cpu.icount) {
        const d = check(r);
        if (d) return d;
      }
      // wait for the end record (following a live log)
      while (!this.end && !this.logDone) await this.waitMore();
      if (this.logError) throw this.logError;
      if (this.digests.length && this.digests[0]!.icount === m.cpu.icount) {
        const d = check(r);
        if (d) return d;
      }
      if (!this.end) return this.report('incomplete', r, undefined, checked);
      if (this.end.icount !== m.cpu.icount || this.end.reason !== r.end || (r.end === 'exit' && this.end.status !== r.status)) {
        return diverge('end', `the replay ended with '${r.end}'${r.end === 'exit' ? ` (status ${r.status})` : ''} at icount ${m.cpu.icount}; the recording ended with '${this.end.reason}' (status ${this.end.status}) at ${this.end.icount}${r.message ? `: ${r.message}` : ''}`, r);
      }
      if (this.digests.length) return diverge('end', `the replay ended at ${m.cpu.icount} but the log has a digest at ${this.digests[0]!.icount}`, r);
      return this.report('identical', r, undefined, checked);
    }
  }
}
