// Shared by test/ft/protect*.test.ts and the torture run (npm run ft:torture): runs `x86ft protect`
// on the deterministic ft_demo guest as real processes, kills a role with SIGKILL at a seeded random
// moment once the VM is protected, and collects what must equal an uninterrupted `x86ft run` byte
// for byte: protect's stdout, the console file and the disk (base image + generation layers).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openControl, type ControlPlane, type VmRecord } from '../../src/ft/control.js';
import { exportDisk } from '../../src/ft/store.js';

/** The repository root (works from test/ft and from dist/test/ft). */
export const ROOT = ((): string => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) || !existsSync(join(d, 'guests'))) d = dirname(d);
  return d;
})();
export const CLI = join(ROOT, 'dist/src/cli/main.js');

export function guest(name: string): string {
  const rel = `build/${name}-O2.elf`;
  execFileSync('make', ['-s', '-C', join(ROOT, 'guests'), rel], { stdio: ['ignore', 'ignore', 'inherit'] });
  return join(ROOT, 'guests', rel);
}

/** xorshift32: the seeded random moments. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x100000000; };
}

export const DISK_BYTES = 64 * 1024;
/** ft_demo's command line in the tests: lines, hundreds of thousands of instructions of work per line,
 *  milliseconds of guest time idle after each line (kills land both in work and in HLT), and the hold: after
 *  its last line the guest waits for one console byte, which protectRun types once its kill or stall is done,
 *  so the guest cannot end before it however fast the machine is (a quiet machine ran the work alone within
 *  300 ms of protection, before a test could kill anything). */
export const DEMO_CMDLINE = '16 1500 50 1';
/** Failure timeout of the test pairs: generous, so that a loaded machine (2 cores shared by many test
 *  processes) does not fail a role over by itself; the tests assert guarantees, never speed. */
export const FAILURE_TIMEOUT_MS = 2000;

export interface Outcome {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  console: Buffer;
  disk: Buffer;
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `x86ft-${tag}-`));
}

function baseDisk(dir: string): string {
  const p = join(dir, 'base.img');
  writeFileSync(p, Buffer.alloc(0));
  truncateSync(p, DISK_BYTES);
  return p;
}

/** ft_demo's line once it waits at its hold (fourth command-line number 1) for one console byte before it ends. */
export const HOLD_LINE = 'demo holding: waiting for one console byte\n';

/** The ft_demo command line holds the end (its fourth number is 1). */
export function holds(cmdline: string): boolean {
  return cmdline.trim().split(/\s+/)[3] === '1';
}

/** The console shows the guest waiting at its hold (nothing more comes until a byte is typed). */
export function atHold(console: Buffer): boolean {
  return console.length >= HOLD_LINE.length && console.subarray(console.length - HOLD_LINE.length).toString('latin1') === HOLD_LINE;
}

/** ft_demo's command line without its idle time (the third number 0): the same console and disk, sooner. */
export function withoutIdle(cmdline: string): string {
  const w = cmdline.trim().split(/\s+/);
  if (w.length >= 3) w[2] = '0';
  return w.join(' ');
}

/** Runs `x86ft ARGS`; `input`: bytes on its stdin (then end of file) once given, none when absent. */
function runCli(args: string[], timeoutMs: number, input?: string | Promise<string>, live?: { stderr: string }): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) {
      child.stdin!.on('error', () => undefined); // it ended before the input came: its outcome says why
      void Promise.resolve(input).then((b) => child.stdin!.end(b));
    }
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => { err += b.toString(); if (live) live.stderr = err; });
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`x86ft ${args[0]} did not end in ${timeoutMs} ms:\n${err}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ status: code, stdout: Buffer.concat(out), stderr: err }); });
  });
}

/** The uninterrupted run: `x86ft run` on a fresh disk; `timeoutMs` bounds a hang (a long torture's run needs more).
 *  A command line that holds the end gets the one byte the hold waits for on stdin (the UART takes it at the hold). */
export async function referenceRun(elf: string, cmdline = DEMO_CMDLINE, timeoutMs = 120_000): Promise<Outcome> {
  const dir = tempDir('ref');
  try {
    const disk = baseDisk(dir);
    const r = holds(cmdline)
      ? await runCli(['run', elf, '--disk', disk, '--cmdline', cmdline], timeoutMs, 'x')
      : await runCli(['run', elf, '--disk', disk, '--cmdline', cmdline, '--no-input'], timeoutMs);
    return { ...r, console: r.stdout, disk: readFileSync(disk) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ProtectRun extends Outcome {
  record: VmRecord | undefined;
  /** pid of the role killed, and whether that process is gone now. */
  killed: { role: 'primary' | 'secondary'; pid: number; gone: boolean } | undefined;
  /** Owner host of each claimed generation (1-based index = generation). */
  claims: string[];
  /** Exit statuses/signals of the role processes, in start order. */
  roles: string[];
  /** Processes still running with the run's directory on their command line once protect had exited
   *  (a role outliving its supervisor: a bug the torture reports); the harness killed them. */
  survivors: string[];
}

export interface ProtectCase {
  elf: string;
  cmdline?: string;
  /** Kill this role with SIGKILL `afterMs` after the VM first shows 'protected' (with `stopMs`: stall it
   *  with SIGSTOP for that long, then SIGCONT). */
  kill?: { role: 'primary' | 'secondary'; afterMs: number; stopMs?: number;
    /** Instead of a time: kill once the console file holds this many bytes (guest progress, not speed). */
    afterBytes?: number;
    /** With stopMs: runs during the stall (it ends at SIGCONT or when this returns, whichever is later). */
    whileStopped?: (cp: ControlPlane) => Promise<void> };
  /** --failure-timeout-ms of the pair (default FAILURE_TIMEOUT_MS). */
  failureTimeoutMs?: number;
  /** A bound on protect's run (default 240 s: a hang guard, not a speed bound). */
  timeoutMs?: number;
  /** How long to wait for 'protected', and then for the kill's console progress (default 150 s each: three runs
   *  at once at a load of 27 took over a minute to be protected; a torture at nice 19 on a loaded host needs
   *  more: a bound on a hang, not on speed). */
  patienceMs?: number;
  extraArgs?: string[];
  /** Called once the VM is protected, with its record and the control plane (attacks, probes). */
  whileProtected?: (rec: VmRecord, cp: ControlPlane) => Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The process runs (a zombie, killed but not yet reaped by its new parent, is dead for our purpose). */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1')); } catch { return false; }
}

/** Processes (other than this one) whose command line names `dir`: the roles and supervisor of a run there. */
export function processesUsing(dir: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    let cmdline: string;
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim(); } catch { continue; }
    if (cmdline.includes(dir) && alive(pid)) out.push({ pid, cmdline });
  }
  return out;
}

/** SIGKILLs every process using `dir` and waits (up to 5 s) until they are gone; returns what it found. */
async function killSurvivors(dir: string): Promise<string[]> {
  const found = processesUsing(dir);
  for (const p of found) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone meanwhile */ } }
  const until = Date.now() + 5000;
  while (found.some((p) => alive(p.pid)) && Date.now() < until) await sleep(20);
  return found.map((p) => `pid ${p.pid}: ${p.cmdline}`);
}

/**
 * Removes a run's directory once nothing uses it. A failure to remove never hides the run's own
 * error (a timed-out protect left its roles running, and their writes made rmdir fail with
 * ENOTEMPTY, which replaced the timeout as the reported cause).
 */
async function removeRunDir(dir: string, failed: boolean): Promise<void> {
  await killSurvivors(dir);
  try { rmSync(dir, { recursive: true, force: true }); } catch (e) { if (!failed) throw e; }
}

/** Runs `x86ft protect` on the case; kills a role as asked; returns everything to compare. */
export async function protectRun(c: ProtectCase): Promise<ProtectRun> {
  const dir = tempDir('protect');
  const control = join(dir, 'control');
  mkdirSync(control, { mode: 0o700 });
  const disk = baseDisk(dir);
  const consoleFile = join(dir, 'console.out');
  let failed = true;
  try {
    // a guest that holds its end gets its byte through protect's stdin (exactly-once typed input) once the kill or
    // stall is done; until then it cannot end
    const hold = holds(c.cmdline ?? DEMO_CMDLINE);
    let release = (): void => undefined;
    const input = hold ? new Promise<string>((r) => { release = () => r('x'); }) : undefined;
    const args = ['protect', c.elf, '--control', `dir:${control}`, '--disk', disk, '--cmdline', c.cmdline ?? DEMO_CMDLINE,
      '--console-file', consoleFile, ...(hold ? [] : ['--no-input']), '--failure-timeout-ms', String(c.failureTimeoutMs ?? FAILURE_TIMEOUT_MS), ...(c.extraArgs ?? [])];
    const live = { stderr: '' };
    const run = runCli(args, c.timeoutMs ?? 240_000, input, live);
    let ended = false;
    void run.then(() => { ended = true; }, () => { ended = true; });
    let killed: ProtectRun['killed'];
    const cp = await openControl(`dir:${control}`);
    try {
      if (c.kill || c.whileProtected) {
        const until = Date.now() + (c.patienceMs ?? 150_000);
        let rec: VmRecord | undefined;
        for (;;) {
          rec = await cp.readVm('default').catch(() => undefined);
          if (rec?.state === 'protected' && rec.primary && rec.secondary && rec.secondary.pid > 1) break;
          // protect ended first: its outcome (compared by the test) says why; nothing to kill
          if (ended) break;
          // what the record and protect said: the run directory is removed, so the verdict carries the evidence
          if (Date.now() > until) throw new Error(`the VM never became protected (record: ${rec ? JSON.stringify({ ...rec, config: undefined }) : 'none'}; protect's stderr: ${live.stderr.trim().split('\n').slice(-12).join(' | ')})`);
          await sleep(20);
        }
        if (c.whileProtected && !ended) await c.whileProtected(rec!, cp);
      }
      if (c.kill) {
        if (c.kill.afterBytes !== undefined) {
          const until = Date.now() + (c.patienceMs ?? 150_000);
          const size = (): number => { try { return statSync(consoleFile).size; } catch { return 0; } };
          const holding = (): boolean => { try { return atHold(readFileSync(consoleFile)); } catch { return false; } };
          while (!ended && size() < c.kill.afterBytes && !holding() && Date.now() < until) await sleep(5);
        } else await sleep(c.kill.afterMs);
        const rec = await cp.readVm('default');
        const ref = c.kill.role === 'primary' ? rec?.primary : rec?.secondary;
        // pid 0 or 1 would signal a process group or init: never (a record without the real pid is a bug)
        if (ref && ref.pid <= 1) throw new Error(`the VM record names ${c.kill.role} pid ${ref.pid}`);
        if (ref && rec?.state === 'protected') {
          try {
            process.kill(ref.pid, c.kill.stopMs === undefined ? 'SIGKILL' : 'SIGSTOP');
            killed = { role: c.kill.role, pid: ref.pid, gone: false };
          } catch { /* already gone */ }
          if (killed && c.kill.stopMs !== undefined) {
            await Promise.all([sleep(c.kill.stopMs), c.kill.whileStopped?.(cp)]);
            try { process.kill(ref.pid, 'SIGCONT'); } catch { /* killed meanwhile (fencing) */ }
          }
        }
      }
      release();
      const r = await run;
      if (killed) killed.gone = !alive(killed.pid);
      const survivors = await killSurvivors(dir);
      const record = await cp.readVm('default');
      const claims: string[] = [];
      for (let g = 1; g <= (await cp.generation('default')); g++) claims.push((await cp.claimOwner('default', g))?.hostId ?? '?');
      const out = join(dir, 'disk.out');
      exportDisk({ store: control, vm: 'default', disk: 0, base: disk, out });
      const result: ProtectRun = {
        ...r, record, killed, claims, survivors, roles: [...r.stderr.matchAll(/the (primary|secondary) \(pid \d+\) (was killed by \w+|exited with status \d+)/g)].map((m) => m[0]),
        console: existsSync(consoleFile) ? readFileSync(consoleFile) : Buffer.alloc(0), disk: readFileSync(out),
      };
      failed = false;
      return result;
    } finally {
      await cp.close();
    }
  } finally {
    await removeRunDir(dir, failed);
  }
}
