// What the gdb-over-replay tests share (reverse.test.ts, reverse-stepi.test.ts): a session of the real gdb in
// batch mode against `x86ft replay … --gdb 0`, its output cut at `echo @@NAME\n` markers, registers read from
// `info registers`, and the replay's own state at an instruction count from a separate process that never
// attaches gdb (`x86ft replay LOG --stop-at N --dump --json`).
import { expect } from 'vitest';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

/** A symbol's address from binutils' nm. */
export const symOf = (elf: string, s: string): number => parseInt(execFileSync('nm', [elf], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${s}`))!.split(' ')[0]!, 16);

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
  const outPath = join(dir, `gdb-${port}.out`), fd = openSync(outPath, 'w');
  spawnSync('gdb', args, { stdio: ['ignore', fd, fd], timeout: 90_000 });
  closeSync(fd);
  const status = await new Promise<number | null>((resolve) => { if (emu.exitCode !== null) resolve(emu.exitCode); else { emu.on('exit', (c) => resolve(c)); setTimeout(() => emu.kill('SIGKILL'), 20_000); } });
  return { gdb: readFileSync(outPath, 'utf8'), status, stderr };
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

/** The replay's own registers at instruction n (`replay LOG --image ELF --stop-at N --dump --json`). */
export function replayState(log: string, elf: string, n: number): Record<string, string> {
  const r = spawnSync(process.execPath, [CLI, 'replay', log, '--image', elf, '--stop-at', String(n), '--dump', '--json', '--quiet'], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { registers: Record<string, string> }).registers;
}

/** Every register of REGS in `section` (an `info registers` with a `monitor icount`) equals the replay's own. */
export function expectReplayState(log: string, elf: string, section: string, what: string): void {
  const own = replayState(log, elf, icountOf(section));
  for (const n of REGS) expect(reg(section, n), `${n} at ${what}`).toBe(BigInt(own[dumpName(n)]!));
}
