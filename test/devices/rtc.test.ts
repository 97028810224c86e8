import { describe, it, expect } from 'vitest';
import { Rtc146818 } from '../../src/devices/rtc.js';

const WALL = Date.UTC(2024, 1, 29, 13, 45, 30); // Thu 2024-02-29 13:45:30 UTC
function make() {
  let level = false;
  const rtc = new Rtc146818((l) => { level = l; });
  rtc.setWall(WALL);
  rtc.setTime(0);
  return { rtc, level: () => level };
}
const rd = (rtc: Rtc146818, i: number): number => { rtc.portWrite(0x70, 1, i); return rtc.portRead(0x71, 1); };
const wr = (rtc: Rtc146818, i: number, v: number): void => { rtc.portWrite(0x70, 1, i); rtc.portWrite(0x71, 1, v); };

describe('MC146818 RTC', () => {
  it('reads BCD 24h time by default', () => {
    const { rtc } = make();
    expect([rd(rtc, 0), rd(rtc, 2), rd(rtc, 4), rd(rtc, 6), rd(rtc, 7), rd(rtc, 8), rd(rtc, 9), rd(rtc, 0x32)])
      .toEqual([0x30, 0x45, 0x13, 5, 0x29, 0x02, 0x24, 0x20]);
    expect(rd(rtc, 0x0d)).toBe(0x80);
  });

  it('binary and 12-hour modes', () => {
    const { rtc } = make();
    wr(rtc, 0x0b, 0x04); // binary, 12h
    expect(rd(rtc, 0)).toBe(30);
    expect(rd(rtc, 4)).toBe(0x80 | 1); // 1 PM
    wr(rtc, 0x0b, 0x00); // BCD 12h
    expect(rd(rtc, 4)).toBe(0x81);
  });

  it('advances with guest time', () => {
    const { rtc } = make();
    rtc.setTime(31e9);
    expect(rd(rtc, 0)).toBe(0x01);
    expect(rd(rtc, 2)).toBe(0x46);
  });

  it('UIP: set once after an update and in the 244 us before one', () => {
    const { rtc } = make();
    expect(rd(rtc, 0x0a) & 0x80).toBe(0);
    rtc.setTime(1e9 - 100_000);
    expect(rd(rtc, 0x0a) & 0x80).toBe(0x80);
    rtc.setTime(1e9 + 1000);
    expect(rd(rtc, 0x0a) & 0x80).toBe(0x80);
    expect(rd(rtc, 0x0a) & 0x80).toBe(0);
  });

  it('guest sets the time with SET, and it keeps running from there', () => {
    const { rtc } = make();
    wr(rtc, 0x0b, 0x82); // SET, 24h BCD
    wr(rtc, 0, 0x00); wr(rtc, 2, 0x00); wr(rtc, 4, 0x08); wr(rtc, 7, 0x01); wr(rtc, 8, 0x01); wr(rtc, 9, 0x99); wr(rtc, 0x32, 0x19);
    rtc.setTime(5e9);
    expect(rd(rtc, 0)).toBe(0x00); // frozen while SET
    wr(rtc, 0x0b, 0x02);
    rtc.setTime(7e9);
    expect([rd(rtc, 0), rd(rtc, 4), rd(rtc, 9), rd(rtc, 0x32)]).toEqual([0x02, 0x08, 0x99, 0x19]);
  });

  it('update-ended and periodic interrupts set C and IRQ 8; reading C clears', () => {
    const { rtc, level } = make();
    wr(rtc, 0x0b, 0x12); // UIE
    rtc.setTime(0.9e9);
    expect(level()).toBe(false);
    rtc.setTime(1.0e9);
    expect(level()).toBe(true);
    expect(rd(rtc, 0x0c) & 0xb0).toBe(0x90); // IRQF|UF (PF is set at any rate, PIE or not)
    expect(level()).toBe(false);
    wr(rtc, 0x0a, 0x26); wr(rtc, 0x0b, 0x42); // PIE, 1024 Hz
    rtc.setTime(1.0e9 + 1e6);
    expect(level()).toBe(true);
    expect(rd(rtc, 0x0c) & 0xc0).toBe(0xc0);
  });

  it('port 0x70 bit 7 masks NMI; NVRAM bytes persist; snapshot', () => {
    const { rtc } = make();
    rtc.portWrite(0x70, 1, 0x80 | 0x20);
    expect(rtc.nmiMasked).toBe(true);
    rtc.portWrite(0x71, 1, 0xab);
    const r2 = new Rtc146818(() => {});
    r2.loadState(JSON.parse(JSON.stringify(rtc.saveState())));
    expect(rd(r2, 0x20)).toBe(0xab);
    expect(rd(r2, 2)).toBe(0x45);
  });
});
