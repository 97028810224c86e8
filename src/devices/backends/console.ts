// Console backends for the UART: stdio, a file, or a TCP socket. Input is buffered here
// until the LiveGate takes it (and logs it); output is the UART's transmit sink.

import { closeSync, constants, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import type { ConsoleInput } from '../../machine/gate.js';
import { HostResourceError, fsErrorText } from '../../errors.js';

/** Host side of a console: the gate reads from it, the UART's tx sink writes to it. */
export interface ConsoleBackend extends ConsoleInput {
  /** One transmitted byte (buffered; see flush). */
  write(byte: number): void;
  /** Pushes buffered output to the host now. */
  flush(): void;
  close(): Promise<void>;
}

/** Input bytes waiting for the guest. */
class InputQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private size = 0;
  push(b: Uint8Array): void { if (b.length) { this.chunks.push(b); this.size += b.length; } }
  read(max: number): Uint8Array | null {
    if (!this.chunks.length || max <= 0) return null;
    const out: number[] = [];
    while (out.length < max && this.chunks.length) {
      const c = this.chunks[0]!;
      const n = Math.min(max - out.length, c.length - this.head);
      for (let i = 0; i < n; i++) out.push(c[this.head + i]!);
      this.head += n;
      if (this.head >= c.length) { this.chunks.shift(); this.head = 0; }
    }
    this.size -= out.length;
    return Uint8Array.from(out);
  }
  get length(): number { return this.size; }
}

/** A stream source of console input that can be paused (stdin, a socket, a FIFO). */
interface Pausable { pause(): unknown; resume(): unknown }

/** Input kept waiting for the guest at most; past it the source is paused until the guest reads. */
export const CONSOLE_INPUT_LIMIT = 64 * 1024;

abstract class BufferedConsole implements ConsoleBackend {
  protected readonly input = new InputQueue();
  private out: number[] = [];
  private scheduled = false;
  private paused: Pausable | undefined;

  hasInput(): boolean { return this.input.length > 0; }

  read(max: number): Uint8Array | null {
    const b = this.input.read(max);
    if (this.paused && this.input.length < CONSOLE_INPUT_LIMIT / 2) { const p = this.paused; this.paused = undefined; p.resume(); }
    return b;
  }

  /** Queues bytes from a streaming source, pausing it while the guest has not read enough
   *  (stdin from /dev/zero or a fast peer must not grow memory without bound). */
  protected received(bytes: Uint8Array, from: Pausable): void {
    this.input.push(bytes);
    if (this.input.length >= CONSOLE_INPUT_LIMIT && !this.paused) { this.paused = from; from.pause(); }
  }

  write(byte: number): void {
    this.out.push(byte & 0xff);
    if (this.out.length >= 4096) this.flush();
    else if (!this.scheduled) { this.scheduled = true; setImmediate(() => { this.scheduled = false; this.flush(); }); }
  }

  flush(): void {
    if (!this.out.length) return;
    const b = Uint8Array.from(this.out);
    this.out = [];
    this.emit(b);
  }

  /** Bytes the test harness or a host tool injects as if typed. */
  inject(bytes: Uint8Array | string): void {
    this.input.push(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  }

  protected abstract emit(bytes: Uint8Array): void;
  abstract close(): Promise<void>;
}

/**
 * process.stdin / process.stdout. Raw mode is used when stdin is a TTY; then Ctrl-C goes to the guest,
 * and the escape Ctrl-A x (as in QEMU) calls onEscape (the CLI stops the run); Ctrl-A Ctrl-A sends one Ctrl-A.
 */
export class StdioConsole extends BufferedConsole {
  private escPending = false;
  private readonly onData = (d: Buffer): void => {
    if (!process.stdin.isTTY) { this.received(new Uint8Array(d), process.stdin); return; }
    const out: number[] = [];
    for (const b of d) {
      if (this.escPending) {
        this.escPending = false;
        if (b === 0x78 || b === 0x58) { this.onEscape?.(); continue; } // x / X
        out.push(0x01);
        if (b === 0x01) continue;
      } else if (b === 0x01) { this.escPending = true; continue; }
      out.push(b);
    }
    if (out.length) this.received(Uint8Array.from(out), process.stdin);
  };
  /** Called on Ctrl-A x when stdin is a terminal. */
  onEscape: (() => void) | undefined;
  /** Called with each chunk of output just before it is written to stdout (e.g. to clear a status line). */
  onOutput: ((bytes: Uint8Array) => void) | undefined;
  constructor(opts: { input?: boolean; onEscape?: () => void } = {}) {
    super();
    this.onEscape = opts.onEscape;
    if (opts.input ?? true) {
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      process.stdin.on('data', this.onData);
    }
  }
  protected emit(bytes: Uint8Array): void { this.onOutput?.(bytes); process.stdout.write(bytes); }
  async close(): Promise<void> {
    this.flush();
    process.stdin.off('data', this.onData);
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
  }
}

/**
 * Opens a FIFO for reading without blocking (an open for reading would wait for a writer) as a pipe
 * handle: 'data' as a writer writes, 'end' when it closes. Throws the open's error.
 */
export function openFifoReader(path: string): Socket {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return new Socket({ fd, readable: true, writable: false });
}

/**
 * Output written to a file; input (optional) from a regular file (its whole content) or a FIFO
 * (opened without blocking; the bytes of every writer, in order, as they come). Any other kind of
 * input file is refused: it could block forever or never end.
 */
export class FileConsole extends BufferedConsole {
  private fd: number;
  private fifo: Socket | undefined;
  private closed = false;
  constructor(readonly outPath: string, readonly inPath?: string) {
    super();
    if (inPath !== undefined) {
      let st;
      try { st = statSync(inPath); }
      catch (e) { throw new HostResourceError(`console input file ${inPath}: cannot read (${(e as NodeJS.ErrnoException).code})`, inPath); }
      if (!st.isFile() && !st.isFIFO()) throw new HostResourceError(`console input file ${inPath}: not a regular file or a FIFO`, inPath);
      if (st.isFile()) {
        try { this.input.push(new Uint8Array(readFileSync(inPath))); }
        catch (e) { throw new HostResourceError(`console input file ${inPath}: cannot read (${(e as NodeJS.ErrnoException).code})`, inPath); }
      } else this.openFifo();
    }
    try { this.fd = openSync(outPath, 'w'); }
    catch (e) { this.fifo?.destroy(); throw new HostResourceError(`console file ${outPath}: cannot open for writing (${(e as NodeJS.ErrnoException).code})`, outPath); }
  }

  /** Reads the FIFO through a pipe handle; when a writer closes it, waits for the next one. */
  private openFifo(): void {
    let s: Socket;
    try { s = openFifoReader(this.inPath!); }
    catch (e) { throw new HostResourceError(`console input FIFO ${this.inPath}: cannot open (${fsErrorText(e)})`, this.inPath); }
    this.fifo = s;
    s.on('data', (d: Buffer) => this.received(new Uint8Array(d), s));
    s.on('error', () => { /* reported as close */ });
    s.on('close', () => { if (!this.closed && this.fifo === s) { try { this.openFifo(); } catch { this.fifo = undefined; } } });
  }

  protected emit(bytes: Uint8Array): void { if (this.fd >= 0) writeSync(this.fd, bytes); }
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    this.fifo?.destroy();
    if (this.fd >= 0) { closeSync(this.fd); this.fd = -1; }
  }
}

/**
 * A TCP server; one client at a time is the console. Output written while no client is connected is
 * dropped; `onDrop(bytes)` is called for the first dropped chunk after each stretch with a client (and
 * at the start), so a user can be told once, not per byte.
 */
export class TcpConsole extends BufferedConsole {
  private client: Socket | null = null;
  private dropping = false;
  private waiters: (() => void)[] = [];
  /** Called with the byte count of the first output chunk dropped since a client was last connected. */
  onDrop: ((bytes: number) => void) | undefined;

  private constructor(private readonly server: Server) {
    super();
    server.on('connection', (s) => {
      if (this.client) { s.end('console busy\r\n'); return; }
      this.client = s;
      this.dropping = false;
      s.on('data', (d) => this.received(new Uint8Array(d), s));
      s.on('close', () => { if (this.client === s) this.client = null; });
      s.on('error', () => { /* reported as close */ });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Listens on host:port (port 0 = any free port); rejects with a HostResourceError naming the address. */
  static listen(port: number, host = '127.0.0.1'): Promise<TcpConsole> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(new HostResourceError(e.code === 'EADDRINUSE' ? `console: TCP port ${host}:${port} is already in use`
          : `console: cannot listen on ${host}:${port} (${e.code ?? e.message})`, `${host}:${port}`, { cause: e }));
      });
      server.listen(port, host, () => resolve(new TcpConsole(server)));
    });
  }

  get port(): number {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  get connected(): boolean { return this.client !== null; }

  /** Resolves once a client is connected (at once if one is); `signal.aborted` polled every 50 ms ends the wait early. */
  waitForClient(signal?: { aborted: boolean }): Promise<void> {
    if (this.client) return Promise.resolve();
    return new Promise((resolve) => {
      const poll = signal ? setInterval(() => { if (signal.aborted) done(); }, 50) : undefined;
      const done = (): void => { if (poll) clearInterval(poll); this.waiters = this.waiters.filter((w) => w !== done); resolve(); };
      this.waiters.push(done);
    });
  }

  protected emit(bytes: Uint8Array): void {
    if (this.client) { this.client.write(bytes); return; }
    if (!this.dropping) { this.dropping = true; this.onDrop?.(bytes.length); }
  }

  async close(): Promise<void> {
    this.flush();
    for (const w of this.waiters.splice(0)) w();
    this.client?.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
