// Typed input across a failover (real processes): lines typed into `x86ft protect`'s stdin, or into
// an `x86ft console` client, while the primary is killed with SIGKILL, each reach the guest exactly
// once and in order (the dev_echo guest echoes every line it gets; no echo may be missing or doubled),
// and protect's stdout carries each echo exactly once; the generation logs replay as one run,
// identical, with the same console.

import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openControl, type ControlPlane, type VmRecord } from '../../src/ft/control.js';
import { CLI, FAILURE_TIMEOUT_MS, guest, tempDir } from './protect-harness.js';

const LINES = 40;
const KILL_AFTER_LINE = 15;
let elf: string;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(() => { elf = guest('dev_echo'); });

interface Proc { child: ChildProcess; out: () => string; err: () => string; done: Promise<number | null> }

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { child, out: () => out, err: () => err, done };
}

async function waitFor(what: () => boolean, label: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!what()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}`);
    await sleep(20);
  }
}

async function protectedVm(cp: ControlPlane): Promise<{ primaryPid: number }> {
  let pid = 0;
  const until = Date.now() + 60_000;
  for (;;) {
    const rec = await cp.readVm('default').catch(() => undefined);
    if (rec?.state === 'protected' && rec.primary && rec.primary.pid > 1 && rec.secondary && rec.consoleAddr) { pid = rec.primary.pid; break; }
    if (Date.now() > until) throw new Error('the VM never became protected');
    await sleep(20);
  }
  return { primaryPid: pid };
}

/** Types LINES lines into `type`, killing the primary after KILL_AFTER_LINE of them, then "quit". */
async function typeAcrossFailover(cp: ControlPlane, type: (s: string) => void): Promise<number> {
  const { primaryPid } = await protectedVm(cp);
  for (let i = 1; i <= LINES; i++) {
    type(`line ${String(i).padStart(3, '0')}\n`);
    if (i === KILL_AFTER_LINE) process.kill(primaryPid, 'SIGKILL');
    await sleep(25);
  }
  type('quit\n');
  return primaryPid;
}

function expectEchoedOnce(out: string, lines = LINES): void {
  const echoes = [...out.matchAll(/^> LINE (\d{3})$/gm)].map((m) => Number(m[1]));
  expect(echoes).toEqual(Array.from({ length: lines }, (_, i) => i + 1));
  expect(out).toMatch(/^> QUIT\n|bye: /m);
  expect(out).toMatch(new RegExp(`bye: ${lines + 1} lines, ${lines * 9 + 5} bytes`));
}

/** The record once `ok` holds for it (a hang guard of 120 s, not a speed bound). */
async function recordWhen(cp: ControlPlane, ok: (r: VmRecord) => boolean, label: string): Promise<VmRecord> {
  const until = Date.now() + 120_000;
  for (;;) {
    const rec = await cp.readVm('default').catch(() => undefined);
    if (rec && ok(rec)) return rec;
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}: ${JSON.stringify({ ...rec, config: undefined })}`);
    await sleep(20);
  }
}

describe('typed input during a failover arrives exactly once', () => {
  it("through protect's stdin", async () => {
    const dir = tempDir('input');
    const control = join(dir, 'control');
    mkdirSync(control, { mode: 0o700 });
    const cp = await openControl(`dir:${control}`);
    try {
      const p = start(['protect', elf, '--control', `dir:${control}`, '--failure-timeout-ms', String(FAILURE_TIMEOUT_MS)]);
      const killed = await typeAcrossFailover(cp, (s) => p.child.stdin!.write(s));
      const status = await p.done;
      expect(status, p.err()).toBe(0);
      expectEchoedOnce(p.out());
      expect(p.out().startsWith('dev_echo ready\n')).toBe(true);
      const rec = await cp.readVm('default');
      expect(rec?.primary?.host).toBe('local-b');
      expect(rec?.primary?.pid).not.toBe(killed);
      expect(rec?.failovers).toBe(1);
      // a timer- and input-driven guest: the generation chain replays identical and gives this console
      const rp = start(['replay', '--control', `dir:${control}`, 'default']);
      expect(await rp.done, rp.out() + rp.err()).toBe(0);
      expect(rp.out()).toMatch(/replay identical/);
      expect(rp.err()).toBe(p.out());
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("through x86ft console, protect's own stdin at its end (it frees the input; protect shows the same console)", async () => {
    const dir = tempDir('input');
    const control = join(dir, 'control');
    mkdirSync(control, { mode: 0o700 });
    const cp = await openControl(`dir:${control}`);
    try {
      // `protect … </dev/null`: its console client held the guest's input for good, and a second console's typing
      // was kept silently, never delivered (the new-user trial); at its stdin's end protect lets go of the input
      const p = start(['protect', elf, '--control', `dir:${control}`, '--failure-timeout-ms', String(FAILURE_TIMEOUT_MS)]);
      p.child.stdin!.end();
      await protectedVm(cp);
      const c = start(['console', '--control', `dir:${control}`]);
      await waitFor(() => c.out().includes('dev_echo ready'), 'the console client');
      await typeAcrossFailover(cp, (s) => c.child.stdin!.write(s));
      const [ps, cs] = await Promise.all([p.done, c.done]);
      expect(ps, p.err()).toBe(0);
      expect(cs, c.err()).toBe(0);
      expectEchoedOnce(c.out());
      expect(c.out()).toBe(p.out());
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // protect restores redundancy (a new secondary joins from a snapshot at M) for a guest that sleeps in HLT with no
  // timer (dev_echo: only the UART's receive interrupt wakes it): the snapshot is taken while it waits, not at the
  // next typed byte. Lost secondary -> protected again -> SIGKILL of the primary -> protected again, each
  // typed line echoed once.
  it('protect re-protects an idle guest after the loss of its secondary and then of its primary', async () => {
    const dir = tempDir('reprotect');
    const control = join(dir, 'control');
    mkdirSync(control, { mode: 0o700 });
    const cp = await openControl(`dir:${control}`);
    const lines = 6;
    try {
      const p = start(['protect', elf, '--control', `dir:${control}`, '--failure-timeout-ms', String(FAILURE_TIMEOUT_MS)]);
      const typeLines = async (from: number, to: number): Promise<void> => {
        for (let i = from; i <= to; i++) p.child.stdin!.write(`line ${String(i).padStart(3, '0')}\n`);
        await waitFor(() => p.out().includes(`> LINE ${String(to).padStart(3, '0')}\n`), `the echo of line ${to}`, 120_000);
      };
      const isProtected = (r: VmRecord): boolean => r.state === 'protected' && !!r.primary && r.primary.pid > 1 && !!r.secondary && r.secondary.pid > 1;
      const first = await recordWhen(cp, isProtected, 'protection');
      await typeLines(1, 2);
      // the guest now sleeps in HLT until a byte comes: the secondary dies; the new one (local-b again) joins it there
      process.kill(first.secondary!.pid, 'SIGKILL');
      const second = await recordWhen(cp, (r) => isProtected(r) && r.secondary!.pid !== first.secondary!.pid, 'protection by a new secondary');
      expect(second.primary!.pid).toBe(first.primary!.pid);
      expect(second.secondary!.host).toBe('local-b');
      await typeLines(3, 4);
      // the primary dies: the new secondary takes over, and a third secondary (on local-a, the host the new primary does not use) joins
      process.kill(first.primary!.pid, 'SIGKILL');
      const third = await recordWhen(cp, (r) => isProtected(r) && r.primary!.pid === second.secondary!.pid && r.secondary!.pid !== second.secondary!.pid, 'protection after the failover');
      expect(third.primary!.host).toBe('local-b');
      expect(third.secondary!.host).toBe('local-a');
      await typeLines(5, lines);
      p.child.stdin!.end('quit\n');
      const status = await p.done;
      expect(status, p.err()).toBe(0);
      expectEchoedOnce(p.out(), lines);
      expect(p.out().startsWith('dev_echo ready\n')).toBe(true);
      expect(p.err()).toMatch(/starting a new secondary pid \d+ \(local-b\)/);
      expect(p.err()).toMatch(/starting a new secondary pid \d+ \(local-a\)/);
      const rec = await cp.readVm('default');
      expect(rec?.failovers).toBe(1);
      // (not checked here: the generation chain with a join's snapshot record replays to a digest divergence at M, also
      // with the snapshot taken after a typed byte woke the guest, before this change; reported to the lead)
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
