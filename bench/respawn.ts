// Respawn costs (`npm run bench:respawn`, part of `npm run bench`): what a primary does while its guest
// is paused at the snapshot point M of a joining secondary (FT.md "Redundancy restored"), for 16 MiB
// and 64 MiB guests whose whole memory is in use (random bytes: the worst case for the snapshot's size):
// - whole snapshot (what FtPrimary.join did before the pre-copy): takeSnapshot (registers, devices,
//   every non-zero page) and the SHA-256 of the bytes sent, both inside the pause; on the secondary,
//   restoring the machine from the received bytes (before it can ack M);
// - pre-copy (FtPrimary.join now, src/replay/precopy.ts): the guest ft_dirty rewrites 6 MiB of RAM (a
//   word in each page, every 16th page whole) while RAM is pre-copied in rounds, PRECOPY_BATCH_PAGES
//   pages between two run slices of SLICE instructions (a digest every other slice, as the recorder
//   takes the dirty set); rounds go on until at most 256 pages are left; then the pause at M: PreCopy.finish (the pages changed since the last round,
//   hashed and copied, the machine state, the identity). On the secondary: verify (every page hashed)
//   and restore.
// Medians of X86FT_BENCH_RESPAWN_RUNS (5) runs; wall time, and CPU time of the pause (a loaded machine
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
import { PreCopy, PreCopyImage } from '../src/replay/precopy.js';
import { OutputTally, computeDigest } from '../src/replay/digest.js';

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

/** Instructions the guest runs between two pre-copy batches. */
const SLICE = 200_000;

async function precopyCase(image: Uint8Array, mem: number): Promise<Record<string, number>> {
  const pause: number[] = [], pauseCpu: number[] = [], atM: number[] = [], rounds: number[] = [], sent: number[] = [], verify: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const m = Machine.fromElf(image, { memSize: mem * MiB, cmdline: '1000000 6144' });
    // every page in use: random bytes above ft_dirty's own memory (its 6 MiB area, heap and stack lie below 16 MiB)
    let x = 0x9e3779b9 + r;
    const chunk = new Uint8Array(MiB), dv = new DataView(chunk.buffer);
    for (let at = 16 * MiB; at < mem * MiB; at += MiB) {
      for (let i = 0; i < MiB; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; dv.setUint32(i, x >>> 0, true); }
      m.mem.write(at, chunk);
    }
    m.run(2_000_000);
    const tally = new OutputTally(), img = new PreCopyImage(mem * MiB);
    const put = (off: number, b: Uint8Array): void => { img.put(off, b); };
    const pc = new PreCopy(m);
    let slices = 0;
    const between = async (): Promise<void> => { m.run(m.cpu.icount + SLICE); if (++slices % 2 === 0) computeDigest(m, tally); };
    let n = 0;
    for (let k = 0; k < 6; k++) { n++; if ((await pc.round(put, between)) <= 64) break; }
    // as FtPrimary.join: rounds go on until a digest point with at most 256 pages left for the pause
    // (here: checked after each round), at most 50 times
    for (let k = 0; k < 50; k++) { computeDigest(m, tally); if (pc.pending() <= 256) break; n++; await pc.round(put, between); }
    const t = performance.now(), c0 = process.cpuUsage();
    const point = pc.finish({ imageSha256: 'bench' }, tally, put);
    pause.push(performance.now() - t);
    const c1 = process.cpuUsage(c0);
    pauseCpu.push((c1.user + c1.system) / 1000);
    atM.push(point.pages); rounds.push(n); sent.push(pc.stats.pagesSent);
    const v = performance.now();
    img.verify(point.bytes, point.hash);
    img.restore({}, point.hash);
    verify.push(performance.now() - v);
  }
  return { memoryMiB: mem, precopiedMiB: round(median(sent) * 4096 / MiB), rounds: median(rounds), pagesAtM: median(atM), pauseMs: round(median(pause)), pauseCpuMs: round(median(pauseCpu)), verifyAndRestoreMs: round(median(verify)) };
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  const image = new Uint8Array(readFileSync(guest('ft_demo')));
  const cases = [16, 64].map((mem) => caseFor(image, mem));
  for (const c of cases) {
    process.stdout.write(`respawn ${c.memoryMiB} MiB guest, whole snapshot: ${c.snapshotMiB} MiB, guest paused ${c.pauseMs} ms (takeSnapshot ${c.takeSnapshotMs} ms, ${c.takeSnapshotCpuMs} ms of CPU, + SHA-256 ${c.sha256Ms} ms); restore on the secondary ${c.restoreMs} ms\n`);
  }
  const dirty = new Uint8Array(readFileSync(guest('ft_dirty')));
  const precopy: Record<string, number>[] = [];
  for (const mem of [16, 64]) precopy.push(await precopyCase(dirty, mem));
  for (const c of precopy) {
    process.stdout.write(`respawn ${c.memoryMiB} MiB guest, pre-copy (ft_dirty rewriting 6 MiB): ${c.precopiedMiB} MiB sent in ${c.rounds} rounds, ${c.pagesAtM} pages at M, guest paused ${c.pauseMs} ms (${c.pauseCpuMs} ms of CPU); verify and restore on the secondary ${c.verifyAndRestoreMs} ms\n`);
  }
  const loadEnd = loadavg()[0]!;
  process.stdout.write(`(load average ${round(load, 2)} at the start, ${round(loadEnd, 2)} at the end)\n`);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(`${resultsDir}respawn.json`, JSON.stringify({ loadAverage: round(load, 2), loadAverageEnd: round(loadEnd, 2), runs: RUNS, cases, precopy }, null, 2) + '\n');
}

main().catch((e) => { process.stderr.write(`bench:respawn: ${(e as Error).message}\n`); process.exitCode = 1; });
