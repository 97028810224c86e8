// lostReason judges a placed VM `lost` when no role's host still runs it. A role records which registration of
// its host id started it (RoleRef.lease); the judgement compares that value for equality, never one host's clock
// with another's (an agent registered again on a host whose clock lags the role writer's was taken for the old
// agent, and `ft wait` waited for a VM nobody ran).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatStatus, ftStatusCommand, judge, statusView } from '../../src/cli/ft-status.js';
import { ftManageCommand } from '../../src/cli/ft-manage.js';
import { inProcess } from './cli-capture.js';
import { etcdErrorText } from '../../src/ft/control-etcd.js';
import { placeRole } from '../../src/ft/placement.js';
import { historyWriter, vmEvents } from '../../src/ft/history.js';
import { createVm, lostReason, newerClaim, newVmRecord, openControl, updateVm, type HostRecord, type VmConfig, type VmRecord } from '../../src/ft/control.js';

const config = { image: '/g.elf', imageSha256: '0'.repeat(64), memorySize: 16 << 20, cmdline: '', disks: [], nets: [], consoleFile: null, store: '/s',
  ft: { heartbeatMs: 50, failureTimeoutMs: 500, maxHeldBytes: 4 << 20, maxHeldMs: 200, maxLagMs: 50 }, hosts: null } as unknown as VmConfig;
const host = (id: string, registeredAt: number): HostRecord => ({ id, addr: null, pid: 7, leaseMs: 2000, registeredAt, renewedAt: registeredAt, expiresAt: registeredAt + 2000 });

function placed(at: number, p: { host: string; lease?: number }, s: { host: string; lease?: number } | null): VmRecord {
  const rec = newVmRecord('vm', 2, config);
  return { ...rec, state: 'protected', placed: true, rolesAt: at, updatedAt: at,
    primary: { host: p.host, pid: 11, addr: null, ...(p.lease === undefined ? {} : { lease: p.lease }) },
    secondary: s && { host: s.host, pid: 12, addr: null, ...(s.lease === undefined ? {} : { lease: s.lease }) } };
}

describe('lostReason', () => {
  it('a role whose host still holds the registration it recorded is alive, whatever the clocks say', () => {
    // the hosts' clocks run 10 minutes ahead of the role writer's: their registrations look later than the roles
    const rec = placed(1_000_000, { host: 'h1', lease: 1_600_000 }, { host: 'h2', lease: 1_600_500 });
    expect(lostReason(rec, [host('h1', 1_600_000), host('h2', 1_600_500)])).toBeUndefined();
  });

  it('hosts registered again (a clock behind the writer\'s) no longer run the roles: lost, saying why', () => {
    // both agents died and new ones took the ids; their clocks lag, so their registrations look older than the roles
    const rec = placed(1_000_000, { host: 'h1', lease: 990_000 }, { host: 'h2', lease: 990_100 });
    const why = lostReason(rec, [host('h1', 995_000), host('h2', 995_000)]);
    expect(why).toMatch(/primary pid 11 on host h1: registered again at .*; secondary pid 12 on host h2: registered again/);
  });

  it('one role on its recorded registration keeps the VM alive', () => {
    const rec = placed(1_000_000, { host: 'h1', lease: 990_000 }, { host: 'h2', lease: 990_100 });
    expect(lostReason(rec, [host('h1', 995_000), host('h2', 990_100)])).toBeUndefined();
    expect(lostReason(rec, [host('h2', 990_100)])).toBeUndefined();
    expect(lostReason(rec, [host('h1', 995_000)])).toMatch(/h2: no live lease/);
  });

  it('roles without a recorded registration (older records, a secondary not yet recorded) fall back to the record\'s time', () => {
    const rec = placed(1_000_000, { host: 'h1' }, { host: 'h2' });
    expect(lostReason(rec, [host('h1', 999_000), host('h2', 999_000)])).toBeUndefined();
    expect(lostReason(rec, [host('h1', 1_000_001), host('h2', 1_000_001)])).toMatch(/registered again/);
  });

  it('protect\'s roles (not placed) and ended VMs are never lost', () => {
    expect(lostReason({ ...placed(1, { host: 'h1', lease: 5 }, null), placed: false }, [])).toBeUndefined();
    expect(lostReason({ ...placed(1, { host: 'h1', lease: 5 }, null), state: 'ended' }, [])).toBeUndefined();
  });

  // the new-user trial's VM c: the primary (h1) claimed generation 2 when it falsely lost its secondary (h2, which then
  // exited before it recorded its pid) and was killed before it recorded generation 2; h2 still held its lease, so the
  // record's `protected` at generation 1 was shown for 9.5 minutes
  it('a claim above the record fences its roles: lost when the claimant\'s host is gone, never protected', () => {
    const rec = { ...placed(1_000_000, { host: 'h1', lease: 5 }, { host: 'h2', lease: 6 }), generation: 1 };
    rec.secondary = { ...rec.secondary!, pid: 0 };
    const newer = { generation: 2, owner: { hostId: 'h1', pid: 11 } };
    expect(lostReason(rec, [host('h2', 6)])).toBeUndefined(); // what status judged before
    expect(lostReason(rec, [host('h2', 6)], newer)).toMatch(/generation 2 was claimed by host h1 pid 11, which has no live lease/);
    expect(judge(rec, [host('h2', 6)], newer).state).toBe('lost');
    const alive = judge(rec, [host('h1', 5), host('h2', 6)], newer);
    expect(alive.state).toBe('not-protected');
    expect(alive.reason).toMatch(/generation 2 was claimed by host h1 pid 11, which has not recorded it yet/);
    // a claim from outside the recorded hosts (ft stop's) ends the record itself: not judged by its host
    expect(lostReason(rec, [host('h2', 6)], { generation: 2, owner: { hostId: 'laptop', pid: 3 } })).toBeUndefined();
  });

  it('protected needs the primary\'s host, the secondary\'s host and a recorded secondary process', () => {
    const rec = placed(1_000_000, { host: 'h1', lease: 5 }, { host: 'h2', lease: 6 });
    expect(judge(rec, [host('h1', 5), host('h2', 6)]).state).toBe('protected');
    expect(judge(rec, [host('h2', 6)])).toEqual({ state: 'not-protected', reason: expect.stringMatching(/primary's host h1 has no live lease/) });
    expect(judge(rec, [host('h1', 5), host('h2', 9)])).toEqual({ state: 'not-protected', reason: expect.stringMatching(/secondary's host h2 has registered again/) });
    const unjoined = { ...rec, secondary: { ...rec.secondary!, pid: 0 } };
    expect(judge(unjoined, [host('h1', 5), host('h2', 6)])).toEqual({ state: 'not-protected', reason: expect.stringMatching(/secondary on host h2 has not recorded its process/) });
  });

  it('newerClaim reads a claim above the record from a real control plane (dir:)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-newer-'));
    const cp = await openControl(`dir:${join(dir, 'c')}`);
    try {
      await createVm(cp, 'vm', config, { hostId: 'h1', pid: 11 });
      const rec = (await updateVm(cp, 'vm', (r) => ({ ...r, state: 'protected' })))!;
      expect(await newerClaim(cp, rec)).toBeUndefined();
      expect((await cp.claim('vm', 2, { hostId: 'h1', pid: 11 })).won).toBe(true);
      expect(await newerClaim(cp, (await cp.readVm('vm'))!)).toEqual({ generation: 2, owner: { hostId: 'h1', pid: 11 } });
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // the new-user trial's VM d: the primary's second loss of redundancy was missing from ft status --events (its entry
  // met the record still at the generation it had just claimed past), and entries were not oldest-first
  it('history: an entry waits for the claimant\'s record; events oldest first; a role without a pid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-history-'));
    const cp = await openControl(`dir:${join(dir, 'c')}`);
    try {
      await createVm(cp, 'vm', config, { hostId: 'h1', pid: 11 });
      expect((await cp.claim('vm', 2, { hostId: 'h1', pid: 11 })).won).toBe(true);
      const h = historyWriter(cp, 'vm', 'h1', () => ({ generation: 1, role: 'primary' }));
      h.observe({ kind: 'peer', up: false, hostId: 'h2', reason: 'no message for 508 ms' });
      // the claimant records generation 2 a moment later
      setTimeout(() => void updateVm(cp, 'vm', (r) => ({ ...r, generation: 2, state: 'not-protected' })), 300);
      await h.outcome({ kind: 'stopped' });
      const rec = (await cp.readVm('vm'))!;
      expect(vmEvents(rec).map((e) => e.kind)).toEqual(['peer-lost', 'stopped']);
      // written out of order by two hosts: read oldest first
      const mixed = { ...rec, events: [{ ...vmEvents(rec)[1]!, at: 20 }, { ...vmEvents(rec)[0]!, at: 10 }] } as VmRecord;
      expect(vmEvents(mixed).map((e) => e.at)).toEqual([10, 20]);
      const row = formatStatus([statusView({ ...rec, secondary: { host: 'h2', pid: 0, addr: null } }, [])]);
      expect(row).toMatch(/h2 \(no pid recorded\)/);
      expect(row).not.toMatch(/pid 0/);
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // the new-user trial: a record that fails its HMAC vanished from ft list/status (exit 0) and its name was stuck
  it('a tampered record is listed as unreadable; ft stop --force ends it and frees the name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-tampered-'));
    const spec = `dir:${join(dir, 'c')}`;
    const cp = await openControl(spec);
    try {
      await createVm(cp, 'b', config, { hostId: 'h1', pid: 11 });
      const recDir = join(dir, 'c', 'vms', 'b', 'record');
      const f = join(recDir, readdirSync(recDir).sort().pop()!);
      writeFileSync(f, readFileSync(f, 'utf8').replace('"starting"', '"protected"')); // a state changed without the secret
      const st = await inProcess(() => ftStatusCommand(['--control', spec]));
      expect(st.status).toBe(0);
      expect(st.stdout).toMatch(/^b: unreadable record: control value vms\/b\/record fails its HMAC.*'x86ft ft stop b --force' ends it\)$/m);
      const ls = await inProcess(() => ftManageCommand('list', ['--control', spec]));
      expect(ls.stdout).toMatch(/^b: unreadable record: /m);
      const stop = await inProcess(() => ftManageCommand('stop', ['b', '--control', spec]));
      expect(stop.status).toBe(1);
      expect(stop.stderr).toMatch(/fails its HMAC.*'x86ft ft stop b --force'/);
      const wait = await inProcess(() => ftManageCommand('wait', ['b', '--control', spec]));
      expect(wait.status).toBe(1);
      expect(wait.stderr).toMatch(/fails its HMAC.*'x86ft ft stop b --force'/);
      const forced = await inProcess(() => ftManageCommand('stop', ['b', '--control', spec, '--force']));
      expect(forced.status, forced.stderr).toBe(0);
      expect(await cp.readVm('b')).toMatchObject({ state: 'ended', generation: 2 });
      await createVm(cp, 'b', config, { hostId: 'h1', pid: 12 }); // the name is free again
      expect((await cp.readVm('b'))!.generation).toBe(3);
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('etcd errors do not end with an empty "Resolution note: " (grpc-js)', () => {
    const grpc = new Error('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ');
    expect(etcdErrorText(grpc)).toBe('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379');
    expect(etcdErrorText(new Error('x. Resolution note: dns failed'))).toBe('x. Resolution note: dns failed');
  });

  it('a spawn request is removed once its agent decided (they piled up in the control plane)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-spawn-'));
    const cp = await openControl(`dir:${join(dir, 'c')}`);
    try {
      const lease = await cp.registerHost({ id: 'h1', addr: null, pid: process.pid }, 60_000);
      // h1's "agent" (this test, through the control plane) refuses every request it sees: decided, then removed
      let stop = false;
      const agent = (async () => {
        while (!stop) {
          for (const e of await cp.listSpawns({ host: 'h1', undecided: true })) await cp.decideSpawn(e.request.id, { kind: 'rejected', by: 'h1', at: Date.now(), reason: 'full', pid: null });
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const lines: string[] = [];
      const placed = await placeRole(cp, { vm: 'vm', generation: 1, role: 'primary', config, notHosts: [], primary: null, by: { hostId: 'me', pid: process.pid } }, (t) => lines.push(t), 30_000);
      stop = true;
      await agent;
      expect(placed).toBeUndefined();
      expect(lines.join('\n')).toMatch(/host h1 did not start the primary: rejected \(full\)/);
      expect(await cp.listSpawns()).toEqual([]);
      await lease.release();
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
