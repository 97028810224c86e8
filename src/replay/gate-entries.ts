// The 1:1 mapping between the gate's records (src/machine/gate.ts) and log entries (format.ts
// M13). Pure functions; imports only types and constants. Every GateRecord round-trips exactly
// (kind, chan, payload, arg), so a log replays the same gate sequence the primary produced.

import { GateKind, type GateRecord } from '../machine/gate.js';
import type { LogEntry } from './format.js';
import { X86ftError } from '../errors.js';

const SECTOR = 512;
const TWO32 = 0x100000000;

/** Thrown when a gate record cannot be logged (a recorder bug, e.g. a disk offset not sector-aligned). */
export class UnloggableRecordError extends X86ftError {
  constructor(msg: string) { super('X86FT_UNLOGGABLE_RECORD', msg); this.name = 'UnloggableRecordError'; }
}

function sectorOf(r: GateRecord): number {
  const off = r.arg ?? 0;
  if (off % SECTOR !== 0) throw new UnloggableRecordError(`disk ${r.chan} offset ${off} is not a multiple of ${SECTOR}`);
  return off / SECTOR;
}

/** The log entry for one gate record. */
export function gateToEntry(r: GateRecord): LogEntry {
  const icount = r.icount;
  const p = r.payload;
  switch (r.kind) {
    case GateKind.Time: return { icount, kind: 'host-time', payload: { ns: p as number } };
    case GateKind.Wall: return { icount, kind: 'rtc', payload: { epochMs: p as number } };
    case GateKind.ConsoleIn: return { icount, kind: 'console-input', payload: { unit: r.chan, data: p as Uint8Array } };
    case GateKind.NetRx: return { icount, kind: 'net-rx', payload: { device: r.chan, data: p as Uint8Array } };
    case GateKind.Irq: return { icount, kind: 'interrupt', payload: { irq: r.chan, level: p as number } };
    case GateKind.Tsc: {
      const v = p as number;
      return { icount, kind: 'tsc', payload: { lo: v % TWO32, hi: Math.floor(v / TWO32) } };
    }
    case GateKind.Rdrand: {
      const b = p as Uint8Array;
      const dv = new DataView(b.buffer, b.byteOffset, 8);
      return { icount, kind: 'rdrand', payload: { size: 8, lo: dv.getUint32(0, true), hi: dv.getUint32(4, true), ok: true } };
    }
    case GateKind.DiskRead:
      if (typeof p === 'number') return { icount, kind: 'disk-status', payload: { device: r.chan, op: 0, sector: sectorOf(r), status: 1 } };
      return { icount, kind: 'disk-read', payload: { device: r.chan, sector: sectorOf(r), data: p } };
    case GateKind.DiskWrite:
      return { icount, kind: 'disk-status', payload: { device: r.chan, op: 1, sector: sectorOf(r), status: p as number } };
    case GateKind.DiskFlush:
      return { icount, kind: 'disk-status', payload: { device: r.chan, op: 2, sector: 0, status: p as number } };
    default: throw new UnloggableRecordError(`unknown gate record kind ${String((r as GateRecord).kind)}`);
  }
}

/** The gate record a value entry stands for, or null for control and digest entries. */
export function entryToGate(e: LogEntry): GateRecord | null {
  const icount = e.icount;
  switch (e.kind) {
    case 'host-time': return { icount, kind: GateKind.Time, chan: 0, payload: e.payload.ns };
    case 'rtc': return { icount, kind: GateKind.Wall, chan: 0, payload: e.payload.epochMs };
    case 'console-input': return { icount, kind: GateKind.ConsoleIn, chan: e.payload.unit, payload: e.payload.data };
    case 'net-rx': return { icount, kind: GateKind.NetRx, chan: e.payload.device, payload: e.payload.data };
    case 'interrupt': return { icount, kind: GateKind.Irq, chan: e.payload.irq, payload: e.payload.level };
    case 'tsc': return { icount, kind: GateKind.Tsc, chan: 0, payload: e.payload.hi * TWO32 + e.payload.lo };
    case 'rdrand': {
      const b = new Uint8Array(8);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, e.payload.lo, true); dv.setUint32(4, e.payload.hi, true);
      return { icount, kind: GateKind.Rdrand, chan: 0, payload: b };
    }
    case 'disk-read': return { icount, kind: GateKind.DiskRead, chan: e.payload.device, payload: e.payload.data, arg: e.payload.sector * SECTOR };
    case 'disk-status': {
      const { device, op, sector, status } = e.payload;
      if (op === 0) return { icount, kind: GateKind.DiskRead, chan: device, payload: 1, arg: sector * SECTOR };
      if (op === 1) return { icount, kind: GateKind.DiskWrite, chan: device, payload: status, arg: sector * SECTOR };
      return { icount, kind: GateKind.DiskFlush, chan: device, payload: status };
    }
    case 'port-read': case 'mmio-read':
      // The gate has no such records (device reads are computed by the models); a log holding one
      // was made by something else.
      throw new UnloggableRecordError(`${e.kind} entries have no gate record in this machine`);
    default: return null;
  }
}
