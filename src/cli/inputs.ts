// Files the CLI reads, checked before they are opened: an ELF image, a snapshot or a log must be a
// regular file (a FIFO blocks an open or a read forever, a device such as /dev/zero never ends);
// a log may also be `-` (stdin) or, when followed, a FIFO. Refusals are usage errors (exit 2).

import { statSync } from 'node:fs';
import { openFifoReader } from '../devices/backends/console.js';
import { openFileSource, type FileSourceOptions } from '../replay/channel-file.js';
import { streamSource } from '../replay/channel-stream.js';
import { toChannelError, type ByteSource } from '../replay/channel.js';
import { X86ftError } from '../errors.js';

/** A file given on the command line is of a kind the command cannot read (exit status 2). */
export class InputKindError extends X86ftError {
  constructor(message: string) { super('X86FT_HOST_RESOURCE', message); this.name = 'InputKindError'; }
}

function kindName(st: import('node:fs').Stats): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
}

/**
 * Checks that `path` (a `what`, e.g. "ELF image") is a regular file, or a FIFO when `fifo` is set,
 * or `-` when `dash` is set (`hint` replaces the list of alternatives in the message). Returns the kind; a path that cannot be stat'ed returns 'missing' (the
 * open that follows reports it as before). Throws InputKindError otherwise. Follows symbolic links.
 */
export function checkInputFile(path: string, what: string, allow: { fifo?: boolean; dash?: boolean; hint?: string } = {}): 'file' | 'fifo' | 'stdin' | 'missing' {
  if (path === '-' && allow.dash) return 'stdin';
  let st;
  try { st = statSync(path); } catch { return 'missing'; }
  if (st.isFile()) return 'file';
  if (st.isFIFO() && allow.fifo) return 'fifo';
  const also = allow.hint ?? [allow.dash ? '`-` for stdin' : '', allow.fifo ? 'a FIFO' : ''].filter(Boolean).join(' or ');
  throw new InputKindError(`${what} ${path} is ${kindName(st)}: give a regular file${also ? ` (or ${also})` : ''}`);
}

/** The alternatives to a regular file a log reader names when it refuses one. */
export const LOG_HINT = '`-` for stdin, or a FIFO with --follow';

/**
 * Opens a log for reading: `-` is stdin, a FIFO (only with `follow`) is read without blocking as
 * its writer writes, anything else goes through openFileSource. Call checkInputFile first.
 */
export function openLogSource(path: string, opts: { follow: boolean; idleTimeoutMs?: number; writer?: FileSourceOptions['writer'] }): ByteSource {
  if (path === '-') return streamSource(process.stdin, 'stdin');
  let fifo = false;
  try { fifo = statSync(path).isFIFO(); } catch { /* openFileSource reports it */ }
  if (!fifo) return openFileSource(path, opts.follow ? { follow: true, idleTimeoutMs: opts.idleTimeoutMs, writer: opts.writer } : {});
  try { return streamSource(openFifoReader(path), path); } catch (e) { throw toChannelError(e, `open ${path}`); }
}
