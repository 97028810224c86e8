// Fault-tolerance benchmarks (`node dist/bench/ft.js`, part of `npm run bench`), on loopback with real
// processes; plain timed runs (each case is a process or a failover, not a micro-operation for benny):
// - output release latency: console byte produced by the guest -> released under the Output Rule
//   (this process runs the primary, with the seam's console calls timed; the secondary is a child);
// - failover gap: SIGKILL of the primary -> the next console byte on `x86ft protect`'s stdout;
// - log bandwidth: bytes/s of a recording of a busy guest (ft_demo) and of an idle one (dev_idle,
//   PIT at 100 Hz, HLT between ticks);
// - guest speed under protection: guest MIPS of a protected run (this process is the primary, from
//   'protected' to the guest's end, the last ack included, the final fsync of its disks not: nor is the plain
//   run's) vs a plain live run of the same guest in
//   this process (what `x86ft run` does), in alternating pairs in one process run (medians, spread),
//   also per CPU second of this process (the primary's own cost, apart from its waits for acks), with the
//   CPU time of the main thread and of the other threads and the main thread's wait for a CPU (Linux
//   /proc/self/task/*/schedstat); `speed` runs ft_demo "16 3000" (~43M instructions, a fraction of a
//   second: warm-up and fixed costs weigh), `steady` the same guest 10x longer ("16 30000", ~430M);
// - memory on the primary while its secondary is stalled (SIGSTOP): RSS before and at most during.
// Results in bench/results/ft.json (ft-partial.json with X86FT_BENCH_FT_ONLY=release,log,failover,speed,steady,stall).
// Counts: X86FT_BENCH_FT_PAIRS (9), X86FT_BENCH_FAILOVERS (5). X86FT_BENCH_FT_PIN=P,S pins this process (the
// primary, every thread) to CPU P and each secondary to CPU S (taskset): on a 2-core host the roles then stop taking each
// other's core, as on separate hosts (other processes of the machine still share both).

import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt, envValue } from '../src/env.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CLI, DISK_BYTES, guest, tempDir } from '../test/ft/protect-harness.js';
import { openControl, type VmConfig } from '../src/ft/control.js';
import { FtPrimary } from '../src/ft/primary.js';
import { DEFAULT_FT_OPTIONS } from '../src/ft/vm-host.js';
import { openLiveHost } from '../src/cli/host.js';
import type { OutputSeam } from '../src/machine/outputs.js';

const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;
const PAIRS = envInt('X86FT_BENCH_FT_PAIRS');
const FAILOVERS = envInt('X86FT_BENCH_FAILOVERS');
/** X86FT_BENCH_FT_PIN=P,S: the primary (this process, all its threads, those started later too) on CPU P and
 *  the secondary on CPU S, so that the two roles do not take each other's core (an approximation of separate hosts). */
const PIN = envValue('X86FT_BENCH_FT_PIN')?.split(',').map(Number);
if (PIN && PIN.length !== 2) { console.error('X86FT_BENCH_FT_PIN: give two CPUs, P,S'); process.exit(2); }
function pinSelf(): void {
  if (!PIN) return;
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(PIN[0]), String(process.pid)], { stdio: 'ignore' });
  if (r.status !== 0) { console.error(`X86FT_BENCH_FT_PIN: taskset failed (${r.error?.message ?? `status ${r.status}`})`); process.exit(2); }
}
/** The secondary's command: under taskset when pinned. */
const secondaryCmd = (args: string[]): [string, string[]] => PIN ? ['taskset', ['-c', String(PIN[1]), process.execPath, ...args]] : [process.execPath, args];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pct(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
}
const median = (v: number[]): number => pct(v, 0.5);
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

function workDir(tag: string): { dir: string; control: string; disk: string } {
  const dir = tempDir(tag);
  const control = join(dir, 'control');
  mkdirSync(control, { mode: 0o700 });
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, Buffer.alloc(DISK_BYTES));
  return { dir, control, disk };
}

/**
 * One protected run of ft_demo with this process as the primary and a child `x86ft ft secondary`:
 * the release latency of every console byte (produced -> handed to its sink under the Output Rule)
 * and the guest's MIPS from 'protected' to the end of the run (the wait for the last ack included, the final fsync not).
 */
async function protectedRun(elf: string, cmdline: string): Promise<{ latencies: number[]; mips: number; cpuMips: number; threads: ThreadSplit }> {
  const w = workDir('bench-release');
  const control = await openControl(`dir:${w.control}`);
  const image = readFileSync(elf);
  const config: VmConfig = {
    image: elf, imageSha256: createHash('sha256').update(image).digest('hex'), memorySize: 64 << 20, cmdline,
    disks: [w.disk], nets: [], consoleFile: null, store: w.control, ft: { ...DEFAULT_FT_OPTIONS, failureTimeoutMs: 5000 }, hosts: null,
  } as VmConfig;
  let t0 = NaN, ic0 = 0, cpu0 = process.cpuUsage(), th0: ThreadTimes = new Map();
  const p: FtPrimary = new FtPrimary({ vm: 'bench', config, control, hostId: 'bench-p', listen: { host: '127.0.0.1', port: 0 },
    onEvent: (e) => { if (e.kind === 'state' && e.state === 'protected') { t0 = performance.now(); ic0 = p.status().icount; cpu0 = process.cpuUsage(); th0 = threadTimes(); } } });
  await p.start();
  const seam = (p as unknown as { parts: { seam: OutputSeam } }).parts.seam;
  const produced: number[] = [], latencies: number[] = [];
  const console0 = seam.console.bind(seam);
  seam.console = (b: number): void => { produced.push(performance.now()); console0(b); };
  const sink = seam.sinks.console!;
  seam.sinks.console = (b, seq) => { latencies.push(performance.now() - produced[seq - 1]!); sink(b, seq); };
  const s = spawn(...secondaryCmd([CLI, 'ft', 'secondary', '--vm', 'bench', '--control', `dir:${w.control}`, '--host-id', 'bench-s']), { stdio: 'ignore' });
  const sExit = new Promise((r) => s.once('exit', r));
  // the run's end = the Output Rule's wait for the last ack done (finishProtected), before the disks' final fsync
  // (finishProtected's seam.syncDisks(), synchronous) and the record's update: the plain run's clock stops at the
  // guest's end too, before its host closes (fsyncs)
  const fin = p as unknown as { finishProtected: () => Promise<void> };
  const finish0 = fin.finishProtected.bind(p);
  let finishing = false, tEnd = NaN, cpuEnd: NodeJS.CpuUsage | undefined, thEnd: ThreadTimes = new Map();
  const stamp = (): void => { if (cpuEnd) return; tEnd = performance.now(); cpuEnd = process.cpuUsage(cpu0); thEnd = threadTimes(); };
  const syncDisks0 = seam.syncDisks.bind(seam);
  seam.syncDisks = () => { if (finishing) stamp(); return syncDisks0(); };
  fin.finishProtected = async () => { finishing = true; await finish0(); stamp(); };
  const outcome = await p.run();
  if (!cpuEnd) throw new Error('protected run: the primary did not wait for its last ack');
  const mips = (p.status().icount - ic0) / (tEnd - t0) / 1000;
  const cpuMips = (p.status().icount - ic0) / cpuMs(cpuEnd) / 1000;
  await sExit;
  await control.close();
  rmSync(w.dir, { recursive: true, force: true });
  if (outcome.kind !== 'ended') throw new Error(`protected run: ${outcome.kind}`);
  return { latencies, mips, cpuMips, threads: threadSplit(th0, thEnd) };
}

/** CPU time (user + system, ms) of a process.cpuUsage() difference: this process's threads only. */
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/** Per thread of this process: CPU time and time spent waiting for a CPU (ns), from Linux's /proc/self/task/TID/schedstat. */
type ThreadTimes = Map<number, { run: number; wait: number }>;
function threadTimes(): ThreadTimes {
  const m: ThreadTimes = new Map();
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try { const f = readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' '); m.set(Number(t), { run: Number(f[0]), wait: Number(f[1]) }); } catch { /* ended meanwhile */ }
    }
  } catch { /* not Linux: NaN below */ }
  return m;
}
/** Where a run's CPU went (ms): the main thread (guest, log, digests, outputs), every other thread of this process (the
 *  channel and heartbeat threads, V8's compiler and GC helpers, the thread pool), and the main thread's wait for a CPU. */
interface ThreadSplit { mainMs: number; otherMs: number; mainWaitMs: number }
function threadSplit(a: ThreadTimes, b: ThreadTimes): ThreadSplit {
  if (!b.size) return { mainMs: NaN, otherMs: NaN, mainWaitMs: NaN };
  let mainMs = 0, otherMs = 0, mainWaitMs = 0;
  for (const [t, v] of b) {
    const d = (v.run - (a.get(t)?.run ?? 0)) / 1e6;
    if (t === process.pid) { mainMs = d; mainWaitMs = (v.wait - (a.get(t)?.wait ?? 0)) / 1e6; } else otherMs += d;
  }
  return { mainMs, otherMs, mainWaitMs };
}

/** Release latency (median, p99) over one protected run of ft_demo. */
async function releaseLatency(elf: string): Promise<{ bytes: number; p50Ms: number; p99Ms: number }> {
  const { latencies } = await protectedRun(elf, '40 300');
  return { bytes: latencies.length, p50Ms: round(median(latencies), 3), p99Ms: round(pct(latencies, 0.99), 3) };
}

/** A plain live run in this process (as `x86ft run`: live gate, file disk, console to /dev/null): guest MIPS. */
async function plainRun(elf: string, cmdline: string): Promise<{ mips: number; cpuMips: number; threads: ThreadSplit; instructions: number }> {
  const w = workDir('bench-plain');
  const host = await openLiveHost({ file: elf, mem: 64 << 20, cmdline, disks: [{ path: w.disk, readOnly: false }], nets: [], console: 'file:/dev/null',
    input: false, max: Infinity, stats: false, rest: new Map() });
  const t0 = performance.now(), cpu0 = process.cpuUsage(), th0 = threadTimes();
  const r = await host.machine.runAsync(Infinity, host.stop);
  const mips = r.instructions / (performance.now() - t0) / 1000;
  const cpuMips = r.instructions / cpuMs(process.cpuUsage(cpu0)) / 1000;
  const threads = threadSplit(th0, threadTimes());
  await host.close();
  rmSync(w.dir, { recursive: true, force: true });
  if (r.end !== 'exit' || r.status !== 0) throw new Error(`plain run: ${r.end} ${r.status}`);
  return { mips, cpuMips, threads, instructions: r.instructions };
}

/** Median over pairs of one ThreadSplit field, ms. */
const medianOf = (v: ThreadSplit[], k: keyof ThreadSplit): number => round(median(v.map((x) => x[k])), 1);

/**
 * Guest MIPS plain vs protected, alternating pairs in this process (the first pair warms up and is dropped);
 * also per CPU time of this process (the primary: its guest, log, channel and worker threads), whose ratio
 * is the primary's own cost of protection, apart from its waits for acks (which a loaded host lengthens);
 * and where the CPU time went (main thread, other threads) with the main thread's wait for a CPU (the
 * secondary's replay, also a whole core's work, and every helper thread share the host's cores with it).
 */
async function guestSpeed(elf: string, cmdline: string): Promise<{ pairs: number; cmdline: string; instructions: number; plainMips: number; protectedMips: number; ratioMedian: number; ratioMin: number; ratioMax: number; costPercent: number;
  cpu: { plainMips: number; protectedMips: number; ratioMedian: number; ratioMin: number; ratioMax: number; costPercent: number };
  threadsMs: { plain: ThreadSplit; protected: ThreadSplit } }> {
  const plain: number[] = [], prot: number[] = [], ratios: number[] = [], cpuRatios: number[] = [], cpuPlain: number[] = [], cpuProt: number[] = [];
  const thPlain: ThreadSplit[] = [], thProt: ThreadSplit[] = [];
  let instructions = 0;
  for (let i = 0; i <= PAIRS; i++) {
    const a = await plainRun(elf, cmdline);
    const b = await protectedRun(elf, cmdline);
    instructions = a.instructions;
    if (i === 0) continue;
    plain.push(a.mips); prot.push(b.mips); ratios.push(b.mips / a.mips);
    cpuPlain.push(a.cpuMips); cpuProt.push(b.cpuMips); cpuRatios.push(b.cpuMips / a.cpuMips);
    thPlain.push(a.threads); thProt.push(b.threads);
    const th = (t: ThreadSplit): string => `main ${t.mainMs.toFixed(0)} + other threads ${t.otherMs.toFixed(0)} ms CPU, main waited ${t.mainWaitMs.toFixed(0)} ms for a CPU`;
    console.log(`  pair ${i}: plain ${a.mips.toFixed(1)} MIPS, protected ${b.mips.toFixed(1)} MIPS (${(b.mips / a.mips).toFixed(3)}); per CPU second ${a.cpuMips.toFixed(1)} and ${b.cpuMips.toFixed(1)} (${(b.cpuMips / a.cpuMips).toFixed(3)})`);
    console.log(`    plain: ${th(a.threads)}; protected: ${th(b.threads)}`);
  }
  const r = median(ratios), rc = median(cpuRatios);
  const split = (v: ThreadSplit[]): ThreadSplit => ({ mainMs: medianOf(v, 'mainMs'), otherMs: medianOf(v, 'otherMs'), mainWaitMs: medianOf(v, 'mainWaitMs') });
  return { pairs: PAIRS, cmdline, instructions, plainMips: round(median(plain), 1), protectedMips: round(median(prot), 1), ratioMedian: round(r, 3),
    ratioMin: round(Math.min(...ratios), 3), ratioMax: round(Math.max(...ratios), 3), costPercent: round((1 - r) * 100, 1),
    cpu: { plainMips: round(median(cpuPlain), 1), protectedMips: round(median(cpuProt), 1), ratioMedian: round(rc, 3), ratioMin: round(Math.min(...cpuRatios), 3),
      ratioMax: round(Math.max(...cpuRatios), 3), costPercent: round((1 - rc) * 100, 1) },
    threadsMs: { plain: split(thPlain), protected: split(thProt) } };
}

type Child = ChildProcess & { exited: Promise<unknown>; err: () => string };
function protect(w: ReturnType<typeof workDir>, elf: string, cmdline: string, extra: string[] = []): Child {
  const c = spawn(process.execPath, [CLI, 'protect', elf, '--control', `dir:${w.control}`, '--disk', w.disk, '--cmdline', cmdline, '--no-input', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  // made at once: a child that ends before anyone waits must not leave a promise nothing settles
  return Object.assign(c, { exited: new Promise((r) => c.once('exit', r)), err: () => err });
}

async function vmRecord(control: string): Promise<{ state: string; primary: { pid: number } | null; secondary: { pid: number } | null } | undefined> {
  const cp = await openControl(`dir:${control}`);
  try { return await cp.readVm('default'); } catch { return undefined; } finally { await cp.close(); }
}

async function waitProtected(control: string, child: ChildProcess): Promise<{ primary: number; secondary: number } | undefined> {
  while (child.exitCode === null) {
    const r = await vmRecord(control);
    if (r?.state === 'protected' && r.primary && r.primary.pid > 1 && r.secondary && r.secondary.pid > 1) return { primary: r.primary.pid, secondary: r.secondary.pid };
    await sleep(20);
  }
  return undefined;
}

/** Failover gap: SIGKILL of the primary -> the next console byte on protect's stdout. */
async function failoverGap(elf: string): Promise<number[]> {
  const gaps: number[] = [];
  for (let i = 0; i < FAILOVERS; i++) {
    const w = workDir('bench-failover');
    const child = protect(w, elf, '60 1500');
    let lastOut = 0, killedAt = 0, gap = NaN;
    child.stdout!.on('data', () => { lastOut = performance.now(); if (killedAt && Number.isNaN(gap)) gap = lastOut - killedAt; });
    const pids = await waitProtected(w.control, child);
    if (pids) {
      await sleep(1500);
      killedAt = performance.now();
      process.kill(pids.primary, 'SIGKILL');
    } else console.error(`failover ${i + 1}: never protected:\n${child.err()}`);
    await child.exited;
    if (!Number.isNaN(gap)) gaps.push(round(gap, 1));
    rmSync(w.dir, { recursive: true, force: true });
  }
  return gaps;
}

/** Log bytes per second of guest run time, from `x86ft record`. */
function logBandwidth(elf: string, cmdline: string, disk: boolean): { bytes: number; seconds: number; bytesPerSecond: number; bitsPerSecond: number } {
  const w = workDir('bench-log');
  const log = join(w.dir, 'run.log');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'record', elf, '--log', log, '--cmdline', cmdline, '--no-input', ...(disk ? ['--disk', w.disk] : [])], { stdio: 'ignore' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`record ${elf} failed (${r.status})`);
  const bytes = statSync(log).size;
  rmSync(w.dir, { recursive: true, force: true });
  return { bytes, seconds: round(seconds), bytesPerSecond: Math.round(bytes / seconds), bitsPerSecond: Math.round((bytes * 8) / seconds) };
}

function rssKb(pid: number): number {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN); } catch { return NaN; }
}

/** RSS of the primary before and while its secondary is SIGSTOPped for `stallMs` (failure timeout longer than that). */
async function stalledSecondaryMemory(elf: string, stallMs = 5000): Promise<{ rssBeforeKb: number; rssMaxKb: number; stallMs: number }> {
  const w = workDir('bench-stall');
  const child = protect(w, elf, '200 1500', ['--failure-timeout-ms', String(stallMs * 4)]);
  child.stdout!.resume();
  const pids = await waitProtected(w.control, child);
  let before = NaN, max = NaN;
  if (pids) {
    await sleep(1000);
    before = rssKb(pids.primary);
    process.kill(pids.secondary, 'SIGSTOP');
    const end = performance.now() + stallMs;
    max = before;
    while (performance.now() < end) { const r = rssKb(pids.primary); if (r > max) max = r; await sleep(100); }
    process.kill(pids.secondary, 'SIGCONT');
  }
  child.kill('SIGTERM');
  await child.exited;
  rmSync(w.dir, { recursive: true, force: true });
  return { rssBeforeKb: before, rssMaxKb: max, stallMs };
}

/** X86FT_BENCH_FT_ONLY=name[,name…]: only these parts (release, log, failover, speed, steady, stall). */
const ONLY = envValue('X86FT_BENCH_FT_ONLY')?.split(',');
const want = (part: string): boolean => !ONLY || ONLY.includes(part);

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  pinSelf();
  const demo = guest('ft_demo'), idle = guest('dev_idle');
  const out: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, pin: PIN ?? null, loadAverageBefore: (await import('node:os')).loadavg() };
  if (want('release')) {
    out.releaseLatency = await releaseLatency(demo);
    console.log('release latency (console byte produced -> released):', out.releaseLatency);
  }
  if (want('log')) {
    out.logIdle = logBandwidth(idle, '10 100', false);
    console.log('log bandwidth, idle guest (dev_idle, 100 Hz):', out.logIdle);
    out.logBusy = logBandwidth(demo, '24 3000', true);
    console.log('log bandwidth, busy guest (ft_demo):', out.logBusy);
  }
  if (want('failover')) {
    const gaps = await failoverGap(demo);
    out.failoverGap = { ms: gaps, medianMs: median(gaps), p99Ms: pct(gaps, 0.99), failureTimeoutMs: DEFAULT_FT_OPTIONS.failureTimeoutMs };
    console.log(`failover gap (SIGKILL of P -> next output), ms: ${gaps.join(' ')}; median ${median(gaps)} (failure timeout ${DEFAULT_FT_OPTIONS.failureTimeoutMs})`);
  }
  if (want('speed')) {
    out.guestSpeed = await guestSpeed(demo, '16 3000');
    console.log('guest speed under protection (guest MIPS, protected / plain):', out.guestSpeed);
  }
  if (want('steady')) {
    out.guestSpeedSteady = await guestSpeed(demo, '16 30000');
    console.log('guest speed under protection, a 10x longer run (guest MIPS, protected / plain):', out.guestSpeedSteady);
  }
  if (want('stall')) {
    out.stalledSecondary = await stalledSecondaryMemory(demo);
    console.log('primary RSS with the secondary stalled:', out.stalledSecondary);
  }
  out.loadAverage = (await import('node:os')).loadavg();
  console.log('load average (1, 5, 15 min) before:', (out.loadAverageBefore as number[]).map((x) => x.toFixed(1)).join(' '), 'after:', (out.loadAverage as number[]).map((x) => x.toFixed(1)).join(' '));
  writeFileSync(join(resultsDir, ONLY ? 'ft-partial.json' : 'ft.json'), JSON.stringify(out, null, 2) + '\n');
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
