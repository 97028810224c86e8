// `x86ft record <guest.elf> --log FILE`: run a guest on live host backends (like `run`) and write
// every non-deterministic input, digests and the end record to a log file.

import { openSync, closeSync, constants, statSync } from 'node:fs';
import { ElfError } from '../machine/boot.js';
import type { RunResult } from '../machine/machine.js';
import { openFileSink } from '../replay/channel-file.js';
import { Recorder, SNAPSHOT_END_REASON, sha256Hex } from '../replay/recorder.js';
import { readSnapshotFile, restoredOutputs, writeSnapshotFile } from '../replay/machine-snapshot.js';
import type { ByteSink } from '../replay/channel.js';
import { parseCount } from './args.js';
import { checkInputFile } from './inputs.js';
import { parseHostArgs, openLiveHost, MACHINE_HELP, type HostOptions, type LiveHost } from './host.js';
import { EXIT, endStatus, printStats } from './run.js';
import { usageLine, UsageError } from './usage.js';
import { StdioConsole } from '../devices/backends/console.js';
import { withStatusLine, STATUS_LINE_OPTION, type CommandStatus } from './status-line.js';
import { Progress } from './progress.js';
import { onStopSignal } from './signals.js';

/** Batch delay of `record`'s log writer, ms: a log frame is written at most this long after its first
 *  entry (or when full, or at a flush). The library's 2 ms made CoreMark's recording write ~50 small
 *  frames a second, one write each (~10% more CPU than `run`); at 50 ms a follower (`replay --follow`)
 *  still sees every entry well within the 100 ms heartbeat period. */
export const RECORD_FLUSH_MS = 50;

/** Instructions between two digests of `record`'s logs (--digest-every's default). The library's 1M
 *  (DEFAULT_DIGEST_INTERVAL, which FT roles keep) made a recorded 300-iteration CoreMark run (103M
 *  instructions, 104 digests) take a median 22-30% more CPU than `run`, against ~1% with only the final
 *  digest: each digest hashes the pages written since the last one and took the CPU's dirty-page set
 *  by dropping the write TLB, so every page written next came back through the slow path (and the
 *  compiled blocks that never took it were deoptimised; the write TLB now stays, Cpu.takeDirtyPages). A divergence is still found, at most this many
 *  instructions after it (the final digest covers the rest). */
export const RECORD_DIGEST_EVERY = 10_000_000;

const HELP = `usage: x86ft record <guest.elf> --log FILE [options]
       x86ft record <guest.elf> --log FILE --snapshot-at N --snapshot-out SNAP --log2 FILE2 [options]
       x86ft record --from-snapshot SNAP --image <guest.elf> --log FILE [options]

Runs the guest like 'x86ft run' (its console and network output pass through) and records every
value that entered it from the host into FILE, with a digest of the machine state every N
instructions; 'x86ft replay FILE --image <guest.elf>' re-runs it exactly.

  --log FILE              where the log goes (overwritten)
  --digest-every N        instructions between digests (default ${RECORD_DIGEST_EVERY}; k/M/G suffixes;
                          0 = only the final digest)
  --snapshot-at N         at exactly instruction N take a full machine snapshot, write it to SNAP
  --snapshot-out SNAP     (--snapshot-out) and close FILE there (final digest, a snapshot record,
  --log2 FILE2            end reason '${SNAPSHOT_END_REASON}'); the run goes on, recorded into FILE2, a log
                          that starts from the snapshot (header: its hash, start icount N).
                          'x86ft replay FILE2 --image <guest.elf> --snapshot SNAP' seeds a machine
                          from SNAP and follows FILE2 (e.g. a new secondary); FILE replays the run
                          from boot to N. If the guest ends before N, no snapshot and no FILE2.
  --from-snapshot SNAP    continue the run of SNAP (from its instruction count) on live backends
                          instead of booting; the log's header names SNAP. --image gives the guest
                          ELF (checked against SNAP); the machine configuration comes from SNAP
                          (--mem/--cmdline are ignored), --disk/--net must match its devices.
${MACHINE_HELP}
  --max-instructions N    stop after N retired instructions (recorded as end reason 'budget';
                          exit status ${EXIT.budget})
  --stats                 print instructions, wall time, MIPS and log volume to stderr at the end
  --json                  with --stats: one JSON line instead, {"instructions","wallSeconds","mips","logs":[{"bytes","entries","digests"}]}
  --status-line           end stderr with one line saying who chose the exit status (as 'x86ft run')

When stderr is a terminal, a progress line (instructions, MIPS, log bytes) is shown there.

exit status: as 'x86ft run' (the guest's debug-exit status, ${EXIT.usage} bad arguments or backend, or an
unreadable, corrupted or unfitting --from-snapshot file, ${EXIT.budget} budget, ${EXIT.halt} halt, ${EXIT.fault} guest fault, ${EXIT.internal} internal error); 1 a log or the snapshot could not be written.
SIGINT/SIGTERM stop the guest and finish the log (end reason 'stopped'); while a --log FIFO still waits
for its reader they end x86ft with status 1 and no log.
`;

export function recordCommand(argv: string[]): Promise<number> {
  return withStatusLine('record', argv, () => record(argv));
}

async function record(argv: string[]): Promise<CommandStatus> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HELP); return 0; }
  // SIGINT/SIGTERM (also while the host starts): stop the guest and finish the log; a second one ends x86ft
  const signal = { aborted: false }; // also set by Ctrl-A x on a terminal console
  let stopped!: () => void;
  const stoppedP = new Promise<undefined>((res) => { stopped = () => res(undefined); });
  const unlisten = onStopSignal(() => { signal.aborted = true; stopped(); }, { once: true });
  try { return await recordGuest(argv, signal, stoppedP); } finally { unlisten(); }
}

async function recordGuest(argv: string[], signal: { aborted: boolean }, stoppedP: Promise<undefined>): Promise<CommandStatus> {
  let o: HostOptions;
  let every = RECORD_DIGEST_EVERY;
  let logPath: string;
  let snapAt: number | undefined, snapOut: string | undefined, log2: string | undefined, fromSnap: string | undefined;
  try {
    // --image FILE is another way to name the guest ELF (natural with --from-snapshot)
    const args = argv.slice();
    const ii = args.indexOf('--image');
    if (ii >= 0) {
      if (!args[ii + 1]) throw new UsageError('--image needs a value');
      args.splice(ii, 2, args[ii + 1]!);
    }
    o = parseHostArgs(args, ['--log', '--digest-every', '--snapshot-at', '--snapshot-out', '--log2', '--from-snapshot'], ['--json', STATUS_LINE_OPTION]);
    if (o.rest.has('--json') && !o.stats) throw new UsageError('--json goes with --stats');
    const str = (k: string): string | undefined => { const v = o.rest.get(k); return typeof v === 'string' ? v : undefined; };
    const l = str('--log');
    if (l === undefined) throw new UsageError('--log FILE is required');
    // '-' is stdin for replay and log inspect; a log written to stdout would mix with the guest's console
    for (const k of ['--log', '--log2']) if (str(k) === '-') throw new UsageError(`${k} -: a log goes to a file or a FIFO, not to stdout`);
    logPath = l;
    const d = str('--digest-every');
    if (d !== undefined) every = parseCount(d, '--digest-every');
    const sa = str('--snapshot-at');
    if (sa !== undefined) snapAt = parseCount(sa, '--snapshot-at');
    snapOut = str('--snapshot-out'); log2 = str('--log2'); fromSnap = str('--from-snapshot');
    const given = [snapAt !== undefined, snapOut !== undefined, log2 !== undefined];
    if (given.some((g) => g) && !given.every((g) => g)) throw new UsageError('--snapshot-at N, --snapshot-out SNAP and --log2 FILE2 go together');
    if (log2 !== undefined && log2 === logPath) throw new UsageError('--log2 must differ from --log');
  } catch (e) {
    process.stderr.write(usageLine('record', (e as Error).message, HELP));
    return EXIT.usage;
  }
  let snapIn: Uint8Array | undefined;
  if (fromSnap !== undefined) {
    try { checkInputFile(fromSnap, 'snapshot'); snapIn = readSnapshotFile(fromSnap); } catch (e) {
      process.stderr.write(`x86ft record: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
  }
  let rec: Recorder | undefined;
  let host: LiveHost;
  try {
    host = await openLiveHost(o, (r) => rec!.onRecord(r), snapIn, signal);
  } catch (e) {
    const what = e instanceof ElfError ? `${o.file}: ` : snapIn ? `${fromSnap}: ` : '';
    process.stderr.write(`x86ft record: ${what}${(e as Error).message}\n`);
    return EXIT.usage;
  }
  const restored = host.restored;
  if (restored && restored.meta.imageSha256 !== sha256Hex(host.image)) {
    await host.close();
    process.stderr.write(`x86ft record: ${fromSnap} is a snapshot of image ${restored.meta.imageSha256}, not of ${o.file}\n`);
    return EXIT.usage;
  }
  if (snapAt !== undefined && snapAt < host.machine.cpu.icount) {
    await host.close();
    process.stderr.write(`x86ft record: --snapshot-at ${snapAt} is before the run's start at instruction ${host.machine.cpu.icount}\n`);
    return EXIT.usage;
  }
  let r: RunResult;
  const t0 = process.hrtime.bigint();
  const recs: Recorder[] = [];
  const sinks: ByteSink[] = [];
  const progress = new Progress('record', () => ({ instructions: host.machine.cpu.icount, logBytes: sinks.reduce((a, x) => a + x.stats.bytes, 0) }));
  if (host.console instanceof StdioConsole && process.stdout.isTTY) host.console.onOutput = (b) => progress.output(b);
  const open = async (path: string): Promise<ByteSink | undefined> => {
    try {
      const opening = openFileSink(path);
      // only a FIFO's open can wait (for its reader); a file's finishes, so a stop then still gets its log
      const sink = isFifo(path) ? await Promise.race([opening, stoppedP]) : await opening;
      if (sink) { sinks.push(sink); return sink; }
      // open(2) of a FIFO blocks until a reader comes, in a libuv thread the process cannot exit
      // without: be that reader for a moment, then close what the open returns
      process.stderr.write(`x86ft record: stopped while opening ${path} for writing (a FIFO waits for a reader); nothing recorded\n`);
      let fd: number | undefined;
      try { fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK); } catch { /* not a FIFO after all */ }
      try { await (await opening).destroy(); } catch { /* nothing was written */ }
      if (fd !== undefined) closeSync(fd);
      return undefined;
    } catch (e) {
      process.stderr.write(`x86ft record: ${(e as Error).message}\n`);
      return undefined;
    }
  };
  try {
    const sink = await open(logPath);
    if (!sink) return 1;
    rec = new Recorder({
      sink, image: host.image, digestEvery: every, fromSnapshot: restored?.hash ?? null,
      outputs: restored ? restoredOutputs(restored.meta) : undefined, writer: { flushDelayMs: RECORD_FLUSH_MS },
    });
    recs.push(rec);
    rec.attach(host.machine);
    try {
      if (snapAt === undefined || snapAt > o.max) {
        if (snapAt !== undefined) process.stderr.write(`x86ft record: --snapshot-at ${snapAt} is past --max-instructions ${o.max}: no snapshot, no ${log2}\n`);
        r = await rec.run(o.max, signal);
      } else {
        const first = await rec.runToSnapshot(snapAt, signal);
        r = first.result;
        const snap = first.snapshot;
        if (!snap) {
          if (r.end !== 'budget' && !signal.aborted) process.stderr.write(`x86ft record: the guest ended (${r.end}) at instruction ${r.instructions}, before --snapshot-at ${snapAt}: no snapshot, no ${log2}\n`);
        } else {
          try { writeSnapshotFile(snapOut!, snap); } catch (e) {
            process.stderr.write(`x86ft record: the snapshot could not be written: ${(e as Error).message}\n`);
            return 1;
          }
          const sink2 = await open(log2!);
          if (!sink2) return 1;
          const prev: Recorder = rec;
          rec = new Recorder({ sink: sink2, image: host.image, digestEvery: every, fromSnapshot: snap.hash, outputs: prev.outputs, writer: { flushDelayMs: RECORD_FLUSH_MS } });
          recs.push(rec);
          rec.attach(host.machine);
          r = await rec.run(o.max, signal);
        }
      }
    } catch (e) {
      process.stderr.write(`x86ft record: the log could not be written: ${(e as Error).message}\n`);
      return 1;
    }
  } finally {
    progress.stop();
    await host.close();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (o.stats && o.rest.has('--json')) {
    printStats(r.instructions, secs, true, { logs: recs.map((x) => ({ bytes: x.stats.bytes, entries: x.stats.entries, digests: x.stats.digests })) });
  } else if (o.stats) {
    printStats(r.instructions, secs);
    recs.forEach((x, n) => {
      const s = x.stats;
      process.stderr.write(`log${recs.length > 1 ? ` ${n + 1}` : ''}: ${s.bytes} bytes, ${s.entries} entries, ${s.digests} digests (${(s.bytes * 8 / secs / 1e6).toFixed(3)} Mbit/s)\n`);
    });
  }
  if (signal.aborted && r.end === 'budget') { process.stderr.write(`x86ft record: stopped after ${r.instructions} instructions\n`); return 130; }
  return endStatus(r);
}

function isFifo(path: string): boolean {
  try { return statSync(path).isFIFO(); } catch { return false; }
}
