// Redundancy restored (FT.md): three real host agents on a dir: control plane; the primary's whole
// host is killed (kill -9 of its process group) twice in a row. After each kill the secondary takes
// over, a new secondary joins it from a live snapshot on another host, and the VM is protected again
// with its two roles on different hosts and exactly one primary; the killed host's agent is started
// again with the same id (the host comes back), so the second kill still leaves a free host. Kills
// happen at guest progress (console bytes, or the guest waiting at its hold) once the VM is protected, never
// after a delay; the guest ends only once the test types the byte its hold waits for. Before them
// the planned operations: ft restart-secondary (a new secondary, the same primary) and ft failover (a
// test failover: the secondary takes over, the old primary ends), then x86ft host drain of the
// secondary's host (its secondary replaced by one on the third host). At the end
// the console file and the disk equal an uninterrupted run byte for byte.
// `npm run ft:torture -- --hosts 3 --kills N` is the long version (test/ft/redundancy-torture.ts;
// it also replays the generation logs, snapshot records included, as one run).

import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { rmSync } from 'node:fs';
import { openControl, type VmRecord } from '../../src/ft/control.js';
import { alive, type Outcome } from './protect-harness.js';
import { demoReference, expectClusterSameAsReference } from './protect-expect.js';
import { cli, ftStart, isProtected, killHost, newCluster, readBytes, release, restartWhenExpired, startHost, stopCluster, waitConsole, waitRecord, stopLiveClusters } from './hosts-harness.js';

const KILLS = 2;
/** ft_demo: lines, work per line (x100 iterations, about 140k instructions), ms of guest idle time per line, and
 *  the hold: after its last line the guest waits (in HLT, on its timer) for one console byte, which the test types
 *  once its planned operations and kills are done, so the guest cannot end before them however fast the machine
 *  is or however slow the operations are; the 40 x 25 ms of idle time put the first operations mid-run. */
const LINES = 40, WORK = 200;
const CMDLINE = `${LINES} ${WORK} 25 1`;

let elf: string;
let ref: Outcome;

beforeAll(async () => {
  ({ elf, ref } = await demoReference(`${LINES} ${WORK} 0 1`));
});

// agents lead process groups of their own: end them even when a test timed out before its finally ran
afterEach(stopLiveClusters);

describe('redundancy restored', () => {
  it(`3 hosts: ft restart-secondary, ft failover, host drain, then the primary's host killed ${KILLS} times in a row: protected again on two hosts each time, nothing lost or doubled`, async () => {
    const c = newCluster('redundancy');
    const cp = await openControl(c.spec);
    const t0 = Date.now(); const T = (w: string): void => { if (process.env.X86FT_KEEP_LOGS) process.stderr.write(`[${Date.now() - t0} ms] ${w}\n`); };
    try {
      for (const h of ['h1', 'h2', 'h3']) startHost(c, h);
      const st = await ftStart(c, elf, 'r', CMDLINE);
      expect(st.status, st.stderr).toBe(0);
      let rec: VmRecord = await waitRecord(cp, 'r', (r) => isProtected(r) || r.state === 'ended', 60_000, 'protected');
      expect(rec.state, 'the guest ended before it was protected').toBe('protected');
      T('protected');
      // planned operations first: a new secondary (same primary process, a later generation), then a test failover
      const rs = await cli(c, ['ft', 'restart-secondary', 'r', '--control', c.spec], 90_000);
      expect(rs.status, rs.stderr).toBe(0);
      const afterRs = (await cp.readVm('r'))!;
      expect(afterRs.primary!.pid).toBe(rec.primary!.pid);
      expect(afterRs.generation).toBeGreaterThan(rec.generation);
      expect(afterRs.secondary!.pid).not.toBe(rec.secondary!.pid);
      expect(rs.stdout).toMatch(/^r: generation \d+, primary on host h\d pid \d+, secondary on host h\d pid \d+, protected\n$/);
      T('restart-secondary');
      const fo = await cli(c, ['ft', 'failover', 'r', '--control', c.spec], 90_000);
      expect(fo.status, fo.stderr).toBe(0);
      const afterFo = (await cp.readVm('r'))!;
      expect(afterFo.primary!.pid, 'the old secondary took over').toBe(afterRs.secondary!.pid);
      expect(alive(afterRs.primary!.pid), 'the old primary is gone').toBe(false);
      expect(isProtected(afterFo)).toBe(true);
      T('failover');
      // maintenance: drain the secondary's host; the new secondary goes to the third host, never back there
      const drained = afterFo.secondary!.host;
      const dr = await cli(c, ['host', 'drain', drained, '--control', c.spec], 90_000);
      expect(dr.status, dr.stderr).toBe(0);
      rec = (await cp.readVm('r'))!;
      expect(isProtected(rec), JSON.stringify({ ...rec, config: undefined, events: undefined })).toBe(true);
      expect([rec.primary!.host, rec.secondary!.host]).not.toContain(drained);
      expect(rec.primary!.pid).toBe(afterFo.primary!.pid);
      T('drain');
      const notProtected = await cli(c, ['ft', 'failover', 'nosuchvm', '--control', c.spec]);
      expect(notProtected.status).toBe(3);
      for (let k = 1; k <= KILLS; k++) {
        // the guest is running: a few more console bytes after protection, or it waits at its hold (stops waiting if the VM ends)
        const have = readBytes(c.consoleFile).length;
        expect(await waitConsole(c, cp, 'r', have + 1), `the guest ended before kill ${k}`).toBe(true);
        rec = (await cp.readVm('r'))!;
        expect(isProtected(rec), `before kill ${k}: ${JSON.stringify({ ...rec, config: undefined, events: undefined })}`).toBe(true);
        const victim = c.hosts.get(rec.primary!.host)!;
        const oldPrimary = rec.primary!;
        T(`kill ${k}`);
        killHost(victim);
        await victim.exited;
        // the survivor took over: a later generation whose primary is the old secondary's process
        const after = await waitRecord(cp, 'r', (r) => r.state === 'ended' || (r.generation > rec.generation && !!r.primary && r.primary.pid !== oldPrimary.pid), 60_000, `a failover after kill ${k}`);
        expect(after.state, `the guest ended instead of failing over after kill ${k}`).not.toBe('ended');
        expect(after.primary!.host).toBe(rec.secondary!.host);
        // the killed host comes back (a new agent with the same id, once its lease ran out)
        T(`failover ${k}`);
        await restartWhenExpired(c, cp, victim.id);
        T(`restarted ${victim.id}`);
        const again = await waitRecord(cp, 'r', (r) => r.state === 'ended' || (isProtected(r) && r.secondary!.host !== victim.id && alive(r.secondary!.pid)), 90_000, `protected again after kill ${k}`);
        expect(again.state, `the guest ended before it was protected again after kill ${k}`).toBe('protected');
        expect(again.primary!.host).not.toBe(again.secondary!.host);
        expect(again.primary!.pid, 'exactly one primary: the process that took over').toBe(after.primary!.pid);
        expect(again.lastRestore).not.toBeNull();
        T(`protected again ${k}`);
        rec = again;
      }
      // the guest may end now: its one byte through x86ft console (exactly once), then it ends with status 0
      const rl = await release(c, 'r');
      expect(rl.status, rl.stderr).toBe(0);
      const w = await cli(c, ['ft', 'wait', 'r', '--control', c.spec], 120_000);
      expect(w.status, w.stderr).toBe(0);
      T('ended');
      const end = (await cp.readVm('r'))!;
      expect(end.state).toBe('ended');
      expect(end.failovers).toBe(KILLS + 1);
      expectClusterSameAsReference(c, 'r', ref);
    } finally {
      await cp.close();
      await stopCluster(c);
      if (process.env.X86FT_KEEP_LOGS) process.stderr.write([...c.hosts.values()].map((h) => h.log()).join('\n'));
      rmSync(c.dir, { recursive: true, force: true });
    }
  }, 240_000);
});
