// gdb on an FT VM's history (`x86ft replay --control dir:PATH NAME --gdb 0`): a chain of two generation logs made
// for real — `x86ft ft primary` and `x86ft ft secondary` run ft_demo, the primary is SIGKILLed once two console
// lines are out (guest progress; the guest idles 150 ms of guest time per line, so it cannot end first), the
// secondary goes live as generation 2. The real gdb then stops at exit() (in generation 2), goes back with
// reverse-continue to main's breakpoint (in generation 1: back across the generation boundary), and forward again
// to exit() at the same instruction count. Registers where gdb stops equal the chain replay's own state at that
// count (`x86ft replay --control … --stop-at N --dump --json`).
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, statSync, truncateSync, writeFileSync, chmodSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, guestElf } from '../devices-guests/helpers.js';

const FT = ['--failure-timeout-ms', '2000', '--heartbeat-ms', '100'];
const elf = guestElf('ft_demo', 'O0');
const sym = (s: string) => parseInt(execFileSync('nm', [elf], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${s}`))!.split(' ')[0], 16);

function run(args: string[], cwd: string): { child: ChildProcess; done: Promise<number>; err: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.resume();
  const done = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : -2))));
  return { child, done, err: () => err };
}
/** Waits until `file` holds `text`, or `p` ended. */
async function shows(file: string, text: string, p: Promise<number>): Promise<void> {
  let ended = false;
  void p.then(() => { ended = true; });
  while (!ended && !(existsSync(file) && statSync(file).size > 0 && readFileSync(file, 'utf8').includes(text))) await new Promise((r) => setTimeout(r, 20));
}
const reg = (dump: string, name: string): bigint => {
  const r = new RegExp(`^${name}\\s+(0x[0-9a-f]+)`, 'm').exec(dump);
  if (!r) throw new Error(`no ${name} in ${dump}`);
  return BigInt(r[1]);
};
const icountOf = (s: string): number => Number(/instruction count: (\d+)/.exec(s)![1]);
const REGS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r12', 'r15', 'rip', 'eflags'];

describe('gdb on a chain of generation logs (replay --control dir:PATH NAME --gdb)', () => {
  it('exit() in generation 2, reverse-continue to main in generation 1, forward again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-gdbchain-'));
    chmodSync(dir, 0o700);
    const base = join(dir, 'base.img'), ctl = join(dir, 'ctl'), consoleFile = join(dir, 'console');
    writeFileSync(base, new Uint8Array(0)); truncateSync(base, 64 * 512);
    const p = run(['ft', 'primary', elf, '--control', `dir:${ctl}`, '--listen', '127.0.0.1:0', '--host-id', 'local-a',
      '--disk', base, '--cmdline', '4 100 150', '--mem', '32M', '--console-file', consoleFile, ...FT], dir);
    const s = run(['ft', 'secondary', '--control', `dir:${ctl}`, '--host-id', 'local-b', ...FT], dir);
    await shows(consoleFile, 'demo line 0002 ', s.done);
    p.child.kill('SIGKILL');
    expect(await p.done, `--- primary:\n${p.err()}`).toBe(-1);
    const diag = () => `--- primary:\n${p.err()}\n--- secondary:\n${s.err()}`;
    expect(await s.done, diag()).toBe(0);
    const live = /live at instruction (\d+) as generation 2/.exec(s.err());
    expect(live, diag()).not.toBeNull();
    const G = Number(live![1]);
    expect(readFileSync(consoleFile, 'utf8')).toMatch(/demo done 4 hash [0-9a-f]+ mismatches 0/);

    const replay = ['replay', '--control', `dir:${ctl}`, 'default', '--image', elf];
    const emu = spawn(process.execPath, [CLI, ...replay, '--gdb', '0', '--quiet'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const port = await new Promise<number>((resolve, reject) => {
      emu.stderr.on('data', (d: Buffer) => { stderr += d; const m = /127\.0\.0\.1:(\d+)/.exec(stderr); if (m) resolve(Number(m[1])); });
      emu.on('exit', () => reject(new Error(`x86ft exited: ${stderr}`)));
    });
    const cmds = ['break *exit', 'continue', 'echo @@E\\n', 'monitor icount', 'info registers',
      'delete', 'break *main', 'reverse-continue', 'echo @@M\\n', 'monitor icount', 'info registers',
      'delete', 'break *exit', 'continue', 'echo @@E2\\n', 'monitor icount', 'info registers', 'echo @@end\\n', 'kill'];
    const outPath = join(dir, 'gdb.out'), fd = openSync(outPath, 'w');
    spawnSync('gdb', ['-batch', '-nx', '-ex', 'set confirm off', '-ex', `target remote 127.0.0.1:${port}`, ...cmds.flatMap((c) => ['-ex', c]), elf], { stdio: ['ignore', fd, fd], timeout: 90_000 });
    closeSync(fd);
    const out = readFileSync(outPath, 'utf8');
    expect(await new Promise<number | null>((resolve) => { if (emu.exitCode !== null) resolve(emu.exitCode); else { emu.on('exit', (c) => resolve(c)); setTimeout(() => emu.kill('SIGKILL'), 20_000); } })).toBe(0);
    const sec = new Map<string, string>();
    for (const part of out.split(/^@@/m).slice(1)) { const nl = part.indexOf('\n'); sec.set(part.slice(0, nl), part.slice(nl + 1)); }
    expect([...sec.keys()], out).toEqual(['E', 'M', 'E2', 'end']);
    const E = sec.get('E')!, M = sec.get('M')!, E2 = sec.get('E2')!;
    expect(reg(E, 'rip')).toBe(BigInt(sym('exit')));
    expect(reg(M, 'rip')).toBe(BigInt(sym('main')));
    expect(icountOf(E)).toBeGreaterThan(G); // exit() ran in generation 2 …
    expect(icountOf(M)).toBeLessThan(G); // … main in generation 1
    expect(icountOf(E2)).toBe(icountOf(E));
    for (const n of REGS) expect(reg(E2, n), n).toBe(reg(E, n));
    for (const [x, name] of [[M, 'main']] as const) {
      const d = spawnSync(process.execPath, [CLI, ...replay, '--stop-at', String(icountOf(x)), '--dump', '--json', '--quiet'], { cwd: dir, encoding: 'utf8' });
      const own = (JSON.parse(d.stdout) as { registers: Record<string, string> }).registers;
      for (const n of REGS) expect(reg(x, n), `${n} at ${name}`).toBe(BigInt(own[n === 'eflags' ? 'RFLAGS' : n.toUpperCase()]!));
    }
  }, 150_000);
});
