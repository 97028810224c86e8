// 8254 programmable interval timer at 0x40-0x43 (channel 0 -> IRQ 0) and the PC's port 0x61
// (channel 2 gate, speaker enable, refresh toggle, OUT2 readback). Imports nothing from Node.
// Time is guest time handed in by the gate through setTime(ns); counter values and IRQ 0
// edges are pure functions of it, so replay (which replays the same times) is exact.

import type { PortHandler } from '../machine/bus.js';
import { checkState, type IrqLine } from './state.js';

export const PIT_HZ = 1193182;

/** Input-clock ticks elapsed at guest time `ns`, exact for any ns below 2^53. */
export function pitTicks(ns: number): number {
  const t = Math.floor(ns);
  const sec = Math.floor(t / 1e9);
  return sec * PIT_HZ + Math.floor(((t - sec * 1e9) * PIT_HZ) / 1e9);
}

/** The first guest time (ns) at which pitTicks() reaches `tick`. */
export function pitTickNs(tick: number): number {
  const sec = Math.floor(tick / PIT_HZ), rem = tick - sec * PIT_HZ;
  let ns = sec * 1e9 + Math.ceil((rem * 1e9) / PIT_HZ);
  while (ns > 0 && pitTicks(ns - 1) >= tick) ns--;
  while (pitTicks(ns) < tick) ns++;
  return ns;
}

interface Channel {
  mode: number;        // 0..5
  access: number;      // 1 lo, 2 hi, 3 lo then hi
  bcd: boolean;
  reload: number;      // programmed count as written (0 means the maximum)
  writeHi: boolean;    // lo/hi write flip-flop: next byte is the high one
  partial: number;     // low byte written so far
  readHi: boolean;     // lo/hi read flip-flop
  latched: number;     // bytes of latched count still to be read (0 = not latched)
  latchValue: number;
  statusLatched: boolean;
  statusValue: number;
  running: boolean;    // a count has been loaded
  nullCount: boolean;
  startTick: number;   // tick at which the current count started
  frozen: number;      // elapsed ticks while the gate holds the count (modes 0, 4), else -1
  triggered: boolean;  // modes 1, 5: a gate rising edge has started the count
  gate: boolean;
}

export interface PitState {
  kind: 'pit8254'; version: 1;
  channels: Channel[]; nowTick: number; nowNs: number; irqLevel: boolean; port61: number;
}

/** Power-on: no count loaded, OUT high (mode 3 idle), so programming mode 2/3 makes no edge. */
function newChannel(gate: boolean): Channel {
  return {
    mode: 3, access: 3, bcd: false, reload: 0, writeHi: false, partial: 0, readHi: false, latched: 0,
    latchValue: 0, statusLatched: false, statusValue: 0, running: false, nullCount: true, startTick: 0,
    frozen: -1, triggered: false, gate,
  };
}

function fromBcd(v: number): number {
  return ((v >> 12) & 15) * 1000 + ((v >> 8) & 15) * 100 + ((v >> 4) & 15) * 10 + (v & 15);
}
function toBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

export class Pit8254 implements PortHandler {
  private ch: Channel[] = [newChannel(true), newChannel(true), newChannel(false)];
  private nowTick = 0;
  private nowNs = 0;
  private irqLevel = true; // OUT0 at power-on (see newChannel); the PIC sees the first edge only when counting
  private port61 = 0; // bits 0-3 as written

  /** @param irq0 the channel 0 output line (PIC IRQ 0). */
  constructor(private readonly irq0: IrqLine) {}

  /** Guest time from the gate. Time never goes backwards; an older value is ignored. */
  setTime(ns: number): void {
    const t = pitTicks(ns);
    if (t < this.nowTick) return;
    const c0 = this.ch[0]!;
    const edges = this.risingEdges(c0, this.elapsed(c0, this.nowTick), this.elapsed(c0, t));
    this.nowTick = t;
    this.nowNs = ns;
    const out = this.out(c0);
    if (edges > 0) {
      // One or more OUT0 rising edges since the last time step: present one edge to the PIC.
      if (this.irqLevel) this.irq0(false);
      this.irq0(true);
      this.irqLevel = true;
    }
    if (out !== this.irqLevel) { this.irqLevel = out; this.irq0(out); }
  }

  /**
   * Guest time (ns) of the next OUT0 rising edge (an IRQ 0 edge), Infinity when none will come
   * without a guest write. A live run loop idling in HLT polls the gate only then (or for host input):
   * a setTime() before it changes nothing the halted guest can wait for.
   */
  nextEventNs(): number {
    const c = this.ch[0]!;
    const e = this.elapsed(c, this.nowTick);
    if (e < 0 || c.frozen >= 0) return Infinity;
    const n = this.period(c);
    let at: number; // elapsed ticks at the edge
    switch (c.mode) {
      case 0: case 1: at = n; break;
      case 4: case 5: at = n + 1; break;
      default: at = (Math.floor(e / n) + 1) * n;
    }
    if (at <= e) return Infinity; // a one-shot edge already passed
    return pitTickNs(c.startTick + at);
  }

  /** Ticks counted by channel c at tick `now`, or -1 when the channel is not counting. */
  private elapsed(c: Channel, now: number): number {
    if (!c.running) return -1;
    if ((c.mode === 1 || c.mode === 5) && !c.triggered) return -1;
    if (c.frozen >= 0) return c.frozen;
    if (!c.gate && (c.mode === 2 || c.mode === 3)) return -1;
    return Math.max(0, now - c.startTick);
  }

  private period(c: Channel): number {
    if (c.reload === 0) return c.bcd ? 10000 : 0x10000;
    return c.bcd ? fromBcd(c.reload) || 10000 : c.reload;
  }

  private risingEdges(c: Channel, e0: number, e1: number): number {
    if (e1 < 0 || e1 <= e0) return 0;
    const n = this.period(c);
    const from = Math.max(e0, 0);
    switch (c.mode) {
      case 0: case 1: return from < n && e1 >= n ? 1 : 0;
      case 4: case 5: return from < n + 1 && e1 >= n + 1 ? 1 : 0;
      default: return Math.floor(e1 / n) - Math.floor(from / n);
    }
  }

  /** OUT level of channel c at the current tick. */
  private out(c: Channel): boolean {
    if (!c.running) return c.mode !== 0; // after a control word: mode 0 low, others high
    const e = this.elapsed(c, this.nowTick);
    const n = this.period(c);
    switch (c.mode) {
      case 0: return e >= n;
      case 1: return e < 0 || e >= n;
      case 2: return e < 0 || n - (e % n) !== 1 || n === 1;
      case 3: return e < 0 || (e % n) < Math.ceil(n / 2);
      default: return e < 0 || e !== n; // modes 4, 5: one low tick at terminal count
    }
  }

  /** Current counting element value of channel c. */
  private value(c: Channel): number {
    const n = this.period(c);
    const e = this.elapsed(c, this.nowTick);
    const wrap = c.bcd ? 10000 : 0x10000;
    let v: number;
    if (!c.running || e < 0) v = n % wrap;
    else if (c.mode === 2) v = n - (e % n);
    else if (c.mode === 3) {
      const p = e % n, half = Math.ceil(n / 2);
      v = p < half ? n - 2 * p : n - 2 * (p - half);
      v = Math.max(v & ~1, 2) % wrap;
    } else v = (((n - e) % wrap) + wrap) % wrap;
    return c.bcd ? toBcd(v % 10000) : v & 0xffff;
  }

  portRead(port: number, _size: 1 | 2 | 4): number {
    if (port === 0x61) {
      const refresh = Math.floor(this.nowTick / 18) & 1; // ~15 us toggle
      return (this.port61 & 0x0f) | (refresh << 4) | (this.out(this.ch[2]!) ? 0x20 : 0);
    }
    const i = port - 0x40;
    if (i < 0 || i > 2) return 0xff; // the control port is write-only
    const c = this.ch[i]!;
    if (c.statusLatched) { c.statusLatched = false; return c.statusValue; }
    let v: number;
    if (c.latched > 0) {
      v = c.latchValue;
    } else {
      v = this.value(c);
    }
    let byte: number;
    if (c.access === 1) byte = v & 0xff;
    else if (c.access === 2) byte = (v >> 8) & 0xff;
    else { byte = c.readHi ? (v >> 8) & 0xff : v & 0xff; c.readHi = !c.readHi; }
    if (c.latched > 0) c.latched--;
    return byte;
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    if (port === 0x61) { this.setPort61(v); return; }
    if (port === 0x43) { this.control(v); return; }
    const i = port - 0x40;
    if (i < 0 || i > 2) return;
    const c = this.ch[i]!;
    if (c.access === 1) this.load(i, v);
    else if (c.access === 2) this.load(i, v << 8);
    else if (!c.writeHi) {
      c.partial = v; c.writeHi = true;
      if (c.mode === 0) { c.running = false; c.nullCount = true; this.afterChange(i); } // OUT goes low at once
    } else { c.writeHi = false; this.load(i, c.partial | (v << 8)); }
  }

  private control(v: number): void {
    const sel = v >> 6;
    if (sel === 3) { // read-back
      for (let i = 0; i < 3; i++) {
        if (!(v & (2 << i))) continue;
        const c = this.ch[i]!;
        if (!(v & 0x20) && c.latched === 0) this.latch(c);
        if (!(v & 0x10) && !c.statusLatched) {
          c.statusLatched = true;
          c.statusValue = (this.out(c) ? 0x80 : 0) | (c.nullCount ? 0x40 : 0) | (c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0);
        }
      }
      return;
    }
    const c = this.ch[sel]!;
    const access = (v >> 4) & 3;
    if (access === 0) { if (c.latched === 0) this.latch(c); return; }
    c.access = access;
    c.mode = (v >> 1) & 7;
    if (c.mode > 5) c.mode -= 4; // 6, 7 alias 2, 3
    c.bcd = (v & 1) !== 0;
    c.writeHi = false; c.readHi = false; c.latched = 0; c.statusLatched = false;
    c.running = false; c.nullCount = true; c.triggered = false; c.frozen = -1;
    this.afterChange(sel);
  }

  private latch(c: Channel): void {
    c.latchValue = this.value(c);
    c.latched = c.access === 3 ? 2 : 1;
    c.readHi = false;
  }

  /** A complete count has been written: counting (re)starts now. */
  private load(i: number, count: number): void {
    const c = this.ch[i]!;
    c.reload = count & 0xffff;
    c.running = true;
    c.nullCount = false;
    c.startTick = this.nowTick;
    c.frozen = -1;
    if ((c.mode === 0 || c.mode === 4) && !c.gate) c.frozen = 0;
    this.afterChange(i);
  }

  private setPort61(v: number): void {
    const c = this.ch[2]!;
    const gate = (v & 1) !== 0;
    this.port61 = v & 0x0f;
    if (gate === c.gate) return;
    c.gate = gate;
    if (!c.running) return;
    if (gate) {
      if (c.mode === 1 || c.mode === 5) { c.triggered = true; c.startTick = this.nowTick; }
      else if (c.mode === 2 || c.mode === 3) c.startTick = this.nowTick;
      else if (c.frozen >= 0) { c.startTick = this.nowTick - c.frozen; c.frozen = -1; }
    } else if (c.mode === 0 || c.mode === 4) {
      c.frozen = Math.max(0, this.nowTick - c.startTick);
    }
  }

  private afterChange(i: number): void {
    if (i !== 0) return;
    const out = this.out(this.ch[0]!);
    if (out !== this.irqLevel) { this.irqLevel = out; this.irq0(out); }
  }

  /** The current guest time as last handed in (for diagnostics). */
  get timeNs(): number { return this.nowNs; }

  saveState(): PitState {
    return {
      kind: 'pit8254', version: 1, channels: this.ch.map((c) => ({ ...c })), nowTick: this.nowTick,
      nowNs: this.nowNs, irqLevel: this.irqLevel, port61: this.port61,
    };
  }

  loadState(s: PitState): void {
    checkState(s, 'pit8254', 1);
    this.ch = s.channels.map((c) => ({ ...c }));
    this.nowTick = s.nowTick; this.nowNs = s.nowNs; this.irqLevel = s.irqLevel; this.port61 = s.port61;
  }
}
