// `npm start` (demo/ft-demo.ts) as a user runs it: the built demo as a real process. It must tell the
// whole story of issue 10 (three hosts, protected, the primary's host killed, failover, a new secondary
// on the third host, protected again) and exit 0; the guest lines it shows must equal an uninterrupted
// `x86ft run` of the same guest (judged here, not by the demo's own check); nothing it started may be
// left running.

import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAsync } from '../helpers/proc.js';
import { ROOT, alive } from './protect-harness.js';
import { demoReference } from './protect-expect.js';

describe('npm start (demo/ft-demo.ts)', () => {
  it('three hosts: protected, the primary\'s host killed, failover, a new secondary on the third host, protected again; console as uninterrupted', async () => {
    const r = await spawnAsync(process.execPath, [join(ROOT, 'dist/demo/ft-demo.js')], { encoding: 'utf8', timeout: 300_000 });
    const out = r.stdout;
    const diag = `exit ${r.status}\n${out}\n${r.stderr}`;
    expect(r.status, diag).toBe(0);
    expect(out, diag).not.toMatch(/NOT SHOWN|FAILED/);
    // the story, in this order
    const first = /=== x86ft ft status: protected \(primary on (h\d), secondary on (h\d)\)/.exec(out);
    expect(first, diag).not.toBeNull();
    const [, p, s] = first!;
    const third = ['h1', 'h2', 'h3'].find((h) => h !== p && h !== s)!;
    const steps = [
      first![0],
      `(host ${p} dies: its agent and the primary`,
      `=== failover: the secondary on ${s} is the primary now (generation 2)`,
      `=== protected again: primary on host ${s} (pid`,
      `new secondary on host ${third} (pid`,
      '=== printf x | x86ft console demo',
      '=== x86ft ft wait exited with status 0',
      'every line 1..',
    ];
    let at = 0;
    for (const step of steps) {
      const k = out.indexOf(step, at);
      expect(k, `'${step}' after offset ${at}\n${diag}`).toBeGreaterThanOrEqual(0);
      at = k + step.length;
    }
    // ft status tables: protected before the kill (both roles on different hosts), ended at the end, one failover
    expect(out).toMatch(new RegExp(`^demo +1 +protected +${p} pid \\d+ +${s} pid \\d+ `, 'm'));
    expect(out).toMatch(new RegExp(`^demo +2 +protected +${s} pid \\d+ +${third} pid \\d+ `, 'm'));
    expect(out).toMatch(new RegExp(`^demo +2 +ended +${s} pid \\d+ +${third} pid \\d+ .* 1 +\\d{4}-`, 'm'));
    // the guest's lines as shown equal an uninterrupted run of the same guest (the idle time changes no output)
    const cmdline = /--cmdline "(\d+) (\d+) (\d+) 1"/.exec(out);
    expect(cmdline, diag).not.toBeNull();
    const { ref } = await demoReference(`${cmdline![1]} ${cmdline![2]} 0 1`);
    const shown = [...out.matchAll(/^ {2}guest \| (.*)$/gm)].map((m) => `${m[1]}\n`).join('');
    expect(shown).toBe(ref.stdout.toString());
    // nothing left running: the agents (and with them every role) are gone
    const agents = [...out.matchAll(/registered \(lease \d+ ms, pid (\d+),/g)].map((m) => Number(m[1]));
    expect(agents).toHaveLength(3);
    for (const pid of agents) expect(alive(pid), `agent pid ${pid}`).toBe(false);
  }, 300_000);

  it('Ctrl-C (SIGINT) once the agents run: status 130, says what it ended, no agent left, its directory removed', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/demo/ft-demo.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // interrupted once the three agents registered (or whenever the demo ends first: then there is nothing to judge)
    for (const end = Date.now() + 120_000; (out.match(/registered \(lease/g) ?? []).length < 3 && child.exitCode === null && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    expect((out.match(/registered \(lease/g) ?? []).length, out).toBe(3);
    child.kill('SIGINT');
    expect(await exited, out).toBe(130);
    const said = /=== interrupted \(SIGINT\): the three host agents and every role they started were killed \(kill -9 of each process group\); (\S+) removed\n/.exec(out);
    expect(said, out).not.toBeNull();
    expect(existsSync(said![1]!)).toBe(false);
    const agents = [...out.matchAll(/registered \(lease \d+ ms, pid (\d+),/g)].map((m) => Number(m[1]));
    await new Promise((r) => setTimeout(r, 200));
    for (const pid of agents) expect(alive(pid), `agent pid ${pid}`).toBe(false);
  }, 180_000);
});
