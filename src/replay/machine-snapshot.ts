// Whole-machine snapshots: CPU, devices, RAM and the machine configuration in the snapshot
// container (snapshot.ts). Restoring into Machine.empty(config) gives a machine that runs on
// exactly as the original would. Imports the machine; the container stays machine-agnostic.

import { readFileSync, writeFileSync } from 'node:fs';
import { Machine, type MachineConfig, type MachineIo, type DeviceStates } from '../machine/machine.js';
import { snapshotPoint, cpuStateProblem, type CpuState } from '../cpu/state.js';
import type { GuestTime } from '../machine/gate.js';
import { encodeSnapshot, decodeSnapshot, PAGE_SIZE } from './snapshot.js';
import { resetDirty, OutputTally } from './digest.js';
import { canonicalJson, type JsonValue, type LogEntry } from './format.js';
import { entryToGate } from './gate-entries.js';
import { BadStateError } from '../errors.js';

export const MACHINE_SNAPSHOT_KIND = 'x86ft-machine';
/**
 * Version 2: the CPU's whole declared register file (x87 and debug registers included) and the guest
 * time to resume from (with the RTC's wall origin). Version-1 snapshots are refused: they lack the x87
 * state, so a machine restored from one would not be the machine that was saved.
 */
export const MACHINE_SNAPSHOT_VERSION = 2;

/** What besides the machine a snapshot remembers (for a log that starts from it and for go-live). */
export interface SnapshotMeta {
  /** SHA-256 (hex) of the guest image the machine was booted from. */
  imageSha256: string;
  /** Where guest time stood (a live gate resumes from it: LiveGateOptions.resume). */
  time: GuestTime;
  /** Whether the guest had written the debug-exit port. */
  exited: boolean;
  /** The output tally so far (digests cover outputs since boot). */
  outputs: { consoleBytes: number; consoleHash: number; frames: number; frameHash: number };
  /** Per output stream, the last sequence number assigned (OutputSeam.counters(); absent in older snapshots). */
  outputSeqs?: Record<string, number>;
  /** What the machine took at its count before the snapshot, as log entries in log order: the gate records of
   *  its poll there (and a snapshot record of an earlier snapshot at the same count). A log that goes on from
   *  this count with nothing run in between carries them before its start (ReplaySession.goLive): a chain
   *  replay takes the previous log's entries < that count only. Absent in older snapshots (none known). */
  carried?: LogEntry[];
}

/** What a snapshot's taker gives besides the machine (the rest of SnapshotMeta is read from it). */
export interface SnapshotMetaInit { imageSha256: string; carried?: LogEntry[] }

export interface MachineSnapshot {
  bytes: Uint8Array;
  /** SHA-256 (hex) of the snapshot body: its identity in a log header (fromSnapshot). */
  hash: string;
  /** icount at which it was taken. */
  icount: number;
}

/** The configuration part a snapshot stores (JSON-able; the log header's `devices`). */
export function configJson(c: MachineConfig): JsonValue {
  return JSON.parse(canonicalJson({
    memSize: c.memSize ?? null,
    cmdline: c.cmdline ?? '',
    disks: (c.disks ?? []).map((d) => ({ sizeBytes: d.sizeBytes, readOnly: d.readOnly ?? false })),
    nets: (c.nets ?? []).map((n) => ({ mac: n.mac ?? null })),
  })) as JsonValue;
}

/** The MachineConfig back from configJson(). */
export function configFromJson(j: JsonValue): MachineConfig {
  const o = j as { memSize: number | null; cmdline: string; disks: { sizeBytes: number; readOnly: boolean }[]; nets: { mac: number[] | null }[] };
  return {
    memSize: o.memSize ?? undefined,
    cmdline: o.cmdline,
    disks: o.disks.map((d) => ({ sizeBytes: d.sizeBytes, readOnly: d.readOnly })),
    nets: o.nets.map((n) => (n.mac ? { mac: n.mac } : {})),
  };
}

/**
 * Snapshot `m` now (between run slices). This is a snapshot point (snapshotPoint): `m` drops its
 * cached translations and decoded code, as the machine restored from the snapshot starts without
 * them, so the two run on identically whatever the guest did to its page tables. Also marks every
 * page clean: a log that starts from this snapshot digests the pages written after it (the
 * restored machine starts clean too).
 */
export function takeSnapshot(m: Machine, meta: SnapshotMetaInit, outputs?: OutputTally): MachineSnapshot {
  snapshotPoint(m.cpu);
  const { bytes, hash } = encodeSnapshot({ sections: machineSections(m, meta, outputs), ram: m.mem.u8 });
  resetDirty(m);
  return { bytes, hash, icount: m.cpu.icount };
}

/**
 * Everything of `m` but its RAM, as a snapshot's sections (kind, version, config, cpu, devices, meta):
 * takeSnapshot() stores them with RAM; a live snapshot's pre-copy (precopy.ts) sends them apart.
 * Call at a snapshot point.
 */
export function machineSections(m: Machine, meta: SnapshotMetaInit, outputs?: OutputTally): Record<string, unknown> {
  const o = outputs ?? new OutputTally();
  const full: SnapshotMeta = {
    ...meta, time: m.gate.guestTime(), exited: m.exited,
    outputs: { consoleBytes: o.consoleBytes, consoleHash: o.consoleHash, frames: o.frames, frameHash: o.frameHash },
    outputSeqs: m.outputs.counters(),
  };
  return { kind: MACHINE_SNAPSHOT_KIND, version: MACHINE_SNAPSHOT_VERSION, config: configJson(m.config), cpu: m.saveCpu(), devices: m.saveDevices(), meta: full };
}

export interface RestoredMachine {
  machine: Machine;
  hash: string;
  icount: number;
  config: MachineConfig;
  meta: SnapshotMeta;
}

/** Rebuilds the machine of a snapshot, wired to `io` (a ReplayGate to replay, a LiveGate to go on live). */
export function restoreSnapshot(bytes: Uint8Array, io: MachineIo = {}, opts: { expectHash?: string } = {}): RestoredMachine {
  const s = decodeSnapshot(bytes, opts);
  return restoreSections(s.sections, s.ram, s.hash, io, s.pages);
}

/**
 * Rebuilds a machine from a snapshot's sections and its RAM (`ram` is copied) — restoreSnapshot's
 * second half, also for a pre-copied snapshot (precopy.ts) whose identity `hash` the caller checked.
 * `pages`: the page numbers of `ram` that may be non-zero (the others are not read); default all.
 * Throws BadStateError for another kind or version, a malformed CPU state or time, or RAM of another size.
 */
export function restoreSections(sections: Record<string, unknown>, ram: Uint8Array, hash: string, io: MachineIo = {}, pages?: readonly number[]): RestoredMachine {
  const sec = sections as { kind?: string; version?: number; config: JsonValue; cpu: CpuState; devices: DeviceStates; meta: SnapshotMeta };
  if (sec.kind !== MACHINE_SNAPSHOT_KIND) throw new BadStateError(`not a machine snapshot (kind ${String(sec.kind)})`);
  if (sec.version === 1) {
    throw new BadStateError('version-1 machine snapshot (x86ft before whole-machine snapshots): it has no x87 or debug-register state and cannot be restored faithfully; take it again');
  }
  if (sec.version !== MACHINE_SNAPSHOT_VERSION) throw new BadStateError(`machine snapshot version ${String(sec.version)} is not supported (supported: ${MACHINE_SNAPSHOT_VERSION})`);
  const why = cpuStateProblem(sec.cpu) ?? timeProblem(sec.meta?.time);
  if (why) throw new BadStateError(`snapshot: ${why}`);
  const config = configFromJson(sec.config);
  const m = Machine.empty({ ...config, ...io });
  if (ram.length !== m.mem.u8.length) throw new BadStateError(`snapshot RAM is ${ram.length} bytes, the machine has ${m.mem.u8.length}`);
  // only the pages that may be non-zero (the new machine's RAM is zero): writing or even reading all of a 64 MiB RAM
  // makes the host map every page, seconds on a loaded host (a respawned secondary waited 2.6 s at load 25)
  if (!pages) m.mem.write(0, ram);
  else for (const p of pages) m.mem.write(p * PAGE_SIZE, ram.subarray(p * PAGE_SIZE, Math.min((p + 1) * PAGE_SIZE, ram.length)));
  m.loadCpu(sec.cpu);
  const bad = carriedProblem(sec.meta.carried, m.cpu.icount);
  if (bad) throw new BadStateError(`snapshot: ${bad}`);
  m.loadDevices(sec.devices);
  m.exited = sec.meta.exited;
  // outputs go on being numbered where the snapshot left off (older snapshots: the console count)
  m.outputs.setCounters(sec.meta.outputSeqs ?? (sec.meta.outputs?.consoleBytes ? { console: sec.meta.outputs.consoleBytes } : {}));
  resetDirty(m);
  return { machine: m, hash, icount: m.cpu.icount, config, meta: sec.meta };
}

function carriedProblem(c: unknown, icount: unknown): string | undefined {
  if (c === undefined) return undefined;
  if (!Array.isArray(c)) return 'malformed carried records';
  for (const e of c as LogEntry[]) {
    if (typeof e !== 'object' || e === null || e.icount !== icount || typeof e.payload !== 'object' || e.payload === null) return 'malformed carried records';
    if (e.kind === 'snapshot') { if (typeof e.payload.hash !== 'string') return 'malformed carried records'; continue; }
    try { if (!entryToGate(e)) return `carried record of kind ${String(e.kind)}`; } catch { return `carried record of kind ${String(e.kind)}`; }
  }
  return undefined;
}

function timeProblem(t: GuestTime | undefined): string | undefined {
  if (!t || typeof t !== 'object') return 'no guest time';
  const ok = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!ok(t.timeNs) || !ok(t.lastTsc) || !(t.wallOriginMs === null || Number.isSafeInteger(t.wallOriginMs))) return 'malformed guest time';
  return undefined;
}

/** The output tally a snapshot was taken with (continue counting from it). */
export function restoredOutputs(meta: SnapshotMeta, into = new OutputTally()): OutputTally {
  const o = meta.outputs;
  if (o) { into.consoleBytes = o.consoleBytes; into.consoleHash = o.consoleHash; into.frames = o.frames; into.frameHash = o.frameHash; }
  return into;
}

export function writeSnapshotFile(path: string, s: MachineSnapshot): void { writeFileSync(path, s.bytes); }
export function readSnapshotFile(path: string): Uint8Array { return new Uint8Array(readFileSync(path)); }
