// Guest conformance: every test guest in guests/src, built at -O0 and -O2, must print on the
// emulator's console exactly what its native build prints on stdout, and exit with the same status.
// Guests named dev_* are emulator-only (no native reference) and are not compared here.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const guests = join(root, 'guests');
const build = join(guests, 'build');
/** The CLI: `x86ft run <elf>` — guest UART to stdout, exit status = debug-exit status. */
const cli = [join(root, 'dist/src/cli/main.js'), join(root, 'dist/cli/main.js')].find(existsSync) ?? join(root, 'dist/src/cli/main.js');

/** Per-guest command line (native: argv; emulator: --cmdline). Bench guests run with small counts. */
const ARGS: Record<string, string[]> = { intloop: ['200000'], fpbench: ['2000'] };
const OPTS = ['O0', 'O2'] as const;
/** Hard cap for one emulator run; every guest here needs well under 50M instructions. */
const MAX_INSTRUCTIONS = 1_000_000_000; // fp_printf -O0 formats thousands of digits exactly: ~0.5G instructions
/** A bound on what must happen (a hang), not on speed: fp_printf -O0 takes ~20 s of CPU, and a CI machine
 *  shared with other jobs stretches that several times (72 s wall at load 30). */
const EMU_TIMEOUT_MS = 400_000;

const names = readdirSync(join(guests, 'src'))
  // emulator-only guests (guests/Makefile EMU_ONLY: dev_*, ft_demo, ft_dirty, cpu_far) have no native build
  .filter((f) => f.endsWith('.c') && !f.startsWith('dev_') && !['ft_demo.c', 'ft_dirty.c', 'cpu_far.c'].includes(f))
  .map((f) => f.slice(0, -2))
  .concat(['intloop', 'fpbench'])
  .sort();

interface Run { stdout: Buffer; stderr: string; status: number | null; signal: string | null; error?: string }

function run(cmd: string, args: string[], timeout: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'buffer', timeout, maxBuffer: 64 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
      let status: number | null = 0, signal: string | null = null, error: string | undefined;
      if (e) {
        if (typeof e.code === 'number') status = e.code;
        else { status = null; error = e.killed ? `killed after ${timeout} ms (timeout)` : e.message; }
        signal = e.signal ?? null;
      }
      resolve({ stdout, stderr: stderr.toString('utf8'), status, signal, error });
    });
  });
}

/** A readable account of where two outputs first differ. */
function describeDiff(want: Buffer, got: Buffer): string {
  const w = want.toString('latin1').split('\n'), g = got.toString('latin1').split('\n');
  let i = 0;
  while (i < w.length && i < g.length && w[i] === g[i]) i++;
  const show = (s: string | undefined) => (s === undefined ? '<end of output>' : JSON.stringify(s));
  const lines = [`outputs differ at line ${i + 1} (native ${want.length} bytes, emulator ${got.length} bytes)`];
  for (let k = Math.max(0, i - 2); k < i; k++) lines.push(`    ${show(w[k])}`);
  lines.push(`  - native:   ${show(w[i])}`, `  + emulator: ${show(g[i])}`);
  for (let k = i + 1; k < i + 4; k++) {
    if (k < w.length) lines.push(`  - ${show(w[k])}`);
    if (k < g.length) lines.push(`  + ${show(g[k])}`);
  }
  return lines.join('\n');
}

beforeAll(() => {
  // `npm test` builds first (pretest); this covers running vitest directly.
  const missing = names.some((n) => OPTS.some((o) => !existsSync(join(build, `${n}-${o}.elf`))) || !existsSync(join(build, `${n}-native`)));
  if (missing) execFileSync('make', ['-s', '-C', guests], { stdio: 'inherit' });
});

describe('guests: emulator output equals native output', () => {
  for (const name of names) {
    for (const opt of OPTS) {
      it(`${name} -${opt}`, async () => {
        const args = ARGS[name] ?? [];
        const native = await run(join(build, `${name}-native`), args, 30_000);
        expect(native.error, `native ${name} failed to run: ${native.error}`).toBeUndefined();
        expect(existsSync(cli), `emulator CLI ${cli} is missing: run 'npm run build'`).toBe(true);
        const elf = join(build, `${name}-${opt}.elf`);
        const cmd = [cli, 'run', elf, '--max-instructions', String(MAX_INSTRUCTIONS)];
        if (args.length) cmd.push('--cmdline', args.join(' '));
        const emu = await run(process.execPath, cmd, EMU_TIMEOUT_MS);
        const context = `\n  guest: ${elf}\n  emulator exit: ${emu.status ?? emu.signal ?? emu.error}` +
          `\n  emulator stderr: ${emu.stderr.trim().slice(0, 2000) || '<empty>'}`;
        expect(emu.error, `emulator did not finish${context}`).toBeUndefined();
        if (!native.stdout.equals(emu.stdout)) expect.fail(describeDiff(native.stdout, emu.stdout) + context);
        expect(emu.status, `exit status: native ${native.status}, emulator ${emu.status}${context}`).toBe(native.status);
      }, EMU_TIMEOUT_MS + 40_000);
    }
  }
});
