// A real network cut between primary and secondary (FT.md "What the tests must show": hosts as
// network namespaces, unique names per run, joined only to each other by a veth pair, no route to
// anything else, removed on exit). `x86ft ft primary` runs in namespace A, `x86ft ft secondary` in
// namespace B; the channel goes over the veth pair; the control plane (dir:) is on the file system,
// which both still reach. The link is cut (`ip link set … down` on both ends) mid-run:
// - cut for good: both sides declare the other failed and race for generation 2; exactly one wins
//   (the arbiter), the loser stops (exit 4) or is killed by the winner, and the console file and the
//   disk equal an uninterrupted run's (nothing lost or doubled); the generation logs replay as one
//   chain reproducing them;
// - cut shorter than the failure timeout, then healed: no failover (generation 1 only), nothing lost.
// Needs root and iproute2 (`.ci/run` installs it): without `ip netns` the test FAILS, saying so.

import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openControl } from '../../src/ft/control.js';
import { exportDisk } from '../../src/ft/store.js';
import { NetPair, netnsUnavailable } from './netns.js';
import { FAILURE_TIMEOUT_MS, ROUNDS, caseDir, fileGrows, ftdiskReference, replayChain, role, type Role } from './role-harness.js';

const A_ADDR = '10.213.0.1', B_ADDR = '10.213.0.2';

let ref: { elf: string; console: Buffer; disk: Buffer };
const live: { pair?: NetPair; roles: Role[] } = { roles: [] };

beforeAll(async () => {
  // refuse clearly (never skip) when this machine cannot make network namespaces
  const probe = new NetPair(A_ADDR, B_ADDR);
  try { probe.create(); } catch (e) {
    probe.remove();
    throw netnsUnavailable(e);
  }
  probe.remove();
  ref = await ftdiskReference();
}, 120_000);

// namespaces and role processes go away even when a test fails
afterEach(() => {
  for (const r of live.roles.splice(0)) { try { r.child.kill('SIGKILL'); } catch { /* gone */ } }
  live.pair?.remove();
  live.pair = undefined;
});

/** P in namespace A, S in namespace B; the link is cut once the console holds `atFraction` of the run. */
async function cutRun(failureTimeoutMs: number, healAfterMs: number | null, atFraction: number) {
  const c = caseDir('netcut');
  const pair = new NetPair(A_ADDR, B_ADDR);
  live.pair = pair;
  pair.create();
  const ft = ['--failure-timeout-ms', String(failureTimeoutMs), '--heartbeat-ms', '100'];
  const p = role(['ft', 'primary', ref.elf, '--control', `dir:${c.ctl}`, '--listen', `${A_ADDR}:0`, '--host-id', 'local-a',
    '--disk', c.base, '--cmdline', ROUNDS, '--mem', '32M', '--console-file', c.consoleFile, ...ft], c.dir, pair.a);
  const s = role(['ft', 'secondary', '--control', `dir:${c.ctl}`, '--host-id', 'local-b', ...ft], c.dir, pair.b);
  live.roles.push(p, s);
  const ended = Promise.race([p.done, s.done]);
  await fileGrows(c.consoleFile, Math.floor(ref.console.length * atFraction), ended);
  const cutAt = readFileSync(c.consoleFile).length;
  pair.link(false);
  if (healAfterMs !== null) {
    await new Promise((r) => setTimeout(r, healAfterMs));
    pair.link(true);
  }
  const [ps, ss] = await Promise.all([p.done, s.done]);
  const diag = `cut at console byte ${cutAt}${healAfterMs === null ? '' : `, healed after ${healAfterMs} ms`}\n--- primary (exit ${ps}):\n${p.err()}\n--- secondary (exit ${ss}):\n${s.err()}`;
  expect(cutAt, `the guest ended before the cut\n${diag}`).toBeLessThan(ref.console.length);
  // nothing lost or doubled: console file and disk equal the uninterrupted run's
  expect(readFileSync(c.consoleFile).equals(ref.console), `console file differs\n${diag}`).toBe(true);
  const out = join(c.dir, 'export.img');
  exportDisk({ store: c.ctl, vm: 'default', disk: 0, base: c.base, out });
  expect(readFileSync(out).equals(ref.disk), `disk differs\n${diag}`).toBe(true);
  const cp = await openControl(`dir:${c.ctl}`);
  let owners: string[] = [];
  try {
    const g = await cp.generation('default');
    for (let k = 1; k <= g; k++) owners.push((await cp.claimOwner('default', k))?.hostId ?? '?');
    const rec = await cp.readVm('default');
    expect(rec?.state, diag).toBe('ended');
    expect(rec?.exitStatus, diag).toBe(0);
    expect(rec?.primary?.host, diag).toBe(owners[owners.length - 1]);
  } finally { await cp.close(); }
  // the generation logs replay as one run and reproduce the console and the disk
  const chain = await replayChain(c.ctl, 'default', ref.elf, c.base);
  expect(chain.report.outcome, `${diag}\n${JSON.stringify(chain.report.divergence)}`).toBe('identical');
  expect(chain.console.equals(ref.console), `chain replay console differs\n${diag}`).toBe(true);
  expect(chain.disk.equals(ref.disk), `chain replay disk differs\n${diag}`).toBe(true);
  owners = [...owners];
  return { ps, ss, p, s, owners, diag };
}

describe('network cut between primary and secondary (network namespaces, veth pair)', () => {
  it('a cut for good: exactly one side wins generation 2 and goes on; the loser stops releasing; nothing lost or doubled', async () => {
    const { ps, ss, p, s, owners, diag } = await cutRun(FAILURE_TIMEOUT_MS, null, 0.3);
    // the arbiter decided once: generation 1 the primary's, generation 2 one side's, no generation 3
    expect(owners, diag).toHaveLength(2);
    expect(owners[0]).toBe('local-a');
    if (owners[1] === 'local-b') {
      // the secondary won: it went live; the old primary lost its claim and stopped (exit 4) or was killed by the winner (same machine)
      expect(s.err(), diag).toMatch(/live at instruction \d+ as generation 2/);
      expect(ss, diag).toBe(0);
      expect([4, -1], diag).toContain(ps);
      if (ps === 4) expect(p.err(), diag).toMatch(/lost the claim of generation 2 \(local-b/);
      expect(p.err(), diag).not.toMatch(/running not protected/);
    } else {
      // the primary won: it goes on alone; the secondary lost the claim, stopped and never went live
      expect(owners[1], diag).toBe('local-a');
      expect(p.err(), diag).toMatch(/generation 2: running not protected/);
      expect(ps, diag).toBe(0);
      expect(ss, diag).toBe(4);
      expect(s.err(), diag).toMatch(/generation 2 of 'default' is held by local-a/);
      expect(s.err(), diag).not.toMatch(/live at instruction/);
    }
  }, 120_000);

  it('a cut shorter than the failure timeout, then healed: no failover, nothing lost', async () => {
    // a 300 ms cut against a 5 s failure timeout (TCP retransmits once the link is back): generous
    const { ps, ss, owners, diag } = await cutRun(5000, 300, 0.3);
    expect(owners, diag).toEqual(['local-a']);
    expect(ps, diag).toBe(0);
    expect(ss, diag).toBe(0); // the secondary ended with the primary's bye (the guest's status)
  }, 120_000);
});
