// File transport: a sink that writes a file, a source that reads a finished
// file or follows one still being written (like `tail -f`). Knows bytes
// only: following stops when the consumer stops (the log reader stops at
// the end frame), on close(), or after an idle timeout.

import { open, type FileHandle } from 'node:fs/promises';
import { ChannelError, toChannelError, type ByteSink, type ByteSource, type SinkStats } from './channel.js';

export interface FileSinkOptions {
  /** 'w' truncate (default), 'wx' fail if it exists, 'a' append. */
  flags?: 'w' | 'wx' | 'a';
  /** fdatasync on end() (default false). */
  sync?: boolean;
}

/** Open `path` for writing. Rejects with ChannelError. */
export async function openFileSink(path: string, opts: FileSinkOptions = {}): Promise<ByteSink> {
  let fh: FileHandle;
  try {
    fh = await open(path, opts.flags ?? 'w');
  } catch (e) {
    throw toChannelError(e, `open ${path}`);
  }
  const stats: SinkStats = { bytes: 0, waits: 0 };
  let chain: Promise<void> = Promise.resolve();
  let failure: ChannelError | undefined;
  let closed = false;

  const writeAll = async (chunk: Uint8Array): Promise<void> => {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
      off += bytesWritten;
    }
  };
  const closeQuietly = (): void => {
    fh.close().catch(() => undefined);
  };

  return {
    stats,
    write(chunk) {
      if (failure) return Promise.reject(failure);
      if (closed) return Promise.reject(new ChannelError('CLOSED', `${path}: write after end`));
      stats.bytes += chunk.length;
      stats.waits++; // every file write waits for the OS
      const p = chain.then(async () => {
        if (failure) throw failure;
        try {
          await writeAll(chunk);
        } catch (e) {
          failure = toChannelError(e, `write ${path}`);
          throw failure;
        }
      });
      chain = p.catch(() => undefined);
      return p;
    },
    async end() {
      if (closed) return;
      closed = true;
      await chain;
      if (failure) {
        closeQuietly();
        throw failure;
      }
      try {
        if (opts.sync) await fh.datasync();
        await fh.close();
      } catch (e) {
        throw toChannelError(e, `close ${path}`);
      }
    },
    destroy(reason) {
      if (failure) return;
      failure = new ChannelError('CLOSED', `${path}: sink destroyed${reason ? `: ${reason.message}` : ''}`, { cause: reason });
      const wasClosed = closed;
      closed = true;
      if (!wasClosed) void chain.then(closeQuietly);
    },
  };
}

export interface FileSourceOptions {
  /** Keep reading as the file grows (default false: stop at end of file). */
  follow?: boolean;
  /** Poll interval while following, ms (default 5). */
  pollMs?: number;
  /** While following, end the stream after this long without growth, ms (default: never), unless
   *  `writer` says the writer is alive. */
  idleTimeoutMs?: number;
  /** While following and the file does not grow: is its writer 'alive' (keep waiting however long
   *  it is silent, e.g. a stopped process), 'gone' (end the stream now: nothing more will come) or
   *  'unknown' (idleTimeoutMs decides)? Asked at most every 100 ms of silence. */
  writer?: () => 'alive' | 'gone' | 'unknown';
  /** Read size (default 64 KiB). */
  chunkSize?: number;
  /** Start at this byte offset (default 0). */
  position?: number;
}

/**
 * Read `path` as a byte stream. With `follow`, a missing file is waited for
 * (up to idleTimeoutMs) and end of file means "wait for more".
 */
export function openFileSource(path: string, opts: FileSourceOptions = {}): ByteSource {
  const follow = opts.follow ?? false;
  const pollMs = opts.pollMs ?? 5;
  const chunkSize = opts.chunkSize ?? 1 << 16;
  let closed = false;
  let wake: (() => void) | undefined;
  let started = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function* chunks(): AsyncGenerator<Uint8Array> {
    let fh: FileHandle | undefined;
    let idleSince = Date.now();
    try {
      while (!fh) {
        try {
          fh = await open(path, 'r');
        } catch (e) {
          const ce = toChannelError(e, `open ${path}`);
          if (!follow || ce.code !== 'NOT_FOUND') throw ce;
          if (opts.idleTimeoutMs !== undefined && Date.now() - idleSince >= opts.idleTimeoutMs)
            throw new ChannelError('TIMEOUT', `${path} did not appear within ${opts.idleTimeoutMs} ms`);
          if (closed) return;
          await sleep(pollMs);
          if (closed) return;
        }
      }
      let pos = opts.position ?? 0;
      idleSince = Date.now();
      let askedAt = 0, lastLook = false;
      let writerState: 'alive' | 'gone' | 'unknown' = 'unknown';
      for (;;) {
        if (closed) return;
        const buf = new Uint8Array(chunkSize);
        let n: number;
        try {
          n = (await fh.read(buf, 0, chunkSize, pos)).bytesRead;
        } catch (e) {
          throw toChannelError(e, `read ${path}`);
        }
        if (n > 0) {
          pos += n;
          idleSince = Date.now();
          lastLook = false;
          writerState = 'unknown';
          yield n === chunkSize ? buf : buf.slice(0, n);
          continue;
        }
        if (!follow) return;
        const now = Date.now();
        if (opts.writer && now - askedAt >= 100) {
          askedAt = now;
          writerState = opts.writer();
          // gone: one more read catches bytes written just before it ended
          if (writerState === 'gone' && lastLook) return;
          lastLook = writerState === 'gone';
          if (lastLook) continue;
        }
        if (writerState !== 'alive' && opts.idleTimeoutMs !== undefined && now - idleSince >= opts.idleTimeoutMs) return;
        await sleep(pollMs);
      }
    } finally {
      if (fh) await fh.close().catch(() => undefined);
    }
  }

  let gen: AsyncGenerator<Uint8Array> | undefined;
  return {
    close() {
      closed = true;
      wake?.();
    },
    [Symbol.asyncIterator]() {
      if (started) throw new ChannelError('IO', `${path}: source iterated twice`);
      started = true;
      gen = chunks();
      return gen;
    },
  };
}
