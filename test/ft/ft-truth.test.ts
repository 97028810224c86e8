// What `ft start|wait|status|restart-secondary` tell a user is what happened (issue 10's new-user trial), with
// real agents and roles on a dir: control plane: a cluster whose agents differ in channel TLS (one with the
// cluster's files, one plain) never pairs them — the VM says why, the plain agent refuses such a secondary
// itself, `ft start` warns — and is protected once a second TLS host registers; a record left saying
// `protected` for a primary that holds no secondary is corrected by the primary, and a planned operation
// the primary cannot do says so; a guest that fails at once (ft_demo without --disk) is reported by
// `ft start`, `ft wait` (its status, its console's last line) and `ft status`.

import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openControl, updateVm, type SpawnDecision, type ControlPlane, type HostRecord, type VmRecord } from '../../src/ft/control.js';
import { tlsLayout } from '../../src/ft/tls.js';
import { statusView } from '../../src/cli/ft-status.js';
import { guest } from './protect-harness.js';
import { cli, ftStart, isProtected, newCluster, sleep, startHost, stopCluster, stopLiveClusters, waitRecord } from './hosts-harness.js';

let elf: string;
beforeAll(() => { elf = guest('ft_demo'); });
afterEach(stopLiveClusters);

async function decided(cp: ControlPlane, id: string): Promise<SpawnDecision> {
  for (const until = Date.now() + 30_000; Date.now() < until; await sleep(50)) {
    const d = (await cp.readSpawn(id))?.decision;
    if (d) return d;
  }
  throw new Error(`spawn request ${id} was not decided in 30 s`);
}

describe('ft commands say what happened', () => {
  it('mixed TLS never pairs (the VM says why); a stale protected is corrected; a failing guest is reported', async () => {
    const c = newCluster('ft-truth');
    const cp = await openControl(c.spec);
    try {
      const init = await cli(c, ['ft', 'init', '--control', c.spec, '--hosts', 'h1,h3']);
      expect(init.status, init.stderr).toBe(0);
      const tls = tlsLayout(join(c.store, 'tls'));
      const tlsArgs = (id: string): string[] => ['--tls-cert', tls.host(id).cert, '--tls-key', tls.host(id).key, '--tls-ca', tls.caCert, '--no-spare'];
      startHost(c, 'h1', tlsArgs('h1'));
      const h2 = startHost(c, 'h2', ['--no-spare']); // plain TCP
      await waitHosts(cp, ['h1', 'h2']);
      const st = await ftStart(c, elf, 'm', '100000 1500');
      expect(st.status, st.stderr).toBe(0);
      expect(st.stderr).toMatch(/differ in channel TLS \(h1: TLS \(cluster CA [0-9A-F:]+…\); h2: plain TCP\)/);
      // the primary (h1, first by id) never places its secondary on h2, and says why
      const waiting = await waitRecord(cp, 'm', (r) => /h2 \(plain TCP\) cannot pair with this primary \(TLS/.test(r.reason ?? ''), 30_000, 'a reason naming the TLS mismatch');
      expect(waiting.primary?.host).toBe('h1');
      expect(waiting.state).not.toBe('protected');
      expect(waiting.secondary).toBeNull();
      // asked directly, the plain agent refuses a secondary for the TLS primary (its own check, as for anti-affinity)
      const req = await cp.postSpawn({ id: '', vm: 'm', generation: waiting.generation, role: 'secondary', host: 'h2', notHosts: ['h1'], primary: waiting.primary, config: waiting.config, by: { hostId: 'h1', pid: process.pid, addr: null }, postedAt: Date.now() });
      const d = await decided(cp, req);
      expect(d.kind, JSON.stringify(d)).toBe('rejected');
      expect(d.reason).toMatch(/h1 uses TLS .* this host plain TCP: its secondary could never join/);

      // a record claiming `protected` that the primary does not hold (what a lost write race left): corrected by
      // the primary within its publishing period; a planned operation asked meanwhile is refused, never "not acted"
      await updateVm(cp, 'm', (r) => ({ ...r, state: 'protected', secondary: { host: 'h2', pid: h2.pgid, addr: null } }));
      const rs = await cli(c, ['ft', 'restart-secondary', 'm', '--control', c.spec]);
      expect(rs.status, rs.stderr).toBe(7);
      expect(rs.stderr).toMatch(/nothing done/);
      const fixed = await waitRecord(cp, 'm', (r) => r.state !== 'protected', 20_000, 'the stale protected corrected');
      expect(fixed.state).toBe('starting');
      const req2 = fixed.restartSecondaryRequested;
      if (req2) expect(req2.refused, JSON.stringify(req2)).toMatch(/the primary is starting \(no secondary paired\); nothing done/);

      // a host of the primary's setting registers: protected, on h1 and h3
      startHost(c, 'h3', tlsArgs('h3'));
      const prot = await waitRecord(cp, 'm', isProtected, 90_000, 'protected');
      expect(new Set([prot.primary!.host, prot.secondary!.host])).toEqual(new Set(['h1', 'h3']));
      const stop = await cli(c, ['ft', 'stop', 'm', '--control', c.spec]);
      expect(stop.status, stop.stderr).toBe(0);

      // ft_demo without --disk exits 2 at once, saying so on its console only: every command reports it
      const nd = await cli(c, ['ft', 'start', elf, '--vm', 'nd', '--control', c.spec, '--cmdline', '4 10', '--hosts', 'h1,h3', '--failure-timeout-ms', '5000']);
      expect(nd.status, nd.stderr).toBe(0);
      const w = await cli(c, ['ft', 'wait', 'nd', '--control', c.spec], 120_000);
      expect(w.status, w.stderr).toBe(2);
      expect(w.stderr).toMatch(/VM 'nd' ended: the guest exited with status 2; the last line of its console .*: "no virtio-blk device \(give --disk\)"/);
      const s = await cli(c, ['ft', 'status', 'nd', '--control', c.spec]);
      expect(s.status, s.stderr).toBe(0);
      expect(s.stdout).toMatch(/nd: ended: the guest exited with status 2 \(a failure status: see its console file\)/);
      const j = await cli(c, ['ft', 'status', 'nd', '--control', c.spec, '--json']);
      expect(JSON.parse(j.stdout)).toMatchObject({ name: 'nd', state: 'ended', exitStatus: 2 });
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  }, 300_000); // three agents, two VMs, a TLS join: 108 s at a load of 24 (a hang guard, not a speed bound)

  it('ft status never shows protected when the secondary\'s host holds no lease', () => {
    const host = (id: string): HostRecord => ({ id, addr: null, pid: 1, leaseMs: 2000, registeredAt: 1, renewedAt: 1, expiresAt: Date.now() + 2000 });
    const rec = {
      name: 'v', generation: 3, state: 'protected', placed: true, rolesAt: 2, primary: { host: 'a', pid: 10, addr: null, lease: 1 }, secondary: { host: 'b', pid: 11, addr: null, lease: 1 },
      lag: { instructions: 0, ms: 0 }, held: { outputs: 0, bytes: 0 }, logBitsPerSecond: 0, heartbeatAgeMs: 0, lastFailover: null, reason: null, exitStatus: null,
    } as unknown as VmRecord;
    expect(statusView(rec, [host('a'), host('b')]).state).toBe('protected');
    const v = statusView(rec, [host('a')]);
    expect(v.state).toBe('not-protected');
    expect(v.reason).toMatch(/the secondary's host b has no live lease/);
  });
});

async function waitHosts(cp: ControlPlane, ids: string[]): Promise<void> {
  for (const until = Date.now() + 60_000; ; await sleep(50)) {
    const live = (await cp.listHosts()).map((h) => h.id);
    if (ids.every((id) => live.includes(id))) return;
    if (Date.now() > until) throw new Error(`hosts ${ids.join(',')} did not register in 60 s (live: ${live.join(',')})`);
  }
}
