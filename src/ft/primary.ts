// The FT primary (FT.md "Channel", "The Output Rule", "Failure, arbitration, go-live"): creates the
// VM (claims its first generation), runs the guest live, records into STORE/vms/NAME/gen-<g>.log
// and streams the same bytes to its secondary, sends sync marks, releases outputs only after an
// ack covering them, sends release marks after completion, heartbeats, bounds held outputs and lag
// by slowing the guest, and claims g+1 to go on alone when the secondary fails. Also the "go on as
// primary" half a secondary uses after go-live (runLive). Imports src/machine, src/replay and the
// other src/ft pieces; nothing imports it but the CLI, golive.ts and embedders.

import { Machine, type RunResult } from '../machine/machine.js';
import { LiveGate, GateKind, type ConsoleInput, type GateRecord } from '../machine/gate.js';
import { OutputSeam } from '../machine/outputs.js';
import { SystemClock, SystemEntropy } from '../devices/backends/clock.js';
import { Recorder } from '../replay/recorder.js';
import type { LogWriter } from '../replay/writer.js';
import { PreCopy, type PreCopyPoint } from '../replay/precopy.js';
import type { ByteSink } from '../replay/channel.js';
import { createHash } from 'node:crypto';
import type { OutputTally } from '../replay/digest.js';
import type { UdpFrameTunnel } from '../devices/backends/tunnel.js';
import type { FtTlsOptions } from './channel.js';
import { listenFtThread, type ThreadPeer, type ThreadServer } from './channel-thread.js';
import type { FtMessage } from './protocol.js';
import { AUX_LABEL, watchPeer, type FailureDetector } from './heartbeat.js';
import { createVm, type ControlPlane, type VmConfig, type VmRecord, type VmState } from './control.js';
import { storePath, ensureVmDir, type ConsoleFile, type GenerationDisk } from './store.js';
import { GenerationLogSink, consoleFileFor, loadImage, machineConfig, openDisks, openTunnels, outputSinks } from './vm-host.js';
import { liveConsole } from './console-host.js';
import { candidateHosts, describeTls, placeRole, tlsDiffers, tlsSetting } from './placement.js';
import { hostLease, setVmState, selfRef, STARTUP_GRACE_TIMEOUTS, type RoleEvent, type RoleOutcome, type RoleStatus } from './role.js';
import { InvalidStateError, X86ftError } from '../errors.js';

/** Instructions between two pacing checks of the bounds (about 1-2 ms of guest time). */
const PACE_CHUNK = 100_000;
/** A placed secondary must connect within this (node start, image check, handshake; generous for a loaded machine). */
const SECONDARY_CONNECT_MS = 20_000;
/** A failed role's host that did not re-register is tried again after this when no other host is free (ms). */
const FAILED_HOST_MS = 10_000;
/** Snapshot bytes per channel message. */
const SNAPSHOT_CHUNK = 1 << 20;
/** Pre-copy (precopy.ts): at most this many rounds while the guest runs; fewer once a round sent at most
 *  PRECOPY_FINAL_PAGES pages (what is left goes in the pause at M). */
const PRECOPY_MAX_ROUNDS = 6;
const PRECOPY_FINAL_PAGES = 64;
/** M is a slice boundary (a pace chunk's end or a digest point: Recorder.forkAtSnapshot) where at most
 *  PRECOPY_PAUSE_PAGES pages are left for the pause; after PRECOPY_MAX_SKIPS boundaries with more (a guest
 *  writing faster than the copy), the next one. */
const PRECOPY_PAUSE_PAGES = 256;
const PRECOPY_MAX_SKIPS = 50;
/** Placement retry period while no host is free (ms). */
const PLACE_RETRY_MS = 500;
/** How long a new listener on a fixed port waits for the previous one (its own) to let the port go. */
const RELISTEN_MS = 5000;
const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Sync tick while outputs wait / otherwise (ms): a fallback, since an output that starts waiting
 *  gets its sync mark at the run loop's next time check (outputHeld, atTimeCheck). */
const SYNC_FAST_MS = 1, SYNC_IDLE_MS = 10;

export interface PrimaryOptions {
  vm: string;
  config: VmConfig;
  control: ControlPlane;
  hostId: string;
  /** Channel listen address (port 0: any free port). */
  listen: { host: string; port: number };
  /** Mutual TLS 1.3 on the channel (`--tls-cert/--tls-key/--tls-ca`, tls.ts); default plain TCP. */
  tls?: FtTlsOptions;
  /** Instructions between digests in the log (default 1M). */
  digestEvery?: number;
  /** Reports state changes, peers, messages, consumed console input. */
  onEvent?: (e: RoleEvent) => void;
  /** Set `aborted` to stop the guest (the log ends with reason 'stopped'). */
  signal?: { aborted: boolean };
  /** Where typed console input comes from (e.g. the console service); consumption is reported by
   *  'input-consumed' events once released under the Output Rule. */
  consoleInput?: ConsoleInput;
  /** Place the secondary itself (FT.md "Redundancy restored"): ask a registered host other than this one
   *  (through its agent) to start it, until one connects. Roles started by host agents do; protect does not. */
  place?: boolean;
}

/**
 * Counts console input the guest consumed and reports it ('input-consumed') only when the
 * instruction count that consumed it is released: at once when not protected, else on the ack.
 */
export class InputConfirmations {
  /** Console input bytes the guest consumed so far (counted from the VM's creation). */
  consumed: number;
  private pending: [number, number][] = [];
  constructor(private readonly emit: (e: RoleEvent) => void, base = 0) { this.consumed = base; }
  /** Wraps a gate's onRecord. */
  tap(next: (r: GateRecord) => void, held: () => boolean): (r: GateRecord) => void {
    return (r) => {
      next(r);
      if (r.kind !== GateKind.ConsoleIn) return;
      this.consumed += (r.payload as Uint8Array).length;
      if (held()) this.pending.push([r.icount, this.consumed]);
      else this.emit({ kind: 'input-consumed', through: this.consumed });
    };
  }
  /** Outputs up to icount `x` were released. */
  release(x: number): void {
    let through = -1;
    while (this.pending.length && this.pending[0]![0] <= x) through = this.pending.shift()![1];
    if (through >= 0) this.emit({ kind: 'input-consumed', through });
  }
}

/**
 * Release marks after completion (FT.md "The Output Rule"): a console byte or frame has completed
 * when its sink call returned, a disk write only once an fsync issued after it returned. After each
 * release `send` gets the marks at once (console and frames advance), and again when an fsync of
 * the disks written meanwhile has returned; the fsyncs run on the thread pool (one at a time per
 * primary), so heartbeats and acks keep flowing while the disk syncs.
 */
export class ReleaseMarks {
  private syncing = false;
  private stopped = false;
  constructor(
    private readonly seam: OutputSeam,
    private readonly disks: readonly { flushAsync(): Promise<void> }[],
    private readonly send: (marks: Record<string, number>) => void,
    private readonly report: (text: string) => void,
  ) {}

  /** Outputs were released: send the marks, and make released disk writes durable. */
  released(): void {
    if (this.stopped) return;
    this.send(this.seam.completed());
    void this.syncDisks();
  }

  /** No more marks (fenced, or the run ended: the owner syncs and sends the last marks itself). */
  stop(): void { this.stopped = true; }

  private async syncDisks(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      for (let todo = this.seam.unsynced(); todo.length && !this.stopped; todo = this.seam.unsynced()) {
        let failed = false;
        await Promise.all(todo.map(async ([disk, seq]) => {
          try { await this.disks[disk]!.flushAsync(); this.seam.synced(disk, seq); } catch (e) {
            failed = true;
            if (!this.stopped) this.report(`disk${disk}: ${(e as Error).message} (its writes are not marked completed)`);
          }
        }));
        if (this.stopped) return;
        this.send(this.seam.completed());
        if (failed) return; // retried at the next release
      }
    } finally { this.syncing = false; }
  }
}

/** The machine side of a running primary: used by FtPrimary and by a secondary after go-live. */
export interface LivePrimaryParts {
  vm: string;
  config: VmConfig;
  control: ControlPlane;
  hostId: string;
  generation: number;
  machine: Machine;
  seam: OutputSeam;
  recorder: Recorder;
  logSink: GenerationLogSink;
  disks: GenerationDisk[];
  console: ConsoleFile;
  tunnels: UdpFrameTunnel[];
  /** Typed console input; when it is a console host (console-host.ts) the run ends it. */
  consoleInput?: ConsoleInput;
  /** The confirmations of consumed console input (released under the Output Rule). */
  inputs?: InputConfirmations;
  /** The gate records at the count of the last one (routeRecords keeps it; a log switch carries them). */
  lastRecords?: GateRecord[];
  onEvent?: (e: RoleEvent) => void;
  signal?: { aborted: boolean };
}

/**
 * A live primary's gate onRecord: each record goes to the current recorder (going on alone replaces it,
 * switchLog), and `last` keeps the records taken at the count of the last one (switchLog carries those).
 */
export function routeRecords(recorder: () => Recorder, last: GateRecord[]): (r: GateRecord) => void {
  return (r) => {
    if (last.length && last[0]!.icount !== r.icount) last.length = 0;
    last.push(r);
    recorder().onRecord(r);
  };
}

/** The header field `ft` of generation g's log (format.ts M15: previousGeneration is g-1, null for 1). */
export function generationFt(vm: string, generation: number): { vm: string; generation: number; previousGeneration: number | null } {
  return { vm, generation, previousGeneration: generation === 1 ? null : generation - 1 };
}

/** Opens generation g's log file for writing (O_EXCL: a generation's log is written by one process once). */
export function openGenerationLog(vm: string, c: VmConfig, generation: number): GenerationLogSink {
  ensureVmDir(c.store, vm);
  return new GenerationLogSink(storePath(c.store, vm, { kind: 'log', generation }));
}

/**
 * A primary. `start()` claims the VM and listens; `run()` waits for the first secondary, then runs
 * the guest to its end and resolves with how the role ended. status() and onEvent are the hooks
 * for supervisors and `ft status`.
 */
export class FtPrimary {
  generation = 0;
  state: VmState = 'starting';
  /** The channel's listener and connections, on a thread of their own (channel-thread.ts). */
  private server: ThreadServer | undefined;
  private peer: ThreadPeer | undefined;
  /** Peers accepted while no secondary was paired, not yet taken (intake, nextPeer); `server`: whose listener. */
  private offered: { peer: ThreadPeer; server: ThreadServer }[] = [];
  private offeredWake: (() => void) | undefined;
  /** Listening anew for a generation failed: respawnLoop retries (relisten). */
  private needListen = false;
  private detector: FailureDetector | undefined;
  private parts: LivePrimaryParts | undefined;
  private lastSync = -1;
  private lastAck = -1;
  private lastAckAt = 0;
  /** Sync marks sent and not yet acked: [icount, sent at ms]. */
  private unacked: [number, number][] = [];
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  private syncing = false;
  /** An output started waiting: a sync mark covering it is due at the run loop's next time check (or the
   *  event loop's next turn, whichever comes first: a guest idle in HLT runs no time checks). */
  private syncDue = false;
  private syncAgain = false;
  private ackWaiters: (() => void)[] = [];
  private fencedMsg: string | undefined;
  private claiming = false;
  /** Settles when a claim to go on alone (secondaryLost) has finished, record update included: the guest's
   *  end waits for it, so the final 'ended' record is never overwritten by a late 'not-protected'. */
  private lossDone: Promise<void> = Promise.resolve();
  private checkingGen = false;
  /** Until then (ms since the epoch), and until its first ack, the secondary's silence is not counted (startup grace). */
  private graceEnd = 0;
  /** This role's record writes, one at a time in the order asked (recordState). */
  private recordChain: Promise<void> = Promise.resolve();
  private readonly signal: { aborted: boolean };
  private image: Uint8Array | undefined;
  private firstGeneration = 1;
  /** The gate records logged at the count of the last one (switchLog carries those at G into g+1's log). */
  private atLastCount: GateRecord[] = [];
  /** Won generation whose log and disk layers this primary still has to switch to (going on alone). */
  private switchTo = 0;
  /** The recorder stopped at a count where the switch can happen (set between run chunks only). */
  private switchReady = false;
  /** Log bytes of the generations before the current log (status: logBytes counts them all). */
  private logBytesBefore = 0;
  private marks: ReleaseMarks | undefined;
  private inputs: InputConfirmations;
  /** A respawned secondary's snapshot point M (undefined: the secondary replays from boot, or none). */
  private joinM: number | undefined;
  /** The peer gets a log stream now (from boot: the file's; respawned: a fork from M): sync marks may go. */
  private streaming = false;
  private fork: LogWriter | undefined;
  /** Hosts of failed roles and when they failed: excluded from placement until they re-register (FT.md). */
  private failedHosts = new Map<string, number>();
  /** When redundancy was last lost (ms since the epoch): lastRestore.durationMs counts from it. */
  private lostAt = 0;
  private runDone = false;
  /** The guest's run has ended (its log is closed): no secondary joins any more (intake refuses, a join in progress
   *  stops); set before the end's last ack is waited for and recorded, so well before runDone. */
  private ending = false;
  /** restartSecondary: the loss is planned (bye sent, the host not excluded). */
  private restarting = false;
  /** Last respawn: bytes sent (RAM pages and state), how long the guest was paused at M (wall and CPU
   *  ms), pre-copy rounds and the pages sent at M (README benchmarks). */
  lastSnapshot: { icount: number; bytes: number; pauseMs: number; pauseCpuMs: number; rounds: number; pagesAtM: number } | undefined;

  constructor(private readonly o: PrimaryOptions) {
    this.signal = o.signal ?? { aborted: false };
    this.inputs = new InputConfirmations((e) => this.emit(e));
  }

  /** The channel address secondaries connect to (`host:port`), once started. */
  get addr(): string | undefined { return this.server ? `${this.server.host}:${this.server.port}` : undefined; }

  private emit(e: RoleEvent): void { try { this.o.onEvent?.(e); } catch { /* an observer must not stop the guest */ } }

  /** Claims the VM (creation: exit 2 naming its primary when it runs already), listens, opens generation g's disks and log. */
  async start(): Promise<void> {
    const { vm, config, control, hostId } = this.o;
    const secret = await control.secret();
    const g0 = await control.generation(vm);
    await this.listen(secret, g0 + 1);
    let created = false;
    try {
      // the record names the channel address only once the image, disks, console and log are open: ft start,
      // protect and secondaries wait for it, so an unusable disk or image is this start's failure (status 2),
      // not a VM that looks started and never runs
      const rec = await createVm(control, vm, config, { hostId, pid: process.pid });
      created = true;
      this.generation = rec.generation;
      if (rec.generation !== g0 + 1) throw new X86ftError('X86FT_GENERATION_MOVED', `VM '${vm}' was created at generation ${rec.generation} while this primary expected ${g0 + 1}: start it again`);
      const image = loadImage(config);
      const disks = openDisks(vm, config, this.generation, rec.firstGeneration);
      const con = consoleFileFor(vm, config, true);
      const tunnels = await openTunnels(config);
      const logSink = openGenerationLog(vm, config, this.generation);
      const seam = new OutputSeam({ mode: 'hold', sinks: outputSinks(con, disks, tunnels), onSinkError: (out, e) => this.emit({ kind: 'message', text: `${out.stream} output ${out.seq} failed: ${(e as Error)?.message ?? e}` }) });
      this.image = image;
      this.firstGeneration = rec.firstGeneration;
      const recorder = this.newRecorder(logSink, this.generation);
      // through the current recorder: going on alone switches to generation g+1's log (switchLog)
      const onRecord = this.inputs.tap(routeRecords(() => this.parts?.recorder ?? recorder, this.atLastCount), () => seam.mode === 'hold');
      const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), console: this.o.consoleInput, disks, nets: tunnels }, { onRecord });
      const machine = Machine.fromElf(image, { ...machineConfig(config, disks), gate, outputs: seam });
      const live = liveConsole(this.o.consoleInput);
      if (live) { live.attach(machine, seam); await live.listen(this.generation, con.path); }
      seam.onHold = () => this.outputHeld();
      machine.timeCheckHook = this.atTimeCheck;
      this.marks = new ReleaseMarks(seam, disks, (marks) => { if (this.paired && this.streaming && !this.fencedMsg) this.peer?.send({ t: 'release', marks }); },
        (text) => this.emit({ kind: 'message', text }));
      this.parts = { vm, config, control, hostId, generation: this.generation, machine, seam, recorder, logSink, disks, console: con, tunnels, consoleInput: this.o.consoleInput, inputs: this.inputs, lastRecords: this.atLastCount, onEvent: this.o.onEvent, signal: this.signal };
      // under a host agent (this host holds a lease): a role is alive only while its host does (lostReason)
      const lease = this.o.place === true ? await hostLease(control, hostId) : undefined;
      const placed = lease !== undefined;
      await setVmState(control, vm, (r) => { if (r.generation === this.generation && r.primary?.pid === process.pid) { r.primary = selfRef(hostId, this.addr ?? null, lease); if (placed) r.placed = true; } },
        (text) => this.emit({ kind: 'message', text }));
    } catch (e) {
      await this.server?.close();
      // the VM this start created never ran: end it with the reason, so the name is free and waiters return
      if (created) {
        await setVmState(control, vm, (r) => {
          if (r.generation !== this.generation || r.primary?.pid !== process.pid) return;
          r.state = 'ended'; r.reason = `the primary could not start: ${(e as Error)?.message ?? String(e)}`; r.exitStatus = null;
        }, (text) => this.emit({ kind: 'message', text }));
      }
      throw e;
    }
  }

  private async listen(secret: Buffer, generation: number): Promise<void> {
    const { vm, hostId } = this.o;
    // a fixed port (--listen HOST:PORT) is free again only once the previous listener (closed just before, on
    // its thread) has let it go: EADDRINUSE is retried for a while, never for port 0
    for (let waited = 0; ; waited += 50) {
      try {
        await this.listenOnce(secret, generation);
        break;
      } catch (e) {
        if (!this.o.listen.port || waited >= RELISTEN_MS || !/EADDRINUSE/.test((e as Error).message)) throw e;
        await sleepMs(50);
      }
    }
    void this.intake(this.server!);
  }

  private async listenOnce(secret: Buffer, generation: number): Promise<void> {
    const { vm, hostId } = this.o;
    this.server = await listenFtThread({ secret, vm, hostId, generation, host: this.o.listen.host, port: this.o.listen.port, tls: this.o.tls, auxLabel: AUX_LABEL,
      refuseHostId: { hostId, reason: `the secondary runs on this primary's host (${hostId})` }, requireGeneration: true,
      onReject: (err, remote) => this.emit({ kind: 'message', text: `refused a channel peer from ${remote}: ${err.message}` }),
      // its connection ended with it (RESET): a paired secondary is lost as on a reset (the failure detector); a new
      // listener comes with the claim of going on alone, or from respawnLoop (relisten)
      onThreadFailure: (why) => this.emit({ kind: 'message', text: `the channel thread died: ${why}` }),
    });
  }

  /**
   * Every peer the channel accepts comes through here (one loop per listener): while a secondary is paired
   * (or the run is over) a new one is refused with a bye naming the paired secondary (FT.md: one secondary
   * at a time); it exits 2 and never writes the VM record. The others wait in `offered` for nextPeer().
   */
  private async intake(server: ThreadServer): Promise<void> {
    for (;;) {
      let peer: ThreadPeer;
      try { peer = await server.accept(); } catch { return; } // closed (a new generation listens anew), or its thread died
      if (this.paired || this.claiming || this.ending || this.runDone || this.fencedMsg) { void this.refuse(peer); continue; }
      this.offered.push({ peer, server });
      const w = this.offeredWake; this.offeredWake = undefined; w?.();
    }
  }

  /** The next peer offered by the current listener (others are dropped), or undefined once `stop()`. Single consumer. */
  private async nextPeer(stop: () => boolean): Promise<ThreadPeer | undefined> {
    for (;;) {
      for (let o = this.offered.shift(); o; o = this.offered.shift()) {
        if (o.server !== this.server) { o.peer.abort('channel server closed'); continue; } // joined an older generation's listener
        if (o.peer.isClosed) continue;
        // one secondary: peers that came at the same time are refused once this one is taken
        for (const other of this.offered.splice(0)) void this.refuse(other.peer, o.peer.peerHostId);
        return o.peer;
      }
      if (stop()) return undefined;
      await new Promise<void>((r) => { this.offeredWake = r; setTimeout(r, 50); });
    }
  }

  /** Refuses a secondary that came while another is paired (`holder`: its host id when known). */
  private async refuse(peer: ThreadPeer, holder = this.peer?.peerHostId): Promise<void> {
    const vm = this.o.vm;
    if (this.ending || this.runDone || this.fencedMsg || this.signal.aborted) { peer.close({ reason: `refused: FT VM '${vm}' is ending` }); return; }
    let who = holder ? `on ${holder}` : 'joining';
    try {
      const r = await this.o.control.readVm(vm);
      if (r?.secondary && r.secondary.host === holder && r.secondary.pid > 0) who = `${r.secondary.host} pid ${r.secondary.pid}`;
    } catch { /* the host id is enough */ }
    this.emit({ kind: 'message', text: `refused a second secondary from ${peer.peerHostId} (${peer.remote}): the VM has one (${who})` });
    peer.close({ reason: `refused: FT VM '${vm}' already has a secondary (${who}); another can join only once the primary has lost it (ft status shows no secondary)` });
  }

  /** The channel thread died while no secondary was paired: listen anew (a new thread) and publish the address. */
  private async relisten(): Promise<void> {
    const p = this.parts!;
    await this.listen(await p.control.secret(), this.generation);
    this.needListen = false;
    this.emit({ kind: 'message', text: `channel listening again on ${this.addr}` });
    await this.recordState((r) => { if (r.generation === this.generation && r.primary?.pid === process.pid) r.primary.addr = this.addr ?? null; });
  }

  /**
   * A secondary that went live becomes a primary that can be protected again (FT.md "Redundancy
   * restored"): it listens for a new secondary (and places one with `place`), which joins from a live
   * snapshot. `lostAt` = when the old primary failed (lastRestore counts from it).
   */
  static async adopt(parts: LivePrimaryParts, o: { listen: { host: string; port: number }; tls?: FtTlsOptions; digestEvery?: number; place?: boolean; lostAt: number; failedHost?: string; consoleInput?: ConsoleInput; firstGeneration?: number }): Promise<FtPrimary> {
    const pr = new FtPrimary({ vm: parts.vm, config: parts.config, control: parts.control, hostId: parts.hostId, listen: o.listen, tls: o.tls, digestEvery: o.digestEvery, onEvent: parts.onEvent, signal: parts.signal, consoleInput: o.consoleInput, place: o.place });
    pr.parts = parts;
    pr.generation = parts.generation;
    pr.image = loadImage(parts.config);
    pr.firstGeneration = o.firstGeneration ?? 1;
    if (parts.lastRecords) pr.atLastCount = parts.lastRecords;
    parts.seam.onHold = () => pr.outputHeld();
    parts.machine.timeCheckHook = pr.atTimeCheck;
    pr.marks = new ReleaseMarks(parts.seam, parts.disks, (marks) => { if (pr.paired && pr.streaming && !pr.fencedMsg) pr.peer?.send({ t: 'release', marks }); },
      (text) => pr.emit({ kind: 'message', text }));
    pr.state = 'not-protected';
    pr.lostAt = o.lostAt;
    if (o.failedHost) pr.failedHosts.set(o.failedHost, o.lostAt);
    if (parts.inputs) pr.inputs = parts.inputs;
    parts.recorder.pace = { chunk: PACE_CHUNK, wait: () => pr.pace() };
    await pr.listen(await parts.control.secret(), parts.generation);
    await setVmState(parts.control, parts.vm, (r) => { if (r.generation === parts.generation && r.primary && r.primary.pid === process.pid) r.primary.addr = pr.addr ?? null; }, (t) => pr.emit({ kind: 'message', text: t }));
    return pr;
  }

  /** Waits for the secondary, runs the guest to its end (or until fenced/stopped). */
  async run(): Promise<RoleOutcome> {
    const p = this.parts;
    if (!p || !this.server) throw new InvalidStateError('primary: start() first');
    this.emit({ kind: 'message', text: `primary of '${p.vm}' generation ${this.generation} listening on ${this.addr}; waiting for the secondary` });
    const peer = await this.waitSecondary();
    if (!peer) { await this.close(); return { kind: 'stopped' }; }
    p.recorder.attach(p.machine);
    return this.runLive();
  }

  /** Runs the live guest to its end; a lost secondary is replaced from a live snapshot meanwhile. */
  async runLive(): Promise<RoleOutcome> {
    const p = this.parts!;
    let outcome: RoleOutcome;
    void this.respawnLoop();
    try {
      outcome = await runLivePrimary(p, {
        afterEnd: () => this.finishProtected(),
        fenced: () => this.fencedMsg,
        switchReady: () => this.switchReady,
        switchLog: () => this.switchLog(),
      });
      if (outcome.kind === 'ended') this.bye(`the guest ended (${outcome.result.end})`, outcome.result.end === 'exit' ? outcome.result.status : undefined);
      // stopped on request (ft stop, SIGTERM): the secondary must end too, not take over
      else if (outcome.kind === 'stopped') this.bye('the VM was stopped');
    } finally {
      this.runDone = true;
      this.stopSync();
      this.detector?.stop();
      await this.close();
    }
    if (this.fencedMsg) return { kind: 'fenced', message: this.fencedMsg };
    return outcome;
  }

  private get paired(): boolean { return this.state === 'protected' || this.state === 'starting-secondary'; }

  /** While the guest runs: whenever no secondary is paired, accept one (placing it with `place`) and join it from a snapshot. */
  private async respawnLoop(): Promise<void> {
    while (!this.runDone && !this.ending && !this.signal.aborted && !this.fencedMsg) {
      // a log switch pending (going on alone): the snapshot is taken from the new generation's recorder
      if (this.paired || this.claiming || this.switchTo) { await sleepMs(50); continue; }
      if (this.server?.threadFailure || this.needListen) {
        try { await this.relisten(); } catch (e) { this.emit({ kind: 'message', text: `cannot listen for a new secondary: ${(e as Error).message}` }); await sleepMs(PLACE_RETRY_MS); continue; }
      }
      const server = this.server;
      const over = (): boolean => this.runDone || this.ending || this.signal.aborted || !!this.fencedMsg;
      const accepted = this.nextPeer(() => over() || this.server !== server || !!server?.threadFailure);
      if (this.o.place) void this.placeSecondary(accepted);
      const peer = await accepted;
      if (!peer) { if (over()) return; continue; } // (a server replaced at a new generation)
      // taken from the queue as the run ended: refused as intake would have (it was left connected, unanswered)
      if (over()) { void this.refuse(peer); return; }
      if (peer.isClosed) continue;
      await this.join(peer);
    }
  }

  /**
   * A secondary joins the running guest (FT.md "Redundancy restored"): RAM is pre-copied to it while
   * the guest runs (precopy.ts), then at the next slice boundary M the guest pauses while the pages
   * changed since the last round and the machine state are taken; outputs stamped < M have completed (the seam was
   * live), every output from M on is held; the snapshot goes to S hash-checked with the completed
   * sequence numbers as its first release mark, then the log from M. `protected` once S acked M.
   */
  private async join(peer: ThreadPeer): Promise<void> {
    const p = this.parts!;
    this.peer = peer;
    this.lastAck = -1; this.lastSync = -1; this.unacked = [];
    this.joinM = undefined;
    this.streaming = false;
    this.state = 'starting-secondary';
    // a joining secondary is busy (its node start, the snapshot's transfer and restore) until its first ack
    this.watchSecondary(peer);
    void peer.closed.then((why) => { if (this.peer === peer && why.code !== 'LOCAL') void this.secondaryLost(`the secondary ended the channel: ${why.message}`); });
    this.emit({ kind: 'peer', up: true, hostId: peer.peerHostId });
    this.emit({ kind: 'state', state: 'starting-secondary', generation: this.generation });
    this.recordState((r) => { if (r.generation === this.generation) { r.state = 'starting-secondary'; if (r.secondary?.host !== peer.peerHostId) r.secondary = { host: peer.peerHostId, pid: 0, addr: null }; } });
    const sink: ByteSink = {
      stats: { bytes: 0, waits: 0 },
      write: async (chunk) => sink.writeSync!(chunk),
      // handed to the channel thread on return: sync marks go at time checks (syncNow)
      writeSync: (chunk) => {
        if (peer.isClosed) throw new InvalidStateError('the secondary is gone');
        sink.stats.bytes += chunk.length;
        peer.send({ t: 'log', bytes: chunk });
      },
      end: async () => undefined,
      destroy: () => undefined,
    };
    // pre-copy (precopy.ts): RAM goes to S in rounds while the guest runs; at M only what changed since
    const pc = new PreCopy(p.machine);
    const gone = (): boolean => this.peer !== peer || peer.isClosed || this.state !== 'starting-secondary' || this.ending || this.runDone || this.signal.aborted;
    const sendRam = (offset: number, bytes: Uint8Array): Promise<void> | undefined => {
      if (gone()) throw new InvalidStateError('the secondary left');
      return peer.send({ t: 'ram', offset, bytes }) ? undefined : peer.drained();
    };
    const between = (): Promise<void> => new Promise((res) => setImmediate(res));
    try {
      for (let r = 0; r < PRECOPY_MAX_ROUNDS; r++) if ((await pc.round(sendRam, between)) <= PRECOPY_FINAL_PAGES) break;
    } catch {
      pc.stop();
      return; // the secondary left (its loss is handled where the channel ended) or the run ended
    }
    let t0 = 0, c0: NodeJS.CpuUsage | undefined, skips = 0;
    const recorder = p.recorder;
    const forked = recorder.forkAtSnapshot({
      sink,
      ready: () => gone() || pc.pending() <= PRECOPY_PAUSE_PAGES || ++skips > PRECOPY_MAX_SKIPS,
      take: (m, meta, outputs) => {
        t0 = performance.now(); c0 = process.cpuUsage();
        if (gone()) { pc.stop(); throw new InvalidStateError('the secondary left'); }
        return pc.finish(meta, outputs, (offset, bytes) => { peer.send({ t: 'ram', offset, bytes }); });
      },
      onSnapshot: (snap) => {
        if (gone()) throw new InvalidStateError('the secondary left');
        p.seam.setMode('hold'); // every output stamped >= M waits for S's ack
        // the grace runs again from here: the joining secondary now hashes and restores what it got (its main thread
        // busy for seconds at a load of 40, its worker's beats stop vouching after HANG_TIMEOUTS) before its first
        // ack; a grace counted from its connection was used up by the pre-copy and it was declared lost ~5 s in
        this.graceEnd = Date.now() + STARTUP_GRACE_TIMEOUTS * p.config.ft.failureTimeoutMs;
        this.joinM = snap.icount;
        peer.send({ t: 'snapshot', icount: snap.icount, hash: snap.hash, size: snap.bytes.length, marks: p.seam.completed(), input: this.inputs.consumed });
        for (let off = 0; off < snap.bytes.length; off += SNAPSHOT_CHUNK) peer.send({ t: 'snapshot-data', offset: off, bytes: snap.bytes.subarray(off, off + SNAPSHOT_CHUNK) });
        peer.send({ t: 'snapshot-end', sha256: createHash('sha256').update(snap.bytes).digest() });
        const cpu = process.cpuUsage(c0);
        this.lastSnapshot = { icount: snap.icount, bytes: pc.stats.pagesSent * 4096 + snap.bytes.length, pauseMs: performance.now() - t0, pauseCpuMs: (cpu.user + cpu.system) / 1000, rounds: pc.stats.rounds, pagesAtM: (snap as PreCopyPoint).pages };
        this.emit({ kind: 'message', text: `snapshot at instruction ${snap.icount} sent to the secondary on ${peer.peerHostId}: ${pc.stats.pagesSent} pages pre-copied in ${pc.stats.rounds} rounds, ${(snap as PreCopyPoint).pages} of them at M; guest paused ${this.lastSnapshot.pauseMs.toFixed(1)} ms (${this.lastSnapshot.pauseCpuMs.toFixed(1)} ms of CPU)` });
      },
    });
    // rounds go on until M (a digest point with few pages left): what is left for the pause is what the guest wrote
    // since the round in progress began, not since the convergence
    let reached = false;
    void forked.then(() => { reached = true; });
    // A round that finds nothing changed never sends, so gone() is asked here too: the run's end or the secondary's leaving
    // ends the wait (a snapshot request the run's end left unanswered kept this 5 ms loop, and the process, alive for good).
    try {
      while (!reached && !gone()) if ((await pc.round(sendRam, between)) === 0) await new Promise((res) => setTimeout(res, 5)); // an idle guest: no busy loop
    } catch { /* finish() took over at M, or the secondary left (take refuses then) */ }
    // the secondary left or the run is ending: the request is withdrawn (a guest idle in HLT reaches no slice boundary
    // where take() would refuse it)
    if (!reached) recorder.cancelFork();
    const fork = await forked;
    pc.stop();
    if (!fork) {
      // the secondary ends with the run (its bye); it never acked M, so it never claims
      if (this.ending && this.peer === peer && !peer.isClosed) this.emit({ kind: 'message', text: `the guest ended before the secondary on ${peer.peerHostId} joined (no snapshot at M): it ends with the run` });
      return; // the guest ended, or the secondary left before M
    }
    if (this.peer !== peer || this.state !== 'starting-secondary') { p.recorder.dropFork(fork); return; }
    this.fork = fork;
    this.streaming = true;
    this.scheduleSync(0);
  }

  /** The joining secondary is protecting the guest: it acked M. */
  private protectedAgain(): void {
    const p = this.parts!;
    this.state = 'protected';
    const now = Date.now();
    const durationMs = this.lostAt ? now - this.lostAt : 0;
    this.emit({ kind: 'state', state: 'protected', generation: this.generation });
    this.emit({ kind: 'message', text: `redundancy restored: the secondary on ${this.peer?.peerHostId} acked instruction ${this.joinM}${this.lostAt ? ` (${durationMs} ms after the loss)` : ''}` });
    this.recordState((r) => { if (r.generation === this.generation) { r.state = 'protected'; r.reason = null; if (this.lostAt) r.lastRestore = { at: now, durationMs }; } });
  }

  /** A joining secondary failed before it acked M: release what was held, without claiming (FT.md). */
  private dropJoining(why: string): void {
    const p = this.parts!;
    this.emit({ kind: 'peer', up: false, hostId: this.peer?.peerHostId ?? '?', reason: why });
    this.restarting = false;
    this.peer?.abort(why);
    this.detector?.stop();
    if (this.fork) { p.recorder.dropFork(this.fork); this.fork = undefined; }
    this.streaming = false;
    this.joinM = undefined;
    this.stopSync();
    p.seam.setMode('live');
    this.inputs.release(Infinity);
    this.state = 'not-protected';
    this.emit({ kind: 'state', state: 'not-protected', generation: this.generation });
    for (const w of this.ackWaiters.splice(0)) w();
    this.recordState((r) => { if (r.generation === this.generation) { r.state = 'not-protected'; r.secondary = null; r.reason = `the new secondary failed before it protected the guest: ${why}`; } });
  }

  private async waitSecondary(): Promise<ThreadPeer | undefined> {
    const server = this.server;
    const accepted = this.nextPeer(() => this.signal.aborted || !!server?.threadFailure);
    if (this.o.place) void this.placeSecondary(accepted);
    const peer = await accepted;
    if (!peer) return undefined;
    this.attach(peer);
    return peer;
  }

  /**
   * Places a secondary on another registered host until one connects (`connected` settles): a host
   * whose role did not connect within SECONDARY_CONNECT_MS is skipped in the next round; with no
   * host free the VM says why and the search goes on (a host may register later).
   */
  private async placeSecondary(connected: Promise<unknown>): Promise<void> {
    const p = this.parts!;
    let done = false;
    void connected.then(() => { done = true; });
    const skip = new Set<string>();
    let said = '';
    const say = (text: string): void => {
      if (text === said) return;
      said = text;
      this.emit({ kind: 'message', text });
      this.recordState((r) => { if (r.generation === this.generation && r.state !== 'ended') r.reason = text; });
    };
    const tls = tlsSetting(this.o.tls);
    let live: Awaited<ReturnType<ControlPlane['listHosts']>> = [];
    while (!done && !this.signal.aborted && !this.runDone && !this.ending) {
      let placed;
      try {
        // a failed role's host stays excluded until its agent registers again (after the failure)
        live = await p.control.listHosts();
        for (const [h, at] of this.failedHosts) { const rec = live.find((x) => x.id === h); if (rec && rec.registeredAt > at) this.failedHosts.delete(h); }
        placed = await placeRole(p.control, {
          vm: p.vm, generation: this.generation, role: 'secondary', config: p.config, notHosts: [p.hostId, ...skip, ...this.failedHosts.keys()],
          primary: selfRef(p.hostId, this.addr ?? null), by: { hostId: p.hostId, pid: process.pid, addr: this.addr }, tls,
        }, (t) => this.emit({ kind: 'message', text: t }));
      } catch (e) { say(`placing the secondary: control plane: ${(e as Error).message}`); await sleepMs(PLACE_RETRY_MS); continue; }
      if (done || this.runDone || this.ending) return;
      if (!placed) {
        if (skip.size) { skip.clear(); continue; }
        // a failed role's host whose agent lives on (only the role died) is used again after a while
        const stale = [...this.failedHosts].filter(([, at]) => Date.now() - at > FAILED_HOST_MS);
        if (stale.length) { for (const [h] of stale) this.failedHosts.delete(h); continue; }
        // hosts left out only because their roles use another channel setting: say so (they would never join)
        const other = candidateHosts(live, { notHosts: [p.hostId], config: p.config }).filter((h) => tlsDiffers(h, tls));
        const mixed = other.length ? `; ${other.map((h) => `${h.id} (${describeTls(h.tls)})`).join(', ')} cannot pair with this primary (${describeTls(tls)}): give every host agent the same --tls-* files or none` : '';
        // registered hosts left out because a role placed there failed: name them (the message said 'none registered')
        const failed = [...this.failedHosts.keys()].filter((h) => live.some((x) => x.id === h));
        const left = failed.length ? `; ${failed.join(', ')} left out for up to ${FAILED_HOST_MS / 1000} s (a secondary there failed)` : '';
        say(`no host for the secondary: none ${failed.length ? 'usable' : 'registered'} other than ${p.hostId}${p.config.hosts ? ` within --hosts ${p.config.hosts.join(',')}` : ''} (anti-affinity: never both roles on one host)${left}${mixed}; waiting for one`);
        await sleepMs(PLACE_RETRY_MS);
        continue;
      }
      say(`secondary placed on host ${placed.host} (pid ${placed.pid ?? '?'})`);
      const until = Date.now() + SECONDARY_CONNECT_MS;
      while (!done && !this.signal.aborted && !this.runDone && !this.ending && Date.now() < until) await sleepMs(50);
      if (!done) { skip.add(placed.host); say(`the secondary on host ${placed.host} did not connect within ${SECONDARY_CONNECT_MS} ms; trying another host`); }
    }
  }

  /** Takes the secondary's messages and starts its failure detector, with the startup grace (role.ts) until its first ack. */
  private watchSecondary(peer: ThreadPeer): void {
    const p = this.parts!;
    this.lastAckAt = Date.now();
    peer.onMessage((m) => { if (this.peer === peer) this.onMessage(m); }); // a replaced secondary's late messages are not this one's
    this.graceEnd = this.lastAckAt + STARTUP_GRACE_TIMEOUTS * p.config.ft.failureTimeoutMs;
    this.detector = watchPeer(peer, {
      heartbeatMs: p.config.ft.heartbeatMs, failureTimeoutMs: p.config.ft.failureTimeoutMs,
      holdWhile: () => peer.isPaused || (this.lastAck < 0 && Date.now() < this.graceEnd),
      icount: () => p.machine.cpu.icount,
      onFailed: (f) => void this.secondaryLost(f.message),
      workerBeats: { bind: { host: this.server!.host, port: this.server!.port } },
    });
  }

  private attach(peer: ThreadPeer): void {
    const p = this.parts!;
    this.peer = peer;
    p.logSink.peer = peer;
    this.watchSecondary(peer);
    void peer.closed.then((why) => { if (why.code === 'BYE' && this.peer === peer) void this.secondaryLost(`the secondary ended the channel: ${why.message}`); });
    this.state = 'protected';
    this.streaming = true;
    this.emit({ kind: 'peer', up: true, hostId: peer.peerHostId });
    this.emit({ kind: 'state', state: 'protected', generation: this.generation });
    // the secondary records its own pid; never overwrite it with 0 (status: pid 0 is no process). Never over 'ended'
    // (recordState): a CONFLICT retry applies the change to the newer record, and a short guest's end can be that
    // record (protect then saw both roles gone and the VM 'protected': exit 1)
    this.recordState((r) => { if (r.generation === this.generation) { r.state = 'protected'; if (r.secondary?.host !== peer.peerHostId) r.secondary = { host: peer.peerHostId, pid: 0, addr: null }; } });
    this.scheduleSync(0);
  }

  private onMessage(m: FtMessage): void {
    switch (m.t) {
      case 'ack': this.onAck(m.icount); break; // usually read from shared memory at a time check already (atTimeCheck)
      case 'divergence':
        void this.secondaryLost(`the secondary diverged at instruction ${m.icount}: ${m.message}`, true);
        break;
      default: break; // heartbeats only refresh the failure detector
    }
  }

  /** S holds every entry up to `icount` (its ack: a message, or the channel thread's shared memory). */
  private onAck(icount: number): void {
    const p = this.parts!;
    if (!this.paired || !this.streaming || icount <= this.lastAck) return;
    this.lastAck = icount;
    this.lastAckAt = Date.now();
    while (this.unacked.length && this.unacked[0]![0] <= icount) this.unacked.shift();
    if (this.fencedMsg) return;
    // the Output Rule: release what the ack covers; marks follow completion (disk writes: an fsync, on
    // the thread pool: ReleaseMarks, also for the guest's released flushes, so this thread never waits for a disk)
    if (p.seam.release(icount, true) > 0) this.marks!.released();
    this.inputs.release(icount);
    if (this.state === 'starting-secondary' && this.joinM !== undefined && icount >= this.joinM) this.protectedAgain();
    for (const w of this.ackWaiters.splice(0)) w();
  }

  /**
   * The run loop's time check (Machine.timeCheckHook, about every 0.05 ms of guest execution, between
   * instructions): a sync mark for a newly held output goes out now, and an ack the channel thread has
   * read (shared memory) releases what it covers now, neither waiting for the event loop, which turns only
   * between run slices (machine.ts YIELD_MS) and late in cold code. Never throws into the run loop.
   */
  private readonly atTimeCheck = (): void => {
    const peer = this.peer;
    if (!peer || !this.streaming) return;
    try {
      if (this.syncDue && !this.syncing) this.syncNow();
      const a = peer.ackedNow();
      if (a > this.lastAck) this.onAck(a);
    } catch (e) {
      this.emit({ kind: 'message', text: `sync/ack at a time check: ${(e as Error)?.message ?? String(e)}` });
    }
  };

  /** Sync marks: X = instructions retired - 1 once the log holds every entry up to X. */
  private scheduleSync(ms: number): void {
    if (this.syncTimer || !this.paired || !this.streaming) return;
    this.syncTimer = setTimeout(() => { this.syncTimer = undefined; void this.syncTick(); }, ms);
  }

  private stopSync(): void { if (this.syncTimer) clearTimeout(this.syncTimer); this.syncTimer = undefined; }

  /**
   * An output started waiting (the seam's onHold, inside the run slice): a sync mark covering it goes
   * out at the run loop's next time check (FT.md: "With outputs waiting, P sends a sync mark at once"),
   * or at the event loop's next turn when that comes first (a guest idle in HLT). The channel thread
   * sends it at once and the ack comes back through shared memory: release costs about one round trip.
   */
  private outputHeld(): void {
    if (this.syncDue || !this.paired || !this.streaming) return;
    this.syncDue = true;
    setImmediate(this.syncSoonFn);
  }

  private readonly syncSoonFn = (): void => { if (this.syncDue) void this.syncTick(); };

  /**
   * Sends sync mark X = instructions retired - 1 now, when the log up to X is with the channel at once
   * (recorder.flushSync: the generation log and a respawn's fork write synchronously); false: it is not
   * (use the recorder's flush()). No mark when X was sent already.
   */
  private syncNow(): boolean {
    const p = this.parts!;
    const x = p.machine.cpu.icount - 1;
    if (x <= this.lastSync) { this.syncDue = false; return true; }
    if (!p.recorder.flushSync()) return false;
    if (this.paired && this.streaming) this.sendSync(x);
    return true;
  }

  private sendSync(x: number): void {
    this.peer?.send({ t: 'sync', icount: x });
    this.lastSync = x;
    this.unacked.push([x, Date.now()]);
    this.syncDue = false;
  }

  private async syncTick(): Promise<void> {
    const p = this.parts!;
    if (!this.paired || !this.streaming) return;
    if (this.syncing) { this.syncAgain = true; return; }
    this.syncing = true;
    try {
      const x = p.machine.cpu.icount - 1;
      if (!this.syncNow() && x > this.lastSync) {
        await p.recorder.flush();
        if (!this.paired || !this.streaming) return;
        if (x > this.lastSync) this.sendSync(x); // (never back: a time check may have sent a later one meanwhile)
      }
      void this.checkStalled();
    } catch (e) {
      this.emit({ kind: 'message', text: `log: ${(e as Error).message}` });
    } finally {
      this.syncing = false;
      if (this.syncAgain) { this.syncAgain = false; this.syncDue = true; setImmediate(this.syncSoonFn); }
      this.scheduleSync(p.seam.heldCount ? SYNC_FAST_MS : SYNC_IDLE_MS);
    }
  }

  /** Acks stalled for the failure timeout: stop if the generation has moved on (FT.md "Failure"). */
  private async checkStalled(): Promise<void> {
    const p = this.parts!;
    if (this.checkingGen || this.claiming || !p.seam.heldCount || Date.now() - this.lastAckAt < p.config.ft.failureTimeoutMs) return;
    this.checkingGen = true;
    try {
      const g = await p.control.generation(p.vm);
      if (g > this.generation) this.fence(`generation ${g} of '${p.vm}' was claimed by another host while this primary's acks stalled`);
    } catch { /* unreachable control plane: keep holding */ } finally { this.checkingGen = false; }
  }

  /** Stop at once, releasing nothing more. */
  private fence(message: string): void {
    if (this.fencedMsg) return;
    this.fencedMsg = message;
    this.marks?.stop();
    const p = this.parts!;
    p.seam.sinks = {};
    this.signal.aborted = true;
    this.peer?.abort(message);
    this.emit({ kind: 'message', text: `stopping: ${message}` });
    for (const w of this.ackWaiters.splice(0)) w();
  }

  /** The secondary failed or diverged: claim g+1 and go on alone (FT.md "P sees S fail"). */
  private secondaryLost(why: string, divergence = false): Promise<void> {
    if (!this.paired || this.claiming || this.fencedMsg) return this.lossDone;
    // Before the snapshot went out the joining secondary cannot have acked anything: release without a claim.
    // Once it went out, the secondary may have acked M in a message this side never got, and would then claim:
    // claim first (FT.md's "releases without claiming" only where that cannot happen), so one side stops.
    if (this.state === 'starting-secondary' && this.joinM === undefined) { this.dropJoining(why); return this.lossDone; }
    this.claiming = true;
    this.lossDone = this.goOnAlone(why, divergence);
    return this.lossDone;
  }

  /**
   * While the claim of g+1 is in flight the guest waits (pace): its outcome decides whether this process may run
   * on at all, and a won claim switches the log at the count where the loss was seen. Running on meanwhile only
   * held more outputs (unbounded: pacing needs a peer), and a guest could end in generation g's log before the
   * switch (the baseline CI saw gen 2 claimed with no gen-2 log, the claim slowed by the load).
   */
  private claimPending: Promise<void> | undefined;

  private async goOnAlone(why: string, divergence: boolean): Promise<void> {
    const p = this.parts!;
    this.emit({ kind: 'peer', up: false, hostId: this.peer?.peerHostId ?? '?', reason: why, ...(divergence ? { divergence } : {}) });
    if (!this.restarting) this.peer?.abort(why); // a restarted secondary gets its bye first (restartSecondary)
    p.logSink.peer = undefined;
    if (this.fork) { p.recorder.dropFork(this.fork); this.fork = undefined; }
    this.streaming = false;
    this.lostAt = Date.now();
    if (this.peer && !this.restarting) this.failedHosts.set(this.peer.peerHostId, this.lostAt);
    this.restarting = false;
    this.detector?.stop();
    const g1 = this.generation + 1;
    let won = false, holder = '';
    let claimed!: () => void;
    this.claimPending = new Promise<void>((r) => (claimed = r));
    try {
      const r = await p.control.claim(p.vm, g1, { hostId: p.hostId, pid: process.pid, addr: this.addr });
      won = r.won;
      if (!r.won) holder = `${r.owner.hostId} pid ${r.owner.pid}`;
    } catch (e) { holder = `the control plane failed: ${(e as Error).message}`; }
    finally { this.claimPending = undefined; claimed(); }
    if (!won) { this.fence(`lost the claim of generation ${g1} (${holder}) after: ${why}`); return; }
    if (this.fencedMsg) return;
    this.generation = g1;
    this.state = 'not-protected';
    // record the new generation at once, before anything that can take time: until it is recorded the record
    // names the fenced generation's roles (a primary killed in between left a dead VM `protected` for good)
    const alone = (r: VmRecord): void => { r.generation = g1; r.state = 'not-protected'; r.secondary = null; r.reason = why; r.primary = selfRef(p.hostId, this.addr ?? null, r.primary?.pid === process.pid ? r.primary.lease : undefined); };
    void this.recordState(alone);
    this.stopSync();
    p.generation = g1;
    p.seam.setMode('live'); // releases what it held
    this.switchTo = g1; // generation g+1's log and disk layers from the run's next stop on (switchLog)
    // the run stops at its next slice for it (stop.aborted), not only between pace chunks: a guest idle in HLT (a
    // console waiting for input) ran no chunk for good, and no new secondary could join meanwhile (respawnLoop waits)
    this.switchReady = true;
    this.inputs.release(Infinity);
    this.emit({ kind: 'message', text: `secondary lost (${why}); generation ${g1}: running not protected` });
    this.emit({ kind: 'state', state: 'not-protected', generation: g1 });
    for (const w of this.ackWaiters.splice(0)) w();
    // then (the guest runs on meanwhile: a channel thread's start takes 0.1-1 s on a loaded host) a new secondary joins
    // at the new generation: its hello must name g1, so listen anew (the old address dies; its close is not awaited:
    // it waits for the old server's connections to end)
    try {
      // the old listener stops accepting at once (its close resolves only once its connections ended): on a fixed
      // port the new one needs the port (it was EADDRINUSE, and secondaries met the old generation's listener)
      void this.server?.close().catch(() => undefined);
      await this.listen(await p.control.secret(), g1);
    } catch (e) { this.needListen = true; this.emit({ kind: 'message', text: `cannot listen for a new secondary: ${(e as Error).message} (trying again)` }); }
    this.claiming = false; // a new secondary may join (respawn) and be lost in turn
    await this.recordState(alone); // again with the new channel address
  }

  /**
   * Planned test failover (`x86ft ft failover`): only while protected. This primary stops at once as a
   * dying one would — the channel dropped, nothing more released — and its secondary, which holds
   * every acked entry, claims the next generation, goes live and re-issues what was not released:
   * nothing is lost. run() then ends 'fenced' with `reason`. False (nothing done) when not protected.
   */
  handOver(reason: string): boolean {
    if (this.state !== 'protected' || this.claiming || this.fencedMsg) return false;
    this.fence(`handed over to the secondary on ${this.peer?.peerHostId ?? '?'}: ${reason}`);
    return true;
  }

  /**
   * Planned restart of the secondary (`x86ft ft restart-secondary`): it gets a bye (it ends, never
   * claims), this primary claims the next generation to go on alone (so a secondary that missed the bye
   * and claimed would stop one of them), then a new secondary joins from a live snapshot (with place:
   * placed on any host other than this one and `avoid`, the old secondary's included). False when no secondary is paired.
   */
  restartSecondary(reason: string, avoid?: string): boolean {
    if (!this.paired || this.claiming || this.fencedMsg || !this.peer) return false;
    // a host being drained: excluded as a failed role's host is (until it registers again, or no other is free)
    if (avoid) this.failedHosts.set(avoid, Date.now());
    this.restarting = true;
    this.peer.close({ reason });
    void this.secondaryLost(reason);
    return true;
  }

  /** Between run chunks: past a bound, wait for acks (slowing the guest) rather than grow. */
  private pace(): Promise<void> | undefined {
    const p = this.parts!;
    if (this.claimPending) return this.claimPending;
    // going on alone: generation g's log ends here, between run chunks (switchLog)
    if (this.switchTo && !this.switchReady && !this.fencedMsg) this.switchReady = true;
    if (!this.paired || !this.streaming || this.fencedMsg) return undefined;
    const ft = p.config.ft;
    const over = (): boolean => p.seam.heldBytes > ft.maxHeldBytes || p.seam.heldAgeMs() > ft.maxHeldMs || this.lagMs() > ft.maxLagMs;
    if (!over()) return undefined;
    this.scheduleSync(0);
    return (async () => {
      while (over() && this.paired && this.streaming && !this.fencedMsg && !this.signal.aborted) {
        await new Promise<void>((r) => { this.ackWaiters.push(r); setTimeout(r, 5); });
      }
    })();
  }

  private lagMs(): number { return this.unacked.length ? Date.now() - this.unacked[0]![1] : 0; }

  private newRecorder(sink: GenerationLogSink, generation: number, outputs?: OutputTally, carried?: GateRecord[]): Recorder {
    return new Recorder({
      sink, image: this.image!, digestEvery: this.o.digestEvery, outputs, carried,
      pace: { chunk: PACE_CHUNK, wait: () => this.pace() }, ft: generationFt(this.o.vm, generation),
    });
  }

  /**
   * Going on alone, at G = the machine's count (generation g's log just ended there, reason
   * 'stopped'): generation g+1's disk layers over a frozen g, and gen-<g+1>.log from G written as a
   * go-live writes it (a recorder attached at G, continuing the output tally), so the generation
   * logs replay as one run (FT.md "Generation logs"). A chain replay drops g's entries at G: the
   * gate records the live run took at G (its poll there) are carried into g+1's log, before its start.
   */
  private async switchLog(): Promise<void> {
    const p = this.parts!, g1 = this.switchTo;
    this.switchTo = 0; this.switchReady = false;
    const disks = openDisks(p.vm, p.config, g1, this.firstGeneration);
    for (const d of p.disks) { try { d.flush(); } catch { /* reported by the guest's own flushes */ } d.close(); }
    // in place: the live gate (disk reads) and the seam's sinks (writes) hold this array. The sinks stay as they
    // are: a fresh set dropped the console host's wrap of the console sink, and console clients got nothing of
    // generation g+1 (the new-user trial: 225 of 583 B, then 'the guest ended')
    p.disks.splice(0, p.disks.length, ...disks);
    this.logBytesBefore += p.logSink.stats.bytes;
    p.logSink = openGenerationLog(p.vm, p.config, g1);
    const G = p.machine.cpu.icount;
    p.recorder = this.newRecorder(p.logSink, g1, p.recorder.outputs, this.atLastCount.filter((r) => r.icount === G));
    p.recorder.attach(p.machine);
    this.emit({ kind: 'message', text: `generation ${g1}: log ${p.logSink.path} from instruction ${p.machine.cpu.icount}` });
  }

  /** The guest ended: every output must still wait for the ack of the end (or go live if S fails). */
  private async finishProtected(): Promise<void> {
    const p = this.parts!;
    this.ending = true;
    await this.lossDone;
    const end = p.machine.cpu.icount;
    while (this.paired && this.streaming && !this.fencedMsg && this.lastAck < end) {
      if (this.lastSync < end) { this.peer?.send({ t: 'sync', icount: end }); this.lastSync = end; this.unacked.push([end, Date.now()]); }
      await new Promise<void>((r) => { this.ackWaiters.push(r); setTimeout(r, 20); });
    }
    if (this.fencedMsg) return;
    p.seam.setMode('live');
    this.marks?.stop();
    p.seam.syncDisks();
    this.inputs.release(Infinity);
    if (this.peer && this.paired && this.streaming) this.peer.send({ t: 'release', marks: p.seam.completed() });
    await this.lossDone; // a claim that started while waiting for the last ack
    await this.recordChain; // the record writes asked so far land before the final 'ended' one
  }

  /**
   * Changes the VM record (state, secondary, reason) after the writes asked before it: updateVm retries on
   * CONFLICT, so two writes in flight could land in either order — a 'protected' asked before a joining
   * secondary was dropped landed after the 'not-protected' and the record claimed `protected` with no
   * secondary connected. An ended record is never changed. Best effort (a control-plane error is reported).
   */
  private recordState(change: (r: VmRecord) => void): Promise<void> {
    const p = this.parts!;
    this.recordChain = this.recordChain.then(() => setVmState(p.control, p.vm, (r) => { if (r.state !== 'ended') change(r); }, (t) => this.emit({ kind: 'message', text: t })));
    return this.recordChain;
  }

  /** Status for supervisors and `ft status`. */
  status(): RoleStatus {
    const p = this.parts;
    return {
      role: 'primary', vm: this.o.vm, generation: this.generation, state: this.state,
      icount: p?.machine.cpu.icount ?? 0,
      lag: { instructions: p && this.paired && this.streaming ? Math.max(0, p.machine.cpu.icount - 1 - this.lastAck) : 0, ms: this.lagMs() },
      held: { outputs: p?.seam.heldCount ?? 0, bytes: p?.seam.heldBytes ?? 0 },
      heldAgeMs: p?.seam.heldAgeMs() ?? 0,
      logBytes: this.logBytesBefore + (p?.logSink.stats.bytes ?? 0),
      // 0 without a paired peer (the stopped detector of a lost one goes on counting)
      heartbeatAgeMs: this.paired ? this.detector?.silentMs() ?? 0 : 0,
      maxSilenceMs: this.paired ? this.detector?.maxSilentMs() ?? 0 : 0,
    };
  }

  /** Stops listening (an established channel stays until bye or abort). */
  private async close(): Promise<void> {
    await this.server?.close().catch(() => undefined);
  }

  /** Tell the secondary the run is over, in order. */
  bye(reason: string, status?: number): void {
    if (this.peer && !this.peer.isClosed && this.paired) this.peer.close({ reason, status });
  }
}

/**
 * Runs a live primary's machine to the guest's end: the recorder writes the generation log; at the
 * end `afterEnd` (the Output Rule's wait for the last ack) runs before the outputs are released and
 * the VM is recorded as ended. Used by FtPrimary and by a secondary after go-live.
 */
export async function runLivePrimary(p: LivePrimaryParts, hooks: {
  afterEnd?: () => Promise<void>; fenced?: () => string | undefined;
  /** A new generation's log is due: the recorder stops between run chunks, its log ends ('stopped'), then switchLog() opens the next. */
  switchReady?: () => boolean; switchLog?: () => Promise<void>;
} = {}): Promise<RoleOutcome> {
  let r: RunResult;
  // the recorder stops on the user's signal, or (between run chunks only) for a generation switch
  const stop = { get aborted(): boolean { return !!p.signal?.aborted || !!hooks.switchReady?.(); } };
  for (;;) {
    try {
      r = await p.recorder.run(Infinity, stop);
    } catch (e) {
      p.recorder.abort(e as Error);
      throw e;
    }
    if (r.end !== 'budget' || p.signal?.aborted || !hooks.switchReady?.() || hooks.fenced?.()) break;
    await hooks.switchLog!();
  }
  const fenced = hooks.fenced?.();
  const live = liveConsole(p.consoleInput);
  if (fenced) { await live?.close(); return { kind: 'fenced', message: fenced }; }
  await hooks.afterEnd?.();
  if (hooks.fenced?.()) { await live?.close(); return { kind: 'fenced', message: hooks.fenced()! }; }
  if (p.seam.mode !== 'live') p.seam.setMode('live');
  for (const d of p.disks) { try { d.flush(); } catch { /* reported by the guest's own flushes */ } }
  const stopped = p.signal?.aborted && r.end === 'budget';
  await setVmState(p.control, p.vm, (rec) => {
    if (rec.generation !== p.generation) return;
    rec.state = 'ended'; rec.exitStatus = r.end === 'exit' ? r.status : null;
    rec.reason = stopped ? 'stopped' : r.end === 'exit' ? null : r.end;
  }, (t) => p.onEvent?.({ kind: 'message', text: t }));
  // console clients get the rest of the console, then goodbye with the guest's status
  await live?.end(stopped ? 'the VM was stopped' : `the guest ended (${r.end})`, r.end === 'exit' ? r.status : undefined);
  await live?.close();
  for (const d of p.disks) d.close();
  p.console.close();
  for (const t of p.tunnels) t.close();
  if (stopped) return { kind: 'stopped' };
  return { kind: 'ended', result: r };
}

/** The output tally type a continuing recorder takes (re-exported for golive.ts). */
export type { OutputTally };
