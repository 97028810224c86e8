// `npm run ft:torture -- --hosts H --kills K [--seed S]` (test/ft/torture.ts hands these options
// here): H real host agents (process groups) on a dir: control plane, one FT VM running ft_demo long
// enough for K kills; K times in a row, once the VM is protected, kill -9 the process group of a
// seeded random host (the primary's, the secondary's or an idle one), start its agent again with the
// same id once its lease ran out, and check that the VM is protected again on two different hosts with
// exactly one primary running (every earlier primary process is gone). At the end the console file
// and the disk equal an uninterrupted run byte for byte (no console byte lost or doubled) and the
// generation logs replay as one run. One line per kill, a summary; exit 0 when everything held.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openControl, type VmRecord } from '../../src/ft/control.js';
import { exportDisk } from '../../src/ft/store.js';
import { alive, guest, referenceRun, rng } from './protect-harness.js';
import { cli, ftStart, isProtected, killHost, newCluster, readBytes, release, restartWhenExpired, startHost, stopCluster, waitConsole, waitRecord } from './hosts-harness.js';

/** ft_demo per kill: lines of about 200k instructions of work and 200 ms of guest idle time each (10 s of guest time per kill);
 *  the guest holds its end (fourth number 1: after its last line it waits for one console byte), so however fast
 *  the machine, it is still running at every kill; the byte is typed through `x86ft console` after the last one. */
const LINES_PER_KILL = 50;
const WORK = 300, IDLE_MS = 200;

export async function main(argv: string[]): Promise<number> {
  let hosts = 3, kills = 50, seed = 1;
  for (let k = 0; k < argv.length; k += 2) {
    const v = Number(argv[k + 1]);
    if (!['--hosts', '--kills', '--seed'].includes(argv[k]!)) { process.stderr.write(`ft:torture: unknown option ${argv[k]} (--hosts H, --kills K, --seed S)\n`); return 2; }
    if (!Number.isSafeInteger(v) || v < 0) { process.stderr.write(`ft:torture: ${argv[k]} needs a non-negative integer\n`); return 2; }
    if (argv[k] === '--hosts') hosts = v; else if (argv[k] === '--kills') kills = v; else seed = v;
  }
  if (hosts < 3) { process.stderr.write('ft:torture: --hosts must be at least 3 (a killed host needs two others to keep the VM protected)\n'); return 2; }
  const lines = LINES_PER_KILL * (kills + 1);
  const elf = guest('ft_demo');
  // the idle time changes neither the console nor the disk: the reference runs without it
  // its length grows with the kills: a hang bound of 2 s per line (a niced run at load 25 took over 120 s for 50 kills)
  const ref = await referenceRun(elf, `${lines} ${WORK} 0 1`, Math.max(120_000, lines * 2000));
  if (ref.status !== 0) { process.stderr.write(`ft:torture: the reference run failed (${ref.status}):\n${ref.stderr}\n`); return 1; }
  const next = rng(seed);
  const c = newCluster('redundancy-torture');
  const cp = await openControl(c.spec);
  const ids = Array.from({ length: hosts }, (_, i) => `h${i + 1}`);
  const problems: string[] = [];
  const restores: number[] = [];
  const t0 = Date.now();
  try {
    for (const id of ids) startHost(c, id);
    const st = await ftStart(c, elf, 'r', `${lines} ${WORK} ${IDLE_MS} 1`);
    if (st.status !== 0) throw new Error(`ft start failed (${st.status}): ${st.stderr}`);
    let rec: VmRecord = await waitRecord(cp, 'r', (r) => isProtected(r) || r.state === 'ended', 120_000, 'protected');
    const primaries = new Set<number>();
    for (let k = 1; k <= kills; k++) {
      if (rec.state === 'ended') throw new Error(`the guest ended before kill ${k}: make the guest longer`);
      primaries.add(rec.primary!.pid);
      if (!(await waitConsole(c, cp, 'r', readBytes(c.consoleFile).length + 1))) throw new Error(`the guest ended before kill ${k}`);
      const victim = c.hosts.get(ids[Math.floor(next() * ids.length)]!)!;
      const role = rec.primary!.host === victim.id ? 'primary' : rec.secondary!.host === victim.id ? 'secondary' : 'no role';
      const killedAt = Date.now();
      killHost(victim);
      await victim.exited;
      const before = rec;
      // protected again on two of the other hosts (after a primary's or a secondary's death: a later generation)
      const live = (r: VmRecord): boolean => r.primary!.host !== victim.id && r.secondary!.host !== victim.id && alive(r.primary!.pid) && alive(r.secondary!.pid);
      rec = await waitRecord(cp, 'r', (r) => r.state === 'ended' || (isProtected(r) && live(r) && (role === 'no role' || r.generation > before.generation)), 120_000, `protected again after kill ${k}`);
      const restoredMs = Date.now() - killedAt;
      await restartWhenExpired(c, cp, victim.id); // the host comes back
      const out: string[] = [];
      if (rec.state === 'ended') out.push('the guest ended before it was protected again');
      else {
        primaries.add(rec.primary!.pid);
        const running = [...primaries].filter(alive);
        if (running.length !== 1 || running[0] !== rec.primary!.pid) out.push(`primaries running: ${running.join(',')} (record: ${rec.primary!.pid})`);
        if (role === 'primary' && rec.primary!.host !== before.secondary!.host) out.push(`the primary is on ${rec.primary!.host}, not the old secondary's host ${before.secondary!.host}`);
        if (role !== 'no role') restores.push(restoredMs);
      }
      problems.push(...out.map((p) => `kill ${k}: ${p}`));
      process.stdout.write(`kill ${k}/${kills}: host ${victim.id} (${role}) -> generation ${rec.generation}, ${rec.state} on ${rec.primary?.host}+${rec.secondary?.host}${out.length ? `: ${out.join('; ')}` : ''} (protected again ${restoredMs} ms after the kill)\n`);
      if (rec.state === 'ended') break;
    }
    // the guest may end now: its one byte through x86ft console (exactly once, across the failovers)
    const rl = await release(c, 'r', 3_600_000);
    if (rl.status !== 0) problems.push(`x86ft console (releasing the guest's hold): exit ${rl.status}: ${rl.stderr.trim().split('\n').pop()}`);
    const w = await cli(c, ['ft', 'wait', 'r', '--control', c.spec], 3_600_000);
    if (w.status !== 0) problems.push(`ft wait: exit ${w.status}: ${w.stderr}`);
    if (!readBytes(c.consoleFile).equals(ref.console)) problems.push(`the console file differs from the uninterrupted run (${readBytes(c.consoleFile).length} bytes, expected ${ref.console.length})`);
    const diskOut = join(c.dir, 'disk.out');
    exportDisk({ store: c.store, vm: 'r', disk: 0, base: c.disk, out: diskOut });
    if (!readBytes(diskOut).equals(ref.disk)) problems.push('the disk differs from the uninterrupted run');
    const rp = await cli(c, ['replay', '--control', c.spec, 'r', '--image', elf], 3_600_000);
    if (rp.status !== 0) problems.push(`the generation logs do not replay as one run: ${rp.stderr.trim().split('\n').pop()}`);
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    await cp.close();
    await stopCluster(c);
    if (problems.length || process.env.X86FT_KEEP_LOGS) process.stderr.write([...c.hosts.values()].map((h) => h.log()).join('\n'));
    rmSync(c.dir, { recursive: true, force: true });
  }
  const sorted = restores.sort((a, b) => a - b);
  const q = (f: number): number => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? 0;
  process.stdout.write(`${kills} kills on ${hosts} hosts in ${Math.round((Date.now() - t0) / 1000)} s; host death to protected again (wall time): median ${q(0.5)} ms, max ${q(1)} ms\n`);
  for (const p of problems) process.stdout.write(`FAILED: ${p}\n`);
  process.stdout.write(problems.length ? 'ft:torture: FAILED\n' : 'ft:torture: every kill held\n');
  return problems.length ? 1 : 0;
}
