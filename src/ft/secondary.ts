// The FT secondary (FT.md "Channel", "Failure, arbitration, go-live"): connects to its primary,
// replays the streamed log in lockstep with outputs suppressed (ReplaySession), acks every sync
// mark, trims its kept outputs by the release marks, and when the primary fails claims g+1, kills
// the old primary when it runs on this machine, goes live at G (golive.ts) and runs on as the
// primary, not protected. A divergence is reported to the primary; a diverged secondary never
// claims. Imports src/machine, src/replay and the other src/ft pieces.

import { createHash, timingSafeEqual } from 'node:crypto';
import { OutputSeam } from '../machine/outputs.js';
import { ReplaySession } from '../replay/session.js';
import { PreCopyImage } from '../replay/precopy.js';
import type { FtTlsOptions } from './channel.js';
import { connectFtThread, type ThreadPeer } from './channel-thread.js';
import type { FtMessage } from './protocol.js';
import { AUX_LABEL, HANG_TIMEOUTS, watchPeer, type FailureDetector } from './heartbeat.js';
import { goneHere, updateVm, type ControlPlane, type VmConfig, type VmRecord, type VmState } from './control.js';
import type { ConsoleInput } from '../machine/gate.js';
import { loadImage } from './vm-host.js';
import { goLive } from './golive.js';
import { FtPrimary, runLivePrimary } from './primary.js';
import { hostLease, primaryProcessHere, setVmState, selfRef, STARTUP_GRACE_TIMEOUTS, type RoleEvent, type RoleOutcome, type RoleStatus } from './role.js';
import { X86ftError, InvalidStateError } from '../errors.js';

/** Host time (ms) replayed per step before the event loop turns: bounded by time, not instructions,
 *  so acks and heartbeats keep flowing on a loaded host (1M-instruction steps took 100s of ms there,
 *  and the primary declared a live secondary failed). Short, because a sync mark that arrives during
 *  a step is acked only after it, and the primary's held outputs wait for that ack. */
const SLICE_MS = 1;
/** How long a secondary tries again a primary that refuses the connection (ECONNREFUSED). */
const CONNECT_WAIT_MS = 10_000;
/** recordSelf: how often and how long a secondary retries naming itself until the record is at its generation or names its host. */
const RECORD_RETRY_MS = 100;
const RECORD_WAIT_MS = 30_000;
/** After aborting the channel, its thread reports the end (after every message it read) within this (ms). */
const CHANNEL_END_MS = 5_000;

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
  /** Once this secondary is the primary, place a new secondary itself (PrimaryOptions.place); it then also
   *  listens for one on `listen` (default 127.0.0.1, any port). */
  place?: boolean;
  listen?: { host: string; port: number };
}

/** Why a secondary refused to start (exit 2). */
export class SecondaryRefused extends X86ftError {
  constructor(msg: string) { super('X86FT_SECONDARY_REFUSED', msg); this.name = 'SecondaryRefused'; }
}

export class FtSecondary {
  generation = 0;
  state: VmState = 'starting-secondary';
  private peer: ThreadPeer | undefined;
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
  /** The primary sent the log, RAM, a snapshot or a mark (not only heartbeats or bye): it accepted this secondary. */
  private heard = false;
  private feedError: Error | undefined;
  /** Set once a divergence is found: nothing is acked any more. */
  private divergedV = false;
  private readonly signal: { aborted: boolean };
  private image: Uint8Array | undefined;
  /** A snapshot being received (respawn): the secondary starts from it instead of from boot. */
  private snap: { icount: number; hash: string; buf: Uint8Array; got: number; marks: Record<string, number>; input: number } | undefined;
  /** The snapshot point M when this secondary joined a running primary (undefined: it replays from boot). */
  private joinM: number | undefined;
  /** RAM pre-copied by the primary (respawn), until the snapshot at M completes it. */
  private ramImage: PreCopyImage | undefined;
  private inputBase = 0;
  private lastAcked = -1;
  /** The primary this secondary became after a failover (with placement): status comes from it. */
  private adopted: FtPrimary | undefined;

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
    const secret = await control.secret();
    // a refused connection is tried again for CONNECT_WAIT_MS, the record read again each time: a primary that lost its
    // secondary listens anew a moment after it recorded the next generation (the new-user trial's secondary exited 1),
    // and one with `--listen HOST:0` publishes a new address; a primary gone from this machine is judged at once
    let peer: ThreadPeer;
    let addr: { host: string; port: number };
    for (const until = Date.now() + CONNECT_WAIT_MS; ;) {
      const gone = goneHere(rec);
      if (gone) throw new SecondaryRefused(`FT VM '${vm}' is lost: ${gone}; 'x86ft ft stop ${vm}' ends its record, then start its primary again`);
      if (this.o.connect) addr = this.o.connect;
      else {
        const a = rec.primary?.addr;
        const m = a ? /^(.*):(\d+)$/.exec(a) : null;
        if (!m) throw new SecondaryRefused(`FT VM '${vm}' has no primary address yet: give --connect`);
        addr = { host: m[1]!, port: Number(m[2]) };
      }
      this.generation = await control.generation(vm);
      try {
        // the channel on a thread of its own, which acks each sync mark as it reads it (channel-thread.ts)
        peer = await connectFtThread({ secret, vm, hostId, generation: this.generation, host: addr.host, port: addr.port, tls: this.o.tls, auxLabel: AUX_LABEL,
          hangMs: HANG_TIMEOUTS * this.config.ft.failureTimeoutMs });
        break;
      } catch (e) {
        if (!/ECONNREFUSED/.test((e as Error).message) || Date.now() >= until || this.signal.aborted) {
          if (/ECONNREFUSED/.test((e as Error).message)) (e as Error).message += ` (for ${CONNECT_WAIT_MS / 1000} s: is the primary running? 'x86ft ft status ${vm}')`;
          throw e;
        }
        await new Promise((r) => setTimeout(r, 200));
        const next = await control.readVm(vm);
        if (!next || next.state === 'ended') throw new SecondaryRefused(`FT VM '${vm}' ${next ? 'has ended' : 'does not exist'}`);
        rec = next;
      }
    }
    if (peer.peerHostId === hostId) { peer.abort('same host'); throw new SecondaryRefused(`host id '${hostId}' is the primary's: a secondary must run on another host`); }
    if (peer.peerGeneration !== this.generation) { peer.abort('generation'); throw new SecondaryRefused(`the primary is at generation ${peer.peerGeneration}, the control plane at ${this.generation}`); }
    this.peer = peer;
    this.image = loadImage(this.config); // refuse an image that is not the VM's before replaying anything
    this.seam = new OutputSeam({ mode: 'suppress' });
    // the session starts with the first log bytes: from boot, or from the snapshot sent before them
    peer.onMessage((m) => this.onMessage(m));
    const graceEnd = Date.now() + STARTUP_GRACE_TIMEOUTS * this.config.ft.failureTimeoutMs;
    this.detector = watchPeer(peer, {
      heartbeatMs: this.config.ft.heartbeatMs, failureTimeoutMs: this.config.ft.failureTimeoutMs,
      holdWhile: () => peer.isPaused || (this.lastSync < 0 && Date.now() < graceEnd),
      icount: () => this.session?.machine?.cpu.icount ?? 0,
      onFailed: (f) => { this.failed = f.message; this.poke(); },
      workerBeats: { peer: { host: addr.host, port: addr.port } },
    });
    void peer.closed.then((why) => { if (why.code !== 'BYE' && why.code !== 'LOCAL' && !this.failed) { this.failed = why.message; } this.poke(); });
    // accepted once the primary sends the log, RAM or a snapshot; a primary that has a secondary refuses this one
    // with a bye (SecondaryRefused: exit 2), and only an accepted secondary writes the VM record (an intruder named
    // itself there, then exited 4 'the primary failed before the log started' though the primary lived)
    while (!this.heard && !this.bye && !this.failed && !this.signal.aborted) await new Promise<void>((r) => { this.wake = r; setTimeout(r, 20); });
    if (!this.heard && this.bye) {
      this.detector?.stop();
      peer.close();
      throw new SecondaryRefused(this.bye.reason);
    }
    if (!this.heard) return; // the primary failed or this role was stopped first: run() says so
    this.emit({ kind: 'peer', up: true, hostId: peer.peerHostId });
    if (await this.recordSelf()) void this.recordSelfLater();
  }

  /**
   * Names this process as the VM's secondary in the record. The record need not be at this secondary's generation
   * yet: a primary that lost its secondary claims g+1 and records it a moment later, and a secondary placed in
   * between can join at g and see the record move to g+1 (which names this host as the secondary, with pid 0,
   * once the primary saw it connect). The write is done once the record is at this generation or names this host
   * as its secondary; until then it is retried (it was skipped, and the record kept pid 0 for good: ft:torture
   * --hosts 3 --kills 50 failed at kill 30, then at kill 19 with the first fix); once written it is read again until
   * the record says protected (and written again if the primary's writes replaced it). Returns true to retry.
   */
  private async recordSelf(): Promise<boolean> {
    const { control, vm, hostId } = this.o;
    let retry = false;
    try {
      const lease = await hostLease(control, hostId);
      // no write while the record is behind: a record below the claimed generation is refused (STALE_GENERATION)
      await updateVm(control, vm, (r) => {
        retry = false;
        if (r.state === 'ended') return undefined;
        // written: watched until the record says protected, as a write of the primary's can still replace it (its
        // status publisher nulls the secondary while it is not protected, then its own write names this host with
        // pid 0: a respawned secondary stayed 'no pid recorded' for good, at load 20 with the channel thread)
        retry = r.state !== 'protected';
        if (r.secondary?.host === hostId && r.secondary.pid === process.pid) return undefined;
        if (r.generation === this.generation || (r.generation > this.generation && r.secondary?.host === hostId)) return { ...r, secondary: selfRef(hostId, null, lease) };
        retry = true;
        return undefined;
      });
    } catch (e) {
      this.emit({ kind: 'message', text: `control plane: could not update VM '${vm}': ${(e as Error).message}` });
    }
    return retry;
  }

  /** recordSelf again every RECORD_RETRY_MS until it is done (at most RECORD_WAIT_MS, while connected). */
  private async recordSelfLater(): Promise<void> {
    for (let waited = 0; waited < RECORD_WAIT_MS && !this.peer?.isClosed; waited += RECORD_RETRY_MS) {
      await new Promise((res) => setTimeout(res, RECORD_RETRY_MS));
      // the channel ended meanwhile: this role is ending (its control plane may be closed already)
      if (this.peer?.isClosed || !(await this.recordSelf())) return;
    }
  }

  private onMessage(m: FtMessage): void {
    if (m.t !== 'bye' && m.t !== 'heartbeat') this.heard = true;
    switch (m.t) {
      case 'log':
        this.received += m.bytes.length;
        if (this.feedError) return;
        if (this.snap) { this.feedError = new Error('the log started before the snapshot was complete'); return; }
        this.session ??= new ReplaySession({ image: this.image!, outputs: this.seam! });
        try { this.session.feed(m.bytes); } catch (e) { this.feedError = e as Error; }
        break;
      case 'ram': {
        this.received += m.bytes.length;
        if (this.feedError) break;
        if (this.session || this.snap || this.joinM !== undefined) { this.feedError = new Error('RAM pages after the snapshot started'); break; }
        this.ramImage ??= new PreCopyImage(this.config!.memorySize);
        const bad = this.ramImage.put(m.offset, m.bytes);
        if (bad) this.feedError = new Error(bad);
        break;
      }
      case 'snapshot': {
        const max = 64 << 20; // the machine state without RAM: registers and devices
        if (this.session || this.snap || this.joinM !== undefined) this.feedError = new Error('a snapshot after the log started');
        else if (m.size > max) this.feedError = new Error(`a snapshot of ${m.size} bytes for a ${this.config!.memorySize}-byte machine`);
        else this.snap = { icount: m.icount, hash: m.hash, buf: new Uint8Array(m.size), got: 0, marks: m.marks, input: m.input };
        this.received += 64;
        break;
      }
      case 'snapshot-data': {
        const sn = this.snap;
        this.received += m.bytes.length;
        if (!sn || this.feedError) { this.feedError ??= new Error('snapshot data without a snapshot'); break; }
        if (m.offset !== sn.got || sn.got + m.bytes.length > sn.buf.length) { this.feedError = new Error(`snapshot data at ${m.offset}, expected ${sn.got} (of ${sn.buf.length})`); break; }
        sn.buf.set(m.bytes, sn.got);
        sn.got += m.bytes.length;
        break;
      }
      case 'snapshot-end': {
        const sn = this.snap;
        if (!sn || this.feedError) { this.feedError ??= new Error('snapshot end without a snapshot'); break; }
        const sha = createHash('sha256').update(sn.buf).digest();
        // a damaged transfer is never used, not even in part: this secondary stops and the primary places another
        if (sn.got !== sn.buf.length || !timingSafeEqual(sha, m.sha256)) { this.feedError = new Error(`the snapshot stream is damaged (${sn.got} of ${sn.buf.length} bytes, SHA-256 mismatch)`); break; }
        const image = this.ramImage ?? new PreCopyImage(this.config!.memorySize);
        // one hash over the whole state at M: the machine state as sent and every page of the assembled RAM
        try { image.verify(sn.buf, sn.hash); } catch (e) { this.feedError = new Error(`the snapshot stream is damaged: ${(e as Error).message}`); break; }
        this.ramImage = undefined;
        this.snap = undefined;
        this.joinM = sn.icount;
        this.inputBase = sn.input;
        this.session = new ReplaySession({ image: this.image!, restore: (io, hash) => image.restore(io, hash), outputs: this.seam! });
        this.seam!.trim(sn.marks); // the first release mark: every output before M completed
        this.emit({ kind: 'message', text: `joined from a snapshot at instruction ${sn.icount} (RAM pre-copied, state ${sn.buf.length} bytes)` });
        break;
      }
      case 'sync':
        if (m.icount > this.lastSync) {
          this.lastSync = m.icount;
          // the channel thread acked it as it read it (it then held every entry <= X: one ordered stream)
          const acked = this.peer?.acked ?? -1;
          if (acked > this.lastAcked) {
            const first = this.joinM !== undefined && this.lastAcked < this.joinM && acked >= this.joinM;
            this.lastAcked = acked;
            if (first) this.emit({ kind: 'message', text: `acked instruction ${acked}, past the snapshot point ${this.joinM}: protecting the guest` });
            // the primary counts the VM protected from here on (a joiner: once it acked M): so does this role's
            // status (its metrics' ft_state stayed starting-secondary while ft status said protected)
            if (this.state === 'starting-secondary' && (this.joinM === undefined || acked >= this.joinM)) this.state = 'protected';
          }
        }
        break;
      case 'release': this.seam!.trim(m.marks); break;
      case 'bye': this.bye = { reason: m.reason, status: m.status }; break;
      default: break;
    }
    // a bad stream: no more acks (this secondary stops and never claims; what it acked before is moot)
    if (this.feedError) this.peer?.stopAcks();
    this.poke();
  }

  private poke(): void { const w = this.wake; this.wake = undefined; w?.(); }

  /** Replays until the primary ends the run, fails (then fails over), or a divergence. */
  async run(): Promise<RoleOutcome> {
    const peer = this.peer;
    if (!peer) throw new InvalidStateError('secondary: start() first');
    for (;;) {
      const s = this.session;
      if (this.signal.aborted) { peer.close({ reason: 'secondary stopped' }); this.detector?.stop(); return { kind: 'stopped' }; }
      if (this.feedError) return this.diverged(`the primary's log stream is bad: ${this.feedError.message}`);
      // a secondary that joined from a snapshot starts at M: nothing to run before a sync mark reaches it
      if (s?.machine && !s.result && this.lastSync >= s.machine.cpu.icount - 1) {
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
      peer.stopAcks();
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
    // every message the channel thread read comes before its end: G must count every entry it held (and acked)
    if (this.peer) {
      const peer = this.peer;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([peer.closed.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), CHANNEL_END_MS); })]);
      clearTimeout(timer);
      if (!ended || peer.threadFailure) {
        const text = ended ? peer.threadFailure! : `the channel thread did not end within ${CHANNEL_END_MS} ms`;
        this.emit({ kind: 'message', text: `${text}: the entries this secondary holds are unknown; stopping (it never claims)` });
        return { kind: 'diverged', message: text };
      }
    }
    if (!this.session?.machine) return { kind: 'fenced', message: `the primary failed before the log started (${why}); nothing to take over` };
    // FT.md: a secondary that has not acked its snapshot point M never claims (it does not hold the run up to M)
    if (this.joinM !== undefined && this.lastAcked < this.joinM) return { kind: 'fenced', message: `the primary failed before this secondary acked its snapshot point ${this.joinM} (${why}); it never claims` };
    const g1 = this.generation + 1;
    this.emit({ kind: 'message', text: `primary failed (${why}); claiming generation ${g1}` });
    const r = await control.claim(vm, g1, { hostId, pid: process.pid });
    if (!r.won) {
      // the outcome carries the message (the CLI prints it once, at exit)
      return { kind: 'fenced', message: `generation ${g1} of '${vm}' is held by ${r.owner.hostId} pid ${r.owner.pid}; stopping` };
    }
    this.generation = g1;
    this.state = 'failing-over';
    this.emit({ kind: 'state', state: 'failing-over', generation: g1 });
    // a primary asked to hand over (ft failover, host drain, its agent leaving service) fenced itself and ends by
    // itself (status 4); killing it here raced that exit (its agent reported it killed by SIGKILL)
    const asked = (await control.readVm(vm).catch(() => undefined))?.failoverRequested?.generation === g1 - 1;
    if (!asked) killOldPrimary(this.record, vm, (t) => this.emit({ kind: 'message', text: t }));
    const res = await goLive({
      vm, config, control, hostId, generation: g1, firstGeneration: this.record?.firstGeneration, session: this.session, seam: this.seam!, lastSync: this.lastSync,
      digestEvery: this.o.digestEvery, onEvent: this.o.onEvent, signal: this.signal, consoleInput: this.o.consoleInput, consoleInputBase: this.inputBase,
    });
    const failoverMs = Date.now() - t0;
    this.state = 'not-protected';
    this.emit({ kind: 'live', generation: g1, icount: res.icount, reissued: res.reissued, failoverMs });
    this.emit({ kind: 'state', state: 'not-protected', generation: g1 });
    await setVmState(control, vm, (rec) => {
      rec.generation = g1; rec.state = res.parts ? 'not-protected' : 'ended'; rec.primary = selfRef(hostId, null, rec.secondary?.pid === process.pid ? rec.secondary.lease : undefined); rec.secondary = null;
      rec.failovers++; rec.lastFailover = { at: t0, durationMs: failoverMs }; rec.reason = `failover: ${why}`;
      if (!res.parts && res.ended?.run?.end === 'exit') rec.exitStatus = res.ended.run.status;
    }, (t) => this.emit({ kind: 'message', text: t }));
    if (!res.parts) return { kind: 'ended', result: res.ended!.run! };
    if (!this.o.place) return runLivePrimary(res.parts);
    // redundancy restored: this new primary takes a new secondary from a live snapshot, placing it itself
    this.adopted = await FtPrimary.adopt(res.parts, { listen: this.o.listen ?? { host: '127.0.0.1', port: 0 }, tls: this.o.tls, digestEvery: this.o.digestEvery, firstGeneration: this.record?.firstGeneration, place: true, lostAt: t0, failedHost: this.record?.primary?.host, consoleInput: this.o.consoleInput });
    return this.adopted.runLive();
  }

  /** Planned operations, once this secondary went live and took a new secondary (FtPrimary.handOver/restartSecondary). */
  handOver(reason: string): boolean { return this.adopted?.handOver(reason) ?? false; }
  restartSecondary(reason: string, avoid?: string): boolean { return this.adopted?.restartSecondary(reason, avoid) ?? false; }

  status(): RoleStatus {
    if (this.adopted) return this.adopted.status();
    const m = this.session?.machine;
    return {
      role: 'secondary', vm: this.o.vm, generation: this.generation, state: this.state,
      icount: m?.cpu.icount ?? 0,
      lag: { instructions: m ? Math.max(0, this.lastSync + 1 - m.cpu.icount) : 0, ms: 0 },
      held: { outputs: this.seam?.heldCount ?? 0, bytes: this.seam?.heldBytes ?? 0 },
      logBytes: this.received,
      heartbeatAgeMs: this.detector?.silentMs() ?? 0,
      maxSilenceMs: this.detector?.maxSilentMs() ?? 0,
    };
  }
}

/**
 * Fencing: kill the old primary when it runs on this machine (its pid from the VM record, checked
 * to be an x86ft primary of this VM so a reused pid is never hit). Elsewhere its host agent does it (issue 10).
 */
export function killOldPrimary(rec: VmRecord | undefined, vm: string, report: (t: string) => void): void {
  const pid = rec?.primary?.pid;
  if (!pid || pid === process.pid || !primaryProcessHere(pid, vm)) return; // not on this machine, gone, or not it
  try { process.kill(pid, 'SIGKILL'); report(`killed the old primary (pid ${pid})`); } catch { /* already gone */ }
}
