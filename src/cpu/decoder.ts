// Decoder: x86-64 prefixes, REX, opcode maps (1-byte, 0F, 0F38, 0F3A), ModRM/SIB/displacement, immediates.
// Decodes straight-line blocks once into Insn objects; the opcode table (one row per encoding) says the shape.
// Undefined encodings decode to an instruction that raises #UD; the decoder itself never throws on guest bytes.

import { FAULT, type Cpu } from './cpu.js';

export type Handler = (c: Cpu, i: Insn) => void;
export type EaFn = (c: Cpu, i: Insn) => number;

/** Opcode-table row flags. */
export const enum D {
  M = 1, // has ModRM
  B = 2, // byte operand size
  I8 = 4, // imm8 (sign-extended into imm)
  I16 = 8, // imm16
  IZ = 16, // imm16/imm32 by operand size (imm32 sign-extended to 64)
  IV = 32, // imm16/32/64 by operand size (MOV r, imm)
  D64 = 64, // default operand size 64 in long mode (66 gives 16)
  F64 = 128, // operand size forced to 64 (near branches)
  END = 256, // ends a decoded block (control transfer, or may change interrupt/mode state)
  R = 512, // register in the low 3 opcode bits (+REX.B)
  SSE = 1024, // mandatory-prefix map: handler chosen by none/66/F3/F2
  I32 = 2048, // imm32 regardless of operand size
  ENTER = 4096, // imm16 + imm8
  MOFFS = 8192, // 64-bit absolute address (moffs), 32 with 67
  G = 16384, // group: handler chosen by ModRM.reg
  NO_LOCK = 0,
}

/** A specialiser picks a faster handler for a decoded instance (e.g. register-register, 64-bit), or null. */
export type Specializer = (i: Insn) => Handler | null;

export interface OpDef { flags: number; h: Handler | null; hs: (Handler | null)[] | null; spec: Specializer | null }

/** Opcode table: index = map * 256 + opcode; map 0 = one byte, 1 = 0F, 2 = 0F 38, 3 = 0F 3A. */
export const TABLE: (OpDef | undefined)[] = new Array(4 * 256);

/** Define an encoding. `h` is one handler, or 8 by ModRM.reg (group), or 4 by mandatory prefix (SSE). */
export function def(map: number, op: number, flags: number, h: Handler | (Handler | null)[], spec: Specializer | null = null): void {
  if (Array.isArray(h)) TABLE[map * 256 + op] = { flags, h: null, hs: h, spec };
  else TABLE[map * 256 + op] = { flags, h, hs: null, spec };
}

export class Insn {
  exec: Handler = ud;
  /** Byte offsets of this instruction's start and end from its block's first byte. */
  start = 0;
  end = 0;
  /** map * 256 + opcode */
  op = 0;
  /** ModRM.reg (0-7, without REX) — group selector / ALU kind */
  sub = 0;
  /** operand size in bytes (1, 2, 4, 8) */
  osz = 4;
  /** address size in bytes (4 with 0x67, else 8) */
  asz = 8;
  /** ModRM.reg (+REX.R) or the opcode's register (+REX.B): register number 0-15 */
  reg = 0;
  /** byte offset into cpu.regs8 for a byte-sized `reg` operand (handles AH..BH without REX) */
  regB = 0;
  /** register number of the r/m operand, or -1 when it is memory */
  rm = -1;
  /** byte offset into cpu.regs8 for a byte-sized register r/m operand */
  rmB = 0;
  base = -1;
  index = -1;
  scale = 1;
  disp = 0;
  /** segment override: 0 none, 4 FS, 5 GS (others are ignored in 64-bit mode) */
  seg = 0;
  ea: EaFn = eaNone;
  imm = 0;
  immHi = 0;
  imm2 = 0;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2) */
  rep = 0;
  lock = false;
  /** mandatory-prefix class for SSE: 0 none, 1 66, 2 F3, 3 F2 */
  pfx = 0;
  rex = 0;
  len = 0;
  modrm = 0;
  /**
   * Flag effect, for dead-flag elimination in compiled blocks: 0 unknown (may read flags or fault),
   * 1 writes all six arithmetic flags, reads none and cannot fault, 2 touches no flags and cannot fault.
   */
  fx = 0;
  /** A variant that skips computing flags, usable when nothing reads them before they are overwritten. */
  nf: Handler | null = null;
  /** scratch fields for specialised handlers (e.g. destination/source register, ALU kind) */
  x = 0;
  y = 0;
  z = 0;
}

export class Block {
  insns: Insn[] = [];
  n = 0;
  phys = 0;
  physEnd = 0;
  valid = true;
  /** Executions so far (until compiled). */
  hits = 0;
  /** The compiled form (src/cpu/compile.ts), once hot. */
  fn: ((c: Cpu, start: number, left: number) => number) | null = null;
  /** Direct links to the blocks that followed this one (a taken branch and a fall-through): the linear
   *  RIP, the block, and the Cpu's jump-cache epoch when the link was made. A link is used only while
   *  the epoch is current (no TLB flush or INVLPG since: the same linear->physical mapping) and the
   *  target is valid — exactly when the jump cache would have returned the same block. */
  l0Rip = NaN; l0: Block | null = null; l0Ep = -1;
  l1Rip = NaN; l1: Block | null = null; l1Ep = -1;
}

export function ud(c: Cpu, _i: Insn): void {
  c.raise(6);
}

function eaNone(c: Cpu, _i: Insn): number {
  return c.raise(6);
}

const TWO32 = 4294967296;

/** [base + disp], 64-bit addressing, no segment base (the common case). */
function eaBase(c: Cpu, i: Insn): number {
  const r = c.regs, b = i.base << 1;
  const hi = r[b + 1];
  const s = (r[b] >>> 0) + i.disp;
  if (hi === 0 && s >= 0 && s < TWO32) return s; // the common case: an address in the low 4 GiB
  const lo = s >>> 0;
  return ((hi + (s < 0 ? -1 : s >= TWO32 ? 1 : 0)) | 0) * TWO32 + lo;
}

/** [base + index*scale + disp], 64-bit addressing, no segment base. */
function eaBaseIndex(c: Cpu, i: Insn): number {
  const r = c.regs, b = i.base << 1, x = i.index << 1, sc = i.scale;
  const hb = r[b + 1], hx = r[x + 1];
  const s = (r[b] >>> 0) + (r[x] >>> 0) * sc + i.disp;
  if ((hb | hx) === 0 && s >= 0 && s < TWO32) return s;
  const lo = s >>> 0;
  return ((hb + hx * sc + Math.floor(s / TWO32)) | 0) * TWO32 + lo;
}

/** [rip + disp] */
function eaRip(c: Cpu, i: Insn): number {
  return c.rip + i.disp;
}

/** General form: any of base/index/disp, 32-bit address size, FS/GS base. */
function eaGeneral(c: Cpu, i: Insn): number {
  const r = c.regs;
  let s: number, h: number;
  if (i.base === 16) { // RIP-relative
    const v = c.rip + i.disp;
    s = v >>> 0; h = Math.floor(v / TWO32);
  } else {
    s = i.disp; h = i.disp < 0 ? -1 : 0;
    if (i.disp < 0) s += TWO32;
    if (i.base >= 0) { s += r[i.base << 1] >>> 0; h += r[(i.base << 1) + 1]; }
    if (i.index >= 0) { s += (r[i.index << 1] >>> 0) * i.scale; h += r[(i.index << 1) + 1] * i.scale; }
  }
  if (i.asz === 4) { s = s >>> 0; h = 0; }
  if (i.seg === 4 || i.seg === 5) {
    const sb = i.seg === 4 ? c.fsBase : c.gsBase;
    s += sb >>> 0; h += Math.floor(sb / TWO32);
  }
  const lo = s >>> 0;
  h = (h + (s - lo) / TWO32) | 0;
  return h * TWO32 + lo;
}

/** Byte offset in regs8 of byte register r; without REX, 4-7 are AH, CH, DH, BH. */
function byteReg(r: number, rex: number): number {
  if (rex === 0 && r >= 4 && r < 8) return ((r - 4) << 3) + 1;
  return r << 3;
}

/** Decode one instruction at linear address la. Fetch faults propagate (FAULT). */
export function decodeOne(c: Cpu, la: number, i: Insn): void {
  let p = la;
  let b = c.fetchByte(p++);
  let opsz16 = false, adsz32 = false, rep = 0, lock = false, seg = 0, rex = 0;
  // Prefixes in any number and order; a REX counts only directly before the opcode (one followed by a
  // legacy prefix is ignored) and of several the last counts. At most 15 bytes: a prefix in byte 15
  // leaves no room for the opcode, #GP(0) (SDM Vol. 2A §2.1, §2.2.1).
  for (;;) {
    if (b === 0x66) opsz16 = true;
    else if (b === 0x67) adsz32 = true;
    else if (b === 0xf0) lock = true;
    else if (b === 0xf3) rep = 1;
    else if (b === 0xf2) rep = 2;
    else if (b === 0x64) seg = 4;
    else if (b === 0x65) seg = 5;
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) { /* null segment prefixes in 64-bit mode */ }
    else if ((b & 0xf0) === 0x40) { rex = b; if (p - la >= 15) { i.exec = gp0; i.len = p - la; return; } b = c.fetchByte(p++); continue; }
    else break;
    rex = 0;
    if (p - la >= 15) { i.exec = gp0; i.len = p - la; return; }
    b = c.fetchByte(p++);
  }
  let map = 0;
  if (b === 0x0f) {
    b = c.fetchByte(p++);
    map = 1;
    if (b === 0x38) { map = 2; b = c.fetchByte(p++); }
    else if (b === 0x3a) { map = 3; b = c.fetchByte(p++); }
  }
  i.op = map * 256 + b;
  i.rep = rep; i.lock = lock; i.seg = seg; i.rex = rex;
  // SSE mandatory prefix: F2/F3 take precedence over 66
  i.pfx = rep === 2 ? 3 : rep === 1 ? 2 : opsz16 ? 1 : 0;
  const d = TABLE[map * 256 + b];
  const flags = d ? d.flags : 0;
  // operand size
  let osz: number;
  if (flags & D.B) osz = 1;
  else if (rex & 8) osz = 8;
  else if (flags & D.F64) osz = 8;
  else if (flags & D.D64) osz = opsz16 ? 2 : 8;
  else osz = opsz16 ? 2 : 4;
  i.osz = osz;
  i.asz = adsz32 ? 4 : 8;
  i.reg = 0; i.regB = 0; i.rm = -1; i.rmB = 0; i.base = -1; i.index = -1; i.scale = 1; i.disp = 0; i.ea = eaNone;
  i.imm = 0; i.immHi = 0; i.imm2 = 0; i.sub = 0; i.modrm = 0; i.fx = 0; i.nf = null;
  if (flags & D.R) {
    i.reg = (b & 7) | ((rex & 1) << 3);
    i.regB = byteReg(i.reg, rex);
  }
  if (flags & D.M) {
    const m = c.fetchByte(p++);
    i.modrm = m;
    const mod = m >> 6;
    i.sub = (m >> 3) & 7;
    i.reg = i.sub | ((rex & 4) << 1);
    i.regB = byteReg(i.reg, rex);
    let rm = m & 7;
    if (mod === 3) {
      i.rm = rm | ((rex & 1) << 3);
      i.rmB = byteReg(i.rm, rex);
    } else {
      let base = -1, index = -1, scale = 1, disp = 0;
      if (rm === 4) {
        const sib = c.fetchByte(p++);
        scale = 1 << (sib >> 6);
        index = ((sib >> 3) & 7) | ((rex & 2) << 2);
        if (index === 4) index = -1;
        base = (sib & 7) | ((rex & 1) << 3);
        if ((sib & 7) === 5 && mod === 0) {
          base = -1;
          disp = fetch32(c, p); p += 4;
        }
      } else if (rm === 5 && mod === 0) {
        base = 16; // RIP-relative
        disp = fetch32(c, p); p += 4;
      } else {
        base = rm | ((rex & 1) << 3);
      }
      if (mod === 1) { disp = (c.fetchByte(p++) << 24) >> 24; }
      else if (mod === 2) { disp = fetch32(c, p); p += 4; }
      i.base = base; i.index = index; i.scale = scale; i.disp = disp;
      if (adsz32 || seg === 4 || seg === 5) i.ea = eaGeneral;
      else if (base === 16) i.ea = eaRip;
      else if (base >= 0 && index < 0) i.ea = eaBase;
      else if (base >= 0) i.ea = eaBaseIndex;
      else i.ea = eaGeneral;
    }
  }
  // immediates
  if (flags & (D.I8 | D.I16 | D.IZ | D.IV | D.I32 | D.ENTER | D.MOFFS)) {
    if (flags & D.I8) { i.imm = (c.fetchByte(p++) << 24) >> 24; i.immHi = i.imm >> 31; }
    else if (flags & D.I16) { i.imm = c.fetchByte(p) | (c.fetchByte(p + 1) << 8); p += 2; }
    else if (flags & D.ENTER) { i.imm = c.fetchByte(p) | (c.fetchByte(p + 1) << 8); i.imm2 = c.fetchByte(p + 2); p += 3; }
    else if (flags & D.I32) { i.imm = fetch32(c, p); p += 4; i.immHi = i.imm >> 31; }
    else if (flags & D.IZ) {
      if (osz === 2) { i.imm = c.fetchByte(p) | (c.fetchByte(p + 1) << 8); p += 2; }
      else { i.imm = fetch32(c, p); p += 4; i.immHi = i.imm >> 31; }
    } else if (flags & D.IV) {
      if (osz === 2) { i.imm = c.fetchByte(p) | (c.fetchByte(p + 1) << 8); p += 2; }
      else if (osz === 4) { i.imm = fetch32(c, p); p += 4; }
      else { i.imm = fetch32(c, p); i.immHi = fetch32(c, p + 4); p += 8; }
    } else if (flags & D.MOFFS) {
      if (adsz32) { i.imm = fetch32(c, p); p += 4; }
      else { i.imm = fetch32(c, p); i.immHi = fetch32(c, p + 4); p += 8; }
    }
  }
  // groups select by ModRM.reg; SSE rows by mandatory prefix; some groups carry a byte immediate only for some rows
  let h: Handler | null = null;
  if (d) {
    if (d.hs) {
      if (flags & D.SSE) h = d.hs[i.pfx];
      else h = d.hs[i.sub];
    } else h = d.h;
  }
  // F6/F7 /0 and /1 (TEST) carry an immediate the other rows do not
  if (map === 0 && (b === 0xf6 || b === 0xf7) && i.sub <= 1) {
    if (b === 0xf6) { i.imm = (c.fetchByte(p++) << 24) >> 24; }
    else if (osz === 2) { i.imm = c.fetchByte(p) | (c.fetchByte(p + 1) << 8); p += 2; }
    else { i.imm = fetch32(c, p); p += 4; i.immHi = i.imm >> 31; }
  }
  i.len = p - la;
  if (i.len > 15) { i.exec = gp0; return; }
  i.exec = h ?? ud;
  if (lock && !lockable(i)) { i.exec = ud; return; }
  if (h !== null && d !== undefined && d.spec !== null) i.exec = d.spec(i) ?? h;
}

/** LOCK is allowed only on these read-modify-write forms with a memory destination (SDM LOCK); else #UD. */
function lockable(i: Insn): boolean {
  const d = TABLE[i.op];
  if (d === undefined || !(d.flags & D.M) || i.rm >= 0) return false;
  const op = i.op;
  if (op < 0x40) return (op & 7) <= 1 && (op & 0x38) !== 0x38;
  switch (op) {
    case 0x80: case 0x81: case 0x83: return i.sub !== 7;
    case 0x86: case 0x87: return true;
    case 0xf6: case 0xf7: return i.sub === 2 || i.sub === 3;
    case 0xfe: return i.sub <= 1;
    case 0xff: return i.sub <= 1;
    case 0x1ab: case 0x1b3: case 0x1bb: case 0x1b0: case 0x1b1: case 0x1c0: case 0x1c1: return true;
    case 0x1ba: return i.sub >= 5;
    case 0x1c7: return i.sub === 1;
    default: return false;
  }
}

export function gp0(c: Cpu, _i: Insn): void {
  c.raise(13, 0);
}

function fetch32(c: Cpu, p: number): number {
  return c.fetchByte(p) | (c.fetchByte(p + 1) << 8) | (c.fetchByte(p + 2) << 16) | (c.fetchByte(p + 3) << 24);
}

const MAX_BLOCK = 64;

/** Does this decoded instruction end a block? */
function endsBlock(i: Insn): boolean {
  const d = TABLE[i.op];
  if (!d || i.exec === ud || i.exec === gp0) return true;
  return (d.flags & D.END) !== 0 || endByGroup(i);
}

/** Group rows whose members differ: FF /2../5 (call/jmp indirect), 0F 01 (system) end blocks. */
function endByGroup(i: Insn): boolean {
  if (i.op === 0xff) return i.sub >= 2 && i.sub <= 5;
  return false;
}

/** Decode a straight-line block starting at linear address rip (physical phys). */
export function decodeBlock(c: Cpu, rip: number, phys: number): Block {
  const blk = new Block();
  blk.phys = phys;
  let la = rip;
  let off = 0;
  for (;;) {
    const i = new Insn();
    if (blk.n === 0) {
      decodeOne(c, la, i); // a fetch fault here is the instruction's fault
    } else {
      const cr2 = c.cr2;
      try { decodeOne(c, la, i); } catch (e) {
        // the fault belongs to that later instruction, which may never run (an earlier one faults or an
        // interrupt comes first): end the block before it and undo its CR2 (raised again if it runs)
        if (e === FAULT) { c.cr2 = cr2; break; }
        throw e;
      }
    }
    i.start = off;
    i.end = off + i.len;
    blk.insns.push(i);
    blk.n++;
    off += i.len;
    la += i.len;
    if (endsBlock(i) || blk.n >= MAX_BLOCK) break;
    if (((rip & 4095) + off) >= 4096) break; // page boundary
  }
  // the last byte may sit on the next linear page, which can map anywhere physically
  blk.physEnd = ((rip & 4095) + off - 1) < 4096 ? phys + off - 1 : c.fetchPhys(rip + off - 1);
  return blk;
}
