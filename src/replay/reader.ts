// Async log reading over any ByteSource (or async iterable of chunks): yields
// entries as frames complete, stops at the end frame, and throws a typed
// error for a cut, corrupted or mismatching log (with `content: true`, also for content impossible
// for the header's machine, format.ts M16, M17: the replayer asks for it). Takes bytes, never a Machine.

import { openSync, readSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { openFileSource, type FileSourceOptions } from './channel-file.js';
import { LogDecoder, type DecoderOptions, type LogTrailer } from './codec.js';
import type { LogEntry, LogHeader, LogRecorder } from './format.js';
import { processAlive } from './process-id.js';

export { processAlive } from './process-id.js';

export interface ReadLogOptions extends DecoderOptions {
  /** Receives the decoder, e.g. to look at .header, .offset, .frames while reading. */
  decoder?: (d: LogDecoder) => void;
}

/**
 * Entries of the log carried by `source`, in order. Returns the trailer
 * when the end frame is reached (and stops reading the source then, which
 * releases a followed file). Throws TruncatedLogError if the source ends
 * first, CorruptLogError / UnsupportedVersionError / HeaderMismatchError for
 * a bad stream, ChannelError if the transport fails.
 */
export async function* readLog(source: AsyncIterable<Uint8Array>, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry, LogTrailer, undefined> {
  const d = new LogDecoder(opts);
  opts.decoder?.(d);
  for await (const chunk of source) {
    d.push(chunk);
    for (let e = d.read(); e !== undefined; e = d.read()) yield e;
    if (d.trailer) return d.trailer; // leaving the loop closes the source
  }
  d.eof();
  for (let e = d.read(); e !== undefined; e = d.read()) yield e;
  return d.trailer!;
}

/** Read a log file (finished, or still being written with `follow: true`). */
export function readLogFile(path: string, opts: ReadLogOptions & FileSourceOptions = {}): AsyncGenerator<LogEntry, LogTrailer, undefined> {
  return readLog(openFileSource(path, opts), opts);
}

/** Collect a whole log: header, entries, trailer. */
export async function readAll(source: AsyncIterable<Uint8Array>, opts: DecoderOptions = {}): Promise<{ header: LogHeader; entries: LogEntry[]; trailer: LogTrailer }> {
  let dec: LogDecoder | undefined;
  const entries: LogEntry[] = [];
  const it = readLog(source, { ...opts, decoder: (d) => (dec = d) });
  for (;;) {
    const r = await it.next();
    if (r.done) return { header: dec!.header!, entries, trailer: r.value };
    entries.push(r.value);
  }
}

/** The header of the log file at `path` if its first bytes hold a whole, valid one (else undefined). */
export function readLogHeaderSync(path: string, maxBytes = 1 << 16): LogHeader | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = new Uint8Array(maxBytes);
    const n = readSync(fd, buf, 0, maxBytes, 0);
    const d = new LogDecoder();
    d.push(buf.subarray(0, n));
    try { d.read(); } catch { /* a bad frame after the header does not matter here */ }
    return d.header;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * For FileSourceOptions.writer: is the recorder of the log at `path` still writing it? Its header
 * (format v3) names the recorder's host and pid (and its start time): on this host the process is
 * looked at ('alive' while it exists, even stopped; 'gone' once it has ended or its pid belongs to a
 * process started later); elsewhere (or for older logs) it is
 * 'unknown', and the follower's idle limit decides (the recorder's heartbeats every 100 ms keep a
 * live log growing).
 */
export function recorderOf(path: string, host = hostname()): () => 'alive' | 'gone' | 'unknown' {
  let rec: LogRecorder | null | undefined;
  return () => {
    if (rec === undefined) {
      const h = readLogHeaderSync(path);
      if (!h) return 'unknown';
      rec = h.recorder;
    }
    if (!rec || rec.host !== host) return 'unknown';
    return processAlive(rec.pid, rec.startTime) ? 'alive' : 'gone';
  };
}
