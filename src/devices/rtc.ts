// MC146818 RTC and CMOS RAM at 0x70 (index, bit 7 = NMI disable) / 0x71 (data), IRQ 8.
// Imports nothing from Node and never reads the host clock: the gate hands in the wall clock
// at guest time 0 (setWall) and the guest time (setTime); the RTC date is their sum plus any
// offset the guest programmed.

import type { PortHandler } from '../machine/bus.js';
import { checkState, type IrqLine } from './state.js';

const REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32;
const B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_DM = 0x04, B_24H = 0x02;
const C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10;
const UIP_NS = 244_000;
const TIME_REGS = [0, 2, 4, 6, 7, 8, 9, CENTURY];

export interface RtcState {
  kind: 'rtc146818'; version: 1;
  cmos: number[]; index: number; nmiDisabled: boolean; wallBaseMs: number; nowNs: number; offsetMs: number;
  held: number[]; regC: number; lastSecond: number; lastPeriodic: number; uipPending: boolean; irqLevel: boolean;
}

export class Rtc146818 implements PortHandler {
  private cmos = new Array<number>(128).fill(0);
  private index = 0;
  private nmiDisabled = false;
  private wallBaseMs = 0;  // host wall clock (ms since 1970, UTC) at guest time 0
  private nowNs = 0;       // guest time
  private offsetMs = 0;    // guest-programmed adjustment
  private held: number[] = new Array<number>(128).fill(0); // time registers frozen while SET=1
  private regC = 0;
  private lastSecond = 0;
  private lastPeriodic = 0;
  private uipPending = false;
  private irqLevel = false;

  /** @param irq8 the interrupt line (PIC IRQ 8). */
  constructor(private readonly irq8: IrqLine) {
    this.cmos[REG_A] = 0x26;  // 32.768 kHz time base, 1024 Hz periodic rate
    this.cmos[REG_B] = B_24H; // 24-hour, BCD, interrupts off
    this.cmos[REG_D] = 0x80;  // valid RAM and time
  }

  /** NMI mask bit of port 0x70 (bit 7 written = NMIs disabled). */
  get nmiMasked(): boolean { return this.nmiDisabled; }

  /** The machine fills NVRAM bytes (memory sizes etc.) before boot. */
  setNvram(index: number, value: number): void { this.cmos[index & 0x7f] = value & 0xff; }

  /** Wall-clock milliseconds (UTC) corresponding to guest time 0; from the gate. */
  setWall(ms: number): void {
    this.wallBaseMs = ms;
    this.lastSecond = Math.floor(this.nowMs() / 1000);
  }

  /** Guest time from the gate: advances the clock, sets PF/UF/AF, UIP. */
  setTime(ns: number): void {
    if (ns < this.nowNs) return;
    const oldNs = this.nowNs;
    this.nowNs = ns;
    const rate = this.cmos[REG_A]! & 0x0f;
    if (rate !== 0) {
      const idx = Math.floor(ns / this.periodNs(rate));
      if (idx !== this.lastPeriodic && Math.floor(oldNs / this.periodNs(rate)) !== idx) this.regC |= C_PF;
      this.lastPeriodic = idx;
    }
    if (!(this.cmos[REG_B]! & B_SET)) {
      const sec = Math.floor(this.nowMs() / 1000);
      if (sec !== this.lastSecond) {
        this.lastSecond = sec;
        this.uipPending = true;
        this.regC |= C_UF;
        if (this.alarmMatches()) this.regC |= C_AF;
      }
    }
    this.update();
  }

  /**
   * Guest time (ns) of the next event that can raise IRQ 8 (a periodic, update-ended or alarm flag
   * whose interrupt is enabled), Infinity when none is enabled. Flags whose interrupt is off are
   * set at the next setTime() all the same (the guest reads them only when running).
   */
  nextEventNs(): number {
    const b = this.cmos[REG_B]!;
    let next = Infinity;
    const rate = this.cmos[REG_A]! & 0x0f;
    if ((b & B_PIE) && rate !== 0) {
      const p = this.periodNs(rate);
      next = (Math.floor(this.nowNs / p) + 1) * p;
    }
    if ((b & (B_UIE | B_AIE)) && !(b & B_SET)) {
      // the next second of the RTC's clock: nowMs() = wallBaseMs + floor(ns / 1e6) + offsetMs
      const sec = (Math.floor(this.nowMs() / 1000) + 1) * 1000;
      next = Math.min(next, (sec - this.wallBaseMs - this.offsetMs) * 1e6);
    }
    return Math.max(next, this.nowNs);
  }

  private periodNs(rate: number): number {
    const hz = rate <= 2 ? 256 >> (rate - 1) : 32768 >> (rate - 1);
    return 1e9 / hz;
  }

  private nowMs(): number { return this.wallBaseMs + Math.floor(this.nowNs / 1e6) + this.offsetMs; }

  private bin(): boolean { return (this.cmos[REG_B]! & B_DM) !== 0; }
  private enc(v: number): number { return this.bin() ? v : ((Math.floor(v / 10) % 10) << 4) | (v % 10); }
  private dec(v: number): number { return this.bin() ? v : ((v >> 4) & 0x0f) * 10 + (v & 0x0f); }

  /** The time registers' current values, encoded per register B. */
  private encodeNow(): void {
    const d = new Date(Math.floor(this.nowMs() / 1000) * 1000); // pure: no host clock read
    const h = d.getUTCHours();
    let hour: number;
    if (this.cmos[REG_B]! & B_24H) hour = this.enc(h);
    else hour = this.enc(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
    this.held[0] = this.enc(d.getUTCSeconds());
    this.held[2] = this.enc(d.getUTCMinutes());
    this.held[4] = hour;
    this.held[6] = d.getUTCDay() + 1;
    this.held[7] = this.enc(d.getUTCDate());
    this.held[8] = this.enc(d.getUTCMonth() + 1);
    this.held[9] = this.enc(d.getUTCFullYear() % 100);
    this.held[CENTURY] = this.enc(Math.floor(d.getUTCFullYear() / 100));
  }

  /** Seconds since 1970 described by the held time registers. */
  private decodeHeld(): number {
    let hour: number;
    const hr = this.held[4]!;
    if (this.cmos[REG_B]! & B_24H) hour = this.dec(hr);
    else hour = (this.dec(hr & 0x7f) % 12) + (hr & 0x80 ? 12 : 0);
    const year = this.dec(this.held[CENTURY]!) * 100 + this.dec(this.held[9]!);
    const ms = Date.UTC(year, this.dec(this.held[8]!) - 1, this.dec(this.held[7]!), hour,
      this.dec(this.held[2]!), this.dec(this.held[0]!));
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : Math.floor(this.nowMs() / 1000);
  }

  private applyHeld(): void {
    const wantMs = this.decodeHeld() * 1000;
    this.offsetMs += wantMs - this.nowMs();
    this.lastSecond = Math.floor(this.nowMs() / 1000);
  }

  private alarmMatches(): boolean {
    this.encodeNow();
    const m = (alarmReg: number, timeReg: number): boolean => {
      const a = this.cmos[alarmReg]!;
      return (a & 0xc0) === 0xc0 || a === this.held[timeReg];
    };
    return m(1, 0) && m(3, 2) && m(5, 4);
  }

  private update(): void {
    const b = this.cmos[REG_B]!;
    const c = this.regC;
    const level = ((c & C_PF) !== 0 && (b & B_PIE) !== 0) || ((c & C_AF) !== 0 && (b & B_AIE) !== 0) ||
      ((c & C_UF) !== 0 && (b & B_UIE) !== 0);
    if (level) this.regC |= C_IRQF; else this.regC &= ~C_IRQF;
    if (level !== this.irqLevel) { this.irqLevel = level; this.irq8(level); }
  }

  portRead(port: number, _size: 1 | 2 | 4): number {
    if (port === 0x70) return this.index | (this.nmiDisabled ? 0x80 : 0);
    const i = this.index;
    switch (i) {
      case REG_A: {
        const setMode = (this.cmos[REG_B]! & B_SET) !== 0;
        const baseNs = ((((this.wallBaseMs + this.offsetMs) % 1000) + 1000) % 1000) * 1e6;
        const inSecNs = (baseNs + (this.nowNs % 1e9)) % 1e9;
        // UIP: the 244 us before an update, and (because guest time advances in steps) once
        // on the first read after an update happened, so "wait for UIP" loops terminate.
        const uip = !setMode && (this.uipPending || inSecNs >= 1e9 - UIP_NS);
        if (this.uipPending) this.uipPending = false;
        return (this.cmos[REG_A]! & 0x7f) | (uip ? 0x80 : 0);
      }
      case REG_C: {
        const v = this.regC;
        this.regC = 0;
        this.update();
        return v;
      }
      case REG_D: return 0x80;
      default:
        if (TIME_REGS.includes(i)) {
          if (!(this.cmos[REG_B]! & B_SET)) this.encodeNow();
          return this.held[i]!;
        }
        return this.cmos[i]!;
    }
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    if (port === 0x70) { this.index = v & 0x7f; this.nmiDisabled = (v & 0x80) !== 0; return; }
    const i = this.index;
    switch (i) {
      case REG_A: {
        const rate = v & 0x0f;
        this.cmos[REG_A] = v & 0x7f;
        if (rate) this.lastPeriodic = Math.floor(this.nowNs / this.periodNs(rate));
        break;
      }
      case REG_B: {
        const old = this.cmos[REG_B]!;
        if ((v & B_SET) && !(old & B_SET)) this.encodeNow();       // freeze the registers
        this.cmos[REG_B] = (v & B_SET) ? v & ~B_UIE : v;           // SET clears UIE
        if (!(v & B_SET) && (old & B_SET)) this.applyHeld();       // resume from the new time
        break;
      }
      case REG_C: case REG_D: break; // read-only
      default:
        if (TIME_REGS.includes(i)) {
          if (this.cmos[REG_B]! & B_SET) this.held[i] = v;
          else { this.encodeNow(); this.held[i] = v; this.applyHeld(); }
        } else {
          this.cmos[i] = v;
        }
    }
    this.update();
  }

  saveState(): RtcState {
    return {
      kind: 'rtc146818', version: 1, cmos: this.cmos.slice(), index: this.index, nmiDisabled: this.nmiDisabled,
      wallBaseMs: this.wallBaseMs, nowNs: this.nowNs, offsetMs: this.offsetMs, held: this.held.slice(),
      regC: this.regC, lastSecond: this.lastSecond, lastPeriodic: this.lastPeriodic,
      uipPending: this.uipPending, irqLevel: this.irqLevel,
    };
  }

  loadState(s: RtcState): void {
    checkState(s, 'rtc146818', 1);
    this.cmos = s.cmos.slice(); this.index = s.index; this.nmiDisabled = s.nmiDisabled;
    this.wallBaseMs = s.wallBaseMs; this.nowNs = s.nowNs; this.offsetMs = s.offsetMs; this.held = s.held.slice();
    this.regC = s.regC; this.lastSecond = s.lastSecond; this.lastPeriodic = s.lastPeriodic;
    this.uipPending = s.uipPending; this.irqLevel = s.irqLevel;
  }
}
