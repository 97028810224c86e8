// Stalled roles under x86ft protect (real processes, SIGSTOP for twice the failure timeout, then
// SIGCONT): a stalled primary of the disk-writing ft_demo guest writes nothing the new primary can
// see after it resumes (the disk equals an uninterrupted run's); a stalled secondary leaves one
// primary and loses nothing. Guarantees only: no assertion on how fast anything happened.

import { describe, it, expect, beforeAll } from 'vitest';
import { FAILURE_TIMEOUT_MS, guest, protectRun, referenceRun, type Outcome } from './protect-harness.js';

let elf: string;
let ref: Outcome;

beforeAll(async () => {
  elf = guest('ft_demo');
  ref = await referenceRun(elf);
  expect(ref.status).toBe(0);
});

describe('protect: stalled roles', () => {
  it('a primary stalled for 2x the failure timeout: the secondary takes over; the disk and console equal an uninterrupted run', async () => {
    const r = await protectRun({ elf, kill: { role: 'primary', afterMs: 200, stopMs: 2 * FAILURE_TIMEOUT_MS } });
    expect(r.killed, r.stderr).toBeDefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(ref.stdout), r.stdout.toString()).toBe(true);
    expect(r.console.equals(ref.console)).toBe(true);
    expect(r.disk.equals(ref.disk), 'the disk differs: a late write of the stalled primary was seen').toBe(true);
    expect(r.claims).toEqual(['local-a', 'local-b']);
    expect(r.record?.primary?.host).toBe('local-b');
    expect(r.killed!.gone).toBe(true);
  });

  it('a secondary stalled for 2x the failure timeout: one primary, nothing lost', async () => {
    const r = await protectRun({ elf, kill: { role: 'secondary', afterMs: 200, stopMs: 2 * FAILURE_TIMEOUT_MS } });
    expect(r.killed, r.stderr).toBeDefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(ref.stdout), r.stdout.toString()).toBe(true);
    expect(r.console.equals(ref.console)).toBe(true);
    expect(r.disk.equals(ref.disk)).toBe(true);
    // the primary claimed generation 2 and went on alone; the resumed secondary never claimed
    expect(r.claims).toEqual(['local-a', 'local-a']);
    expect(r.record?.primary?.host).toBe('local-a');
  });
});
