// Debug-exit port (0xF4): any OUT ends the run with status (value & 0xFF), reported to the
// machine through a callback. Reads return 0xFF. Imports nothing from Node.

import type { PortHandler } from '../machine/bus.js';
import { checkState } from './state.js';

export interface DebugExitState { kind: 'debugexit'; version: 1; exitStatus: number | null }

export class DebugExit implements PortHandler {
  private exitStatus: number | null = null;

  /** @param onExit called once per write with the exit status; the machine stops its run loop. */
  constructor(private readonly onExit: (status: number) => void) {}

  /** The status of the last exit write, or null. */
  get status(): number | null { return this.exitStatus; }

  portRead(_port: number, _size: 1 | 2 | 4): number { return 0xff; }

  portWrite(_port: number, _size: 1 | 2 | 4, value: number): void {
    this.exitStatus = value & 0xff;
    this.onExit(this.exitStatus);
  }

  saveState(): DebugExitState { return { kind: 'debugexit', version: 1, exitStatus: this.exitStatus }; }

  loadState(s: DebugExitState): void {
    checkState(s, 'debugexit', 1);
    this.exitStatus = s.exitStatus;
  }
}
