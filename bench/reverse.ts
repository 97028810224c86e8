// What reverse execution over a replay costs (README "Debugging with gdb"): records a long run of the
// mixed-O0 guest (INSNS instructions, default 300M), then on a ReplayTimeline (src/debug/timeline.ts,
// checkpoints every EVERY instructions, default 10M) measures the first pass to the end of the history,
// the checkpoints' memory, a reverse-continue to a breakpoint hit only at the start (the whole history
// scanned backwards: the worst case), the same for a watchpoint whose last hit is at the start, a
// reverse-continue to the last hit 5M instructions back and reverse-stepi. Writes bench/results/reverse.json. `npm run bench:reverse`.

import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplayTimeline } from '../src/debug/timeline.js';
import { openFileSource } from '../src/replay/channel-file.js';
import { Hooks } from '../src/cpu/hooks.js';

const INSNS = Number(process.env.INSNS ?? 300_000_000);
const EVERY = Number(process.env.EVERY ?? 10_000_000);
const GUEST = 'guests/build/mixed-O0.elf';
const sym = (s: string) => parseInt(execFileSync('nm', [GUEST], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${s}`))!.split(' ')[0]!, 16);
const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
/** CPU seconds of this process since `c0` (the machine is shared: wall time depends on the load). */
const cpuSecs = (c0: NodeJS.CpuUsage) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; };

const dir = mkdtempSync(join(tmpdir(), 'x86ft-reverse-bench-'));
const log = join(dir, 'mixed.log');
let t0 = process.hrtime.bigint();
const rec = spawnSync(process.execPath, ['dist/src/cli/main.js', 'record', GUEST, '--log', log, '--max-instructions', String(INSNS), '--cmdline', 'mixed 100'], { encoding: 'utf8' });
if (rec.status !== 124) throw new Error(`record: status ${rec.status}: ${rec.stderr}`);
const recordS = secs(t0);

const tl = await ReplayTimeline.open(openFileSource(log), { image: new Uint8Array(readFileSync(GUEST)), checkpointEvery: EVERY });
const sig = { aborted: false };
const hooks = new Hooks();
t0 = process.hrtime.bigint();
let c0 = process.cpuUsage();
let s = await tl.forward(null, false, sig);
const firstPassS = secs(t0), firstPassCpuS = cpuSecs(c0);
if (s.kind !== 'end' || tl.machine.cpu.icount !== INSNS) throw new Error(`first pass: ${s.kind} at ${tl.machine.cpu.icount}`);
const st = tl.checkpointStats;

// worst case: the only hit is main's first instruction, near the start
hooks.breakpoints.add(sym('main'));
t0 = process.hrtime.bigint();
c0 = process.cpuUsage();
s = await tl.continueBack(hooks, sig);
const wholeS = secs(t0), wholeCpuS = cpuSecs(c0);
if (s.kind !== 'debug' || tl.machine.cpu.rip !== sym('main')) throw new Error(`reverse-continue to main: ${s.kind} at ${tl.machine.cpu.icount}`);
hooks.breakpoints.clear();
s = await tl.forward(null, false, sig);

// a watchpoint whose last hit is far back: heap_top is written at the start (crt0 clears .bss) and never
// again, so every stretch is re-executed with the watched range observed (the worst case for watchpoints)
const watch = new Hooks();
watch.add({ kind: 'mem-write', begin: sym('heap_top'), end: sym('heap_top') + 8, fn: () => watch.stopAfter() });
t0 = process.hrtime.bigint();
c0 = process.cpuUsage();
s = await tl.continueBack(watch, sig);
const watchS = secs(t0), watchCpuS = cpuSecs(c0);
const watchAt = tl.machine.cpu.icount;
if (s.kind !== 'debug' || s.reason.kind !== 'watch') throw new Error(`reverse-continue to the write of heap_top: ${s.kind} at ${watchAt}`);
s = await tl.forward(null, false, sig);

// usual case: the last hit lies NEAR instructions back (a code hook stops at that count, as a breakpoint would)
const NEAR = 5_000_000;
const near = new Hooks();
// (once: the scan resumes from where a hook stopped it, and a code hook that stopped there again would stop it
// for ever — an earlier version of this bench did, which is why its 300M run never finished)
let nearStopped = false;
near.add({ kind: 'code', begin: -(2 ** 53), end: 2 ** 53, fn: (c) => { if (c.icount === INSNS - NEAR && !nearStopped) { nearStopped = true; near.stopBefore(); } } });
t0 = process.hrtime.bigint();
c0 = process.cpuUsage();
s = await tl.continueBack(near, sig);
const nearS = secs(t0), nearCpuS = cpuSecs(c0);
const nearAt = tl.machine.cpu.icount;
if (s.kind !== 'debug' || nearAt !== INSNS - NEAR) throw new Error(`reverse-continue ${NEAR} back: ${s.kind} at ${nearAt}`);

t0 = process.hrtime.bigint();
c0 = process.cpuUsage();
const steps = 20;
for (let k = 0; k < steps; k++) await tl.stepBack(sig);
const stepS = secs(t0) / steps, stepCpuS = cpuSecs(c0) / steps;

const result = {
  guest: GUEST, instructions: INSNS, checkpointEvery: EVERY, recordS, firstPassS, firstPassCpuS,
  firstPassMipsCpu: INSNS / firstPassCpuS / 1e6, loadAverage: (await import('node:os')).loadavg()[0],
  checkpoints: st.count, checkpointRamMiB: st.ramBytes / 1048576, machineRamMiB: tl.machine.mem.size / 1048576,
  reverseContinueWholeHistoryS: wholeS, reverseContinueWholeCpuS: wholeCpuS, reverseContinueWholeMipsCpu: INSNS / wholeCpuS / 1e6,
  reverseContinueWatchWholeS: watchS, reverseContinueWatchWholeCpuS: watchCpuS, reverseContinueWatchStoppedAt: watchAt,
  reverseContinueNearS: nearS, reverseContinueNearCpuS: nearCpuS, reverseContinueNearDistance: INSNS - nearAt,
  reverseStepiS: stepS, reverseStepiCpuS: stepCpuS,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/reverse.json', JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
