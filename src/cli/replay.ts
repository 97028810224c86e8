// `x86ft replay FILE --image guest.elf`: re-run a recorded guest from its log with no host inputs,
// check every digest, and report "replay identical" or the first divergence.

import { readFileSync } from 'node:fs';
import { ChannelError } from '../replay/channel.js';
import { LogError, TruncatedLogError } from '../replay/codec.js';
import { recorderOf } from '../replay/reader.js';
import { HeaderMismatchError } from '../replay/format.js';
import { Replayer, ReplaySetupError, type ReplayReport } from '../replay/replayer.js';
import { fullStateHash } from '../replay/digest.js';
import { parseCount, parseArgs } from './args.js';
import { dumpState, formatDump } from '../debug/dump.js';
import { checkInputFile, openLogSource, LOG_HINT } from './inputs.js';
import { ChainError, chainLogs, fileLinks, type ChainInfo } from '../replay/chain.js';
import { listGenerationLogs, storePath } from '../ft/store.js';
import { checkName, openControl, parseControlSpec } from '../ft/control.js';
import { usageLine, UsageError, internalMessage } from './usage.js';
import { Progress } from './progress.js';
import { X86ftError, fsErrorText } from '../errors.js';
import { GdbStub } from '../debug/gdbstub.js';
import { ReplayTimeline } from '../debug/timeline.js';

/** Exit statuses of `x86ft replay`. */
export const REPLAY_EXIT = {
  /** Every digest matched and the run ended as recorded. */
  IDENTICAL: 0,
  /** The log or image file could not be read (or --control found no generation logs, or failed). */
  IO_ERROR: 1,
  USAGE: 2,
  /** The replay diverged from the recording (report on stdout). */
  DIVERGENCE: 3,
  /** The log is cut, corrupted or of an unsupported version: nothing was concluded about the replay. */
  BAD_LOG: 4,
  /** The log is not for this image / snapshot (header or hash mismatch). */
  MISMATCH: 5,
  /** The log is unfinished (it just stops: a killed recorder, or --follow gave up) or holds no end
   *  record, or --stop-at came first: replayed as far as it goes, identical so far. */
  INCOMPLETE: 6,
  /** A bug in x86ft (reported on one line, no stack trace unless X86FT_DEBUG=1). */
  INTERNAL: 127,
} as const;

const HELP = `usage: x86ft replay FILE --image <guest.elf> [options]
       x86ft replay GEN1.log GEN2.log … --image <guest.elf> [options]
       x86ft replay --control SPEC NAME [--image <guest.elf>] [--store PATH] [options]

Re-runs the recorded guest from log FILE alone (no host input is read) and checks every digest at
its exact instruction count. The guest's outputs are suppressed: its console output is copied to
stderr (not stdout) unless --quiet, frames and disk writes go nowhere. On stdout it prints the
instruction count, the digests checked, the final machine state hash, and either "replay identical"
or the divergence report (instruction count, first differing register / memory page / device, and
the last log entries before it). FILE is a regular file, or - for stdin; with --follow also a
FIFO. The image and snapshot must be regular files: anything else is refused (status 2) unopened.

Several logs are the generation logs of one FT VM, replayed as one run: generation g's entries
before the next log's start instruction, then the next log (the rest of g's log is not a
divergence). --control SPEC NAME replays the generation logs of FT VM NAME: STORE/vms/NAME/gen-<g>.log,
where STORE is --store, else the store in the VM's record, else the dir: path; the image defaults to
the one in the VM's record.

  --image FILE       the guest ELF (its SHA-256 must match the log header)
  --snapshot FILE    the snapshot the log starts from (when the header names one)
  --control SPEC     dir:PATH or etcd:HOST:PORT[,…], with NAME: replay the generation logs of FT VM NAME
  --store PATH       the shared storage holding them (default: the VM record's, else the dir: path)
  --follow           FILE is still being written: follow it until its end frame (one log only)
  --idle-ms MS       with --follow, give up after MS ms without growth (default 10000); a
                     recorder on this host (named in the log header) is waited for as long as
                     its process exists, even stopped; a remote one writes heartbeats every
                     100 ms, so MS is how long it may be silent
  --stop-at N        stop after N instructions (total count) even if the log goes on
  --quiet            do not copy the guest's console output to stderr
  --dump [--json]    instead of the report, print the full architectural state where the replay
                     stopped (with --stop-at N: at instruction N); --json as one JSON object
  --gdb PORT         wait for gdb on 127.0.0.1:PORT (0: a free port, printed) and replay under its
                     control, forward and in reverse (reverse-stepi/-step/-continue/-finish); register
                     and memory writes are refused; exit 0 when the gdb session ends
  --checkpoint-every N  with --gdb: instructions between in-memory checkpoints (default 10000000)

exit status: ${REPLAY_EXIT.IDENTICAL} replay identical; ${REPLAY_EXIT.IO_ERROR} a file could not be read; ${REPLAY_EXIT.USAGE} usage; ${REPLAY_EXIT.DIVERGENCE} divergence;
${REPLAY_EXIT.BAD_LOG} bad log (damaged followed by more bytes, failed CRC/length/sequence check, bad content, unsupported version); ${REPLAY_EXIT.MISMATCH} log is not for this image/snapshot (or the snapshot is missing,
corrupted or not the one the log names, or given for a log from boot; or the logs do not form one chain); ${REPLAY_EXIT.INCOMPLETE} unfinished log (it just stops: replayed to its last whole frame) or no end record reached (or --stop-at);
${REPLAY_EXIT.INTERNAL} internal error (a bug).
`;

/** The report as printed on stdout. */
export function formatReport(r: ReplayReport, stateHash?: string): string {
  const lines: string[] = [];
  lines.push(`instructions: ${r.instructions}`);
  lines.push(`digests checked: ${r.digestsChecked} (every ${r.header.digestInterval || '-'} instructions), log entries: ${r.entries}`);
  lines.push(`suppressed output: ${r.consoleBytes} console bytes, ${r.frames} frames`);
  if (r.recordedEnd) lines.push(`recorded end: ${r.recordedEnd.reason} (status ${r.recordedEnd.status})`);
  if (r.run && r.run.end !== 'budget') lines.push(`replayed end: ${r.run.end}${r.run.end === 'exit' ? ` (status ${r.run.status})` : ''}`);
  if (stateHash) lines.push(`state sha256: ${stateHash}`);
  if (r.outcome === 'identical') lines.push('replay identical');
  else if (r.outcome === 'incomplete' && r.unfinished) lines.push(`replay incomplete: the log is unfinished (${r.unfinished.message}); replayed to its last whole frame, identical so far`);
  else if (r.outcome === 'incomplete') lines.push('replay incomplete: no end record reached (identical so far)');
  else {
    const d = r.divergence!;
    lines.push(`REPLAY DIVERGENCE at instruction ${d.icount} (${d.kind}): ${d.message}`);
    lines.push(`last matching digest: ${d.lastGoodDigest < 0 ? 'none' : `at instruction ${d.lastGoodDigest}`}`);
    if (d.lastEntries.length) {
      lines.push('last log entries before it:');
      for (const e of d.lastEntries) lines.push(`  ${e}`);
    }
  }
  return lines.join('\n') + '\n';
}

export async function replayCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HELP); return 0; }
  const files: string[] = [];
  let image: string | undefined, snapshot: string | undefined, control: string | undefined, store: string | undefined;
  let follow = false, quiet = false, idleMs = 10_000, stopAt: number | undefined, dump = false, json = false;
  let gdb: number | undefined, checkpointEvery: number | undefined;
  try {
    files.push(...parseArgs(argv, {
      flags: ['--follow', '--quiet', '--dump', '--json'],
      values: ['--image', '--snapshot', '--control', '--store', '--idle-ms', '--stop-at', '--gdb', '--checkpoint-every'],
      maxPositionals: Infinity, dashIsArgument: true,
      on: (a, v) => {
        if (v === true) { if (a === '--follow') follow = true; else if (a === '--quiet') quiet = true; else if (a === '--dump') dump = true; else json = true; }
        else if (a === '--image') image = v;
        else if (a === '--snapshot') snapshot = v;
        else if (a === '--control') control = v;
        else if (a === '--store') store = v;
        else if (a === '--idle-ms') idleMs = parseCount(v, a);
        else if (a === '--stop-at') stopAt = parseCount(v, a);
        else if (a === '--gdb') { if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`--gdb: expected a TCP port 0-65535, got '${v}'`); gdb = Number(v); }
        else { checkpointEvery = parseCount(v, a); if (checkpointEvery < 1) throw new UsageError('--checkpoint-every must be at least 1'); }
      },
    }).positionals);
    if (control !== undefined) {
      if (files.length !== 1) throw new UsageError('--control needs exactly one VM NAME');
      checkName('VM name', files[0]!);
      parseControlSpec(control);
    } else if (store !== undefined) throw new UsageError('--store goes with --control');
    if (!files.length) throw new UsageError('missing log FILE');
    if (json && !dump) throw new UsageError('--json goes with --dump');
    if (gdb !== undefined && (follow || dump)) throw new UsageError(`--gdb does not go with ${follow ? '--follow' : '--dump'}`);
    if (checkpointEvery !== undefined && gdb === undefined) throw new UsageError('--checkpoint-every goes with --gdb');
    if (follow && (files.length > 1 || control !== undefined)) throw new UsageError('--follow follows one log, not a chain');
    if (image === undefined && snapshot === undefined && control === undefined) throw new UsageError('--image FILE is required');
  } catch (e) {
    process.stderr.write(usageLine('replay', (e as Error).message, HELP));
    return REPLAY_EXIT.USAGE;
  }
  if (control !== undefined) {
    // the VM's generation logs: in its record's store (or --store, or the dir: path), in generation order
    const vm = files.pop()!;
    try {
      const cp = await openControl(control, { mustExist: true });
      let rec;
      try { rec = await cp.readVm(vm); } finally { await cp.close(); }
      const spec = parseControlSpec(control);
      const where = store ?? rec?.config.store ?? (spec.kind === 'dir' ? spec.path : undefined);
      if (where === undefined) throw new X86ftError('X86FT_NOT_FOUND', `VM ${vm} has no record in ${control}: give --store PATH`);
      image ??= rec?.config.image;
      if (image === undefined) throw new X86ftError('X86FT_NOT_FOUND', `VM ${vm} has no record in ${control}: give --image FILE`);
      files.push(...listGenerationLogs(where, vm, rec?.firstGeneration).map((l) => l.path));
      if (!files.length) throw new X86ftError('X86FT_NOT_FOUND', `no generation logs of VM ${vm} in ${storePath(where, vm, { kind: 'vm' })}`);
    } catch (e) {
      process.stderr.write(`x86ft replay: ${(e as Error).message}\n`);
      return REPLAY_EXIT.IO_ERROR;
    }
  }
  try {
    // before anything is opened: a FIFO or a device would block or never end
    if (image !== undefined) checkInputFile(image, 'ELF image');
    if (snapshot !== undefined) checkInputFile(snapshot, 'snapshot');
    for (const f of files) checkInputFile(f, 'log', { dash: files.length === 1, fifo: follow && files.length === 1, hint: LOG_HINT });
  } catch (e) {
    process.stderr.write(`x86ft replay: ${(e as Error).message}\n`);
    return REPLAY_EXIT.USAGE;
  }
  let imageBytes: Uint8Array | undefined, snapBytes: Uint8Array | undefined;
  try {
    if (image !== undefined) imageBytes = new Uint8Array(readFileSync(image));
  } catch (e) {
    process.stderr.write(`x86ft replay: ELF image ${image}: cannot read (${fsErrorText(e)})\n`);
    return REPLAY_EXIT.IO_ERROR;
  }
  try {
    if (snapshot !== undefined) snapBytes = new Uint8Array(readFileSync(snapshot));
  } catch (e) {
    // the README's status 5 covers "the snapshot is missing"
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`x86ft replay: snapshot file ${snapshot} does not exist\n`);
      return REPLAY_EXIT.MISMATCH;
    }
    process.stderr.write(`x86ft replay: snapshot ${snapshot}: cannot read (${fsErrorText(e)})\n`);
    return REPLAY_EXIT.IO_ERROR;
  }
  const errBuf: number[] = [];
  let readBytes = 0;
  const progress = new Progress('replay', () => ({ instructions: rep.machine?.cpu.icount ?? 0, logBytes: readBytes }), gdb === undefined);
  const flushErr = (): void => {
    if (!errBuf.length) return;
    const b = Uint8Array.from(errBuf);
    errBuf.length = 0;
    progress.output(b);
    process.stderr.write(b);
  };
  /** The log's bytes as they are read (for the progress line). */
  async function* counted(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const c of src) { readBytes += c.length; yield c; }
  }
  const rep = new Replayer({
    image: imageBytes, snapshot: snapBytes, stopAt,
    consoleOut: quiet ? undefined : (b) => { errBuf.push(b); if (b === 10 || errBuf.length >= 4096) flushErr(); },
  });
  let report: ReplayReport;
  const chain: ChainInfo = { links: [] };
  try {
    if (gdb !== undefined) {
      const consoleOut = quiet ? undefined : (b: number) => { errBuf.push(b); if (b === 10 || errBuf.length >= 4096) flushErr(); };
      const source = files.length > 1 ? chainLogs(fileLinks(files)) : openLogSource(files[0]!, { follow: false });
      const code = await replayUnderGdb(await ReplayTimeline.open(source, { image: imageBytes, snapshot: snapBytes, stopAt, checkpointEvery, consoleOut }), gdb);
      flushErr();
      return code;
    }
    const src = files.length > 1 ? chainLogs(fileLinks(files), chain) : openLogSource(files[0]!, { follow, idleTimeoutMs: follow ? idleMs : undefined, writer: follow ? recorderOf(files[0]!) : undefined });
    report = await rep.replay(progress.enabled ? counted(src) : src);
    // a chain whose last log is cut (its primary died: every lost VM's chain): name that log, not the stitched stream
    const lastLink = chain.links.at(-1);
    if (report.unfinished && lastLink?.cutWhere !== undefined) report = { ...report, unfinished: { ...report.unfinished, message: `${lastLink.name}: ${lastLink.cutWhere}` } };
  } catch (e) {
    progress.stop();
    flushErr();
    if (e instanceof TruncatedLogError) { process.stderr.write(`x86ft replay: the log is unfinished before its header is complete: nothing to replay (${e.message})\n`); return REPLAY_EXIT.INCOMPLETE; }
    if (e instanceof LogError) { process.stderr.write(`x86ft replay: bad log: ${e.message}\n`); return REPLAY_EXIT.BAD_LOG; }
    if (e instanceof HeaderMismatchError || e instanceof ReplaySetupError || e instanceof ChainError) { process.stderr.write(`x86ft replay: ${e.message}\n`); return REPLAY_EXIT.MISMATCH; }
    if (e instanceof ChannelError) { process.stderr.write(`x86ft replay: ${e.message}\n`); return REPLAY_EXIT.IO_ERROR; }
    process.stderr.write(`x86ft replay: internal error: ${internalMessage(e)}\n`);
    return REPLAY_EXIT.INTERNAL;
  }
  progress.stop();
  flushErr();
  if (gdb !== undefined) return REPLAY_EXIT.IDENTICAL;
  if (dump && rep.machine) process.stdout.write(formatDump(dumpState(rep.machine), json));
  else process.stdout.write(formatReport(report, rep.machine ? fullStateHash(rep.machine) : undefined));
  switch (report.outcome) {
    case 'identical': return REPLAY_EXIT.IDENTICAL;
    case 'divergence': return REPLAY_EXIT.DIVERGENCE;
    default: return REPLAY_EXIT.INCOMPLETE;
  }
}

/** Serves the replay to gdb until the session ends; exit status 0 (2 when the port cannot be used). */
async function replayUnderGdb(tl: ReplayTimeline, port: number): Promise<number> {
  const stub = new GdbStub(tl.machine, { port, replay: true, timeline: tl });
  try { await stub.listen(); } catch (e) {
    process.stderr.write(`x86ft replay: --gdb ${port}: ${(e as Error).message}\n`);
    return REPLAY_EXIT.USAGE;
  }
  await stub.done;
  return REPLAY_EXIT.IDENTICAL;
}
