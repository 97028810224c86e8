// Host clock and entropy backends: the only places the emulator reads host time or host
// randomness. They are handed to the LiveGate, which logs every value it takes from them.

import { randomFillSync } from 'node:crypto';
import type { HostClock, HostEntropy } from '../../machine/gate.js';

/** process.hrtime for monotonic time, Date.now for the wall clock. */
export class SystemClock implements HostClock {
  private readonly origin = process.hrtime.bigint();
  monoNs(): number { return Number(process.hrtime.bigint() - this.origin); }
  wallMs(): number { return Date.now(); }
}

/** A clock that only moves when told to (tests, and deterministic runs without a log). */
export class ManualClock implements HostClock {
  constructor(public ns = 0, public wall = 0) {}
  advance(ns: number): void { this.ns += ns; }
  monoNs(): number { return this.ns; }
  wallMs(): number { return this.wall + Math.floor(this.ns / 1e6); }
}

/** The OS CSPRNG. */
export class SystemEntropy implements HostEntropy {
  fill(buf: Uint8Array): void { randomFillSync(buf); }
}
