// Starts a real etcd (Debian's etcd-server) on free loopback ports in a temporary data directory, for tests.
// A missing binary is an error (the test fails; .ci/run installs etcd-server), never a skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdServer {
  /** `127.0.0.1:PORT`, for `etcd:` specs. */
  endpoint: string;
  proc: ChildProcess;
  dataDir: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startEtcd(): Promise<EtcdServer> {
  if (spawnSync('etcd', ['--version']).error)
    throw new Error('etcd is not installed: install Debian\'s etcd-server (apt-get install -y etcd-server); .ci/run does');
  for (let attempt = 0; ; attempt++) {
    const [client, peer] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'x86ft-etcd-'));
    const c = `http://127.0.0.1:${client}`;
    const p = `http://127.0.0.1:${peer}`;
    const proc = spawn(
      'etcd',
      ['--name', 't', '--data-dir', dataDir, '--listen-client-urls', c, '--advertise-client-urls', c, '--listen-peer-urls', p,
        '--initial-advertise-peer-urls', p, '--initial-cluster', `t=${p}`, '--log-level', 'error'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    };
    // ready = answers its health endpoint (generous bound: a loaded machine starts etcd slowly)
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && proc.exitCode === null) {
      try {
        const r = await fetch(`${c}/health`);
        if (r.ok && ((await r.json()) as { health?: string }).health === 'true') {
          ready = true;
          break;
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (ready) return { endpoint: `127.0.0.1:${client}`, proc, dataDir, stop };
    await stop();
    if (attempt >= 2 || !/address already in use/.test(stderr)) throw new Error(`etcd did not start: ${stderr.slice(-2000)}`);
  }
}
