// `npm run ft:torture -- --count N [--seed S] [--jobs J] [--max-delay-ms M | --by-progress] [--failure-timeout-ms T] [--cmdline 'L W P [H]']`
// (with --hosts/--kills: redundancy-torture.ts):
// N runs of `x86ft protect` on the deterministic ft_demo guest, each with SIGKILL of the primary at a
// seeded random moment after protection began: by default at a random point of the guest's progress
// (once the console file holds a seeded number of the uninterrupted run's bytes: the same spread of
// kill points on a fast or a loaded machine), with --max-delay-ms M at a random time up to M ms.
// Every run must give protect's stdout, the console file and the disk of an uninterrupted run byte
// for byte, generation 2 claimed by the secondary, the killed primary gone, and no process of the
// run left once protect has exited. The failure timeout defaults to 1000 ms (cheaper runs than the
// tests' 2000 ms, still above the heartbeat silences a loaded machine shows); --cmdline is ft_demo's
// (lines, work, idle ms per line, optional hold 1: the guest waits for a byte protect types after the kill; default
// the tests' DEMO_CMDLINE, which holds; e.g. '8 500 30' for cheap runs).
// --jobs J runs J protect runs at a time (default 1; each run is its own VM directory, so runs never
// share state; the kill points are drawn in run order from the seed whatever J is).
// Prints one line per run (in completion order) and a summary; exit status 0 when every run held, 1 otherwise, 2 for bad options.

import { DEMO_CMDLINE, guest, protectRun, referenceRun, rng } from './protect-harness.js';
import { concurrencyLimit } from '../helpers/proc.js';

async function main(argv: string[]): Promise<number> {
  // repeated host failures (issue 10): --hosts/--kills select the redundancy torture
  if (argv.includes('--hosts') || argv.includes('--kills')) return (await import('./redundancy-torture.js')).main(argv);
  let count = 20, seed = 1, jobs = 1, maxDelay = -1, failureTimeoutMs = 1000, cmdline = DEMO_CMDLINE;
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--by-progress') { maxDelay = -1; continue; }
    if (argv[k] === '--cmdline') {
      const c = argv[++k];
      if (c === undefined || !/^\d+ \d+ \d+( [01])?$/.test(c)) { process.stderr.write(`ft:torture: --cmdline needs three numbers and an optional hold, 'LINES WORK IDLE_MS [0|1]'\n`); return 2; }
      cmdline = c;
      continue;
    }
    const v = Number(argv[k + 1]);
    if (argv[k] === '--count') count = v;
    else if (argv[k] === '--seed') seed = v;
    else if (argv[k] === '--jobs') jobs = v;
    else if (argv[k] === '--max-delay-ms') maxDelay = v;
    else if (argv[k] === '--failure-timeout-ms') failureTimeoutMs = v;
    else { process.stderr.write(`ft:torture: unknown option ${argv[k]} (--count N, --seed S, --jobs J, --max-delay-ms M | --by-progress, --failure-timeout-ms T, --cmdline 'L W P [H]')\n`); return 2; }
    k++;
    if (!Number.isSafeInteger(v) || v < 0) { process.stderr.write(`ft:torture: ${argv[k - 1]} needs a non-negative integer\n`); return 2; }
  }
  if (jobs < 1) { process.stderr.write('ft:torture: --jobs needs at least 1\n'); return 2; }
  const elf = guest('ft_demo');
  const ref = await referenceRun(elf, cmdline, 900_000);
  if (ref.status !== 0) { process.stderr.write(`ft:torture: the reference run failed (${ref.status}):\n${ref.stderr}\n`); return 1; }
  const next = rng(seed);
  let held = 0, failed = 0, notKilled = 0;
  const t0 = Date.now();
  const slot = concurrencyLimit(jobs);
  const one = async (i: number, x: number): Promise<void> => {
    // by progress: after 0 .. all-but-one console bytes (0 = as soon as protected)
    const kill = maxDelay < 0 ? { role: 'primary' as const, afterMs: 0, afterBytes: Math.floor(x * ref.console.length) } : { role: 'primary' as const, afterMs: Math.floor(x * maxDelay) };
    const when = kill.afterBytes !== undefined ? `at console byte ${kill.afterBytes}` : `${kill.afterMs} ms after protection`;
    let verdict: string;
    try {
      // generous bounds on a hang: the torture runs at low priority (nice 19) beside other work
      const r = await protectRun({ elf, cmdline, kill, failureTimeoutMs, timeoutMs: 900_000, patienceMs: 600_000 });
      const problems: string[] = [];
      // the kill hit a primary that had already ended the run (the guest's end acked and recorded, bye
      // sent): no failover is due; the outputs must still equal the uninterrupted run's
      const endedFirst = r.killed !== undefined && r.claims.join(',') === 'local-a' && r.record?.state === 'ended' && r.record.generation === 1;
      if (!r.killed || endedFirst) notKilled++;
      if (endedFirst) { if (!r.killed!.gone) problems.push('the killed primary is still running'); }
      else if (r.killed) {
        if (!r.killed.gone) problems.push('the killed primary is still running');
        if (r.claims.join(',') !== 'local-a,local-b') problems.push(`claims ${r.claims.join(',')}`);
        if (r.record?.primary?.host !== 'local-b') problems.push(`primary at the end: ${r.record?.primary?.host}`);
      }
      if (r.survivors.length) problems.push(`processes outlived protect: ${r.survivors.join('; ')}`);
      if (r.status !== 0) problems.push(`exit status ${r.status}`);
      if (!r.stdout.equals(ref.stdout)) problems.push('stdout differs');
      if (!r.console.equals(ref.console)) problems.push('console file differs');
      if (!r.disk.equals(ref.disk)) problems.push('disk differs');
      if (problems.length) { failed++; verdict = `FAILED: ${problems.join('; ')}\n${r.stderr}`; }
      else { held++; verdict = endedFirst ? 'held (ended before kill: the primary had ended the run)' : r.killed ? 'held' : 'held (the guest ended before the kill)'; }
    } catch (e) {
      failed++;
      verdict = `FAILED: ${(e as Error).message}`;
    }
    process.stdout.write(`run ${i}/${count}: kill ${when}: ${verdict}\n`);
  };
  const runs: Promise<void>[] = [];
  for (let i = 1; i <= count; i++) { const x = next(); runs.push(slot(() => one(i, x))); }
  await Promise.all(runs);
  process.stdout.write(`${held} passed, ${failed} failed (${count - notKilled} primaries killed while running; seed ${seed}; ${jobs} at a time; failure timeout ${failureTimeoutMs} ms; cmdline '${cmdline}'; ${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(`ft:torture: ${(e as Error).message}\n`); process.exitCode = 1; });
