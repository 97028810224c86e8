// Vitest assertions shared by the protect tests (the harness itself stays free of vitest: the
// torture run uses it outside the test runner).

import { expect } from 'vitest';
import { guest, referenceRun, type Outcome, type ProtectRun } from './protect-harness.js';

/** The ft_demo guest and its uninterrupted run (checked to have passed). */
export async function demoReference(): Promise<{ elf: string; ref: Outcome }> {
  const elf = guest('ft_demo');
  const ref = await referenceRun(elf);
  expect(ref.status, ref.stderr).toBe(0);
  expect(ref.stdout.toString()).toMatch(/demo done \d+ hash [0-9a-f]{8} mismatches 0\n$/);
  return { elf, ref };
}

/** protect's stdout, the console file and the disk equal the uninterrupted run's; the guest ended with 0. */
export function expectSameAsReference(r: ProtectRun, ref: Outcome): void {
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.equals(ref.stdout), `protect's stdout differs:\n${r.stdout.toString()}`).toBe(true);
  expect(r.console.equals(ref.console), `console file differs:\n${r.console.toString()}`).toBe(true);
  expect(r.disk.equals(ref.disk), 'the disk differs from the uninterrupted run').toBe(true);
  expect(r.record?.state).toBe('ended');
}
