// Respawn costs (`npm run bench:respawn`, part of `npm run bench`): what a primary does while its guest
// is paused at the snapshot point M of a joining secondary (FT.md "Redundancy restored"), for 16 MiB
// and 64 MiB guests whose whole memory is in use (random bytes: the worst case for the snapshot's size):
// - takeSnapshot (the whole machine: registers, devices, every non-zero page) and the SHA-256 of the
//   bytes sent, both inside the pause (FtPrimary.join);
// - on the secondary, restoring the machine from the received bytes (before it can ack M).
// Medians of X86FT_BENCH_RESPAWN_RUNS (5) runs; wall time, and the CPU time of takeSnapshot (a loaded machine
// stretches wall time). The time from a host's death to `protected` again is
// measured end to end by `npm run ft:torture -- --hosts 3 --kills K` (it prints median and max).
// Results in bench/results/respawn.json.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { guest } from '../test/ft/protect-harness.js';
import { Machine } from '../src/machine/machine.js';
import { takeSnapshot, restoreSnapshot } from '../src/replay/machine-snapshot.js';
import { sha256Hex } from '../src/replay/recorder.js';

const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;
const RUNS = Number(process.env.X86FT_BENCH_RESPAWN_RUNS ?? 5);
const MiB = 1 << 20;

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

function caseFor(image: Uint8Array, mem: number): Record<string, number> {
  const m = Machine.fromElf(image, { memSize: mem * MiB, cmdline: '4 10' });
  // every page in use: random bytes above the image (the guest is not run afterwards)
  let x = 0x9e3779b9;
  const chunk = new Uint8Array(MiB);
  const dv = new DataView(chunk.buffer);
  for (let at = 2 * MiB; at < mem * MiB; at += MiB) {
    for (let i = 0; i < MiB; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; dv.setUint32(i, x >>> 0, true); }
    m.mem.write(at, chunk);
  }
  const meta = { imageSha256: sha256Hex(image) };
  const take: number[] = [], takeCpu: number[] = [], hash: number[] = [], restore: number[] = [];
  let bytes = 0;
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const c0 = process.cpuUsage();
    const s = takeSnapshot(m, meta);
    take.push(performance.now() - t);
    const c1 = process.cpuUsage(c0);
    takeCpu.push((c1.user + c1.system) / 1000);
    bytes = s.bytes.length;
    t = performance.now();
    createHash('sha256').update(s.bytes).digest();
    hash.push(performance.now() - t);
    t = performance.now();
    restoreSnapshot(s.bytes, {}, { expectHash: s.hash });
    restore.push(performance.now() - t);
  }
  return {
    memoryMiB: mem, snapshotMiB: round(bytes / MiB), takeSnapshotMs: round(median(take)), takeSnapshotCpuMs: round(median(takeCpu)), sha256Ms: round(median(hash)),
    pauseMs: round(median(take) + median(hash)), restoreMs: round(median(restore)),
  };
}

async function main(): Promise<void> {
  const image = new Uint8Array(readFileSync(guest('ft_demo')));
  const load = loadavg()[0]!;
  const cases = [16, 64].map((mem) => caseFor(image, mem));
  for (const c of cases) {
    process.stdout.write(`respawn ${c.memoryMiB} MiB guest: snapshot ${c.snapshotMiB} MiB, guest paused ${c.pauseMs} ms (takeSnapshot ${c.takeSnapshotMs} ms, ${c.takeSnapshotCpuMs} ms of CPU, + SHA-256 ${c.sha256Ms} ms); restore on the secondary ${c.restoreMs} ms\n`);
  }
  process.stdout.write(`(load average ${round(load, 2)} at the start)\n`);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(`${resultsDir}respawn.json`, JSON.stringify({ loadAverage: round(load, 2), runs: RUNS, cases }, null, 2) + '\n');
}

main().catch((e) => { process.stderr.write(`bench:respawn: ${(e as Error).message}\n`); process.exitCode = 1; });
