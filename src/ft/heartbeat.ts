// FailureDetector: heartbeats to the peer every heartbeatMs, and the verdict "peer failed" after
// failureTimeoutMs without any message from it, or at once when the connection ends (FT.md
// "Channel"). Time comes from an injectable Timers (ManualTimers in tests). Imports only the
// channel's types; must not import the roles.

import type { ChannelEnd } from './channel.js';
import { ProtocolError, type FtMessage, type Message } from './protocol.js';
import { startAuxBeat, type AuxBeat } from './heartbeat-thread.js';

/** The clock and timers the detector uses (milliseconds). */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The host's monotonic clock and Node's timers. */
export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Virtual time for tests: nothing happens until advance(). Timers due at the same time fire in the order they were set. */
export class ManualTimers implements Timers {
  private t = 0;
  private seq = 0;
  private pending = new Map<number, { at: number; order: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), order: id, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Move time forward by ms, firing every timer that falls due, in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; order: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].order < next[1].order))) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/** Why the peer was declared failed. */
export interface Failure {
  /** 'timeout': silent for failureTimeoutMs; 'connection': the channel ended without an orderly bye. */
  kind: 'timeout' | 'connection';
  /** Milliseconds since the last message from the peer. */
  silentMs: number;
  message: string;
  /** The channel's reason when kind is 'connection'. */
  cause?: ProtocolError;
}

export interface FailureDetectorOptions {
  /** Heartbeat period in ms (default 50; FT.md `--heartbeat-ms`). */
  heartbeatMs?: number;
  /** Silence in ms after which the peer is failed (default 500; `--failure-timeout-ms`); must exceed heartbeatMs. */
  failureTimeoutMs?: number;
  /** Sends one heartbeat (called at start and every heartbeatMs). */
  sendHeartbeat: () => void;
  /** While this returns true, silence does not count (this side stopped reading on purpose). */
  holdWhile?: () => boolean;
  /** Called once with the verdict; the detector stops itself first. */
  onFailed: (f: Failure) => void;
  timers?: Timers;
  /** A second heartbeat path (heartbeat-thread.ts): its beats count as heard too; tick() at every own heartbeat, close() at the end. */
  aux?: AuxBeat;
}

/**
 * Declares the peer failed after failureTimeoutMs without hearing from it (every received message
 * counts, not only heartbeats), or at once on connectionLost(). One heartbeat timer and one deadline
 * timer; heard() only stores the time, so a busy channel costs no timer work per message.
 */
export class FailureDetector {
  readonly heartbeatMs: number;
  readonly failureTimeoutMs: number;
  private readonly timers: Timers;
  private lastHeard = 0;
  private maxSilence = 0;
  /** When the channel itself was last heard (lastHeard also moves with the second path and the hold). */
  private lastChannel = 0;
  private beat: unknown;
  private deadline: unknown;
  private state: 'idle' | 'running' | 'failed' | 'stopped' = 'idle';
  /** The lastHeard a read-before-judging turn was given for (once per silence). */
  private graceAt = -1;
  /** The lastHeard the heartbeat thread was asked to drain for (once per silence), and whether it is pending. */
  private drainAt = -1;
  private draining = false;

  constructor(private readonly opts: FailureDetectorOptions) {
    this.heartbeatMs = opts.heartbeatMs ?? 50;
    this.failureTimeoutMs = opts.failureTimeoutMs ?? 500;
    this.timers = opts.timers ?? systemTimers;
    if (!(this.heartbeatMs > 0) || !(this.failureTimeoutMs > this.heartbeatMs)) {
      throw new ProtocolError('CONFIG', `heartbeat ${this.heartbeatMs} ms and failure timeout ${this.failureTimeoutMs} ms: need 0 < heartbeat < failure timeout`);
    }
  }

  /** Start: the peer counts as heard now; the first heartbeat goes out at once. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.lastHeard = this.lastChannel = this.timers.now();
    this.tick();
    this.arm(this.failureTimeoutMs);
  }

  /** Any message from the peer arrived. */
  heard(): void {
    if (this.state !== 'running') return;
    const t = this.timers.now();
    // silences count from the end of a hold (startup grace, paused reading) on
    if (this.opts.holdWhile?.()) { this.maxSilence = 0; this.opts.aux?.resetMax(); } else if (t - this.lastChannel > this.maxSilence) this.maxSilence = t - this.lastChannel;
    this.lastHeard = this.lastChannel = t;
  }

  /** The connection ended without an orderly end: the peer is failed at once. */
  connectionLost(cause: ProtocolError): void {
    this.fail({ kind: 'connection', silentMs: this.silentMs(), message: `connection to the peer lost: ${cause.message}`, cause });
  }

  /** Milliseconds since the peer was last heard (FT status `heartbeatAgeMs`). */
  silentMs(): number {
    // never negative: the worker thread's arrival time is converted from another clock reading (ft status showed
    // '-9 ms' to a README-only trial); a beat that seems to come from the future was heard just now
    return Math.max(0, this.timers.now() - Math.max(this.lastHeard, this.opts.aux?.lastHeard() ?? -Infinity));
  }

  /** The longest silence (ms) between two messages heard from the peer since any hold (startup
   *  grace, paused reading) ended, the current one included: how close the peer came to the failure timeout (metrics `ft_peer_max_silence_seconds`). */
  maxSilentMs(): number {
    // with a second path, a silence of both is at most the longest of either (the smaller bound)
    const auxGap = this.opts.aux?.maxGapMs() ?? 0;
    const max = auxGap > 0 ? Math.min(this.maxSilence, auxGap) : this.maxSilence;
    return this.state === 'running' ? Math.max(max, this.silentMs()) : max;
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  /** Stop sending and watching (orderly end). */
  stop(): void {
    if (this.state === 'running' || this.state === 'idle') this.state = 'stopped';
    this.clear();
  }

  private clear(): void {
    this.opts.aux?.close();
    if (this.beat !== undefined) this.timers.clearTimeout(this.beat);
    if (this.deadline !== undefined) this.timers.clearTimeout(this.deadline);
    this.beat = this.deadline = undefined;
  }

  private tick(): void {
    if (this.state !== 'running') return;
    this.beat = this.timers.setTimeout(() => this.tick(), this.heartbeatMs);
    this.opts.aux?.tick();
    this.opts.sendHeartbeat();
  }

  private arm(ms: number): void {
    this.deadline = this.timers.setTimeout(() => this.check(), ms);
  }

  /**
   * The verdict. Silence is judged as the channel saw it, not as late as this thread got to read it: before
   * failing the peer, this thread reads what reached it meanwhile (one turn of its event loop: the channel's
   * data, the channel thread's relayed messages) and the heartbeat thread reads what reached its socket (drain);
   * a starved process, whose threads did not run while the peer went on sending, finds the peer's messages
   * there. The drain's answer is awaited at most one more failure timeout (a worker that cannot answer).
   */
  private check(): void {
    if (this.state !== 'running' || this.draining) return;
    if (this.opts.holdWhile?.()) this.lastHeard = this.timers.now();
    const aux = this.opts.aux?.lastHeard() ?? -Infinity;
    if (aux > this.lastHeard) this.lastHeard = aux;
    const silent = this.silentMs();
    if (silent < this.failureTimeoutMs) {
      this.arm(this.failureTimeoutMs - silent);
      return;
    }
    // Read before judging (once per silence): what the peer sent may be waiting in this thread's queues.
    if (this.graceAt !== this.lastHeard) {
      this.graceAt = this.lastHeard;
      this.arm(0);
      return;
    }
    // ...and in the heartbeat thread's socket (once per silence).
    const a = this.opts.aux;
    if (a && this.drainAt !== this.lastHeard) {
      this.drainAt = this.lastHeard;
      this.draining = true;
      const answered = (): void => {
        if (!this.draining) return;
        this.draining = false;
        if (this.deadline !== undefined) this.timers.clearTimeout(this.deadline);
        this.deadline = undefined;
        this.check();
      };
      this.deadline = this.timers.setTimeout(answered, this.failureTimeoutMs);
      a.drain(answered);
      return;
    }
    this.fail({ kind: 'timeout', silentMs: silent, message: `no message from the peer for ${Math.round(silent)} ms (failure timeout ${this.failureTimeoutMs} ms)` });
  }

  private fail(f: Failure): void {
    if (this.state !== 'running' && this.state !== 'idle') return;
    this.state = 'failed';
    this.clear();
    this.opts.onFailed(f);
  }
}

/** Worker beats stop once the main thread's event loop has not turned for this many failure timeouts. */
export const HANG_TIMEOUTS = 4;

/** The label of the worker-beat keys (SecurePeer.auxKeys). */
export const AUX_LABEL = 'x86ft-hb1';

/**
 * Watch a channel peer: heartbeats carry `icount()`, every message counts as heard, and the channel
 * ending is a failure unless it was an orderly bye or this side closed it. Started at once.
 * With `workerBeats`, a worker thread also exchanges authenticated UDP heartbeats with the peer's
 * (heartbeat-thread.ts) while this thread's event loop turns at least every HANG_TIMEOUTS failure
 * timeouts: the listening side names its channel address (`bind`), the connecting side the address
 * it connected to (`peer`). A peer whose main thread is preempted then stays heard; one whose main
 * thread is hung goes silent after HANG_TIMEOUTS failure timeouts, so it is declared failed after at
 * most HANG_TIMEOUTS + 1 (a dead or stopped process as before: at once by the connection, or after one).
 */
export function watchPeer<M extends Message>(
  peer: ChannelEnd<M>,
  opts: Omit<FailureDetectorOptions, 'sendHeartbeat' | 'aux'> & { icount: () => number; workerBeats?: { bind: { host: string; port: number } } | { peer: { host: string; port: number } } },
): FailureDetector {
  const failureTimeoutMs = opts.failureTimeoutMs ?? 500;
  const wb = opts.workerBeats;
  const aux = wb ? startAuxBeat({ keys: peer.auxKeys(AUX_LABEL), ...wb, heartbeatMs: opts.heartbeatMs ?? 50, hangMs: HANG_TIMEOUTS * failureTimeoutMs }) : undefined;
  const d = new FailureDetector({
    holdWhile: () => peer.isPaused,
    ...opts,
    aux,
    sendHeartbeat: () => peer.send({ t: 'heartbeat', icount: opts.icount() } as FtMessage as unknown as M),
  });
  peer.onMessage(() => d.heard());
  void peer.closed.then((reason) => {
    if (reason.code === 'BYE' || reason.code === 'LOCAL') d.stop();
    else d.connectionLost(reason);
  });
  d.start();
  return d;
}
