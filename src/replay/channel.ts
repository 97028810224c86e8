// Byte-stream channels: the interface every transport implements (memory,
// file, TCP; TLS later), typed channel errors, and the in-memory transport.
// Channels carry bytes, not frames or entries. Imports nothing from Node.

import { X86ftError, fsErrorText } from '../errors.js';

/** Why a channel stopped. */
export type ChannelErrorCode =
  | 'CLOSED' // the other side (or this side) closed the channel; writing is no longer possible
  | 'RESET' // the peer vanished abruptly (ECONNRESET, aborted)
  | 'BROKEN_PIPE' // wrote to a peer that is gone (EPIPE)
  | 'REFUSED' // could not connect (ECONNREFUSED, host unreachable)
  | 'TIMEOUT' // a connect or idle timeout expired
  | 'NOT_FOUND' // file does not exist
  | 'IO'; // any other I/O error

/** The one error type channels throw or reject with. `cause` is the underlying error, if any. */
export class ChannelError extends X86ftError {
  constructor(
    override readonly code: ChannelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'ChannelError';
  }
}

/** Map a Node/system error to a ChannelError (idempotent). */
export function toChannelError(err: unknown, context: string): ChannelError {
  if (err instanceof ChannelError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const msg = `${context}: ${fsErrorText(err)}`;
  switch (code) {
    case 'ECONNRESET':
    case 'ECONNABORTED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new ChannelError('RESET', msg, { cause: err });
    case 'EPIPE':
      return new ChannelError('BROKEN_PIPE', msg, { cause: err });
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
      return new ChannelError('REFUSED', msg, { cause: err });
    case 'ETIMEDOUT':
      return new ChannelError('TIMEOUT', msg, { cause: err });
    case 'ENOENT':
      return new ChannelError('NOT_FOUND', msg, { cause: err });
    case 'ERR_STREAM_DESTROYED':
    case 'ERR_STREAM_WRITE_AFTER_END':
    case 'ERR_SOCKET_CLOSED':
      return new ChannelError('CLOSED', msg, { cause: err });
    default:
      return new ChannelError('IO', msg, { cause: err });
  }
}

/** Counters a sink keeps (for throttling and benchmarks). */
export interface SinkStats {
  /** Bytes accepted by write(). */
  bytes: number;
  /** Writes whose promise had to wait for the transport (back-pressure events). */
  waits: number;
}

/**
 * The writing end of a byte stream.
 *
 * Back-pressure: write() returns a promise that resolves once the transport
 * has accepted the chunk and has room for more; a writer that awaits each
 * write never queues more than the transport's high-water mark. Chunks are
 * kept by reference: do not modify a chunk after passing it to write().
 * Failures reject with ChannelError; a sink never throws synchronously and
 * never leaves an unhandled rejection or an unhandled 'error' event behind.
 */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  /** A sink whose writes complete when the call returns (a file written with writeSync, a channel thread's
   *  queue) may offer this: the log writer then writes each frame at once, and LogWriter.flushSync works. */
  writeSync?(chunk: Uint8Array): void;
  /** Graceful close: everything written is delivered (files: synced if asked), then the sink closes. */
  end(): Promise<void>;
  /** Abort now, dropping unsent data; pending and later writes reject with CLOSED. Idempotent. */
  destroy(reason?: Error): void;
  readonly stats: SinkStats;
}

/**
 * The reading end of a byte stream: an async iterator of chunks, iterated
 * once. Iteration ends normally when the writer ended the stream, and throws
 * ChannelError when it broke (reset, I/O error). Breaking out of the loop (or
 * close()) releases the source; it does not close a duplex connection's
 * other direction.
 */
export interface ByteSource extends AsyncIterable<Uint8Array> {
  /** Stop reading: a pending next() finishes (done), the writer sees CLOSED. Idempotent. */
  close(): void;
}

/** A bidirectional connection (TCP, TLS): log one way, acknowledgements the other. */
export interface Connection {
  readonly sink: ByteSink;
  readonly source: ByteSource;
  /** Human-readable peer address. */
  readonly remote: string;
  /** TLS: the subject common name of the peer's verified certificate (undefined without TLS or a CN). */
  readonly peerName?: string;
  /** Tear the connection down in both directions. Idempotent. */
  close(): void;
  /** Resolves (never rejects) when the connection is fully closed. */
  readonly closed: Promise<void>;
}

// ─── In-memory transport ────────────────────────────────────────────────────

interface Waiter {
  resolve: () => void;
  reject: (e: ChannelError) => void;
}

/**
 * An in-memory pipe with a bounded buffer of `capacity` bytes: write()
 * resolves at once while the buffered bytes are at or under capacity, and
 * otherwise when the reader has consumed enough.
 */
export function memoryPipe(capacity = 1 << 20): { sink: ByteSink; source: ByteSource } {
  const queue: Uint8Array[] = [];
  let qbytes = 0;
  let ended = false; // writer ended gracefully
  let failure: ChannelError | undefined; // writer destroyed
  let readerClosed = false;
  let writers: Waiter[] = [];
  let reader: ((v: void) => void) | undefined;
  let iterating = false;
  const stats: SinkStats = { bytes: 0, waits: 0 };

  const wakeReader = (): void => {
    const r = reader;
    reader = undefined;
    r?.();
  };
  const wakeWriters = (): void => {
    if (qbytes > capacity && !readerClosed && !failure) return;
    const ws = writers;
    writers = [];
    for (const w of ws) {
      if (readerClosed) w.reject(new ChannelError('CLOSED', 'memory pipe: reader closed'));
      else if (failure) w.reject(new ChannelError('CLOSED', 'memory pipe: destroyed'));
      else w.resolve();
    }
  };

  const sink: ByteSink = {
    stats,
    write(chunk) {
      if (readerClosed) return Promise.reject(new ChannelError('CLOSED', 'memory pipe: reader closed'));
      if (failure || ended) return Promise.reject(new ChannelError('CLOSED', 'memory pipe: write after end/destroy'));
      if (chunk.length) {
        queue.push(chunk);
        qbytes += chunk.length;
        stats.bytes += chunk.length;
        wakeReader();
      }
      if (qbytes <= capacity) return Promise.resolve();
      stats.waits++;
      return new Promise<void>((resolve, reject) => writers.push({ resolve, reject }));
    },
    end() {
      ended = true;
      wakeReader();
      return Promise.resolve();
    },
    destroy(reason) {
      if (failure || ended) return;
      failure = new ChannelError('RESET', `memory pipe: writer destroyed${reason ? `: ${reason.message}` : ''}`, { cause: reason });
      queue.length = 0;
      qbytes = 0;
      wakeReader();
      wakeWriters();
    },
  };

  const source: ByteSource = {
    close() {
      if (readerClosed) return;
      readerClosed = true;
      queue.length = 0;
      qbytes = 0;
      wakeReader();
      wakeWriters();
    },
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      if (iterating) throw new ChannelError('IO', 'memory pipe: source iterated twice');
      iterating = true;
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          for (;;) {
            if (readerClosed) return { done: true, value: undefined };
            if (failure) throw failure;
            if (queue.length) {
              const c = queue.shift()!;
              qbytes -= c.length;
              wakeWriters();
              return { done: false, value: c };
            }
            if (ended) return { done: true, value: undefined };
            await new Promise<void>((r) => (reader = r));
          }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          source.close();
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { sink, source };
}
