// lostReason judges a placed VM `lost` when no role's host still runs it. A role records which registration of
// its host id started it (RoleRef.lease); the judgement compares that value for equality, never one host's clock
// with another's (an agent registered again on a host whose clock lags the role writer's was taken for the old
// agent, and `ft wait` waited for a VM nobody ran).
import { describe, expect, it } from 'vitest';
import { lostReason, newVmRecord, type HostRecord, type VmConfig, type VmRecord } from '../../src/ft/control.js';

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
});
