// The full architectural state of a machine as text or JSON (`x86ft replay LOG --stop-at N --dump [--json]`):
// every CPU_FIELDS register (the register file snapshots and digests use: GPRs, RIP, RFLAGS, control,
// segment, descriptor-table, MSR, debug, SSE and x87 registers, halted/shadow, icount) and the interrupt
// controller's pending request.
import type { Machine } from '../machine/machine.js';
import { CPU_FIELDS } from '../cpu/state.js';

/** JSON shape: { instructions, registers: { NAME: "0x…" (hex, most significant word first) }, interruptPending }. */
export interface StateDump { instructions: number; registers: Record<string, string>; interruptPending: boolean }

export function dumpState(m: Machine): StateDump {
  const registers: Record<string, string> = {};
  for (const f of CPU_FIELDS) {
    const w = new Uint32Array(f.words);
    f.get(m.cpu, w, 0);
    let v = 0n;
    for (let k = f.words - 1; k >= 0; k--) v = (v << 32n) | BigInt(w[k]!);
    registers[f.name] = '0x' + v.toString(16);
  }
  return { instructions: m.cpu.icount, registers, interruptPending: m.pic.intrPending() };
}

export function formatDump(d: StateDump, json: boolean): string {
  if (json) return JSON.stringify(d) + '\n';
  const lines = [`instructions: ${d.instructions}`];
  for (const [k, v] of Object.entries(d.registers)) lines.push(`${k.padEnd(16)} ${v}`);
  lines.push(`interrupt pending: ${d.interruptPending ? 'yes' : 'no'}`);
  return lines.join('\n') + '\n';
}
