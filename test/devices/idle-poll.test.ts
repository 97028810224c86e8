// An idle guest's log cost: a live machine halted in HLT polls the gate (and logs a Time record)
// only when a host value waits or a timer event is due (Gate.idlePollDue, devices' nextEventNs).
// The event times are checked against the devices' own edges (8254: a mode-2 counter of N ticks
// raises OUT every N input clocks; MC146818: periodic interrupt at 32768 >> (rate - 1) Hz), and a
// real dev_idle guest (PIT at 100 Hz, HLT between ticks) is recorded and replayed identical.

import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pit8254, pitTicks, pitTickNs } from '../../src/devices/pit.js';
import { Rtc146818 } from '../../src/devices/rtc.js';
import { ROOT } from '../devices-guests/helpers.js';

describe('next timer event (what an idle live machine waits for)', () => {
  it('8254 mode 2: the next IRQ 0 edge is exactly at nextEventNs, not a nanosecond earlier', () => {
    let rises = 0, level = true;
    const pit = new Pit8254((l) => { if (l && !level) rises++; level = l; });
    expect(pit.nextEventNs()).toBe(Infinity); // no count loaded: nothing will come
    pit.portWrite(0x43, 1, 0x34); // ch0, lo/hi, mode 2
    pit.portWrite(0x40, 1, 0x9c); pit.portWrite(0x40, 1, 0x2e); // 11932 = 100 Hz
    for (let k = 1; k <= 3; k++) {
      const at = pit.nextEventNs();
      expect(pitTicks(at)).toBe(11932 * k);
      expect(at).toBe(pitTickNs(11932 * k));
      pit.setTime(at - 1);
      expect(rises).toBe(k - 1);
      pit.setTime(at);
      expect(rises).toBe(k);
    }
  });

  it('8254 mode 0: one edge at terminal count, then none', () => {
    let rises = 0, level = true;
    const pit = new Pit8254((l) => { if (l && !level) rises++; level = l; });
    pit.portWrite(0x43, 1, 0x30); // ch0, lo/hi, mode 0
    pit.portWrite(0x40, 1, 100); pit.portWrite(0x40, 1, 0);
    const at = pit.nextEventNs();
    pit.setTime(at - 1);
    expect(rises).toBe(0);
    pit.setTime(at);
    expect(rises).toBe(1);
    expect(pit.nextEventNs()).toBe(Infinity);
  });

  it('MC146818: the periodic interrupt when enabled, none when its interrupts are off', () => {
    let level = false;
    const rtc = new Rtc146818((l) => { level = l; });
    rtc.setWall(1_700_000_000_000);
    rtc.setTime(1);
    expect(rtc.nextEventNs()).toBe(Infinity); // power-on: rate 1024 Hz but PIE, UIE, AIE off
    rtc.portWrite(0x70, 1, 0x0b); rtc.portWrite(0x71, 1, 0x42); // PIE, 24h
    const at = rtc.nextEventNs();
    expect(at).toBeCloseTo(1e9 / 1024, 3);
    rtc.setTime(Math.ceil(at) - 1);
    expect(level).toBe(false);
    rtc.setTime(Math.ceil(at));
    expect(level).toBe(true);
  });

  it('an idle dev_idle guest (100 Hz PIT, HLT between ticks) logs about two Time records per tick (its wake, its next HLT), and replays identical', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-idle-'));
    try {
      const cli = join(ROOT, 'dist/src/cli/main.js'), elf = join(ROOT, 'guests/build/dev_idle-O2.elf'), log = join(dir, 'idle.log');
      const out = execFileSync(process.execPath, [cli, 'record', elf, '--log', log, '--cmdline', '1 100', '--no-input'], { encoding: 'utf8' });
      expect(out).toContain('dev_idle: 100 ticks at 100 Hz');
      const inspect = execFileSync(process.execPath, [cli, 'log', 'inspect', log], { encoding: 'utf8' });
      const times = Number(/host-time\s+(\d+)/.exec(inspect)?.[1]);
      // per tick: the poll that wakes it and the one where it halts again (ticks merged on a loaded
      // host cost no more); polling every millisecond of HLT, as before, logged about 1,000
      expect(times).toBeGreaterThanOrEqual(100);
      expect(times).toBeLessThan(300);
      expect(execFileSync(process.execPath, [cli, 'replay', log, '--image', elf], { encoding: 'utf8' })).toContain('replay identical');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
