// `npm run bench`: guest MIPS for each benchmark guest, measured with benny; results in bench/results/.
import b from 'benny';
import { writeFileSync, mkdirSync } from 'node:fs';
import { GuestRunner, SLICE } from './guests.js';

interface Figure { name: string; mips: number; opsPerSec: number; margin: number }

const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;

async function cpuSuite(): Promise<Figure[]> {
  const cases: [string, GuestRunner][] = [
    ['intloop', GuestRunner.load('intloop', '1000000000')],
    ['mixed', GuestRunner.load('mixed')],
  ];
  const figures: Figure[] = [];
  await b.suite(
    'cpu',
    ...cases.map(([name, g]) => b.add(`${name} (${SLICE / 1e6}M instructions per op)`, () => { g.step(); })),
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
  if (cpu.length >= 2) console.log(`  ratio mixed/intloop: ${(cpu[1].mips / cpu[0].mips).toFixed(2)}`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
