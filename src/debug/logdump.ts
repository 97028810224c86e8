// `x86ft log dump LOG [--json] [--from N --to M] [--kind K]` (every entry, one per line) and
// `x86ft log diff A B` (the first entry where two logs differ). Exit statuses: LOG_EXIT's (0 finished /
// identical, 1 I/O error, 2 usage, 3 cut, 4 corrupted, 5 unsupported version) and DIFFER (8) for diff.
import { openLogSource, checkInputFile, LOG_HINT } from '../cli/inputs.js';
import { LogDecoder, LogError } from '../replay/codec.js';
import { ENTRY_KINDS, type LogEntry } from '../replay/format.js';
import { ChannelError } from '../replay/channel.js';
import { formatEntry, LOG_EXIT, type CliIO } from '../cli/log.js';
import { UsageError, usageLine } from '../cli/usage.js';

export const LOG_DIFFER = 8;

/** Every entry of `file` in order (throws LogError for a cut or corrupted log, ChannelError for I/O). */
async function* entries(file: string): AsyncGenerator<LogEntry> {
  const d = new LogDecoder();
  for await (const chunk of openLogSource(file, { follow: false })) {
    d.push(chunk);
    for (let e = d.read(); e !== undefined; e = d.read()) yield e;
    if (d.finished) break;
  }
  d.eof();
  for (let e = d.read(); e !== undefined; e = d.read()) yield e;
}

/** One entry as a plain JSON value: {icount, kind, payload} with byte arrays as hex strings. */
export function entryJson(e: LogEntry): string {
  return JSON.stringify({ icount: e.icount, kind: e.kind, payload: e.payload }, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

function failed(cmd: string, file: string, e: unknown, io: CliIO): number {
  if (e instanceof LogError) {
    io.err(`x86ft log ${cmd}: ${file}: ${e.message}\n`);
    return e.code === 'LOG_TRUNCATED' ? LOG_EXIT.CUT : e.code === 'LOG_VERSION' ? LOG_EXIT.UNSUPPORTED : LOG_EXIT.CORRUPT;
  }
  if (e instanceof ChannelError) { io.err(`x86ft log ${cmd}: cannot read ${file}: ${e.message}\n`); return LOG_EXIT.IO_ERROR; }
  io.err(`x86ft log ${cmd}: ${file}: ${(e as Error).message}\n`);
  return LOG_EXIT.CORRUPT;
}

export async function logDump(argv: string[], io: CliIO, usage: string): Promise<number> {
  let file: string | undefined, json = false, from = 0, to = Infinity;
  const kinds = new Set<string>();
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      const num = (): number => { const v = argv[++i]; if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`${a} needs a non-negative integer`); return Number(v); };
      if (a === '--json') json = true;
      else if (a === '--from') from = num();
      else if (a === '--to') to = num();
      else if (a === '--kind') { const k = argv[++i]; if (k === undefined || !(ENTRY_KINDS as readonly string[]).includes(k)) throw new UsageError(`--kind needs one of ${ENTRY_KINDS.join(', ')}`); kinds.add(k); }
      else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
      else if (file === undefined) file = a;
      else throw new UsageError(`unexpected argument ${a}`);
    }
    if (file === undefined) throw new UsageError('missing LOG');
    checkInputFile(file, 'log', { dash: true, hint: LOG_HINT });
  } catch (e) { io.err(usageLine('log dump', (e as Error).message, usage)); return LOG_EXIT.USAGE; }
  try {
    for await (const e of entries(file)) {
      if (e.icount < from || e.icount > to || (kinds.size > 0 && !kinds.has(e.kind))) continue;
      io.out((json ? entryJson(e) : formatEntry(e)) + '\n');
    }
  } catch (e) { return failed('dump', file, e, io); }
  return LOG_EXIT.FINISHED;
}

/**
 * The entries `log diff` compares: every entry but the recorder's wall clock, which never reaches the guest
 * (format.ts: a start record's epochMs is informational, heartbeats are written every 100 ms of wall time):
 * heartbeat records are left out and a start record is compared by its icount only. `n` is the entry's
 * index in its log. Kinds in `ignore` (`--ignore KIND`) are left out too.
 */
async function* compared(file: string, ignore: ReadonlySet<string>): AsyncGenerator<{ n: number; e: LogEntry; json: string }> {
  let n = 0;
  for await (const e of entries(file)) {
    const at = n++;
    if (e.kind === 'heartbeat' || ignore.has(e.kind)) continue;
    yield { n: at, e, json: e.kind === 'start' ? entryJson({ ...e, payload: { epochMs: 0 } }) : entryJson(e) };
  }
}

export async function logDiff(argv: string[], io: CliIO, usage: string): Promise<number> {
  const files: string[] = [], ignore = new Set<string>();
  try {
    for (let i = 0; i < argv.length; i++) {
      const o = argv[i]!;
      if (o === '--ignore') { const k = argv[++i]; if (k === undefined || !(ENTRY_KINDS as readonly string[]).includes(k)) throw new UsageError(`--ignore needs one of ${ENTRY_KINDS.join(', ')}`); ignore.add(k); }
      else if (o.startsWith('-') && o !== '-') throw new UsageError(`unknown option ${o}`);
      else files.push(o);
    }
    if (files.length !== 2) throw new UsageError('expected two logs A B');
  } catch (e) { io.err(usageLine('log diff', (e as Error).message, usage)); return LOG_EXIT.USAGE; }
  const [a, b] = files as [string, string];
  try { checkInputFile(a, 'log', { hint: LOG_HINT }); checkInputFile(b, 'log', { hint: LOG_HINT }); } catch (e) { io.err(`x86ft log diff: ${(e as Error).message}\n`); return LOG_EXIT.USAGE; }
  const ia = compared(a, ignore), ib = compared(b, ignore);
  for (let n = 0; ; n++) {
    let ea: IteratorResult<{ n: number; e: LogEntry; json: string }>, eb: typeof ea;
    try { ea = await ia.next(); } catch (e) { return failed('diff', a, e, io); }
    try { eb = await ib.next(); } catch (e) { return failed('diff', b, e, io); }
    if (ea.done && eb.done) { io.out(`identical: ${n} entries (heartbeats and the start time, the recorder's wall clock, not compared)\n`); return LOG_EXIT.FINISHED; }
    if ((ea.done ? null : ea.value.json) !== (eb.done ? null : eb.value.json)) {
      io.out(`first difference at entry ${n} of those compared (${a}: entry ${ea.done ? 'none' : ea.value.n}, ${b}: entry ${eb.done ? 'none' : eb.value.n}):\n`);
      io.out(`  ${a}: ${ea.done ? '(end of log)' : formatEntry(ea.value.e)}\n`);
      io.out(`  ${b}: ${eb.done ? '(end of log)' : formatEntry(eb.value.e)}\n`);
      const k = !ea.done && !eb.done && ea.value.e.kind === eb.value.e.kind ? ea.value.e.kind : '';
      if (k === 'rtc' || k === 'host-time') {
        io.out(`(a host clock reading the guest got: a real difference between two recordings; --ignore ${k} compares without it)\n`);
      }
      return LOG_DIFFER;
    }
  }
}
