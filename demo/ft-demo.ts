// `npm start`: the fault-tolerance demo, issue 10's whole story on this machine. Three host agents
// (`x86ft host`, each the leader of its own process group, as if on three machines) share a temporary
// dir: control plane; `x86ft ft start` runs the bundled ft_demo guest (numbered lines with a running
// hash, plus disk writes) with its primary on one host and its secondary on another; `x86ft ft status`
// shows it protected; the primary's whole host is killed (kill -9 -- -PGID: its agent and the primary
// at once); the secondary takes over; a new secondary joins from a live snapshot on the third host;
// the VM is protected again; `x86ft ft wait` gives the guest's exit status; the console is checked
// (every line once, in order). Exit status 0 when all of it happened, 1 when something did not (said).
//
// Nothing here depends on the machine's speed: the guest idles PAUSE_MS of guest time after each line
// (a lower bound on its length), the kill happens at guest progress (console lines), each wait is for a
// state with a generous bound and stops as soon as the VM has ended (reporting that instead).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openControl, type ControlPlane, type VmRecord } from '../src/ft/control.js';

const ROOT = ((): string => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const ELF = join(ROOT, 'guests/build/ft_demo-O2.elf');
const VM = 'demo';
const HOSTS = ['h1', 'h2', 'h3'];
/** ft_demo: lines, work per line (x100k instructions), ms of guest idle time per line (a human can watch them come),
 *  and the hold: after its last line the guest waits for one console byte, which the demo types once the story is
 *  told (failover, protected again), so the guest cannot end before it however fast or loaded the machine is. */
const LINES = 30, WORK = 300, PAUSE_MS = 100;
/** The primary's host is killed once this many lines have come (a second or two into the run). */
const KILL_AT_LINE = 6;
/** A failure timeout that a loaded machine does not trip by itself (the default is 500 ms). */
const FAILURE_TIMEOUT_MS = 2000;
/** Bounds on waits for what must happen (never on how fast: a loaded machine can take seconds for each). */
const WAIT_MS = 90_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (t: string): void => void process.stdout.write(`\n=== ${t}\n`);
const where = (r: { host: string; pid: number } | null): string => (r ? `host ${r.host} (pid ${r.pid})` : 'none');

interface Agent { id: string; child: ChildProcess; exited: boolean }

function startAgent(control: string, id: string): Agent {
  // detached: the agent leads its own process group, and every role it starts is in it (a host)
  const child = spawn(process.execPath, [CLI, 'host', '--id', id, '--control', `dir:${control}`], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const a: Agent = { id, child, exited: false };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => process.stdout.write(s.replace(/^(?=.)/gm, `  ${id} | `)));
  child.on('exit', () => { a.exited = true; });
  return a;
}

function killGroup(a: Agent, sig: NodeJS.Signals): void {
  try { process.kill(-a.child.pid!, sig); } catch { /* gone already */ }
}

function x86ft(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

function status(control: string): void {
  process.stdout.write(x86ft(['ft', 'status', VM, '--control', `dir:${control}`]).out);
}

const isProtected = (r: VmRecord): boolean =>
  r.state === 'protected' && !!r.primary && !!r.secondary && r.primary.pid > 1 && r.secondary.pid > 1 && r.primary.host !== r.secondary.host;

/** Polls the VM record until `ok` holds; undefined when the VM ended first (or after WAIT_MS), with `last`. */
async function waitFor(cp: ControlPlane, ok: (r: VmRecord) => boolean): Promise<{ rec?: VmRecord; last?: VmRecord }> {
  const until = Date.now() + WAIT_MS;
  let last: VmRecord | undefined;
  while (Date.now() < until) {
    last = (await cp.readVm(VM).catch(() => undefined)) ?? last;
    if (last && ok(last)) return { rec: last, last };
    if (last?.state === 'ended') break;
    await sleep(50);
  }
  return { last };
}

/** Prints the guest's console file as it grows ('guest | ' lines). */
class ConsoleFollower {
  text = '';
  private printed = 0;
  private timer: ReturnType<typeof setInterval>;
  constructor(private readonly file: string) { this.timer = setInterval(() => this.poll(), 50); }
  poll(): void {
    try { this.text = readFileSync(this.file, 'utf8'); } catch { return; }
    const end = this.text.lastIndexOf('\n') + 1;
    if (end > this.printed) process.stdout.write(this.text.slice(this.printed, end).replace(/^(?=.)/gm, '  guest | '));
    this.printed = Math.max(this.printed, end);
  }
  lines(): number { return (this.text.match(/^demo line /gm) ?? []).length; }
  stop(): void { clearInterval(this.timer); this.poll(); }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-demo-'));
  const control = join(dir, 'control');
  mkdirSync(control, { mode: 0o700 });
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, 64 * 1024);
  const consoleFile = join(dir, 'console');
  const agents: Agent[] = [];
  const missing: string[] = [];
  // the agents lead their own process groups: Ctrl-C does not reach them, so end them here
  const onSignal = (sig: NodeJS.Signals): void => {
    for (const a of agents) killGroup(a, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    say(`interrupted (${sig}): the three host agents and every role they started were killed (kill -9 of each process group); ${dir} removed`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let cp: ControlPlane | undefined;
  let follower: ConsoleFollower | undefined;
  try {
    say(`three host agents on one control plane, each in its own process group: x86ft host --id ${HOSTS.join('|')} --control dir:${control}`);
    for (const id of HOSTS) agents.push(startAgent(control, id));
    cp = await openControl(`dir:${control}`);
    const until = Date.now() + WAIT_MS;
    while ((await cp.listHosts()).length < HOSTS.length) {
      if (agents.some((a) => a.exited) || Date.now() > until) { say('a host agent did not register'); return 1; }
      await sleep(50);
    }
    const cmdline = `${LINES} ${WORK} ${PAUSE_MS} 1`;
    say(`x86ft ft start ${ELF.slice(ROOT.length + 1)} --vm ${VM} --control dir:${control} --disk ${disk} --cmdline "${cmdline}" --console-file ${consoleFile} --failure-timeout-ms ${FAILURE_TIMEOUT_MS}`);
    const st = x86ft(['ft', 'start', ELF, '--vm', VM, '--control', `dir:${control}`, '--disk', disk, '--cmdline', cmdline,
      '--console-file', consoleFile, '--failure-timeout-ms', String(FAILURE_TIMEOUT_MS)]);
    process.stdout.write(st.out);
    if (st.status !== 0) { say(`x86ft ft start exited with status ${st.status}`); return 1; }
    follower = new ConsoleFollower(consoleFile);

    const first = await waitFor(cp, isProtected);
    say(first.rec ? `x86ft ft status: protected (primary on ${first.rec.primary!.host}, secondary on ${first.rec.secondary!.host})` : `x86ft ft status: the VM was never protected (${first.last?.state ?? 'no record'})`);
    status(control);
    let rec = first.rec;
    if (rec) {
      // kill at guest progress: a few lines into the run (however fast the machine is)
      while (follower.lines() < KILL_AT_LINE && (await cp.readVm(VM))?.state !== 'ended') { follower.poll(); await sleep(20); }
      const now = await waitFor(cp, isProtected);
      rec = now.rec?.state === 'protected' && !/^demo done /m.test(follower.text) ? now.rec : undefined;
      if (!rec) missing.push('the kill (the guest finished first)');
    } else missing.push('protection');
    if (rec) {
      const victim = agents.find((a) => a.id === rec!.primary!.host)!;
      const survivor = rec.secondary!.host;
      const third = HOSTS.find((h) => h !== victim.id && h !== survivor)!;
      say(`kill -9 -- -${victim.child.pid}   (host ${victim.id} dies: its agent and the primary, pid ${rec.primary!.pid}, at once; guest line ${follower.lines()})`);
      killGroup(victim, 'SIGKILL');
      const fo = await waitFor(cp, (r) => r.generation > rec!.generation && !!r.primary && r.primary.host === survivor && r.primary.pid === rec!.secondary!.pid);
      if (fo.rec) {
        say(`failover: the secondary on ${survivor} is the primary now (generation ${fo.rec.generation}); a new secondary is being placed`);
        status(control);
        const again = await waitFor(cp, (r) => isProtected(r) && r.primary!.pid === fo.rec!.primary!.pid && r.secondary!.host === third);
        if (again.rec) {
          say(`protected again: primary on ${where(again.rec.primary)}, new secondary on ${where(again.rec.secondary)}, from a live snapshot` +
            (again.rec.lastRestore ? ` (redundancy restored in ${again.rec.lastRestore.durationMs} ms)` : ''));
          status(control);
        } else missing.push(`protection again on ${third} (the VM is ${again.last?.state ?? 'gone'})`);
      } else missing.push(`the failover to ${survivor} (the VM is ${fo.last?.state ?? 'gone'})`);
    }

    // the guest waits at its hold after its last line: one byte through the VM's console service lets it end
    say(`printf x | x86ft console ${VM} --control dir:${control}   (the guest waits for one console byte after its last line)`);
    const typed = spawn(process.execPath, [CLI, 'console', VM, '--control', `dir:${control}`], { stdio: ['pipe', 'ignore', 'pipe'] });
    let typedErr = '';
    typed.stderr!.setEncoding('utf8');
    typed.stderr!.on('data', (t: string) => { typedErr += t; });
    typed.stdin!.end('x');
    const typedCode = await new Promise<number>((r) => typed.on('exit', (c) => r(c ?? 1)));
    if (typedCode !== 0) process.stdout.write(typedErr);
    say(`x86ft ft wait ${VM}: the guest's exit status`);
    const w = spawn(process.execPath, [CLI, 'ft', 'wait', VM, '--control', `dir:${control}`], { stdio: ['ignore', 'inherit', 'inherit'] });
    const code = await new Promise<number>((r) => w.on('exit', (c) => r(c ?? 1)));
    follower.stop();
    say(`x86ft ft wait exited with status ${code} (the guest's); x86ft ft status:`);
    status(control);
    const end = await cp.readVm(VM);
    const nums = [...follower.text.matchAll(/^demo line (\d+) of/gm)].map((m) => Number(m[1]));
    const ok = nums.length === LINES && nums.every((n, i) => n === i + 1) && /demo done .* mismatches 0\n$/.test(follower.text);
    say(ok ? `every line 1..${LINES} came exactly once and in order; the disk read back what was written (mismatches 0)`
      : `CONSOLE CHECK FAILED: lines ${nums.join(',')}`);
    if (missing.length === 0 && end?.failovers !== 1) missing.push(`exactly one failover (the record counts ${end?.failovers})`);
    if (missing.length) say(`NOT SHOWN: ${missing.join('; ')}`);
    return ok && code === 0 && missing.length === 0 ? 0 : 1;
  } finally {
    follower?.stop();
    await cp?.close().catch(() => undefined);
    // the hosts left leave service (SIGTERM: nothing runs on them any more), then their groups go
    if (agents.some((a) => !a.exited)) say('the hosts left leave service (SIGTERM to each agent)');
    for (const a of agents) if (!a.exited) killGroup(a, 'SIGTERM');
    const until = Date.now() + 10_000;
    while (agents.some((a) => !a.exited) && Date.now() < until) await sleep(50);
    for (const a of agents) killGroup(a, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(`demo: ${(e as Error).message}\n`); process.exitCode = 1; });
