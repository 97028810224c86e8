import { describe, it, expect } from 'vitest';
import { Pit8254, PIT_HZ, pitTicks } from '../../src/devices/pit.js';

/** ns at which `ticks` PIT input clocks have elapsed (rounding up). */
const nsAt = (ticks: number): number => Math.ceil((ticks * 1e9) / PIT_HZ);

function make() {
  const edges: number[] = [];
  let level = true; // OUT0 is high at power-on
  let rises = 0;
  const pit = new Pit8254((l) => { if (l && !level) rises++; level = l; edges.push(l ? 1 : 0); });
  return { pit, rises: () => rises, level: () => level };
}
function readCounter0(pit: Pit8254): number {
  pit.portWrite(0x43, 1, 0x00); // latch channel 0
  return pit.portRead(0x40, 1) | (pit.portRead(0x40, 1) << 8);
}

describe('8254 PIT', () => {
  it('converts time to ticks exactly and monotonically', () => {
    expect(pitTicks(1e9)).toBe(PIT_HZ);
    expect(pitTicks(3600e9 + 5e8)).toBe(3600 * PIT_HZ + Math.floor(PIT_HZ / 2));
    expect(pitTicks(nsAt(1000))).toBe(1000);
  });

  it('mode 2 (rate generator): counts down from N and raises IRQ0 every N ticks', () => {
    const { pit, rises } = make();
    pit.portWrite(0x43, 1, 0x34); // ch0, lo/hi, mode 2
    pit.portWrite(0x40, 1, 0x9c); pit.portWrite(0x40, 1, 0x2e); // 11932 = 100 Hz
    expect(readCounter0(pit)).toBe(11932);
    pit.setTime(nsAt(1000));
    expect(readCounter0(pit)).toBe(10932);
    expect(rises()).toBe(0);
    pit.setTime(nsAt(11932));
    expect(rises()).toBe(1);
    pit.setTime(nsAt(11932 * 3 + 5)); // several periods in one step -> one edge to the PIC
    expect(rises()).toBe(2);
    expect(readCounter0(pit)).toBe(11932 - 5);
  });

  it('mode 3 (square wave): OUT high for the first half, counter steps by 2', () => {
    const { pit, level } = make();
    pit.portWrite(0x43, 1, 0x36);
    pit.portWrite(0x40, 1, 100); pit.portWrite(0x40, 1, 0);
    expect(level()).toBe(true);
    pit.setTime(nsAt(10));
    expect(readCounter0(pit)).toBe(80);
    expect(level()).toBe(true);
    pit.setTime(nsAt(60));
    expect(level()).toBe(false);
    pit.setTime(nsAt(101));
    expect(level()).toBe(true);
    // read-back status: OUT high, mode 3, lo/hi
    pit.portWrite(0x43, 1, 0xe2);
    expect(pit.portRead(0x40, 1)).toBe(0x80 | 0x30 | 0x06);
  });

  it('mode 0 (interrupt on terminal count): OUT low until the count expires', () => {
    const { pit, level, rises } = make();
    pit.portWrite(0x43, 1, 0x30);
    pit.portWrite(0x40, 1, 0x00); pit.portWrite(0x40, 1, 0x10); // 4096
    expect(level()).toBe(false);
    pit.setTime(nsAt(4095));
    expect(level()).toBe(false);
    pit.setTime(nsAt(4096));
    expect(level()).toBe(true);
    expect(rises()).toBe(1);
    pit.setTime(nsAt(4100));
    expect(readCounter0(pit)).toBe(0x10000 - 4);
  });

  it('lo-byte-only access and latch hold the value across time', () => {
    const { pit } = make();
    pit.portWrite(0x43, 1, 0x14); // ch0, lo only, mode 2
    pit.portWrite(0x40, 1, 200);
    pit.setTime(nsAt(50));
    pit.portWrite(0x43, 1, 0x00);
    pit.setTime(nsAt(70));
    expect(pit.portRead(0x40, 1)).toBe(150); // latched value
    expect(pit.portRead(0x40, 1)).toBe(130); // live again
  });

  it('channel 2 is gated by port 0x61 bit 0; bit 5 reads OUT2', () => {
    const { pit } = make();
    pit.portWrite(0x61, 1, 0x00);
    pit.portWrite(0x43, 1, 0xb0); // ch2 lo/hi mode 0
    pit.portWrite(0x42, 1, 100); pit.portWrite(0x42, 1, 0);
    pit.setTime(nsAt(500));
    expect(pit.portRead(0x61, 1) & 0x20).toBe(0); // gate low: not counting
    pit.portWrite(0x61, 1, 0x01);
    pit.setTime(nsAt(550));
    expect(pit.portRead(0x61, 1) & 0x20).toBe(0);
    pit.setTime(nsAt(600));
    expect(pit.portRead(0x61, 1) & 0x21).toBe(0x21);
  });

  it('BCD counting', () => {
    const { pit } = make();
    pit.portWrite(0x43, 1, 0x35); // mode 2 BCD
    pit.portWrite(0x40, 1, 0x00); pit.portWrite(0x40, 1, 0x10); // 1000 BCD
    pit.setTime(nsAt(1));
    expect(readCounter0(pit)).toBe(0x0999);
  });

  it('snapshot round trip continues counting identically', () => {
    const a = make();
    a.pit.portWrite(0x43, 1, 0x34); a.pit.portWrite(0x40, 1, 0x00); a.pit.portWrite(0x40, 1, 0x01);
    a.pit.setTime(nsAt(100));
    const b = make();
    b.pit.loadState(JSON.parse(JSON.stringify(a.pit.saveState())));
    a.pit.setTime(nsAt(300)); b.pit.setTime(nsAt(300));
    expect(readCounter0(b.pit)).toBe(readCounter0(a.pit));
  });
});
