// The arbiter (FT.md "Failure, arbitration"): many real processes racing to claim the same generation through the
// dir: control plane; exactly one wins every time, and every loser learns the winner.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openControl } from '../../src/ft/control.js';
import { raceSync, raceFree, checkRound } from './racers.js';

const RACERS = 10;

describe('arbiter (dir:)', () => {
  it(`${RACERS} processes race for each of 60 generations in lock step: one winner each time, losers learn it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-arbiter-'));
    try {
      const spec = `dir:${join(dir, 'ctl')}`;
      const rounds = await raceSync(spec, '', 'vm-a', RACERS, 60);
      expect(rounds).toHaveLength(60);
      const cp = await openControl(spec);
      const winners = new Set<string>();
      for (const [i, results] of rounds.entries()) {
        expect(results).toHaveLength(RACERS);
        expect(results.every((r) => r.line.g === i + 1)).toBe(true);
        const w = checkRound(results);
        winners.add(w.hostId);
        expect(await cp.claimOwner('vm-a', i + 1)).toMatchObject({ hostId: w.hostId, pid: w.pid });
      }
      expect(await cp.generation('vm-a')).toBe(60);
      // not one fixed process winning everything: the race is real (10 racers, 60 rounds)
      expect(winners.size).toBeGreaterThan(1);
      await cp.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`${RACERS} free-running processes claim generation()+1 up to 200: each generation has exactly one winner`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-arbiter-'));
    try {
      const spec = `dir:${join(dir, 'ctl')}`;
      const lines = await raceFree(spec, '', 'vm-b', RACERS, 200);
      const cp = await openControl(spec);
      for (let g = 1; g <= 200; g++) {
        const forG = lines.filter((l) => l.line.g === g);
        const won = forG.filter((l) => l.line.won);
        expect(won, `generation ${g}`).toHaveLength(1);
        const owner = await cp.claimOwner('vm-b', g);
        expect(owner).toMatchObject({ hostId: won[0]!.hostId, pid: won[0]!.pid });
        for (const l of forG.filter((x) => !x.line.won)) expect(l.line.owner).toEqual(owner);
      }
      expect(lines.some((l) => l.line.g > 200)).toBe(false);
      expect(await cp.generation('vm-b')).toBe(200);
      await cp.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
