// `x86ft ft start` while the placed primary dies before it created the VM: exit 6 at once, naming the reason,
// instead of waiting out the 30 s a slow start may take (README "Hosts and placement": ft start's exit statuses).
// A real agent (without spares: each role is its own `node … ft primary` process) places a primary that hangs at
// start (test/ft/stall-primary.cjs, preloaded); the test kills it with SIGKILL as soon as ft start names its pid.

import { describe, it, expect, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openControl } from '../../src/ft/control.js';
import { CLI, guest } from './protect-harness.js';
import { newCluster, startHost, stopCluster, stopLiveClusters, waitRegistered, FAILURE_TIMEOUT_MS } from './hosts-harness.js';

afterEach(stopLiveClusters);

const STALL = fileURLToPath(new URL('./stall-primary.cjs', import.meta.url));

describe('ft start and a primary that dies before it created the VM', () => {
  it('exits 6 at once, naming the primary that exited; the VM is not created', async () => {
    const c = newCluster('start-dead', undefined, { NODE_OPTIONS: `--require ${STALL}` });
    const cp = await openControl(c.spec);
    try {
      startHost(c, 'h1', ['--no-spare']);
      await waitRegistered(c);
      const child = spawn(process.execPath, [CLI, 'ft', 'start', guest('ft_demo'), '--vm', 'd', '--control', c.spec, '--store', c.store,
        '--disk', c.disk, '--cmdline', '16 1500 50 1', '--console-file', c.consoleFile, '--failure-timeout-ms', String(FAILURE_TIMEOUT_MS)],
      { stdio: ['ignore', 'pipe', 'pipe'], env: c.env });
      let err = '', out = '', killed: number | undefined;
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        const m = /starts the primary \(pid (\d+)\)/.exec(err);
        if (m && killed === undefined) { killed = Number(m[1]); process.kill(killed, 'SIGKILL'); }
      });
      const code = await new Promise<number | null>((r) => child.on('exit', (c2) => r(c2)));
      expect(killed, err).toBeDefined();
      expect(code, err).toBe(6);
      expect(out).toBe('');
      expect(err).toMatch(new RegExp(`the primary on host h1 \\(pid ${killed}\\) exited before it created VM 'd'`));
      // (at once, not after the 30 s wait: that wait ends with 'did not create VM … within 30 s', which the message
      // above rules out; no bound on the wall time, which the load decides)
      const rec = await cp.readVm('d');
      expect(rec?.state === undefined || rec.state === 'ended', JSON.stringify(rec)).toBe(true);
    } finally {
      await cp.close();
      await stopCluster(c);
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});
