// reverse-stepi through gdb (the real gdb, batch mode) across a REP string instruction and across an interrupt
// delivery, on a replay of dev_sched (a preemptive scheduler on the PIT: the timer interrupts running code).
// Every position gdb reaches is checked against the replay's own state at its instruction count
// (`x86ft replay LOG --stop-at N --dump --json`, a separate process that never attaches gdb), and against the
// architecture: one REP STOSQ iteration per step (SDM Vol. 2 REP: RCX down by one, RDI up by 8, RIP unchanged
// until RCX = 0); an interrupt delivery retires no instruction, pushes the interrupted RIP/CS/RFLAGS/RSP/SS
// (SDM Vol. 3A §6.14.2), and stepping back from the handler's first instruction lands on that RIP and RSP.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, symOf, replaySession, sections, reg, icountOf, REGS, expectReplayState as expectOwn } from './gdb-harness.js';
import { spawnAsync } from '../helpers/proc.js';

const GUEST = 'guests/build/dev_sched-O0.elf';
const sym = (s: string) => symOf(GUEST, s);
let dir = '';

/** Address of crt0's `rep stosq` (the BSS clear), from objdump's disassembly of _start. */
function repStos(): number {
  const d = execFileSync('objdump', ['-d', GUEST, `--start-address=0x${sym('_start').toString(16)}`, `--stop-address=0x${(sym('_start') + 64).toString(16)}`], { encoding: 'utf8' });
  const m = /^\s*([0-9a-f]+):\s+f3 48 ab\s/m.exec(d);
  if (!m) throw new Error(`no rep stos in _start:\n${d}`);
  return parseInt(m[1], 16);
}

const session = (cmds: string[]) => replaySession(dir, GUEST, [join(dir, 'rec.log'), '--image', GUEST, '--checkpoint-every', '20000'], cmds);
const expectReplayState = (section: string, what: string) => expectOwn([join(dir, 'rec.log'), '--image', GUEST], section, what);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'x86ft-rstepi-'));
  // 6 ticks of the scheduler: its length is a number of PIT ticks (guest time), whatever the machine's speed
  const r = await spawnAsync(process.execPath, [CLI, 'record', GUEST, '--log', join(dir, 'rec.log'), '--cmdline', '6', '--no-input'], { encoding: 'utf8', timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain('scheduler ok');
});

describe('reverse-stepi through gdb across a REP instruction and an interrupt', () => {
  it('REP STOSQ one iteration a step back and forth; the timer interrupt\'s delivery stepped back to the interrupted boundary', async () => {
    const rep = repStos(), stub = sym('x86ft_isr_stubs') + 0x20 * 16; // vector 0x20 (IRQ 0 remapped), 16-byte stubs
    const r = await session([
      `break *0x${rep.toString(16)}`, 'continue', 'echo @@R0\\n', 'info registers', 'monitor icount',
      'stepi', 'stepi', 'stepi', 'echo @@R3\\n', 'info registers', 'monitor icount',
      'reverse-stepi', 'reverse-stepi', 'echo @@R1\\n', 'info registers', 'monitor icount',
      'delete', `break *0x${stub.toString(16)}`, 'ignore 2 2', 'continue', 'echo @@H\\n', 'info registers', 'monitor icount', 'x/5gx $rsp',
      'delete', 'reverse-stepi', 'echo @@I\\n', 'info registers', 'monitor icount',
      'stepi', 'echo @@S\\n', 'info registers', 'monitor icount',
      'reverse-stepi', 'echo @@I2\\n', 'info registers', 'monitor icount', 'echo @@end\\n', 'kill',
    ]);
    const s = sections(r.gdb);
    expect([...s.keys()], r.gdb).toEqual(['R0', 'R3', 'R1', 'H', 'I', 'S', 'I2', 'end']);
    const R0 = s.get('R0')!, R3 = s.get('R3')!, R1 = s.get('R1')!;
    // REP: the same RIP, one iteration per instruction count, RCX -1 and RDI +8 each
    for (const [x, k] of [[R3, 3], [R1, 1]] as const) {
      expect(reg(x, 'rip')).toBe(BigInt(rep));
      expect(icountOf(x)).toBe(icountOf(R0) + k);
      expect(reg(x, 'rcx')).toBe(reg(R0, 'rcx') - BigInt(k));
      expect(reg(x, 'rdi')).toBe(reg(R0, 'rdi') + 8n * BigInt(k));
    }
    expect(reg(R0, 'rcx')).toBeGreaterThan(3n);
    await expectReplayState(R1, 'one iteration in, reached backwards');
    // the interrupt: the handler's first instruction, then back to the interrupted boundary at the same count
    const H = s.get('H')!, I = s.get('I')!, S = s.get('S')!, I2 = s.get('I2')!;
    expect(reg(H, 'rip')).toBe(BigInt(stub));
    const frame = [...H.matchAll(/:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)/g)].flatMap((m) => [BigInt(m[1]), BigInt(m[2])]);
    expect(frame.length).toBeGreaterThanOrEqual(5); // RIP CS RFLAGS RSP SS as the CPU pushed them
    expect(icountOf(I)).toBe(icountOf(H)); // a delivery retires no instruction
    expect(reg(I, 'rip')).toBe(frame[0]);
    expect(reg(I, 'cs')).toBe(frame[1]);
    expect(reg(I, 'eflags') | 0x10000n).toBe(frame[2] | 0x10000n);
    expect(reg(I, 'rsp')).toBe(frame[3]);
    expect(reg(I, 'eflags') & 0x200n).toBe(0x200n); // IF was set where the timer interrupted
    await expectReplayState(I, 'the interrupted boundary');
    // forward one step: the delivery and the handler's first instruction (push $0: RSP 8 below the frame)
    expect(icountOf(S)).toBe(icountOf(I) + 1);
    expect(reg(S, 'rip')).toBe(BigInt(stub + 2));
    expect(reg(S, 'rsp')).toBe(reg(H, 'rsp') - 8n);
    for (const n of REGS) expect(reg(I2, n), `${n} back again`).toBe(reg(I, n));
    expect(r.status).toBe(0);
  }, 120_000);
});
