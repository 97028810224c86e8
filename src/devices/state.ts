// Shared helpers for device snapshots: every model's saveState() returns a plain object
// tagged { kind, version }; loadState() checks the tag first. Imports nothing.

import { BadStateError } from '../errors.js';

export interface DeviceState { kind: string; version: number }

/** Throws a clear error when a snapshot does not belong to this model/version. */
export function checkState(s: unknown, kind: string, version: number): void {
  const o = s as Partial<DeviceState> | null;
  if (!o || typeof o !== 'object' || o.kind !== kind) {
    throw new BadStateError(`device state: expected kind '${kind}', got '${String(o && (o as DeviceState).kind)}'`);
  }
  if (o.version !== version) throw new BadStateError(`device state: ${kind} version ${String(o.version)} not supported (want ${version})`);
}

/** A line into an interrupt controller: level true = asserted. */
export type IrqLine = (level: boolean) => void;
