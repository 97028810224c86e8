// x86ft host --metrics PORT: a real agent serves its own Prometheus metrics (roles running, started,
// refused, fenced); a primary it starts for `ft start` is counted, and a bad port is a usage error.

import { describe, it, expect, afterEach } from 'vitest';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openControl } from '../../src/ft/control.js';
import { guest } from './protect-harness.js';
import { inProcess } from './cli-capture.js';
import { ftManageCommand } from '../../src/cli/ft-manage.js';
import { cli, ftStart, newCluster, sleep, startHost, stopCluster, waitRecord, stopLiveClusters } from './hosts-harness.js';

async function metricsUrl(log: () => string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const m = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(log());
    if (m) return m[1]!;
    await sleep(50);
  }
  throw new Error(`the agent did not say where its metrics are:\n${log()}`);
}

// agents lead process groups of their own: end them even when a test timed out before its finally ran
afterEach(stopLiveClusters);

describe('x86ft host --metrics', () => {
  it('serves roles running and started; the primary of ft start is counted', async () => {
    const c = newCluster('host-metrics');
    const cp = await openControl(c.spec);
    try {
      const h = startHost(c, 'h1', ['--metrics', '0']);
      const url = await metricsUrl(h.log);
      const before = await (await fetch(url)).text();
      expect(before).toMatch(/x86ft_host_roles_running\{role="primary",host="h1"\} 0/);
      // a spawn request written without the cluster secret is ignored, and the agent says so once
      // (written whole in the control directory's tmp/, then renamed into place, as the dir: backend writes: the agent's
      // watch may read a file being written, which it ignores as 'not valid JSON' — the clean-clone CI saw that instead)
      const tmp = join(c.spec.slice(4), 'tmp', 'forged1.tmp');
      writeFileSync(tmp, JSON.stringify({ v: 1, value: { vm: 'x', host: 'h1', role: 'primary' }, mac: '00' }));
      renameSync(tmp, join(c.spec.slice(4), 'spawn', 'forged1.json'));
      for (let i = 0; i < 400 && !/ignored: control value spawn\/(req\/)?forged1/.test(h.log()); i++) await sleep(50);
      expect(h.log()).toMatch(/x86ft host h1: ignored: control value spawn\/(req\/)?forged1\S* (fails its HMAC|is not a signed)/);
      // counters have their samples from the start, not only once first counted
      for (const c of ['roles_started', 'spawns_refused', 'primaries_fenced']) for (const role of ['primary', 'secondary']) expect(before).toMatch(new RegExp(`x86ft_host_${c}_total\\{role="${role}",host="h1"\\} 0`));
      // one host: the primary runs (waiting for a second host for its secondary); its guest holds its end (it waits for
      // a console byte that never comes, so it still runs when the metrics are read however fast the machine)
      const st = await ftStart(c, guest('ft_demo'), 'm', '4 10 0 1');
      expect(st.status, st.stderr).toBe(0);
      const after = await (await fetch(url)).text();
      expect(after).toMatch(/x86ft_host_roles_started_total\{role="primary",host="h1"\} 1/);
      expect(after).toMatch(/x86ft_host_roles_running\{role="primary",host="h1"\} 1/);
      const stop = await cli(c, ['ft', 'stop', 'm', '--control', c.spec]);
      expect(stop.status, stop.stderr).toBe(0);
      await waitRecord(cp, 'm', (r) => r.state === 'ended', 30_000, 'ended');
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a bad --metrics port or --listen address is a usage error (status 2)', async () => {
    const c = newCluster('host-metrics-bad');
    try {
      const r = await cli(c, ['host', '--id', 'h1', '--control', c.spec, '--metrics', '70000']);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--metrics expects a port 0\.\.65535/);
      // an address the roles could not listen on: refused at start, one line, no registration
      for (const addr of ['nonsense::::', '192.0.2.1']) {
        const b = await cli(c, ['host', '--id', 'h1', '--control', c.spec, '--listen', addr]);
        expect(b.status, b.stderr).toBe(2);
        expect(b.stderr).toMatch(new RegExp(`^x86ft host: --listen ${addr.replace(/\./g, '\\.')}: the roles could not listen there \\(.+\\); see 'x86ft host --help'\n$`));
      }
      // ft start took --metrics (any value), TLS files and run options and did nothing with them: refused, saying why
      for (const extra of [['--metrics', 'abc'], ['--metrics', '0'], ['--tls-ca', '/x'], ['--console', 'stdio'], ['--max-instructions', '5']]) {
        const st = await inProcess(() => ftManageCommand('start', [guest('ft_demo'), '--vm', 'm', '--control', c.spec, ...extra]));
        expect(st.status, st.stderr).toBe(2);
        expect(st.stderr).toMatch(new RegExp(`^x86ft ft start: ${extra[0]} is not an 'ft start' option: .+; see 'x86ft ft start --help'\n$`));
      }
    } finally { rmSync(c.dir, { recursive: true, force: true }); }
  });
});
