// `npm run bench:wasm`: the WebAssembly tier prototype (src/cpu/wasm, X86FT_WASM=1) against the JS tier
// (src/cpu/compile.ts) on CoreMark (guests/build/coremark-O2.elf), issue 14's "measure a prototype of each".
// Alternating pairs of child processes, one per tier and run length (X86FT_WASM is read once, when the CPU
// modules load); each child boots the guest in-process, runs it to its end and reports its own CPU time and
// the wasm tier's counters. Steady iterations per CPU-second = (long - short) / (CPU(long) - CPU(short)),
// medians over the pairs; the CRCs of every run must equal the native build's. Prints the load average.
// Results in bench/results/wasm-tier.json.

import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt } from '../src/env.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const ELF = join(root, 'guests/build/coremark-O2.elf'), NATIVE = join(root, 'guests/build/coremark-native');
const SEEDS = ['0x0', '0x0', '0x66'];
const PAIRS = envInt('X86FT_WASM_PAIRS'), LONG = envInt('X86FT_WASM_LONG'), SHORT = envInt('X86FT_WASM_SHORT');

interface Child { cpuS: number; icount: number; crcs: string; blocks: number; wasm: { compiled: number; rejected: number; compileMs: number; calls: number; exits: number } | null }

function crcs(out: string): string {
  const lines = out.split('\n').filter((l) => /^(seedcrc|\[0\]crc(list|matrix|state|final))\s*:/.test(l));
  if (lines.length !== 5) throw new Error(`CoreMark output lacks its CRC lines:\n${out.slice(-2000)}`);
  return lines.join('\n');
}

/** In the child: boot CoreMark for n iterations, run it to its end, print one JSON line. */
async function child(n: number): Promise<void> {
  const { Machine } = await import('../src/machine/machine.js');
  const out: number[] = [];
  const m = Machine.fromElf(readFileSync(ELF), { cmdline: `${SEEDS.join(' ')} ${n}`, memSize: 64 << 20, consoleOut: (b) => out.push(b) });
  const c0 = process.cpuUsage();
  m.run();
  const c = process.cpuUsage(c0);
  let blocks = 0;
  for (const b of m.cpu.blocks.values()) if (b.fn !== null) blocks++;
  const w = m.cpu.wasm;
  const r: Child = { cpuS: (c.user + c.system) / 1e6, icount: m.cpu.icount, crcs: crcs(Buffer.from(out).toString('latin1')), blocks, wasm: w === null ? null : { ...w.stats } };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

/**
 * In one child (X86FT_WASM=1): two CoreMark machines, one with the wasm tier and one without it (its CPU's
 * `wasm` set to null: the JS tier, same memory layout), warmed up, then alternating slices of the same number
 * of instructions; prints the CPU-time ratio wasm/JS per pair as one JSON line. Both see the machine's load
 * at the same moments, which the separate processes above do not.
 */
async function inproc(slices: number, sliceN: number, warm: number): Promise<void> {
  const { Machine } = await import('../src/machine/machine.js');
  const boot = (wasm: boolean) => {
    const m = Machine.fromElf(readFileSync(ELF), { cmdline: `${SEEDS.join(' ')} 100000`, memSize: 64 << 20, consoleOut: () => {} });
    if (!wasm) (m.cpu as { wasm: unknown }).wasm = null;
    return m;
  };
  const mw = boot(true), mj = boot(false);
  if (mw.cpu.wasm === null) throw new Error('the wasm tier is off in this child');
  mw.run(warm); mj.run(warm);
  const cpu = (f: () => void) => { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; };
  const ratios: number[] = [], js: number[] = [], wa: number[] = [];
  for (let k = 0; k < slices; k++) {
    const first = k % 2 === 0;
    let tw = 0, tj = 0;
    const to = warm + (k + 1) * sliceN; // Machine.run counts from boot
    if (first) { tw = cpu(() => mw.run(to)); tj = cpu(() => mj.run(to)); } else { tj = cpu(() => mj.run(to)); tw = cpu(() => mw.run(to)); }
    ratios.push(tw / tj); js.push(tj); wa.push(tw);
  }
  process.stdout.write(`${JSON.stringify({ ratios, js, wasm: wa, stats: mw.cpu.wasm.stats })}\n`);
}

function spawnChild(wasm: boolean, n: number): Child {
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', String(n)], {
    encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, X86FT_WASM: wasm ? '1' : '0' },
  });
  if (r.status !== 0) throw new Error(`child (${wasm ? 'wasm' : 'js'}, ${n}): exit ${r.status ?? r.signal}\n${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Child;
}

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

function main(): void {
  for (const f of [ELF, NATIVE]) if (!existsSync(f)) throw new Error(`${f} is missing: the CoreMark guests are built only when CoreMark's sources are in ../shared/coremark; run 'npm run build'`);
  const want = new Map<number, string>();
  for (const n of [SHORT, LONG]) {
    const r = spawnSync(NATIVE, [...SEEDS, String(n)], { encoding: 'utf8' });
    want.set(n, crcs(r.stdout));
  }
  const load0 = loadavg();
  console.log(`wasm tier vs JS tier on CoreMark: ${PAIRS} alternating pairs of ${LONG}- and ${SHORT}-iteration runs; load average ${load0.map((x) => x.toFixed(1)).join(' ')}`);
  const res: Record<'js' | 'wasm', { long: Child[]; short: Child[] }> = { js: { long: [], short: [] }, wasm: { long: [], short: [] } };
  for (let p = 0; p < PAIRS; p++) {
    const order: ('js' | 'wasm')[] = p % 2 === 0 ? ['js', 'wasm'] : ['wasm', 'js'];
    for (const n of [SHORT, LONG]) {
      for (const t of order) {
        const r = spawnChild(t === 'wasm', n);
        if (r.crcs !== want.get(n)) throw new Error(`${t} tier, ${n} iterations: CRCs differ from the native build's\n${r.crcs}\n${want.get(n)}`);
        (n === LONG ? res[t].long : res[t].short).push(r);
      }
    }
    process.stdout.write(`  pair ${p + 1}: js ${res.js.long[p].cpuS.toFixed(2)} s / wasm ${res.wasm.long[p].cpuS.toFixed(2)} s CPU for ${LONG} iterations\n`);
  }
  // in one process: alternating slices of the same instructions
  const ip = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--inproc'], { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, X86FT_WASM: '1' } });
  if (ip.status !== 0) throw new Error(`in-process child: exit ${ip.status ?? ip.signal}\n${ip.stderr.slice(-2000)}`);
  const inp = JSON.parse(ip.stdout.trim().split('\n').pop()!) as { ratios: number[]; js: number[]; wasm: number[] };
  const sliceN = envInt('X86FT_WASM_SLICE');
  const steady = (t: 'js' | 'wasm') => (LONG - SHORT) / (median(res[t].long.map((r) => r.cpuS)) - median(res[t].short.map((r) => r.cpuS)));
  const pairRatio = res.js.long.map((j, k) => j.cpuS / res.wasm.long[k].cpuS);
  const js = steady('js'), wasm = steady('wasm');
  const wl = res.wasm.long.map((r) => r.wasm!);
  const calls = median(wl.map((s) => s.calls)), exits = median(wl.map((s) => s.exits));
  const cpuL = median(res.wasm.long.map((r) => r.cpuS));
  const compiled = median(wl.map((s) => s.compiled)), rejected = median(wl.map((s) => s.rejected)), compileMs = median(wl.map((s) => s.compileMs));
  const icount = res.wasm.long[0].icount;
  const summary = {
    date: new Date().toISOString(), wasmRegion: envInt('X86FT_WASM_REGION'), loadavgStart: load0, loadavgEnd: loadavg(), pairs: PAIRS, long: LONG, short: SHORT,
    jsSteadyItPerCpuS: js, wasmSteadyItPerCpuS: wasm, wasmOverJs: wasm / js,
    longRunCpuRatioJsOverWasm: { median: median(pairRatio), min: Math.min(...pairRatio), max: Math.max(...pairRatio) },
    wasm: { compiled, rejected, compileMsPerBlock: compileMs / compiled, callsPerCpuS: calls / cpuL, instructionsPerCall: icount / calls, exitsPerCall: exits / calls },
    jsBlocksCompiled: median(res.js.long.map((r) => r.blocks)),
    inProcess: { slices: inp.ratios.length, sliceInstructions: sliceN, wasmOverJsCpu: { median: median(inp.ratios), min: Math.min(...inp.ratios), max: Math.max(...inp.ratios) },
      jsMips: sliceN / median(inp.js) / 1e6, wasmMips: sliceN / median(inp.wasm) / 1e6 },
  };
  console.log(`  JS tier:   ${js.toFixed(1)} iterations per CPU-second (steady)`);
  console.log(`  wasm tier: ${wasm.toFixed(1)} iterations per CPU-second (steady): ${(wasm / js).toFixed(2)}x the JS tier; long runs' CPU js/wasm per pair median ${summary.longRunCpuRatioJsOverWasm.median.toFixed(2)} (${summary.longRunCpuRatioJsOverWasm.min.toFixed(2)} .. ${summary.longRunCpuRatioJsOverWasm.max.toFixed(2)})`);
  console.log(`  wasm blocks: ${compiled} compiled (${(compileMs / compiled).toFixed(3)} ms each: generate + WebAssembly.Module + Instance), ${rejected} left to the JS tier (of ${summary.jsBlocksCompiled} hot blocks under the JS tier)`);
  console.log(`  JS -> wasm calls: ${(calls / cpuL / 1e6).toFixed(2)} M per CPU-second, ${(icount / calls).toFixed(1)} guest instructions per call, early exits ${(100 * exits / calls).toFixed(2)}% of calls`);
  const ipr = summary.inProcess;
  console.log(`  in one process (${ipr.slices} alternating slices of ${sliceN / 1e6}M instructions after 40M of warm-up): CPU wasm/JS median ${ipr.wasmOverJsCpu.median.toFixed(3)} (${ipr.wasmOverJsCpu.min.toFixed(3)} .. ${ipr.wasmOverJsCpu.max.toFixed(3)}); JS ${ipr.jsMips.toFixed(0)} MIPS, wasm ${ipr.wasmMips.toFixed(0)} MIPS (median slices)`);
  console.log(`  load average at the end ${summary.loadavgEnd.map((x) => x.toFixed(1)).join(' ')}; CRCs: every run equal to the native build's`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/wasm-tier.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

if (process.argv[2] === '--inproc') {
  inproc(envInt('X86FT_WASM_SLICES'), envInt('X86FT_WASM_SLICE'), envInt('X86FT_WASM_WARM')).catch((e: unknown) => { console.error(e instanceof Error ? e.message : String(e)); process.exitCode = 1; });
} else if (process.argv[2] === '--child') {
  child(Number(process.argv[3])).catch((e: unknown) => { console.error(e instanceof Error ? e.message : String(e)); process.exitCode = 1; });
} else {
  try { main(); } catch (e) { console.error(`wasm-tier bench: ${e instanceof Error ? e.message : String(e)}`); process.exitCode = 1; }
}
