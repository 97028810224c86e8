// Typed input across a failover (real processes): lines typed into `x86ft protect`'s stdin, or into
// an `x86ft console` client, while the primary is killed with SIGKILL, each reach the guest exactly
// once and in order (the dev_echo guest echoes every line it gets; no echo may be missing or doubled),
// and protect's stdout carries each echo exactly once; the generation logs replay as one run,
// identical, with the same console.

import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openControl, type ControlPlane } from '../../src/ft/control.js';
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

function expectEchoedOnce(out: string): void {
  const echoes = [...out.matchAll(/^> LINE (\d{3})$/gm)].map((m) => Number(m[1]));
  expect(echoes).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
  expect(out).toMatch(/^> QUIT\n|bye: /m);
  expect(out).toMatch(new RegExp(`bye: ${LINES + 1} lines, ${LINES * 9 + 5} bytes`));
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
});
