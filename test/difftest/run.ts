// Difference test driver: generate → assemble (batched) → run natively → run in the emulator → compare.
// Shared by the vitest test (difftest.test.ts) and the long-mode CLI (cli.ts).

import { assemble, type Assembled } from './asm.js';
import { compare, type Mismatch } from './compare.js';
import { generateCase, type Case } from './gen.js';
import { runNative, type State } from './native.js';

export interface RunOptions {
  seed: number;
  count: number;
  /** First case index (cases are numbered, each reproducible from (seed, index)). */
  start?: number;
  /** Only these case indices (overrides count/start). */
  cases?: number[];
  filter?: string;
  /** FP cases (SSE/SSE2/x87 forms, random FP state); see gen.ts GenOptions.fp. */
  fp?: boolean;
  /** Generator forms to leave out (gen.ts FORMS names). */
  exclude?: string[];
  /** Cases per `as`/runner batch. */
  batch?: number;
  /** Skip the emulator (native side only: generator, assembler and runner). */
  nativeOnly?: boolean;
  /** Stop collecting mismatches after this many (the run still completes). */
  maxMismatches?: number;
  /** Localize (by running prefixes of the case) at most this many mismatches; default 100. */
  localize?: number;
  /** Progress callback per batch. */
  progress?: (done: number, total: number, mismatches: number) => void;
}

export interface RunResult {
  generated: number;
  compared: number;
  dropped: { c: Case; error: string }[];
  nativeFaults: Map<number, number>;
  mismatches: Mismatch[];
  mismatchCount: number;
  /** Mismatch counts by the mnemonic of the first line that is involved (or the fault line). */
  byMnemonic: Map<string, number>;
  ms: { gen: number; asm: number; native: number; emu: number };
}

type EmuRunner = (a: Assembled) => State;
let emuRunner: EmuRunner | null = null;
async function loadEmu(): Promise<EmuRunner> {
  if (!emuRunner) emuRunner = (await import('./emu.js')).runEmu;
  return emuRunner;
}

export async function runDifftest(o: RunOptions): Promise<RunResult> {
  const indices = o.cases ?? Array.from({ length: o.count }, (_, k) => (o.start ?? 0) + k);
  const batch = o.batch ?? 2000;
  const res: RunResult = {
    generated: 0, compared: 0, dropped: [], nativeFaults: new Map(), mismatches: [], mismatchCount: 0,
    byMnemonic: new Map(), ms: { gen: 0, asm: 0, native: 0, emu: 0 },
  };
  const emu = o.nativeOnly ? null : await loadEmu();
  for (let b = 0; b < indices.length; b += batch) {
    let t = performance.now();
    const cases = indices.slice(b, b + batch).map((k) => generateCase(o.seed, k, { filter: o.filter, exclude: o.exclude, fp: o.fp }));
    res.generated += cases.length;
    res.ms.gen += performance.now() - t; t = performance.now();
    const asm = assemble(cases);
    res.dropped.push(...asm.dropped);
    res.ms.asm += performance.now() - t; t = performance.now();
    const nat = await runNative(asm.ok);
    res.ms.native += performance.now() - t; t = performance.now();
    for (let k = 0; k < asm.ok.length; k++) {
      if (k % 200 === 199) await new Promise((r) => setImmediate(r)); // let the test worker breathe
      if (nat[k].status === 'fault') res.nativeFaults.set(nat[k].vector, (res.nativeFaults.get(nat[k].vector) ?? 0) + 1);
      if (!emu) continue;
      const e = emu(asm.ok[k]);
      res.compared++;
      const m = compare(asm.ok[k], nat[k], e);
      if (m) {
        res.mismatchCount++;
        if (res.mismatchCount <= (o.localize ?? 100)) await localize(m, emu);
        const key = culprit(m);
        res.byMnemonic.set(key, (res.byMnemonic.get(key) ?? 0) + 1);
        if (res.mismatches.length < (o.maxMismatches ?? 50)) res.mismatches.push(m);
      }
    }
    res.ms.emu += performance.now() - t;
    o.progress?.(Math.min(b + batch, indices.length), indices.length, res.mismatchCount);
  }
  return res;
}

/**
 * Find the first line after which the two sides differ, by running every prefix of the case (same initial
 * state) on both sides; sets m.firstBad (index into a.c.lines). Flags compared for a prefix: those defined
 * before the next line and at every later point (a conservative mask, as jumps may skip ahead).
 */
export async function localize(m: Mismatch, emu: EmuRunner): Promise<void> {
  const c = m.a.c;
  for (let k = 1; k <= c.lines.length; k++) {
    let undef = c.undefEnd;
    for (let j = k; j < c.lines.length; j++) undef |= c.lines[j].undefBefore;
    const pc: Case = { ...c, lines: c.lines.slice(0, k), undefEnd: undef };
    const asm = assemble([pc]);
    if (asm.ok.length !== 1) return;
    const [nat] = await runNative(asm.ok);
    if (compare(asm.ok[0], nat, emu(asm.ok[0]))) { m.firstBad = k - 1; return; }
  }
}

/** The responsible instruction: the localized line, the faulting line, or else the case's mnemonic list. */
export function culprit(m: Mismatch): string {
  const a = m.a;
  if (m.firstBad !== undefined) return mnemonicOf(a.c.lines[m.firstBad].text);
  for (const s of [m.emu, m.nat]) {
    if (s.status === 'fault' || s.status === 'error') {
      const k = a.offsets.indexOf(s.ripOff);
      if (k >= 0) return mnemonicOf(a.c.lines[k].text);
    }
  }
  return a.c.mnemonics.length === 1 ? a.c.mnemonics[0] : `mixed(${[...new Set(a.c.mnemonics)].sort().join(',')})`;
}

export function mnemonicOf(text: string): string {
  const w = text.split(/\s+/);
  let k = 0;
  while (['lock', 'rep', 'repe', 'repne'].includes(w[k])) k++;
  return w.slice(0, k + 1).join(' ');
}
