// Operations on a real running pair: `x86ft ft primary|secondary` as processes, over mutual TLS with
// certificates from `ft init`, each serving Prometheus metrics (`--metrics 0`). Scraped over HTTP:
// the values move as the guest runs (instructions, log bytes), a stopped secondary (SIGSTOP) shows as
// missed heartbeats and held outputs on the primary; `ft status --watch --json` prints one object per
// refresh with the VM protected on two hosts. Bounds are on what must happen, never on how fast.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initClusterTls } from '../../src/ft/tls.js';
import { CLI, guest, tempDir } from './protect-harness.js';
import { inProcess } from './cli-capture.js';
import { ftStatusCommand } from '../../src/cli/ft-status.js';

const dir = tempDir('ftmetrics');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(args: string[]): { child: ChildProcess; stderr: () => string; stdout: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '', out = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stderr: () => err, stdout: () => out, exited };
}

/** Waits (generously: the tests assert what happens, not how fast) until `f` returns a value. */
async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** GET /metrics, parsed: "name{labels}" (labels without vm/host) -> value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const m = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const x = /^(x86ft_[a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!x) continue;
    const labels = (x[2] ?? '').split(',').filter((l) => l && !/^(vm|host)=/.test(l)).join(',');
    m.set(labels ? `${x[1]}{${labels}}` : x[1]!, Number(x[3]));
  }
  return m;
}

describe('metrics and status of a running pair over TLS', () => {
  it('values move as the guest runs; a stopped secondary shows on the primary; status --watch --json', async () => {
    const ctl = join(dir, 'ctl');
    const tls = await initClusterTls(join(dir, 'tls'), { hosts: ['ha', 'hb'] });
    const t = (h: number): string[] => { const f = tls.hosts[h]!.files; return ['--tls-cert', f.cert, '--tls-key', f.key, '--tls-ca', f.ca]; };
    const disk = join(dir, 'base.img');
    writeFileSync(disk, Buffer.alloc(0));
    truncateSync(disk, 64 * 1024);
    const consoleFile = join(dir, 'console.out');
    // a long run (stopped by the test): 100000 lines of ft_demo
    const ftArgs = ['--control', `dir:${ctl}`, '--failure-timeout-ms', '60000', '--metrics', '0'];
    const P = start(['ft', 'primary', guest('ft_demo'), '--cmdline', '100000 300', '--disk', disk, '--console-file', consoleFile, '--listen', '127.0.0.1:0', '--host-id', 'ha', ...t(0), ...ftArgs]);
    const url = (s: () => string): Promise<string> => until('the metrics address', () => /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(s())?.[1]);
    const pUrl = await url(P.stderr);
    // before the secondary: the primary waits, the guest has not run
    const m0 = await until('the VM record', async () => { const m = await scrape(pUrl); return m.get('x86ft_ft_generation') === 1 ? m : undefined; });
    expect(m0.get('x86ft_ft_state{state="starting"}')).toBe(1);
    expect(m0.get('x86ft_ft_role{role="primary"}')).toBe(1);
    expect(m0.get('x86ft_guest_instructions_total')).toBe(0);
    expect(m0.get('x86ft_ft_peer_up')).toBe(0);
    expect(m0.has('x86ft_process_resident_memory_bytes')).toBe(true);

    const S = start(['ft', 'secondary', '--host-id', 'hb', ...t(1), ...ftArgs]);
    const sUrl = await url(S.stderr);
    const m1 = await until('protected and running', async () => {
      const m = await scrape(pUrl);
      return m.get('x86ft_ft_state{state="protected"}') === 1 && m.get('x86ft_ft_peer_up') === 1 && m.get('x86ft_guest_instructions_total')! > 0 && m.get('x86ft_ft_log_bytes_total')! > 0 ? m : undefined;
    });
    // the values move as the guest runs
    await until('instructions and log bytes to grow', async () => {
      const m = await scrape(pUrl);
      return m.get('x86ft_guest_instructions_total')! > m1.get('x86ft_guest_instructions_total')! && m.get('x86ft_ft_log_bytes_total')! > m1.get('x86ft_ft_log_bytes_total')! ? m : undefined;
    });
    const s1 = await until('the secondary replaying', async () => {
      const m = await scrape(sUrl);
      // the secondary's own state follows the pairing (it stayed starting-secondary while status said protected)
      return m.get('x86ft_guest_instructions_total')! > 0 && m.get('x86ft_ft_log_bytes_total')! > 0 && m.get('x86ft_ft_peer_up') === 1 && m.get('x86ft_ft_state{state="protected"}') === 1 ? m : undefined;
    });
    expect(s1.get('x86ft_ft_state{state="starting-secondary"}')).toBe(0);
    expect(s1.get('x86ft_ft_role{role="secondary"}')).toBe(1);
    expect(s1.get('x86ft_ft_generation')).toBe(1);

    // ft status --watch --json: one object per refresh, the VM protected with its roles on ha and hb
    const W = start(['ft', 'status', '--control', `dir:${ctl}`, '--watch', '--json', '--interval-ms', '100']);
    const lines = await until('two status lines', () => { const l = W.stdout().split('\n').filter((x) => x); return l.length >= 2 ? l : undefined; });
    W.child.kill('SIGINT');
    expect(await W.exited).toBe(0);
    for (const l of lines) {
      const o = JSON.parse(l) as { at: number; vms: { name: string; state: string; primary: { host: string; pid: number }; secondary: { host: string }; failovers: number }[]; hosts: unknown[] };
      expect(o.at).toBeGreaterThan(0);
      expect(o.vms).toHaveLength(1);
      expect(o.vms[0]).toMatchObject({ name: 'default', state: 'protected', primary: { host: 'ha', pid: P.child.pid }, secondary: { host: 'hb' }, failovers: 0 });
      expect(o.hosts).toEqual([]);
    }

    // ft status --events --json: the history in the record names both hosts; --hosts: one object
    const ev = await until('the history of both roles', async () => {
      const r = await inProcess(() => ftStatusCommand(['default', '--control', `dir:${ctl}`, '--events', '--json']));
      expect(r.status).toBe(0);
      const v = JSON.parse(r.stdout) as { events: { host: string; role: string; kind: string; text: string; generation: number }[] };
      // each role writes its entries in order, one after another: wait for the last of the three to land
      const has = (host: string, kind: string): boolean => v.events.some((e) => e.host === host && e.kind === kind);
      return has('hb', 'peer-up') && has('ha', 'peer-up') && has('ha', 'state') ? v.events : undefined;
    });
    expect(ev).toContainEqual(expect.objectContaining({ host: 'ha', role: 'primary', kind: 'state', text: 'state protected', generation: 1 }));
    expect(ev).toContainEqual(expect.objectContaining({ host: 'ha', role: 'primary', kind: 'peer-up', text: 'peer up: hb' }));
    expect(ev).toContainEqual(expect.objectContaining({ host: 'hb', role: 'secondary', kind: 'peer-up', text: 'peer up: ha' }));
    const h = await inProcess(() => ftStatusCommand(['--control', `dir:${ctl}`, '--json', '--hosts']));
    expect(JSON.parse(h.stdout)).toMatchObject({ vms: [{ name: 'default', state: 'protected' }], hosts: [] });

    // the secondary stops answering: the primary's heartbeat age and missed heartbeats grow, outputs wait
    S.child.kill('SIGSTOP');
    try {
      const m = await until('missed heartbeats and held outputs', async () => {
        const x = await scrape(pUrl);
        return x.get('x86ft_ft_heartbeats_missed')! >= 2 && x.get('x86ft_ft_held_outputs')! > 0 && x.get('x86ft_ft_held_oldest_seconds')! > 0 ? x : undefined;
      });
      expect(m.get('x86ft_ft_heartbeat_age_seconds')).toBeGreaterThan(0);
      // the silence counts while it lasts (the longest silence is at least the missed periods' worth; 50 ms beats)
      expect(m.get('x86ft_ft_peer_max_silence_seconds')).toBeGreaterThanOrEqual(m.get('x86ft_ft_heartbeats_missed')! * 0.05 - 0.05);
      expect(m.get('x86ft_ft_peer_max_silence_seconds')).toBeGreaterThan(0);
      expect(m.get('x86ft_ft_held_bytes')).toBeGreaterThan(0);
      expect(m.get('x86ft_ft_lag_instructions')).toBeGreaterThan(0);
    } finally {
      S.child.kill('SIGCONT');
    }
    // and goes on once it answers again (no failover: the failure timeout is long)
    const stalled = (await scrape(pUrl)).get('x86ft_guest_instructions_total')!;
    const end = await until('the guest to go on', async () => { const x = await scrape(pUrl); return x.get('x86ft_guest_instructions_total')! > stalled ? x : undefined; });
    expect(end.get('x86ft_ft_failovers_total')).toBe(0);
    expect(end.get('x86ft_ft_state{state="protected"}')).toBe(1);

    // what the pair released over TLS is the guest's console: consecutive lines, none lost or doubled
    P.child.kill('SIGKILL'); S.child.kill('SIGKILL');
    await Promise.all([P.exited, S.exited]);
    expect(statSync(consoleFile).size).toBeGreaterThan(0);
    const got = readFileSync(consoleFile, 'latin1').split('\n').slice(0, -1).filter((l) => l.startsWith('demo line '));
    expect(got.length).toBeGreaterThan(0);
    got.forEach((l, i) => expect(l).toMatch(new RegExp(`^demo line 0*${i + 1} of 100000 hash [0-9a-f]{8} `)));
  }, 300_000); // generous: several waits on a loaded machine; each is bounded on what must happen
});
