// Host agents (`x86ft host`) and `x86ft ft start|wait|stop|list` with real processes on a dir:
// control plane: the primary and the secondary are placed on two different hosts (anti-affinity),
// kill -9 of the primary's whole host (its process group) is a failover that loses and doubles
// nothing (console file and disk equal an uninterrupted run); with one host the VM waits and says
// why, and is protected once a second host registers; ft stop ends it, the name is reusable; an
// agent that loses its lease kills its roles. The kill case runs on dir: and on a real etcd started by the test.
// Hosts as network namespaces (a dead host is a dead network peer: it sends nothing, not even a FIN or
// RST), three agents with TLS: the primary's host drops off the LAN and dies, the secondary's host takes
// over on the failure timeout, a new secondary joins on the third host over mutual TLS, nothing lost.

import { describe, it, expect, beforeAll, afterEach, onTestFinished } from 'vitest';
import { existsSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { openControl, type ControlPlane, type SpawnDecision } from '../../src/ft/control.js';
import { startEtcd } from '../helpers/etcd.js';
import { demoReference, expectClusterSameAsReference } from './protect-expect.js';
import { DEMO_CMDLINE, ROOT, alive, atHold, guest, withoutIdle, type Outcome } from './protect-harness.js';
import { spawn } from 'node:child_process';
import { cli, ftStart, type Cluster, isProtected, killHost, newCluster, readBytes, release, sleep, startHost, stopCluster, waitConsole, waitRecord, stopLiveClusters } from './hosts-harness.js';
import { HostLan, netnsUnavailable } from './netns.js';
import { tlsLayout } from '../../src/ft/tls.js';

let elf: string;
let ref: Outcome;
/** The kill cases' guest: DEMO_CMDLINE (50 ms of guest idle time per line, and the hold: it waits for one console
 *  byte after its last line, typed by the test once the failover is done: it cannot end before, however fast the
 *  machine or slow the failover); its reference without the idle time. */
const KILL_CMDLINE = DEMO_CMDLINE;
/** The namespace case's guest: 30 lines with 40 ms of guest idle time each, then the hold (released once the VM is
 *  protected again: the failure timeout, as a dead peer is only noticed by its silence, and a new secondary's
 *  start on a loaded machine both happen before the guest may end); its reference without the idle time. */
const NETNS_CMDLINE = '30 300 40 1';
let netnsRef: Outcome;

beforeAll(async () => {
  // the two uninterrupted runs at once (separate processes and disks)
  [{ elf, ref }, { ref: netnsRef }] = await Promise.all([demoReference(withoutIdle(KILL_CMDLINE)), demoReference('30 300 0 1')]);
});

// agents lead process groups of their own: end them even when a test timed out before its finally ran
afterEach(stopLiveClusters);

describe('x86ft host + ft start', () => {
  it('places P and S on two hosts; kill -9 of the primary\'s host group fails over with nothing lost or doubled', async () => {
    const c = newCluster('hosts-kill');
    const cp = await openControl(c.spec);
    try {
      await killPrimaryHost(c, cp, { spares: true });
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
      await killPrimaryHost(c, cp, { spares: false });
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
      // a secondary asked for an ended VM (its guest ended while the request was on its way) is refused, not started
      const ended = (await cp.readVm('w'))!;
      const pHost = ended.primary?.host ?? 'h1', sHost = pHost === 'h1' ? 'h2' : 'h1';
      const late = await cp.postSpawn({ id: '', vm: 'w', generation: ended.generation, role: 'secondary', host: sHost, notHosts: [pHost], primary: ended.primary, config: ended.config, by: { hostId: pHost, pid: process.pid, addr: null }, postedAt: Date.now() });
      const d = await waitSpawnDecision(cp, late);
      expect(d.kind, JSON.stringify(d)).toBe('rejected');
      expect(d.reason).toMatch(/FT VM 'w' has ended/);
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

  it('hosts as network namespaces, with TLS: the primary\'s host drops off the LAN and dies; the secondary\'s host takes over, a new secondary joins on the third host over TLS; nothing lost or doubled', async () => {
    const ids = ['h1', 'h2', 'h3'];
    const lan = new HostLan(ids);
    const probes: ReturnType<typeof plainProbe>[] = [];
    // after afterEach ended the agents, also when the test timed out before its finally ran
    onTestFinished(() => { for (const p of probes) p.kill(); lan.remove(); });
    const c = newCluster('hosts-netns');
    const cp = await openControl(c.spec);
    try {
      try { lan.create(); } catch (e) { throw netnsUnavailable(e); }
      // TLS for every host (x86ft ft init); an agent refuses another host's certificate at start
      const init = await cli(c, ['ft', 'init', '--control', c.spec, '--hosts', ids.join(',')]);
      expect(init.status, init.stderr).toBe(0);
      const tls = tlsLayout(join(c.store, 'tls'));
      const tlsArgs = (id: string): string[] => ['--tls-cert', tls.host(id).cert, '--tls-key', tls.host(id).key, '--tls-ca', tls.caCert];
      const wrong = await cli(c, ['host', '--id', 'h1', '--control', c.spec, ...tlsArgs('h2')]);
      expect(wrong.status).toBe(2);
      expect(wrong.stderr).toMatch(/is the certificate of host 'h2', not of host 'h1' \(its CN must be the --id\)/);
      // --no-spare: a role in a warm spare got its options over IPC, and /proc/PID/cmdline (checked below) would not show them
      for (const id of ids) startHost(c, id, ['--listen', lan.addr(id), ...tlsArgs(id), '--no-spare'], lan.ns(id));
      probes.push(...ids.map((id) => plainProbe(lan.ns(id), c.spec, 'n', id)));
      const st = await ftStart(c, elf, 'n', NETNS_CMDLINE);
      expect(st.status, st.stderr).toBe(0);
      let rec = await waitRecord(cp, 'n', (r) => isProtected(r) || r.state === 'ended', 60_000, 'protected');
      expect(rec.state, 'the guest ended before it was protected').toBe('protected');
      // kill at guest progress: a few lines after protection, or the guest waiting at its hold (stops waiting if the VM ends)
      expect(await waitConsole(c, cp, 'n', readBytes(c.consoleFile).length + 3 * 40), 'the guest ended before the cut').toBe(true);
      rec = (await cp.readVm('n'))!;
      expect(isProtected(rec), 'the guest ended before the cut').toBe(true);
      const victim = c.hosts.get(rec.primary!.host)!, survivor = rec.secondary!.host, third = ids.find((h) => h !== victim.id && h !== survivor)!;
      expect(rec.primary!.addr).toMatch(new RegExp(`^${lan.addr(victim.id).replace(/\./g, '\\.')}:\\d+$`));
      // the host drops off the network first (nothing it sends arrives any more), then dies, then its namespace goes
      lan.cut(victim.id);
      killHost(victim);
      await victim.exited;
      lan.removeHost(victim.id);
      const after = await waitRecord(cp, 'n', (r) => r.state === 'ended' || (r.generation > rec.generation && r.primary?.pid === rec.secondary!.pid), 60_000, 'a failover');
      expect(after.state, 'the guest ended instead of failing over').not.toBe('ended');
      const again = await waitRecord(cp, 'n', (r) => r.state === 'ended' || (isProtected(r) && r.secondary!.host === third), 90_000, `protected again with the secondary on ${third}`);
      expect(again.state, 'the guest ended before it was protected again').toBe('protected');
      expect(again.primary!.pid, 'exactly one primary: the process that took over').toBe(rec.secondary!.pid);
      expect(alive(rec.primary!.pid)).toBe(false);
      // the survivor saw a dead network peer: silence until the failure timeout, not a closed connection
      expect(c.hosts.get(survivor)!.log()).toMatch(/primary failed \(no message from the peer for \d+ ms/);
      // TLS after go-live and respawn: the new primary and the respawned secondary run on their hosts' certificates
      // (a TLS role connects or accepts over mutual TLS only: test/ft/ft-init.test.ts)
      expect(readFileSync(`/proc/${again.secondary!.pid}/cmdline`, 'latin1').split('\0')).toEqual(expect.arrayContaining(tlsArgs(third)));
      expect(readFileSync(`/proc/${again.primary!.pid}/cmdline`, 'latin1').split('\0')).toEqual(expect.arrayContaining(tlsArgs(survivor)));
      // and the new primary's channel takes nothing but TLS: a plain-TCP peer from the third host with the cluster
      // secret (all a secondary has, but a certificate) is dropped during the handshake
      const answer = await probes[ids.indexOf(third)]!.ask(again.generation, again.primary!.addr!);
      expect(answer).toMatch(/^refused ProtocolError CLOSED\b/);
      // the guest may end: its byte through x86ft console, run on the new primary's host (its console service
      // listens on that namespace's loopback)
      const rl = await release(c, 'n', 120_000, lan.ns(survivor));
      expect(rl.status, rl.stderr).toBe(0);
      const w = await cli(c, ['ft', 'wait', 'n', '--control', c.spec], 120_000);
      expect(w.status, w.stderr).toBe(0);
      const end = (await cp.readVm('n'))!;
      expect(end.failovers).toBe(1);
      expect(end.primary!.host).toBe(survivor);
      expectClusterSameAsReference(c, 'n', netnsRef);
    } catch (e) {
      // what the agents and their roles said, for a failure seen once on a loaded machine
      if (e instanceof Error) e.message += `\n${[...c.hosts.values()].map((h) => `--- agent ${h.id}:\n${h.log()}`).join('\n')}`;
      throw e;
    } finally {
      await cp.close();
      await stopCluster(c);
      for (const p of probes) p.kill();
      lan.remove();
      rmSync(c.dir, { recursive: true, force: true });
    }
  }, 240_000); // a hang guard, not a speed bound: at a load of 30-45 this case took 80-120 s (its guest alone lasts at least 12 s)

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
      // a control directory that does not exist is a typo (no agent registered there): refused, nothing created
      const gone = join(c.dir, 'no-such-cluster');
      const u = await cli(c, ['ft', 'start', guest('ft_demo'), '--vm', 'v', '--control', `dir:${gone}`]);
      expect(u.status, u.stderr).toBe(1);
      expect(u.stderr).toBe(`x86ft ft start: control directory ${gone} does not exist (no cluster there; nothing was created)\n`);
      expect(existsSync(gone)).toBe(false);
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});

/** A process in network namespace `ns` that, given 'GENERATION HOST:PORT' on stdin, connects there as a
 *  secondary would but on plain TCP, with the cluster secret; its answer is 'connected' or 'refused NAME CODE
 *  message'. Started ahead (node's start-up on a loaded machine takes seconds), asked once. */
function plainProbe(ns: string, spec: string, vm: string, hostId: string): { ask(generation: number, addr: string): Promise<string>; kill(): void } {
  const script = `import { openControl } from ${JSON.stringify(join(ROOT, 'dist/src/ft/control.js'))};
import { connectFt } from ${JSON.stringify(join(ROOT, 'dist/src/ft/channel.js'))};
import { createInterface } from 'node:readline';
const cp = await openControl(${JSON.stringify(spec)});
const secret = await cp.secret();
await cp.close();
for await (const line of createInterface({ input: process.stdin })) {
  const [g, addr] = line.split(' ');
  const at = addr.lastIndexOf(':');
  try {
    const peer = await connectFt({ secret, vm: ${JSON.stringify(vm)}, generation: Number(g), hostId: ${JSON.stringify(hostId)}, host: addr.slice(0, at), port: Number(addr.slice(at + 1)), handshakeTimeoutMs: 30000 });
    peer.abort();
    console.log('connected');
  } catch (e) { console.log('refused', e.name, e.code, e.message); }
  break;
}`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  return {
    async ask(generation, addr) { child.stdin.end(`${generation} ${addr}\n`); await exited; return out + err; },
    kill() { child.kill('SIGKILL'); },
  };
}

/** Two agents, ft start, kill -9 of the primary's host group at a third of the guest's output: the secondary
 *  takes over, ft wait exits 0, console file and disk equal the uninterrupted run, messages name the new role. */
async function killPrimaryHost(c: Cluster, cp: ControlPlane, o: { spares: boolean }): Promise<void> {
  startHost(c, 'h1'); startHost(c, 'h2');
  // each agent's warm spare (node started, modules loaded): the secondary is started in it, a primary never is
  // (the dir: case; the etcd: one does not wait for the spares, so the secondary may start either way)
  const spares = new Map<string, number>();
  const until0 = Date.now() + 60_000;
  while (o.spares && spares.size < 2 && Date.now() < until0) {
    for (const h of c.hosts.values()) { const m = /warm spare pid (\d+) ready/.exec(h.log()); if (m) spares.set(h.id, Number(m[1])); }
    await sleep(20);
  }
  if (o.spares) expect(spares.size, [...c.hosts.values()].map((h) => h.log()).join('\n')).toBe(2);
  // the guest holds its end until the test types its byte: time for the ft list below and the kill however fast
  // it runs (a secondary from a warm spare protects the guest at once)
  const st = await ftStart(c, elf, 'v', KILL_CMDLINE);
  expect(st.status, st.stderr).toBe(0);
  expect(st.stdout).toMatch(/^v: generation 1, primary on host h[12] pid \d+/);
  const list = await cli(c, ['ft', 'list', '--control', c.spec, '--json']);
  expect(list.status).toBe(0);
  const lj = JSON.parse(list.stdout) as { vms: { name: string }[]; hosts: { id: string }[] };
  expect(lj.vms.map((v) => v.name)).toEqual(['v']);
  expect(lj.hosts.map((h) => h.id)).toEqual(['h1', 'h2']);
  const rec = await waitRecord(cp, 'v', isProtected, 60_000, 'protected');
  expect(rec.primary!.host).not.toBe(rec.secondary!.host);
  if (o.spares) {
    expect(rec.secondary!.pid, 'the secondary runs in its host\'s warm spare').toBe(spares.get(rec.secondary!.host));
    expect(rec.primary!.pid).not.toBe(spares.get(rec.primary!.host));
  }
  // kill at guest progress (a third of the console released, or the guest at its hold), never at a wall-clock moment
  const until = Date.now() + 60_000;
  while (readBytes(c.consoleFile).length < ref.stdout.length / 3 && !atHold(readBytes(c.consoleFile)) && Date.now() < until) await sleep(5);
  const victim = c.hosts.get(rec.primary!.host)!;
  const survivor = rec.secondary!.host;
  const cur = await cp.readVm('v');
  expect(cur!.state, 'the guest ended before the kill').toBe('protected');
  killHost(victim);
  // the guest may end: its byte through x86ft console, which follows the VM to the new primary
  const rl = await release(c, 'v');
  expect(rl.status, rl.stderr).toBe(0);
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

/** The decision on spawn request `id` (an agent decides within a few seconds even on a loaded machine). */
async function waitSpawnDecision(cp: ControlPlane, id: string): Promise<SpawnDecision> {
  const until = Date.now() + 30_000;
  for (;;) {
    const e = await cp.readSpawn(id);
    if (e?.decision) return e.decision;
    if (Date.now() > until) throw new Error(`no decision on spawn request ${id} in 30 s`);
    await sleep(25);
  }
}
