// `npm run bench` (also alone: `node dist/bench/coremark.js`): CoreMark (EEMBC) iterations per second
// under `x86ft run`, `x86ft record` and `x86ft replay` (real CLI processes), under the v86 peer, and
// natively, all in this one run, as ratios to the native build; every run's CRCs must equal the native
// build's for the same iteration count. Results in bench/results/coremark.json.
//
// Figures (all guests run CoreMark's 2K performance run, seeds 0 0 0x66, gcc -O2):
// - steady: start-up and warm-up cancelled by timing a long and a short run: (NL - NS) / (tL - tS).
//   x86ft run/record and native: t = CoreMark's own timed region, from the guest's TSC (x86ft: ns of
//   guest time = host monotonic time under run/record); replay: its TSC replays the recorded values,
//   so t = the replay process's wall time; v86: the host's time between the kernel's marks.
//   Each also per CPU-second (child processes' CPU time from /proc/self/stat).
// - cold: CoreMark's own score of a 300-iteration run (includes compiling the hot code).
// - record vs run, replay vs record: medians of K alternating (run, record, replay) triples of
//   300-iteration runs, by process CPU time (the machine is shared: wall time mostly shows its load),
//   with their spread; the wall-time ratios are printed beside them.
// Exit status: 0; 1 when a figure could not be measured (v86 not installed: the rest is still printed),
// a run failed or a CRC differed from the native build's.
// Environment: X86FT_COREMARK_PAIRS (K, default 9), X86FT_COREMARK_LONG / _SHORT (x86ft iterations,
// default 1100 / 100), X86FT_COREMARK_V86=0 skips v86.
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envFlag, envInt } from '../src/env.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runV86 } from './coremark-v86.js';

const root = new URL('../../', import.meta.url).pathname;
const build = join(root, 'guests/build');
const resultsDir = join(root, 'bench/results');
const cli = join(root, 'dist/src/cli/main.js');
const ELF = join(build, 'coremark-O2.elf'), NATIVE = join(build, 'coremark-native'), MB32 = join(build, 'coremark-mb32.elf');

const PAIRS = envInt('X86FT_COREMARK_PAIRS');
const XL = envInt('X86FT_COREMARK_LONG'), XS = envInt('X86FT_COREMARK_SHORT');
const COLD = 300;
const NL = 30_000, NS = 3_000; // native
const VL = 3_000, VS = 300; // v86
const SEEDS = '0x0 0x0 0x66';

/** CoreMark's verification lines (seed CRC, list/matrix/state CRCs, final CRC). */
function crcs(out: string): string {
  const lines = out.split('\n').filter((l) => /^(seedcrc|\[0\]crc(list|matrix|state|final))\s*:/.test(l));
  if (lines.length !== 5) throw new Error(`CoreMark output lacks its CRC lines:\n${out}`);
  return lines.join('\n');
}
function field(out: string, name: string): number {
  const m = new RegExp(`^${name}\\s*:\\s*([0-9.]+)`, 'm').exec(out);
  if (!m) throw new Error(`CoreMark output lacks '${name}':\n${out}`);
  return Number(m[1]);
}

/** CPU seconds of this process's waited-for children (cutime + cstime, clock ticks of 1/100 s). */
function childCpu(): number {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

interface Run { n: number; out: string; ticksS: number; score: number; wallS: number; cpuS: number }

function spawnRun(cmd: string, args: string[], n: number, outOn: 'stdout' | 'stderr', wantStatus = 0): Run {
  const c0 = childCpu(), t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const wallS = (performance.now() - t0) / 1000, cpuS = childCpu() - c0;
  const out = outOn === 'stdout' ? r.stdout : r.stderr;
  if (r.status !== wantStatus) throw new Error(`${[cmd, ...args].join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const ticks = field(out, 'Total ticks');
  return { n, out, ticksS: ticks / 1e9, score: n / (ticks / 1e9), wallS, cpuS };
}

const native = (n: number) => spawnRun(NATIVE, [...SEEDS.split(' '), String(n)], n, 'stdout');
const cmdline = (n: number) => `${SEEDS} ${n}`;
const xrun = (n: number) => spawnRun(process.execPath, [cli, 'run', ELF, '--no-input', '--cmdline', cmdline(n)], n, 'stdout');
const xrecord = (n: number, log: string) => spawnRun(process.execPath, [cli, 'record', ELF, '--no-input', '--log', log, '--cmdline', cmdline(n)], n, 'stdout');
const xreplay = (n: number, log: string) => spawnRun(process.execPath, [cli, 'replay', log, '--image', ELF], n, 'stderr');

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

interface Figure { mode: string; steady: number; steadyPerCpuS: number; cold: number | null; vsNative: number }

async function main(): Promise<void> {
  for (const f of [ELF, NATIVE, MB32]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: the CoreMark guests are built only when CoreMark's sources are in ../shared/coremark (guests/Makefile COREMARK_DIR); run 'npm run build'`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'x86ft-coremark-'));
  const crcWant = new Map<number, string>();
  const check = (what: string, r: { n: number; out: string }) => {
    let want = crcWant.get(r.n);
    if (want === undefined) { want = crcs(native(r.n).out); crcWant.set(r.n, want); }
    const got = crcs(r.out);
    if (got !== want) throw new Error(`${what} (${r.n} iterations): CRCs differ from the native build's\nnative:\n${want}\ngot:\n${got}`);
  };
  try {
    console.log(`CoreMark: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on this machine`);
    // native: best of 3 of each length (the reference is the machine's speed, not its load)
    const nl = [native(NL), native(NL), native(NL)], ns = [native(NS), native(NS), native(NS)];
    for (const r of [...nl, ...ns]) check('native', r);
    const nlt = Math.min(...nl.map((r) => r.ticksS)), nst = Math.min(...ns.map((r) => r.ticksS));
    const nativeSteady = (NL - NS) / (nlt - nst);
    const nativeCpu = (NL - NS) / Math.max(0.01, median(nl.map((r) => r.cpuS)) - median(ns.map((r) => r.cpuS)));
    console.log(`  native: ${nativeSteady.toFixed(0)} it/s`);

    const figures: Figure[] = [{ mode: 'native', steady: nativeSteady, steadyPerCpuS: nativeCpu, cold: null, vsNative: 1 }];
    // x86ft steady state: short and long runs under each mode
    const logS = join(tmp, 's.log'), logL = join(tmp, 'l.log');
    const runS = xrun(XS), runL = xrun(XL);
    const recS = xrecord(XS, logS), recL = xrecord(XL, logL);
    const repS = xreplay(XS, logS), repL = xreplay(XL, logL);
    for (const [w, r] of [['run', runS], ['run', runL], ['record', recS], ['record', recL], ['replay', repS], ['replay', repL]] as const) check(`x86ft ${w}`, r);
    const steady = (s: Run, l: Run, byWall: boolean) => (XL - XS) / (byWall ? l.wallS - s.wallS : l.ticksS - s.ticksS);
    const perCpu = (s: Run, l: Run) => (XL - XS) / (l.cpuS - s.cpuS);

    // alternating triples for the overheads and the cold score
    const trip: { run: Run; rec: Run; rep: Run }[] = [];
    for (let k = 0; k < PAIRS; k++) {
      const log = join(tmp, `p${k}.log`);
      const run = xrun(COLD), rec = xrecord(COLD, log), rep = xreplay(COLD, log);
      for (const r of [run, rec, rep]) check('x86ft', r);
      trip.push({ run, rec, rep });
    }
    const coldRun = median(trip.map((t) => t.run.score)), coldRec = median(trip.map((t) => t.rec.score));
    const coldRep = median(trip.map((t) => COLD / t.rep.wallS)); // whole process: the replayed TSC is the recording's
    const add = (mode: string, st: number, cpu: number, cold: number | null) => {
      figures.push({ mode, steady: st, steadyPerCpuS: cpu, cold, vsNative: st / nativeSteady });
    };
    add('x86ft run', steady(runS, runL, false), perCpu(runS, runL), coldRun);
    add('x86ft record', steady(recS, recL, false), perCpu(recS, recL), coldRec);
    add('x86ft replay', steady(repS, repL, true), perCpu(repS, repL), coldRep);

    // v86, same run
    let v86: Figure | null = null;
    let v86Missing = '';
    if (envFlag('X86FT_COREMARK_V86')) {
      // v86 not installed is reported, not fatal: the x86ft figures above stand on their own
      const vs = await runV86(MB32, `${SEEDS} ${VS}`).catch((e: unknown) => { v86Missing = e instanceof Error ? e.message : String(e); return null; });
      const vl = vs === null ? null : await runV86(MB32, `${SEEDS} ${VL}`);
      if (vs !== null && vl !== null) {
        check('v86', { n: VS, out: vs.output }); check('v86', { n: VL, out: vl.output });
        v86 = { mode: 'v86 (wasm JIT)', steady: (VL - VS) / (vl.timedS - vs.timedS), steadyPerCpuS: (VL - VS) / (vl.cpuS - vs.cpuS), cold: VS / vs.timedS, vsNative: 0 };
        v86.vsNative = v86.steady / nativeSteady;
        figures.push(v86);
      }
    }

    const ratio = (f: (t: { run: Run; rec: Run; rep: Run }) => number) => {
      const r = trip.map(f);
      return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
    };
    const recVsRun = ratio((t) => t.rec.cpuS / t.run.cpuS);
    const repVsRec = ratio((t) => t.rep.cpuS / t.rec.cpuS);
    const recVsRunWall = ratio((t) => t.rec.wallS / t.run.wallS);
    const repVsRecWall = ratio((t) => t.rep.wallS / t.rec.wallS);

    console.log(`\nCoreMark iterations/s (steady: ${XL} - ${XS} iterations; cold: CoreMark's score of a ${COLD}-iteration run; native ${NL} - ${NS}; v86 ${VL} - ${VS})`);
    // wall-clock figures follow the machine's load; per CPU-second figures much less so
    const frac = (x: number) => (x >= 1 ? '1' : `1/${(1 / x).toFixed(1)}`);
    console.log(`  ${'mode'.padEnd(16)} ${'steady'.padStart(9)} ${'vs native'.padStart(10)} ${'per CPU-s'.padStart(10)} ${'vs native'.padStart(10)} ${'cold'.padStart(8)}`);
    for (const f of figures) {
      console.log(`  ${f.mode.padEnd(16)} ${f.steady.toFixed(1).padStart(9)} ${frac(f.vsNative).padStart(10)} ${f.steadyPerCpuS.toFixed(1).padStart(10)} ${frac(f.steadyPerCpuS / nativeCpu).padStart(10)} ${(f.cold === null ? '-' : f.cold.toFixed(1)).padStart(8)}`);
    }
    const xr = figures.find((f) => f.mode === 'x86ft run')!;
    if (v86Missing) { console.log(`  v86: not measured: ${v86Missing}`); process.exitCode = 1; }
    if (v86) console.log(`  x86ft run / v86: ${(xr.steady / v86.steady).toFixed(3)} (steady), ${(xr.steadyPerCpuS / v86.steadyPerCpuS).toFixed(3)} (per CPU-second)`);
    console.log(`  cold/steady (x86ft run): ${((xr.cold ?? 0) / xr.steady).toFixed(2)}`);
    const pct = (x: number) => `${((x - 1) * 100).toFixed(1)}%`;
    console.log(`  record vs run (CPU time, ${PAIRS} alternating ${COLD}-iteration triples): median ${pct(recVsRun.median)} (spread ${pct(recVsRun.min)} .. ${pct(recVsRun.max)}); wall time ${pct(recVsRunWall.median)} (${pct(recVsRunWall.min)} .. ${pct(recVsRunWall.max)})`);
    console.log(`  replay vs record (CPU time): median ${pct(repVsRec.median)} (spread ${pct(repVsRec.min)} .. ${pct(repVsRec.max)}); wall time ${pct(repVsRecWall.median)} (${pct(repVsRecWall.min)} .. ${pct(repVsRecWall.max)})`);
    console.log('  CRCs: every run equal to the native build\'s for the same iteration count');

    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'coremark.json'), JSON.stringify({
      date: new Date().toISOString(), node: process.version, loadavg: loadavg(), iterations: { long: XL, short: XS, cold: COLD, native: [NL, NS], v86: [VL, VS] },
      figures, recordVsRun: recVsRun, replayVsRecord: repVsRec, recordVsRunWall: recVsRunWall, replayVsRecordWall: repVsRecWall, pairs: PAIRS,
    }, null, 2) + '\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => { console.error(`coremark bench: ${e instanceof Error ? e.message : String(e)}`); process.exitCode = 1; });
