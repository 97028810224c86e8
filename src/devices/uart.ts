// 16550A UART (COM1 at 0x3F8, IRQ 4): registers, 16-byte FIFOs, interrupt identification.
// Imports nothing from Node. Received bytes arrive only through rxBytes() (called by the
// gate); transmitted bytes leave through the `tx` sink; time arrives through setTime().

import type { PortHandler } from '../machine/bus.js';
import { checkState, type IrqLine } from './state.js';

const FIFO_SIZE = 16;
const TRIGGER = [1, 4, 8, 14];

// LSR bits
const LSR_DR = 0x01, LSR_OE = 0x02, LSR_BI = 0x10, LSR_THRE = 0x20, LSR_TEMT = 0x40, LSR_FIFOERR = 0x80;
// IER bits
const IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08;
// MCR bits
const MCR_RTS = 0x02, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;

export interface UartState {
  kind: 'uart16550'; version: 1;
  rx: number[]; ier: number; lcr: number; mcr: number; lsrErr: number; msr: number; scr: number;
  dll: number; dlm: number; fcr: number; thrIntPending: boolean; timeoutPending: boolean;
  lastRxActivityNs: number; nowNs: number; irqLevel: boolean;
}

export class Uart16550 implements PortHandler {
  private rx: number[] = [];
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsrErr = 0;          // OE/PE/FE/BI latched until LSR is read
  private msr = 0xb0;          // DCD, DSR, CTS asserted (a cable is attached)
  private scr = 0;
  private dll = 1;
  private dlm = 0;
  private fcr = 0;             // bit 0 FIFO enable, bits 7:6 trigger (others are actions)
  private thrIntPending = false;
  private timeoutPending = false;
  private lastRxActivityNs = 0;
  private nowNs = 0;
  private irqLevel = false;

  /**
   * @param base first port (0x3F8 for COM1)
   * @param tx   sink for transmitted bytes (the replayer passes a no-op)
   * @param irq  the interrupt line (to the PIC, IRQ 4 for COM1)
   */
  constructor(readonly base: number, private readonly tx: (byte: number) => void, private readonly irq: IrqLine) {}

  // ---- host side (called by the gate) -------------------------------------------------

  /**
   * How many bytes the host console may send now: the free receiver space, and nothing while the
   * guest does not assert RTS (MCR bit 1). The console is a sender with RTS/CTS hardware flow
   * control, so input that is waiting at boot (a file, piped stdin) arrives once the guest's
   * driver is ready, not before its UART initialisation clears the FIFO. A pure query (only the
   * live gate asks).
   */
  rxSpace(): number {
    if (this.mcr & MCR_LOOP) return 0; // loopback disconnects the serial input
    if (!(this.mcr & MCR_RTS)) return 0;
    return Math.max(0, this.fifoCap() - this.rx.length);
  }

  /** Bytes received from the line at the current instruction. Excess bytes overrun. */
  rxBytes(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.receive(bytes[i]!);
    this.update();
  }

  /** Guest time (ns) when the character timeout can next fire (Infinity: no received bytes wait for it). */
  nextEventNs(): number {
    if (!this.fifoOn() || this.rx.length === 0 || this.rx.length >= this.trigger() || this.timeoutPending) return Infinity;
    return Math.max(this.nowNs, this.lastRxActivityNs + this.charTimeNs() * 4);
  }

  /** Guest time (ns) from the gate: drives the character timeout interrupt. */
  setTime(ns: number): void {
    this.nowNs = ns;
    if (this.fifoOn() && this.rx.length > 0 && this.rx.length < this.trigger() &&
        ns - this.lastRxActivityNs >= this.charTimeNs() * 4) {
      this.timeoutPending = true;
    }
    this.update();
  }

  // ---- guest side ----------------------------------------------------------------------

  portRead(port: number, _size: 1 | 2 | 4): number {
    const dlab = (this.lcr & 0x80) !== 0;
    switch ((port - this.base) & 7) {
      case 0: {
        if (dlab) return this.dll;
        const b = this.rx.length ? this.rx.shift()! : 0;
        this.timeoutPending = false;
        this.lastRxActivityNs = this.nowNs;
        this.update();
        return b;
      }
      case 1: return dlab ? this.dlm : this.ier;
      case 2: {
        const id = this.iid();
        if (id === 0x02) this.thrIntPending = false; // reading IIR clears a THRE interrupt
        this.update();
        return id | (this.fifoOn() ? 0xc0 : 0);
      }
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: {
        const v = this.lsr();
        this.lsrErr = 0;
        this.update();
        return v;
      }
      case 6: {
        const v = this.readMsr();
        this.msr &= 0xf0; // reading clears the delta bits
        this.update();
        return v;
      }
      default: return this.scr;
    }
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & 0x80) !== 0;
    switch ((port - this.base) & 7) {
      case 0:
        if (dlab) { this.dll = v; break; }
        if (this.mcr & MCR_LOOP) this.receive(v);
        else this.tx(v);
        // Transmission is instantaneous: THR (and TSR) are empty again at once.
        this.thrIntPending = true;
        break;
      case 1:
        if (dlab) { this.dlm = v; break; }
        // Enabling ETBEI while THR is empty raises a THRE interrupt (16550A behaviour).
        if ((v & IER_THRE) && !(this.ier & IER_THRE)) this.thrIntPending = true;
        this.ier = v & 0x0f;
        break;
      case 2: {
        const enable = (v & 1) !== 0;
        if (enable !== this.fifoOn()) this.rx = []; // changing the FIFO mode clears both FIFOs
        if (enable && (v & 2)) { this.rx = []; this.timeoutPending = false; }
        this.fcr = enable ? (v & 0xc1) : 0;
        break;
      }
      case 3: this.lcr = v; break;
      case 4: {
        const old = this.mcr;
        this.mcr = v & 0x1f;
        if ((old ^ this.mcr) & 0x1f) this.modemLinesChanged(old);
        break;
      }
      case 5: break; // LSR is read-only (factory test)
      case 6: break;
      default: this.scr = v;
    }
    this.update();
  }

  // ---- internals -----------------------------------------------------------------------

  private fifoOn(): boolean { return (this.fcr & 1) !== 0; }
  private fifoCap(): number { return this.fifoOn() ? FIFO_SIZE : 1; }
  private trigger(): number { return this.fifoOn() ? TRIGGER[(this.fcr >> 6) & 3]! : 1; }

  /** Duration of one character (start + data + parity + stop bits) at the programmed rate. */
  private charTimeNs(): number {
    const div = (this.dlm << 8) | this.dll || 0x10000;
    const bits = 1 + 5 + (this.lcr & 3) + ((this.lcr & 8) ? 1 : 0) + ((this.lcr & 4) ? 2 : 1);
    return Math.floor((bits * div * 1e9) / 115200);
  }

  private receive(b: number): void {
    if (this.rx.length >= this.fifoCap()) {
      this.lsrErr |= LSR_OE; // the byte in the shift register is lost
    } else {
      this.rx.push(b);
    }
    this.timeoutPending = false;
    this.lastRxActivityNs = this.nowNs;
  }

  private lsr(): number {
    let v = LSR_THRE | LSR_TEMT | this.lsrErr;
    if (this.rx.length) v |= LSR_DR;
    if (this.fifoOn() && (this.lsrErr & (LSR_BI | 0x0c))) v |= LSR_FIFOERR;
    return v;
  }

  private readMsr(): number {
    if (!(this.mcr & MCR_LOOP)) return this.msr;
    return this.loopLines(this.mcr) | (this.msr & 0x0f);
  }

  private modemLinesChanged(oldMcr: number): void {
    if (!((this.mcr | oldMcr) & MCR_LOOP)) return;
    const cur = this.mcr & MCR_LOOP ? this.loopLines(this.mcr) : 0xb0;
    const prev = oldMcr & MCR_LOOP ? this.loopLines(oldMcr) : 0xb0;
    const diff = cur ^ prev;
    let delta = 0;
    if (diff & 0x10) delta |= 0x01;                           // DCTS
    if (diff & 0x20) delta |= 0x02;                           // DDSR
    if ((prev & 0x40) && !(cur & 0x40)) delta |= 0x04;        // TERI: trailing edge of RI
    if (diff & 0x80) delta |= 0x08;                           // DDCD
    this.msr = (this.mcr & MCR_LOOP ? cur : 0xb0) | (this.msr & 0x0f) | delta;
  }

  /** Loopback wiring: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
  private loopLines(m: number): number {
    return ((m & 2) ? 0x10 : 0) | ((m & 1) ? 0x20 : 0) | ((m & 4) ? 0x40 : 0) | ((m & 8) ? 0x80 : 0);
  }

  /** Interrupt identification, in datasheet priority order; 0x01 = none pending. */
  private iid(): number {
    if ((this.ier & IER_RLS) && (this.lsrErr & 0x1e)) return 0x06;
    if (this.ier & IER_RDA) {
      if (this.rx.length >= this.trigger()) return 0x04;
      if (this.timeoutPending && this.rx.length) return 0x0c;
    }
    if ((this.ier & IER_THRE) && this.thrIntPending) return 0x02;
    if ((this.ier & IER_MS) && (this.msr & 0x0f)) return 0x00;
    return 0x01;
  }

  /** IRQ output: the PC routes it through OUT2; loopback disconnects it. */
  private update(): void {
    const level = this.iid() !== 0x01 && (this.mcr & MCR_OUT2) !== 0 && !(this.mcr & MCR_LOOP);
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }

  saveState(): UartState {
    return {
      kind: 'uart16550', version: 1, rx: this.rx.slice(), ier: this.ier, lcr: this.lcr, mcr: this.mcr,
      lsrErr: this.lsrErr, msr: this.msr, scr: this.scr, dll: this.dll, dlm: this.dlm, fcr: this.fcr,
      thrIntPending: this.thrIntPending, timeoutPending: this.timeoutPending,
      lastRxActivityNs: this.lastRxActivityNs, nowNs: this.nowNs, irqLevel: this.irqLevel,
    };
  }

  /** Restores registers; the IRQ line level is restored silently (the PIC has its own state). */
  loadState(s: UartState): void {
    checkState(s, 'uart16550', 1);
    this.rx = s.rx.slice(); this.ier = s.ier; this.lcr = s.lcr; this.mcr = s.mcr; this.lsrErr = s.lsrErr;
    this.msr = s.msr; this.scr = s.scr; this.dll = s.dll; this.dlm = s.dlm; this.fcr = s.fcr;
    this.thrIntPending = s.thrIntPending; this.timeoutPending = s.timeoutPending;
    this.lastRxActivityNs = s.lastRxActivityNs; this.nowNs = s.nowNs; this.irqLevel = s.irqLevel;
  }
}
