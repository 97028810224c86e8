// Reverse execution over a replay, driven by the real gdb (Debian's package, batch mode) against
// `x86ft replay LOG --image GUEST --gdb 0` with checkpoints every 2,000 instructions, so that going back
// crosses many of them. Checked against things this project did not produce: gdb's own view of the
// registers before and after (reverse-stepi must give back exactly what stepi left), the guest's C
// source (recursion.c: `calls++` in ack(), so the last write before queens() turns calls from X-1 into
// X), nm's symbols; and against the replay's own state (`replay --stop-at N --dump --json`) and an
// in-process run stopped by the same hooks at the same instruction counts.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../../src/index.js';
import { Hooks } from '../../src/cpu/hooks.js';
import { CLI, symOf, replaySession, sections, reg, icountOf, REGS, dumpName, replayState as ownState } from './gdb-harness.js';
import { spawnAsync } from '../helpers/proc.js';

const GUEST = 'guests/build/recursion-O0.elf';
const sym = (s: string) => symOf(GUEST, s);
let dir = '';
const session = (replayArgs: string[], cmds: string[]) => replaySession(dir, GUEST, replayArgs, cmds);
const replayState = (n: number) => ownState([join(dir, 'rec.log'), '--image', GUEST], n);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'x86ft-reverse-'));
  const r = await spawnAsync(process.execPath, [CLI, 'record', GUEST, '--log', join(dir, 'rec.log'), '--snapshot-at', '1000000', '--snapshot-out', join(dir, 'snap'), '--log2', join(dir, 'rec2.log')], { encoding: 'utf8', timeout: 300_000 });
  expect(r.status, r.stderr).toBe(67); // the guest's own status (calls & 0xff)
  // rec.log: boot to instruction 1,000,000 (queens() starts before); rec2.log: from the snapshot there
});

describe('reverse execution over a replay (real gdb)', () => {
  it('watchpoint and breakpoints backwards, reverse-stepi to the exact registers, the start of history, writes refused', async () => {
    const calls = sym('calls');
    const r = await session([join(dir, 'rec.log'), '--image', GUEST, '--checkpoint-every', '2000'], [
      'break queens', 'continue', 'echo @@Q\\n', 'p *(unsigned long *)&calls', 'monitor icount',
      'delete', 'watch *(unsigned long *)&calls', 'reverse-continue', 'echo @@W\\n', 'x/i $pc', 'monitor icount',
      'delete', 'break ack', 'reverse-continue', 'echo @@A\\n', 'monitor icount', 'info registers',
      'delete', 'stepi', 'echo @@B\\n', 'info registers', 'stepi', 'echo @@C\\n', 'info registers',
      'reverse-stepi', 'echo @@C2\\n', 'info registers', 'reverse-stepi', 'echo @@B2\\n', 'info registers', 'reverse-stepi', 'echo @@A2\\n', 'info registers',
      'reverse-finish', 'echo @@F\\n', 'x/i $pc',
      'reverse-continue', 'echo @@BEGIN\\n', 'monitor icount', 'set var $rax = 5', 'monitor checkpoints', 'kill',
    ]);
    const s = sections(r.gdb);
    // forward to queens, then back to the last write of calls: calls++ of the last ack() turned X-1 into X
    const Q = s.get('Q')!;
    // where gdb put its breakpoints (after each function's prologue, by its own analysis)
    const bp = (n: number, f: string) => { const x = new RegExp(`Breakpoint ${n} at 0x([0-9a-f]+)`).exec(r.gdb)!; expect(x[1].length).toBeGreaterThan(0); const a = parseInt(x[1], 16); expect(a).toBeGreaterThan(sym(f)); return a; };
    const queens = bp(1, 'queens'), ack = bp(3, 'ack');
    expect(r.gdb).toContain(`Breakpoint 1, 0x${queens.toString(16).padStart(16, '0')} in queens ()`);
    const X = Number(/\$1 = (\d+)/.exec(Q)![1]);
    expect(X).toBeGreaterThan(1);
    expect(r.gdb).toMatch(new RegExp(`Old value = ${X}\\s+New value = ${X - 1}`));
    expect(s.get('W')!).toContain('<calls>'); // the instruction at $pc is the store to calls
    // the in-process run, stopped by the same hooks: the last write to calls and the last ack() entry before queens()
    const m = Machine.fromElf(new Uint8Array(readFileSync(GUEST)), {});
    const h = new Hooks();
    let lastWrite = -1, lastAck = -1, queensAt = -1;
    h.add({ kind: 'mem-write', begin: calls, end: calls + 8, fn: (c) => { lastWrite = c.icount; } });
    h.add({ kind: 'code', begin: ack, end: ack + 1, fn: (c) => { lastAck = c.icount; } });
    h.add({ kind: 'code', begin: queens, end: queens + 1, fn: (c) => { if (queensAt < 0) { queensAt = c.icount; h.stopBefore(); } } });
    m.cpu.setHooks(h);
    expect(m.run().end).toBe('debug');
    expect(icountOf(Q)).toBe(queensAt);
    expect(icountOf(s.get('W')!)).toBe(lastWrite); // stopped before the store: its count is the one before it retired
    const A = s.get('A')!;
    expect(icountOf(A)).toBe(lastAck);
    // reverse-stepi gives back exactly the registers stepi left (A -stepi-> B -stepi-> C, back: B, A, before A),
    // and they are the replay's own at that count
    for (const [back, fwd] of [['C2', 'B'], ['B2', 'A']]) {
      for (const n of REGS) expect(reg(s.get(back)!, n), `${n} at ${back}`).toBe(reg(s.get(fwd)!, n));
    }
    expect(reg(s.get('B')!, 'rip')).not.toBe(reg(A, 'rip'));
    const [before, own] = await Promise.all([replayState(icountOf(A) - 1), replayState(icountOf(A))]);
    for (const n of REGS) {
      expect(reg(A, n), n).toBe(BigInt(own[dumpName(n)]!));
      expect(reg(s.get('A2')!, n), n).toBe(BigInt(before[dumpName(n)]!));
    }
    // reverse-finish (gdb's, on bs/bc): back to the call of this ack()
    expect(s.get('F')!).toMatch(/=> 0x[0-9a-f]+ <[a-z_]+\+\d+>:\s+call\s+0x[0-9a-f]+ <ack>/);
    // no breakpoint left: back to the start of the recorded history
    expect(r.gdb).toContain('No more reverse-execution history.');
    expect(icountOf(s.get('BEGIN')!)).toBe(0);
    expect(r.gdb).toMatch(/refused during replay/);
    expect(r.gdb).toMatch(/checkpoints: \d+ \(every 2000 instructions/);
    // the page count includes the shared all-zero pages (the new-user trial read '16407 pages (0.1 MiB)' as 64 MiB)
    const pv = /RAM page versions kept: (\d+) \((\d+) stored, ([\d.]+) MiB; the other (\d+) are all-zero pages, shared\)/.exec(r.gdb);
    expect(pv, r.gdb).not.toBeNull();
    expect(Number(pv![2]) + Number(pv![4])).toBe(Number(pv![1]));
    expect(Number(pv![3])).toBeCloseTo(Number(pv![2]) * 4096 / 1048576, 1);
    expect(r.status).toBe(0);
  }, 180_000);

  it('from a snapshot: the history starts at the snapshot', async () => {
    const r = await session([join(dir, 'rec2.log'), '--image', GUEST, '--snapshot', join(dir, 'snap'), '--checkpoint-every', '50000'], [
      'break hanoi', 'continue', 'reverse-continue', 'echo @@S\\n', 'monitor icount', 'kill',
    ]);
    expect(r.gdb).toContain(`in hanoi ()`);
    expect(r.gdb).toContain('No more reverse-execution history.');
    expect(icountOf(sections(r.gdb).get('S')!)).toBe(1_000_000);
    expect(r.status).toBe(0);
  }, 120_000);
});
