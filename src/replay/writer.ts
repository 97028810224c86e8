// LogWriter: batches plain entries into frames and streams them to a
// ByteSink. A batch is flushed when it is big enough or after a small bounded
// delay, so a follower never waits long. Takes entries, never a Machine.

import { type ByteSink } from './channel.js';
import { ChannelError, toChannelError } from './channel.js';
import { LogEncoder, InvalidEntryError } from './codec.js';
import type { LogEntry, LogHeader, LogHeaderInit } from './format.js';

export interface LogWriterOptions {
  /** Flush when the batch holds this many entries (default 1024). */
  maxBatchEntries?: number;
  /** Flush when the batch's estimated size reaches this many bytes (default 64 KiB). */
  maxBatchBytes?: number;
  /** Flush a non-empty batch at most this long after its first entry, ms (default 2). Needs the event loop to turn. */
  flushDelayMs?: number;
  /** append() returns false while more than this many bytes wait for the sink (default 8 MiB). */
  highWaterBytes?: number;
  /** Called once with the first sink failure (also thrown by later calls). */
  onError?: (err: ChannelError) => void;
}

interface FlushWaiter {
  target: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * Writes one log stream. Lifecycle: construct (queues magic + header),
 * append()* , flush()* , close() (end frame, sink.end()). abort() stops
 * without an end frame (the log then reads as cut).
 */
export class LogWriter {
  readonly header: LogHeader;
  /** Entries appended. */
  entries = 0;
  /** Frames handed to the sink and accepted. */
  framesWritten = 0;
  /** Bytes queued but not yet accepted by the sink. */
  backlogBytes = 0;
  /** icount of the last appended entry (or header.startIcount). */
  lastIcount: number;

  private readonly enc: LogEncoder;
  private batch: LogEntry[] = [];
  private batchBytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private frames: Uint8Array[] = [];
  private framesQueued = 0;
  private pumping = false;
  private waiters: FlushWaiter[] = [];
  private drainWaiters: FlushWaiter[] = [];
  private failure: ChannelError | undefined;
  private closing = false;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly delay: number;
  private readonly highWater: number;

  constructor(
    private readonly sink: ByteSink,
    header: LogHeaderInit,
    private readonly opts: LogWriterOptions = {},
  ) {
    this.enc = new LogEncoder(header);
    this.header = this.enc.header;
    this.lastIcount = this.header.startIcount;
    this.maxEntries = opts.maxBatchEntries ?? 1024;
    this.maxBytes = opts.maxBatchBytes ?? 1 << 16;
    this.delay = opts.flushDelayMs ?? 2;
    this.highWater = opts.highWaterBytes ?? 8 << 20;
    this.enqueue(this.enc.start());
  }

  /** The sink failure, if any. */
  get error(): ChannelError | undefined {
    return this.failure;
  }

  /**
   * Append one entry. Throws InvalidEntryError if it breaks the schema or the
   * icount order, ChannelError if the sink has failed. Returns false when the
   * backlog is above the high-water mark: the caller should await drained().
   * The entry (and its byte arrays) must not be modified afterwards.
   */
  append(e: LogEntry): boolean {
    if (this.failure) throw this.failure;
    if (this.closing) throw new InvalidEntryError('append() after close()');
    LogEncoder.check(e, this.lastIcount);
    this.lastIcount = e.icount;
    this.batch.push(e);
    this.entries++;
    this.batchBytes += 12 + payloadBytes(e);
    if (this.batch.length >= this.maxEntries || this.batchBytes >= this.maxBytes) this.cutBatch();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.onTimer(), this.delay);
    return this.backlogBytes <= this.highWater;
  }

  /** Write the current batch now and resolve when every frame so far is accepted by the sink. */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.cutBatch();
    return this.waitFor(this.framesQueued);
  }

  /**
   * Write the current batch now, synchronously: true when every frame so far is with the sink (a sink
   * with writeSync), false when the sink is asynchronous or has failed (use flush()).
   */
  flushSync(): boolean {
    if (this.failure || !this.sink.writeSync) return false;
    this.cutBatch();
    return !this.failure && this.framesWritten === this.framesQueued;
  }

  /** Resolves when the backlog is at or below the high-water mark. */
  drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.backlogBytes <= this.highWater) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.drainWaiters.push({ target: 0, resolve, reject }));
  }

  /** Flush, write the end frame, end the sink. Idempotent in effect; rejects with the sink failure. */
  async close(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.closing) {
      this.closing = true;
      this.cutBatch();
      this.enqueue(this.enc.end());
    }
    await this.waitFor(this.framesQueued);
    try {
      await this.sink.end();
    } catch (e) {
      throw this.fail(toChannelError(e, 'log sink end'));
    }
  }

  /** Stop now without an end frame (the stream reads as cut). */
  abort(reason?: Error): void {
    this.clearTimer();
    this.closing = true;
    this.fail(new ChannelError('CLOSED', `log writer aborted${reason ? `: ${reason.message}` : ''}`, { cause: reason }));
    this.sink.destroy(reason);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.failure) this.cutBatch();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private cutBatch(): void {
    this.clearTimer();
    if (this.batch.length === 0) return;
    const b = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.enqueue(this.enc.batch(b, true));
  }

  private enqueue(frame: Uint8Array): void {
    this.frames.push(frame);
    this.framesQueued++;
    this.backlogBytes += frame.length;
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.sink.writeSync) { this.pumpSync(this.sink.writeSync.bind(this.sink)); return; }
    this.pumping = true;
    try {
      while (this.frames.length && !this.failure) {
        const f = this.frames.shift()!;
        try {
          await this.sink.write(f);
        } catch (e) {
          this.fail(toChannelError(e, 'log sink write'));
          return;
        }
        this.backlogBytes -= f.length;
        this.framesWritten++;
        this.settle();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** A synchronous sink: every queued frame goes now, in order (never re-entered: the sink does not append). */
  private pumpSync(write: (chunk: Uint8Array) => void): void {
    while (this.frames.length && !this.failure) {
      const f = this.frames.shift()!;
      try {
        write(f);
      } catch (e) {
        this.fail(toChannelError(e, 'log sink write'));
        return;
      }
      this.backlogBytes -= f.length;
      this.framesWritten++;
    }
    this.settle();
  }

  private settle(): void {
    if (this.waiters.length) {
      const keep: FlushWaiter[] = [];
      for (const w of this.waiters) (w.target <= this.framesWritten ? w.resolve() : keep.push(w));
      this.waiters = keep;
    }
    if (this.drainWaiters.length && this.backlogBytes <= this.highWater) for (const w of this.drainWaiters.splice(0)) w.resolve();
  }

  private waitFor(target: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.framesWritten >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.waiters.push({ target, resolve, reject }));
  }

  private fail(err: ChannelError): ChannelError {
    if (this.failure) return this.failure;
    this.failure = err;
    this.clearTimer();
    this.frames.length = 0;
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const w of this.drainWaiters.splice(0)) w.reject(err);
    try {
      this.opts.onError?.(err);
    } catch {
      // a throwing onError must not turn into an unhandled exception here
    }
    return err;
  }
}

function payloadBytes(e: LogEntry): number {
  const p = e.payload as unknown as Record<string, unknown>;
  if ('data' in p && p.data instanceof Uint8Array) return p.data.length;
  if ('hash' in p && p.hash instanceof Uint8Array) return p.hash.length;
  return 0;
}
