// One conformance suite for both control-plane backends (dir: and etcd:), on real files and a real etcd started
// per test: the secret, racing claims (exactly one winner, across real processes), records (atomic replace,
// compare-and-swap, fencing by generation, surviving a SIGKILLed writer), host leases (renewal, expiry), watches,
// spawn requests (one decision; forged ones ignored). A missing etcd binary fails the etcd tests.
import { describe, it, test, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ControlEvent,
  type ControlPlane,
  type SpawnRequest,
  type VmConfig,
  ControlError,
  createVm,
  keepLease,
  openControl,
  parseControlSpec,
  updateVm,
  vmStatus,
} from '../../src/ft/control.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { raceSync, checkRound } from './racers.js';

const CONTROL = new URL('../../dist/src/ft/control.js', import.meta.url).pathname;

interface Fixture {
  spec: string;
  secretFile: string;
  tmp: string;
  open(opts?: { onTampered?: (e: ControlError) => void }): Promise<ControlPlane>;
  /** Stores a spawn request signed with another secret where the real clients will find it. */
  forgeSpawn(req: SpawnRequest): Promise<void>;
  stop(): Promise<void>;
}

async function dirFixture(): Promise<Fixture> {
  const tmp = mkdtempSync(join(tmpdir(), 'x86ft-ctl-'));
  const path = join(tmp, 'ctl');
  return {
    spec: `dir:${path}`,
    secretFile: join(path, 'secret'),
    tmp,
    open: (o = {}) => openControl(`dir:${path}`, { pollMs: 50, ...o }),
    async forgeSpawn(req) {
      const evil = await openControl(`dir:${join(tmp, 'evil')}`);
      await evil.postSpawn(req);
      await evil.close();
      copyFileSync(join(tmp, 'evil', 'spawn', `${req.id}.json`), join(path, 'spawn', `${req.id}.json`));
    },
    async stop() {
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

async function etcdFixture(): Promise<Fixture> {
  const server: EtcdServer = await startEtcd();
  const tmp = mkdtempSync(join(tmpdir(), 'x86ft-ctl-'));
  const spec = `etcd:${server.endpoint}`;
  const secretFile = join(tmp, 'secret');
  return {
    spec,
    secretFile,
    tmp,
    open: (o = {}) => openControl(spec, { secretFile, ...o }),
    async forgeSpawn(req) {
      const evil = await openControl(spec, { secretFile: join(tmp, 'evil-secret') });
      await evil.postSpawn(req);
      await evil.close();
    },
    async stop() {
      await server.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function config(tmp: string): VmConfig {
  return {
    image: join(tmp, 'guest.elf'),
    imageSha256: '0'.repeat(64),
    memorySize: 16 << 20,
    cmdline: '',
    disks: [],
    nets: [],
    consoleFile: join(tmp, 'console.txt'),
    store: tmp,
    ft: { heartbeatMs: 50, failureTimeoutMs: 500, maxHeldBytes: 4 << 20, maxHeldMs: 200, maxLagMs: 50 },
    hosts: null,
  };
}

function spawnReq(tmp: string, id: string, host: string): SpawnRequest {
  return {
    id,
    vm: 'vm1',
    generation: 2,
    role: 'secondary',
    host,
    notHosts: ['host-p'],
    primary: { host: 'host-p', pid: 42, addr: '127.0.0.1:7000' },
    config: config(tmp),
    by: { hostId: 'host-p', pid: 42 },
    postedAt: Date.now(),
  };
}

/** Waits (generous bound, never a speed assertion) until `pred` holds. */
async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    if (e instanceof ControlError) return e.code;
    throw e;
  }
}

for (const backend of ['dir', 'etcd'] as const) {
  // The tests of both backends run concurrently (most of their time is waiting for leases to run out), each
  // on its own fixture: its own directory, or its own etcd server on a free port.
  describe.concurrent(`control plane conformance: ${backend}:`, () => {
    const it = (name: string, body: (t: { fx: Fixture; cp: ControlPlane }) => Promise<void>): void =>
      test(name, async () => {
        const fx = backend === 'dir' ? await dirFixture() : await etcdFixture();
        const t = { fx, cp: await fx.open() };
        try {
          await body(t);
        } finally {
          await t.cp.close();
          await fx.stop();
        }
      });

    it('cluster secret: created once with mode 0600, the same for every client', async (t) => {
      const s1 = await t.cp.secret();
      expect(s1.length).toBe(32);
      expect(statSync(t.fx.secretFile).mode & 0o777).toBe(0o600);
      const cp2 = await t.fx.open();
      expect((await cp2.secret()).equals(s1)).toBe(true);
      await cp2.close();
    });

    it('a secret file readable by others is refused with PERMISSIONS and a clear message', async (t) => {
      chmodSync(t.fx.secretFile, 0o644);
      const err = await t.fx.open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ControlError);
      expect((err as ControlError).code).toBe('PERMISSIONS');
      expect((err as ControlError).message).toMatch(/accessible by group or others.*chmod 600/);
    });

    it('claims: of 16 concurrent claims exactly one wins and the rest learn it; no gaps; generation() follows', async (t) => {
      expect(await t.cp.generation('vm1')).toBe(0);
      expect(await codeOf(t.cp.claim('vm1', 2, { hostId: 'h', pid: 1 }))).toBe('CLAIM_GAP');
      const clients = await Promise.all(Array.from({ length: 4 }, () => t.fx.open()));
      for (let g = 1; g <= 3; g++) {
        const results = await Promise.all(
          Array.from({ length: 16 }, (_, i) => clients[i % 4]!.claim('vm1', g, { hostId: `h${i}`, pid: 1000 + i, addr: `127.0.0.1:${7000 + i}` })),
        );
        const won = results.map((r, i) => (r.won ? i : -1)).filter((i) => i >= 0);
        expect(won).toHaveLength(1);
        const owner = { hostId: `h${won[0]}`, pid: 1000 + won[0]!, addr: `127.0.0.1:${7000 + won[0]!}` };
        for (const r of results) if (!r.won) expect(r.owner).toEqual(owner);
        expect(await t.cp.claimOwner('vm1', g)).toEqual(owner);
        expect(await t.cp.generation('vm1')).toBe(g);
      }
      expect(await t.cp.claimOwner('vm1', 4)).toBeUndefined();
      expect(await codeOf(t.cp.claim('vm1', 0, { hostId: 'h', pid: 1 }))).toBe('BAD_ARGUMENT');
      expect(await codeOf(t.cp.claim('../x', 1, { hostId: 'h', pid: 1 }))).toBe('BAD_NAME');
      await Promise.all(clients.map((c) => c.close()));
    });

    it('racing claims across 8 real processes, 10 generations: exactly one winner each time', async (t) => {
      const rounds = await raceSync(t.fx.spec, t.fx.secretFile, 'race', 8, 10);
      for (const [i, results] of rounds.entries()) {
        const w = checkRound(results);
        expect(await t.cp.claimOwner('race', i + 1)).toMatchObject({ hostId: w.hostId, pid: w.pid });
      }
      expect(await t.cp.generation('race')).toBe(10);
    });

    it('records: createVm claims generation 1, atomic replace, compare-and-swap, stale generations refused', async (t) => {
      const p = { hostId: 'host-a', pid: 11, addr: '127.0.0.1:7001' };
      const rec = await createVm(t.cp, 'vm1', config(t.fx.tmp), p);
      expect(rec.generation).toBe(1);
      expect(await t.cp.claimOwner('vm1', 1)).toEqual(p);
      const read = await t.cp.readVm('vm1');
      expect(read).toEqual(rec);
      expect(vmStatus(read!)).toEqual({
        name: 'vm1',
        generation: 1,
        state: 'starting',
        primary: { host: 'host-a', pid: 11, addr: '127.0.0.1:7001' },
        secondary: null,
        lag: { instructions: 0, ms: 0 },
        held: { outputs: 0, bytes: 0 },
        logBitsPerSecond: 0,
        heartbeatAgeMs: 0,
        lastFailover: null,
      });
      // a second creation of a running VM names its primary
      const err = await createVm(t.cp, 'vm1', config(t.fx.tmp), { hostId: 'host-b', pid: 12 }).catch((e: unknown) => e as ControlError);
      expect(err).toBeInstanceOf(ControlError);
      expect((err as ControlError).code).toBe('VM_EXISTS');
      expect((err as ControlError).message).toMatch(/host-a pid 11/);
      // compare-and-swap
      const r1 = await t.cp.writeVm({ ...read!, state: 'protected' }, { expectRev: read!.rev });
      expect(r1).toBeGreaterThan(read!.rev);
      expect(await codeOf(t.cp.writeVm({ ...read!, state: 'ended' }, { expectRev: read!.rev }))).toBe('CONFLICT');
      expect((await t.cp.readVm('vm1'))!.state).toBe('protected');
      // two writers making the same change to the same revision (equal records): exactly one lands, the other
      // is told CONFLICT (etcd: the loser once took the winner's equal write for its own, losing an update)
      const base = (await t.cp.readVm('vm1'))!;
      const same = { ...base, failovers: base.failovers + 100, updatedAt: base.updatedAt + 1 };
      const twins = await Promise.all([codeOf(t.cp.writeVm(same, { expectRev: base.rev })), codeOf(t.cp.writeVm(same, { expectRev: base.rev }))]);
      expect(twins.sort()).toEqual(['CONFLICT', 'no error']);
      await t.cp.writeVm({ ...base, failovers: 0 }, { expectRev: (await t.cp.readVm('vm1'))!.rev });
      // concurrent updateVm calls all land (none lost), each on the latest record
      await Promise.all(Array.from({ length: 8 }, () => updateVm(t.cp, 'vm1', (r) => ({ ...r, failovers: r.failovers + 1 }))));
      expect((await t.cp.readVm('vm1'))!.failovers).toBe(8);
      // generation 2 claimed: a record of generation 1 (a stale primary) is refused
      expect((await t.cp.claim('vm1', 2, { hostId: 'host-b', pid: 12 })).won).toBe(true);
      const stale = (await t.cp.readVm('vm1'))!;
      expect(await codeOf(t.cp.writeVm({ ...stale, state: 'protected' }))).toBe('STALE_GENERATION');
      await updateVm(t.cp, 'vm1', (r) => ({ ...r, generation: 2, state: 'not-protected', reason: 'secondary lost' }));
      expect((await t.cp.readVm('vm1'))!).toMatchObject({ generation: 2, state: 'not-protected' });
      expect(await codeOf(t.cp.writeVm({ ...stale, state: 'bogus' as 'ended' }))).toBe('BAD_ARGUMENT');
      // an ended VM's name can be reused: its generations continue
      await updateVm(t.cp, 'vm1', (r) => ({ ...r, state: 'ended', exitStatus: 0 }));
      const again = await createVm(t.cp, 'vm1', config(t.fx.tmp), { hostId: 'host-c', pid: 13 });
      expect(again).toMatchObject({ generation: 3, firstGeneration: 3, state: 'starting' });
      await createVm(t.cp, 'vm2', config(t.fx.tmp), p);
      expect((await t.cp.listVms()).map((r) => [r.name, r.generation])).toEqual([
        ['vm1', 3],
        ['vm2', 1],
      ]);
      expect(await t.cp.readVm('nope')).toBeUndefined();
    });

    it('records and claims survive a restart of the client (writer SIGKILLed after writing)', async (t) => {
      const script = `
        import { openControl, createVm, updateVm } from ${JSON.stringify(CONTROL)};
        const cp = await openControl(process.argv[1], { secretFile: process.argv[2] });
        await createVm(cp, 'vmk', JSON.parse(process.argv[3]), { hostId: 'host-k', pid: process.pid });
        await updateVm(cp, 'vmk', (r) => ({ ...r, state: 'protected', failovers: 5 }));
        process.stdout.write('written\\n');
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, t.fx.spec, t.fx.secretFile, JSON.stringify(config(t.fx.tmp))], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('written') && resolve());
        child.once('exit', (c) => reject(new Error(`writer exited ${c}`)));
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await t.cp.close();
      t.cp = await t.fx.open();
      expect(await t.cp.readVm('vmk')).toMatchObject({ name: 'vmk', generation: 1, state: 'protected', failovers: 5, primary: { host: 'host-k', pid: child.pid } });
      expect(await t.cp.claimOwner('vmk', 1)).toEqual({ hostId: 'host-k', pid: child.pid });
    });

    it('host leases: register, one holder per id, renewal keeps a host, expiry removes it, a late renew fails', async (t) => {
      // 6 s: under load (CI beside a torture run, load ~10) etcd took over 3 s for the three calls below, and h1's
      // first 3 s lease ran out before the first listing
      const leaseMs = 6000;
      const lease = await t.cp.registerHost({ id: 'h1', addr: '127.0.0.1:9001', pid: 1 }, leaseMs);
      expect(await codeOf(t.cp.registerHost({ id: 'h1', addr: null, pid: 2 }, leaseMs))).toBe('HOST_EXISTS');
      const other = await t.cp.registerHost({ id: 'h2', addr: null, pid: 3 }, 1000);
      expect((await t.cp.listHosts()).map((h) => h.id)).toEqual(['h1', 'h2']);
      // h2 is never renewed: it runs out while h1, renewed every 150 ms, stays (bounds far from the lease lengths)
      const t0 = Date.now();
      let renewals = 0;
      while ((await t.cp.listHosts()).some((h) => h.id === 'h2') || Date.now() - t0 < leaseMs + 1000) {
        await lease.renew();
        renewals++;
        if (renewals > 200) throw new Error('h2 never expired');
        await new Promise((r) => setTimeout(r, 150));
      }
      expect((await t.cp.listHosts()).map((h) => h.id)).toEqual(['h1']);
      expect(await codeOf(other.renew())).toBe('LEASE_EXPIRED');
      // h1 stops renewing: gone once its lease runs out, and can register again
      await until('h1 to expire', async () => !(await t.cp.listHosts()).some((h) => h.id === 'h1'));
      expect(await codeOf(lease.renew())).toBe('LEASE_EXPIRED');
      const again = await t.cp.registerHost({ id: 'h1', addr: null, pid: 4 }, leaseMs);
      expect((await t.cp.listHosts()).find((h) => h.id === 'h1')).toMatchObject({ pid: 4, leaseMs });
      await again.release();
      expect((await t.cp.listHosts()).map((h) => h.id)).toEqual([]);
      expect(await codeOf(t.cp.registerHost({ id: 'h3', addr: null, pid: 1 }, 5))).toBe('BAD_ARGUMENT');
    });

    it('a renewal racing a release never brings the lease back (30 races)', async (t) => {
      for (let i = 0; i < 30; i++) {
        const lease = await t.cp.registerHost({ id: 'hr', addr: null, pid: 1 }, 60_000);
        const renews = [lease.renew(), lease.renew()].map((p) => p.catch(() => undefined));
        await Promise.all([lease.release(), ...renews]);
        expect((await t.cp.listHosts()).map((h) => h.id), `race ${i}`).toEqual([]);
      }
    });

    it('keepLease renews every quarter lease and calls onLost once the lease is gone', async (t) => {
      // 3 s lease, renewed every 750 ms, watched for 4.5 s: it outlives its first term only through renewals
      const lease = await t.cp.registerHost({ id: 'hk', addr: null, pid: 1 }, 3000);
      const lost: ControlError[] = [];
      const stop = keepLease(lease, (e) => lost.push(e));
      const t0 = Date.now();
      await until('1.5 lease lengths', () => Date.now() - t0 > 4500);
      expect(lost).toEqual([]);
      expect((await t.cp.listHosts()).map((h) => h.id)).toEqual(['hk']);
      await lease.release(); // taken away under the agent: its next renewal finds out
      await until('onLost', () => lost.length > 0);
      expect(lost.map((e) => e.code)).toEqual(['LEASE_EXPIRED']);
      stop();
    });

    it('a host agent stalled (SIGSTOP) past its lease is dropped, and learns it lost the lease when it resumes', async (t) => {
      const script = `
        import { openControl, keepLease } from ${JSON.stringify(CONTROL)};
        const cp = await openControl(process.argv[1], { secretFile: process.argv[2] });
        const lease = await cp.registerHost({ id: 'stalled', addr: null, pid: process.pid }, 1000);
        keepLease(lease, (e) => { process.stdout.write('lost ' + e.code + '\\n'); cp.close().then(() => process.exit(0)); });
        process.stdout.write('registered\\n');`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, t.fx.spec, t.fx.secretFile], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await until('registered', () => out.includes('registered'));
        expect((await t.cp.listHosts()).map((h) => h.id)).toEqual(['stalled']);
        child.kill('SIGSTOP');
        await until('the stalled host to drop out', async () => (await t.cp.listHosts()).length === 0);
        expect(out).not.toMatch(/lost/);
        child.kill('SIGCONT');
        await until('the agent to learn it lost its lease', () => out.includes('lost '));
        expect(out).toMatch(/lost LEASE_EXPIRED/);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('createVm: of 6 concurrent creations of one name exactly one succeeds; the others name its primary', async (t) => {
      const clients = await Promise.all(Array.from({ length: 3 }, () => t.fx.open()));
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => createVm(clients[i % 3]!, 'vmc', config(t.fx.tmp), { hostId: `c${i}`, pid: 100 + i })),
      );
      const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(ok).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'VM_EXISTS', message: expect.stringMatching(/primary: c\d pid 10\d/) });
      expect(await t.cp.readVm('vmc')).toMatchObject({ generation: 1, primary: { host: ok[0]!.primary!.host } });
      expect(await t.cp.generation('vmc')).toBe(1);
      await Promise.all(clients.map((c) => c.close()));
    });

    it('watches: record, host (including a lease running out) and spawn changes reach the callback', async (t) => {
      const events: ControlEvent[] = [];
      const w = await t.cp.watch((e) => events.push(e));
      const writer = await t.fx.open();
      await createVm(writer, 'vmw', config(t.fx.tmp), { hostId: 'h', pid: 1 });
      await until('vm event', () => events.some((e) => e.kind === 'vm' && e.name === 'vmw' && e.record?.state === 'starting'));
      await updateVm(writer, 'vmw', (r) => ({ ...r, state: 'protected' }));
      await until('vm update', () => events.some((e) => e.kind === 'vm' && e.record?.state === 'protected'));
      await writer.registerHost({ id: 'hw', addr: null, pid: 1 }, 1000);
      await until('host event', () => events.some((e) => e.kind === 'host' && e.id === 'hw' && e.host?.pid === 1));
      await until('lease expiry event', () => events.some((e) => e.kind === 'host' && e.id === 'hw' && e.host === undefined));
      const id = await writer.postSpawn(spawnReq(t.fx.tmp, '', 'hw'));
      await until('spawn event', () => events.some((e) => e.kind === 'spawn' && e.id === id && e.entry?.decision === null));
      await writer.decideSpawn(id, { kind: 'accepted', by: 'hw', at: Date.now(), reason: null, pid: 77 });
      await until('decision event', () => events.some((e) => e.kind === 'spawn' && e.id === id && e.entry?.decision?.pid === 77));
      await w.close();
      const n = events.length;
      await updateVm(writer, 'vmw', (r) => ({ ...r, state: 'ended' }));
      await new Promise((r) => setTimeout(r, 300));
      expect(events.length).toBe(n); // closed: nothing more
      await writer.close();
    });

    it('a change reaches a watch without its full poll (dir: fs.watch), and a watch of one VM sees that record alone', async (t) => {
      // a full poll once a minute: the events below come from the watch itself (the bound is a third of that)
      const cp = await t.fx.open({ pollMs: 60_000 });
      const writer = await t.fx.open();
      const all: ControlEvent[] = [], one: ControlEvent[] = [];
      const wa = await cp.watch((e) => all.push(e));
      await createVm(writer, 'vmx', config(t.fx.tmp), { hostId: 'h', pid: 1 });
      await until('vm event', () => all.some((e) => e.kind === 'vm' && e.name === 'vmx'), 20_000);
      const w1 = await cp.watch((e) => one.push(e), { vm: 'vmx' });
      const id = await writer.postSpawn(spawnReq(t.fx.tmp, '', 'hw'));
      await until('spawn event', () => all.some((e) => e.kind === 'spawn' && e.id === id), 20_000);
      await createVm(writer, 'vmy', config(t.fx.tmp), { hostId: 'h', pid: 2 });
      await updateVm(writer, 'vmy', (r) => ({ ...r, state: 'protected' }));
      await updateVm(writer, 'vmx', (r) => ({ ...r, state: 'protected' }));
      await until('the one VM\'s update', () => one.some((e) => e.kind === 'vm' && e.record?.state === 'protected'), 20_000);
      await until('the other VM\'s update', () => all.some((e) => e.kind === 'vm' && e.name === 'vmy' && e.record?.state === 'protected'), 20_000);
      expect(one.filter((e) => e.kind !== 'vm' || e.name !== 'vmx')).toEqual([]);
      expect(await codeOf(cp.watch(() => undefined, { vm: '../x' }))).toBe('BAD_NAME');
      await Promise.all([wa.close(), w1.close()]);
      await Promise.all([cp.close(), writer.close()]);
    });

    it('spawn requests: listed per host, exactly one decision among racing accept/reject/withdraw', async (t) => {
      const a = await t.cp.postSpawn(spawnReq(t.fx.tmp, 'req-a', 'host-b'));
      const b = await t.cp.postSpawn(spawnReq(t.fx.tmp, '', 'host-c'));
      expect(a).toBe('req-a');
      expect(await codeOf(t.cp.postSpawn(spawnReq(t.fx.tmp, 'req-a', 'host-b')))).toBe('BAD_ARGUMENT');
      expect(await codeOf(t.cp.postSpawn(spawnReq(t.fx.tmp, 'req-x', 'host-p')))).toBe('BAD_ARGUMENT'); // anti-affinity
      expect((await t.cp.listSpawns({ host: 'host-b' })).map((e) => e.request.id)).toEqual(['req-a']);
      expect((await t.cp.listSpawns()).map((e) => e.request.id).sort()).toEqual([a, b].sort());
      const clients = await Promise.all(Array.from({ length: 3 }, () => t.fx.open()));
      const kinds = ['accepted', 'rejected', 'withdrawn'] as const;
      const results = await Promise.all(
        Array.from({ length: 9 }, (_, i) => clients[i % 3]!.decideSpawn(a, { kind: kinds[i % 3]!, by: `d${i}`, at: i, reason: null, pid: i })),
      );
      expect(new Set(results.map((r) => r.by)).size).toBe(1); // everyone sees the one decision that holds
      expect((await t.cp.readSpawn(a))!.decision).toEqual(results[0]);
      expect((await t.cp.listSpawns({ undecided: true })).map((e) => e.request.id)).toEqual([b]);
      expect(await codeOf(t.cp.decideSpawn('nope', { kind: 'accepted', by: 'x', at: 0, reason: null, pid: null }))).toBe('NOT_FOUND');
      await t.cp.deleteSpawn(a);
      expect(await t.cp.readSpawn(a)).toBeUndefined();
      await Promise.all(clients.map((c) => c.close()));
    });

    it('a spawn request not signed with the cluster secret is never listed (reported) and reads as TAMPERED', async (t) => {
      const tampered: ControlError[] = [];
      const agent = await t.fx.open({ onTampered: (e) => tampered.push(e) });
      await t.cp.postSpawn(spawnReq(t.fx.tmp, 'good', 'host-b'));
      await t.fx.forgeSpawn(spawnReq(t.fx.tmp, 'evil', 'host-b'));
      expect((await agent.listSpawns({ host: 'host-b' })).map((e) => e.request.id)).toEqual(['good']);
      expect(tampered.map((e) => e.code)).toEqual(['TAMPERED']);
      expect(tampered[0]!.message).toMatch(/evil.*fails its HMAC/);
      expect(await codeOf(agent.readSpawn('evil'))).toBe('TAMPERED');
      await agent.close();
    });
  });
}

describe('control plane: opening', () => {
  it('parses dir:PATH and etcd:HOST:PORT[,…]; anything else is BAD_SPEC', () => {
    expect(parseControlSpec('dir:/x/y')).toEqual({ kind: 'dir', path: '/x/y' });
    expect(parseControlSpec('etcd:127.0.0.1:2379,[::1]:2380,etcd.local:1')).toEqual({
      kind: 'etcd',
      endpoints: ['127.0.0.1:2379', '[::1]:2380', 'etcd.local:1'],
    });
    const saved = process.env.X86FT_CONTROL;
    process.env.X86FT_CONTROL = '/tmp/some-ctl';
    expect(parseControlSpec()).toEqual({ kind: 'dir', path: '/tmp/some-ctl' });
    if (saved === undefined) delete process.env.X86FT_CONTROL;
    else process.env.X86FT_CONTROL = saved;
    for (const bad of ['dir:', 'etcd:', 'etcd:host', 'etcd:h:0', 'etcd:h:70000', 'zk:h:1', '/plain/path'])
      expect(() => parseControlSpec(bad), bad).toThrow(expect.objectContaining({ code: 'BAD_SPEC' }));
  });

  it('dir: a control directory accessible by others is refused; a damaged secret is SECRET_INVALID', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'x86ft-ctl-'));
    try {
      const path = join(tmp, 'ctl');
      await (await openControl(`dir:${path}`)).close();
      expect(statSync(path).mode & 0o777).toBe(0o700);
      chmodSync(path, 0o755);
      await expect(openControl(`dir:${path}`)).rejects.toMatchObject({ code: 'PERMISSIONS', message: expect.stringMatching(/chmod 700/) });
      chmodSync(path, 0o700);
      writeFileSync(join(path, 'secret'), 'not hex\n');
      await expect(openControl(`dir:${path}`)).rejects.toMatchObject({ code: 'SECRET_INVALID' });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('etcd: no etcd listening is UNAVAILABLE, clearly', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'x86ft-ctl-'));
    try {
      await expect(openControl('etcd:127.0.0.1:1', { secretFile: join(tmp, 'secret'), timeoutMs: 2000 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/127\.0\.0\.1:1/),
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
