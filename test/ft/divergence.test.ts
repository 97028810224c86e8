// A secondary made to diverge, and a primary going on alone (FT.md "Failure, arbitration, go-live",
// "Generation logs"), with real `x86ft ft primary|secondary` processes on the deterministic disk
// guest dev_ftdisk:
// - the secondary is given another build of the guest (the VM record names dev_ftdisk -O0 with its
//   own SHA-256, as a host whose copy of the image differs would): its replay cannot follow the
//   primary's log; it tells the primary, stops (exit 3) and never claims; the primary claims
//   generation 2 and goes on alone, losing nothing;
// - the secondary is SIGKILLed mid-run: the primary claims generation 2 and switches to gen-2.log
//   (starting at G, where gen-1.log stops) and generation 2's disk layer.
// Both: the console file and the disk equal an uninterrupted run's byte for byte, and the
// generation logs replayed as one chain are identical and reproduce that console and disk.

import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { openControl, updateVm } from '../../src/ft/control.js';
import { exportDisk, storePath } from '../../src/ft/store.js';
import { FT, ROUNDS, caseDir, fileGrows, ftdiskReference, guestElf, replayChain, role } from './role-harness.js';

let ref: { elf: string; console: Buffer; disk: Buffer };

beforeAll(async () => { ref = await ftdiskReference(); }, 120_000);

function primaryArgs(c: ReturnType<typeof caseDir>): string[] {
  return ['ft', 'primary', ref.elf, '--control', `dir:${c.ctl}`, '--listen', '127.0.0.1:0', '--host-id', 'local-a',
    '--disk', c.base, '--cmdline', ROUNDS, '--mem', '32M', '--console-file', c.consoleFile, ...FT];
}

/** What every case checks at the end: one primary (local-a) at generation 2, nothing lost or doubled, the chain replays identical. */
async function primaryWentOnAlone(c: ReturnType<typeof caseDir>, diag: string, viaCli = false): Promise<{ G: number }> {
  expect(readFileSync(c.consoleFile).equals(ref.console), `console file differs\n${diag}`).toBe(true);
  const out = join(c.dir, 'export.img');
  exportDisk({ store: c.ctl, vm: 'default', disk: 0, base: c.base, out });
  expect(readFileSync(out).equals(ref.disk), `disk differs\n${diag}`).toBe(true);
  const cp = await openControl(`dir:${c.ctl}`);
  try {
    expect(await cp.generation('default')).toBe(2);
    expect((await cp.claimOwner('default', 1))?.hostId).toBe('local-a');
    expect((await cp.claimOwner('default', 2))?.hostId, 'the secondary must never claim').toBe('local-a');
    const rec = await cp.readVm('default');
    expect(rec?.state).toBe('ended');
    expect(rec?.primary?.host).toBe('local-a');
  } finally { await cp.close(); }
  // generation 2 has its own log and disk layer; the chain replays as one run
  expect(existsSync(storePath(c.ctl, 'default', { kind: 'log', generation: 2 })), diag).toBe(true);
  expect(existsSync(storePath(c.ctl, 'default', { kind: 'layer', disk: 0, generation: 2 })), diag).toBe(true);
  const chain = await replayChain(c.ctl, 'default', ref.elf, c.base);
  expect(chain.report.outcome, `${diag}\n${JSON.stringify(chain.report.divergence)}`).toBe('identical');
  expect(chain.info.links.map((l) => l.name)).toHaveLength(2);
  const [g1, g2] = chain.info.links;
  expect(g1!.until).toBe(g2!.startIcount);
  expect(g2!.startIcount).toBeGreaterThan(0);
  expect(g2!.startIcount).toBeLessThan(chain.report.instructions);
  expect(chain.console.equals(ref.console), 'the chain replay\'s console differs').toBe(true);
  expect(chain.disk.equals(ref.disk), 'the chain replay\'s disk differs').toBe(true);
  if (viaCli) {
    // and through the CLI, as a user replays the history
    const cli = role(['replay', '--control', `dir:${c.ctl}`, 'default', '--image', ref.elf, '--quiet'], c.dir);
    expect(await cli.done, cli.err()).toBe(0);
  }
  return { G: g2!.startIcount };
}

describe('forced divergence and a primary going on alone (real processes)', () => {
  it('a secondary given another build of the image diverges: it tells the primary, stops and never claims; the primary goes on alone as generation 2', async () => {
    const c = caseDir('diverge');
    const p = role(primaryArgs(c), c.dir);
    const cp = await openControl(`dir:${c.ctl}`);
    const other = guestElf('dev_ftdisk', 'O0');
    try {
      // the VM record is what a secondary takes its image from: name another build (with its own hash)
      for (let i = 0; ; i++) {
        const rec = await cp.readVm('default').catch(() => undefined);
        if (rec?.primary?.addr) break;
        if (i > 3000) throw new Error(`the primary never published its address:\n${p.err()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await updateVm(cp, 'default', (r) => {
        r.config = { ...r.config, image: other, imageSha256: createHash('sha256').update(readFileSync(other)).digest('hex') };
        return r;
      });
    } finally { await cp.close(); }
    const s = role(['ft', 'secondary', '--control', `dir:${c.ctl}`, '--host-id', 'local-b', ...FT], c.dir);
    const [ps, ss] = await Promise.all([p.done, s.done]);
    const diag = `--- primary:\n${p.err()}\n--- secondary:\n${s.err()}`;
    expect(ss, diag).toBe(3); // diverged (README: ft secondary exit statuses)
    expect(s.err(), diag).toMatch(/divergence: .*never claims/);
    expect(ps, diag).toBe(0);
    expect(p.err(), diag).toMatch(/secondary diverged/);
    expect(p.err(), diag).toMatch(/generation 2: running not protected/);
    await primaryWentOnAlone(c, diag);
  }, 120_000);

  it('SIGKILL of the secondary mid-run: the primary switches to generation 2\'s log and disk layer at G; the chain replays identical', async () => {
    const c = caseDir('alone');
    const p = role(primaryArgs(c), c.dir);
    const s = role(['ft', 'secondary', '--control', `dir:${c.ctl}`, '--host-id', 'local-b', ...FT], c.dir);
    // guest progress (released console bytes), never a wall-clock moment
    await fileGrows(c.consoleFile, Math.floor(ref.console.length * 0.3), p.done);
    s.child.kill('SIGKILL');
    expect(await s.done).toBe(-1);
    const ps = await p.done;
    const diag = `--- primary:\n${p.err()}\n--- secondary:\n${s.err()}`;
    expect(ps, diag).toBe(0);
    expect(p.err(), diag).toMatch(/generation 2: log \S+gen-2\.log from instruction \d+/);
    const { G } = await primaryWentOnAlone(c, diag, true);
    expect(p.err()).toContain(`from instruction ${G}`);
  }, 120_000);
});
