// A secondary respawned from a pre-copied live snapshot (FT.md "Redundancy restored",
// src/replay/precopy.ts) while the guest rewrites its RAM, with real `x86ft ft primary|secondary`
// processes: the guest ft_dirty rewrites 512 KiB (a word in every page, every 16th page whole) in every
// pass and prints a hash of all of it, so a page the pre-copy missed shows in its output. The first
// secondary is SIGKILLed, the primary goes on alone (generation 2) and a new secondary joins it
// (RAM pre-copied while the guest runs, the state at M checked by one hash over the assembled
// machine); once it protects the guest the primary is SIGKILLed and the new secondary takes over and
// finishes the run: the console file equals an uninterrupted run's. (The chain replay of the
// generation logs with a snapshot record at M: test/replay/precopy.test.ts in-process, and the
// redundancy torture.)

import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAsync } from '../helpers/proc.js';
import { openControl } from '../../src/ft/control.js';
import { CLI, FT, caseDir, fileGrows, guestElf, role, type Role } from './role-harness.js';

/** ft_dirty: passes, KiB rewritten per pass, ms of guest idle time per pass, and the hold: after its last pass the
 *  guest goes on rewriting RAM (without output) until one console byte comes, typed by the test once the new
 *  secondary took over, so the guest cannot end before a secondary's start, a loss and a respawn however fast the
 *  machine is, and RAM changes during the pre-copy either way. */
const PASSES = 36, KIB = 512, IDLE_MS = 50;
const LINE = 'dirty pass 0001 of 36 hash 0123456789abcdef\n'.length;
const HOLD_LINE = 'dirty holding: waiting for one console byte\n';

let elf: string;
let want: Buffer;

beforeAll(async () => {
  elf = guestElf('ft_dirty');
  const c = caseDir('dirtyref');
  // the byte the hold waits for, from the console's input file
  const input = join(c.dir, 'input');
  writeFileSync(input, 'x');
  const r = role(['run', elf, '--cmdline', `${PASSES} ${KIB} 0 1`, '--mem', '16M', '--console', `file:${c.consoleFile}:${input}`], c.dir);
  const status = await r.done;
  if (status !== 0) throw new Error(`reference run failed (${status}): ${r.err()}`);
  want = readFileSync(c.consoleFile);
}, 120_000);

/** Resolves once `p`'s stderr matches `re`, or `p` ended first (false). */
async function said(p: Role, re: RegExp): Promise<boolean> {
  let over = false;
  void p.done.then(() => { over = true; });
  while (!re.test(p.err())) {
    if (over) return re.test(p.err());
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('respawn from a pre-copied snapshot', () => {
  it('the guest rewrites RAM during the pre-copy; the new secondary protects it, takes over after a SIGKILL of the primary and finishes with the uninterrupted output', async () => {
    const c = caseDir('precopy');
    const p = role(['ft', 'primary', elf, '--control', `dir:${c.ctl}`, '--listen', '127.0.0.1:0', '--host-id', 'local-a',
      '--cmdline', `${PASSES} ${KIB} ${IDLE_MS} 1`, '--mem', '16M', '--console-file', c.consoleFile, ...FT], c.dir);
    const s1 = role(['ft', 'secondary', '--control', `dir:${c.ctl}`, '--host-id', 'local-b', ...FT], c.dir);
    const diag = (): string => `--- primary:\n${p.err()}\n--- secondary 1:\n${s1.err()}\n--- secondary 2:\n${s2?.err() ?? ''}`;
    let s2: Role | undefined;
    // guest progress (released console bytes), never a wall-clock moment
    await fileGrows(c.consoleFile, 2 * LINE, p.done);
    s1.child.kill('SIGKILL');
    expect(await s1.done).toBe(-1);
    // the primary goes on alone at generation 2 and listens for a new secondary there
    expect(await said(p, /generation 2: running not protected/), `the primary ended before it went on alone\n${diag()}`).toBe(true);
    s2 = role(['ft', 'secondary', '--control', `dir:${c.ctl}`, '--host-id', 'local-c', ...FT], c.dir);
    expect(await said(p, /redundancy restored/), `the run ended before the new secondary protected it\n${diag()}`).toBe(true);
    expect(p.err(), diag()).toMatch(/pages pre-copied in \d+ rounds, \d+ of them at M; guest paused [\d.]+ ms \([\d.]+ ms of CPU\)/);
    // the secondary's own line may come after the primary's (its channel thread acks M on receipt)
    expect(await said(s2, /joined from a snapshot at instruction \d+ \(RAM pre-copied/), diag()).toBe(true);
    // a pass more, or the guest at its hold (it cannot end there)
    const at = readFileSync(c.consoleFile).length;
    await fileGrows(c.consoleFile, at + LINE, p.done, () => readFileSync(c.consoleFile).toString('latin1').endsWith(HOLD_LINE));
    p.child.kill('SIGKILL');
    expect(await p.done, `the primary ended before it was killed\n${diag()}`).toBe(-1);
    // the guest may end: its byte through x86ft console, which finds the new primary
    const typed = spawnAsync(process.execPath, [CLI, 'console', '--control', `dir:${c.ctl}`], { input: 'x', encoding: 'utf8', timeout: 120_000 });
    const s2Status = await s2.done;
    const t = await typed;
    expect(t.status, t.stderr).toBe(0);
    expect(s2Status, diag()).toBe(0);
    expect(s2.err(), diag()).toMatch(/claiming generation 3/);
    expect(readFileSync(c.consoleFile).equals(want), `console file differs\n${diag()}`).toBe(true);
    const cp = await openControl(`dir:${c.ctl}`);
    try {
      expect(await cp.generation('default')).toBe(3);
      expect((await cp.claimOwner('default', 3))?.hostId).toBe('local-c');
    } finally { await cp.close(); }
  }, 120_000);
});

