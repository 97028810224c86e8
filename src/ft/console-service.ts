// The primary's console service (TCP, authenticated with the cluster secret by the channel's
// handshake) and its client, used by `x86ft console` and the `protect` supervisor: console bytes
// resume at the offset the client already has; typed input is numbered and kept by the client until
// the service confirms "input consumed through n" (FT.md "Console, input and network, exactly
// once"). The owner (the primary) feeds it; must not import the roles, src/machine or src/replay's
// recorder/replayer.

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { connectSecure, listenSecure, type ByeInfo, type FtTlsOptions, type SecurePeer, type SecureServer } from './channel.js';
import { field, FT_KINDS, ProtocolError, type KindTable } from './protocol.js';
import { InternalError, InvalidArgumentError } from '../errors.js';

/** Messages of the console channel (service = the primary's console service, client = a console). */
export type ConsoleMessage =
  /** client: "I have console bytes [0, from)"; `input`: it wants to type; `client`: its id. */
  | { t: 'attach'; from: number; input: boolean; client: string }
  /** service: input consumed through `confirmed` (released), bytes kept from `start` on; `inputHeld`: the client
   *  asked for input and another client holds it (its typing waits until that one leaves; absent from older services). */
  | { t: 'attached'; confirmed: number; start: number; inputHeld?: boolean }
  /** service: console bytes [offset, offset + bytes.length). */
  | { t: 'output'; offset: number; bytes: Uint8Array }
  /** service: this client now holds the input; the next input byte expected has offset `accepted`. */
  | { t: 'grant'; accepted: number }
  /** client: typed bytes at input-stream offsets [offset, offset + bytes.length). */
  | { t: 'input'; offset: number; bytes: Uint8Array }
  /** service: the guest consumed input bytes [0, through) (released under the Output Rule). */
  | { t: 'consumed'; through: number }
  /** orderly end: the guest ended (status = its exit status) or the console was closed. */
  | { t: 'bye'; reason: string; status?: number };

type Fields = Record<string, unknown>;
function bytesAt<T extends 'output' | 'input'>(t: T) {
  return (o: Fields): { t: T; offset: number; bytes: Uint8Array } | string => {
    const offset = field.count(o, 'offset');
    if (typeof offset === 'string') return offset;
    const bytes = field.bytes(o, 'bytes');
    return typeof bytes === 'string' ? bytes : { t, offset, bytes };
  };
}

/** The console channel's kinds; anything else is UNKNOWN_KIND. */
export const CONSOLE_KINDS: KindTable<ConsoleMessage> = {
  attach(o) {
    const from = field.count(o, 'from');
    if (typeof from === 'string') return from;
    const client = field.text(o, 'client');
    if (typeof client !== 'string') return client.error;
    if (typeof o.input !== 'boolean') return "field 'input' must be a boolean";
    return { t: 'attach', from, input: o.input, client };
  },
  attached(o) {
    const confirmed = field.count(o, 'confirmed');
    if (typeof confirmed === 'string') return confirmed;
    const start = field.count(o, 'start');
    if (typeof start === 'string') return start;
    if (o.inputHeld !== undefined && typeof o.inputHeld !== 'boolean') return "field 'inputHeld' must be a boolean";
    return o.inputHeld === undefined ? { t: 'attached', confirmed, start } : { t: 'attached', confirmed, start, inputHeld: o.inputHeld };
  },
  output: bytesAt('output'),
  input: bytesAt('input'),
  grant(o) {
    const accepted = field.count(o, 'accepted');
    return typeof accepted === 'string' ? accepted : { t: 'grant', accepted };
  },
  consumed(o) {
    const through = field.count(o, 'through');
    return typeof through === 'string' ? through : { t: 'consumed', through };
  },
  bye: FT_KINDS.bye, // the same orderly end as on the P<->S channel
};

const SERVICE_ROLES = { role: 'console', peerRole: 'console-client' };
const CLIENT_ROLES = { role: 'console-client', peerRole: 'console' };
/** Largest output or input message body. */
const CHUNK = 64 * 1024;
type ConsolePeer = SecurePeer<ConsoleMessage>;

// ─── Service ────────────────────────────────────────────────────────────────

export interface ConsoleServiceOptions {
  secret: Uint8Array;
  vm: string;
  hostId: string;
  generation: number;
  /** Listen address (default 127.0.0.1, any free port). */
  host?: string;
  port?: number;
  tls?: FtTlsOptions;
  handshakeTimeoutMs?: number;
  /** Console offset of the first byte this service will be given (bytes before it come from readHistory). Default 0. */
  consoleStart?: number;
  /** Console bytes [from, to) released before (e.g. read from the console file); without it, older bytes are gone. */
  readHistory?: (from: number, to: number) => Promise<Uint8Array>;
  /** Released console bytes kept in memory for clients that resume (default 1 MiB). */
  retainBytes?: number;
  /** Input bytes already in the guest's history when this service starts (the next accepted offset). Default 0. */
  inputStart?: number;
  /** Input consumed and confirmed before this service started. Default 0. */
  inputConfirmed?: number;
  /** Input bytes accepted but not yet confirmed at most (default 64 KiB); the client re-sends the rest when there is room. */
  maxUnconfirmedInput?: number;
  /** New input for the guest: bytes at input offsets [offset, offset + length), each offset exactly once, in order. */
  onInput: (offset: number, bytes: Uint8Array) => void;
  /** Failed client handshakes (wrong secret, ...): the service goes on. */
  onReject?: (err: ProtocolError, remote: string) => void;
}

interface Client {
  peer: ConsolePeer;
  id: string;
  wantsInput: boolean;
  next: number; // next console offset to send
  attached: boolean;
  pumping: boolean;
  regrant: boolean; // input was dropped for lack of room: grant again when there is room
}

/**
 * The primary's console service. The owner calls output() with every console byte released under
 * the Output Rule (re-issued bytes at offsets already given are ignored), confirmInput(n) when the
 * confirmation "input consumed through n" is released, and end() when the guest ends. One client at
 * a time holds the input (the first that asks; then the next waiting one when it leaves).
 */
export class ConsoleService {
  private mem: { offset: number; bytes: Uint8Array }[] = [];
  private memStart: number;
  private end_: number;
  private accepted: number;
  private confirmed: number;
  private readonly retain: number;
  private clients = new Set<Client>();
  private holder: Client | undefined;
  private ending: ByeInfo | undefined;

  private constructor(
    private readonly server: SecureServer<ConsoleMessage>,
    private readonly opts: ConsoleServiceOptions,
  ) {
    this.memStart = this.end_ = opts.consoleStart ?? 0;
    this.accepted = opts.inputStart ?? 0;
    this.confirmed = opts.inputConfirmed ?? 0;
    this.retain = opts.retainBytes ?? 1 << 20;
    void this.acceptLoop();
  }

  /** Start listening. Rejects with ProtocolError (CONFIG, CONNECT). */
  static async listen(opts: ConsoleServiceOptions): Promise<ConsoleService> {
    const server = await listenSecure<ConsoleMessage>(
      { secret: opts.secret, vm: opts.vm, hostId: opts.hostId, generation: opts.generation, host: opts.host, port: opts.port, tls: opts.tls, handshakeTimeoutMs: opts.handshakeTimeoutMs, onReject: opts.onReject },
      SERVICE_ROLES,
      CONSOLE_KINDS,
    );
    return new ConsoleService(server, opts);
  }

  get host(): string {
    return this.server.host;
  }
  get port(): number {
    return this.server.port;
  }
  /** Console bytes known (released) so far: the next output offset. */
  get consoleLength(): number {
    return this.end_;
  }
  /** Next input offset this service will accept. */
  get inputAccepted(): number {
    return this.accepted;
  }
  /** Number of attached clients. */
  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Released console bytes at console offsets [offset, offset + bytes.length). Bytes this service
   * already has are skipped (a re-issue after failover writes the same bytes at the same offsets).
   * Throws RangeError on a gap (offset beyond the bytes known): an owner bug.
   */
  output(offset: number, bytes: Uint8Array): void {
    if (offset > this.end_) throw new InvalidArgumentError(`console output at offset ${offset} leaves a gap (have ${this.end_} bytes)`);
    const skip = this.end_ - offset;
    if (skip >= bytes.length) return;
    const fresh = bytes.slice(skip); // the owner may reuse its buffer
    this.mem.push({ offset: this.end_, bytes: fresh });
    this.end_ += fresh.length;
    while (this.mem.length > 1 && this.end_ - this.mem[1]!.offset >= this.retain) {
      this.mem.shift();
      this.memStart = this.mem[0]!.offset;
    }
    for (const c of this.clients) void this.pump(c);
  }

  /** The owner's hook: the confirmation "input consumed through n" was released under the Output Rule. */
  confirmInput(through: number): void {
    if (through <= this.confirmed) return;
    this.confirmed = through;
    for (const c of this.clients) if (c.attached) c.peer.send({ t: 'consumed', through });
    const h = this.holder;
    if (h?.regrant && this.room() > 0) {
      h.regrant = false;
      h.peer.send({ t: 'grant', accepted: this.accepted }); // "send again from here"
    }
  }

  private room(): number {
    return (this.opts.maxUnconfirmedInput ?? 64 * 1024) - (this.accepted - this.confirmed);
  }

  /** The guest ended: every client gets the remaining output, then 'bye' with the status. */
  end(reason: string, status?: number): void {
    this.ending = status === undefined ? { reason } : { reason, status };
    for (const c of this.clients) void this.pump(c);
  }

  /** Stop listening and drop every client without 'bye' (they reconnect to the next primary). */
  async close(): Promise<void> {
    for (const c of this.clients) c.peer.abort('console service closed');
    this.clients.clear();
    this.holder = undefined;
    await this.server.close();
  }

  private async acceptLoop(): Promise<void> {
    for (;;) {
      let peer: ConsolePeer;
      try {
        peer = await this.server.accept();
      } catch {
        return; // closed
      }
      const c: Client = { peer, id: '', wantsInput: false, next: 0, attached: false, pumping: false, regrant: false };
      this.clients.add(c);
      peer.onMessage((m) => this.onMessage(c, m));
      void peer.closed.then(() => this.leave(c));
    }
  }

  private leave(c: Client): void {
    this.clients.delete(c);
    if (this.holder === c) {
      this.holder = undefined;
      this.grantNext();
    }
  }

  private grantNext(): void {
    if (this.holder) return;
    for (const c of this.clients) {
      if (c.attached && c.wantsInput && !c.peer.isClosed) {
        this.holder = c;
        c.peer.send({ t: 'grant', accepted: this.accepted });
        return;
      }
    }
  }

  private onMessage(c: Client, m: ConsoleMessage): void {
    switch (m.t) {
      case 'attach':
        if (c.attached) return c.peer.abort('attached twice');
        c.attached = true;
        c.id = m.client;
        c.wantsInput = m.input;
        c.next = m.from;
        c.peer.send({ t: 'attached', confirmed: this.confirmed, start: this.memStart, ...(m.input && this.holder ? { inputHeld: true } : {}) });
        this.grantNext();
        void this.pump(c);
        return;
      case 'input': {
        if (this.holder !== c) return; // only the holder's bytes count; the others keep theirs
        if (m.offset > this.accepted) return c.peer.abort(`input at offset ${m.offset} leaves a gap (next expected ${this.accepted})`);
        const skip = this.accepted - m.offset; // bytes this primary (or the history) already has
        if (skip >= m.bytes.length) return;
        let fresh = m.bytes.subarray(skip);
        const room = this.room();
        if (fresh.length > room) {
          c.regrant = true; // the client keeps the rest and re-sends it on the next grant
          if (room <= 0) return;
          fresh = fresh.subarray(0, room);
        }
        const at = this.accepted;
        this.accepted += fresh.length;
        this.opts.onInput(at, fresh);
        return;
      }
      case 'bye':
        return; // the client is leaving; its connection closes next
      default:
        c.peer.abort(`a console client may not send '${m.t}'`);
    }
  }

  /** Send client c everything from c.next on, with back-pressure; then 'bye' if the guest ended. */
  private async pump(c: Client): Promise<void> {
    if (c.pumping || !c.attached) return;
    c.pumping = true;
    try {
      while (!c.peer.isClosed && c.next < this.end_) {
        let bytes: Uint8Array;
        if (c.next >= this.memStart) {
          let i = this.mem.length - 1;
          while (i > 0 && this.mem[i]!.offset > c.next) i--;
          const chunk = this.mem[i]!;
          bytes = chunk.bytes.subarray(c.next - chunk.offset, c.next - chunk.offset + CHUNK);
        } else if (this.opts.readHistory) {
          bytes = await this.opts.readHistory(c.next, Math.min(this.memStart, c.next + CHUNK));
          if (bytes.length === 0) throw new InternalError(`console history has no bytes at offset ${c.next}`);
        } else {
          c.peer.close({ reason: `console bytes before offset ${this.memStart} are no longer kept (asked from ${c.next})` });
          return;
        }
        const at = c.next;
        c.next += bytes.length;
        if (!c.peer.send({ t: 'output', offset: at, bytes })) await c.peer.drained();
      }
      if (this.ending && c.next >= this.end_ && !c.peer.isClosed) c.peer.close(this.ending);
    } catch (e) {
      c.peer.abort(`console history: ${(e as Error).message}`);
    } finally {
      c.pumping = false;
    }
    if (c.next < this.end_ && !c.peer.isClosed) void this.pump(c); // output arrived while sending
  }
}

// ─── Client ─────────────────────────────────────────────────────────────────

/** How a console session ended. */
export type ConsoleEnd =
  | { kind: 'bye'; reason: string; status?: number } // the service said bye (guest ended: status)
  | { kind: 'closed' } // close() was called, or locate() said the session is over
  | { kind: 'error'; error: ProtocolError }; // a fatal error (wrong secret, other protocol version)

export interface ConsoleClientOptions {
  secret: Uint8Array;
  vm: string;
  /** This side's host id (default the hostname). */
  hostId?: string;
  /** Where the current primary's console service is (asked again after every lost connection); null: the
   *  session is over (the VM ended), `done` resolves 'closed'. */
  locate: () => Promise<{ host?: string; port: number } | null>;
  /** Console bytes the caller already has (e.g. its console file's length): output resumes there. Default 0. */
  from?: number;
  /** Ask for the input (default true). */
  input?: boolean;
  /** Called with new console bytes in order, each byte once: bytes at console offset `offset`. */
  onOutput: (bytes: Uint8Array, offset: number) => void;
  /** Progress and reconnection notes (for stderr). */
  onStatus?: (message: string) => void;
  /** Wait between reconnection attempts in ms (default 200). */
  retryMs?: number;
  tls?: FtTlsOptions;
  handshakeTimeoutMs?: number;
  /** Stable id of this client (default random). */
  clientId?: string;
}

/**
 * A console client that survives failovers: it reconnects to wherever locate() points, resumes the
 * output at the byte it has, and re-sends every typed byte not yet confirmed as consumed. `done`
 * resolves with how it ended; it never rejects.
 */
export class ConsoleClient {
  /** Resolves when the session ends. */
  readonly done: Promise<ConsoleEnd>;
  private resolveDone!: (e: ConsoleEnd) => void;
  private received: number;
  private base = 0; // input offset of pending[0]
  private pending: Uint8Array[] = [];
  private pendingLen = 0;
  private granted = false;
  private sentAny = false; // some pending bytes were sent under a grant (so they carry input offsets)
  private peer: ConsolePeer | undefined;
  private stopped = false;
  private inputEnded = false; // endInput(): no more typing
  private reattaching = false; // closing the connection to attach again without input
  private inputHeld = false; // this connection's attach found another client holding the input
  private heldNoted = false;
  private wake: (() => void) | undefined;
  private readonly id: string;

  constructor(private readonly opts: ConsoleClientOptions) {
    this.received = opts.from ?? 0;
    this.id = opts.clientId ?? randomBytes(8).toString('hex');
    this.done = new Promise((r) => (this.resolveDone = r));
    void this.run();
  }

  /** Console bytes received (the next console offset). */
  get consoleLength(): number {
    return this.received;
  }
  /** Input bytes the service confirmed as consumed. */
  get inputConfirmed(): number {
    return this.base;
  }
  /** Typed bytes kept until confirmed. */
  get inputPending(): number {
    return this.pendingLen;
  }

  /** Type bytes: kept until the guest's consumption of them is confirmed, re-sent across reconnections. */
  type(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const copy = bytes.slice();
    const offset = this.base + this.pendingLen;
    this.pending.push(copy);
    this.pendingLen += copy.length;
    if (this.granted && this.peer && !this.peer.isClosed) {
      this.sendInput(offset, copy);
      this.sentAny = true;
    } else this.noteHeld();
  }

  /**
   * Resolves once the client holds no connection: at once when it is between connections, else when the
   * current one closes (after every byte already sent on it was delivered to onOutput).
   */
  disconnected(): Promise<void> {
    return this.peer && !this.peer.isClosed ? this.peer.closed.then(() => undefined) : Promise.resolve();
  }

  /**
   * No more typing (e.g. stdin reached its end): once every typed byte is confirmed as consumed, the client
   * attaches again without input, so another console can take the guest's input (the service grants it to one
   * client at a time). Output goes on uninterrupted.
   */
  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    this.maybeGiveUpInput();
  }


  /** Says once that typed bytes wait for another client to leave (they were kept silently before). */
  private noteHeld(): void {
    if (!this.inputHeld || this.granted || this.pendingLen === 0 || this.heldNoted) return;
    this.heldNoted = true;
    this.opts.onStatus?.('console: another console holds the guest\'s input; what you type waits until it leaves');
  }

  private maybeGiveUpInput(): void {
    if (!this.inputEnded || this.pendingLen > 0 || !this.granted || !this.peer || this.peer.isClosed) return;
    this.granted = false;
    this.reattaching = true;
    this.peer.close({ reason: 'input ended' });
  }

  /** End the session (the service sees the client leave). */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.peer?.close({ reason: 'console closed' });
    this.wake?.();
    this.resolveDone({ kind: 'closed' });
  }

  private sendInput(offset: number, bytes: Uint8Array): void {
    for (let p = 0; p < bytes.length; p += CHUNK) this.peer!.send({ t: 'input', offset: offset + p, bytes: bytes.subarray(p, p + CHUNK) });
  }

  private confirm(through: number): void {
    // Bytes never sent are not numbered yet: a confirmation is about someone else's input.
    if (this.pendingLen > 0 && !this.sentAny) return;
    let drop = Math.min(through - this.base, this.pendingLen);
    if (drop <= 0) return;
    this.base += drop;
    this.pendingLen -= drop;
    while (drop > 0) {
      const head = this.pending[0]!;
      if (head.length <= drop) {
        this.pending.shift();
        drop -= head.length;
      } else {
        this.pending[0] = head.subarray(drop);
        drop = 0;
      }
    }
    // Nothing pending: later typing is numbered after what the guest has consumed.
    if (this.pendingLen === 0) {
      this.sentAny = false;
      if (through > this.base) this.base = through;
      this.maybeGiveUpInput();
    }
  }

  private onMessage(peer: ConsolePeer, m: ConsoleMessage): void {
    switch (m.t) {
      case 'output': {
        if (m.offset > this.received) return peer.abort(`console output at ${m.offset} leaves a gap (have ${this.received})`);
        const fresh = m.bytes.subarray(this.received - m.offset);
        if (fresh.length === 0) return;
        const at = this.received;
        this.received += fresh.length;
        this.opts.onOutput(fresh, at);
        return;
      }
      case 'attached':
        this.confirm(m.confirmed);
        this.inputHeld = m.inputHeld === true;
        this.noteHeld();
        return;
      case 'consumed':
        this.confirm(m.through);
        return;
      case 'grant': {
        this.granted = true;
        this.inputHeld = false;
        if (this.inputEnded && this.pendingLen === 0) return this.maybeGiveUpInput();
        // Unsent bytes are numbered from the next offset the service expects; sent ones keep theirs.
        if (!this.sentAny) this.base = m.accepted;
        let at = this.base;
        for (const b of this.pending) {
          this.sendInput(at, b);
          at += b.length;
        }
        if (this.pendingLen > 0) this.sentAny = true;
        return;
      }
      case 'bye':
        return;
      default:
        peer.abort(`a console service may not send '${m.t}'`);
    }
  }

  private async run(): Promise<void> {
    const retry = this.opts.retryMs ?? 200;
    const pause = (): Promise<void> =>
      new Promise((r) => {
        const t = setTimeout(r, retry);
        this.wake = () => (clearTimeout(t), r());
      });
    while (!this.stopped) {
      let peer: ConsolePeer;
      try {
        const addr = await this.opts.locate();
        if (addr === null) { // the session is over (e.g. the VM ended while this client was between primaries)
          this.stopped = true;
          this.resolveDone({ kind: 'closed' });
          return;
        }
        peer = await connectSecure<ConsoleMessage>(
          { secret: this.opts.secret, vm: this.opts.vm, hostId: this.opts.hostId ?? hostname(), generation: 0, host: addr.host, port: addr.port, tls: this.opts.tls, handshakeTimeoutMs: this.opts.handshakeTimeoutMs },
          CLIENT_ROLES,
          CONSOLE_KINDS,
        );
      } catch (e) {
        const err = e instanceof ProtocolError ? e : new ProtocolError('CONNECT', `cannot find the console: ${(e as Error)?.message ?? String(e)}`, { cause: e });
        if (err.code === 'AUTH' || err.code === 'VERSION' || err.code === 'CONFIG') {
          this.stopped = true;
          this.resolveDone({ kind: 'error', error: err });
          return;
        }
        this.opts.onStatus?.(`console: ${err.message}; retrying`);
        await pause();
        continue;
      }
      if (this.stopped) {
        peer.close({ reason: 'console closed' });
        return;
      }
      this.peer = peer;
      this.granted = false;
      let bye: ByeInfo | undefined;
      peer.onMessage((m) => {
        if (m.t === 'bye') bye = m;
        this.onMessage(peer, m);
      });
      peer.send({ t: 'attach', from: this.received, input: (this.opts.input ?? true) && !(this.inputEnded && this.pendingLen === 0), client: this.id });
      const reason = await peer.closed;
      this.peer = undefined;
      this.granted = false;
      if (this.stopped) return;
      if (this.reattaching && !bye) { this.reattaching = false; continue; } // without input, at once
      if (bye) {
        this.stopped = true;
        this.resolveDone(bye.status === undefined ? { kind: 'bye', reason: bye.reason } : { kind: 'bye', reason: bye.reason, status: bye.status });
        return;
      }
      this.opts.onStatus?.(`console: connection lost (${reason.message}); reconnecting`);
      await pause();
    }
  }
}
