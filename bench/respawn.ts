// Respawn costs (`npm run bench:respawn`, part of `npm run bench`): what a primary does while its guest
// is paused at the snapshot point M of a joining secondary (FT.md "Redundancy restored"), for 16 MiB
// and 64 MiB guests whose whole memory is in use (random bytes: the worst case for the snapshot's size):
// - whole snapshot (what FtPrimary.join did before the pre-copy): takeSnapshot (registers, devices,
//   every non-zero page) and the SHA-256 of the bytes sent, both inside the pause; on the secondary,
//   restoring the machine from the received bytes (before it can ack M);
// - pre-copy (FtPrimary.join now, src/replay/precopy.ts): the guest ft_dirty rewrites 6 MiB of RAM (a
//   word in each page, every 16th page whole) while RAM is pre-copied in rounds, PRECOPY_BATCH_PAGES sent (or PRECOPY_LOOK_PAGES looked at)
//   pages between two run slices of SLICE instructions (a digest every other slice, as the recorder
//   takes the dirty set); rounds go on until at most 256 pages are left; then the pause at M: PreCopy.finish (the pages changed since the last round,
//   hashed and copied, the machine state, the identity). On the secondary: verify (every page hashed)
//   and restore.
// Medians of X86FT_BENCH_RESPAWN_RUNS (5) runs; wall time, and CPU time of the pause (a loaded machine
// stretches wall time).
// End to end (X86FT_BENCH_RESPAWN_KILLS kills, default 5; 0 skips it; X86FT_BENCH_RESPAWN_HOST_ARGS adds agent options;
// X86FT_BENCH_RESPAWN_MEMS the VM sizes in MiB, default 16,64; X86FT_BENCH_RESPAWN_GUEST=busy a CPU-busy guest):
// three real host agents, ft_demo in a
// VM of each size, the primary's host killed (kill -9 of its process group) at guest progress, K times; each agent's
// stderr lines are time-stamped as they arrive, which splits the time from the kill to `protected` again into
// failure detection, go-live, placement (the agent's spawn), the new secondary's start up to its connection,
// the pre-copy and the snapshot point M, the restore, and the ack of M; and the guest's pause at M (wall and CPU
// time, from the primary's snapshot line). Median and p99 (= max for fewer than 100 kills) of each phase.
// The load average and this process's scheduling (policy and nice value, inherited by the agents and
// their roles: run it under `chrt -r 1` or `nice -n -20` on a loaded machine) go with the results in
// bench/results/respawn.json.

import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt, envValue } from '../src/env.js';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { alive, guest } from '../test/ft/protect-harness.js';
import { ftStart, isProtected, killHost, newCluster, readBytes, restartWhenExpired, startHost, stopCluster, waitConsole, waitRecord, type Cluster, type Host } from '../test/ft/hosts-harness.js';
import { openControl, type VmRecord } from '../src/ft/control.js';
import { Machine } from '../src/machine/machine.js';
import { takeSnapshot, restoreSnapshot } from '../src/replay/machine-snapshot.js';
import { sha256Hex } from '../src/replay/recorder.js';
import { PreCopy, PreCopyImage } from '../src/replay/precopy.js';
import { OutputTally, computeDigest } from '../src/replay/digest.js';

const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;
const RUNS = envInt('X86FT_BENCH_RESPAWN_RUNS');
/** The end-to-end guest (X86FT_BENCH_RESPAWN_GUEST): ft_demo mostly idle, or CPU-busy. */
const GUEST = envValue('X86FT_BENCH_RESPAWN_GUEST') ?? 'idle';
const MiB = 1 << 20;

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

function caseFor(image: Uint8Array, mem: number): Record<string, number> {
  const m = Machine.fromElf(image, { memSize: mem * MiB, cmdline: '4 10' });
  // every page in use: random bytes above the image (the guest is not run afterwards)
  let x = 0x9e3779b9;
  const chunk = new Uint8Array(MiB);
  const dv = new DataView(chunk.buffer);
  for (let at = 2 * MiB; at < mem * MiB; at += MiB) {
    for (let i = 0; i < MiB; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; dv.setUint32(i, x >>> 0, true); }
    m.mem.write(at, chunk);
  }
  const meta = { imageSha256: sha256Hex(image) };
  const take: number[] = [], takeCpu: number[] = [], hash: number[] = [], restore: number[] = [];
  let bytes = 0;
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const c0 = process.cpuUsage();
    const s = takeSnapshot(m, meta);
    take.push(performance.now() - t);
    const c1 = process.cpuUsage(c0);
    takeCpu.push((c1.user + c1.system) / 1000);
    bytes = s.bytes.length;
    t = performance.now();
    createHash('sha256').update(s.bytes).digest();
    hash.push(performance.now() - t);
    t = performance.now();
    restoreSnapshot(s.bytes, {}, { expectHash: s.hash });
    restore.push(performance.now() - t);
  }
  return {
    memoryMiB: mem, snapshotMiB: round(bytes / MiB), takeSnapshotMs: round(median(take)), takeSnapshotCpuMs: round(median(takeCpu)), sha256Ms: round(median(hash)),
    pauseMs: round(median(take) + median(hash)), restoreMs: round(median(restore)),
  };
}

/** Instructions the guest runs between two pre-copy batches. */
const SLICE = 200_000;

async function precopyCase(image: Uint8Array, mem: number): Promise<Record<string, number>> {
  const pause: number[] = [], pauseCpu: number[] = [], atM: number[] = [], rounds: number[] = [], sent: number[] = [], verify: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const m = Machine.fromElf(image, { memSize: mem * MiB, cmdline: '1000000 6144' });
    // every page in use: random bytes above ft_dirty's own memory (its 6 MiB area, heap and stack lie below 16 MiB)
    let x = 0x9e3779b9 + r;
    const chunk = new Uint8Array(MiB), dv = new DataView(chunk.buffer);
    for (let at = 16 * MiB; at < mem * MiB; at += MiB) {
      for (let i = 0; i < MiB; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; dv.setUint32(i, x >>> 0, true); }
      m.mem.write(at, chunk);
    }
    m.run(2_000_000);
    const tally = new OutputTally(), img = new PreCopyImage(mem * MiB);
    const put = (off: number, b: Uint8Array): void => { img.put(off, b); };
    const pc = new PreCopy(m);
    let slices = 0;
    const between = async (): Promise<void> => { m.run(m.cpu.icount + SLICE); if (++slices % 2 === 0) computeDigest(m, tally); };
    let n = 0;
    for (let k = 0; k < 6; k++) { n++; if ((await pc.round(put, between)) <= 64) break; }
    // as FtPrimary.join: rounds go on until a digest point with at most 256 pages left for the pause
    // (here: checked after each round), at most 50 times
    for (let k = 0; k < 50; k++) { computeDigest(m, tally); if (pc.pending() <= 256) break; n++; await pc.round(put, between); }
    const t = performance.now(), c0 = process.cpuUsage();
    const point = pc.finish({ imageSha256: 'bench' }, tally, put);
    pause.push(performance.now() - t);
    const c1 = process.cpuUsage(c0);
    pauseCpu.push((c1.user + c1.system) / 1000);
    atM.push(point.pages); rounds.push(n); sent.push(pc.stats.pagesSent);
    const v = performance.now();
    img.verify(point.bytes, point.hash);
    img.restore({}, point.hash);
    verify.push(performance.now() - v);
  }
  return { memoryMiB: mem, precopiedMiB: round(median(sent) * 4096 / MiB), rounds: median(rounds), pagesAtM: median(atM), pauseMs: round(median(pause)), pauseCpuMs: round(median(pauseCpu)), verifyAndRestoreMs: round(median(verify)) };
}

/** Phases of a re-protection, each ending at the first line (after the kill) that matches, in this order. */
const PHASES: Array<[string, RegExp]> = [
  ['detected', /x86ft ft secondary: primary failed \(/], // the secondary saw the failure and claims
  ['live', /live at instruction \d+ as generation/], // go-live done: the survivor runs the guest alone
  ['spawned', /started the secondary of '\w+' .* as pid/], // an agent took the spawn request and started a process
  ['placed', /secondary placed on host/], // the primary saw the agent's decision
  ['connected', /x86ft ft primary: peer up: /], // the new secondary's channel is up (node start, modules, control plane)
  ['snapshot', /snapshot at instruction \d+.* sent to the secondary/], // pre-copy done, the snapshot point M came; the state is queued
  ['restored', /joined from a snapshot at instruction/], // the secondary has the whole snapshot and restored it
  ['acked', /past the snapshot point \d+: protecting the guest/], // the secondary acked a sync mark >= M
  ['protected', /redundancy restored: /], // the secondary acked M
];

interface Line { at: number; text: string }

/** Every stderr line of `h`, stamped with its arrival time. */
function stampLines(h: Host, into: Line[]): void {
  let partial = '';
  h.child.stderr!.on('data', (b: Buffer) => {
    const now = Date.now();
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) into.push({ at: now, text });
  });
}

async function endToEnd(elf: string, kills: number, memMiB: number): Promise<Record<string, unknown>> {
  const lines: Line[] = [];
  const c: Cluster = newCluster('bench-respawn');
  const cp = await openControl(c.spec);
  const runs: Array<Record<string, number>> = [];
  // X86FT_BENCH_RESPAWN_HOST_ARGS: extra `x86ft host` options (e.g. --no-spare, to compare)
  const hostArgs = (envValue('X86FT_BENCH_RESPAWN_HOST_ARGS') ?? '').split(' ').filter((a) => a !== '');
  const start = (id: string): void => stampLines(startHost(c, id, hostArgs), lines);
  try {
    for (const id of ['h1', 'h2', 'h3']) start(id);
    // idle: 40 lines of ~280k instructions and 100 ms of guest idle time per kill; busy: 30 lines of 3000 work units
    // (~15x as many instructions) and 300 ms idle per kill (the README-only trial's CPU-busy guest, '30 3000 300'):
    // either outlives the run however fast the machine
    const cmdline = GUEST === 'busy' ? `${30 * (kills + 1)} 3000 300` : `${40 * (kills + 1)} 200 100`;
    const st = await ftStart(c, elf, 'b', cmdline, ['--mem', `${memMiB}M`]);
    if (st.status !== 0) throw new Error(`ft start failed (${st.status}): ${st.stderr}`);
    let rec: VmRecord = await waitRecord(cp, 'b', (r) => isProtected(r) || r.state === 'ended', 120_000, 'protected');
    for (let k = 1; k <= kills; k++) {
      if (rec.state === 'ended' || !(await waitConsole(c, cp, 'b', readBytes(c.consoleFile).length + 1))) throw new Error(`the guest ended before kill ${k}`);
      const victim = c.hosts.get(rec.primary!.host)!;
      const from = lines.length;
      const t0 = Date.now();
      killHost(victim);
      await victim.exited;
      const again = await waitRecord(cp, 'b', (r) => r.state === 'ended' || (r.generation > rec.generation && isProtected(r) && r.primary!.host !== victim.id && r.secondary!.host !== victim.id && alive(r.secondary!.pid)), 120_000, `protected again after kill ${k}`);
      if (again.state === 'ended') throw new Error(`the guest ended before it was protected again after kill ${k}`);
      // the last lines reach the pipe: the new secondary's 'joined' line may come after the primary's 'protected' (its
      // channel thread acks M on receipt); bounded, as a line of a build without it
      for (const end = Date.now() + 10_000; Date.now() < end && PHASES.some(([name, re]) => name !== 'acked' && name !== 'placed' && !lines.slice(from).some((l) => re.test(l.text)));) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 200));
      const run: Record<string, number> = {};
      // the first line of each after the kill (lines of different processes may arrive in either order)
      for (const [name, re] of PHASES) {
        const i = lines.findIndex((l, n) => n >= from && re.test(l.text));
        // (acked: a build before this message; placed: not said when the secondary connected first, from a warm spare)
        if (i < 0 && (name === 'acked' || name === 'placed')) continue;
        if (i < 0) throw new Error(`kill ${k}: no line for '${name}' (${re}):\n${lines.slice(from).map((l) => `${l.at - t0} ${l.text}`).join('\n')}`);
        run[name] = lines[i]!.at - t0;
      }
      const pause = lines.slice(from).map((l) => /snapshot at instruction \d+.* guest paused ([\d.]+) ms \(([\d.]+) ms of CPU\)/.exec(l.text)).find((x) => x);
      if (pause) { run.pauseMs = Number(pause[1]); run.pauseCpuMs = Number(pause[2]); }
      const respawnLog = envValue('X86FT_BENCH_RESPAWN_LOG');
      if (respawnLog) appendFileSync(respawnLog, `kill ${k}\n${lines.slice(from).map((l) => `${l.at - t0} ${l.text}`).join('\n')}\n`);
      runs.push(run);
      process.stdout.write(`kill ${k}: ${PHASES.filter(([n]) => run[n] !== undefined).map(([n]) => `${n} ${run[n]}`).join(', ')} ms after the kill\n`);
      // the killed host comes back and registers before the next kill (a free host for the next respawn)
      const back = lines.length;
      stampLines(await restartWhenExpired(c, cp, victim.id, hostArgs), lines);
      // (as a host back long before the next failure: registered, and with its warm spare unless --no-spare)
      const ready = hostArgs.includes('--no-spare') ? new RegExp(`x86ft host ${victim.id}: registered`) : new RegExp(`x86ft host ${victim.id}: warm spare pid \\d+ ready`);
      while (!lines.slice(back).some((l) => ready.test(l.text))) await new Promise((r) => setTimeout(r, 50));
      rec = again;
    }
  } finally {
    await cp.close();
    await stopCluster(c);
    rmSync(c.dir, { recursive: true, force: true });
  }
  const q = (v: number[], p: number): number => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]!;
  const phases: Record<string, { medianMs: number; p99Ms: number }> = {};
  let prev = '';
  for (const [name] of PHASES) {
    if (runs.some((r) => r[name] === undefined)) continue;
    const d = runs.map((r) => r[name]! - (prev ? r[prev]! : 0));
    phases[prev ? `${prev}->${name}` : `kill->${name}`] = { medianMs: q(d, 0.5), p99Ms: q(d, 0.99) };
    prev = name;
  }
  const fromLive = runs.map((r) => r.protected! - r.live!);
  const fromKill = runs.map((r) => r.protected!);
  const pauses = runs.filter((r) => r.pauseMs !== undefined);
  const pause = pauses.length ? { medianMs: q(pauses.map((r) => r.pauseMs!), 0.5), p99Ms: q(pauses.map((r) => r.pauseMs!), 0.99), cpuMedianMs: q(pauses.map((r) => r.pauseCpuMs!), 0.5), cpuP99Ms: q(pauses.map((r) => r.pauseCpuMs!), 0.99) } : null;
  return { memoryMiB: memMiB, guest: GUEST, kills, phases, liveToProtected: { medianMs: q(fromLive, 0.5), p99Ms: q(fromLive, 0.99) }, killToProtected: { medianMs: q(fromKill, 0.5), p99Ms: q(fromKill, 0.99) }, pauseAtM: pause, runs };
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  const image = new Uint8Array(readFileSync(guest('ft_demo')));
  const cases = [16, 64].map((mem) => caseFor(image, mem));
  for (const c of cases) {
    process.stdout.write(`respawn ${c.memoryMiB} MiB guest, whole snapshot: ${c.snapshotMiB} MiB, guest paused ${c.pauseMs} ms (takeSnapshot ${c.takeSnapshotMs} ms, ${c.takeSnapshotCpuMs} ms of CPU, + SHA-256 ${c.sha256Ms} ms); restore on the secondary ${c.restoreMs} ms\n`);
  }
  const dirty = new Uint8Array(readFileSync(guest('ft_dirty')));
  const precopy: Record<string, number>[] = [];
  for (const mem of [16, 64]) precopy.push(await precopyCase(dirty, mem));
  for (const c of precopy) {
    process.stdout.write(`respawn ${c.memoryMiB} MiB guest, pre-copy (ft_dirty rewriting 6 MiB): ${c.precopiedMiB} MiB sent in ${c.rounds} rounds, ${c.pagesAtM} pages at M, guest paused ${c.pauseMs} ms (${c.pauseCpuMs} ms of CPU); verify and restore on the secondary ${c.verifyAndRestoreMs} ms\n`);
  }
  const kills = envInt('X86FT_BENCH_RESPAWN_KILLS');
  const mems = (envValue('X86FT_BENCH_RESPAWN_MEMS') ?? '16,64').split(',').map(Number);
  const endToEndResult: Record<string, unknown>[] = [];
  for (const mem of kills > 0 ? mems : []) {
    const e = await endToEnd(guest('ft_demo'), kills, mem);
    endToEndResult.push(e);
    const ph = e.phases as Record<string, { medianMs: number; p99Ms: number }>;
    process.stdout.write(`end to end (ft_demo ${GUEST}, ${mem} MiB VM, 3 hosts, ${kills} kills of the primary's host), median / p99 ms: ${Object.entries(ph).map(([n, v]) => `${n} ${v.medianMs} / ${v.p99Ms}`).join(', ')}\n`);
    const lp = e.liveToProtected as { medianMs: number; p99Ms: number }, kp = e.killToProtected as { medianMs: number; p99Ms: number };
    const pa = e.pauseAtM as { medianMs: number; p99Ms: number; cpuMedianMs: number; cpuP99Ms: number } | null;
    process.stdout.write(`${mem} MiB: go-live to protected again: median ${lp.medianMs} ms, p99 ${lp.p99Ms} ms; host death to protected again: median ${kp.medianMs} ms, p99 ${kp.p99Ms} ms${pa ? `; guest paused at M: median ${pa.medianMs} ms (${pa.cpuMedianMs} ms of CPU), p99 ${pa.p99Ms} ms (${pa.cpuP99Ms} ms of CPU)` : ''}\n`);
  }
  const loadEnd = loadavg()[0]!;
  const sched = scheduling();
  process.stdout.write(`(load average ${round(load, 2)} at the start, ${round(loadEnd, 2)} at the end; scheduling ${sched.policy}${sched.policy === 'normal' ? `, nice ${sched.nice}` : `, priority ${sched.rtPriority}`})\n`);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(`${resultsDir}${GUEST === 'busy' ? 'respawn-busy' : 'respawn'}.json`, JSON.stringify({ loadAverage: round(load, 2), loadAverageEnd: round(loadEnd, 2), scheduling: sched, runs: RUNS, cases, precopy, endToEnd: endToEndResult }, null, 2) + '\n');
}

/** This process's scheduling policy (proc(5) /proc/self/stat fields 18, 19, 40, 41: priority, nice, rt_priority, policy). */
function scheduling(): { policy: string; nice: number; rtPriority: number } {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    const policy = ['normal', 'fifo', 'rr', 'batch', 'iso', 'idle', 'deadline'][Number(f[41 - 3])] ?? `policy ${f[41 - 3]}`;
    return { policy, nice: Number(f[19 - 3]), rtPriority: Number(f[40 - 3]) };
  } catch { return { policy: 'unknown', nice: 0, rtPriority: 0 }; }
}

main().catch((e) => { process.stderr.write(`bench:respawn: ${(e as Error).message}\n`); process.exitCode = 1; });
