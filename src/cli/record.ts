// `x86ft record <guest.elf> --log FILE`: run a guest on live host backends (like `run`) and write
// every non-deterministic input, digests and the end record to a log file.

import { ElfError } from '../machine/boot.js';
import type { Machine, RunResult } from '../machine/machine.js';
import { openFileSink } from '../replay/channel-file.js';
import { Recorder, DEFAULT_DIGEST_INTERVAL } from '../replay/recorder.js';
import type { ConsoleBackend } from '../devices/backends/console.js';
import { parseCount } from './args.js';
import { parseHostArgs, openLiveHost, MACHINE_HELP, type HostOptions, type LiveHost } from './host.js';
import { EXIT, exitCodeFor, printStats } from './run.js';

const HELP = `usage: x86ft record <guest.elf> --log FILE [options]

Runs the guest like 'x86ft run' (its console and network output pass through) and records every
value that entered it from the host into FILE, with a digest of the machine state every N
instructions; 'x86ft replay FILE --image <guest.elf>' re-runs it exactly.

  --log FILE              where the log goes (overwritten)
  --digest-every N        instructions between digests (default ${DEFAULT_DIGEST_INTERVAL}; k/M/G suffixes;
                          0 = only the final digest)
${MACHINE_HELP}
  --max-instructions N    stop after N retired instructions (recorded as end reason 'budget';
                          exit status ${EXIT.budget})
  --stats                 print instructions, wall time, MIPS and log volume to stderr at the end

exit status: as 'x86ft run' (the guest's debug-exit status, ${EXIT.usage} bad arguments or backend,
${EXIT.budget} budget, ${EXIT.halt} halt, ${EXIT.fault} guest fault, ${EXIT.internal} internal error); 1 the log could not be written.
SIGINT/SIGTERM stop the guest and finish the log (end reason 'stopped').
`;

/**
 * Routes a live host's outputs through the recorder's tally (the digests cover them). The host
 * builds its machine with fixed output callbacks, so this wraps the console backend's write and
 * each NIC's transmit callback in place.
 */
function tapOutputs(rec: Recorder, m: Machine, con: ConsoleBackend): void {
  const write = con.write.bind(con);
  con.write = rec.consoleOut(write);
  for (const n of m.nets) {
    const dev = n as unknown as { tx: (f: Uint8Array) => void };
    const tx = dev.tx, idx = m.nets.indexOf(n);
    dev.tx = (f) => { rec.outputs.frame(idx, f); tx(f); };
  }
}

export async function recordCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HELP); return 0; }
  let o: HostOptions;
  let every = DEFAULT_DIGEST_INTERVAL;
  let logPath: string;
  try {
    o = parseHostArgs(argv, ['--log', '--digest-every']);
    const l = o.rest.get('--log');
    if (typeof l !== 'string') throw new Error('--log FILE is required');
    logPath = l;
    const d = o.rest.get('--digest-every');
    if (typeof d === 'string') every = parseCount(d);
  } catch (e) {
    process.stderr.write(`x86ft record: ${(e as Error).message}\n\n${HELP}`);
    return EXIT.usage;
  }
  let rec: Recorder | undefined;
  let host: LiveHost;
  try {
    host = await openLiveHost(o, (r) => rec!.onRecord(r));
  } catch (e) {
    const what = e instanceof ElfError ? `${o.file}: ` : '';
    process.stderr.write(`x86ft record: ${what}${(e as Error).message}\n`);
    return EXIT.usage;
  }
  let r: RunResult;
  const t0 = process.hrtime.bigint();
  const signal = { aborted: false };
  const stop = (): void => { signal.aborted = true; };
  process.once('SIGINT', stop); process.once('SIGTERM', stop);
  try {
    let sink;
    try { sink = await openFileSink(logPath); } catch (e) {
      process.stderr.write(`x86ft record: ${(e as Error).message}\n`);
      return 1;
    }
    rec = new Recorder({ sink, image: host.image, digestEvery: every });
    tapOutputs(rec, host.machine, host.console);
    rec.attach(host.machine);
    try { r = await rec.run(o.max, signal); } catch (e) {
      process.stderr.write(`x86ft record: the log could not be written: ${(e as Error).message}\n`);
      return 1;
    }
  } finally {
    process.off('SIGINT', stop); process.off('SIGTERM', stop);
    await host.close();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (o.stats) {
    printStats(r.instructions, secs);
    const s = rec.stats;
    process.stderr.write(`log: ${s.bytes} bytes, ${s.entries} entries, ${s.digests} digests (${(s.bytes * 8 / secs / 1e6).toFixed(3)} Mbit/s)\n`);
  }
  if (signal.aborted && r.end === 'budget') { process.stderr.write(`x86ft record: stopped after ${r.instructions} instructions\n`); return 130; }
  return exitCodeFor(r);
}
