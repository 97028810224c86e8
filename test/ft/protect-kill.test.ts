// x86ft protect with SIGKILL of the primary at seeded random moments (real processes): the
// secondary takes over, and protect's stdout, the console file and the disk equal an uninterrupted
// run of the deterministic ft_demo guest byte for byte; exactly one primary remains (generation 2
// is the secondary's, the killed process is gone). Also SIGKILL of the secondary: the primary goes
// on alone, losing nothing. More kills: npm run ft:torture -- --count N.

import { describe, it, expect, beforeAll } from 'vitest';
import { protectRun, rng, type Outcome } from './protect-harness.js';
import { demoReference, expectSameAsReference as same } from './protect-expect.js';
import { concurrencyLimit } from '../helpers/proc.js';

const SEED = 0x5eed;
const KILLS = 10;
let elf: string;
let ref: Outcome;
// The runs mostly wait (the 2 s failure timeout, the guest's idle time): three at a time overlap those
// waits. Every run still has its own control directory, store, ports and processes.
const slot = concurrencyLimit(3);
/** Per test, including the wait for a slot (a hang guard: protectRun bounds each run itself). */
const TIMEOUT_MS = 600_000;

beforeAll(async () => {
  ({ elf, ref } = await demoReference());
});

describe('protect: SIGKILL of the primary at random moments', () => {
  // kill points are guest progress (console bytes released), never wall-clock moments: a fraction
  // of the uninterrupted run's output, so the guest is still running whatever the machine's speed
  const next = rng(SEED);
  const fractions = Array.from({ length: KILLS }, () => next() * 0.7);
  for (const [i, f] of fractions.entries()) {
    it.concurrent(`kill ${i + 1}/${KILLS}: primary killed after ${(f * 100).toFixed(0)}% of the console was released`, async ({ expect }) => {
      const r = await slot(() => protectRun({ elf, kill: { role: 'primary', afterMs: 0, afterBytes: Math.floor(f * ref.stdout.length) } }));
      expect(r.killed, `the VM ended before the kill:\n${r.stderr}`).toBeDefined();
      expect(r.killed!.gone).toBe(true);
      same(r, ref);
      // exactly one primary remains: the secondary won generation 2 and ran the guest to its end
      expect(r.claims).toEqual(['local-a', 'local-b']);
      expect(r.record!.primary?.host).toBe('local-b');
      expect(r.record!.primary?.pid).not.toBe(r.killed!.pid);
      expect(r.record!.failovers).toBe(1);
    }, TIMEOUT_MS);
  }
});

describe('protect: SIGKILL of the secondary', () => {
  it.concurrent('the primary claims generation 2 and goes on alone, losing nothing', async ({ expect }) => {
    // at guest progress (a quarter of the console released), never at a wall-clock moment: on a quiet
    // machine the guest can end within 300 ms of protection
    const r = await slot(() => protectRun({ elf, kill: { role: 'secondary', afterMs: 0, afterBytes: Math.floor(ref.stdout.length / 4) } }));
    expect(r.killed, r.stderr).toBeDefined();
    expect(r.killed!.gone).toBe(true);
    same(r, ref);
    expect(r.claims).toEqual(['local-a', 'local-a']);
    expect(r.record!.primary?.host).toBe('local-a');
    expect(r.record!.secondary).toBeNull();
  }, TIMEOUT_MS);

  it.concurrent('an uninterrupted protected run equals the plain run', async ({ expect }) => {
    const r = await slot(() => protectRun({ elf }));
    same(r, ref);
    expect(r.claims).toEqual(['local-a']);
  }, TIMEOUT_MS);
});
