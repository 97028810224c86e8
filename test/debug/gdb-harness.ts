// What the gdb-over-replay tests share (reverse.test.ts, reverse-stepi.test.ts, test/ft/failover.test.ts): a session of the real gdb in
// batch mode against `x86ft replay … --gdb 0`, its output cut at `echo @@NAME\n` markers, registers read from
// `info registers`, and the replay's own state at an instruction count from a separate process that never
// attaches gdb (`x86ft replay LOG --stop-at N --dump --json`).
import { expect } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { spawnAsync } from '../helpers/proc.js';
import { readFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

const nmLines = new Map<string, string[]>();
/** A symbol's address from binutils' nm (run once per file: each run costs a process start). */
export function symOf(elf: string, s: string): number {
  let lines = nmLines.get(elf);
  if (lines === undefined) { lines = execFileSync('nm', [elf], { encoding: 'utf8' }).split('\n'); nmLines.set(elf, lines); }
  const line = lines.find((l) => l.endsWith(` ${s}`));
  if (line === undefined) throw new Error(`no symbol ${s} in ${elf}`);
  return parseInt(line.split(' ')[0]!, 16);
}

/** Starts `x86ft replay REPLAYARGS --gdb 0 --quiet`, runs gdb -batch on `elf` with `cmds` (gdb's output files go
 *  in `dir`); returns gdb's output (stdout and stderr in one file: monitor output goes to stderr, so the order is
 *  kept), x86ft's exit status and stderr. */
export async function replaySession(dir: string, elf: string, replayArgs: string[], cmds: string[]): Promise<{ gdb: string; status: number | null; stderr: string }> {
  const emu = spawn(process.execPath, [CLI, 'replay', ...replayArgs, '--gdb', '0', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    emu.stderr!.on('data', (d: Buffer) => { stderr += d; const m = /127\.0\.0\.1:(\d+)/.exec(stderr); if (m) resolve(Number(m[1])); });
    emu.on('exit', () => reject(new Error(`x86ft exited: ${stderr}`)));
  });
  const args = ['-batch', '-nx', '-ex', 'set confirm off', '-ex', `target remote 127.0.0.1:${port}`, ...cmds.flatMap((c) => ['-ex', c]), elf];
  const gdb = await gdbBatch(args, join(dir, `gdb-${port}.out`));
  const status = await new Promise<number | null>((resolve) => { if (emu.exitCode !== null) resolve(emu.exitCode); else { emu.on('exit', (c) => resolve(c)); setTimeout(() => emu.kill('SIGKILL'), 20_000); } });
  return { gdb, status, stderr };
}

/**
 * Runs `gdb ARGS` to its end without blocking the test worker (a spawnSync that blocks it for 60 s on a loaded
 * machine fails the run: test/helpers/proc.ts), stdout and stderr into one file `outPath` so that their order is
 * kept (monitor output goes to stderr); returns the file's text. Killed after 90 s (a hang guard).
 */
export async function gdbBatch(args: string[], outPath: string): Promise<string> {
  const fd = openSync(outPath, 'w');
  try {
    const g = spawn('gdb', args, { stdio: ['ignore', fd, fd] });
    const kill = setTimeout(() => g.kill('SIGKILL'), 90_000);
    await new Promise<void>((resolve) => { g.on('close', () => resolve()); g.on('error', () => resolve()); });
    clearTimeout(kill);
  } finally { closeSync(fd); }
  return readFileSync(outPath, 'utf8');
}

/** gdb output split at `echo @@NAME\n` markers. */
export function sections(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of out.split(/^@@/m).slice(1)) { const nl = p.indexOf('\n'); m.set(p.slice(0, nl), p.slice(nl + 1)); }
  return m;
}

/** Register `name` from an `info registers` listing. */
export const reg = (dump: string, name: string): bigint => {
  const r = new RegExp(`^${name}\\s+(0x[0-9a-f]+)`, 'm').exec(dump);
  if (!r) throw new Error(`no ${name} in ${dump}`);
  return BigInt(r[1]!);
};
/** The count `monitor icount` printed. */
export const icountOf = (s: string): number => Number(/instruction count: (\d+)/.exec(s)![1]);
export const REGS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'eflags', 'cs', 'ss'];
/** gdb's register name → the name `replay --dump --json` uses. */
export const dumpName = (n: string): string => ({ eflags: 'RFLAGS', cs: 'CS', ss: 'SS' } as Record<string, string>)[n] ?? n.toUpperCase();

/** The replay's own registers at instruction n (`replay ARGS --stop-at N --dump --json`; ARGS: `LOG --image ELF`,
 *  `--control dir:PATH NAME --image ELF`, …). */
export async function replayState(replayArgs: string[], n: number): Promise<Record<string, string>> {
  const r = await spawnAsync(process.execPath, [CLI, 'replay', ...replayArgs, '--stop-at', String(n), '--dump', '--json', '--quiet'], { encoding: 'utf8', timeout: 300_000 });
  return (JSON.parse(r.stdout) as { registers: Record<string, string> }).registers;
}

/** Every register of REGS in `section` (an `info registers` with a `monitor icount`) equals the replay's own. */
export async function expectReplayState(replayArgs: string[], section: string, what: string): Promise<void> {
  const own = await replayState(replayArgs, icountOf(section));
  for (const n of REGS) expect(reg(section, n), `${n} at ${what}`).toBe(BigInt(own[dumpName(n)]!));
}

/**
 * gdb on an FT VM's history, a chain of two generation logs (`x86ft replay --control dir:CTL VM --image ELF --gdb 0`;
 * generation 2 starts at instruction `gen2At`): a breakpoint on exit() stops in generation 2, reverse-continue to
 * main's breakpoint goes back across the generation boundary into generation 1, and forward again to exit() at the
 * same count with the same registers. Registers where gdb stops at main equal the chain replay's own state at that
 * count (`--stop-at N --dump --json`). Used by test/ft/failover.test.ts on the chain its SIGKILL of the primary made.
 */
export async function expectGdbAcrossGenerations(dir: string, ctl: string, vm: string, elf: string, gen2At: number): Promise<void> {
  const replay = ['--control', `dir:${ctl}`, vm, '--image', elf];
  const r = await replaySession(dir, elf, replay, ['break *exit', 'continue', 'echo @@E\\n', 'monitor icount', 'info registers',
    'delete', 'break *main', 'reverse-continue', 'echo @@M\\n', 'monitor icount', 'info registers',
    'delete', 'break *exit', 'continue', 'echo @@E2\\n', 'monitor icount', 'info registers', 'echo @@end\\n', 'kill']);
  expect(r.status, r.stderr).toBe(0);
  const sec = sections(r.gdb);
  expect([...sec.keys()], r.gdb).toEqual(['E', 'M', 'E2', 'end']);
  const E = sec.get('E')!, M = sec.get('M')!, E2 = sec.get('E2')!;
  expect(reg(E, 'rip')).toBe(BigInt(symOf(elf, 'exit')));
  expect(reg(M, 'rip')).toBe(BigInt(symOf(elf, 'main')));
  expect(icountOf(E)).toBeGreaterThan(gen2At); // exit() ran in generation 2 …
  expect(icountOf(M)).toBeLessThan(gen2At); // … main in generation 1
  expect(icountOf(E2)).toBe(icountOf(E));
  for (const n of REGS) expect(reg(E2, n), n).toBe(reg(E, n));
  await expectReplayState(replay, M, 'main');
}
