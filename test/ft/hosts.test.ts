// Host agents (`x86ft host`) and `x86ft ft start|wait|stop|list` with real processes on a dir:
// control plane: the primary and the secondary are placed on two different hosts (anti-affinity),
// kill -9 of the primary's whole host (its process group) is a failover that loses and doubles
// nothing (console file and disk equal an uninterrupted run); with one host the VM waits and says
// why, and is protected once a second host registers; ft stop ends it, the name is reusable; an
// agent that loses its lease kills its roles. The kill case runs on dir: and on a real etcd started by the test.

import { describe, it, expect, beforeAll } from 'vitest';
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { openControl, type ControlPlane } from '../../src/ft/control.js';
import { startEtcd } from '../helpers/etcd.js';
import { demoReference, expectClusterSameAsReference } from './protect-expect.js';
import { DEMO_CMDLINE, alive, type Outcome } from './protect-harness.js';
import { cli, ftStart, type Cluster, isProtected, killHost, newCluster, readBytes, sleep, startHost, stopCluster, waitRecord } from './hosts-harness.js';

let elf: string;
let ref: Outcome;

beforeAll(async () => {
  ({ elf, ref } = await demoReference());
});

describe('x86ft host + ft start', () => {
  it('places P and S on two hosts; kill -9 of the primary\'s host group fails over with nothing lost or doubled', async () => {
    const c = newCluster('hosts-kill');
    const cp = await openControl(c.spec);
    try {
      await killPrimaryHost(c, cp);
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it('the same on an etcd: control plane (etcd started by the test; agents find the secret in the store)', async () => {
    const etcd = await startEtcd();
    const spec = `etcd:${etcd.endpoint}`;
    const c = newCluster('hosts-etcd', spec);
    c.env.X86FT_SECRET_FILE = join(c.store, 'secret');
    const cp = await openControl(spec, { secretFile: join(c.store, 'secret') });
    try {
      await killPrimaryHost(c, cp);
    } finally {
      await cp.close();
      await stopCluster(c);
      await etcd.stop();
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it('one host: waits saying why, protected once a second host registers; ft stop; name reused; lease loss kills the roles', async () => {
    const c = newCluster('hosts-one');
    const cp = await openControl(c.spec);
    try {
      startHost(c, 'h1');
      const st = await ftStart(c, elf, 'w', '100000 1500');
      expect(st.status, st.stderr).toBe(0);
      const waiting = await waitRecord(cp, 'w', (r) => /no host for the secondary/.test(r.reason ?? ''), 30_000, 'a reason');
      expect(waiting.state).not.toBe('protected');
      expect(waiting.secondary).toBeNull();
      startHost(c, 'h2');
      const rec = await waitRecord(cp, 'w', isProtected, 60_000, 'protected');
      expect(new Set([rec.primary!.host, rec.secondary!.host])).toEqual(new Set(['h1', 'h2']));
      const again = await ftStart(c, elf, 'w', '1 1');
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/already running \(primary: h[12] pid \d+\)/);
      const stop = await cli(c, ['ft', 'stop', 'w', '--control', c.spec]);
      expect(stop.status, stop.stderr).toBe(0);
      expect((await cp.readVm('w'))!.state).toBe('ended');
      const w = await cli(c, ['ft', 'wait', 'w', '--control', c.spec]);
      expect(w.status).toBe(130);
      // the name is reusable; then host h of the new primary loses its lease: its agent kills the role and exits 4
      const st2 = await ftStart(c, elf, 'w', '100000 1500');
      expect(st2.status, st2.stderr).toBe(0);
      const rec2 = await waitRecord(cp, 'w', (r) => r.generation > rec.generation && !!r.primary?.addr && r.state !== 'ended', 30_000, 'a new primary');
      const h = c.hosts.get(rec2.primary!.host)!;
      unlinkSync(join(c.store, 'hosts', `${h.id}.json`));
      const ex = await Promise.race([h.exited, sleep(20_000).then(() => undefined)]);
      expect(ex, h.log()).toEqual({ code: 4, signal: null });
      expect(h.log()).toMatch(/lost the lease/);
      expect(alive(rec2.primary!.pid)).toBe(false);
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it('usage errors are one line with the documented status', async () => {
    const c = newCluster('hosts-usage');
    try {
      const r = await cli(c, ['host', '--id', 'bad/id', '--control', c.spec]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/host id 'bad\/id' is not valid/);
      const s = await cli(c, ['ft', 'wait', 'nosuch', '--control', c.spec]);
      expect(s.status).toBe(3);
      const t = await cli(c, ['ft', 'start', '/nonexistent.elf', '--control', c.spec]);
      expect(t.status).toBe(2);
      expect(t.stderr).toMatch(/no such file/);
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});

/** Two agents, ft start, kill -9 of the primary's host group at a third of the guest's output: the secondary
 *  takes over, ft wait exits 0, console file and disk equal the uninterrupted run, messages name the new role. */
async function killPrimaryHost(c: Cluster, cp: ControlPlane): Promise<void> {
  startHost(c, 'h1'); startHost(c, 'h2');
  const st = await ftStart(c, elf, 'v', DEMO_CMDLINE);
  expect(st.status, st.stderr).toBe(0);
  expect(st.stdout).toMatch(/^v: generation 1, primary on host h[12] pid \d+/);
  const list = await cli(c, ['ft', 'list', '--control', c.spec, '--json']);
  expect(list.status).toBe(0);
  const lj = JSON.parse(list.stdout) as { vms: { name: string }[]; hosts: { id: string }[] };
  expect(lj.vms.map((v) => v.name)).toEqual(['v']);
  expect(lj.hosts.map((h) => h.id)).toEqual(['h1', 'h2']);
  // nothing slow between 'protected' and the kill: the guest's idle time (DEMO_CMDLINE) lasts 800 ms
  const rec = await waitRecord(cp, 'v', isProtected, 60_000, 'protected');
  expect(rec.primary!.host).not.toBe(rec.secondary!.host);
  // kill at guest progress (a third of the console released), never at a wall-clock moment
  const until = Date.now() + 60_000;
  while (readBytes(c.consoleFile).length < ref.stdout.length / 3 && Date.now() < until) await sleep(5);
  const victim = c.hosts.get(rec.primary!.host)!;
  const survivor = rec.secondary!.host;
  const cur = await cp.readVm('v');
  expect(cur!.state, 'the guest ended before the kill').toBe('protected');
  killHost(victim);
  const w = await cli(c, ['ft', 'wait', 'v', '--control', c.spec]);
  expect(w.status, w.stderr).toBe(0);
  const end = await cp.readVm('v');
  expect(end!.state).toBe('ended');
  expect(end!.primary!.host).toBe(survivor);
  expect(end!.failovers).toBe(1);
  expect(alive(rec.primary!.pid)).toBe(false);
  // the survivor's messages name the role it plays now, also in its agent's prefix (they said secondary)
  const log = c.hosts.get(survivor)!.log();
  expect(log).toMatch(new RegExp(`\\[secondary of v pid ${rec.secondary!.pid}\\] x86ft ft secondary: live at instruction \\d+ as generation 2 \\(now the primary\\)`));
  expect(log).toMatch(new RegExp(`\\[primary of v pid ${rec.secondary!.pid}\\] x86ft ft primary: state `));
  expect(log).not.toMatch(new RegExp(`\\[secondary of v pid ${rec.secondary!.pid}\\] x86ft ft primary`));
  expectClusterSameAsReference(c, 'v', ref);
}
