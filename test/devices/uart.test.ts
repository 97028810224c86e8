import { describe, it, expect } from 'vitest';
import { Uart16550 } from '../../src/devices/uart.js';

const B = 0x3f8;
function make() {
  const out: number[] = [];
  const irqs: boolean[] = [];
  let level = false;
  const u = new Uart16550(B, (b) => out.push(b), (l) => { level = l; irqs.push(l); });
  return { u, out, irqs, level: () => level };
}
/** What a driver does: 115200 8N1, FIFO on with trigger 8, OUT2 + DTR + RTS. */
function driverInit(u: Uart16550, ier = 0x01): void {
  u.portWrite(B + 1, 1, 0x00);
  u.portWrite(B + 3, 1, 0x80);
  u.portWrite(B + 0, 1, 0x01);
  u.portWrite(B + 1, 1, 0x00);
  u.portWrite(B + 3, 1, 0x03);
  u.portWrite(B + 2, 1, 0x87);
  u.portWrite(B + 4, 1, 0x0b);
  u.portWrite(B + 1, 1, ier);
}

describe('16550A UART', () => {
  it('programs the divisor latch under DLAB and reads it back', () => {
    const { u } = make();
    u.portWrite(B + 3, 1, 0x80);
    u.portWrite(B, 1, 0x0c); u.portWrite(B + 1, 1, 0x00);
    expect(u.portRead(B, 1)).toBe(0x0c);
    u.portWrite(B + 3, 1, 0x03);
    expect(u.portRead(B + 3, 1)).toBe(0x03);
    expect(u.portRead(B + 1, 1)).toBe(0); // IER, not DLM
  });

  it('transmits THR writes to the sink; LSR shows THRE|TEMT', () => {
    const { u, out } = make(); driverInit(u);
    for (const c of 'hi\n') u.portWrite(B, 1, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('hi\n');
    expect(u.portRead(B + 5, 1) & 0x60).toBe(0x60);
    expect(u.portRead(B + 2, 1)).toBe(0xc1); // FIFOs enabled, no interrupt
  });

  it('raises THRE interrupt when ETBEI is enabled; reading IIR clears it', () => {
    const { u, level } = make(); driverInit(u, 0x00);
    u.portWrite(B + 1, 1, 0x02);
    expect(level()).toBe(true);
    expect(u.portRead(B + 2, 1)).toBe(0xc2);
    expect(level()).toBe(false);
    expect(u.portRead(B + 2, 1)).toBe(0xc1);
    u.portWrite(B, 1, 0x41); // THR write -> empty again -> THRE interrupt
    expect(level()).toBe(true);
  });

  it('RX: data-available at the trigger level, timeout below it', () => {
    const { u, level } = make(); driverInit(u);
    expect(u.rxSpace()).toBe(16);
    u.setTime(1_000_000);
    u.rxBytes(new TextEncoder().encode('abc'));
    expect(level()).toBe(false); // 3 < trigger 8
    expect(u.portRead(B + 5, 1) & 1).toBe(1);
    u.setTime(2_000_000); // > 4 character times at 115200
    expect(level()).toBe(true);
    expect(u.portRead(B + 2, 1)).toBe(0xcc); // character timeout
    expect(u.portRead(B, 1)).toBe(0x61);
    expect(level()).toBe(false); // reading RBR clears the timeout
    u.rxBytes(new TextEncoder().encode('0123456789'));
    expect(level()).toBe(true);
    expect(u.portRead(B + 2, 1)).toBe(0xc4);
    let s = '';
    while (u.portRead(B + 5, 1) & 1) s += String.fromCharCode(u.portRead(B, 1));
    expect(s).toBe('bc0123456789');
    expect(level()).toBe(false);
  });

  it('IIR priority: line status > RX data > THRE', () => {
    const { u } = make(); driverInit(u, 0x07);
    u.portWrite(B + 2, 1, 0x07); // trigger 1
    u.rxBytes(new Uint8Array(17)); // one overrun
    expect(u.portRead(B + 2, 1)).toBe(0xc6);
    expect(u.portRead(B + 5, 1) & 0x03).toBe(0x03); // OE + DR; reading clears OE
    expect(u.portRead(B + 2, 1)).toBe(0xc4);
    for (let i = 0; i < 16; i++) u.portRead(B, 1);
    expect(u.portRead(B + 2, 1)).toBe(0xc2);
    expect(u.portRead(B + 2, 1)).toBe(0xc1);
  });

  it('takes console input only while the guest asserts RTS (hardware flow control)', () => {
    const { u } = make();
    expect(u.rxSpace()).toBe(0); // after reset: MCR 0, the sender waits
    driverInit(u); // MCR 0x0B: DTR, RTS, OUT2
    expect(u.rxSpace()).toBe(16);
    u.portWrite(B + 4, 1, 0x09); // RTS off
    expect(u.rxSpace()).toBe(0);
    const before = JSON.stringify(u.saveState());
    u.rxSpace();
    expect(JSON.stringify(u.saveState())).toBe(before); // a pure query
  });

  it('non-FIFO mode holds one byte', () => {
    const { u } = make(); driverInit(u);
    u.portWrite(B + 2, 1, 0x00);
    expect(u.rxSpace()).toBe(1);
    expect(u.portRead(B + 2, 1)).toBe(0x01);
    u.rxBytes(Uint8Array.of(7));
    expect(u.portRead(B + 2, 1)).toBe(0x04);
  });

  it('loopback: TX comes back as RX, MSR mirrors MCR, no IRQ line, nothing on the sink', () => {
    const { u, out, level } = make(); driverInit(u);
    u.portWrite(B + 4, 1, 0x1a); // LOOP | OUT2 | RTS (Linux autoconfig)
    expect(u.portRead(B + 6, 1) & 0xf0).toBe(0x90);
    u.portWrite(B + 2, 1, 0x07);
    u.portWrite(B, 1, 0x55);
    expect(out).toEqual([]);
    expect(level()).toBe(false);
    expect(u.portRead(B + 2, 1)).toBe(0xc4);
    expect(u.portRead(B, 1)).toBe(0x55);
    u.portWrite(B + 4, 1, 0x0b);
    expect(u.portRead(B + 6, 1) & 0xf0).toBe(0xb0);
  });

  it('scratch register and snapshot round trip', () => {
    const { u } = make(); driverInit(u);
    u.portWrite(B + 7, 1, 0x5a);
    u.rxBytes(Uint8Array.of(1, 2));
    const s = JSON.parse(JSON.stringify(u.saveState()));
    const v = make();
    v.u.loadState(s);
    expect(v.u.portRead(B + 7, 1)).toBe(0x5a);
    expect(v.u.portRead(B, 1)).toBe(1);
  });
});
