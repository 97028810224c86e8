import { describe, it, expect } from 'vitest';
import { Pic8259 } from '../../src/devices/pic.js';

/** The sequence Linux (init_8259A) and PC BIOSes use: ICW1 0x11, ICW2 base, ICW3, ICW4 0x01. */
function init(pic: Pic8259, masterBase = 0x20, slaveBase = 0x28, icw4 = 0x01): void {
  pic.portWrite(0x21, 1, 0xff); pic.portWrite(0xa1, 1, 0xff);
  pic.portWrite(0x20, 1, 0x11); pic.portWrite(0x21, 1, masterBase); pic.portWrite(0x21, 1, 0x04); pic.portWrite(0x21, 1, icw4);
  pic.portWrite(0xa0, 1, 0x11); pic.portWrite(0xa1, 1, slaveBase); pic.portWrite(0xa1, 1, 0x02); pic.portWrite(0xa1, 1, icw4);
  pic.portWrite(0x21, 1, 0x00); pic.portWrite(0xa1, 1, 0x00);
}

describe('8259A PIC pair', () => {
  it('delivers a master IRQ with the ICW2 vector and holds it in service until EOI', () => {
    const pic = new Pic8259(); init(pic);
    expect(pic.intrPending()).toBe(false);
    pic.setIrq(4, true);
    expect(pic.intrPending()).toBe(true);
    expect(pic.intrAcknowledge()).toBe(0x24);
    expect(pic.intrPending()).toBe(false);
    pic.portWrite(0x20, 1, 0x0b); // OCW3: read ISR
    expect(pic.portRead(0x20, 1)).toBe(0x10);
    pic.portWrite(0x20, 1, 0x0a); // OCW3: read IRR
    expect(pic.portRead(0x20, 1)).toBe(0x00);
    pic.setIrq(4, false); pic.setIrq(4, true); // a second edge while in service
    expect(pic.intrPending()).toBe(false);
    pic.portWrite(0x20, 1, 0x20); // non-specific EOI
    expect(pic.intrPending()).toBe(true);
    expect(pic.intrAcknowledge()).toBe(0x24);
  });

  it('is edge triggered: a held level raises one request', () => {
    const pic = new Pic8259(); init(pic);
    pic.setIrq(3, true);
    expect(pic.intrAcknowledge()).toBe(0x23);
    pic.portWrite(0x20, 1, 0x20);
    expect(pic.intrPending()).toBe(false);
  });

  it('resolves priorities: IRQ0 before IRQ1; lower priority waits for EOI of higher', () => {
    const pic = new Pic8259(); init(pic);
    pic.setIrq(1, true); pic.setIrq(0, true);
    expect(pic.intrAcknowledge()).toBe(0x20);
    expect(pic.intrPending()).toBe(false); // IRQ1 blocked by IRQ0 in service
    pic.portWrite(0x20, 1, 0x60); // specific EOI for IR0
    expect(pic.intrAcknowledge()).toBe(0x21);
  });

  it('a higher priority request nests over a lower one in service', () => {
    const pic = new Pic8259(); init(pic);
    pic.setIrq(5, true);
    expect(pic.intrAcknowledge()).toBe(0x25);
    pic.setIrq(1, true);
    expect(pic.intrPending()).toBe(true);
    expect(pic.intrAcknowledge()).toBe(0x21);
  });

  it('masks with OCW1 and reads the mask back', () => {
    const pic = new Pic8259(); init(pic);
    pic.portWrite(0x21, 1, 0x10);
    expect(pic.portRead(0x21, 1)).toBe(0x10);
    pic.setIrq(4, true);
    expect(pic.intrPending()).toBe(false);
    pic.portWrite(0x21, 1, 0x00);
    expect(pic.intrPending()).toBe(true);
  });

  it('routes slave IRQs through IR2 and needs EOI on both chips', () => {
    const pic = new Pic8259(); init(pic);
    pic.setIrq(12, true);
    expect(pic.intrAcknowledge()).toBe(0x2c);
    pic.portWrite(0xa0, 1, 0x0b);
    expect(pic.portRead(0xa0, 1)).toBe(0x10);
    pic.portWrite(0x20, 1, 0x0b);
    expect(pic.portRead(0x20, 1)).toBe(0x04);
    pic.setIrq(8, true);
    expect(pic.intrPending()).toBe(false); // master IR2 still in service
    pic.portWrite(0xa0, 1, 0x20); pic.portWrite(0x20, 1, 0x20);
    expect(pic.intrAcknowledge()).toBe(0x28);
  });

  it('gives spurious IRQ 7 when the request vanished before INTA', () => {
    const pic = new Pic8259(); init(pic);
    pic.portWrite(0x4d0, 1, 0x08); // ELCR: IRQ3 level triggered
    pic.setIrq(3, true);
    expect(pic.intrPending()).toBe(true);
    pic.setIrq(3, false);
    expect(pic.intrAcknowledge()).toBe(0x27);
    pic.portWrite(0x20, 1, 0x0b);
    expect(pic.portRead(0x20, 1)).toBe(0); // spurious: ISR bit 7 not set
  });

  it('gives spurious IRQ 15 when the slave request vanished', () => {
    const pic = new Pic8259(); init(pic);
    pic.portWrite(0x4d1, 1, 0x02); // IRQ9 level
    pic.setIrq(9, true);
    // The master sees IR2 and raises INTR; the slave line drops during the INTA cycle:
    pic.portWrite(0xa1, 1, 0x02); // masking on the slave withdraws its request
    expect(pic.intrPending()).toBe(false);
    pic.portWrite(0xa1, 1, 0x00);
    expect(pic.intrAcknowledge()).toBe(0x29);
  });

  it('auto-EOI mode does not set ISR', () => {
    const pic = new Pic8259(); init(pic, 0x20, 0x28, 0x03);
    pic.setIrq(4, true);
    expect(pic.intrAcknowledge()).toBe(0x24);
    pic.portWrite(0x20, 1, 0x0b);
    expect(pic.portRead(0x20, 1)).toBe(0);
    pic.setIrq(4, false); pic.setIrq(4, true);
    expect(pic.intrAcknowledge()).toBe(0x24);
  });

  it('rotates priority with OCW2 set-priority', () => {
    const pic = new Pic8259(); init(pic);
    pic.portWrite(0x20, 1, 0xc4); // IR4 lowest -> IR5 highest
    pic.setIrq(1, true); pic.setIrq(6, true);
    expect(pic.intrAcknowledge()).toBe(0x26);
  });

  it('poll command returns 0x80|IR', () => {
    const pic = new Pic8259(); init(pic);
    pic.setIrq(6, true);
    pic.portWrite(0x20, 1, 0x0c);
    expect(pic.portRead(0x20, 1)).toBe(0x86);
  });

  it('saves and restores state', () => {
    const pic = new Pic8259(); init(pic);
    pic.setIrq(4, true);
    const s = JSON.parse(JSON.stringify(pic.saveState()));
    const p2 = new Pic8259(); p2.loadState(s);
    expect(p2.intrPending()).toBe(true);
    expect(p2.intrAcknowledge()).toBe(0x24);
    expect(() => p2.loadState({ ...s, version: 9 })).toThrow(/version/);
  });
});
