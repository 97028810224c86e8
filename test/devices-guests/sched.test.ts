// dev_sched: three tasks preempted round-robin by IRQ 0. The interleaving depends on host timing,
// so this checks invariants only: well-formed output, every task made progress, each task's
// progress lines increase in steps of 65536 up to at most its final counter, the sums agree, and
// the guest's own checks (slices = ticks + 1, fairness, registers kept) passed.

import { describe, it, expect } from 'vitest';
import { guestElf, runCli } from './helpers.js';

const STEP = 65536;

describe('dev_sched guest (preemptive round robin on the PIT)', () => {
  for (const [opt, ticks] of [['O2', 200], ['O0', 120]] as const) {
    it(`switches tasks on every tick and keeps their registers (-${opt}, ${ticks} ticks)`, async () => {
      const run = runCli(guestElf('dev_sched', opt), ['--cmdline', String(ticks), '--no-input']);
      const code = await run.done;
      const out = run.stdout();
      const lines = out.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.shift()).toBe(`dev_sched: 3 workers, round robin at 100 Hz for ${ticks} ticks`);
      const progress: number[][] = [[], [], []];
      const finals: number[] = [];
      let i = 0;
      for (; i < lines.length; i++) {
        const m = /^task (\d): (\d+)$/.exec(lines[i]!);
        if (!m) break;
        progress[Number(m[1])]!.push(Number(m[2]));
      }
      for (let t = 0; t < 3; t++, i++) {
        const m = /^task (\d): final (\d+), (\d+) slices, 0 mismatches$/.exec(lines[i] ?? '');
        expect(m, `line ${i}: ${lines[i]}\n${out}`).not.toBeNull();
        expect(Number(m![1])).toBe(t);
        finals.push(Number(m![2]));
      }
      const mm = /^main: (\d+) slices$/.exec(lines[i++] ?? '');
      expect(mm, out).not.toBeNull();
      const tot = /^ticks (\d+), slices (\d+), total (\d+)$/.exec(lines[i++] ?? '');
      expect(tot, out).not.toBeNull();
      expect(Number(tot![1])).toBe(ticks);
      expect(Number(tot![2])).toBe(ticks + 1);
      expect(Number(tot![3])).toBe(finals[0]! + finals[1]! + finals[2]!);
      expect(lines[i++]).toBe('scheduler ok');
      expect(i).toBe(lines.length);
      for (let t = 0; t < 3; t++) {
        expect(finals[t]).toBeGreaterThan(0);
        progress[t]!.forEach((v, k) => expect(v).toBe((k + 1) * STEP));
        // the last line may be missing if the run stopped between the increment and the print
        expect(Math.floor(finals[t]! / STEP) - progress[t]!.length).toBeGreaterThanOrEqual(0);
        expect(Math.floor(finals[t]! / STEP) - progress[t]!.length).toBeLessThanOrEqual(1);
      }
      expect(code).toBe(0);
    });
  }
});
