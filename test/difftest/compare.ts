// Difference test: compares the native and emulated end states of a case under its defined-flags mask and
// formats a mismatch report (source, bytes, objdump disassembly, registers side by side). Test-only.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Assembled } from './asm.js';
import { compareMask, R64 } from './gen.js';
import { AF, CF, CODE, DATA, DF, OF, PF, SF, ZF } from './layout.js';
import type { State } from './native.js';

export interface Mismatch {
  a: Assembled; nat: State; emu: State; mask: number; reasons: string[];
  /** Index of the first line after which the sides differ (set by run.ts localize()). */
  firstBad?: number;
}

const FLAG_NAMES: [number, string][] = [[CF, 'CF'], [PF, 'PF'], [AF, 'AF'], [ZF, 'ZF'], [SF, 'SF'], [DF, 'DF'], [OF, 'OF']];
export function flagNames(f: number): string { return FLAG_NAMES.filter(([b]) => f & b).map(([, n]) => n).join(' ') || '-'; }

/** The flags mask that applies to a state: at a fault, the mask before the faulting instruction. */
export function maskFor(a: Assembled, s: State): number {
  if (s.status === 'fault') {
    const k = a.offsets.indexOf(s.ripOff);
    if (k >= 0) return compareMask(a.c.lines[k].undefBefore);
  }
  return compareMask(a.c.undefEnd);
}

/** Compare two states of the same case; returns null when they agree. */
export function compare(a: Assembled, nat: State, emu: State): Mismatch | null {
  const reasons: string[] = [];
  const mask = maskFor(a, nat);
  if (emu.status === 'error') reasons.push(`emulator: ${emu.error}`);
  else if (nat.status !== emu.status) reasons.push(`status: native ${describe(nat)}, emulator ${describe(emu)}`);
  else if (nat.status === 'fault' && (nat.vector !== emu.vector || nat.ripOff !== emu.ripOff)) {
    reasons.push(`fault: native ${describe(nat)}, emulator ${describe(emu)}`);
  }
  if (emu.status !== 'error') {
    for (let n = 0; n < 16; n++) {
      if (nat.regs[2 * n] !== emu.regs[2 * n] || nat.regs[2 * n + 1] !== emu.regs[2 * n + 1]) reasons.push(`register ${R64[n]}`);
    }
    const d = (nat.rflags ^ emu.rflags) & mask;
    if (d) reasons.push(`flags ${flagNames(d)}`);
    const offs = new Set([...nat.mem.keys(), ...emu.mem.keys()]);
    let nd = 0;
    for (const o of offs) if (nat.mem.get(o) !== emu.mem.get(o)) nd++;
    if (nd) reasons.push(`memory (${nd} bytes)`);
  }
  return reasons.length ? { a, nat, emu, mask, reasons } : null;
}

function describe(s: State): string {
  if (s.status === 'fault') return `fault vector ${s.vector} at +0x${s.ripOff.toString(16)}`;
  if (s.status === 'error') return `error (${s.error})`;
  return 'ran to the end';
}

const hex64 = (r: Uint32Array, n: number) => r[2 * n + 1].toString(16).padStart(8, '0') + '_' + r[2 * n].toString(16).padStart(8, '0');

/** objdump disassembly of the case bytes at their run address. */
export function disassemble(code: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-difftest-dis-'));
  try {
    const f = join(dir, 'case.bin');
    writeFileSync(f, code);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-mi386:x86-64', '-M', 'intel', `--adjust-vma=0x${CODE.toString(16)}`, f], { encoding: 'utf8' });
    return out.split('\n').filter((l) => /^\s+[0-9a-f]+:/.test(l)).join('\n');
  } catch (e) {
    return `(objdump failed: ${e})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Human-readable report of one mismatch. */
export function formatMismatch(m: Mismatch): string {
  const { a, nat, emu } = m;
  const c = a.c;
  const out: string[] = [];
  out.push(`=== MISMATCH seed=${c.seed} case=${c.index}: ${m.reasons.join('; ')}`);
  out.push(`reproduce: npm run difftest -- --seed ${c.seed} --case ${c.index}${c.genArgs}`);
  out.push(`native: ${describe(nat)}; emulator: ${describe(emu)}`);
  out.push(`defined-flags mask compared: 0x${m.mask.toString(16)} (${flagNames(m.mask)}); undefined: ${flagNames(~m.mask & (CF | PF | AF | ZF | SF | OF))}`);
  if (m.firstBad !== undefined) {
    out.push(`first difference after line ${m.firstBad}: ${a.c.lines[m.firstBad].text}   (offset +0x${a.offsets[m.firstBad].toString(16)}, address 0x${(CODE + a.offsets[m.firstBad]).toString(16)})`);
  }
  out.push('--- source');
  out.push(a.source);
  out.push(`--- bytes (${a.code.length}): ${Buffer.from(a.code).toString('hex')}`);
  out.push('--- objdump');
  out.push(disassemble(a.code));
  out.push('--- state      initial            native             emulator');
  for (let n = 0; n < 16; n++) {
    const init = c.regs[n].toString(16).padStart(16, '0');
    const mark = nat.regs[2 * n] !== emu.regs[2 * n] || nat.regs[2 * n + 1] !== emu.regs[2 * n + 1] ? '  <==' : '';
    out.push(`${R64[n].padEnd(6)} ${init.slice(0, 8)}_${init.slice(8)}  ${hex64(nat.regs, n)}  ${hex64(emu.regs, n)}${mark}`);
  }
  const fd = (nat.rflags ^ emu.rflags) & m.mask;
  out.push(`rflags ${c.rflags.toString(16).padStart(17)}  ${nat.rflags.toString(16).padStart(17)}  ${emu.rflags.toString(16).padStart(17)}${fd ? `  <== ${flagNames(fd)}` : ''}`);
  out.push(`       (${flagNames(c.rflags)})  native (${flagNames(nat.rflags)})  emulator (${flagNames(emu.rflags)})`);
  const offs = [...new Set([...nat.mem.keys(), ...emu.mem.keys()])].sort((x, y) => x - y);
  const diff = offs.filter((o) => nat.mem.get(o) !== emu.mem.get(o));
  if (diff.length) {
    out.push(`--- memory bytes that differ (address native emulator; '..' = unchanged from initial)`);
    for (const o of diff.slice(0, 32)) {
      const h = (v: number | undefined) => (v === undefined ? '..' : v.toString(16).padStart(2, '0'));
      out.push(`0x${(DATA + o).toString(16)}  ${h(nat.mem.get(o))}  ${h(emu.mem.get(o))}`);
    }
    if (diff.length > 32) out.push(`... ${diff.length - 32} more`);
  }
  return out.join('\n');
}
