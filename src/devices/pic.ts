// 8259A programmable interrupt controller pair (master 0x20/0x21, slave 0xA0/0xA1 on
// master IR2, ELCR at 0x4D0/0x4D1). Implements the CPU's InterruptController.
// Imports nothing from Node; deterministic.

import type { InterruptController, PortHandler } from '../machine/bus.js';
import { checkState } from './state.js';

/** One 8259A chip. Field names follow the datasheet registers. */
class Chip {
  irr = 0;          // interrupt request register
  isr = 0;          // in-service register
  imr = 0;          // interrupt mask register (OCW1)
  lines = 0;        // current input levels (edge detection)
  elcr = 0;         // per-line level-trigger bits (ELCR, PC extension)
  ltim = false;     // ICW1.LTIM: all lines level triggered
  vectorBase = 0;   // ICW2 & 0xF8
  icw3 = 0;
  initStep = 0;     // 0 = operational; 2,3,4 = expecting that ICW
  needIcw4 = false;
  single = false;
  autoEoi = false;
  rotateAeoi = false;
  sfnm = false;     // special fully nested mode (ICW4 bit 4)
  readIsr = false;  // OCW3 RR/RIS
  pollCmd = false;  // OCW3 P: next read of the command port is a poll
  specialMask = false;
  lowest = 7;       // the IR with the lowest priority (rotation)

  constructor(readonly isMaster: boolean, readonly elcrMask: number) {}

  private levelMode(bit: number): boolean { return this.ltim || (this.elcr & bit) !== 0; }

  setLine(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.levelMode(bit)) {
      if (level) this.irr |= bit; else this.irr &= ~bit;
    } else if (level && !(this.lines & bit)) {
      this.irr |= bit; // rising edge latches the request
    }
    if (level) this.lines |= bit; else this.lines &= ~bit;
  }

  /** Priority rank of `mask` bits: 0 is highest; 8 means none. */
  private rank(mask: number): number {
    for (let p = 0; p < 8; p++) if (mask & (1 << ((p + this.lowest + 1) & 7))) return p;
    return 8;
  }

  /** The IR this chip would present now, or -1. */
  pending(): number {
    const req = this.irr & ~this.imr;
    const p = this.rank(req);
    if (p === 8) return -1;
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    // SFNM on the master: a further request from the slave may nest over an in-service IR2.
    if (this.sfnm && this.isMaster) inService &= ~(1 << 2);
    if (p < this.rank(inService)) return (p + this.lowest + 1) & 7;
    return -1;
  }

  /** INTA for line `irq` (which pending() returned). */
  ack(irq: number): void {
    const bit = 1 << irq;
    if (!this.levelMode(bit)) this.irr &= ~bit;
    if (this.autoEoi) {
      if (this.rotateAeoi) this.lowest = irq;
    } else {
      this.isr |= bit;
    }
  }

  private nonSpecificEoi(rotate: boolean): void {
    const p = this.rank(this.specialMask ? this.isr & ~this.imr : this.isr);
    if (p === 8) return;
    const irq = (p + this.lowest + 1) & 7;
    this.isr &= ~(1 << irq);
    if (rotate) this.lowest = irq;
  }

  writeCommand(v: number): void {
    if (v & 0x10) { // ICW1
      this.initStep = 2;
      this.needIcw4 = (v & 1) !== 0;
      this.single = (v & 2) !== 0;
      this.ltim = (v & 8) !== 0;
      this.imr = 0; this.isr = 0; this.irr = 0; this.lines = 0;
      this.lowest = 7; this.specialMask = false; this.readIsr = false; this.pollCmd = false;
      this.autoEoi = false; this.rotateAeoi = false; this.sfnm = false;
      return;
    }
    if (v & 0x08) { // OCW3
      if (v & 0x04) this.pollCmd = true;
      if (v & 0x02) this.readIsr = (v & 1) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      return;
    }
    // OCW2
    const level = v & 7;
    switch (v >> 5) {
      case 0: this.rotateAeoi = false; break;
      case 4: this.rotateAeoi = true; break;
      case 1: this.nonSpecificEoi(false); break;
      case 5: this.nonSpecificEoi(true); break;
      case 3: this.isr &= ~(1 << level); break;
      case 7: this.isr &= ~(1 << level); this.lowest = level; break;
      case 6: this.lowest = level; break;
      default: break; // 2: no operation
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.needIcw4 ? 4 : 0;
        return;
      case 4:
        this.autoEoi = (v & 2) !== 0;
        this.sfnm = (v & 0x10) !== 0;
        this.initStep = 0;
        return;
      default:
        this.imr = v & 0xff;
    }
  }

  save(): ChipState {
    return {
      irr: this.irr, isr: this.isr, imr: this.imr, lines: this.lines, elcr: this.elcr, ltim: this.ltim,
      vectorBase: this.vectorBase, icw3: this.icw3, initStep: this.initStep, needIcw4: this.needIcw4,
      single: this.single, autoEoi: this.autoEoi, rotateAeoi: this.rotateAeoi, sfnm: this.sfnm,
      readIsr: this.readIsr, pollCmd: this.pollCmd, specialMask: this.specialMask, lowest: this.lowest,
    };
  }

  load(s: ChipState): void { Object.assign(this, s); }
}

export interface ChipState {
  irr: number; isr: number; imr: number; lines: number; elcr: number; ltim: boolean;
  vectorBase: number; icw3: number; initStep: number; needIcw4: boolean; single: boolean;
  autoEoi: boolean; rotateAeoi: boolean; sfnm: boolean; readIsr: boolean; pollCmd: boolean;
  specialMask: boolean; lowest: number;
}

export interface PicState { kind: 'pic8259'; version: 1; master: ChipState; slave: ChipState }

/**
 * The cascaded pair. Lines 0-7 are the master's IR0-7, 8-15 the slave's IR0-7 (IR2 of the
 * master is the cascade and should not be driven directly). Ports: register 0x20-0x21,
 * 0xA0-0xA1 and (optionally) 0x4D0-0x4D1 on the bus.
 */
export class Pic8259 implements InterruptController, PortHandler {
  private readonly master = new Chip(true, 0xf8);
  private readonly slave = new Chip(false, 0xde);
  private intr = false;
  /** Called whenever the INTR output changes (the CPU may use it to end a block early). */
  onIntrChange: ((level: boolean) => void) | undefined;

  /** Drive IRQ line 0..15 (ISA numbering). Edge-triggered lines latch on a rising edge. */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq - 8, level);
    this.update();
  }

  /** A line-shaped callback for one IRQ, handy for device constructors. */
  line(irq: number): (level: boolean) => void { return (level) => this.setIrq(irq, level); }

  intrPending(): boolean { return this.intr; }

  intrAcknowledge(): number {
    const m = this.master.pending();
    let vector: number;
    if (m < 0) {
      vector = this.master.vectorBase | 7; // spurious IRQ 7: ISR untouched
    } else {
      this.master.ack(m);
      if (m === 2 && !this.master.single) {
        const s = this.slave.pending();
        if (s < 0) vector = this.slave.vectorBase | 7; // spurious IRQ 15
        else { this.slave.ack(s); vector = this.slave.vectorBase + s; }
      } else {
        vector = this.master.vectorBase + m;
      }
    }
    this.update();
    return vector;
  }

  private update(): void {
    // The cascade input follows the slave's INT output as a level, whatever the master's
    // trigger mode, so a request still pending after a master EOI is not lost.
    if (!this.master.single) {
      if (this.slave.pending() >= 0) { this.master.irr |= 4; this.master.lines |= 4; }
      else { this.master.irr &= ~4; this.master.lines &= ~4; }
    }
    const intr = this.master.pending() >= 0;
    if (intr !== this.intr) {
      this.intr = intr;
      if (this.onIntrChange) this.onIntrChange(intr);
    }
  }

  /** Poll command (OCW3 P=1): acknowledge like INTA and return 0x80|IR, or 0. */
  private poll(chip: Chip): number {
    chip.pollCmd = false;
    const irq = chip.pending();
    if (irq < 0) return 0;
    chip.ack(irq);
    this.update();
    return 0x80 | irq;
  }

  portRead(port: number, _size: 1 | 2 | 4): number {
    switch (port) {
      case 0x20: case 0xa0: {
        const chip = port === 0x20 ? this.master : this.slave;
        if (chip.pollCmd) return this.poll(chip);
        return chip.readIsr ? chip.isr : chip.irr;
      }
      case 0x21: return this.master.imr;
      case 0xa1: return this.slave.imr;
      case 0x4d0: return this.master.elcr;
      case 0x4d1: return this.slave.elcr;
      default: return 0xff;
    }
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    switch (port) {
      case 0x20: this.master.writeCommand(v); break;
      case 0x21: this.master.writeData(v); break;
      case 0xa0: this.slave.writeCommand(v); break;
      case 0xa1: this.slave.writeData(v); break;
      case 0x4d0: this.master.elcr = v & this.master.elcrMask; break;
      case 0x4d1: this.slave.elcr = v & this.slave.elcrMask; break;
      default: return;
    }
    this.update();
  }

  saveState(): PicState {
    return { kind: 'pic8259', version: 1, master: this.master.save(), slave: this.slave.save() };
  }

  loadState(s: PicState): void {
    checkState(s, 'pic8259', 1);
    this.master.load(s.master);
    this.slave.load(s.slave);
    this.intr = this.master.pending() >= 0;
  }
}
