// The authenticated channel over one TCP (or mutual TLS 1.3) connection: handshake, then sealed
// messages in order with back-pressure, typed errors, a `closed` reason. listenFt/connectFt are the
// P<->S channel (P listens, S connects); listenSecure/connectSecure serve other kind tables (the
// console service). Uses src/replay's transports; must not import src/machine or the FT roles.

import { createHmac } from 'node:crypto';
import type tls from 'node:tls';
import { ChannelError, type Connection } from '../replay/channel.js';
import { connectTcp, listenTcp, type Listener } from '../replay/channel-tcp.js';
import { connectTls, listenTls } from '../replay/channel-tls.js';
import {
  ByteQueue,
  checkPreamble,
  decodeHandshakeFrame,
  decodeMessage,
  DEFAULT_MAX_FRAME,
  deriveSession,
  encodeHandshakeFrame,
  encodeMessage,
  encodePreamble,
  frameMac,
  freshNonce,
  FT_KINDS,
  FT_PROTOCOL_VERSION,
  macEqual,
  MAX_HANDSHAKE_FRAME,
  MIN_SECRET_BYTES,
  PREAMBLE_BYTES,
  ProtocolError,
  readSealedHeader,
  sealFrame,
  SEALED_HEADER_BYTES,
  type FtMessage,
  type HandshakeFrame,
  type Hello,
  type KindTable,
  type Message,
  type ProtocolErrorCode,
  type SealedHeader,
} from './protocol.js';

/** Mutual TLS 1.3: this side's key and certificate, and the CA that signed the peer's. */
export interface FtTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer | (string | Buffer)[];
  /** Client only: a name to verify in the server's certificate as well (default: none; the chain to `ca` and
   *  the certificate's CN = the peer's host id are checked in every case). */
  servername?: string;
}

/** Who this side is, and what it needs to join. */
export interface ChannelIdentity {
  /** Cluster secret (at least 16 bytes; the control plane creates 32 random bytes). */
  secret: Uint8Array;
  /** FT VM name: a peer for another VM is refused (WRONG_PEER). */
  vm: string;
  /** This side's host id. */
  hostId: string;
  /** This side's generation (0 = unknown, e.g. a console client). */
  generation: number;
}

export interface ChannelOptions extends ChannelIdentity {
  /** Handshake deadline in ms (default 5000); a slower peer is dropped with HANDSHAKE_TIMEOUT. */
  handshakeTimeoutMs?: number;
  /** Largest message frame accepted, in bytes (default 16 MiB + 64); log chunks are split to fit. */
  maxFrameBytes?: number;
  /** send() returns false while more than this many bytes wait for the transport (default 1 MiB). */
  highWaterBytes?: number;
  /** Extra admission check of the peer's hello: return a reason to refuse it (WRONG_PEER). */
  acceptPeer?: (peer: Hello) => string | undefined;
  tls?: FtTlsOptions;
}

export interface SecureListenOptions extends ChannelOptions {
  /** Listen address (default 127.0.0.1) and port (default 0 = any free port). */
  host?: string;
  port?: number;
  /** Handshakes in progress at most (default 64); more connections are closed at once (BUSY). */
  maxHandshakes?: number;
  /** Called with every connection that failed its handshake (the server keeps serving). */
  onReject?: (err: ProtocolError, remote: string) => void;
}

export interface SecureConnectOptions extends ChannelOptions {
  host?: string;
  port: number;
  /** TCP (and TLS) connect deadline in ms (default 10 000). */
  connectTimeoutMs?: number;
}

/** Small sealed frames queued together are written to the transport in one write up to this many bytes (SecurePeer.pump). */
const COALESCE_BYTES = 64 * 1024;

/** Roles of the two ends of one kind of channel. */
export interface ChannelRoles {
  /** This side's role, sent in the hello. */
  role: string;
  /** The role the peer must have. */
  peerRole: string;
}

/** An orderly end: the 'bye' message sent before closing. */
export interface ByeInfo {
  reason: string;
  status?: number;
}

interface Resolved extends ChannelOptions, ChannelRoles {
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  highWaterBytes: number;
}

function resolve(o: ChannelOptions, roles: ChannelRoles): Resolved {
  if (!(o.secret instanceof Uint8Array) || o.secret.length < MIN_SECRET_BYTES) {
    throw new ProtocolError('CONFIG', `a cluster secret of at least ${MIN_SECRET_BYTES} bytes is required (got ${o.secret instanceof Uint8Array ? o.secret.length : 'none'})`);
  }
  const r: Resolved = {
    ...o,
    ...roles,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 5000,
    maxFrameBytes: o.maxFrameBytes ?? DEFAULT_MAX_FRAME,
    highWaterBytes: o.highWaterBytes ?? 1 << 20,
  };
  if (!(r.handshakeTimeoutMs > 0)) throw new ProtocolError('CONFIG', 'handshakeTimeoutMs must be > 0');
  if (!(r.maxFrameBytes >= 1024)) throw new ProtocolError('CONFIG', 'maxFrameBytes must be >= 1024');
  return r;
}

function fromChannel(e: unknown, context: string): ProtocolError {
  if (e instanceof ProtocolError) return e;
  const ce = e instanceof ChannelError ? e : undefined;
  const code: ProtocolErrorCode = ce?.code === 'CLOSED' ? 'CLOSED' : 'RESET';
  return new ProtocolError(code, `${context}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

// ─── The peer ───────────────────────────────────────────────────────────────

/** One end of an authenticated channel as its user sees it: SecurePeer on this thread, or a channel
 *  thread's handle (channel-thread.ts). Members as documented on SecurePeer. */
export interface ChannelEnd<M extends Message> {
  readonly peerHostId: string;
  readonly peerGeneration: number;
  readonly peerVm: string;
  readonly peerRole: string;
  readonly remote: string;
  readonly closed: Promise<ProtocolError>;
  readonly queuedBytes: number;
  readonly isClosed: boolean;
  readonly isPaused: boolean;
  auxKeys(label: string): { send: Buffer; recv: Buffer; tag: Buffer };
  send(msg: M): boolean;
  drained(): Promise<void>;
  onMessage(handler: (m: M) => void): () => void;
  close(bye?: ByeInfo): void;
  abort(reason?: string): void;
}

/**
 * The handlers of a channel end's incoming messages, called in order; messages that arrive before the
 * first handler wait for it. A handler that throws ends the channel: `deliver` calls `fail` and stops.
 */
export class MessageHandlers<M> {
  private handlers: ((m: M) => void)[] = [];
  private backlog: M[] = [];
  constructor(private readonly fail: (e: unknown) => void) {}

  /** Add a handler (messages that arrived before the first go to it at once); returns a remover. */
  add(handler: (m: M) => void): () => void {
    this.handlers.push(handler);
    if (this.handlers.length === 1 && this.backlog.length) for (const m of this.backlog.splice(0)) this.deliver(m);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  deliver(m: M): void {
    if (this.handlers.length === 0) {
      this.backlog.push(m);
      return;
    }
    for (const h of this.handlers.slice()) {
      try {
        h(m);
      } catch (e) {
        this.fail(e);
        return;
      }
    }
  }
}

/**
 * One authenticated end of a channel. Messages of kinds `M` go both ways in order; every frame
 * carries its sequence number and an HMAC under the session key of its direction. Any bad frame
 * ends the connection (never the process) and `closed` resolves with the ProtocolError saying why.
 */
export class SecurePeer<M extends Message> implements ChannelEnd<M> {
  /** The peer's host id, generation, VM and role, as it proved them in the handshake. */
  readonly peerHostId: string;
  readonly peerGeneration: number;
  readonly peerVm: string;
  readonly peerRole: string;
  /** Human-readable peer address. */
  readonly remote: string;
  /** Resolves (never rejects) once the channel has ended, with the reason (code BYE for an orderly end). */
  readonly closed: Promise<ProtocolError>;

  private ended: ProtocolError | undefined;
  private resolveClosed!: (e: ProtocolError) => void;
  private sendSeq = 0;
  private recvSeq = 0;
  private queued = 0;
  private outq: Uint8Array[] = [];
  private writing = false;
  private closing = false; // close(): flush the queue, then end the connection
  private dead = false; // nothing more may be written
  private drainWaiters: (() => void)[] = [];
  private readonly handlers = new MessageHandlers<M>((e) => this.end(new ProtocolError('LOCAL', `message handler failed: ${(e as Error)?.message ?? String(e)}`, { cause: e })));
  private header: SealedHeader | undefined;
  private bye: ByeInfo | undefined;
  private paused: Promise<void> | undefined;
  private unpause: (() => void) | undefined;

  /** @internal built by the handshake */
  constructor(
    private readonly conn: Connection,
    private readonly it: AsyncIterator<Uint8Array>,
    private readonly q: ByteQueue,
    private readonly sendKey: Uint8Array,
    private readonly recvKey: Uint8Array,
    peer: Hello,
    private readonly kinds: KindTable<M>,
    private readonly opts: Resolved,
  ) {
    this.peerHostId = peer.hostId;
    this.peerGeneration = peer.generation;
    this.peerVm = peer.vm;
    this.peerRole = peer.role;
    this.remote = conn.remote;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    void this.readLoop();
  }

  /**
   * Keys of an auxiliary heartbeat path bound to this session (heartbeat-thread.ts's worker beats):
   * per direction HMAC-SHA-256(direction key, label), and 8 bytes naming the session, the same on
   * both sides (from the two direction keys).
   */
  auxKeys(label: string): { send: Buffer; recv: Buffer; tag: Buffer } {
    const x = Buffer.alloc(this.sendKey.length);
    for (let i = 0; i < x.length; i++) x[i] = this.sendKey[i]! ^ this.recvKey[i]!;
    return {
      send: createHmac('sha256', this.sendKey).update(label).digest(),
      recv: createHmac('sha256', this.recvKey).update(label).digest(),
      tag: createHmac('sha256', x).update(`${label} tag`).digest().subarray(0, 8),
    };
  }

  /** Bytes handed to the transport that it has not yet taken (back-pressure: wait with drained()). */
  get queuedBytes(): number {
    return this.queued;
  }

  /** True once the channel has ended. */
  get isClosed(): boolean {
    return this.ended !== undefined;
  }

  /**
   * Send one message. Returns false when more than `highWaterBytes` are queued (the caller should
   * await drained()) or when the channel has ended (the message is dropped; see `closed`). A log
   * chunk larger than a frame is split into several 'log' messages. Throws ProtocolError
   * UNKNOWN_KIND for a kind this channel does not carry (a caller bug).
   */
  send(msg: M): boolean {
    if (!Object.prototype.hasOwnProperty.call(this.kinds, msg.t)) throw new ProtocolError('UNKNOWN_KIND', `cannot send a '${msg.t}' message on this channel`);
    if (this.ended) return false;
    const bytes = (msg as { bytes?: unknown }).bytes;
    const maxChunk = this.opts.maxFrameBytes - 64;
    if (msg.t === 'log' && bytes instanceof Uint8Array && bytes.length > maxChunk) {
      for (let p = 0; p < bytes.length; p += maxChunk) this.sendFrame([{ t: 'log', bytes: bytes.subarray(p, p + maxChunk) } as unknown as M]);
    } else this.sendFrame([msg]);
    return !this.ended && this.queued <= this.opts.highWaterBytes;
  }

  private sendFrame([msg]: [M]): void {
    for (const chunk of sealFrame(this.sendKey, this.sendSeq++, encodeMessage(msg))) {
      this.outq.push(chunk);
      this.queued += chunk.length;
    }
    // the first write waits for the end of this synchronous run: frames sent together (a log chunk and the sync
    // mark after it) leave in one write, one segment and one wake-up of the peer's reader, not one each
    if (!this.writing) { this.writing = true; queueMicrotask(this.pumpFn); }
  }
  private readonly pumpFn = (): void => void this.pump();

  /** One write in flight at a time: the transport's back-pressure holds the rest here, counted; small frames
   *  queued together go in one write (COALESCE_BYTES at most). */
  private async pump(): Promise<void> {
    this.writing = true;
    while (this.outq.length && !this.dead) {
      let chunk = this.outq.shift()!;
      if (this.outq.length && chunk.length + this.outq[0]!.length <= COALESCE_BYTES) {
        const parts = [chunk];
        let n = chunk.length;
        while (this.outq.length && n + this.outq[0]!.length <= COALESCE_BYTES) { const c = this.outq.shift()!; parts.push(c); n += c.length; }
        chunk = Buffer.concat(parts, n);
      }
      try {
        await this.conn.sink.write(chunk);
      } catch (e) {
        this.end(fromChannel(e, `send to ${this.remote}`));
      }
      this.queued -= chunk.length;
    }
    this.writing = false;
    if (this.queued === 0 || this.dead) for (const w of this.drainWaiters.splice(0)) w();
    if (this.closing && !this.dead) {
      this.dead = true;
      this.conn.sink.end().then(
        () => this.conn.close(),
        () => this.conn.close(),
      );
    }
  }

  /** Resolves when nothing is queued (or the channel has ended). */
  drained(): Promise<void> {
    if (this.queued === 0 || this.dead) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  /**
   * Add a handler for incoming messages (called in order, synchronously as frames are parsed).
   * Messages that arrived before the first handler are delivered to it at once. Returns a remover.
   */
  onMessage(handler: (m: M) => void): () => void {
    return this.handlers.add(handler);
  }

  /** End the channel: sends 'bye' when given (kinds that have one), flushes what is queued, then closes. `closed` gives LOCAL. */
  close(bye?: ByeInfo): void {
    if (this.ended) return;
    if (bye && Object.prototype.hasOwnProperty.call(this.kinds, 'bye')) this.send({ t: 'bye', ...bye } as unknown as M);
    this.finish(new ProtocolError('LOCAL', bye ? `closed: ${bye.reason}` : 'closed locally'));
    this.closing = true;
    // A peer that stops reading cannot hold the connection open.
    const hard = setTimeout(() => this.conn.close(), 2000);
    hard.unref?.();
    if (!this.writing) void this.pump();
  }

  /**
   * Stop reading: no message is delivered until resume(), and TCP flow control then holds the
   * sender back (its queuedBytes grow). For a receiver that cannot keep up (S replaying slower than
   * P logs). The peer's heartbeats wait too: watchPeer does not count a paused time as silence.
   */
  pause(): void {
    if (!this.paused && !this.ended) this.paused = new Promise((r) => (this.unpause = r));
  }

  /** Go on reading after pause(). */
  resume(): void {
    const u = this.unpause;
    this.paused = this.unpause = undefined;
    u?.();
  }

  /** True between pause() and resume(). */
  get isPaused(): boolean {
    return this.paused !== undefined;
  }

  /** Drop the connection at once, sending nothing more (as a dying process would). */
  abort(reason = 'aborted locally'): void {
    this.end(new ProtocolError('LOCAL', reason));
    this.dead = true;
    this.conn.close();
  }

  private finish(e: ProtocolError): void {
    if (this.ended) return;
    this.ended = e;
    this.conn.source.close();
    this.resume();
    this.resolveClosed(e);
  }

  private end(e: ProtocolError): void {
    this.dead = true;
    if (this.ended) return;
    this.finish(e);
    for (const w of this.drainWaiters.splice(0)) w();
    this.conn.close();
  }

  private deliver(m: M): void {
    this.handlers.deliver(m);
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        this.parse();
        if (this.ended) return;
        if (this.paused) {
          await this.paused;
          continue;
        }
        const r = await this.it.next();
        if (this.ended) return;
        if (r.done) {
          if (this.q.length > 0 || this.header) this.end(new ProtocolError('TRUNCATED', `${this.remote}: connection ended inside a frame`));
          else if (this.bye) this.end(new ProtocolError('BYE', `peer ended: ${this.bye.reason}`));
          else this.end(new ProtocolError('CLOSED', `${this.remote}: peer closed the connection without 'bye'`));
          return;
        }
        this.q.push(r.value);
      }
    } catch (e) {
      this.end(e instanceof ProtocolError ? e : fromChannel(e, this.remote));
    }
  }

  /** Parse every complete frame in the queue. Throws ProtocolError on a bad one. */
  private parse(): void {
    const q = this.q;
    while (!this.ended && !this.paused) {
      if (!this.header) {
        if (q.length < SEALED_HEADER_BYTES) return;
        const h = readSealedHeader(q.read(SEALED_HEADER_BYTES));
        if (h.len === 0) throw new ProtocolError('MALFORMED', `${this.remote}: empty frame`);
        if (h.len > this.opts.maxFrameBytes) throw new ProtocolError('TOO_LARGE', `${this.remote}: frame of ${h.len} bytes exceeds the maximum of ${this.opts.maxFrameBytes}`);
        this.header = h;
      }
      const h = this.header;
      if (q.length < h.len) return;
      const payload = q.read(h.len);
      this.header = undefined;
      if (!macEqual(frameMac(this.recvKey, h.seq, [payload]), h.mac)) throw new ProtocolError('BAD_MAC', `${this.remote}: frame ${h.seq} fails its HMAC (injected or corrupted)`);
      if (h.seq !== this.recvSeq) throw new ProtocolError('SEQUENCE', `${this.remote}: frame has sequence number ${h.seq}, expected ${this.recvSeq} (replayed or reordered)`);
      this.recvSeq++;
      const m = decodeMessage(payload, this.kinds);
      if (m.t === 'bye') this.bye = m as unknown as ByeInfo;
      this.deliver(m);
    }
  }
}

/** The P<->S channel's end: FtMessage both ways. */
export type FtPeer = SecurePeer<FtMessage>;

// ─── Handshake ──────────────────────────────────────────────────────────────

/**
 * Run the handshake on a fresh connection (the sequence is in src/ft/README.md "Wire format").
 * Resolves with the authenticated peer; rejects with ProtocolError and closes the connection.
 */
async function handshake<M extends Message>(conn: Connection, side: 'client' | 'server', o: Resolved, kinds: KindTable<M>): Promise<SecurePeer<M>> {
  const it = conn.source[Symbol.asyncIterator]();
  const q = new ByteQueue();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProtocolError('HANDSHAKE_TIMEOUT', `${conn.remote}: handshake not completed within ${o.handshakeTimeoutMs} ms`)), o.handshakeTimeoutMs);
  });

  const need = async (n: number): Promise<void> => {
    while (q.length < n) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (e) {
        throw fromChannel(e, `${conn.remote}: during the handshake`);
      }
      if (r.done) throw new ProtocolError(q.length ? 'TRUNCATED' : 'CLOSED', `${conn.remote}: connection ended during the handshake`);
      q.push(r.value);
    }
  };
  const readFrame = async (): Promise<{ frame: HandshakeFrame; payload: Uint8Array }> => {
    await need(4);
    const lenBytes = q.read(4);
    const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 4).getUint32(0);
    if (len === 0 || len > MAX_HANDSHAKE_FRAME) throw new ProtocolError(len === 0 ? 'MALFORMED' : 'TOO_LARGE', `${conn.remote}: handshake frame of ${len} bytes (maximum ${MAX_HANDSHAKE_FRAME})`);
    await need(len);
    const payload = q.read(len).slice();
    const frame = decodeHandshakeFrame(payload);
    if (frame.h === 'refuse') throw new ProtocolError(frame.code, `${conn.remote} refused: ${frame.message}`);
    return { frame, payload };
  };
  const write = (b: Uint8Array): void => {
    conn.sink.write(b).catch(() => undefined); // a broken connection shows up on the reading side
  };
  const refuse = (e: ProtocolError): never => {
    write(encodeHandshakeFrame({ h: 'refuse', code: e.code, message: e.message }));
    throw e;
  };

  const steps = async (): Promise<SecurePeer<M>> => {
    const myPre = encodePreamble(FT_PROTOCOL_VERSION);
    const myHello = encodeHandshakeFrame({ h: 'hello', vm: o.vm, generation: o.generation, hostId: o.hostId, role: o.role, nonce: freshNonce() });
    const first = new Uint8Array(myPre.length + myHello.length);
    first.set(myPre, 0);
    first.set(myHello, myPre.length);
    write(first);

    await need(PREAMBLE_BYTES);
    const peerPre = q.read(PREAMBLE_BYTES).slice();
    checkPreamble(peerPre); // VERSION / MALFORMED: the peer reads our preamble and says the same
    const { frame: hello, payload: peerHello } = await readFrame();
    if (hello.h !== 'hello') throw new ProtocolError('MALFORMED', `${conn.remote}: expected a hello, got '${hello.h}'`);
    if (hello.vm !== o.vm) refuse(new ProtocolError('WRONG_PEER', `peer is for VM '${hello.vm}', this side serves VM '${o.vm}'`));
    if (hello.role !== o.peerRole) refuse(new ProtocolError('WRONG_PEER', `peer has role '${hello.role}', expected '${o.peerRole}'`));
    // TLS: the cluster CA vouches for host ids, not addresses (hosts move, namespaces have any address):
    // the peer's certificate must name the host id its hello claims
    if (o.tls && conn.peerName !== hello.hostId)
      refuse(new ProtocolError('WRONG_PEER', `the peer's certificate names host '${conn.peerName ?? '(none)'}', its hello host '${hello.hostId}'`));
    const why = o.acceptPeer?.(hello);
    if (why !== undefined) refuse(new ProtocolError('WRONG_PEER', why));

    const transcript =
      side === 'client' ? [myPre, myHello.subarray(4), peerPre, peerHello] : [peerPre, peerHello, myPre, myHello.subarray(4)];
    const keys = deriveSession(o.secret, transcript);
    // The connecting side proves first; the listener answers only a peer that proved the secret.
    if (side === 'client') {
      write(encodeHandshakeFrame({ h: 'proof', mac: keys.clientProof }));
      const { frame } = await readFrame();
      if (frame.h !== 'proof') throw new ProtocolError('MALFORMED', `${conn.remote}: expected a proof, got '${frame.h}'`);
      if (!macEqual(frame.mac, keys.serverProof)) throw new ProtocolError('AUTH', `${conn.remote}: the peer did not prove the cluster secret`);
    } else {
      const { frame } = await readFrame();
      if (frame.h !== 'proof') refuse(new ProtocolError('MALFORMED', `expected a proof, got '${frame.h}'`));
      if (!macEqual((frame as { mac: Uint8Array }).mac, keys.clientProof)) refuse(new ProtocolError('AUTH', 'the peer did not prove the cluster secret'));
      write(encodeHandshakeFrame({ h: 'proof', mac: keys.serverProof }));
    }
    const [sendKey, recvKey] = side === 'client' ? [keys.c2s, keys.s2c] : [keys.s2c, keys.c2s];
    return new SecurePeer<M>(conn, it, q, sendKey, recvKey, hello, kinds, o);
  };

  try {
    const running = steps();
    running.catch(() => undefined); // after a timeout it fails too; that second failure is not news
    return await Promise.race([running, timeout]);
  } catch (e) {
    const err = e instanceof ProtocolError ? e : new ProtocolError('MALFORMED', `${conn.remote}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    // Let a refusal reach the peer before the connection goes (bounded: the peer may not read).
    const hard = setTimeout(() => conn.close(), 1000);
    hard.unref?.();
    conn.sink.end().then(
      () => (clearTimeout(hard), conn.close()),
      () => (clearTimeout(hard), conn.close()),
    );
    conn.source.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

// ─── Listen / connect ───────────────────────────────────────────────────────

/** A listening channel server: hands out authenticated peers; failed handshakes go to onReject. */
export interface SecureServer<M extends Message> {
  readonly host: string;
  readonly port: number;
  /** Next authenticated peer (queued if it arrived earlier). Rejects with LOCAL once the server is closed. */
  accept(): Promise<SecurePeer<M>>;
  /** Stop listening; handshakes in progress are dropped; established peers stay open. */
  close(): Promise<void>;
}

function serverTls(t: FtTlsOptions, handshakeTimeout: number): tls.TlsOptions {
  return { key: t.key, cert: t.cert, ca: t.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', handshakeTimeout };
}

/** Listen for channel peers with role `roles.peerRole`; this side has `roles.role`. */
export async function listenSecure<M extends Message>(opts: SecureListenOptions, roles: ChannelRoles, kinds: KindTable<M>): Promise<SecureServer<M>> {
  const o = resolve(opts, roles);
  let listener: Listener;
  try {
    listener = o.tls ? await listenTls({ host: opts.host, port: opts.port, tls: serverTls(o.tls, o.handshakeTimeoutMs), maxHandshakes: opts.maxHandshakes ?? 64 }) : await listenTcp({ host: opts.host, port: opts.port });
  } catch (e) {
    throw new ProtocolError('CONNECT', `cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}: ${(e as Error).message}`, { cause: e });
  }
  const ready: SecurePeer<M>[] = [];
  const waiting: { resolve: (p: SecurePeer<M>) => void; reject: (e: ProtocolError) => void }[] = [];
  const pending = new Set<Connection>();
  let closed = false;
  const reject = (err: ProtocolError, remote: string): void => {
    try {
      opts.onReject?.(err, remote);
    } catch {
      // a failing observer must not stop the server
    }
  };
  void (async () => {
    for (;;) {
      let conn: Connection;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      if (closed) {
        conn.close();
        continue;
      }
      if (pending.size >= (opts.maxHandshakes ?? 64)) {
        // Many silent connections at once: refuse the newest rather than grow without bound.
        conn.close();
        reject(new ProtocolError('BUSY', `${pending.size} handshakes already in progress`), conn.remote);
        continue;
      }
      pending.add(conn);
      handshake(conn, 'server', o, kinds).then(
        (peer) => {
          pending.delete(conn);
          const w = waiting.shift();
          if (w) w.resolve(peer);
          else ready.push(peer);
        },
        (err: ProtocolError) => {
          pending.delete(conn);
          reject(err, conn.remote);
        },
      );
    }
  })();
  return {
    host: listener.host,
    port: listener.port,
    accept() {
      const p = ready.shift();
      if (p) return Promise.resolve(p);
      if (closed) return Promise.reject(new ProtocolError('LOCAL', 'channel server closed'));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const w of waiting.splice(0)) w.reject(new ProtocolError('LOCAL', 'channel server closed'));
      for (const c of pending) c.close();
      await listener.close();
    },
  };
}

/** Connect to a channel server and run the handshake. Rejects with ProtocolError (CONNECT, VERSION, AUTH, ...). */
export async function connectSecure<M extends Message>(opts: SecureConnectOptions, roles: ChannelRoles, kinds: KindTable<M>): Promise<SecurePeer<M>> {
  const o = resolve(opts, roles);
  let conn: Connection;
  try {
    conn = o.tls
      ? await connectTls({ host: opts.host, port: opts.port, timeoutMs: opts.connectTimeoutMs, tls: { key: o.tls.key, cert: o.tls.cert, ca: o.tls.ca, servername: o.tls.servername, minVersion: 'TLSv1.3', ...(o.tls.servername === undefined ? { checkServerIdentity: () => undefined } : {}) } })
      : await connectTcp({ host: opts.host, port: opts.port, timeoutMs: opts.connectTimeoutMs });
  } catch (e) {
    throw new ProtocolError('CONNECT', `cannot connect to ${opts.host ?? '127.0.0.1'}:${opts.port}: ${(e as Error).message}`, { cause: e });
  }
  return handshake(conn, 'client', o, kinds);
}

/** Options of the primary's channel server. */
export type FtListenOptions = SecureListenOptions;
/** Options of the secondary's connection to its primary. */
export type FtConnectOptions = SecureConnectOptions;

/** P listens for its secondary: peers must be role 'secondary' of the same VM and prove the secret. */
export function listenFt(opts: FtListenOptions): Promise<SecureServer<FtMessage>> {
  return listenSecure(opts, { role: 'primary', peerRole: 'secondary' }, FT_KINDS);
}

/** S connects to its primary. */
export function connectFt(opts: FtConnectOptions): Promise<FtPeer> {
  return connectSecure(opts, { role: 'secondary', peerRole: 'primary' }, FT_KINDS);
}
