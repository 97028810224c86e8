// Vitest assertions shared by the protect tests (the harness itself stays free of vitest: the
// torture run uses it outside the test runner).

import { expect } from 'vitest';
import { join } from 'node:path';
import { exportDisk } from '../../src/ft/store.js';
import { DEMO_CMDLINE, guest, referenceRun, withoutIdle, type Outcome, type ProtectRun } from './protect-harness.js';
import { readBytes, type Cluster } from './hosts-harness.js';

/** The ft_demo guest and its uninterrupted run (checked to have passed); `cmdline` without idle time (it changes
 *  neither the console nor the disk), default DEMO_CMDLINE's. */
export async function demoReference(cmdline?: string): Promise<{ elf: string; ref: Outcome }> {
  const elf = guest('ft_demo');
  const ref = await referenceRun(elf, cmdline ?? withoutIdle(DEMO_CMDLINE));
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

/** A cluster's VM `vm` (host-agent tests): its console file and its disk (base + layers) equal the uninterrupted run's. */
export function expectClusterSameAsReference(c: Cluster, vm: string, ref: Outcome): void {
  expect(readBytes(c.consoleFile).equals(ref.console), `console file differs:\n${readBytes(c.consoleFile).toString()}`).toBe(true);
  const out = join(c.dir, 'disk.out');
  exportDisk({ store: c.store, vm, disk: 0, base: c.disk, out });
  expect(readBytes(out).equals(ref.disk), 'the disk differs from the uninterrupted run').toBe(true);
}
