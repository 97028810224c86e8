// `x86ft log inspect FILE`: what a record/replay log holds and whether it is
// finished, cut or corrupted. Reads the file through the replay channel and
// codec; never touches a Machine.

import { stat } from 'node:fs/promises';
import { ChannelError } from '../replay/channel.js';
import { checkInputFile, openLogSource, LOG_HINT } from './inputs.js';
import { LogDecoder, LogEncoder, LogError } from '../replay/codec.js';
import { ENTRY_KINDS, ENTRY_SCHEMA, HeaderMismatchError, canonicalJson, type EntryKind, type LogEntry } from '../replay/format.js';
import { recorderOf } from '../replay/reader.js';
import { usageLine, suggest, UsageError } from './usage.js';
import { parseArgs } from './args.js';
import { fsErrorText } from '../errors.js';
import { hex64 } from '../hex.js';
import { Progress } from './progress.js';

/** Exit codes of `x86ft log`. */
export const LOG_EXIT = {
  /** The log is finished (has its end frame) and every frame is valid. */
  FINISHED: 0,
  /** The file could not be read. */
  IO_ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  /** The log is unfinished (cut): it just stops, after or inside its last frame, with no end frame
   *  (a killed recorder); everything before is valid. */
  CUT: 3,
  /** The log is bad: damage followed by more bytes, a failed CRC, length, sequence or link check,
   *  or an undecodable frame (format.ts M1-M15; `replay` also checks content, M16-M17). */
  CORRUPT: 4,
  /** The log's format version is not supported by this build. */
  UNSUPPORTED: 5,
} as const;

export interface CliIO {
  out(s: string): void;
  err(s: string): void;
}

const defaultIO: CliIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

const USAGE = `usage: x86ft log inspect FILE [--head N] [--tail N] [--follow [--idle-ms MS]]
       x86ft log dump FILE [--json] [--from N] [--to M] [--kind K]...   every entry (icount N..M), one a line
       x86ft log diff A B [--ignore KIND]...   the first entry where two logs differ (exit 8), or "identical" (exit 0)

Prints the header, entry counts and bytes by kind, the instruction span, the
first and last entries, and whether the log is finished, cut or corrupted.
FILE is a regular file or - (stdin); with --follow also a FIFO (else status 2).
  --head N     entries to show from the start (default 5)
  --tail N     entries to show from the end (default 5)
  --follow     the file is still being written: wait for its end frame
  --idle-ms MS with --follow, give up after MS ms without growth (default 5000); a
               recorder on this host is waited for while its process exists
exit status: 0 finished, 1 I/O error, 2 usage, 3 unfinished (cut), 4 corrupted, 5 unsupported version
`;

/** Entry point for `x86ft log ...` (argv after "log"). Returns the exit code. */
export async function logCommand(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) {
    // a usage error like any other: one line on stderr (the help is one option away)
    io.err(usageLine('log', 'missing subcommand (inspect, dump, diff)', USAGE));
    return LOG_EXIT.USAGE;
  }
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(USAGE);
    return LOG_EXIT.FINISHED;
  }
  if (['inspect', 'dump', 'diff'].includes(sub) && (rest.includes('--help') || rest.includes('-h'))) { io.out(USAGE); return LOG_EXIT.FINISHED; }
  if (sub === 'dump') return (await import('../debug/logdump.js')).logDump(rest, io, USAGE);
  if (sub === 'diff') return (await import('../debug/logdump.js')).logDiff(rest, io, USAGE);
  if (sub !== 'inspect') {
    io.err(usageLine('log', `unknown subcommand '${sub}' (inspect, dump, diff)${suggest(sub, ['inspect', 'dump', 'diff'])}`, USAGE));
    return LOG_EXIT.USAGE;
  }
  let file: string | undefined;
  let head = 5;
  let tail = 5;
  let follow = false;
  let idleMs = 5000;
  try {
    const needs = (a: string): string => `${a} needs a non-negative integer`;
    file = parseArgs(rest, {
      flags: ['--follow'], values: ['--head', '--tail', '--idle-ms'], emptyOk: 'all', maxPositionals: 1, dashIsArgument: true, missing: needs,
      on: (a, v) => {
        if (v === true) { follow = true; return; }
        if (!/^\d+$/.test(v)) throw new UsageError(needs(a));
        if (a === '--head') head = Number(v); else if (a === '--tail') tail = Number(v); else idleMs = Number(v);
      },
    }).positionals[0];
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(usageLine('log inspect', e.message, USAGE));
    return LOG_EXIT.USAGE;
  }
  if (file === undefined) {
    io.err(usageLine('log inspect', 'missing FILE', USAGE));
    return LOG_EXIT.USAGE;
  }
  try { checkInputFile(file, 'log', { dash: true, fifo: follow, hint: LOG_HINT }); } catch (e) {
    io.err(`x86ft log inspect: ${(e as Error).message}\n`);
    return LOG_EXIT.USAGE;
  }
  return inspect(file, { head, tail, follow, idleMs }, io);
}

interface KindStat {
  count: number;
  bytes: number;
}

async function inspect(file: string, o: { head: number; tail: number; follow: boolean; idleMs: number }, io: CliIO): Promise<number> {
  const d = new LogDecoder();
  const first: LogEntry[] = [];
  const last: LogEntry[] = [];
  const byKind = new Map<EntryKind, KindStat>();
  let sizer: LogEncoder | undefined;
  let prev = 0;
  let firstIcount: number | undefined;
  let failure: unknown;
  let headerPrinted = false;
  let progress: Progress | undefined;

  const printHeader = (): void => {
    const h = d.header;
    if (headerPrinted || !h) return;
    headerPrinted = true;
    progress?.output('\n'); // the header's lines end with a newline
    io.out(`format:       x86ft log, version ${h.version}\n`);
    io.out(`image:        sha256 ${h.imageSha256}\n`);
    io.out(`memory:       ${h.memorySize} bytes (${(h.memorySize / (1 << 20)).toFixed(h.memorySize % (1 << 20) ? 2 : 0)} MiB)\n`);
    io.out(`devices:      ${canonicalJson(h.devices)}\n`);
    io.out(`digests:      ${h.digestInterval ? `every ${h.digestInterval} instructions` : 'none'}\n`);
    io.out(`starts:       ${h.fromSnapshot ? `from snapshot ${h.fromSnapshot}` : 'from boot'} at icount ${h.startIcount}\n`);
    if (h.recorder) io.out(`recorder:     pid ${h.recorder.pid} on ${h.recorder.host}\n`);
    if (h.ft) io.out(`ft:           VM ${h.ft.vm}, generation ${h.ft.generation}${h.ft.previousGeneration === null ? '' : ` (after generation ${h.ft.previousGeneration})`}\n`);
  };
  const take = (e: LogEntry): void => {
    if (!sizer) {
      sizer = new LogEncoder(d.header!);
      prev = d.header!.startIcount;
    }
    firstIcount ??= e.icount;
    let s = byKind.get(e.kind);
    if (!s) byKind.set(e.kind, (s = { count: 0, bytes: 0 }));
    s.count++;
    s.bytes += sizer.entrySize(e, prev);
    prev = e.icount;
    if (first.length < o.head) first.push(e);
    else if (o.tail > 0) {
      last.push(e);
      if (last.length > o.tail) last.shift();
    }
  };

  let size: number;
  try {
    size = file === '-' ? 0 : (await stat(file)).size;
  } catch (e) {
    if (!o.follow) {
      io.err(`x86ft log inspect: cannot read ${file}: ${fsErrorText(e)}\n`);
      return LOG_EXIT.IO_ERROR;
    }
    size = 0;
  }
  io.out(`file:         ${file}${o.follow || file === '-' ? '' : ` (${size} bytes)`}\n`);
  let readBytes = 0, entries = 0;
  // --follow can wait a long time: on a terminal, a progress line (cleared before the report's lines)
  progress = new Progress('log inspect', () => ({ entries, lastIcount: d.lastIcount, logBytes: readBytes }), o.follow && io === defaultIO);
  try {
    const src = openLogSource(file, { follow: o.follow, idleTimeoutMs: o.idleMs, writer: o.follow ? recorderOf(file) : undefined });
    for await (const chunk of src) {
      readBytes += chunk.length;
      d.push(chunk);
      for (let e = d.read(); e !== undefined; e = d.read()) { take(e); entries++; }
      printHeader();
      if (d.finished) break;
    }
    d.eof();
    for (let e = d.read(); e !== undefined; e = d.read()) take(e);
  } catch (e) {
    failure = e;
  }
  progress.stop();
  printHeader();
  if (failure instanceof ChannelError) {
    io.err(`x86ft log inspect: cannot read ${file}: ${failure.message}\n`);
    return LOG_EXIT.IO_ERROR;
  }

  const total = [...byKind.values()].reduce((a, s) => a + s.count, 0);
  const entryBytes = [...byKind.values()].reduce((a, s) => a + s.bytes, 0);
  io.out(`entries:      ${total} in ${Math.max(0, d.frames - (d.header ? 1 : 0) - (d.finished ? 1 : 0))} batch frame(s)\n`);
  if (total > 0) io.out(`icount span:  ${firstIcount} .. ${d.lastIcount} (${d.lastIcount - firstIcount!} instructions)\n`);
  if (byKind.size) {
    io.out('by kind:      kind            count        bytes  bytes/entry\n');
    for (const k of ENTRY_KINDS) {
      const s = byKind.get(k);
      if (!s) continue;
      io.out(`              ${k.padEnd(14)} ${String(s.count).padStart(6)} ${String(s.bytes).padStart(12)} ${(s.bytes / s.count).toFixed(1).padStart(12)}\n`);
    }
    io.out(`              ${'(framing)'.padEnd(14)} ${''.padStart(6)} ${String(d.offset - entryBytes).padStart(12)}\n`);
  }
  if (first.length) {
    io.out(`first ${first.length}:\n`);
    for (const e of first) io.out(`  ${formatEntry(e)}\n`);
  }
  if (last.length) {
    io.out(`last ${last.length}:\n`);
    for (const e of last) io.out(`  ${formatEntry(e)}\n`);
  }

  if (failure === undefined && d.trailer) {
    io.out(`status:       finished (end frame: ${d.trailer.entries} entries, last icount ${d.trailer.lastIcount}; ${d.offset} bytes)\n`);
    return LOG_EXIT.FINISHED;
  }
  if (failure instanceof LogError) {
    switch (failure.code) {
      case 'LOG_TRUNCATED':
        io.out(`status:       cut at offset ${failure.offset} (unfinished: no end frame; ${total} valid entries before it)\n`);
        return LOG_EXIT.CUT;
      case 'LOG_CORRUPT':
        io.out(`status:       corrupted at offset ${failure.offset}: ${(failure as LogError & { reason: string }).reason} (${total} valid entries before it)\n`);
        return LOG_EXIT.CORRUPT;
      case 'LOG_VERSION':
        io.out(`status:       unsupported: ${failure.message}\n`);
        return LOG_EXIT.UNSUPPORTED;
    }
  }
  if (failure instanceof HeaderMismatchError) {
    io.out(`status:       ${failure.message}\n`);
    return LOG_EXIT.CORRUPT;
  }
  io.err(`x86ft log inspect: ${(failure as Error)?.message ?? 'unexpected end of log'}\n`);
  return LOG_EXIT.IO_ERROR;
}

/** One entry on one line: `@icount kind field=value ...`. */
export function formatEntry(e: LogEntry): string {
  const p = e.payload as unknown as Record<string, unknown>;
  const parts: string[] = [];
  const fields = ENTRY_SCHEMA[e.kind].fields.map(([n]) => n);
  for (const n of fields) {
    const v = p[n];
    if (n === 'hi' && fields.includes('lo')) continue;
    if (n === 'lo' && fields.includes('hi')) {
      const hi = p.hi as number;
      // the 32-bit halves as unsigned whatever sign they were stored with
      parts.push(`value=${hex64((BigInt(hi >>> 0) << 32n) | BigInt((v as number) >>> 0))}`);
    } else if (v instanceof Uint8Array) {
      const hex = Buffer.from(v.subarray(0, 16)).toString('hex');
      parts.push(`${n}[${v.length}]=${hex}${v.length > 16 ? '…' : ''}`);
    } else if ((n === 'port' || n === 'addr' || n === 'value') && typeof v === 'number') parts.push(`${n}=${hex64(v)}`);
    else if (typeof v === 'string') parts.push(`${n}=${JSON.stringify(v)}`);
    else parts.push(`${n}=${String(v)}`);
  }
  return `@${e.icount} ${e.kind} ${parts.join(' ')}`;
}
