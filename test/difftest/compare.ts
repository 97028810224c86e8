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
    const fd = fpDiffs(nat.fx, emu.fx);
    if (fd.length) reasons.push(`fp ${fd.join(' ')}`);
    const offs = new Set([...nat.mem.keys(), ...emu.mem.keys()]);
    let nd = 0;
    for (const o of offs) if (nat.mem.get(o) !== emu.mem.get(o)) nd++;
    if (nd) reasons.push(`memory (${nd} bytes)`);
  }
  return reasons.length ? { a, nat, emu, mask, reasons } : null;
}

/** FP state fields of an FXSAVE64 image: name, offset, length in bytes. */
const FP_FIELDS: [string, number, number][] = [['fcw', 0, 2], ['fsw', 2, 2], ['ftw', 4, 1], ['mxcsr', 24, 4]];
for (let k = 0; k < 8; k++) FP_FIELDS.push([`st${k}`, 32 + 16 * k, 10]);
for (let k = 0; k < 16; k++) FP_FIELDS.push([`xmm${k}`, 160 + 16 * k, 16]);

/** Whether ST(k) is in use according to an image's TOP and abridged tag. */
function stUsed(fx: Uint8Array, k: number): boolean { return ((fx[4] >> ((((fx[3] >> 3) & 7) + k) & 7)) & 1) === 1; }

/** Field as a big-endian hex string. */
export function fxField(fx: Uint8Array, o: number, n: number): string {
  return Array.from(fx.subarray(o, o + n)).reverse().map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** Names of the FP fields that differ: FCW, FSW (with TOP and C0-C3), abridged tag, MXCSR, XMM0-15, and ST0-7
 * where the native side has the register in use (an empty register's contents are not compared). */
export function fpDiffs(nat: Uint8Array, emu: Uint8Array): string[] {
  const d: string[] = [];
  for (const [n, o, len] of FP_FIELDS) {
    if (n.startsWith('st') && !stUsed(nat, Number(n.slice(2)))) continue;
    if (fxField(nat, o, len) !== fxField(emu, o, len)) d.push(n);
  }
  return d;
}

/** FP state lines for a report: x87 control/status/tag, MXCSR, ST0-7, XMM0-15 (initial, native, emulator). */
function fpReport(init: Uint8Array, nat: Uint8Array, emu: Uint8Array): string[] {
  const out: string[] = [];
  const bad = new Set(fpDiffs(nat, emu));
  for (const [n, o, len] of FP_FIELDS) {
    const v = [init, nat, emu].map((f) => fxField(f, o, len));
    if (n.startsWith('st')) { const k = Number(n.slice(2)); [init, nat, emu].forEach((f, j) => { if (!stUsed(f, k)) v[j] = '(empty)'.padStart(2 * len); }); }
    if (n.startsWith('xmm') && v[0] === v[1] && v[1] === v[2] && !bad.has(n)) continue; // unchanged and equal: omitted
    out.push(`${n.padEnd(6)} ${v.join('  ')}${bad.has(n) ? '  <==' : ''}`);
  }
  return out;
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
  out.push('--- FP state   initial  native  emulator (XMM registers left out when all three agree)');
  out.push(...fpReport(c.fx, nat.fx, emu.fx));
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
