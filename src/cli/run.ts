// `x86ft run <guest.elf>`: boot a guest, stream its console to stdout, exit with its status.

import { readFileSync, writeSync } from 'node:fs';
import { Machine, DEFAULT_MEM } from '../machine/machine.js';
import { ElfError } from '../machine/boot.js';
import { parseSize, parseCount } from './args.js';

export const EXIT = { usage: 2, budget: 124, halt: 125, fault: 126, internal: 127 } as const;

const HELP = `usage: x86ft run <guest.elf> [options]

  --mem SIZE              guest RAM (default 64M; suffixes K, M, G)
  --max-instructions N    stop after N retired instructions (exit status ${EXIT.budget})
  --cmdline STRING        command line passed in the boot-info block
  --stats                 print instructions retired, wall time and MIPS to stderr at the end

exit status: the guest's debug-exit status (port 0xF4); ${EXIT.usage} bad arguments or ELF;
${EXIT.budget} instruction budget exhausted; ${EXIT.halt} HLT with interrupts disabled;
${EXIT.fault} unhandled guest fault (report on stderr); ${EXIT.internal} internal emulator error.
`;

export async function runCommand(argv: string[]): Promise<number> {
  let file: string | undefined;
  let mem = DEFAULT_MEM, max = Infinity, stats = false, cmdline = '';
  try {
    for (let k = 0; k < argv.length; k++) {
      const a = argv[k];
      const val = () => { const v = argv[++k]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
      if (a === '--help' || a === '-h') { process.stdout.write(HELP); return 0; }
      else if (a === '--mem') mem = parseSize(val());
      else if (a === '--max-instructions') max = parseCount(val());
      else if (a === '--stats') stats = true;
      else if (a === '--cmdline') cmdline = val();
      else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
      else if (file === undefined) file = a;
      else throw new Error(`unexpected argument ${a}`);
    }
    if (file === undefined) throw new Error('missing guest ELF file');
  } catch (e) {
    process.stderr.write(`x86ft run: ${(e as Error).message}\n${HELP}`);
    return EXIT.usage;
  }
  let image: Uint8Array;
  try { image = readFileSync(file); } catch (e) {
    process.stderr.write(`x86ft run: cannot read ${file}: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  let machine: Machine;
  const buf = new Uint8Array(4096);
  let n = 0;
  const flush = () => { if (n > 0) { writeSync(1, buf, 0, n); n = 0; } };
  try {
    machine = Machine.fromElf(image, { memSize: mem, cmdline, consoleOut: (b) => { buf[n++] = b; if (b === 10 || n === buf.length) flush(); } });
  } catch (e) {
    if (e instanceof ElfError || e instanceof RangeError) {
      process.stderr.write(`x86ft run: ${file}: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  const t0 = process.hrtime.bigint();
  const r = machine.run(max);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  flush();
  if (stats) {
    process.stderr.write(`instructions: ${r.instructions}\nwall time: ${secs.toFixed(3)} s\nMIPS: ${(r.instructions / secs / 1e6).toFixed(1)}\n`);
  }
  switch (r.end) {
    case 'exit': return r.status;
    case 'budget': process.stderr.write(`x86ft: instruction budget exhausted after ${r.instructions} instructions\n`); return EXIT.budget;
    case 'halt': process.stderr.write(`x86ft: guest halted with interrupts disabled after ${r.instructions} instructions\n`); return EXIT.halt;
    case 'fault': process.stderr.write(`x86ft: guest fault: ${r.message}\n`); return EXIT.fault;
    default: process.stderr.write(`x86ft: ${r.message}\n`); return EXIT.internal;
  }
}
