// Difference test, long mode: `npm run difftest -- --count N --seed S [--filter mnemonic] [--exclude form,..] [--case I[,J..]]
// [--start I] [--report K] [--native-only] [--list] [--fp]`.
// --fp: FP cases (SSE/SSE2/x87); a --filter naming an FP mnemonic implies it. Prints a summary and the first K mismatch reports.

import { formatMismatch } from './compare.js';
import { runDifftest } from './run.js';
import { assemble } from './asm.js';
import { generateCase } from './gen.js';

function usage(): never {
  console.error('usage: difftest [--count N] [--seed S] [--filter MNEMONIC] [--exclude FORM,..] [--case I[,J...]] [--start I] [--report K] [--native-only] [--list] [--fp]');
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let count = 10000, seed = (Date.now() & 0x7fffffff) >>> 0, start = 0, report = 10;
  let filter: string | undefined, exclude: string[] | undefined, cases: number[] | undefined, nativeOnly = false, list = false, fp = false;
  for (let k = 0; k < args.length; k++) {
    const v = () => { if (k + 1 >= args.length) usage(); return args[++k]; };
    switch (args[k]) {
      case '--count': count = Number(v()); break;
      case '--seed': seed = Number(v()) >>> 0; break;
      case '--start': start = Number(v()); break;
      case '--filter': filter = v(); break;
      case '--exclude': exclude = v().split(','); break;
      case '--case': cases = v().split(',').map(Number); break;
      case '--report': report = Number(v()); break;
      case '--native-only': nativeOnly = true; break;
      case '--list': list = true; break;
      case '--fp': fp = true; break;
      default: usage();
    }
  }
  if (list) { // print the generated source of the selected cases and stop
    const idx = cases ?? Array.from({ length: Math.min(count, 50) }, (_, k) => start + k);
    for (const a of assemble(idx.map((k) => generateCase(seed, k, { filter, exclude, fp }))).ok) console.log(a.source + '\n');
    return;
  }
  console.log(`difftest: seed=${seed} count=${cases ? cases.length : count}${filter ? ` filter=${filter}` : ''}${fp ? ' fp' : ''}`);
  const t0 = performance.now();
  const r = await runDifftest({
    seed, count, start, cases, filter, exclude, nativeOnly, fp, maxMismatches: Math.max(report, 1),
    progress: (d, n, m) => process.stderr.write(`\r${d}/${n} cases, ${m} mismatches`),
  });
  process.stderr.write('\n');
  for (const m of r.mismatches.slice(0, report)) console.log(formatMismatch(m) + '\n');
  console.log(`generated ${r.generated}, dropped by the assembler ${r.dropped.length}, compared ${r.compared}, mismatches ${r.mismatchCount}`);
  console.log(`native exceptions by vector: ${[...r.nativeFaults].map(([v, n]) => `#${v}:${n}`).join(' ') || 'none'}`);
  if (r.byMnemonic.size) {
    console.log('mismatches by instruction (fault line, or the case\'s mnemonics):');
    for (const [k, n] of [...r.byMnemonic].sort((x, y) => y[1] - x[1]).slice(0, 40)) console.log(`  ${String(n).padStart(6)}  ${k}`);
  }
  const ms = r.ms;
  console.log(`time: gen ${ms.gen.toFixed(0)} ms, as ${ms.asm.toFixed(0)} ms, native ${ms.native.toFixed(0)} ms, emulator ${ms.emu.toFixed(0)} ms, total ${(performance.now() - t0).toFixed(0)} ms`);
  process.exitCode = r.mismatchCount ? 1 : 0;
}

main().catch((e) => { console.error(e); process.exit(2); });
