// Chain replay (FT.md "Generation logs: the history is one run"): the logs of generations 1, 2, …
// of one FT VM replay as one run. Generation g's entries with icount < G (G = the next log's
// startIcount) are followed by generation g+1's log, and so on; the rest of g's log (written by a
// primary that ran on after G before it died) is not a divergence, and a cut last frame of g is
// fine. chainLogs() stitches the logs into ONE log byte stream (header of the first log, entries,
// end frame of the last), which the Replayer — or anything reading a log — consumes unchanged.
// Reads bytes, never a Machine; imports nothing from src/ft.

import { readLog } from './reader.js';
import { openFileSource } from './channel-file.js';
import { LogEncoder, LogError, TruncatedLogError, type LogDecoder } from './codec.js';
import { canonicalJson, LOG_FORMAT_VERSION, type LogEntry, type LogHeader, type LogHeaderInit } from './format.js';
import { X86ftError } from '../errors.js';

/** One log of a chain: a name for messages and a way to read its bytes (once or more). */
export interface ChainLink {
  name: string;
  open(): AsyncIterable<Uint8Array>;
}

/** The logs do not form one chain (the message names the two logs and the difference). */
export class ChainError extends X86ftError {
  constructor(message: string) { super('LOG_CHAIN', message); this.name = 'ChainError'; }
}

/** Links for log files, in chain order. */
export function fileLinks(paths: readonly string[]): ChainLink[] {
  return paths.map((p) => ({ name: p, open: () => openFileSource(p) }));
}

/** The FT fields of a header (format v3 `ft`), when the log has them. */
interface FtField { vm: string; generation: number; previousGeneration: number | null }
function ftOf(h: LogHeader): FtField | null {
  const ft = (h as unknown as { ft?: unknown }).ft;
  if (!ft || typeof ft !== 'object') return null;
  const f = ft as Record<string, unknown>;
  if (typeof f.vm !== 'string' || typeof f.generation !== 'number') return null;
  return { vm: f.vm, generation: f.generation, previousGeneration: typeof f.previousGeneration === 'number' ? f.previousGeneration : null };
}

/** Reads only the header of a link (stops reading after it). */
async function readHeader(link: ChainLink): Promise<LogHeader> {
  let dec: LogDecoder | undefined;
  const it = readLog(link.open(), { decoder: (d) => (dec = d) });
  try {
    for (;;) {
      const r = await it.next();
      if (dec?.header) return dec.header;
      if (r.done) break;
    }
  } catch (e) {
    if (dec?.header) return dec.header;
    throw named(e, link);
  } finally {
    await it.return(undefined as never).catch(() => undefined);
  }
  throw new ChainError(`${link.name}: no log header`);
}

function named(e: unknown, link: ChainLink): unknown {
  if (e instanceof Error && !e.message.startsWith(link.name)) e.message = `${link.name}: ${e.message}`;
  return e;
}

/** Why header `b` cannot continue the run of header `a` (undefined: it can). */
export function linkProblem(a: LogHeader, b: LogHeader): string | undefined {
  if (b.imageSha256 !== a.imageSha256) return `image ${b.imageSha256} is not ${a.imageSha256}`;
  if (b.memorySize !== a.memorySize) return `memory size ${b.memorySize} is not ${a.memorySize}`;
  if (canonicalJson(b.devices) !== canonicalJson(a.devices)) return `device configuration ${canonicalJson(b.devices)} is not ${canonicalJson(a.devices)}`;
  if (b.fromSnapshot !== null) return `it starts from snapshot ${b.fromSnapshot}, not from where the previous log's run was`;
  if (b.startIcount < a.startIcount) return `it starts at icount ${b.startIcount}, before the previous log (${a.startIcount})`;
  const fa = ftOf(a), fb = ftOf(b);
  if (fa && fb) {
    if (fb.vm !== fa.vm) return `it is of VM ${JSON.stringify(fb.vm)}, not ${JSON.stringify(fa.vm)}`;
    if (fb.previousGeneration !== fa.generation) return `it is generation ${fb.generation} following generation ${String(fb.previousGeneration)}, not ${fa.generation}`;
  }
  return undefined;
}

/** What chainLogs found, for reports (filled in as it goes). */
export interface ChainInfo {
  /** Per link: its name, startIcount, the icount where the next link takes over (Infinity for the last), entries taken and
   *  dropped, and whether the log was cut (`cutWhere`: the reader's message, e.g. "log is cut at offset 15126 (in a frame header)"). */
  links: { name: string; startIcount: number; until: number; taken: number; dropped: number; cut: boolean; cutWhere?: string }[];
}

/** Entries per batch frame of the stitched stream. */
const BATCH = 512;

/**
 * The chain as one log byte stream. Checks every link's header against the previous one (same
 * image, memory and devices; not from a snapshot; startIcount not going back; with v3 `ft`
 * headers: same VM, previousGeneration = the previous log's generation) and throws ChainError
 * before yielding anything if they do not form a chain. Then yields: the first log's header
 * (version: the highest of the links), each link's entries with icount < the next link's
 * startIcount (the last link: all of them), and an end frame when the last log has one. A
 * generation's log that ends (end record) before the next one starts is a ChainError; one that is
 * cut is fine; when the last is cut (its primary died, as for every lost VM) the stream stops after
 * its last whole frame, without an end frame: a reader sees it unfinished, as it would that log.
 * Corrupted logs throw their LogError, its message prefixed with the link's name.
 */
export async function* chainLogs(links: readonly ChainLink[], info?: ChainInfo): AsyncGenerator<Uint8Array, void, undefined> {
  if (!links.length) throw new ChainError('a chain needs at least one log');
  const headers: LogHeader[] = [];
  for (const l of links) headers.push(await readHeader(l));
  for (let k = 1; k < links.length; k++) {
    const why = linkProblem(headers[k - 1]!, headers[k]!);
    if (why) throw new ChainError(`${links[k]!.name} does not continue ${links[k - 1]!.name}: ${why}`);
  }
  const first = headers[0]!;
  const version = Math.max(...headers.map((h) => h.version));
  const enc = new LogEncoder({ ...(first as LogHeaderInit), version: Math.min(version, LOG_FORMAT_VERSION) });
  yield enc.start();
  let batch: LogEntry[] = [];
  for (let k = 0; k < links.length; k++) {
    const link = links[k]!;
    const last = k === links.length - 1;
    const until = last ? Infinity : headers[k + 1]!.startIcount;
    const rec = { name: link.name, startIcount: headers[k]!.startIcount, until, taken: 0, dropped: 0, cut: false };
    info?.links.push(rec);
    const it = readLog(link.open(), { content: true });
    let ended = false;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) { ended = true; break; }
        const e = r.value;
        if (e.icount >= until) { rec.dropped++; break; } // the rest belongs to the next generation
        if (!last && e.kind === 'end') throw new ChainError(`${link.name} ends ('${e.payload.reason}') at icount ${e.icount}, before ${links[k + 1]!.name} starts at ${until}`);
        batch.push(e);
        rec.taken++;
        if (batch.length >= BATCH) { yield enc.batch(batch, true); batch = []; }
      }
    } catch (e) {
      if (!(e instanceof TruncatedLogError)) {
        if (batch.length && e instanceof LogError) { yield enc.batch(batch, true); batch = []; }
        throw named(e, link);
      }
      // a cut last frame of a generation that the next one continues; or the last generation's log
      // cut (its primary died: always so for a lost VM): the stream stops there, cut like that log
      rec.cut = true;
      (rec as ChainInfo['links'][number]).cutWhere = e.message;
      if (last) { if (batch.length) yield enc.batch(batch, true); return; }
    } finally {
      await it.return(undefined as never).catch(() => undefined);
    }
    if (last && ended) {
      if (batch.length) yield enc.batch(batch, true);
      yield enc.end();
    }
  }
}
