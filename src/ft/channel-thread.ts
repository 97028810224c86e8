// The secondary's end of the P<->S channel on a worker thread (FT.md "Channel"): the thread owns the
// connection (connect, TLS, handshake, per-message HMAC and sequence numbers: channel.ts's SecurePeer,
// unchanged) and acks every sync mark the moment it has read it — it then HOLDS every entry up to X
// (FT.md: an ack X means S holds them; replay need not reach them), handed on to the main thread in
// order. The main thread replays in slices that take 3-60 ms in cold code on a loaded host; reading
// the channel there delayed every ack, and so every release on the primary, by that much (README
// "release latency"). The primary's end works the same way (listenFtThread): a thread owns the listener
// and every accepted connection, and writes each ack it reads into shared memory that the primary's run
// loop reads at its time checks (ThreadPeer.ackedNow), so a held output is released without waiting for
// the busy main thread's event loop. Imports channel.ts and node:*; primary.ts and secondary.ts use it.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { connectFt, listenFt, MessageHandlers, type ByeInfo, type ChannelEnd, type FtConnectOptions, type FtListenOptions, type FtPeer } from './channel.js';
import { ProtocolError, type FtMessage, type ProtocolErrorCode } from './protocol.js';

/** What the main thread tells the channel thread (`peer`: which accepted connection, on a listening thread). */
type ToThread =
  | { op: 'send'; msg: FtMessage; peer?: number }
  | { op: 'close'; bye?: ByeInfo; peer?: number }
  | { op: 'abort'; reason: string; peer?: number }
  | { op: 'stop-acks' }
  | { op: 'close-server' }
  /** Several of the above, in order, in one message (ThreadPeer.post: one postMessage per sync mark, not per chunk). */
  | { op: 'batch'; ms: ToThread[] };

type AuxKeys = { label: string; send: Uint8Array; recv: Uint8Array; tag: Uint8Array };
type Open = { hostId: string; generation: number; vm: string; role: string; remote: string; aux: AuxKeys };

/** What the channel thread tells the main thread, in order. */
type FromThread =
  | ({ ev: 'open' } & Open)
  | { ev: 'refused'; code: ProtocolErrorCode; message: string }
  /** A message read from the peer; `acked`: a sync mark the thread acked when it read it. */
  | { ev: 'msg'; m: FtMessage; acked?: boolean; peer?: number }
  | { ev: 'closed'; code: ProtocolErrorCode; message: string; peer?: number }
  // a listening thread (listenFtThread)
  | { ev: 'listening'; host: string; port: number }
  | { ev: 'listen-failed'; code: ProtocolErrorCode; message: string }
  | { ev: 'reject'; code: ProtocolErrorCode; message: string; remote: string }
  /** An authenticated connection; `shared`: its SharedState buffer. */
  | ({ ev: 'peer'; peer: number; shared: SharedArrayBuffer } & Open)
  | { ev: 'server-closed' };

const THREAD_TAG = 'x86ft-ft-channel';

/** The thread's script: this module as built (run from its TypeScript source, as the tests' in-process roles do, the
 *  thread runs the build's copy in dist/: a worker cannot load .ts). */
function threadScript(): URL {
  const u = new URL(import.meta.url);
  return u.pathname.endsWith('/src/ft/channel-thread.ts') ? new URL(u.href.replace(/\/src\/ft\/channel-thread\.ts$/, '/dist/src/ft/channel-thread.js')) : u;
}
const SERVER_TAG = 'x86ft-ft-channel-server';

/**
 * What a listening channel thread shares with the main thread per connection (Int32 slots, Atomics):
 * the highest ack read (a seqlock over its two 32-bit halves, so the run loop reads it without a lock
 * and never a torn value), and the bytes the thread took from the main thread and still has queued.
 */
const SEQ = 0, ACK_LO = 1, ACK_HI = 2, TAKEN = 3, QUEUED = 4, SLOTS = 5;
const TWO32 = 2 ** 32;

/** Writer side (the channel thread): one writer per connection. */
function storeAck(sh: Int32Array, icount: number): void {
  Atomics.add(sh, SEQ, 1); // odd: being written
  Atomics.store(sh, ACK_LO, icount % TWO32 | 0);
  Atomics.store(sh, ACK_HI, Math.floor(icount / TWO32));
  Atomics.add(sh, SEQ, 1);
}

/** Reader side: the highest ack, or -1 when none was read yet or a write is in progress (the caller reads again later). */
function loadAck(sh: Int32Array): number {
  const s = Atomics.load(sh, SEQ);
  if (s & 1) return -1;
  const v = Atomics.load(sh, ACK_HI) * TWO32 + (Atomics.load(sh, ACK_LO) >>> 0);
  return Atomics.load(sh, SEQ) === s ? v : -1;
}

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
  /** Bytes of log, RAM and snapshot messages posted to the thread (mod 2^32, with the shared TAKEN). */
  private posted = 0;

  /**
   * @internal made by connectFtThread once the thread reported 'open', or by a ThreadServer for each accepted
   * connection (`id`, `shared`); the owner routes the thread's events to fromThread()/died().
   */
  constructor(private readonly worker: Worker, open: Open, private readonly id?: number, private readonly shared?: Int32Array,
    private readonly onGone?: () => void) {
    this.peerHostId = open.hostId;
    this.peerGeneration = open.generation;
    this.peerVm = open.vm;
    this.peerRole = open.role;
    this.remote = open.remote;
    this.aux = open.aux;
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }
  private readonly aux: AuxKeys;

  /** @internal an event of this connection, in the order the thread read it */
  fromThread(e: FromThread): void {
    if (e.ev === 'msg') {
      if (e.acked && e.m.t === 'sync' && e.m.icount > this.acked) this.acked = e.m.icount;
      this.deliver(e.m);
    } else if (e.ev === 'closed') {
      this.finish(new ProtocolError(e.code, e.message));
      this.gone = true;
      this.onGone?.();
    }
  }

  /** @internal the thread died (an exception, out of memory) */
  died(why: string): void {
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

  /**
   * To the thread, in order. Bulk bytes (log, RAM, snapshot chunks) and release marks wait in `queue` until
   * the next other message (a sync mark follows the log it covers) or the event loop's next turn: a
   * postMessage costs the busy main thread 30-50 µs, and every message the thread sends costs it a frame
   * and a socket write and the peer's thread a wake-up. Release marks are cumulative (per stream, the
   * highest completed seq), so a newer one waiting replaces an older one still waiting: at most one per
   * post. They only let the secondary drop its held copies (FT.md: P sends one only after completion,
   * never sooner; a later one means at most more re-issued after a failover, which FT.md allows).
   */
  private post(m: ToThread, transfer?: ArrayBuffer[]): void {
    if (this.gone) return;
    const release = m.op === 'send' && m.msg.t === 'release';
    if (release && this.queuedRelease >= 0) this.queue.splice(this.queuedRelease, 1);
    this.queue.push(this.id === undefined ? m : ({ ...m, peer: this.id } as ToThread));
    this.queuedRelease = release ? this.queue.length - 1 : this.queuedRelease;
    if (transfer) for (const t of transfer) this.transfer.push(t);
    const deferred = release || (m.op === 'send' && (m.msg.t === 'log' || m.msg.t === 'ram' || m.msg.t === 'snapshot-data'));
    if (!deferred) this.flush();
    else if (!this.flushSoon) { this.flushSoon = true; setImmediate(this.flushFn); }
  }
  /** Index in `queue` of the release marks waiting there (-1: none). */
  private queuedRelease = -1;
  private queue: ToThread[] = [];
  private transfer: ArrayBuffer[] = [];
  private flushSoon = false;
  private readonly flushFn = (): void => { this.flushSoon = false; this.flush(); };

  private flush(): void {
    const ms = this.queue, transfer = this.transfer;
    if (!ms.length) return;
    this.queue = []; this.transfer = []; this.queuedRelease = -1;
    if (this.gone) return;
    this.worker.postMessage(ms.length === 1 ? ms[0] : { op: 'batch', ms } satisfies ToThread, transfer);
  }

  auxKeys(label: string): { send: Buffer; recv: Buffer; tag: Buffer } {
    if (label !== this.aux.label) throw new ProtocolError('CONFIG', `the channel thread derived the auxiliary keys of '${this.aux.label}', not '${label}'`);
    return { send: Buffer.from(this.aux.send), recv: Buffer.from(this.aux.recv), tag: Buffer.from(this.aux.tag) };
  }

  /**
   * The highest ack the thread has read from the peer (-1: none yet, or being written right now): shared
   * memory, read without the event loop (a listening thread's connections only; -1 otherwise). The ack
   * messages are delivered too, later, in order.
   */
  ackedNow(): number { return this.shared ? loadAck(this.shared) : -1; }

  /** Bytes posted to the thread that it has not yet handed to the kernel (a listening thread's connections; 0 otherwise). */
  get queuedBytes(): number {
    const sh = this.shared;
    if (!sh || this.ended) return 0;
    return (((this.posted | 0) - Atomics.load(sh, TAKEN)) | 0) + Atomics.load(sh, QUEUED);
  }
  get isClosed(): boolean { return this.ended !== undefined; }
  /** This end never pauses reading: the thread reads (and, on a secondary, acks) whatever the main thread does. */
  get isPaused(): boolean { return false; }

  /** Posts the message to the thread (byte payloads copied and moved, not cloned with the buffer they view).
   *  False above the high-water mark of queued bytes (listening side; `drained()`), as SecurePeer.send. */
  send(msg: FtMessage): boolean {
    if (this.ended) return false;
    if ('bytes' in msg && msg.bytes instanceof Uint8Array) {
      const own = new Uint8Array(msg.bytes); // a copy with a buffer of its own (a Buffer's slice() is a view: moving its buffer would take the caller's)
      this.posted = (this.posted + own.length) % TWO32;
      this.post({ op: 'send', msg: { ...msg, bytes: own } as FtMessage }, [own.buffer as ArrayBuffer]);
    } else this.post({ op: 'send', msg });
    return this.queuedBytes <= HIGH_WATER;
  }

  /** Resolves once the queued bytes are at or below the high-water mark, or the channel ended. */
  async drained(): Promise<void> {
    while (!this.ended && this.queuedBytes > HIGH_WATER) await new Promise((r) => setTimeout(r, 1));
  }

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
  private letGo(): void { if (this.id === undefined) setTimeout(() => this.worker.unref(), 2500).unref(); }
}

/** send() returns false while more than this many bytes wait in the thread (SecurePeer's default). */
const HIGH_WATER = 1 << 20;

/**
 * Connect to the primary from a channel thread (as connectFt does on this one). Rejects with the
 * ProtocolError of the connection or handshake, or CONNECT when no thread could start.
 */
export function connectFtThread(opts: ThreadConnectOptions): Promise<ThreadPeer> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(threadScript(), { workerData: { tag: THREAD_TAG, opts: { ...opts, acceptPeer: undefined } } });
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
        // it ends once its connection has closed (a bye or the last writes still go out)
        const peer = new ThreadPeer(worker, e, undefined, undefined, () => worker.unref());
        worker.on('message', (m: FromThread) => peer.fromThread(m));
        worker.on('error', (err) => peer.died(`the channel thread failed: ${err?.message ?? String(err)}`));
        worker.on('exit', (code) => peer.died(`the channel thread exited (status ${code})`));
        resolve(peer);
      } else if (e.ev === 'refused') fail(new ProtocolError(e.code, e.message));
    };
    worker.on('message', first);
    worker.once('error', (err) => fail(new ProtocolError('CONNECT', `the channel thread failed: ${err?.message ?? String(err)}`, { cause: err })));
    worker.once('exit', (code) => fail(new ProtocolError('CONNECT', `the channel thread exited (status ${code}) before connecting`)));
  });
}

/** Options of listenFtThread: listenFt's, less the callbacks (a thread cannot run them), plus the rules they applied. */
export interface ThreadListenOptions extends Omit<FtListenOptions, 'acceptPeer' | 'onReject'> {
  auxLabel: string;
  /** Refuse a peer whose hello names this host id (`reason`: the refusal's text). */
  refuseHostId?: { hostId: string; reason: string };
  /** Refuse a peer whose hello names another generation than `generation` (this side's). */
  requireGeneration?: boolean;
  /** Connections that failed their handshake (the server keeps serving). */
  onReject?: (err: ProtocolError, remote: string) => void;
  /** The thread died (an exception, out of memory): every connection ended with RESET (`threadFailure`) and accept() rejects. */
  onThreadFailure?: (why: string) => void;
}

/**
 * A listening channel on its own thread (listenFtThread): `accept()` hands out ThreadPeers whose acks
 * the thread also writes into shared memory (ThreadPeer.ackedNow). Established connections stay open
 * after close(); the thread ends when the listener and all of them have.
 */
export class ThreadServer {
  /** Set when the thread died; every connection ended with RESET and accept() rejects. */
  threadFailure: string | undefined;
  private readonly ready: ThreadPeer[] = [];
  private readonly waiting: { resolve: (p: ThreadPeer) => void; reject: (e: ProtocolError) => void }[] = [];
  private readonly peers = new Map<number, ThreadPeer>();
  private closing = false;
  private serverClosed = false;
  private resolveClosed!: () => void;
  private readonly closedP = new Promise<void>((r) => (this.resolveClosed = r));

  /** @internal made by listenFtThread once the thread listens */
  constructor(private readonly worker: Worker, readonly host: string, readonly port: number, private readonly o: ThreadListenOptions) {
    worker.on('message', (e: FromThread) => this.fromThread(e));
    worker.on('error', (err) => this.died(`the channel thread failed: ${err?.message ?? String(err)}`));
    worker.on('exit', (code) => this.died(`the channel thread exited (status ${code})`));
  }

  private fromThread(e: FromThread): void {
    switch (e.ev) {
      case 'peer': {
        const peer = new ThreadPeer(this.worker, e, e.peer, new Int32Array(e.shared), () => { this.peers.delete(e.peer); this.maybeUnref(); });
        this.peers.set(e.peer, peer);
        const w = this.waiting.shift();
        if (w) w.resolve(peer); else this.ready.push(peer);
        break;
      }
      case 'msg': case 'closed': this.peers.get(e.peer!)?.fromThread(e); break;
      case 'reject': try { this.o.onReject?.(new ProtocolError(e.code, e.message), e.remote); } catch { /* an observer must not stop the server */ } break;
      case 'server-closed': this.serverClosed = true; this.resolveClosed(); this.maybeUnref(); break;
      default: break;
    }
  }

  private died(why: string): void {
    if (this.threadFailure !== undefined || (this.serverClosed && this.peers.size === 0)) return;
    this.threadFailure = why;
    this.serverClosed = true;
    this.resolveClosed();
    for (const w of this.waiting.splice(0)) w.reject(new ProtocolError('RESET', why));
    for (const p of this.ready.splice(0)) p.died(why);
    for (const p of this.peers.values()) p.died(why);
    this.peers.clear();
    try { this.o.onThreadFailure?.(why); } catch { /* reported by the owner */ }
  }

  /** The thread ends by itself once the listener and every connection closed: it must not keep the process alive meanwhile. */
  private maybeUnref(): void { if (this.serverClosed && this.peers.size === 0) this.worker.unref(); }

  /** Next authenticated peer (queued if it arrived earlier). Rejects with LOCAL once the server is closed. */
  accept(): Promise<ThreadPeer> {
    const p = this.ready.shift();
    if (p) return Promise.resolve(p);
    if (this.closing || this.threadFailure) return Promise.reject(new ProtocolError(this.threadFailure ? 'RESET' : 'LOCAL', this.threadFailure ?? 'channel server closed'));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Stop listening; handshakes in progress are dropped; established peers stay open. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      for (const w of this.waiting.splice(0)) w.reject(new ProtocolError('LOCAL', 'channel server closed'));
      // accepted by the thread, never taken: nobody will use them
      for (const p of this.ready.splice(0)) p.abort('channel server closed');
      if (!this.threadFailure) this.worker.postMessage({ op: 'close-server' } satisfies ToThread);
    }
    await this.closedP;
  }
}

/**
 * Listen for secondaries on a channel thread (as listenFt does on this one). Rejects with the
 * ProtocolError of the listen (CONNECT), or CONNECT when no thread could start.
 */
export function listenFtThread(opts: ThreadListenOptions): Promise<ThreadServer> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    const { onReject: _r, onThreadFailure: _f, ...data } = opts;
    try {
      worker = new Worker(threadScript(), { workerData: { tag: SERVER_TAG, opts: data } });
    } catch (e) {
      reject(new ProtocolError('CONNECT', `cannot start the channel thread: ${(e as Error).message}`, { cause: e }));
      return;
    }
    let settled = false;
    const fail = (e: ProtocolError): void => { if (!settled) { settled = true; void worker.terminate(); reject(e); } };
    const first = (e: FromThread): void => {
      if (settled) return;
      if (e.ev === 'listening') {
        settled = true;
        worker.off('message', first);
        resolve(new ThreadServer(worker, e.host, e.port, opts));
      } else if (e.ev === 'listen-failed') fail(new ProtocolError(e.code, e.message));
    };
    worker.on('message', first);
    worker.once('error', (err) => fail(new ProtocolError('CONNECT', `the channel thread failed: ${err?.message ?? String(err)}`, { cause: err })));
    worker.once('exit', (code) => fail(new ProtocolError('CONNECT', `the channel thread exited (status ${code}) before listening`)));
  });
}

/** A listening channel thread: accept, then per connection read (acks into shared memory first) and relay in order. */
async function serverMain(opts: ThreadListenOptions): Promise<void> {
  const port = parentPort!;
  raiseThreadPriority();
  const post = (e: FromThread, transfer?: ArrayBuffer[]): void => port.postMessage(e, transfer);
  const { refuseHostId, requireGeneration } = opts;
  let server;
  try {
    server = await listenFt({
      ...opts,
      acceptPeer: (h) => (refuseHostId && h.hostId === refuseHostId.hostId ? refuseHostId.reason
        : requireGeneration && h.generation !== opts.generation ? `the peer is at generation ${h.generation}, this listener at generation ${opts.generation}` : undefined),
      onReject: (err, remote) => post({ ev: 'reject', code: err.code, message: err.message, remote }),
    });
  } catch (e) {
    const pe = e instanceof ProtocolError ? e : new ProtocolError('CONNECT', (e as Error)?.message ?? String(e));
    post({ ev: 'listen-failed', code: pe.code, message: pe.message });
    return;
  }
  post({ ev: 'listening', host: server.host, port: server.port });
  const peers = new Map<number, { peer: FtPeer; sh: Int32Array; timer: ReturnType<typeof setTimeout> | undefined }>();
  // the bytes still queued, as the transport takes them (the main thread's send() and drained() read them)
  const track = (c: { peer: FtPeer; sh: Int32Array; timer: ReturnType<typeof setTimeout> | undefined }): void => {
    Atomics.store(c.sh, QUEUED, c.peer.isClosed ? 0 : c.peer.queuedBytes);
    if (c.timer === undefined && c.peer.queuedBytes > 0 && !c.peer.isClosed) c.timer = setTimeout(() => { c.timer = undefined; track(c); }, 1);
  };
  let open = true, next = 0;
  const maybeEnd = (): void => { if (!open && peers.size === 0) port.close(); };
  const onOp = (m: ToThread): void => {
    if (m.op === 'batch') { for (const x of m.ms) onOp(x); return; }
    if (m.op === 'close-server') {
      if (!open) return;
      open = false;
      void server.close().then(() => { post({ ev: 'server-closed' }); maybeEnd(); });
      return;
    }
    const c = peers.get((m as { peer?: number }).peer ?? -1);
    if (!c) return; // ended meanwhile
    switch (m.op) {
      case 'send': {
        const n = 'bytes' in m.msg && m.msg.bytes instanceof Uint8Array ? m.msg.bytes.length : 0;
        c.peer.send(m.msg);
        if (n) { Atomics.add(c.sh, TAKEN, n); track(c); }
        break;
      }
      case 'close': c.peer.close(m.bye); break;
      case 'abort': c.peer.abort(m.reason); break;
      default: break;
    }
  };
  port.on('message', onOp);
  for (;;) {
    let peer: FtPeer;
    try { peer = await server.accept(); } catch { break; } // closed
    const id = next++;
    const shared = new SharedArrayBuffer(SLOTS * 4);
    const sh = new Int32Array(shared);
    storeAck(sh, -1); // none yet (a zeroed buffer would read as an ack of 0)
    peers.set(id, { peer, sh, timer: undefined });
    post({ ev: 'peer', peer: id, shared, hostId: peer.peerHostId, generation: peer.peerGeneration, vm: peer.peerVm, role: peer.peerRole, remote: peer.remote,
      aux: { label: opts.auxLabel, ...peer.auxKeys(opts.auxLabel) } });
    let acked = -1;
    peer.onMessage((m) => {
      // the ack first into shared memory (the run loop releases by it at its next time check), then in order to the main thread
      if (m.t === 'ack' && m.icount > acked) { acked = m.icount; storeAck(sh, m.icount); }
      post({ ev: 'msg', m, peer: id });
    });
    void peer.closed.then((why) => {
      Atomics.store(sh, QUEUED, 0);
      peers.delete(id);
      post({ ev: 'closed', code: why.code, message: why.message, peer: id });
      maybeEnd();
    });
  }
}
/** Nice value a channel thread asks for itself (Linux: per thread), if the process may (CAP_SYS_NICE or RLIMIT_NICE). */
const THREAD_NICE = -10;

/**
 * Best effort: this channel thread at a higher priority than the process's busy main thread (Linux sets
 * the nice value of one thread by its id). It sleeps but for a few microseconds per message, and every
 * release waits for it to be scheduled; on a loaded host a woken thread of default priority waited
 * behind the always-busy main threads (README "release latency"). Without the privilege it stays as is.
 */
function raiseThreadPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/')[2]);
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, THREAD_NICE);
  } catch { /* not Linux, or not permitted: default priority */ }
}

/** The channel thread: connect, then read (acking sync marks at once) and relay in order. */
async function threadMain(opts: ThreadConnectOptions): Promise<void> {
  const port = parentPort!;
  raiseThreadPriority();
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
      const own = new Uint8Array(m.bytes);
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
  const onOp = (m: ToThread): void => {
    switch (m.op) {
      case 'batch': for (const x of m.ms) onOp(x); break;
      case 'send': peer.send(m.msg); break;
      case 'stop-acks': acks = false; break;
      case 'close': peer.close(m.bye); break;
      case 'abort': peer.abort(m.reason); break;
      default: break;
    }
  };
  port.on('message', (m: ToThread) => { fromMain = performance.now(); onOp(m); });
  const why = await peer.closed;
  // after every message read (delivery is synchronous as frames are parsed)
  post({ ev: 'closed', code: why.code, message: why.message });
  port.close(); // the thread ends once the connection has closed (SecurePeer closes it within 2 s)
}

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === THREAD_TAG) {
  void threadMain((workerData as { opts: ThreadConnectOptions }).opts);
} else if (!isMainThread && (workerData as { tag?: string } | null)?.tag === SERVER_TAG) {
  void serverMain((workerData as { opts: ThreadListenOptions }).opts);
}
