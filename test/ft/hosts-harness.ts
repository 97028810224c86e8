// Shared by the host-agent tests and `npm run test:redundancy`: real `x86ft host` agents, each the
// leader of its own process group (a host dies with kill -9 -- -PGID), the `x86ft ft` commands as
// real processes, and what must equal an uninterrupted run (console file, disk). No vitest here.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, atHold, tempDir } from './protect-harness.js';
import { openControl, type ControlPlane, type VmRecord } from '../../src/ft/control.js';

export interface Host {
  id: string;
  child: ChildProcess;
  /** The agent's process group (= its pid: it is the group leader). */
  pgid: number;
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Cluster {
  dir: string;
  spec: string;
  store: string;
  disk: string;
  consoleFile: string;
  hosts: Map<string, Host>;
  env: NodeJS.ProcessEnv;
}

/** Failure timeout of the test VMs: generous (a cold primary on a machine with a load of 20+ can be silent for
 *  seconds while it compiles); the tests assert guarantees, never speed. */
export const FAILURE_TIMEOUT_MS = 5000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Clusters not stopped yet: the agents lead process groups of their own, so nothing ends them with the test
 *  run; stopLiveClusters (each test file's afterEach) ends them also when a test timed out before its finally ran. */
const live = new Set<Cluster>();

/** A fresh cluster directory (dir: control plane unless `spec` is given), a 64 KiB base disk. */
export function newCluster(tag: string, spec?: string, env: NodeJS.ProcessEnv = {}): Cluster {
  const dir = tempDir(tag);
  const control = join(dir, 'control');
  mkdirSync(control, { mode: 0o700 });
  const store = spec ? join(dir, 'store') : control;
  if (spec) mkdirSync(store, { mode: 0o700 });
  const disk = join(dir, 'base.img');
  writeFileSync(disk, Buffer.alloc(0));
  truncateSync(disk, 64 * 1024);
  const c: Cluster = { dir, spec: spec ?? `dir:${control}`, store, disk, consoleFile: join(dir, 'console.out'), hosts: new Map(), env: { ...process.env, ...env } };
  live.add(c);
  return c;
}

/** Starts `x86ft host --id ID` as the leader of a new process group (inside network namespace `netns` when given:
 *  `ip netns exec` execs the agent, so the group is still the agent's pid). */
export function startHost(c: Cluster, id: string, extra: string[] = [], netns?: string): Host {
  const argv = [process.execPath, CLI, 'host', '--id', id, '--control', c.spec, '--store', c.store, ...extra];
  if (netns) argv.unshift('ip', 'netns', 'exec', netns);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: c.env });
  let text = '';
  child.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  const h: Host = {
    id, child, pgid: child.pid!, log: () => text,
    exited: new Promise((r) => child.on('exit', (code, signal) => r({ code, signal }))),
  };
  c.hosts.set(id, h);
  return h;
}

/** kill -9 -- -PGID: the agent and every role it started die at once. */
export function killHost(h: Host): void {
  try { process.kill(-h.pgid, 'SIGKILL'); } catch { /* gone already */ }
}

/** Ends every agent still running (SIGKILL of the group: the test is over). */
export async function stopCluster(c: Cluster): Promise<void> {
  for (const h of c.hosts.values()) killHost(h);
  await Promise.all([...c.hosts.values()].map((h) => Promise.race([h.exited, sleep(5000)])));
  live.delete(c);
}

/** Stops every cluster a test left running and removes its directory (a test file's afterEach). */
export async function stopLiveClusters(): Promise<void> {
  for (const c of [...live]) {
    await stopCluster(c);
    rmSync(c.dir, { recursive: true, force: true });
  }
}

/** Runs `x86ft ARGS` to its end; `input`: bytes on its stdin (then end of file), none when absent; `netns`: inside
 *  that network namespace (`ip netns exec`). */
export function cli(c: Cluster, args: string[], timeoutMs = 60_000, input?: string, netns?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, CLI, ...args];
    if (netns) argv.unshift('ip', 'netns', 'exec', netns);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: c.env });
    if (input !== undefined) child.stdin!.end(input);
    let out = '', err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`x86ft ${args.join(' ')} did not end in ${timeoutMs} ms:\n${err}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ status: code, stdout: out, stderr: err }); });
  });
}

/** Waits (up to `ms`) until every agent started and still running holds a lease: what a user does before
 *  `ft start` (whose own wait for a host is 15 s; an agent's start on a machine with a load of 20+ can take
 *  longer). Throws naming the agents missing and their stderr. */
export async function waitRegistered(c: Cluster, ms = 60_000): Promise<void> {
  const want = () => [...c.hosts.values()].filter((h) => h.child.exitCode === null && h.child.signalCode === null).map((h) => h.id);
  const until = Date.now() + ms;
  let cp: ControlPlane | undefined;
  let missing: string[] = want();
  try {
    while (missing.length) {
      try {
        cp ??= await openControl(c.spec, c.env.X86FT_SECRET_FILE ? { secretFile: c.env.X86FT_SECRET_FILE } : {});
        const have = new Set((await cp.listHosts()).map((h) => h.id));
        missing = want().filter((id) => !have.has(id));
      } catch { /* the secret or the store is not there yet: the first agent makes them */ }
      if (!missing.length) break;
      if (Date.now() > until) throw new Error(`agents not registered after ${ms} ms: ${missing.map((id) => `${id}:\n${c.hosts.get(id)!.log()}`).join('\n')}`);
      await sleep(100);
    }
  } finally {
    await cp?.close();
  }
}

/** `x86ft ft start` of ft_demo with the cluster's disk and console file, once the running agents are registered. */
export async function ftStart(c: Cluster, elf: string, vm: string, cmdline: string, extra: string[] = []): ReturnType<typeof cli> {
  await waitRegistered(c);
  return cli(c, ['ft', 'start', elf, '--vm', vm, '--control', c.spec, '--store', c.store, '--disk', c.disk, '--cmdline', cmdline,
    '--console-file', c.consoleFile, '--failure-timeout-ms', String(FAILURE_TIMEOUT_MS), ...extra]);
}

/** Polls the record until `ok` holds (or throws after `ms`, naming the last record). */
export async function waitRecord(cp: ControlPlane, vm: string, ok: (r: VmRecord) => boolean, ms = 60_000, what = 'the expected state'): Promise<VmRecord> {
  const until = Date.now() + ms;
  let last: VmRecord | undefined;
  for (;;) {
    last = await cp.readVm(vm).catch(() => last);
    if (last && ok(last)) return last;
    if (Date.now() > until) throw new Error(`VM '${vm}' never reached ${what}; last record: ${JSON.stringify(last && { ...last, config: undefined })}`);
    await sleep(25);
  }
}

/** A protected record: primary and secondary named with real pids, on two different hosts. */
export function isProtected(r: VmRecord): boolean {
  return r.state === 'protected' && !!r.primary && !!r.secondary && r.secondary.pid > 1 && r.primary.pid > 1 && r.primary.host !== r.secondary.host;
}

export function readBytes(p: string): Buffer {
  try { return readFileSync(p); } catch { return Buffer.alloc(0); }
}

/** Waits until the console file holds at least `bytes` bytes, or the guest waits at its hold (ft_demo's fourth
 *  number 1: it runs on but writes nothing more until released); false if the VM ended first (never a timeout on speed). */
export async function waitConsole(c: Cluster, cp: ControlPlane, vm: string, bytes: number): Promise<boolean> {
  for (;;) {
    const have = readBytes(c.consoleFile);
    if (have.length >= bytes || atHold(have)) return true;
    const r = await cp.readVm(vm).catch(() => undefined);
    if (r?.state === 'ended') return readBytes(c.consoleFile).length >= bytes;
    await sleep(10);
  }
}

/** Lets a guest held at its end go on (ft_demo's fourth number 1): types the one byte it waits for through
 *  `x86ft console VM` (the exactly-once input path, across failovers) and waits for the client to end, which it
 *  does when the guest ended; returns the client's outcome (its status is the guest's). Call once the guest holds
 *  or may hold: a byte typed earlier waits in the primary's queue until the guest asserts RTS at its hold. */
export function release(c: Cluster, vm: string, timeoutMs = 120_000, netns?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return cli(c, ['console', vm, '--control', c.spec], timeoutMs, 'x', netns);
}

/** A killed host comes back: once its lease ran out (the agent's id is free again), a new agent with the same id. */
export async function restartWhenExpired(c: Cluster, cp: ControlPlane, id: string, extra: string[] = []): Promise<Host> {
  const until = Date.now() + 30_000;
  while ((await cp.listHosts()).some((h) => h.id === id)) {
    if (Date.now() > until) throw new Error(`the lease of host ${id} did not run out in 30 s`);
    await sleep(50);
  }
  return startHost(c, id, extra);
}
