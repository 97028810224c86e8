// A virtual host clock for tests whose verdict must not depend on machine load.

import type { HostClock } from '../../src/machine/gate.js';

/** Virtual host clock: `nsPerInsn` per retired instruction, and at least `idleStepNs` per read,
 *  so time also moves while the guest idles in HLT (where the instruction count stands still).
 *  The wall clock is fixed (2026-01-01 12:00:00.500 UTC). Deterministic for a deterministic guest. */
export class InstructionClock implements HostClock {
  private last = 0;
  constructor(private readonly icount: () => number, private readonly nsPerInsn: number, private readonly idleStepNs: number) {}
  monoNs(): number { this.last = Math.max(this.last + this.idleStepNs, this.icount() * this.nsPerInsn); return this.last; }
  wallMs(): number { return Date.UTC(2026, 0, 1, 12, 0, 0, 500); }
}
