// Host leases are renewed by a worker thread (dir: src/ft/lease-thread.ts; etcd: control-etcd.ts's thread with its
// own etcd client): an agent whose main thread does not turn for longer than its lease keeps it (at a load of 25-35
// agents lost 2 s leases and killed healthy roles); the thread still gives the lease up when it was removed or
// taken over. Both backends share one block of the main thread; the etcd: one runs the build's module (the thread
// runs compiled code) against a real etcd started here.

import { describe, it, expect } from 'vitest';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { openControl, keepLease, type ControlError } from '../../src/ft/control.js';
import { startEtcd } from '../helpers/etcd.js';

const built = (await import(new URL('../../dist/src/ft/control.js', import.meta.url).href)) as typeof import('../../src/ft/control.js');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(20)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

describe('host leases renewed by a worker thread (dir: and etcd:)', () => {
  it('kept while the main thread is blocked for 2 lease lengths; lost once removed, released or taken over', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'x86ft-lease-'));
    const etcd = await startEtcd();
    const cp = await openControl(`dir:${join(tmp, 'ctl')}`);
    const ecp = await built.openControl(`etcd:${etcd.endpoint}`, { secretFile: join(tmp, 'secret') });
    try {
      // the default 2 s lease (renewed every 500 ms; etcd: a 2 s TTL): the thread must be scheduled once in 2 s,
      // also on a loaded machine
      const lease = await cp.registerHost({ id: 'busy', addr: null, pid: process.pid }, 2000);
      const elease = await ecp.registerHost({ id: 'busy', addr: null, pid: process.pid }, 2000);
      const lost: ControlError[] = [];
      const elost: ControlError[] = [];
      const stop = keepLease(lease, (e) => lost.push(e));
      let ethread = 0;
      const t0 = Date.now();
      const estop = built.keepLease(elease, (e) => elost.push(e), () => (ethread = Date.now() - t0));
      // the etcd: thread loads the etcd client and connects first (this thread renews until then)
      await until('the etcd: renewal thread to renew', () => ethread > 0);
      // the main thread sleeps in Atomics.wait: no timer, no promise, no thread-pool or gRPC answer runs for 4 s
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
      expect(lost).toEqual([]);
      expect(elost).toEqual([]);
      const h = (await cp.listHosts()).find((x) => x.id === 'busy');
      expect(h, 'the dir: lease outlived two of its lengths with the main thread blocked').toBeDefined();
      expect(h!.expiresAt).toBeGreaterThan(Date.now());
      // etcd holds the key only while the lease lives (server-side TTL): renewed by the thread alone meanwhile
      const eh = (await ecp.listHosts()).find((x) => x.id === 'busy');
      expect(eh, 'the etcd: lease outlived two of its lengths with the main thread blocked').toBeDefined();
      expect(eh!.renewedAt, 'the thread rewrote the record while the main thread was blocked').toBeGreaterThan(eh!.registeredAt);

      // dir: another registration's file in its place (what a new agent of the same id writes after an expiry)
      const file = join(tmp, 'ctl', 'hosts', 'busy.json');
      writeFileSync(`${file}.other`, 'x');
      renameSync(`${file}.other`, file);
      // etcd: the key deleted under the live lease and the id registered again by another agent
      const raw = new Etcd3({ hosts: `http://${etcd.endpoint}` });
      await raw.delete().key('x86ft/hosts/busy');
      const taker = await ecp.registerHost({ id: 'busy', addr: null, pid: 2 }, 60_000);
      await until('onLost after a takeover', () => lost.length > 0 && elost.length > 0);
      raw.close();
      expect(lost.map((e) => e.code)).toEqual(['LEASE_EXPIRED']);
      expect(lost[0]!.message).toMatch(/lease of host 'busy' was taken over or removed/);
      expect(elost.map((e) => [e.code, e.message])).toEqual([['LEASE_EXPIRED', "lease of host 'busy' was taken over or removed"]]);
      expect((await ecp.listHosts()).find((x) => x.id === 'busy')?.pid, 'the old lease left the new holder alone').toBe(2);
      stop();
      estop();
      await taker.release();

      const lease2 = await cp.registerHost({ id: 'gone', addr: null, pid: process.pid }, 1000);
      const elease2 = await ecp.registerHost({ id: 'gone', addr: null, pid: process.pid }, 1000);
      const lost2: ControlError[] = [];
      const elost2: ControlError[] = [];
      const stop2 = keepLease(lease2, (e) => lost2.push(e));
      const estop2 = built.keepLease(elease2, (e) => elost2.push(e));
      await Promise.all([lease2.release(), elease2.release()]);
      await until('onLost after a release', () => lost2.length > 0 && elost2.length > 0);
      // (the agent's thread may find out first when the renewal thread has not renewed yet: 'taken over or removed')
      expect(lost2.map((e) => e.code)).toEqual(['LEASE_EXPIRED']);
      expect(lost2[0]!.message).toMatch(/^lease of host 'gone' was (taken over or )?removed$/);
      expect(elost2.map((e) => [e.code, e.message])).toEqual([['LEASE_EXPIRED', "lease of host 'gone' ran out"]]);
      stop2();
      estop2();
      await sleep(600); // a stopped thread renews nothing and reports nothing more
      expect(lost2.length).toBe(1);
      expect(elost2.length).toBe(1);
    } finally {
      await cp.close();
      await ecp.close();
      await etcd.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
