// A manual pair (`x86ft ft primary --listen HOST:PORT` + `x86ft ft secondary`, real processes) through the
// secondary's loss, as a new user drove it (s10 trial): a second secondary while one is paired is refused
// (exit 2 naming the paired one) and never writes the VM record; SIGKILL of the secondary leaves the primary
// alone at generation 2, listening again on its own fixed port (it was EADDRINUSE), where a new secondary
// joins; console clients get generation 2's output too (they got generation 1's only, then "the guest
// ended"), each byte once: a client attached from the start and one attached after the loss show the
// same console, equal to the console file. The guest (ft_demo) holds its end until client A types a byte,
// so it runs at every step whatever the machine's speed.

import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { openControl, type ControlPlane } from '../../src/ft/control.js';
import { CLI, DEMO_CMDLINE, FAILURE_TIMEOUT_MS, guest, tempDir } from './protect-harness.js';

let elf: string;
beforeAll(() => { elf = guest('ft_demo'); });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc { child: ChildProcess; out: () => string; err: () => string; done: Promise<number | null>; status: () => number | null | undefined }

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '', status: number | null | undefined;
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<number | null>((r) => child.on('exit', (c) => { status = c; r(c); }));
  return { child, out: () => out, err: () => err, done, status: () => status };
}

/** Waits for `what`; stops early (failing, with their stderr) when one of `watch` ended. */
async function waitFor(what: () => boolean | Promise<boolean>, label: string, watch: Proc[]): Promise<void> {
  const until = Date.now() + 90_000;
  while (!(await what())) {
    const gone = watch.find((p) => p.status() !== undefined);
    if (gone) throw new Error(`${label}: a process ended (status ${gone.status()}): ${gone.err()}\n${watch.filter((w) => w !== gone).map((w) => w.err()).join('\n')}`);
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}: ${watch.map((w) => w.err()).join('\n')}`);
    await sleep(20);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

describe('a manual pair loses its secondary', () => {
  it('a second secondary is refused; console clients see every generation; a new secondary joins on the fixed port', async () => {
    const dir = tempDir('manual');
    const ctl = join(dir, 'control');
    mkdirSync(ctl, { mode: 0o700 });
    const control = `dir:${ctl}`;
    const cp: ControlPlane = await openControl(control);
    const procs: Proc[] = [];
    const run = (args: string[]): Proc => { const p = start(args); procs.push(p); return p; };
    const rec = async () => cp.readVm('m');
    try {
      const port = await freePort();
      const consoleFile = join(dir, 'm.console');
      const disk = join(dir, 'base.img');
      writeFileSync(disk, Buffer.alloc(0)); truncateSync(disk, 64 * 1024);
      const p = run(['ft', 'primary', elf, '--control', control, '--vm', 'm', '--listen', `127.0.0.1:${port}`, '--host-id', 'ha',
        '--disk', disk, '--console-file', consoleFile, '--cmdline', DEMO_CMDLINE, '--failure-timeout-ms', String(FAILURE_TIMEOUT_MS)]);
      await waitFor(() => /waiting for the secondary/.test(p.err()), 'the primary', [p]);
      const secondary = (host: string): Proc => run(['ft', 'secondary', '--control', control, '--vm', 'm', '--host-id', host]);
      const s1 = secondary('hb');
      await waitFor(async () => { const r = await rec(); return r?.state === 'protected' && r.secondary?.pid === s1.child.pid; }, 'protected', [p, s1]);
      const a = run(['console', 'm', '--control', control]);
      await waitFor(() => a.out().includes('demo line'), 'console client A', [p, a]);

      // an intruder: refused at once, exit 2 naming the paired secondary; the record still names s1
      const s2 = secondary('hc');
      expect(await s2.done, s2.err()).toBe(2);
      expect(s2.err()).toMatch(new RegExp(`already has a secondary \\(hb pid ${s1.child.pid}\\)`));
      expect(s2.err()).not.toMatch(/peer up|nothing to take over|at [a-z]+ \(/);
      expect((await rec())?.secondary?.pid).toBe(s1.child.pid);
      expect(p.err()).toMatch(/refused a second secondary from hc/);

      // the guest holds its end until A types a byte: it runs at the kill whatever the machine's speed
      await waitFor(() => (a.out().match(/\n/g) ?? []).length >= 4, 'console progress', [p, a]);
      s1.child.kill('SIGKILL');
      await waitFor(() => /generation 2: log .* from instruction/.test(p.err()), 'the generation 2 log', [p, a]);
      const b = run(['console', 'm', '--control', control, '--no-input']);
      // a new secondary joins generation 2 on the primary's own fixed port
      const s3 = secondary('hb');
      await waitFor(async () => { const r = await rec(); return r?.state === 'protected' && r.generation === 2 && r.secondary?.pid === s3.child.pid; }, 'protected again', [p, s3]);
      expect(p.err()).not.toMatch(/EADDRINUSE|cannot listen/);
      await waitFor(() => a.out().includes('demo holding'), 'the hold (console client A)', [p, a]);
      a.child.stdin!.write('x');
      expect(await p.done, p.err()).toBe(0);
      expect(await s3.done, s3.err()).toBe(0);
      expect(await a.done, a.err()).toBe(0);
      expect(await b.done, b.err()).toBe(0);
      // every byte once, in both clients, as the console file has it (they had generation 1's bytes only)
      expect(a.out()).toMatch(/demo done/);
      expect(b.out()).toBe(a.out());
      expect(readFileSync(consoleFile, 'latin1')).toBe(a.out());
    } finally {
      for (const x of procs) if (x.status() === undefined) x.child.kill('SIGKILL');
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
