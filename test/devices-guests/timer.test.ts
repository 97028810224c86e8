// dev_timer: PIT channel 0 interrupts (through the PIC) counted against RTC seconds. The guest
// checks the consistency itself (see guests/src/dev_timer.c for the tolerance); here we check
// its verdict and the shape of its report.

import { describe, it, expect } from 'vitest';
import { guestElf, runCli } from './helpers.js';

describe('dev_timer guest (PIT + PIC + RTC)', () => {
  for (const [opt, rate] of [['O2', 100], ['O0', 50]] as const) {
    it(`counts ~${rate} ticks per RTC second (-${opt})`, async () => {
      const run = runCli(guestElf('dev_timer', opt), ['--cmdline', String(rate), '--no-input']);
      const code = await run.done;
      const out = run.stdout();
      expect(out, run.stderr()).toMatch(/^dev_timer: PIT mode 2 divisor \d+ /);
      expect(out).toMatch(/rtc start \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n/);
      const m = /elapsed (\d+) s, ticks (\d+), expected (\d+), lost (\d+) in (\d+) gaps/.exec(out);
      expect(m, out).not.toBeNull();
      const [elapsed, ticks, expected, lost, gaps] = m!.slice(1, 6).map(Number);
      expect(elapsed).toBe(2);
      expect(expected).toBe(2 * rate);
      expect(ticks).toBeLessThanOrEqual(expected + 2);
      expect(ticks).toBeGreaterThanOrEqual(expected / 4);
      expect(Math.abs(ticks + lost - expected)).toBeLessThanOrEqual(2 + gaps + Math.floor(expected / 100));
      expect(out).toContain('timer consistent with rtc\n');
      expect(code).toBe(0);
    });
  }
});
