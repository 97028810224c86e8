// Hosts leaving, with real agents on a dir: control plane. SIGTERM to the primary's agent takes the host
// out of service as maintenance mode does: the primary hands over to its secondary on the other host and
// the guest goes on there, nothing lost or doubled (console file and disk equal an uninterrupted run).
// kill -9 of both roles' host groups at once: nobody is left to write the record, so `ft wait`,
// `ft status` and `ft list` judge by the hosts' leases and report the VM `lost` (ft wait exits 8), also
// after an agent registers again with one of the ids; `ft stop` then ends it and the name is reusable.

import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { rmSync } from 'node:fs';
import { openControl } from '../../src/ft/control.js';
import { alive, type Outcome } from './protect-harness.js';
import { demoReference, expectClusterSameAsReference } from './protect-expect.js';
import { cli, ftStart, isProtected, killHost, newCluster, release, restartWhenExpired, sleep, startHost, stopCluster, waitConsole, waitRecord, stopLiveClusters } from './hosts-harness.js';

/** ft_demo: 60 lines of ~140k instructions, then 25 ms of guest idle time each, then the hold: the guest waits for
 *  one console byte after its last line (typed by the test once the handover is done), so it cannot end before
 *  the operations however fast the machine; the idle time changes no output. */
const LINES = 60, WORK = 200;
const CMDLINE = `${LINES} ${WORK} 25 1`;

let elf: string;
let ref: Outcome;

beforeAll(async () => {
  ({ elf, ref } = await demoReference(`${LINES} ${WORK} 0 1`));
});

// agents lead process groups of their own: end them even when a test timed out before its finally ran
afterEach(stopLiveClusters);

describe('hosts leaving', () => {
  it('SIGTERM to the primary\'s agent hands the primary over: the guest goes on on the other host, nothing lost or doubled', async () => {
    const c = newCluster('host-sigterm');
    const cp = await openControl(c.spec);
    try {
      startHost(c, 'h1'); startHost(c, 'h2');
      const st = await ftStart(c, elf, 't', CMDLINE);
      expect(st.status, st.stderr).toBe(0);
      const rec = await waitRecord(cp, 't', (r) => isProtected(r) || r.state === 'ended', 60_000, 'protected');
      expect(rec.state, 'the guest ended before it was protected').toBe('protected');
      // at guest progress: a few lines released, or the guest at its hold (stops waiting if the guest ended)
      expect(await waitConsole(c, cp, 't', ref.console.length / 6), 'the guest ended before the SIGTERM').toBe(true);
      const agent = c.hosts.get(rec.primary!.host)!;
      agent.child.kill('SIGTERM');
      const ex = await agent.exited;
      expect(ex, agent.log()).toEqual({ code: 130, signal: null });
      expect(agent.log()).toMatch(/taking this host out of service/);
      expect(alive(rec.primary!.pid), 'the old primary is gone').toBe(false);
      // it ended by itself, fenced (status 4), not by the agent's stop or fencing (SIGTERM/SIGKILL)
      expect(agent.log(), agent.log()).toMatch(new RegExp(`the primary of 't' \\(pid ${rec.primary!.pid}\\) exited with status 4`));
      const moved = (await cp.readVm('t'))!;
      expect(moved.failovers, `the primary was not handed over: ${agent.log()}`).toBe(1);
      expect(moved.primary!.pid, 'the old secondary took over').toBe(rec.secondary!.pid);
      expect((await cp.listHosts()).map((h) => h.id), 'the lease was released').toEqual([rec.secondary!.host]);
      // the guest may end: its byte through x86ft console
      const rl = await release(c, 't');
      expect(rl.status, rl.stderr).toBe(0);
      const w = await cli(c, ['ft', 'wait', 't', '--control', c.spec]);
      expect(w.status, w.stderr).toBe(0);
      const end = (await cp.readVm('t'))!;
      expect(end.state).toBe('ended');
      expect(end.primary!.host).toBe(rec.secondary!.host);
      expectClusterSameAsReference(c, 't', ref);
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('both roles\' hosts killed: ft wait exits 8, ft status and ft list say lost (also after an id registers again); ft stop ends it', async () => {
    const c = newCluster('host-lost');
    const cp = await openControl(c.spec);
    try {
      startHost(c, 'h1'); startHost(c, 'h2');
      // a guest that never ends by itself
      const st = await ftStart(c, elf, 'l', '100000 1500');
      expect(st.status, st.stderr).toBe(0);
      const rec = await waitRecord(cp, 'l', isProtected, 60_000, 'protected');
      const waiting = cli(c, ['ft', 'wait', 'l', '--control', c.spec], 60_000);
      killHost(c.hosts.get('h1')!); killHost(c.hosts.get('h2')!);
      const w = await waiting;
      expect(w.status, w.stderr).toBe(8);
      expect(w.stderr).toMatch(/VM 'l' is lost: the host of every role has gone \(primary pid \d+ on host h[12]: no live lease; secondary pid \d+ on host h[12]: no live lease\)/);
      // one host comes back with its id: a new agent, which cannot be running the old roles
      const back = await restartWhenExpired(c, cp, rec.primary!.host);
      while (!(await cp.listHosts()).some((h) => h.id === back.id)) {
        expect(back.child.exitCode, back.log()).toBeNull();
        await sleep(50);
      }
      const s = await cli(c, ['ft', 'status', 'l', '--control', c.spec, '--json']);
      expect(s.status, s.stderr).toBe(0);
      const sj = JSON.parse(s.stdout) as { state: string; reason: string };
      expect(sj.state).toBe('lost');
      expect(sj.reason).toMatch(new RegExp(`host ${rec.primary!.host}: registered again at .*, after the role was recorded`));
      const l = await cli(c, ['ft', 'list', '--control', c.spec, '--json']);
      expect((JSON.parse(l.stdout) as { vms: { state: string }[] }).vms.map((v) => v.state)).toEqual(['lost']);
      const again = await ftStart(c, elf, 'l', '1 1');
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/FT VM 'l' is lost: .*'x86ft ft stop l' ends its record/);
      const stop = await cli(c, ['ft', 'stop', 'l', '--control', c.spec]);
      expect(stop.status, stop.stderr).toBe(0);
      expect((await cp.readVm('l'))!.state).toBe('ended');
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a secondary that exits while its primary cannot write: its agent takes it out of the record (not protected, why); the primary\'s host gone then makes the VM lost', async () => {
    const c = newCluster('host-sec-exit');
    const cp = await openControl(c.spec);
    try {
      startHost(c, 'h1'); startHost(c, 'h2');
      const st = await ftStart(c, elf, 's', CMDLINE);
      expect(st.status, st.stderr).toBe(0);
      const rec = await waitRecord(cp, 's', (r) => isProtected(r) || r.state === 'ended', 60_000, 'protected');
      expect(rec.state, 'the guest ended before it was protected').toBe('protected');
      // the primary stopped (it cannot write the record), then the secondary's process killed (its host lives on)
      process.kill(rec.primary!.pid, 'SIGSTOP');
      process.kill(rec.secondary!.pid, 'SIGKILL');
      const after = await waitRecord(cp, 's', (r) => r.secondary === null, 60_000, 'the secondary taken out of the record');
      expect(after.state).toBe('not-protected');
      expect(after.reason).toBe(`the secondary on host ${rec.secondary!.host} (pid ${rec.secondary!.pid}) was killed by SIGKILL`);
      expect(after.primary!.pid).toBe(rec.primary!.pid);
      // the primary's host dies too: nobody runs the VM any more, and the judgement says so
      killHost(c.hosts.get(rec.primary!.host)!);
      const w = await cli(c, ['ft', 'wait', 's', '--control', c.spec]);
      expect(w.status, w.stderr).toBe(8);
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  }, 120_000);
});
