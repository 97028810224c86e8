// dev_timer: PIT channel 0 interrupts (through the PIC) counted against RTC seconds. The guest
// checks the consistency itself (see guests/src/dev_timer.c for the tolerance); here we check
// its verdict and the shape of its report. Guest time comes from a virtual clock driven by the
// instruction count (never the host's clock), so the verdict does not depend on machine load.

import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import { LiveGate } from '../../src/machine/gate.js';
import { InstructionClock } from '../helpers/clock.js';
import { guestElf } from './helpers.js';

describe('dev_timer guest (PIT + PIC + RTC)', () => {
  for (const [opt, rate] of [['O2', 100], ['O0', 50]] as const) {
    it(`counts ${rate} ticks per RTC second (-${opt}, virtual clock)`, () => {
      const image = readFileSync(guestElf('dev_timer', opt));
      let m: Machine | undefined;
      const clock = new InstructionClock(() => m?.cpu.icount ?? 0, 100, 100_000);
      let out = '';
      m = Machine.fromElf(image, { cmdline: String(rate), gate: new LiveGate({ clock }), consoleOut: (b) => { out += String.fromCharCode(b); } });
      const r = m.run(2_000_000_000);
      expect(out).toMatch(/^dev_timer: PIT mode 2 divisor \d+ /);
      expect(out).toContain('rtc start 2026-01-01 12:00:0');
      const mm = /elapsed (\d+) s, ticks (\d+), expected (\d+), lost (\d+) in (\d+) gaps/.exec(out);
      expect(mm, out).not.toBeNull();
      const [elapsed, ticks, expected, lost] = mm!.slice(1, 5).map(Number);
      expect(elapsed).toBe(2);
      expect(expected).toBe(2 * rate);
      // a virtual clock never stalls, so no tick may be lost and the count is exact to the
      // boundary rule of the guest (each RTC boundary is seen at most one period late)
      expect(lost).toBe(0);
      expect(Math.abs(ticks! - expected!)).toBeLessThanOrEqual(2);
      expect(out).toContain('timer consistent with rtc\n');
      expect(r.end).toBe('exit');
      expect(r.status).toBe(0);
    });
  }
});
