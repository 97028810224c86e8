// `npm run bench`: guest MIPS for each benchmark guest, measured with benny; results in bench/results/.
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import b from 'benny';
import { writeFileSync, mkdirSync } from 'node:fs';
import { GuestRunner, SLICE } from './guests.js';
import { POLL_SLICE } from '../src/machine/machine.js';

interface Figure { name: string; mips: number; opsPerSec: number; margin: number }

const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;

async function cpuSuite(): Promise<Figure[]> {
  const cases: [string, GuestRunner][] = [
    ['intloop', GuestRunner.load('intloop', '1000000000')],
    ['mixed', GuestRunner.load('mixed')],
    ['fpbench', GuestRunner.load('fpbench', '1000000000')],
  ];
  const bare = GuestRunner.load('intloop', '1000000000');
  const figures: Figure[] = [];
  await b.suite(
    'cpu',
    // intloop-nopoll right after intloop (the same JIT state): the CPU alone, no gate polls, devices never see time
    ...cases.flatMap(([name, g]) => [
      b.add(`${name} (${SLICE / 1e6}M instructions per op)`, () => { g.step(); }),
      ...(name === 'intloop' ? [b.add(`intloop-nopoll (${SLICE / 1e6}M instructions per op)`, () => { bare.stepCpuOnly(); })] : []),
    ]),
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) {
        const name = r.name.split(' ')[0];
        figures.push({ name, opsPerSec: r.ops, margin: r.margin, mips: (r.ops * SLICE) / 1e6 });
      }
    }),
    b.configure({ cases: { minSamples: 5, maxTime: 3 } }),
  );
  return figures;
}

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const cpu = await cpuSuite();
  const out = { date: new Date().toISOString(), node: process.version, cpu };
  writeFileSync(resultsDir + 'latest.json', JSON.stringify(out, null, 2) + '\n');
  console.log('\nguest MIPS:');
  for (const f of cpu) console.log(`  ${f.name.padEnd(10)} ${f.mips.toFixed(1)} MIPS (±${f.margin.toFixed(1)}%)`);
  const get = (n: string) => cpu.find((f) => f.name === n);
  const il = get('intloop'), mx = get('mixed'), np = get('intloop-nopoll');
  if (il && mx) console.log(`  ratio mixed/intloop: ${(mx.mips / il.mips).toFixed(2)}`);
  const fp = get('fpbench');
  if (il && fp) console.log(`  ratio fpbench/intloop: ${(fp.mips / il.mips).toFixed(2)}`);
  if (il && np) console.log(`  device polling cost: intloop with idle devices polled every ${POLL_SLICE} instructions runs at ${(100 * il.mips / np.mips).toFixed(1)}% of the CPU-only speed`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
