// The gdb stub driven by the real gdb (Debian's package, batch mode) against `x86ft run GUEST --gdb 0`:
// a breakpoint on a symbol nm(1) names, stepi, every general register compared with the emulator's own
// state at the same instruction count (an in-process Machine stopped by the same hook mechanism), a
// watchpoint on a global variable (the C source says calls++ from 0: the new value is 1), an unmapped read
// answered as an error, writes refused, and the guest's exit reported as gdb's "exited with code"; before gdb,
// junk clients (garbage, a wrong checksum, a silent close: real sockets) are dropped and the run goes on.
// One x86ft run and one gdb session serve every check.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { spawnAsync } from '../helpers/proc.js';
import { symOf } from './gdb-harness.js';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/index.js';
import { Hooks } from '../../src/cpu/hooks.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const GUEST = 'guests/build/recursion-O0.elf';
const sym = (s: string) => symOf(GUEST, s);

/** Starts `x86ft run GUEST --gdb 0`, runs gdb -batch with `cmds`; returns gdb's output and the run's exit status. */
async function session(cmds: string[], before?: (port: number, stderr: () => string) => Promise<void>): Promise<{ gdb: string; status: number | null; stderr: string }> {
  const emu = spawn(process.execPath, [CLI, 'run', GUEST, '--gdb', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    emu.stderr.on('data', (d: Buffer) => { stderr += d; const m = /127\.0\.0\.1:(\d+)/.exec(stderr); if (m) resolve(Number(m[1])); });
    emu.on('exit', () => reject(new Error(`x86ft exited: ${stderr}`)));
  });
  if (before) await before(port, () => stderr);
  const args = ['-batch', '-nx', '-ex', 'set confirm off', '-ex', `target remote 127.0.0.1:${port}`, ...cmds.flatMap((c) => ['-ex', c]), GUEST];
  const gdb = await spawnAsync('gdb', args, { encoding: 'utf8', timeout: 90_000 });
  const status = await new Promise<number | null>((resolve) => { if (emu.exitCode !== null) resolve(emu.exitCode); else { emu.on('exit', (c) => resolve(c)); setTimeout(() => emu.kill('SIGKILL'), 20_000); } });
  return { gdb: gdb.stdout + gdb.stderr, status, stderr };
}

/** The emulator's own state: an in-process machine stopped before `addr`, then `steps` instructions on. */
function ownState(addr: number, steps: number): Machine {
  const m = Machine.fromElf(new Uint8Array(readFileSync(GUEST)), {});
  const h = new Hooks();
  h.breakpoints.add(addr);
  m.cpu.setHooks(h);
  expect(m.run().end).toBe('debug');
  h.breakpoints.clear();
  h.stepping = true;
  for (let k = 0; k < steps; k++) expect(m.run().end).toBe('debug');
  return m;
}

const GPRS: [string, number][] = [['rax', 0], ['rbx', 3], ['rcx', 1], ['rdx', 2], ['rsi', 6], ['rdi', 7], ['rbp', 5], ['rsp', 4], ['r8', 8], ['r12', 12], ['r15', 15]];

describe('gdb stub (real gdb)', () => {
  // one x86ft run and one gdb session for the whole file; junk clients connect first
  let r: { gdb: string; status: number | null; stderr: string };
  beforeAll(async () => {
    /** Connects, writes `junk` (null: nothing), and resolves once the stub has closed the connection (or, for
     *  nothing written, once this side closed it). */
    const junkClient = (port: number, junk: string | null) => new Promise<void>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => { if (junk === null) c.end(); else c.write(junk); });
      c.on('error', reject);
      c.on('data', () => {});
      c.on('close', () => resolve());
    });
    const waitFor = async (text: () => string, n: number) => {
      // bounded by the test's timeout: the lines come as soon as the stub has read the junk
      while ((text().match(/dropped the client/g) ?? []).length < n) await new Promise((r) => setTimeout(r, 50));
    };
    r = await session(['break *main', 'continue', 'info registers', 'stepi', 'stepi', 'stepi', 'info registers', 'x/4xb 0x7fff00000000', 'set var $rax = 5',
      'delete', 'watch *(unsigned long *)&calls', 'continue', 'delete', 'continue'], async (port, stderr) => {
      await junkClient(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await junkClient(port, '+$qSupported#00');
      await junkClient(port, null);
      await waitFor(stderr, 3);
    });
  }, 180_000);

  it('break on main, stepi, registers equal the emulator state at the same count; exit reported', async () => {
    const main = sym('main');
    expect(r.gdb).toContain(`Breakpoint 1, 0x${main.toString(16).padStart(16, '0')} in main ()`);
    const dumps = r.gdb.split('\nrax ').slice(1).map((d) => 'rax ' + d);
    expect(dumps.length).toBe(2);
    const regOf = (dump: string, name: string) => BigInt(new RegExp(`^${name}\\s+(0x[0-9a-f]+)`, 'm').exec(dump)![1]);
    for (const [k, steps] of [[0, 0], [1, 3]] as const) {
      const m = ownState(main, steps);
      for (const [name, n] of GPRS) expect(regOf(dumps[k], name), `${name} after ${steps} steps`).toBe(BigInt.asUintN(64, m.cpu.reg64(n)));
      expect(regOf(dumps[k], 'rip')).toBe(BigInt(m.cpu.rip));
      expect(Number(regOf(dumps[k], 'eflags'))).toBe(m.cpu.getRflags());
      expect(Number(regOf(dumps[k], 'cs'))).toBe(m.cpu.sel[1]);
    }
    expect(r.gdb).toContain('Cannot access memory at address 0x7fff00000000');
    expect(r.gdb).toMatch(/not supported by this stub|Could not write register/);
    const plain = await spawnAsync(process.execPath, [CLI, 'run', GUEST], { encoding: 'utf8', timeout: 300_000 });
    expect(r.gdb).toContain(`exited with code 0${plain.status!.toString(8)}`);
    expect(r.status).toBe(plain.status);
  });

  it('a watchpoint on a global stops after the store with the new value', () => {
    expect(r.gdb).toMatch(/Old value = 0\s+New value = 1/);
  });

  it('junk clients on the port (garbage, a wrong checksum, a silent close) are dropped with a line on stderr; gdb still connects', () => {
    const drops = r.stderr.split('\n').filter((l) => l.includes('dropped the client'));
    expect(drops.length).toBe(3);
    expect(drops[0]).toMatch(/^x86ft: gdb stub: dropped the client 127\.0\.0\.1:\d+, which does not speak the GDB remote protocol \(it sent "GET \/ HTTP.*\); still waiting for gdb on 127\.0\.0\.1:\d+$/);
    expect(drops[1]).toContain('with a wrong checksum');
    expect(drops[2]).toContain('it closed the connection');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.gdb).toContain('Breakpoint 1, '); // gdb, connecting after them, got its session
  });
});
