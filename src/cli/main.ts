#!/usr/bin/env node
// The x86ft command: dispatches to one file per subcommand.

import { runCommand } from './run.js';

const USAGE = `usage: x86ft <command> [options]

commands:
  run <guest.elf> [options]     run a guest; its COM1 output goes to stdout
  help                          this text

Run 'x86ft run --help' for the options of a command.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run': return runCommand(rest);
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(USAGE); return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`x86ft: unknown command '${cmd}'\n${USAGE}`); return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`x86ft: internal error: ${err?.stack ?? err}\n`); process.exitCode = 70; },
);
