// `ft status --hosts`' host table: the roles each live host runs. An ended VM's record keeps its last
// primary and secondary (history), but no process runs them any more, so they are not a host's roles
// (found by a README-only trial: 'h2 … demo primary' for a VM that had ended).
import { describe, expect, it } from 'vitest';
import { formatHosts, type HostView, type VmStatusView } from '../../src/cli/ft-status.js';

const host = (id: string): HostView => ({ id, addr: null, pid: 100, leaseMs: 2000, registeredAt: 0, renewedAt: 0, expiresAt: 0, leaseLeftMs: 1500 });
const vm = (name: string, state: VmStatusView['state'], p: string, s: string | null): VmStatusView => ({
  name, generation: 2, state, primary: { host: p, pid: 1, addr: null }, secondary: s ? { host: s, pid: 2, addr: null } : null,
  lag: { instructions: 0, ms: 0 }, held: { outputs: 0, bytes: 0 }, logBitsPerSecond: 0, heartbeatAgeMs: 0, lastFailover: null,
  failovers: 1, lastRestore: null, reason: null,
});

describe('ft status host table', () => {
  it('lists the roles of running VMs only', () => {
    const out = formatHosts([host('h1'), host('h2'), host('h3')], [vm('live', 'protected', 'h1', 'h2'), vm('done', 'ended', 'h2', 'h3')]);
    const row = (id: string): string => out.split('\n').find((l) => l.startsWith(id))!;
    expect(row('h1')).toMatch(/live primary$/);
    expect(row('h2')).toMatch(/live secondary$/);
    expect(row('h2')).not.toMatch(/done/);
    expect(row('h3')).toMatch(/ -$/);
  });
});
