// `npm run bench:wasm`: the WebAssembly tier (src/cpu/wasm, X86FT_WASM=1) against the JS tier
// (src/cpu/compile.ts) on CoreMark (guests/build/coremark-O2.elf), issue 14's "measure a prototype of each".
// Alternating rounds of child processes, one per variant and run length (X86FT_WASM is read once, when the
// CPU modules load): the JS tier, the wasm tier compiling in the background, the wasm tier compiling on
// the main thread (X86FT_WASM_BACKGROUND=0). Each child boots the guest in-process, runs it to its end with
// Machine.runAsync (as `x86ft run` does: the event loop turns every few ms) and reports its process CPU
// time (every thread: V8's background compiles included), wall time and the wasm tier's counters. Steady
// iterations per CPU-second = (long - short) / (CPU(long) - CPU(short)), medians over the rounds; the CRCs
// of every run must equal the native build's. Prints the load average. Results in bench/results/wasm-tier.json.

import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt } from '../src/env.js';
import type { WasmStats } from '../src/cpu/wasm/compile.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const ELF = join(root, 'guests/build/coremark-O2.elf'), NATIVE = join(root, 'guests/build/coremark-native');
const SEEDS = ['0x0', '0x0', '0x66'];
const PAIRS = envInt('X86FT_WASM_PAIRS'), LONG = envInt('X86FT_WASM_LONG'), SHORT = envInt('X86FT_WASM_SHORT');

type Variant = 'js' | 'wasm' | 'wasmMain';
const VARIANTS: Variant[] = ['js', 'wasm', 'wasmMain'];
const LABEL: Record<Variant, string> = { js: 'JS tier', wasm: 'wasm, background compile', wasmMain: 'wasm, main-thread compile' };
interface Child { cpuS: number; wallS: number; icount: number; crcs: string; blocks: number; wasm: WasmStats | null }

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
  const c0 = process.cpuUsage(), w0 = performance.now();
  await m.runAsync();
  const c = process.cpuUsage(c0), wallS = (performance.now() - w0) / 1e3;
  let blocks = 0;
  for (const b of m.cpu.blocks.values()) if (b.fn !== null) blocks++;
  const w = m.cpu.wasm;
  const r: Child = { cpuS: (c.user + c.system) / 1e6, wallS, icount: m.cpu.icount, crcs: crcs(Buffer.from(out).toString('latin1')), blocks, wasm: w === null ? null : { ...w.stats } };
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

function spawnChild(v: Variant, n: number): Child {
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', String(n)], {
    encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, X86FT_WASM: v === 'js' ? '0' : '1', X86FT_WASM_BACKGROUND: v === 'wasmMain' ? '0' : '1' },
  });
  if (r.status !== 0) throw new Error(`child (${v}, ${n}): exit ${r.status ?? r.signal}\n${r.stderr.slice(-2000)}`);
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
  console.log(`wasm tier vs JS tier on CoreMark: ${PAIRS} rounds of ${LONG}- and ${SHORT}-iteration runs, each variant in turn; X86FT_WASM_REGION=${envInt('X86FT_WASM_REGION')}; load average ${load0.map((x) => x.toFixed(1)).join(' ')}`);
  const res = Object.fromEntries(VARIANTS.map((v) => [v, { long: [] as Child[], short: [] as Child[] }])) as Record<Variant, { long: Child[]; short: Child[] }>;
  for (let p = 0; p < PAIRS; p++) {
    const order = VARIANTS.map((_, k) => VARIANTS[(k + p) % VARIANTS.length]);
    for (const n of [SHORT, LONG]) {
      for (const t of order) {
        const r = spawnChild(t, n);
        if (r.crcs !== want.get(n)) throw new Error(`${t}, ${n} iterations: CRCs differ from the native build's\n${r.crcs}\n${want.get(n)}`);
        if (r.wasm !== null && r.wasm.failed !== 0) throw new Error(`${t}, ${n} iterations: V8 refused ${r.wasm.failed} wasm modules: ${r.wasm.error}`);
        (n === LONG ? res[t].long : res[t].short).push(r);
      }
    }
    process.stdout.write(`  round ${p + 1}: CPU s for ${LONG} / ${SHORT} iterations: ${VARIANTS.map((v) => `${v} ${res[v].long[p].cpuS.toFixed(2)} / ${res[v].short[p].cpuS.toFixed(2)}`).join(', ')}\n`);
  }
  // in one process: alternating slices of the same instructions
  const ip = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--inproc'], { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, X86FT_WASM: '1' } });
  if (ip.status !== 0) throw new Error(`in-process child: exit ${ip.status ?? ip.signal}\n${ip.stderr.slice(-2000)}`);
  const inp = JSON.parse(ip.stdout.trim().split('\n').pop()!) as { ratios: number[]; js: number[]; wasm: number[] };
  const sliceN = envInt('X86FT_WASM_SLICE');
  const steady = (t: Variant) => (LONG - SHORT) / (median(res[t].long.map((r) => r.cpuS)) - median(res[t].short.map((r) => r.cpuS)));
  const variants = Object.fromEntries(VARIANTS.map((v) => {
    const L = res[v].long, S = res[v].short, cpuL = median(L.map((r) => r.cpuS)), cpuS = median(S.map((r) => r.cpuS));
    const ratio = res.js.long.map((j, k) => j.cpuS / L[k].cpuS), ratioS = res.js.short.map((j, k) => j.cpuS / S[k].cpuS);
    const w = L[0].wasm === null ? null : (() => {
      const wl = L.map((r) => r.wasm!), md = (f: (s: WasmStats) => number) => median(wl.map(f));
      const calls = md((x) => x.calls);
      return { compiled: md((x) => x.compiled), rejected: md((x) => x.rejected), modules: md((x) => x.modules), backgroundModules: md((x) => x.background),
        genMsMainThread: md((x) => x.genMs), compileMsMainThread: md((x) => x.compileMs), waiting: md((x) => x.waiting),
        callsPerCpuS: calls / cpuL, instructionsPerCall: L[0].icount / calls, exitsPerCall: md((x) => x.exits) / calls };
    })();
    return [v, { longCpuS: cpuL, shortCpuS: cpuS, longWallS: median(L.map((r) => r.wallS)), shortWallS: median(S.map((r) => r.wallS)), steadyItPerCpuS: steady(v),
      longJsOverThis: { median: median(ratio), min: Math.min(...ratio), max: Math.max(...ratio) }, shortJsOverThis: { median: median(ratioS), min: Math.min(...ratioS), max: Math.max(...ratioS) },
      coldLongItPerCpuS: LONG / cpuL, coldShortItPerCpuS: SHORT / cpuS, wasm: w }];
  })) as Record<Variant, { longCpuS: number; shortCpuS: number; longWallS: number; shortWallS: number; steadyItPerCpuS: number; longJsOverThis: { median: number; min: number; max: number }; shortJsOverThis: { median: number; min: number; max: number }; coldLongItPerCpuS: number; coldShortItPerCpuS: number; wasm: unknown }>;
  const summary = {
    date: new Date().toISOString(), wasmRegion: envInt('X86FT_WASM_REGION'), loadavgStart: load0, loadavgEnd: loadavg(), rounds: PAIRS, long: LONG, short: SHORT, variants,
    inProcess: { slices: inp.ratios.length, sliceInstructions: sliceN, wasmOverJsCpu: { median: median(inp.ratios), min: Math.min(...inp.ratios), max: Math.max(...inp.ratios) },
      jsMips: sliceN / median(inp.js) / 1e6, wasmMips: sliceN / median(inp.wasm) / 1e6 },
  };
  for (const v of VARIANTS) {
    const x = variants[v];
    console.log(`  ${LABEL[v].padEnd(26)} CPU s ${LONG} it ${x.longCpuS.toFixed(2)} (JS/this ${x.longJsOverThis.median.toFixed(2)}, ${x.longJsOverThis.min.toFixed(2)}..${x.longJsOverThis.max.toFixed(2)}), ${SHORT} it ${x.shortCpuS.toFixed(2)} (JS/this ${x.shortJsOverThis.median.toFixed(2)}); steady ${x.steadyItPerCpuS.toFixed(0)} it per CPU-s; wall s ${x.longWallS.toFixed(2)} / ${x.shortWallS.toFixed(2)}`);
    if (x.wasm !== null) console.log(`    ${JSON.stringify(x.wasm)}`);
  }
  const ipr = summary.inProcess;
  console.log(`  in one process (${ipr.slices} alternating slices of ${sliceN / 1e6}M instructions after ${envInt('X86FT_WASM_WARM') / 1e6}M of warm-up, Machine.run): CPU wasm/JS median ${ipr.wasmOverJsCpu.median.toFixed(3)} (${ipr.wasmOverJsCpu.min.toFixed(3)} .. ${ipr.wasmOverJsCpu.max.toFixed(3)}); JS ${ipr.jsMips.toFixed(0)} MIPS, wasm ${ipr.wasmMips.toFixed(0)} MIPS (median slices)`);
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
