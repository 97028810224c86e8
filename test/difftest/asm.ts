// Difference test: assembles a batch of generated cases with one `as` run and extracts each case's bytes and
// instruction offsets from the object file (a table in .data of label differences, resolved by the assembler).
// Cases the assembler rejects (e.g. a rel8 LOOP that ended up out of range) are dropped and reported. Test-only.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Case } from './gen.js';

export interface Assembled {
  c: Case;
  code: Uint8Array;
  /** Offset of each line's first byte from the case start (same order as c.lines). */
  offsets: number[];
  /** Assembly text of the case (labels included), for reports. */
  source: string;
}

export interface AsmBatch { ok: Assembled[]; dropped: { c: Case; error: string }[] }

function caseSource(c: Case): string[] {
  const out: string[] = [`# case ${c.index}`, `.Lcs${c.index}:`];
  let slot = -1;
  c.lines.forEach((l, k) => {
    while (slot < l.slot) { slot++; out.push(`.Lc${c.index}_s${slot}:`); }
    out.push(`.Lc${c.index}_${k}: ${l.text}`);
  });
  while (slot < c.nSlots) { slot++; out.push(`.Lc${c.index}_s${slot}:`); }
  out.push(`.Lce${c.index}:`);
  return out;
}

function sections(obj: Uint8Array): Map<string, Uint8Array> {
  const dv = new DataView(obj.buffer, obj.byteOffset, obj.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true), shnum = dv.getUint16(0x3c, true), shstrndx = dv.getUint16(0x3e, true);
  const hdr = (k: number) => {
    const o = shoff + k * shentsize;
    return { name: dv.getUint32(o, true), off: Number(dv.getBigUint64(o + 0x18, true)), size: Number(dv.getBigUint64(o + 0x20, true)) };
  };
  const strs = hdr(shstrndx);
  const out = new Map<string, Uint8Array>();
  for (let k = 0; k < shnum; k++) {
    const h = hdr(k);
    let e = strs.off + h.name;
    while (obj[e] !== 0) e++;
    const name = new TextDecoder().decode(obj.subarray(strs.off + h.name, e));
    out.set(name, obj.subarray(h.off, h.off + h.size));
  }
  return out;
}

/** Assemble cases; returns the assembled ones and the dropped ones with the assembler's message. */
export function assemble(cases: Case[]): AsmBatch {
  const dropped: AsmBatch['dropped'] = [];
  let live = cases.slice();
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-difftest-'));
  try {
    for (let round = 0; round < 4; round++) {
      const lines: string[] = ['.intel_syntax noprefix', '.text', '.Lt0:'];
      const lineCase: number[] = [];
      for (let k = 0; k < live.length; k++) {
        for (const l of caseSource(live[k])) { lines.push(l); lineCase[lines.length] = k; }
      }
      lines.push('.data');
      for (const c of live) {
        lines.push(`.long .Lcs${c.index} - .Lt0, .Lce${c.index} - .Lcs${c.index}`);
        if (c.lines.length) lines.push(`.long ${c.lines.map((_, k) => `.Lc${c.index}_${k} - .Lcs${c.index}`).join(', ')}`);
      }
      const src = join(dir, 'cases.s'), obj = join(dir, 'cases.o');
      writeFileSync(src, lines.join('\n') + '\n');
      try {
        execFileSync('as', ['--64', '-o', obj, src], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
      } catch (e) {
        const msg = String((e as { stderr?: Buffer }).stderr ?? e);
        const bad = new Map<number, string>();
        for (const m of msg.matchAll(/cases\.s:(\d+): Error: (.*)/g)) {
          const k = lineCase[Number(m[1])];
          if (k !== undefined && !bad.has(k)) bad.set(k, m[2]);
        }
        if (bad.size === 0) throw new Error('as failed:\n' + msg.slice(0, 4000));
        for (const [k, err] of bad) dropped.push({ c: live[k], error: err });
        live = live.filter((_, k) => !bad.has(k));
        continue;
      }
      const secs = sections(readFileSync(obj));
      for (const name of secs.keys()) if (name.startsWith('.rela')) throw new Error(`unexpected relocations in ${name}`);
      const text = secs.get('.text')!, data = secs.get('.data')!;
      const ddv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      let p = 0;
      const ok: Assembled[] = [];
      for (const c of live) {
        const start = ddv.getInt32(p, true), len = ddv.getInt32(p + 4, true);
        p += 8;
        const offsets: number[] = [];
        for (let k = 0; k < c.lines.length; k++, p += 4) offsets.push(ddv.getInt32(p, true));
        ok.push({ c, code: text.slice(start, start + len), offsets, source: caseSource(c).join('\n') });
      }
      return { ok, dropped };
    }
    throw new Error('as kept failing after dropping cases');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
