// Async log reading over any ByteSource (or async iterable of chunks): yields
// entries as frames complete, stops at the end frame, and throws a typed
// error for a cut, corrupted or mismatching log. Takes bytes, never a Machine.

import { openFileSource, type FileSourceOptions } from './channel-file.js';
import { LogDecoder, type DecoderOptions, type LogTrailer } from './codec.js';
import type { LogEntry, LogHeader } from './format.js';

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
