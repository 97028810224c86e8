// `npm run bench:regions`: the JS tier's regions (src/cpu/compile.ts compileRegion, X86FT_REGION_BLOCKS,
// X86FT_REGION_LOCALS) against one block per function on CoreMark (guests/build/coremark-O2.elf), issue 14.
// In one process, three machines of the same build — blocks, regions with registers in cpu.regs, regions
// with registers in JS locals — warmed up (regions keep being compiled long after blocks are), then
// alternating slices of the same instructions in a rotating order; per slice the CPU time (process.cpuUsage)
// of each, and after each round the three machines' registers, RIP and RFLAGS must be equal (exit status 1
// otherwise). Prints the medians of regions/blocks with their spread, the MIPS of the median slices, the
// calls into compiled code per instruction and the load average; results in bench/results/regions.json.
// The JS tier's: the machines are made with the WebAssembly tier off.

import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt } from '../src/env.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const ELF = join(root, 'guests/build/coremark-O2.elf');
const N = envInt('X86FT_REGIONS_N'), SLICES = envInt('X86FT_REGIONS_SLICES'), SLICE = envInt('X86FT_REGIONS_SLICE'), WARM = envInt('X86FT_REGIONS_WARM');
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

async function main(): Promise<void> {
  if (!existsSync(ELF)) throw new Error(`${ELF} is missing: the CoreMark guests are built only when CoreMark's sources are in ../shared/coremark; run 'npm run build'`);
  const { Machine } = await import('../src/machine/machine.js');
  const { WASM_TIER } = await import('../src/cpu/wasm/space.js');
  type M = import('../src/machine/machine.js').Machine;
  const boot = (blocks: number, locals: boolean): M => {
    WASM_TIER.on = false;
    const m = Machine.fromElf(readFileSync(ELF), { cmdline: '0x0 0x0 0x66 100000', memSize: 64 << 20, consoleOut: () => {} });
    m.cpu.regionBlocks = blocks; m.cpu.regionLocals = locals;
    return m;
  };
  const names = ['blocks', 'regions (cpu.regs)', 'regions (locals)'] as const;
  const ms = [boot(1, false), boot(N, false), boot(N, true)];
  const load0 = loadavg();
  console.log(`JS regions of up to ${N} blocks vs one block per function, CoreMark -O2 in one process: ${WARM / 1e6}M instructions of warm-up, ${SLICES} rounds of ${SLICE / 1e6}M; load average ${load0.map((x) => x.toFixed(1)).join(' ')}`);
  const cpu = (m: M, to: number) => { const c0 = process.cpuUsage(); m.run(to); const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; };
  for (const m of ms) m.run(WARM);
  const t: number[][] = [[], [], []];
  const state = (m: M) => `${m.cpu.rip} ${m.cpu.getRflags()} ${m.cpu.icount} ${Array.from(m.cpu.regs).join(',')}`;
  for (let k = 0; k < SLICES; k++) {
    const to = WARM + (k + 1) * SLICE; // Machine.run counts from boot
    for (let j = 0; j < 3; j++) { const q = (j + k) % 3; t[q].push(cpu(ms[q], to)); }
    const s0 = state(ms[0]);
    for (let q = 1; q < 3; q++) if (state(ms[q]) !== s0) throw new Error(`round ${k + 1}: ${names[q]} differs from ${names[0]}\n${state(ms[q]).slice(0, 300)}\n${s0.slice(0, 300)}`);
  }
  const ratio = (q: number) => { const r = t[q].map((x, k) => x / t[0][k]); return { median: median(r), min: Math.min(...r), max: Math.max(...r) }; };
  const regions = [...ms[1].cpu.blocks.values()].filter((b) => b.fn !== null && b.fn.name.startsWith('region_')).length;
  const summary = {
    date: new Date().toISOString(), regionBlocks: N, warm: WARM, slices: SLICES, sliceInstructions: SLICE, loadavgStart: load0, loadavgEnd: loadavg(),
    regsOverBlocks: ratio(1), localsOverBlocks: ratio(2), mips: t.map((x) => SLICE / median(x) / 1e6), regionFunctions: regions,
  };
  for (const q of [1, 2]) {
    const r = q === 1 ? summary.regsOverBlocks : summary.localsOverBlocks;
    console.log(`  ${names[q]} / blocks, CPU time: median ${r.median.toFixed(3)} (${r.min.toFixed(3)} .. ${r.max.toFixed(3)})`);
  }
  console.log(`  MIPS of the median slices: ${summary.mips.map((x, q) => `${names[q]} ${x.toFixed(0)}`).join(', ')}; ${regions} region functions; load average at the end ${summary.loadavgEnd.map((x) => x.toFixed(1)).join(' ')}; states equal after every round`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/regions.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((e: unknown) => { console.error(e instanceof Error ? e.message : String(e)); process.exitCode = 1; });
