// Failover with real processes: `x86ft ft primary` and `x86ft ft secondary` on a deterministic
// console + disk guest (guests/src/dev_ftdisk.c), SIGKILL of one role at seeded random points of
// the run (when the released console reaches a seeded random length: never a wall-clock moment).
// Afterwards: exactly one primary remains (the VM record names the survivor at the next
// generation), the console file and the disk (base + generation layers) equal an uninterrupted
// `x86ft run`'s byte for byte, and the guest's exit status is reported by the survivor. On one chain the real
// gdb goes from exit() in generation 2 back to main in generation 1 and forward again (`replay --control … --gdb`).
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, statSync, truncateSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, guestElf } from '../devices-guests/helpers.js';
import { exportDisk } from '../../src/ft/store.js';
import { openControl } from '../../src/ft/control.js';
import { expectGdbAcrossGenerations } from '../debug/gdb-harness.js';
import { concurrencyLimit } from '../helpers/proc.js';

const ROUNDS = '150';
const DISK = 64 * 512;
const FT = ['--failure-timeout-ms', '2000', '--heartbeat-ms', '100'];
let elf: string;
let want: { console: Buffer; disk: Buffer };
// The pairs mostly wait (the failure timeout, a 4 s stall, replays and gdb of single-threaded processes): two at a
// time overlap those waits, each with its own directories, ports and processes; kills stay at console progress.
const slot = concurrencyLimit(2);

function run(args: string[], cwd: string): { child: ChildProcess; done: Promise<number>; err: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.resume();
  const done = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : -2))));
  return { child, done, err: () => err };
}

function rng(seed: number): () => number {
  return () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
}

beforeAll(async () => {
  elf = guestElf('dev_ftdisk');
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-ftref-'));
  const img = join(dir, 'disk.img');
  writeFileSync(img, new Uint8Array(0)); truncateSync(img, DISK);
  const r = run(['run', elf, '--disk', img, '--cmdline', ROUNDS, '--mem', '32M', '--console', `file:${join(dir, 'console')}`, '--no-input'], dir);
  expect(await r.done).toBe(0);
  want = { console: readFileSync(join(dir, 'console')), disk: readFileSync(img) };
  expect(want.console.toString()).toContain(`ftdisk done ${ROUNDS} `);
}, 120_000);

/** Waits until `file` has at least `n` bytes, or `p` ended. */
async function grows(file: string, n: number, p: Promise<number>): Promise<void> {
  let ended = false;
  void p.then(() => { ended = true; });
  while (!ended && !(existsSync(file) && statSync(file).size >= n)) await new Promise((r) => setTimeout(r, 20));
}

/** `gdb`: also debug the chain with the real gdb across the generation boundary (test/debug/gdb-harness.ts). */
async function pair(kill: 'primary' | 'secondary' | 'stall', seed: number, gdb = false): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-ft-'));
  chmodSync(dir, 0o700);
  const base = join(dir, 'base.img');
  writeFileSync(base, new Uint8Array(0)); truncateSync(base, DISK);
  const ctl = join(dir, 'ctl');
  const consoleFile = join(dir, 'console');
  const at = Math.floor(rng(seed)() * want.console.length * 0.9);
  const p = run(['ft', 'primary', elf, '--control', `dir:${ctl}`, '--listen', '127.0.0.1:0', '--host-id', 'local-a',
    '--disk', base, '--cmdline', ROUNDS, '--mem', '32M', '--console-file', consoleFile, ...FT], dir);
  const s = run(['ft', 'secondary', '--control', `dir:${ctl}`, '--host-id', 'local-b', ...FT], dir);
  const victim = kill === 'secondary' ? s : p, survivor = kill === 'secondary' ? p : s;
  await grows(consoleFile, at, survivor.done);
  if (kill === 'stall') {
    // a stalled primary (2x the failure timeout): the secondary takes over and kills it (same machine);
    // had it lived on, it could release nothing (its generation moved on) and its disk writes land in its own layer
    victim.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 4000));
    victim.child.kill('SIGCONT');
    expect([-1, 4]).toContain(await victim.done);
  } else {
    victim.child.kill('SIGKILL');
    expect(await victim.done).toBe(-1);
  }
  const status = await survivor.done;
  const diag = `kill ${kill} at console byte ${at}\n--- primary:\n${p.err()}\n--- secondary:\n${s.err()}`;
  expect(status, diag).toBe(0);
  expect(readFileSync(consoleFile).equals(want.console), diag).toBe(true);
  const out = join(dir, 'export.img');
  exportDisk({ store: ctl, vm: 'default', disk: 0, base, out });
  expect(readFileSync(out).equals(want.disk), diag).toBe(true);
  expect(survivor.err(), diag).toMatch(kill === 'secondary' ? /running not protected/ : /live at instruction \d+ as generation 2/);
  // the generation logs replay as one run (FT.md "Generation logs")
  const chain = run(['replay', '--control', `dir:${ctl}`, 'default', '--image', elf], dir);
  expect(await chain.done, `${diag}\n--- chain replay:\n${chain.err()}`).toBe(0);
  if (gdb) await expectGdbAcrossGenerations(dir, ctl, 'default', elf, Number(/live at instruction (\d+) as generation 2/.exec(survivor.err())![1]));
  // exactly one primary: the survivor holds generation 2 and the record names it
  const cp = await openControl(`dir:${ctl}`);
  try {
    expect(await cp.generation('default')).toBe(2);
    const rec = await cp.readVm('default');
    expect(rec?.primary?.host, diag).toBe(kill === 'secondary' ? 'local-a' : 'local-b');
    expect(rec?.state).toBe('ended');
    expect(rec?.exitStatus).toBe(0);
  } finally { await cp.close(); }
}

describe('failover with real processes (SIGKILL, SIGSTOP)', () => {
  for (const seed of [11, 22, 33]) {
    // seed 11 kills at about 3/4 of the console: main ran in generation 1, exit() runs in generation 2
    const gdb = seed === 11;
    it.concurrent(`SIGKILL of the primary at a seeded random point (seed ${seed}): the secondary takes over, nothing lost or doubled${gdb ? '; gdb across the generations' : ''}`, () => slot(() => pair('primary', seed, gdb)), 300_000);
  }
  it.concurrent('SIGKILL of the secondary: the primary claims the next generation and goes on, losing nothing', () => slot(() => pair('secondary', 44)), 300_000);
  it.concurrent('SIGSTOP of the primary for 2x the failure timeout, then SIGCONT: one primary, nothing lost or doubled', () => slot(() => pair('stall', 55)), 300_000);
});
