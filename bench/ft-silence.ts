// Heartbeat silences under load (`npm run bench:silence`; not part of `npm run bench`): runs `x86ft
// protect` on ft_demo with `--metrics`, scrapes both roles every 100 ms for
// `x86ft_ft_peer_max_silence_seconds` (the longest gap between two messages heard from the peer, the
// startup included), and reports the largest each role saw, with X86FT_BENCH_BUSY (default 2) busy
// loops (`yes > /dev/null`) running meanwhile. Runs: X86FT_BENCH_RUNS (3); ft_demo's command line:
// X86FT_BENCH_CMDLINE ('24 1500 20'); --failure-timeout-ms 60000, so that a silence is measured, not acted on.

import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt, envValue } from '../src/env.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CLI, DISK_BYTES, guest, tempDir } from '../test/ft/protect-harness.js';

const RUNS = envInt('X86FT_BENCH_RUNS');
const BUSY = envInt('X86FT_BENCH_BUSY');
const CMDLINE = envValue('X86FT_BENCH_CMDLINE') ?? '24 1500 20';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function scrape(port: number): Promise<number | undefined> {
  try {
    const t = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) })).text();
    const m = /^x86ft_ft_peer_max_silence_seconds\{[^}]*\} (\S+)$/m.exec(t);
    return m ? Number(m[1]) * 1000 : undefined;
  } catch { return undefined; }
}

async function run(k: number): Promise<{ primary: number; secondary: number }> {
  const dir = tempDir('bench-silence');
  const control = join(dir, 'control');
  mkdirSync(control, { mode: 0o700 });
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, Buffer.alloc(DISK_BYTES));
  const port = 20000 + ((process.pid * 7 + k * 2) % 20000);
  const child = spawn(process.execPath, [CLI, 'protect', guest('ft_demo'), '--control', `dir:${control}`, '--disk', disk, '--cmdline', CMDLINE,
    '--no-input', '--failure-timeout-ms', '60000', '--metrics', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  let done = false;
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => { done = true; r(c); }));
  const max = { primary: 0, secondary: 0 };
  while (!done) {
    const [p, s] = await Promise.all([scrape(port), scrape(port + 1)]);
    if (p !== undefined) max.primary = Math.max(max.primary, p);
    if (s !== undefined) max.secondary = Math.max(max.secondary, s);
    await sleep(100);
  }
  const code = await exited;
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`protect exited with ${code}:\n${stderr}`);
  return max;
}

async function main(): Promise<void> {
  const busy: ChildProcess[] = [];
  for (let i = 0; i < BUSY; i++) busy.push(spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' }));
  try {
    for (let k = 0; k < RUNS; k++) {
      const r = await run(k);
      process.stdout.write(`run ${k + 1}: longest silence seen by the primary ${r.primary.toFixed(0)} ms, by the secondary ${r.secondary.toFixed(0)} ms (load ${loadavg()[0]!.toFixed(1)}, ${BUSY} busy loops)\n`);
    }
  } finally {
    for (const b of busy) b.kill('SIGKILL');
  }
}

main().catch((e) => { process.stderr.write(`bench:silence: ${(e as Error).message}\n`); process.exitCode = 1; });
