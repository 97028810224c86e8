#!/usr/bin/env node
// The x86ft command: dispatches to one file per subcommand.

import { readFileSync } from 'node:fs';
import { suggest, internalMessage } from './usage.js';
import { holdStopSignals } from './signals.js';
import { checkEnv, envFlag } from '../env.js';

const USAGE = `usage: x86ft <command> [options]

commands:
  run <guest.elf> [options]     run a guest; its COM1 output goes to stdout
  record <guest.elf> --log FILE [options]
                                run a guest and record its inputs and digests to FILE
  replay FILE --image <guest.elf> [options]
                                re-run a recorded guest from its log and check it
  log inspect FILE              what a log holds; finished, cut or corrupted
  ft primary|secondary|status|init ...
                                the two roles of a fault-tolerant VM, its status, cluster TLS set-up
                                (see 'x86ft ft --help')
  protect <guest.elf> --control dir:PATH [options]
                                run a guest fault-tolerant (a primary and a secondary process);
                                its console goes to stdout exactly once across failovers
  host --id ID --control SPEC   a host agent: starts the roles of FT VMs placed on this host
  console [NAME] --control dir:PATH
                                attach to a fault-tolerant VM's console (follows failovers)
  help [COMMAND]                this text, or a command's options (same as 'x86ft COMMAND --help')
  --version                     the package version

Run 'x86ft run --help' for the options of a command.
`;

const COMMANDS = ['run', 'record', 'replay', 'log', 'ft', 'protect', 'host', 'console', 'help'];
/** Commands whose first word is a subcommand (`x86ft help ft start`). */
const WITH_SUBCOMMANDS = ['log', 'ft', 'host'];

/** The version in the package.json this file was installed with (dist/src/cli/main.js -> ../../../). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The commands that end with a documented status on SIGINT/SIGTERM (130, or 0 for `ft status --watch`);
 *  every other one ends by the signal, as a program that does not catch it does. */
function stopsOnSignal(cmd: string | undefined, rest: string[]): boolean {
  if (cmd === 'run' || cmd === 'record' || cmd === 'protect' || cmd === 'console') return true;
  if (cmd === 'host') return rest[0] !== 'drain';
  return cmd === 'ft' && (rest[0] === 'primary' || rest[0] === 'secondary' || (rest[0] === 'status' && rest.includes('--watch')));
}

async function main(argv: string[]): Promise<number> {
  let [cmd, ...rest] = argv;
  // before the command's modules load (the first ~0.3 s): a signal then gets the command's own status
  if (stopsOnSignal(cmd, rest)) holdStopSignals();
  if (cmd === '--version' || cmd === '-V') {
    if (rest.length > 0) { process.stderr.write(`x86ft: ${cmd} takes no arguments (got '${rest[0]}'); see 'x86ft help'\n`); return 2; }
    process.stdout.write(`x86ft ${version()}\n`); return 0;
  }
  // `x86ft help CMD [SUB]` is `x86ft CMD [SUB] --help`; `help help` is the top-level help
  if (cmd === 'help' && rest.length > 0) {
    if (!COMMANDS.includes(rest[0])) {
      process.stderr.write(`x86ft help: unknown command '${rest[0]}'${suggest(rest[0], COMMANDS)}; see 'x86ft help'\n`); return 2;
    }
    // only the commands with subcommands take a second word; the subcommand itself is checked by the command
    const words = WITH_SUBCOMMANDS.includes(rest[0]) ? 2 : 1;
    if (rest.length > words) {
      process.stderr.write(`x86ft help: unexpected '${rest[words]}' (${words === 2 ? `x86ft help ${rest[0]} [SUBCOMMAND]` : `'${rest[0]}' has no subcommands`}); see 'x86ft help'\n`); return 2;
    }
    if (rest[0] === 'help') { process.stdout.write(USAGE); return 0; }
    [cmd, ...rest] = [...rest, '--help'];
  }
  // each command's modules load only when it runs: `--version`, `help` and a usage error start fast
  switch (cmd) {
    case 'run': return (await import('./run.js')).runCommand(rest);
    case 'record': return (await import('./record.js')).recordCommand(rest);
    case 'replay': return (await import('./replay.js')).replayCommand(rest);
    case 'log': return (await import('./log.js')).logCommand(rest);
    case 'ft': return (await import('./ft.js')).ftCommand(rest);
    case 'protect': return (await import('./protect.js')).protectCommand(rest);
    case 'console': return (await import('./console.js')).consoleCommand(rest);
    case 'host': return (await import('./host-agent.js')).hostAgentCommand(rest);
    case undefined:
      // a usage error like any other: one line on stderr (the help is one command away)
      process.stderr.write(`x86ft: missing command (${COMMANDS.join(', ')}); see 'x86ft help'\n`); return 2;
    case 'help': case '--help': case '-h':
      process.stdout.write(USAGE); return 0;
    default:
      process.stderr.write(`x86ft: unknown ${cmd.startsWith('-') ? 'option' : 'command'} '${cmd}'${suggest(cmd, cmd.startsWith('-') ? ['--help', '--version'] : COMMANDS)}; see 'x86ft help'\n`); return 2;
  }
}

// A closed pipe on stdout (e.g. `x86ft log inspect F | head`) ends the command quietly, as in other CLIs.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
}

/**
 * A warm spare (src/ft/host-agent.ts): a host agent starts `node main.js` with X86FT_SPARE=1 and an IPC channel.
 * The spare loads the FT roles' modules now, says `{t: 'ready'}`, and waits for its command line
 * (`{t: 'run', argv}`, e.g. `ft secondary …`), which it then runs as if started with it. It ends quietly when
 * the agent goes away first (the channel closes).
 */
function spareArgv(): Promise<string[]> {
  delete process.env.X86FT_SPARE; // not inherited by anything the role starts
  return new Promise((resolve) => {
    const gone = (): void => process.exit(0);
    process.once('disconnect', gone);
    process.on('message', function take(m: { t?: string; argv?: unknown }) {
      if (m?.t !== 'run' || !Array.isArray(m.argv) || !m.argv.every((a) => typeof a === 'string')) return;
      process.off('message', take);
      process.off('disconnect', gone);
      process.disconnect(); // the role runs on its own: the agent watches its exit as for any role
      resolve(m.argv as string[]);
    });
    void import('./ft.js').then(() => process.send!({ t: 'ready' }), () => process.exit(70));
  });
}

// an X86FT_* variable with a value it does not accept is bad input like a bad option: one line, exit 2, before
// any module that reads one loads (src/env.ts; README "Environment")
const badEnv = checkEnv();
if (badEnv) {
  process.stderr.write(`x86ft: ${badEnv}\n`);
  process.exitCode = 2;
} else {
  (envFlag('X86FT_SPARE') && process.send ? spareArgv() : Promise.resolve(process.argv.slice(2))).then(main).then(
    (code) => { process.exitCode = code; },
    // a bug, never bad input (every command maps bad input to its documented status): one line, no trace
    (err) => { process.stderr.write(`x86ft: internal error: ${internalMessage(err)}\n`); process.exitCode = 70; },
  );
}
