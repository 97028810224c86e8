// The CPU's architectural register file, declared once: CPU_FIELDS names every field, its width in
// 32-bit words and how it is read from / written to a Cpu. Snapshots (saveCpu/loadCpu) and replay
// digests (src/replay/digest.ts) are derived from this table, so a field added here is saved,
// restored, digested and named in divergence reports. Decoded blocks and TLBs are caches: not saved;
// restoring (and taking a snapshot: snapshotPoint) flushes them. RAM is separate.
// Imports the Cpu type and the x87 unit's state; imported by the machine and src/replay.

import type { Cpu } from './cpu.js';
import { fpuState, X87State } from './ops/x87.js';
import { BadStateError } from '../errors.js';

const TWO32 = 4294967296;

/** One field of the register file. Its value is `words` little-endian u32 words (low word first). */
export interface CpuField {
  /** Name in snapshots, digests and reports (the SDM's name: RAX, CR3, DR7, FCW, R0 …). */
  readonly name: string;
  /** Width in 32-bit words. */
  readonly words: number;
  /**
   * Per word, the bits software can give the field (what a state test may change and expect back):
   * 64-bit address fields hold canonical 48-bit values, flags only their defined bits.
   */
  readonly bits: readonly number[];
  /** Writes the field's words into w[at …]. Pure: never changes the CPU. */
  get(c: Cpu, w: Uint32Array, at: number): void;
  /** Sets the field from w[at …]. */
  set(c: Cpu, w: Uint32Array, at: number): void;
}

/** A 64-bit field kept as a JS number (signed: canonical addresses are negative above 2^47). */
function put64(w: Uint32Array, at: number, v: number): void {
  w[at] = (v % TWO32) >>> 0;
  w[at + 1] = Math.floor(v / TWO32) >>> 0;
}
function get64(w: Uint32Array, at: number): number { return (w[at + 1]! | 0) * TWO32 + w[at]!; }

const ALL = 0xffffffff;
/** Bits of a canonical 48-bit address: the test keeps the value positive and exact. */
const ADDR = [ALL, 0x7fff] as const;

function num64(name: string, get: (c: Cpu) => number, set: (c: Cpu, v: number) => void, bits: readonly number[] = ADDR): CpuField {
  return { name, words: 2, bits, get: (c, w, at) => put64(w, at, get(c)), set: (c, w, at) => set(c, get64(w, at)) };
}
function num32(name: string, get: (c: Cpu) => number, set: (c: Cpu, v: number) => void, bits = ALL): CpuField {
  return { name, words: 1, bits: [bits], get: (c, w, at) => { w[at] = get(c) >>> 0; }, set: (c, w, at) => set(c, w[at]!) };
}
function flag(name: string, get: (c: Cpu) => boolean, set: (c: Cpu, v: boolean) => void): CpuField {
  return num32(name, (c) => (get(c) ? 1 : 0), (c, v) => set(c, v !== 0), 1);
}

/** The x87 unit's state, read without attaching one (a CPU that never used the FPU is in FNINIT state). */
const FNINIT = new X87State();
function x87(c: Cpu): X87State { return (c.x87 as X87State | null) ?? FNINIT; }

const GPR_NAMES = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'];
const SEG_NAMES = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];

/** The register file, in digest order. Append or insert freely: snapshots store fields by name. */
export const CPU_FIELDS: readonly CpuField[] = [
  ...GPR_NAMES.map((name, n): CpuField => ({
    name, words: 2, bits: [ALL, ALL],
    get: (c, w, at) => { w[at] = c.regs[2 * n]! >>> 0; w[at + 1] = c.regs[2 * n + 1]! >>> 0; },
    set: (c, w, at) => { c.regs[2 * n] = w[at]! | 0; c.regs[2 * n + 1] = w[at + 1]! | 0; },
  })),
  num64('RIP', (c) => c.rip, (c, v) => { c.rip = v; }),
  // RFLAGS: the bits setRflags keeps (CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID; bit 1 reads 1)
  num32('RFLAGS', (c) => c.getRflags(), (c, v) => c.setRflags(v), 0x3f7fd5),
  num64('CR0', (c) => c.cr0, (c, v) => { c.cr0 = v; }, [ALL, 0]),
  num64('CR2', (c) => c.cr2, (c, v) => { c.cr2 = v; }),
  num64('CR3', (c) => c.cr3, (c, v) => { c.cr3 = v; }, [0xfffff000, 0xfffff]),
  num64('CR4', (c) => c.cr4, (c, v) => { c.cr4 = v; }, [0x7ff, 0]),
  num32('CR8', (c) => c.cr8, (c, v) => { c.cr8 = v; }, 15),
  num64('EFER', (c) => c.efer, (c, v) => { c.efer = v; }, [0xd01, 0]),
  num32('CPL', (c) => c.cpl, (c, v) => { c.cpl = v; }, 3),
  ...SEG_NAMES.map((name, s) => num32(name, (c) => c.sel[s]!, (c, v) => { c.sel[s] = v; }, 0xffff)),
  num64('FS.base', (c) => c.fsBase, (c, v) => { c.fsBase = v; }),
  num64('GS.base', (c) => c.gsBase, (c, v) => { c.gsBase = v; }),
  num64('KernelGS.base', (c) => c.kernelGsBase, (c, v) => { c.kernelGsBase = v; }),
  num64('GDTR.base', (c) => c.gdtBase, (c, v) => { c.gdtBase = v; }),
  num32('GDTR.limit', (c) => c.gdtLimit, (c, v) => { c.gdtLimit = v; }, 0xffff),
  num64('IDTR.base', (c) => c.idtBase, (c, v) => { c.idtBase = v; }),
  num32('IDTR.limit', (c) => c.idtLimit, (c, v) => { c.idtLimit = v; }, 0xffff),
  num32('LDTR', (c) => c.ldtr, (c, v) => { c.ldtr = v; }, 0xffff),
  num32('TR', (c) => c.tr, (c, v) => { c.tr = v; }, 0xffff),
  num64('TSS.base', (c) => c.tssBase, (c, v) => { c.tssBase = v; }),
  num32('TSS.limit', (c) => c.tssLimit, (c, v) => { c.tssLimit = v; }, 0xfffff),
  num64('STAR', (c) => c.star, (c, v) => { c.star = v; }),
  num64('LSTAR', (c) => c.lstar, (c, v) => { c.lstar = v; }),
  num64('CSTAR', (c) => c.cstar, (c, v) => { c.cstar = v; }),
  num64('SFMASK', (c) => c.sfmask, (c, v) => { c.sfmask = v; }, [ALL, 0]),
  num64('APIC_BASE', (c) => c.apicBase, (c, v) => { c.apicBase = v; }, [ALL, 0]),
  num32('TSC_AUX', (c) => c.tscAux, (c, v) => { c.tscAux = v; }),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((n) => num64(`DR${n}`, (c) => c.dr[n]!, (c, v) => { c.dr[n] = v; }, n >= 6 ? [ALL, 0] : ADDR)),
  num32('MXCSR', (c) => c.mxcsr, (c, v) => { c.mxcsr = v; }, 0xffff),
  ...Array.from({ length: 16 }, (_, x): CpuField => ({
    name: `XMM${x}`, words: 4, bits: [ALL, ALL, ALL, ALL],
    get: (c, w, at) => { for (let k = 0; k < 4; k++) w[at + k] = c.xmm[4 * x + k]! >>> 0; },
    set: (c, w, at) => { for (let k = 0; k < 4; k++) c.xmm[4 * x + k] = w[at + k]! | 0; },
  })),
  // x87 (SDM Vol. 1 §8.1): FSW includes TOP; FTW is the abridged tag (FXSAVE: bit p set = R<p> valid)
  num32('FCW', (c) => x87(c).cw, (c, v) => { fpuState(c).cw = v; }, 0xffff),
  num32('FSW', (c) => { const s = x87(c); return (s.sw | (s.top << 11)) & 0xffff; },
    (c, v) => { const s = fpuState(c); s.top = (v >> 11) & 7; s.sw = v & 0xc7ff; }, 0xffff),
  num32('FTW', (c) => ~x87(c).emp & 0xff, (c, v) => { fpuState(c).emp = ~v & 0xff; }, 0xff),
  num32('FOP', (c) => x87(c).fop, (c, v) => { fpuState(c).fop = v; }, 0x7ff),
  num64('FIP', (c) => x87(c).fip, (c, v) => { fpuState(c).fip = v; }),
  num64('FDP', (c) => x87(c).fdp, (c, v) => { fpuState(c).fdp = v; }),
  // physical registers R0-R7 (ST(i) = R[(TOP+i) & 7]): significand low, high, sign<<15 | exponent
  ...Array.from({ length: 8 }, (_, p): CpuField => ({
    name: `R${p}`, words: 3, bits: [ALL, ALL, 0xffff],
    get: (c, w, at) => { const st = x87(c).st; for (let k = 0; k < 3; k++) w[at + k] = st[3 * p + k]!; },
    set: (c, w, at) => { const st = fpuState(c).st; for (let k = 0; k < 3; k++) st[3 * p + k] = w[at + k]!; },
  })),
  flag('halted', (c) => c.halted, (c, v) => { c.halted = v; }),
  flag('interrupt shadow', (c) => c.intShadow, (c, v) => { c.intShadow = v; }),
  num64('icount', (c) => c.icount, (c, v) => { c.icount = v; }, [ALL, 0x1fffff]),
];

/** Words in the register file. */
export const CPU_WORDS = CPU_FIELDS.reduce((n, f) => n + f.words, 0);

/** The register file of `c` (CPU_FIELDS order) into `w` from word `at`. */
export function readCpuWords(c: Cpu, w: Uint32Array = new Uint32Array(CPU_WORDS), at = 0): Uint32Array {
  for (const f of CPU_FIELDS) { f.get(c, w, at); at += f.words; }
  return w;
}

export const CPU_STATE_KIND = 'cpu-x86_64';
/** Version 2: every CPU_FIELDS field by name (version 1 had no x87 or debug registers). */
export const CPU_STATE_VERSION = 2;

/** A CPU snapshot: each declared field's words, by field name. */
export interface CpuState {
  kind: typeof CPU_STATE_KIND;
  version: typeof CPU_STATE_VERSION;
  fields: Record<string, number[]>;
}

export function saveCpu(c: Cpu): CpuState {
  const w = readCpuWords(c);
  const fields: Record<string, number[]> = {};
  let at = 0;
  for (const f of CPU_FIELDS) { fields[f.name] = Array.from(w.subarray(at, at + f.words)); at += f.words; }
  return { kind: CPU_STATE_KIND, version: CPU_STATE_VERSION, fields };
}

/** Why `s` is not a CPU state this code restores exactly, or undefined. */
export function cpuStateProblem(s: unknown): string | undefined {
  const o = s as { kind?: unknown; version?: unknown; fields?: unknown } | null;
  if (!o || typeof o !== 'object' || o.kind !== CPU_STATE_KIND) return 'the CPU state is missing or of another kind';
  if (o.version === 1) return 'version-1 CPU state (x86ft before whole-machine snapshots) has no x87 or debug-register state and cannot be restored faithfully; take the snapshot again';
  if (o.version !== CPU_STATE_VERSION) return `CPU state version ${String(o.version)} is not supported (supported: ${CPU_STATE_VERSION})`;
  const fields = o.fields as Record<string, unknown> | undefined;
  if (!fields || typeof fields !== 'object') return 'the CPU state has no fields';
  const known = new Set(CPU_FIELDS.map((f) => f.name));
  for (const k of Object.keys(fields)) if (!known.has(k)) return `the CPU state has a field '${k}' this version does not know`;
  for (const f of CPU_FIELDS) {
    const v = fields[f.name];
    if (!Array.isArray(v) || v.length !== f.words || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= ALL)) {
      return `CPU field ${f.name} is missing or not ${f.words} 32-bit word(s)`;
    }
  }
  return undefined;
}

/** Restores every declared field (throws Error naming the problem for a bad state), then flushes the caches. */
export function loadCpu(c: Cpu, s: CpuState): void {
  const why = cpuStateProblem(s);
  if (why) throw new BadStateError(why);
  const w = new Uint32Array(CPU_WORDS);
  let at = 0;
  for (const f of CPU_FIELDS) { w.set(s.fields[f.name]!, at); at += f.words; }
  at = 0;
  for (const f of CPU_FIELDS) { f.set(c, w, at); at += f.words; }
  snapshotPoint(c);
}

/**
 * What every machine does at a snapshot point, the one taking the snapshot and the one restored
 * from it: drop every cached translation and decoded block, so both see the page tables and code
 * as they are in RAM (a guest that changed a PTE without INVLPG sees the change on both sides).
 */
export function snapshotPoint(c: Cpu): void {
  c.flushTlb();
  c.flushCode();
}
