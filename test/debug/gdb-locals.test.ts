// Source-level debugging through the gdb stub, judged by gdb on the guest's native twin: the real gdb (Debian's
// package, batch mode) runs the same commands against `x86ft run guests/build/recursion-O0g.elf --gdb 0` and
// natively against guests/build/recursion-native-O0g (the same C file built -O0 -g for Linux, guests/Makefile
// DEBUG_GUESTS). At the same source-line breakpoints (conditions on the arguments, evaluated by gdb) the call
// stacks (`bt`: function names, arguments, file:line of every frame up to main), `info args`, `info locals`, an
// outer frame's locals (`up`), array slices and `finish`'s returned value must print the same. Only what differs by
// construction is normalised: addresses (code and data are laid out differently), and the native twin's main,
// which guests/sdk/native.c renames x86ft_guest_main and calls from libc (frames beyond main are not compared).
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { spawnAsync } from '../helpers/proc.js';
import { readFileSync } from 'node:fs';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const GUEST = 'guests/build/recursion-O0g.elf', NATIVE = 'guests/build/recursion-native-O0g';
const SRC = 'guests/src/recursion.c';
/** Line of the first source line containing `text` (so the test follows edits of the C file). */
const lineOf = (text: string): number => readFileSync(SRC, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;

// each stop on a conditional breakpoint is a round trip: conditions that hold early in the run
const CMDS = (): string[] => [
  `break recursion.c:${lineOf('count += queens(')} if n == 5 && row == 3 && avail != 0`, 'CONTINUE',
  'echo @@queens\\n', 'bt', 'info args', 'info locals', 'up 2', 'info locals', 'p bit * 2 + row', 'delete', 'finish',
  `break recursion.c:${lineOf('moves++;')} if n == 3 && from == 2`, 'continue',
  'echo @@hanoi\\n', 'bt', 'info args', 'p moves', 'p/x hanoi_sig',
  'delete', `break recursion.c:${lineOf('printf("dispatch')}`, 'continue',
  'echo @@main\\n', 'bt', 'p x', 'p acc', 'p calls', 'p moves',
  'delete', `break recursion.c:${lineOf('case HALT:')}`, 'continue',
  'echo @@vm\\n', 'bt', 'p sp', 'p pc', 'p *st@sp', 'p code[0]@4', 'echo @@end\\n', 'kill',
];

/** gdb's output per `echo @@NAME` section, normalised as the header says. */
function sections(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of out.split(/^@@/m).slice(1)) {
    const nl = p.indexOf('\n');
    // frames beyond main belong to the C runtime (libc's start code natively): not compared
    const body = p.slice(nl + 1).split('\n').filter((l) => !/^#\d+ .* in (__libc_start\w*|_start) \(/.test(l)).join('\n')
      .replace(/x86ft_guest_main/g, 'main')
      .replace(/0x[0-9a-f]+( <[^>]+>)?/g, 'ADDR')
      .replace(/^(Run till exit from #\d+ +)ADDR in /m, '$1')
      .replace(/\[Inferior .*$/m, '');
    m.set(p.slice(0, nl), body.trim());
  }
  return m;
}

async function gdbBatch(file: string, pre: string[], cmds: string[]): Promise<string> {
  const args = ['-batch', '-nx', '-ex', 'set confirm off', '-ex', 'set width 0', '-ex', 'set height 0', ...pre.flatMap((c) => ['-ex', c]),
    ...cmds.flatMap((c) => ['-ex', c]), file];
  const g = await spawnAsync('gdb', args, { encoding: 'utf8', timeout: 90_000 }); // not blocking the worker (test/helpers/proc.ts)
  return g.stdout + g.stderr;
}

async function onX86ft(cmds: string[]): Promise<{ gdb: string; status: number | null }> {
  const emu = spawn(process.execPath, [CLI, 'run', GUEST, '--gdb', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    emu.stderr.on('data', (d: Buffer) => { stderr += d; const m = /127\.0\.0\.1:(\d+)/.exec(stderr); if (m) resolve(Number(m[1])); });
    emu.on('exit', () => reject(new Error(`x86ft exited: ${stderr}`)));
  });
  const gdb = await gdbBatch(GUEST, [`target remote 127.0.0.1:${port}`], cmds.map((c) => (c === 'CONTINUE' ? 'continue' : c)));
  const status = await new Promise<number | null>((resolve) => { if (emu.exitCode !== null) resolve(emu.exitCode); else { emu.on('exit', (c) => resolve(c)); setTimeout(() => emu.kill('SIGKILL'), 20_000); } });
  return { gdb, status };
}

describe('gdb on an -O0 -g guest: locals and call stacks equal gdb on its native twin', () => {
  it('at the same breakpoints: bt, args, locals, an outer frame, arrays, finish', async () => {
    const cmds = CMDS();
    const native = sections(await gdbBatch(NATIVE, [], cmds.map((c) => (c === 'CONTINUE' ? 'run > /dev/null' : c))));
    const emu = await onX86ft(cmds);
    const mine = sections(emu.gdb);
    expect([...native.keys()]).toEqual(['queens', 'hanoi', 'main', 'vm', 'end']);
    // what the native gdb printed is real source-level state (not an empty or failed session)
    expect(native.get('queens')).toMatch(/^#0 +queens \(n=5, row=3, .*\) at src\/recursion\.c:20$/m);
    expect(native.get('queens')).toMatch(/^#3 +ADDR in queens \(n=5, row=0, cols=0, d1=0, d2=0\)/m);
    expect(native.get('queens')).toMatch(/^avail = \d+$/m);
    expect(native.get('queens')).toMatch(/Value returned is \$\d+ = \d+/);
    expect(native.get('hanoi')).toMatch(/hanoi \(n=12, from=1, to=3, via=2\)/);
    expect(native.get('vm')).toMatch(/^\$\d+ = \{-?\d+/m);
    expect(native.get('main')).toMatch(/^\$\d+ = \d+$/m);
    for (const k of native.keys()) expect(mine.get(k), `section ${k}\n--- x86ft gdb:\n${emu.gdb}`).toBe(native.get(k));
    expect(emu.status).toBe(0); // killed by gdb before the end: x86ft exits 0 (README)
  }, 120_000);
});
