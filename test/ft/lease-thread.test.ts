// The dir: control plane renews a host lease from a worker thread (src/ft/lease-thread.ts): an agent whose
// main thread does not turn for longer than its lease keeps it (at a load of 25-35 agents lost 2 s leases
// and killed healthy roles); the thread still gives the lease up when it was removed or taken over.

import { describe, it, expect } from 'vitest';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openControl, keepLease, type ControlError } from '../../src/ft/control.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(20)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

describe('dir: host lease renewed by a worker thread', () => {
  it('kept while the main thread is blocked for 2 lease lengths; lost once the file is removed or replaced', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'x86ft-lease-'));
    const cp = await openControl(`dir:${join(tmp, 'ctl')}`);
    try {
      // the default 2 s lease (renewed every 500 ms): the thread must be scheduled once in 2 s, also on a loaded machine
      const lease = await cp.registerHost({ id: 'busy', addr: null, pid: process.pid }, 2000);
      const lost: ControlError[] = [];
      const stop = keepLease(lease, (e) => lost.push(e));
      // the main thread sleeps in Atomics.wait: no timer, no promise, no thread-pool answer runs for 4 s
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
      expect(lost).toEqual([]);
      const h = (await cp.listHosts()).find((x) => x.id === 'busy');
      expect(h, 'the lease outlived two of its lengths with the main thread blocked').toBeDefined();
      expect(h!.expiresAt).toBeGreaterThan(Date.now());
      // another registration's file in its place (what a new agent of the same id writes after an expiry)
      const file = join(tmp, 'ctl', 'hosts', 'busy.json');
      writeFileSync(`${file}.other`, 'x');
      renameSync(`${file}.other`, file);
      await until('onLost after a takeover', () => lost.length > 0);
      expect(lost.map((e) => e.code)).toEqual(['LEASE_EXPIRED']);
      expect(lost[0]!.message).toMatch(/lease of host 'busy' was taken over or removed/);
      stop();

      const lease2 = await cp.registerHost({ id: 'gone', addr: null, pid: process.pid }, 1000);
      const lost2: ControlError[] = [];
      const stop2 = keepLease(lease2, (e) => lost2.push(e));
      await lease2.release();
      await until('onLost after a release', () => lost2.length > 0);
      expect(lost2.map((e) => [e.code, e.message])).toEqual([['LEASE_EXPIRED', "lease of host 'gone' was removed"]]);
      stop2();
      await sleep(600); // a stopped thread renews nothing and reports nothing more
      expect(lost2.length).toBe(1);
    } finally {
      await cp.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
