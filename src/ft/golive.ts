// Go-live (FT.md "Failure, arbitration, go-live"; src/ft/README.md "Go-live"): a secondary that won
// generation g+1 turns its replaying machine into the primary. Order matters and is fixed here:
// open g+1's disk layers (freezing the view of g's), consume exactly the log entries with icount
// < G, re-issue every output after its stream's last release mark to the live sinks, swap the
// replay gate for a live gate whose guest time continues, then run live recording gen-<g+1>.log.
// Imports src/machine, src/replay and the other src/ft pieces.

import { LiveGate, type ConsoleInput, type GateRecord } from '../machine/gate.js';
import type { OutputSeam } from '../machine/outputs.js';
import { SystemClock, SystemEntropy } from '../devices/backends/clock.js';
import { Recorder } from '../replay/recorder.js';
import type { ReplaySession, ReplayReport } from '../replay/session.js';
import type { ControlPlane, VmConfig } from './control.js';
import { consoleFileFor, loadImage, openDisks, openTunnels, outputSinks } from './vm-host.js';
import { openGenerationLog, generationFt, routeRecords, InputConfirmations, type LivePrimaryParts } from './primary.js';
import type { RoleEvent } from './role.js';
import { liveConsole } from './console-host.js';

export interface GoLiveInput {
  vm: string;
  config: VmConfig;
  control: ControlPlane;
  hostId: string;
  /** The generation just won (g+1). */
  generation: number;
  /** The generation the VM was created with (VmRecord.firstGeneration; default 1). */
  firstGeneration?: number;
  session: ReplaySession;
  /** The session's output seam (mode 'suppress', trimmed by the release marks received). */
  seam: OutputSeam;
  /** The last sync mark received. */
  lastSync: number;
  digestEvery?: number;
  onEvent?: (e: RoleEvent) => void;
  signal?: { aborted: boolean };
  /** Typed console input for the new primary (counted on from what the log delivered before G). */
  consoleInput?: ConsoleInput;
  /** Console input bytes consumed before the session's log starts (a secondary that joined from a snapshot: the
   *  primary's count at M); default 0. */
  consoleInputBase?: number;
}

export interface GoLiveResult {
  /** G. */
  icount: number;
  /** Outputs re-issued. */
  reissued: number;
  /** The primary to run (undefined when the guest had already ended before G: `ended` says how). */
  parts?: LivePrimaryParts;
  ended?: ReplayReport;
}

/** G = max(last sync mark + 1, icount of the last entry held). */
export function goLiveIcount(lastSync: number, lastEntryIcount: number): number {
  return Math.max(lastSync + 1, lastEntryIcount);
}

/** Performs go-live; see the file comment for the order. Throws on a storage error (the caller stops). */
export async function goLive(i: GoLiveInput): Promise<GoLiveResult> {
  const { vm, config, session, seam } = i;
  const image = loadImage(config);
  // disks first: generation g+1's layers freeze what g wrote before anything of g+1 is read
  const disks = openDisks(vm, config, i.generation, i.firstGeneration);
  const con = consoleFileFor(vm, config, false);
  const G = goLiveIcount(i.lastSync, session.lastEntryIcount);
  const gl = session.goLive(G);
  // the NIC moves with the primary: bind its endpoint (an old primary on this host may still hold it briefly)
  const tunnels = await openTunnels(config, 2000);
  seam.sinks = outputSinks(con, disks, tunnels);
  const reissued = seam.reissue();
  for (const d of disks) d.flush();
  if (gl.report) {
    seam.setMode('live');
    return { icount: gl.icount, reissued, ended: gl.report };
  }
  const logSink = openGenerationLog(vm, config, i.generation);
  const recorder = new Recorder({
    sink: logSink, image, digestEvery: i.digestEvery, outputs: session.outputs, ft: generationFt(vm, i.generation),
    // what the machine took at G (or where it waits) before this log: generation g's log gives a chain only its entries < G
    carried: gl.carried,
  });
  // guest time (TSC, PIT, RTC) continues from the replayed time with no jump
  const consumed = (i.consoleInputBase ?? 0) + session.consoleInputBytes;
  const inputs = new InputConfirmations((e) => i.onEvent?.(e), consumed);
  i.onEvent?.({ kind: 'input-consumed', through: consumed });
  // held only once a new secondary joins (FtPrimary.adopt): then a confirmation waits for its ack
  // through the current recorder: going on alone later (after a respawn) switches to the next generation's log
  let parts: LivePrimaryParts | undefined;
  const lastRecords: GateRecord[] = [];
  const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), console: i.consoleInput, disks, nets: tunnels },
    { onRecord: inputs.tap(routeRecords(() => parts?.recorder ?? recorder, lastRecords), () => seam.mode === 'hold'), resume: gl.time });
  gl.gate.use(gate);
  seam.setMode('live');
  const live = liveConsole(i.consoleInput);
  if (live) { live.attach(gl.machine, seam); await live.listen(i.generation, con.path); }
  recorder.attach(gl.machine);
  parts = {
    vm, config, control: i.control, hostId: i.hostId, generation: i.generation, machine: gl.machine, seam, recorder, logSink,
    disks, console: con, tunnels, consoleInput: i.consoleInput, inputs, lastRecords, onEvent: i.onEvent, signal: i.signal,
  };
  return { icount: gl.icount, reissued, parts };
}
