// Start-up time of the x86ft command (`node dist/bench/startup.js`, part of `npm run bench`): wall time of
// whole processes, median of X86FT_BENCH_STARTUP_RUNS (default 7) runs each, cold = the first run of each:
// - `node -e 0` (Node's own start, the floor);
// - `node dist/src/cli/main.js --version` in the repository (the bin loads only its dispatcher);
// - `x86ft run hello-O2.elf` through the bin of the packed tarball installed in an empty app directory;
// - `npx x86ft --version` in that app (npm's own start and its look-up of the bin come on top).
// Results in bench/results/startup.json.
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt } from '../src/env.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packAndInstall } from '../test/helpers/pack.js';

const repo = resolve(new URL('../..', import.meta.url).pathname);
const RUNS = envInt('X86FT_BENCH_STARTUP_RUNS');

function time(cmd: string, args: string[], cwd: string): { ms: number; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, stdio: 'ignore', timeout: 300_000 });
  return { ms: performance.now() - t0, status: r.status };
}

function measure(name: string, cmd: string, args: string[], cwd: string, status = 0): { name: string; coldMs: number; medianMs: number } {
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = time(cmd, args, cwd);
    if (r.status !== status) throw new Error(`${name}: exit status ${r.status}, expected ${status}`);
    ms.push(r.ms);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const out = { name, coldMs: Math.round(ms[0]!), medianMs: Math.round(sorted[Math.floor(sorted.length / 2)]!) };
  console.log(`${name.padEnd(48)} cold ${String(out.coldMs).padStart(6)} ms, median ${String(out.medianMs).padStart(6)} ms`);
  return out;
}

const inst = packAndInstall(repo);
try {
  const results = [
    measure('node -e 0', process.execPath, ['-e', '0'], repo),
    measure('node dist/src/cli/main.js --version', process.execPath, ['dist/src/cli/main.js', '--version'], repo),
    measure('installed bin: x86ft run hello-O2.elf', join(inst.app, 'node_modules/.bin/x86ft'), ['run', 'node_modules/x86ft/guests/build/hello-O2.elf'], inst.app, 42),
    measure('installed: npx --offline x86ft help', 'npx', ['--offline', '--no', 'x86ft', 'help'], inst.app),
  ];
  mkdirSync(join(repo, 'bench/results'), { recursive: true });
  writeFileSync(join(repo, 'bench/results/startup.json'), JSON.stringify({ date: new Date().toISOString(), runs: RUNS, results }, null, 2) + '\n');
} finally {
  rmSync(inst.dir, { recursive: true, force: true });
}
