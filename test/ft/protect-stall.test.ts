// Stalled roles under x86ft protect (real processes, SIGSTOP for twice the failure timeout, then
// SIGCONT): a stalled primary of the disk-writing ft_demo guest writes nothing the new primary can
// see after it resumes (the disk equals an uninterrupted run's); a stalled secondary leaves one
// primary and loses nothing. Guarantees only: no assertion on how fast anything happened.

import { describe, it, expect, beforeAll } from 'vitest';
import { FAILURE_TIMEOUT_MS, protectRun, type Outcome } from './protect-harness.js';
import { demoReference, expectSameAsReference as same } from './protect-expect.js';

let elf: string;
let ref: Outcome;

beforeAll(async () => {
  ({ elf, ref } = await demoReference());
});

describe('protect: stalled roles', () => {
  it('a primary stalled for 2x the failure timeout: the secondary takes over; the disk and console equal an uninterrupted run', async () => {
    const r = await protectRun({ elf, kill: { role: 'primary', afterMs: 0, afterBytes: Math.floor(ref.stdout.length / 4), stopMs: 2 * FAILURE_TIMEOUT_MS } });
    expect(r.killed, r.stderr).toBeDefined();
    same(r, ref); // the disk too: no late write of the stalled primary is seen
    expect(r.claims).toEqual(['local-a', 'local-b']);
    expect(r.record?.primary?.host).toBe('local-b');
    expect(r.killed!.gone).toBe(true);
  });

  it('a secondary stalled for 2x the failure timeout: one primary, nothing lost', async () => {
    const r = await protectRun({ elf, kill: { role: 'secondary', afterMs: 0, afterBytes: Math.floor(ref.stdout.length / 4), stopMs: 2 * FAILURE_TIMEOUT_MS } });
    expect(r.killed, r.stderr).toBeDefined();
    same(r, ref);
    // the primary claimed generation 2 and went on alone; the resumed secondary never claimed
    expect(r.claims).toEqual(['local-a', 'local-a']);
    expect(r.record?.primary?.host).toBe('local-a');
  });
});
