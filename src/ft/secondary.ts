// The FT secondary (FT.md "Channel", "Failure, arbitration, go-live"): connects to its primary,
// replays the streamed log in lockstep with outputs suppressed (ReplaySession), acks every sync
// mark, trims its kept outputs by the release marks, and when the primary fails claims g+1, kills
// the old primary when it runs on this machine, goes live at G (golive.ts) and runs on as the
// primary, not protected. A divergence is reported to the primary; a diverged secondary never
// claims. Imports src/machine, src/replay and the other src/ft pieces.

import { readFileSync } from 'node:fs';
import { OutputSeam } from '../machine/outputs.js';
import { ReplaySession } from '../replay/session.js';
import { connectFt, type FtPeer, type FtTlsOptions } from './channel.js';
import type { FtMessage } from './protocol.js';
import { watchPeer, type FailureDetector } from './heartbeat.js';
import type { ControlPlane, VmConfig, VmRecord, VmState } from './control.js';
import type { ConsoleInput } from '../machine/gate.js';
import { loadImage } from './vm-host.js';
import { goLive } from './golive.js';
import { runLivePrimary } from './primary.js';
import { setVmState, selfRef, STARTUP_GRACE_TIMEOUTS, type RoleEvent, type RoleOutcome, type RoleStatus } from './role.js';
import { X86ftError, InvalidStateError } from '../errors.js';

/** Host time (ms) replayed per step before the event loop turns: bounded by time, not instructions,
 *  so acks and heartbeats keep flowing on a loaded host (1M-instruction steps took 100s of ms there,
 *  and the primary declared a live secondary failed). */
const SLICE_MS = 4;

export interface SecondaryOptions {
  vm: string;
  control: ControlPlane;
  hostId: string;
  /** The primary's channel address; default: the one in the VM record. */
  connect?: { host: string; port: number };
  /** Mutual TLS 1.3 on the channel (the primary's choice: both sides use it or neither). */
  tls?: FtTlsOptions;
  digestEvery?: number;
  onEvent?: (e: RoleEvent) => void;
  signal?: { aborted: boolean };
  /** Typed console input once this secondary is the primary (see PrimaryOptions.consoleInput). */
  consoleInput?: ConsoleInput;
  /** Once this secondary is the primary, place a new secondary itself (PrimaryOptions.place). */
  place?: boolean;
}

/** Why a secondary refused to start (exit 2). */
export class SecondaryRefused extends X86ftError {
  constructor(msg: string) { super('X86FT_SECONDARY_REFUSED', msg); this.name = 'SecondaryRefused'; }
}

export class FtSecondary {
  generation = 0;
  state: VmState = 'starting-secondary';
  private peer: FtPeer | undefined;
  private detector: FailureDetector | undefined;
  private session: ReplaySession | undefined;
  private seam: OutputSeam | undefined;
  private config: VmConfig | undefined;
  private record: VmRecord | undefined;
  private lastSync = -1;
  private received = 0;
  private wake: (() => void) | undefined;
  private failed: string | undefined;
  private bye: { reason: string; status?: number } | undefined;
  private feedError: Error | undefined;
  /** Set once a divergence is found: nothing is acked any more. */
  private divergedV = false;
  private readonly signal: { aborted: boolean };

  constructor(private readonly o: SecondaryOptions) { this.signal = o.signal ?? { aborted: false }; }

  private emit(e: RoleEvent): void { try { this.o.onEvent?.(e); } catch { /* an observer must not stop the replay */ } }

  /** Reads the VM, refuses to run on the primary's host, connects and authenticates. Throws SecondaryRefused / ProtocolError / ControlError. */
  async start(): Promise<void> {
    const { vm, control, hostId } = this.o;
    // a supervisor may start both roles at once: wait a little for the primary to create the VM
    let rec = await control.readVm(vm);
    for (let i = 0; i < 100 && (!rec || (!rec.primary?.addr && !this.o.connect)) && !this.signal.aborted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rec = await control.readVm(vm);
    }
    if (!rec) throw new SecondaryRefused(`FT VM '${vm}' does not exist (start its primary first)`);
    if (rec.state === 'ended') throw new SecondaryRefused(`FT VM '${vm}' has ended`);
    if (rec.primary && rec.primary.host === hostId) throw new SecondaryRefused(`host id '${hostId}' is the primary's: a secondary must run on another host`);
    this.record = rec;
    this.config = rec.config;
    let addr = this.o.connect;
    if (!addr) {
      const a = rec.primary?.addr;
      const m = a ? /^(.*):(\d+)$/.exec(a) : null;
      if (!m) throw new SecondaryRefused(`FT VM '${vm}' has no primary address yet: give --connect`);
      addr = { host: m[1]!, port: Number(m[2]) };
    }
    const secret = await control.secret();
    this.generation = await control.generation(vm);
    const peer = await connectFt({ secret, vm, hostId, generation: this.generation, host: addr.host, port: addr.port, tls: this.o.tls });
    if (peer.peerHostId === hostId) { peer.abort('same host'); throw new SecondaryRefused(`host id '${hostId}' is the primary's: a secondary must run on another host`); }
    if (peer.peerGeneration !== this.generation) { peer.abort('generation'); throw new SecondaryRefused(`the primary is at generation ${peer.peerGeneration}, the control plane at ${this.generation}`); }
    this.peer = peer;
    loadImage(this.config); // refuse an image that is not the VM's before replaying anything
    this.seam = new OutputSeam({ mode: 'suppress' });
    this.session = new ReplaySession({ image: new Uint8Array(readFileSync(this.config.image)), outputs: this.seam });
    peer.onMessage((m) => this.onMessage(m));
    const graceEnd = Date.now() + STARTUP_GRACE_TIMEOUTS * this.config.ft.failureTimeoutMs;
    this.detector = watchPeer(peer, {
      heartbeatMs: this.config.ft.heartbeatMs, failureTimeoutMs: this.config.ft.failureTimeoutMs,
      holdWhile: () => peer.isPaused || (this.lastSync < 0 && Date.now() < graceEnd),
      icount: () => this.session?.machine?.cpu.icount ?? 0,
      onFailed: (f) => { this.failed = f.message; this.poke(); },
    });
    void peer.closed.then((why) => { if (why.code !== 'BYE' && why.code !== 'LOCAL' && !this.failed) { this.failed = why.message; } this.poke(); });
    this.emit({ kind: 'peer', up: true, hostId: peer.peerHostId });
    await setVmState(control, vm, (r) => { if (r.generation === this.generation) r.secondary = selfRef(hostId, null); }, (t) => this.emit({ kind: 'message', text: t }));
  }

  private onMessage(m: FtMessage): void {
    switch (m.t) {
      case 'log':
        this.received += m.bytes.length;
        if (this.feedError) return;
        try { this.session!.feed(m.bytes); } catch (e) { this.feedError = e as Error; }
        break;
      case 'sync':
        if (m.icount > this.lastSync) {
          this.lastSync = m.icount;
          // S holds every entry <= X (the channel delivers in order, log before sync)
          if (!this.feedError && !this.divergedV) this.peer?.send({ t: 'ack', icount: m.icount });
        }
        break;
      case 'release': this.seam!.trim(m.marks); break;
      case 'bye': this.bye = { reason: m.reason, status: m.status }; break;
      default: break;
    }
    this.poke();
  }

  private poke(): void { const w = this.wake; this.wake = undefined; w?.(); }

  /** Replays until the primary ends the run, fails (then fails over), or a divergence. */
  async run(): Promise<RoleOutcome> {
    const s = this.session, peer = this.peer;
    if (!s || !peer) throw new InvalidStateError('secondary: start() first');
    for (;;) {
      if (this.signal.aborted) { peer.close({ reason: 'secondary stopped' }); this.detector?.stop(); return { kind: 'stopped' }; }
      if (this.feedError) return this.diverged(`the primary's log stream is bad: ${this.feedError.message}`);
      if (s.machine && !s.result) {
        const ic = s.machine.cpu.icount;
        let st;
        try { st = s.run(this.lastSync, performance.now() + SLICE_MS); } catch (e) { return this.diverged(`replay failed: ${(e as Error).message}`); }
        if (st.done && st.report.outcome === 'divergence') {
          const d = st.report.divergence!;
          return this.diverged(`${d.kind} at instruction ${d.icount}: ${d.message}`);
        }
        if (s.machine.cpu.icount !== ic) { await new Promise((r) => setImmediate(r)); continue; }
      }
      if (this.bye) {
        this.detector?.stop();
        peer.close();
        return { kind: 'peer-ended', status: this.bye.status, reason: this.bye.reason };
      }
      if (this.failed) return this.failover(this.failed);
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 20); });
    }
  }

  private async diverged(message: string): Promise<RoleOutcome> {
    this.divergedV = true;
    this.detector?.stop();
    const peer = this.peer;
    if (peer) {
      peer.send({ t: 'divergence', icount: this.session?.machine?.cpu.icount ?? 0, message });
      // tell P for sure: it ends the channel once it has read the notice (it treats this secondary as
      // failed); closing first could make P see only a lost connection. Bounded by the failure timeout.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([peer.closed, new Promise((r) => { timer = setTimeout(r, this.config?.ft.failureTimeoutMs ?? 500); })]);
      clearTimeout(timer);
      peer.close();
    }
    this.emit({ kind: 'message', text: `divergence: ${message}; stopping (a diverged secondary never claims)` });
    return { kind: 'diverged', message };
  }

  /** The primary failed: claim g+1; on a win fence the old primary and go live at G. */
  private async failover(why: string): Promise<RoleOutcome> {
    const t0 = Date.now();
    const { vm, control, hostId } = this.o;
    const config = this.config!;
    this.detector?.stop();
    this.peer?.abort(why);
    if (!this.session?.machine) return { kind: 'fenced', message: `the primary failed before the log started (${why}); nothing to take over` };
    const g1 = this.generation + 1;
    this.emit({ kind: 'message', text: `primary failed (${why}); claiming generation ${g1}` });
    const r = await control.claim(vm, g1, { hostId, pid: process.pid });
    if (!r.won) {
      const msg = `generation ${g1} of '${vm}' is held by ${r.owner.hostId} pid ${r.owner.pid}; stopping`;
      this.emit({ kind: 'message', text: msg });
      return { kind: 'fenced', message: msg };
    }
    this.generation = g1;
    this.state = 'failing-over';
    this.emit({ kind: 'state', state: 'failing-over', generation: g1 });
    killOldPrimary(this.record, vm, (t) => this.emit({ kind: 'message', text: t }));
    const res = await goLive({
      vm, config, control, hostId, generation: g1, firstGeneration: this.record?.firstGeneration, session: this.session, seam: this.seam!, lastSync: this.lastSync,
      digestEvery: this.o.digestEvery, onEvent: this.o.onEvent, signal: this.signal, consoleInput: this.o.consoleInput,
    });
    const failoverMs = Date.now() - t0;
    this.state = 'not-protected';
    this.emit({ kind: 'live', generation: g1, icount: res.icount, reissued: res.reissued, failoverMs });
    this.emit({ kind: 'state', state: 'not-protected', generation: g1 });
    await setVmState(control, vm, (rec) => {
      rec.generation = g1; rec.state = res.parts ? 'not-protected' : 'ended'; rec.primary = selfRef(hostId, null); rec.secondary = null;
      rec.failovers++; rec.lastFailover = { at: t0, durationMs: failoverMs }; rec.reason = `failover: ${why}`;
      if (!res.parts && res.ended?.run?.end === 'exit') rec.exitStatus = res.ended.run.status;
    }, (t) => this.emit({ kind: 'message', text: t }));
    if (!res.parts) return { kind: 'ended', result: res.ended!.run! };
    return runLivePrimary(res.parts);
  }

  status(): RoleStatus {
    const m = this.session?.machine;
    return {
      role: 'secondary', vm: this.o.vm, generation: this.generation, state: this.state,
      icount: m?.cpu.icount ?? 0,
      lag: { instructions: m ? Math.max(0, this.lastSync + 1 - m.cpu.icount) : 0, ms: 0 },
      held: { outputs: this.seam?.heldCount ?? 0, bytes: this.seam?.heldBytes ?? 0 },
      logBytes: this.received,
      heartbeatAgeMs: this.detector?.silentMs() ?? 0,
    };
  }
}

/**
 * Fencing: kill the old primary when it runs on this machine (its pid from the VM record, checked
 * to be an x86ft primary of this VM so a reused pid is never hit). Elsewhere its host agent does it (issue 10).
 */
export function killOldPrimary(rec: VmRecord | undefined, vm: string, report: (t: string) => void): void {
  const pid = rec?.primary?.pid;
  if (!pid || pid === process.pid) return;
  let cmd = '';
  try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' '); } catch { return; } // not on this machine, or gone
  if (!/\bft primary\b/.test(cmd) || (!cmd.includes(vm) && vm !== 'default')) return;
  try { process.kill(pid, 'SIGKILL'); report(`killed the old primary (pid ${pid})`); } catch { /* already gone */ }
}
