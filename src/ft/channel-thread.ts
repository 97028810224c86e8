// The secondary's end of the P<->S channel on a worker thread (FT.md "Channel"): the thread owns the
// connection (connect, TLS, handshake, per-message HMAC and sequence numbers: channel.ts's SecurePeer,
// unchanged) and acks every sync mark the moment it has read it — it then HOLDS every entry up to X
// (FT.md: an ack X means S holds them; replay need not reach them), handed on to the main thread in
// order. The main thread replays in slices that take 3-60 ms in cold code on a loaded host; reading
// the channel there delayed every ack, and so every release on the primary, by that much (README
// "release latency"). Imports channel.ts and node:*; secondary.ts uses it.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { connectFt, MessageHandlers, type ByeInfo, type ChannelEnd, type FtConnectOptions } from './channel.js';
import { ProtocolError, type FtMessage, type ProtocolErrorCode } from './protocol.js';

/** What the main thread tells the channel thread. */
type ToThread =
  | { op: 'send'; msg: FtMessage }
  | { op: 'close'; bye?: ByeInfo }
  | { op: 'abort'; reason: string }
  | { op: 'stop-acks' };

/** What the channel thread tells the main thread, in order. */
type FromThread =
  | { ev: 'open'; hostId: string; generation: number; vm: string; role: string; remote: string; aux: { label: string; send: Uint8Array; recv: Uint8Array; tag: Uint8Array } }
  | { ev: 'refused'; code: ProtocolErrorCode; message: string }
  /** A message read from the peer; `acked`: a sync mark the thread acked when it read it. */
  | { ev: 'msg'; m: FtMessage; acked?: boolean }
  | { ev: 'closed'; code: ProtocolErrorCode; message: string };

const THREAD_TAG = 'x86ft-ft-channel';

/** Options of connectFtThread: connectFt's, and the label of the auxiliary keys the main thread needs (heartbeat-thread.ts). */
export interface ThreadConnectOptions extends FtConnectOptions {
  auxLabel: string;
  /** Ack only while the main thread sent something (its heartbeats) within this many ms (default: always):
   *  a hung main thread must not look alive to the primary through the thread's acks. */
  hangMs?: number;
}

/**
 * The main thread's handle on the channel thread: a ChannelEnd like SecurePeer. Messages arrive in the
 * order the thread read them; `acked` is the highest sync mark the thread acked (updated before that
 * sync is delivered). `closed` resolves only after every message read before the end was delivered,
 * so a secondary that saw it knows every entry it holds. When the thread itself dies (an exception,
 * out of memory), `closed` resolves with RESET and `threadFailure` says why: the held entries are then
 * unknown, and the secondary must stop without claiming.
 */
export class ThreadPeer implements ChannelEnd<FtMessage> {
  readonly peerHostId: string;
  readonly peerGeneration: number;
  readonly peerVm: string;
  readonly peerRole: string;
  readonly remote: string;
  readonly closed: Promise<ProtocolError>;
  /** The highest sync mark the channel thread acked (-1: none). */
  acked = -1;
  /** Set when the channel thread died instead of reporting the channel's end. */
  threadFailure: string | undefined;
  private ended: ProtocolError | undefined;
  private resolveClosed!: (e: ProtocolError) => void;
  private readonly handlers = new MessageHandlers<FtMessage>((e) => this.abort(`message handler failed: ${(e as Error)?.message ?? String(e)}`));
  private gone = false;

  /** @internal made by connectFtThread once the thread reported 'open' */
  constructor(private readonly worker: Worker, open: Extract<FromThread, { ev: 'open' }>, private readonly aux: { label: string; send: Uint8Array; recv: Uint8Array; tag: Uint8Array }) {
    this.peerHostId = open.hostId;
    this.peerGeneration = open.generation;
    this.peerVm = open.vm;
    this.peerRole = open.role;
    this.remote = open.remote;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    worker.on('message', (e: FromThread) => this.fromThread(e));
    worker.on('error', (err) => this.died(`the channel thread failed: ${err?.message ?? String(err)}`));
    worker.on('exit', (code) => this.died(`the channel thread exited (status ${code})`));
  }

  private fromThread(e: FromThread): void {
    if (e.ev === 'msg') {
      if (e.acked && e.m.t === 'sync' && e.m.icount > this.acked) this.acked = e.m.icount;
      this.deliver(e.m);
    } else if (e.ev === 'closed') {
      this.finish(new ProtocolError(e.code, e.message));
      this.gone = true;
      this.worker.unref(); // it ends once its connection has closed (a bye or the last writes still go out)
    }
  }

  private died(why: string): void {
    if (this.gone) return;
    this.gone = true;
    if (this.ended) return;
    this.threadFailure = why;
    this.finish(new ProtocolError('RESET', why));
  }

  private finish(e: ProtocolError): void {
    if (this.ended) return;
    this.ended = e;
    this.resolveClosed(e);
  }

  private deliver(m: FtMessage): void { this.handlers.deliver(m); }

  private post(m: ToThread): void { if (!this.gone) this.worker.postMessage(m); }

  auxKeys(label: string): { send: Buffer; recv: Buffer; tag: Buffer } {
    if (label !== this.aux.label) throw new ProtocolError('CONFIG', `the channel thread derived the auxiliary keys of '${this.aux.label}', not '${label}'`);
    return { send: Buffer.from(this.aux.send), recv: Buffer.from(this.aux.recv), tag: Buffer.from(this.aux.tag) };
  }

  /** The thread writes at once; back-pressure stays in the thread (the secondary sends acks, heartbeats and one notice). */
  get queuedBytes(): number { return 0; }
  get isClosed(): boolean { return this.ended !== undefined; }
  /** This end never pauses reading: the thread reads and acks whatever the replay's progress. */
  get isPaused(): boolean { return false; }

  send(msg: FtMessage): boolean {
    if (this.ended) return false;
    this.post({ op: 'send', msg });
    return true;
  }

  drained(): Promise<void> { return Promise.resolve(); }

  onMessage(handler: (m: FtMessage) => void): () => void { return this.handlers.add(handler); }

  /** No more acks (a divergence or a bad stream: this secondary will never claim). */
  stopAcks(): void { this.post({ op: 'stop-acks' }); }

  close(bye?: ByeInfo): void {
    if (this.ended) return;
    this.post({ op: 'close', bye });
    this.letGo();
  }

  abort(reason = 'aborted locally'): void {
    if (this.ended) return;
    this.post({ op: 'abort', reason });
    this.letGo();
  }

  /** Ending: the thread cannot keep this process alive past SecurePeer's own 2 s close bound. */
  private letGo(): void { setTimeout(() => this.worker.unref(), 2500).unref(); }
}

/**
 * Connect to the primary from a channel thread (as connectFt does on this one). Rejects with the
 * ProtocolError of the connection or handshake, or CONNECT when no thread could start.
 */
export function connectFtThread(opts: ThreadConnectOptions): Promise<ThreadPeer> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL(import.meta.url), { workerData: { tag: THREAD_TAG, opts: { ...opts, acceptPeer: undefined } } });
    } catch (e) {
      reject(new ProtocolError('CONNECT', `cannot start the channel thread: ${(e as Error).message}`, { cause: e }));
      return;
    }
    let settled = false;
    const fail = (e: ProtocolError): void => { if (!settled) { settled = true; void worker.terminate(); reject(e); } };
    const first = (e: FromThread): void => {
      if (settled) return;
      if (e.ev === 'open') {
        settled = true;
        worker.off('message', first);
        resolve(new ThreadPeer(worker, e, e.aux));
      } else if (e.ev === 'refused') fail(new ProtocolError(e.code, e.message));
    };
    worker.on('message', first);
    worker.once('error', (err) => fail(new ProtocolError('CONNECT', `the channel thread failed: ${err?.message ?? String(err)}`, { cause: err })));
    worker.once('exit', (code) => fail(new ProtocolError('CONNECT', `the channel thread exited (status ${code}) before connecting`)));
  });
}

/** The channel thread: connect, then read (acking sync marks at once) and relay in order. */
async function threadMain(opts: ThreadConnectOptions): Promise<void> {
  const port = parentPort!;
  const post = (e: FromThread, transfer?: ArrayBuffer[]): void => port.postMessage(e, transfer);
  let peer;
  try {
    peer = await connectFt(opts);
  } catch (e) {
    const pe = e instanceof ProtocolError ? e : new ProtocolError('CONNECT', (e as Error)?.message ?? String(e));
    post({ ev: 'refused', code: pe.code, message: pe.message });
    return;
  }
  const aux = peer.auxKeys(opts.auxLabel);
  post({ ev: 'open', hostId: peer.peerHostId, generation: peer.peerGeneration, vm: peer.peerVm, role: peer.peerRole, remote: peer.remote, aux: { label: opts.auxLabel, ...aux } });
  let acks = true, lastAck = -1, fromMain = performance.now();
  const hangMs = opts.hangMs ?? Infinity;
  peer.onMessage((m) => {
    // bytes: a copy of their own, moved (not cloned with the whole frame buffer they view)
    if ('bytes' in m && m.bytes instanceof Uint8Array) {
      const own = m.bytes.slice();
      post({ ev: 'msg', m: { ...m, bytes: own } as FtMessage }, [own.buffer as ArrayBuffer]);
      return;
    }
    if (m.t === 'sync' && acks && m.icount > lastAck && performance.now() - fromMain <= hangMs) {
      // every entry <= X was read before this mark (one ordered stream) and handed on above: held
      lastAck = m.icount;
      peer.send({ t: 'ack', icount: m.icount });
      post({ ev: 'msg', m, acked: true });
      return;
    }
    post({ ev: 'msg', m });
  });
  port.on('message', (m: ToThread) => {
    fromMain = performance.now();
    switch (m.op) {
      case 'send': peer.send(m.msg); break;
      case 'stop-acks': acks = false; break;
      case 'close': peer.close(m.bye); break;
      case 'abort': peer.abort(m.reason); break;
    }
  });
  const why = await peer.closed;
  // after every message read (delivery is synchronous as frames are parsed)
  post({ ev: 'closed', code: why.code, message: why.message });
  port.close(); // the thread ends once the connection has closed (SecurePeer closes it within 2 s)
}

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === THREAD_TAG) {
  void threadMain((workerData as { opts: ThreadConnectOptions }).opts);
}
