// `x86ft run <guest.elf>`: boot a guest on live host backends, stream its console, exit with its status.

import { ElfError } from '../machine/boot.js';
import type { RunResult } from '../machine/machine.js';
import { parseHostArgs, openLiveHost, MACHINE_HELP, type HostOptions } from './host.js';
import { GdbStub } from '../debug/gdbstub.js';
import { usageLine, UsageError } from './usage.js';
import { StdioConsole } from '../devices/backends/console.js';
import { withStatusLine, STATUS_LINE_OPTION, type CommandStatus } from './status-line.js';
import { Progress } from './progress.js';
import { onStopSignal } from './signals.js';

export const EXIT = { usage: 2, budget: 124, halt: 125, fault: 126, internal: 127, stopped: 130 } as const;

const HELP = `usage: x86ft run <guest.elf> [options]

${MACHINE_HELP}
  --max-instructions N    stop after N retired instructions (exit status ${EXIT.budget})
  --stats                 print instructions retired, wall time and MIPS to stderr at the end
  --json                  with --stats: one JSON line instead, {"instructions","wallSeconds","mips"}
  --gdb PORT              wait for gdb on 127.0.0.1:PORT (0: a free port, printed) before the first
                          instruction; the guest runs under gdb's control
  --status-line           end stderr with one line saying who chose the exit status:
                          'x86ft-status: by=guest status=N' or 'x86ft-status: by=x86ft status=N reason=WORD'

When stderr is a terminal, a progress line (instructions, MIPS) is shown there while the guest runs.
SIGINT/SIGTERM stop the guest: --stats are printed for what ran, exit status 130.

exit status: the guest's debug-exit status (port 0xF4); ${EXIT.usage} bad arguments, a malformed ELF, an
input file that is not a regular file (FIFO, device, directory) or an unusable backend (missing disk
image, port in use); ${EXIT.budget} instruction budget exhausted;
${EXIT.halt} HLT with interrupts disabled; ${EXIT.fault} unhandled guest fault (report on stderr);
${EXIT.internal} internal emulator error; ${EXIT.stopped} stopped by SIGINT/SIGTERM or Ctrl-A x.
`;

export function runCommand(argv: string[]): Promise<number> {
  return withStatusLine('run', argv, () => run(argv));
}

async function run(argv: string[]): Promise<CommandStatus> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HELP); return 0; }
  // SIGINT/SIGTERM end the run at the next slice, like Ctrl-A x (also while the host starts, e.g. waits for
  // a console client): the statistics of what ran are printed
  let by = 'the user';
  const stop = { aborted: false };
  const unlisten = onStopSignal((signal) => { by = signal; stop.aborted = true; });
  try { return await runGuest(argv, stop, () => by, unlisten); } finally { unlisten(); }
}

async function runGuest(argv: string[], stop: { aborted: boolean }, by: () => string, unlisten: () => void): Promise<CommandStatus> {
  let o: HostOptions;
  try {
    o = parseHostArgs(argv, ['--gdb'], ['--json', STATUS_LINE_OPTION]);
    if (o.rest.has('--json') && !o.stats) throw new UsageError('--json goes with --stats');
    const g = o.rest.get('--gdb');
    if (g !== undefined && !(/^\d+$/.test(String(g)) && Number(g) <= 65535)) throw new UsageError(`--gdb: expected a TCP port 0-65535, got '${g}'`);
  } catch (e) {
    process.stderr.write(usageLine('run', (e as Error).message, HELP));
    return EXIT.usage;
  }
  let host;
  try { host = await openLiveHost(o, undefined, undefined, stop); } catch (e) {
    const what = e instanceof ElfError ? `${o.file}: ` : '';
    process.stderr.write(`x86ft run: ${what}${(e as Error).message}\n`);
    return EXIT.usage;
  }
  const t0 = process.hrtime.bigint();
  let r: RunResult;
  const gdbPort = o.rest.get('--gdb');
  if (gdbPort !== undefined) {
    if (stop.aborted) { await host.close(); return stopped(0, by()); }
    unlisten(); // under gdb a signal ends x86ft as it did before (gdb's own Ctrl-C arrives over the protocol)
    const stub = new GdbStub(host.machine, { port: Number(gdbPort), replay: false });
    try { await stub.listen(); } catch (e) {
      await host.close();
      process.stderr.write(`x86ft run: --gdb ${gdbPort}: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
    await stub.done;
    await host.close();
    const fin = stub.result;
    if (fin === null) { process.stderr.write(`x86ft: gdb detached after ${host.machine.cpu.icount} instructions\n`); return 0; }
    return endStatus(fin);
  }
  const progress = new Progress('run', () => ({ instructions: host.machine.cpu.icount }));
  if (host.console instanceof StdioConsole && process.stdout.isTTY) host.console.onOutput = (b) => progress.output(b);
  try { r = await host.machine.runAsync(o.max, host.stop); } finally {
    progress.stop();
    await host.close();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (o.stats) printStats(r.instructions, secs, o.rest.has('--json'));
  if (host.stop.aborted) return stopped(r.instructions, by());
  return endStatus(r);
}

function stopped(instructions: number, by: string): number {
  process.stderr.write(`\nx86ft: stopped by ${by} after ${instructions} instructions\n`);
  return EXIT.stopped;
}

/** The command status for a run result: the guest's own for an exit, else x86ft's (reported on stderr). */
export function endStatus(r: RunResult): CommandStatus {
  return r.end === 'exit' ? { guest: r.status } : exitCodeFor(r);
}

/** --stats on stderr: three lines, or (json) one JSON object {instructions, wallSeconds, mips, ...extra}. */
export function printStats(instructions: number, secs: number, json = false, extra: Record<string, unknown> = {}): void {
  const mips = Number((instructions / secs / 1e6).toFixed(1));
  if (json) { process.stderr.write(JSON.stringify({ instructions, wallSeconds: Number(secs.toFixed(3)), mips, ...extra }) + '\n'); return; }
  process.stderr.write(`instructions: ${instructions}\nwall time: ${secs.toFixed(3)} s\nMIPS: ${mips.toFixed(1)}\n`);
}

/** The CLI exit status for a run result (reports the reason on stderr). */
export function exitCodeFor(r: RunResult): number {
  switch (r.end) {
    case 'exit': return r.status;
    case 'budget': process.stderr.write(`x86ft: instruction budget exhausted after ${r.instructions} instructions\n`); return EXIT.budget;
    case 'halt': process.stderr.write(`x86ft: guest halted with interrupts disabled after ${r.instructions} instructions\n`); return EXIT.halt;
    case 'fault': process.stderr.write(`x86ft: guest fault: ${r.message}\n`); return EXIT.fault;
    default: process.stderr.write(`x86ft: ${r.message ?? r.end}\n`); return EXIT.internal;
  }
}
