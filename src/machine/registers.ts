// Registers by name for library callers: a run-time enum and 64-bit values as bigint (slow path only).

import type { Cpu } from '../cpu/cpu.js';
import { InvalidArgumentError } from '../errors.js';
import { hex64 } from '../hex.js';

/**
 * Registers readable and writable through Machine.regRead / Machine.regWrite (names as in the Intel SDM).
 * RAX..R15 are the general registers in encoding order; values are 64-bit unsigned bigints.
 */
export enum Reg {
  RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
  /** Instruction pointer (canonical; a write must be a canonical address). */
  RIP = 16,
  /** RFLAGS; a write sets every writable bit (bit 1 is always 1), no privilege checks. */
  RFLAGS,
  FS_BASE, GS_BASE, CR0, CR2, CR3, CR4,
}

const U64 = (1n << 64n) - 1n;

/** Reads register `r` as an unsigned 64-bit bigint. Throws InvalidArgumentError for an unknown register. */
export function regRead(cpu: Cpu, r: Reg): bigint {
  if (Number.isInteger(r) && r >= Reg.RAX && r <= Reg.R15) return BigInt.asUintN(64, cpu.reg64(r));
  switch (r) {
    case Reg.RIP: return BigInt.asUintN(64, BigInt(cpu.rip));
    case Reg.RFLAGS: return BigInt(cpu.getRflags());
    case Reg.FS_BASE: return BigInt.asUintN(64, BigInt(cpu.fsBase));
    case Reg.GS_BASE: return BigInt.asUintN(64, BigInt(cpu.gsBase));
    case Reg.CR0: return BigInt(cpu.cr0 >>> 0);
    case Reg.CR2: return BigInt.asUintN(64, BigInt(cpu.cr2));
    case Reg.CR3: return BigInt(cpu.cr3);
    case Reg.CR4: return BigInt(cpu.cr4 >>> 0);
    default: throw new InvalidArgumentError(`unknown register ${String(r)}`);
  }
}

/** Addresses are held as JS numbers: canonical 48-bit values, sign-extended from bit 47. */
function address(r: Reg, v: bigint): number {
  const s = BigInt.asIntN(64, v);
  if (s < -(1n << 47n) || s >= (1n << 47n)) throw new InvalidArgumentError(`${Reg[r]} must be a canonical address, got ${hex64(v)}`);
  return Number(s);
}

/**
 * Writes register `r` (value: bigint 0..2^64-1, or -2^63..-1 as two's complement: -1n writes
 * 0xffffffffffffffff, as a C caller's (uint64_t)-1 to Unicorn's uc_reg_write).
 * Throws InvalidArgumentError for a non-bigint value, an out-of-range value or an unknown register.
 */
export function regWrite(cpu: Cpu, r: Reg, value: bigint): void {
  if (typeof value !== 'bigint') throw new InvalidArgumentError(`register values are bigints, got ${typeof value}`);
  if (value > U64 || value < -(1n << 63n)) throw new InvalidArgumentError(`value ${hex64(value)} does not fit in 64 bits (give -2^63..2^64-1)`);
  const v = BigInt.asUintN(64, value);
  if (Number.isInteger(r) && r >= Reg.RAX && r <= Reg.R15) { cpu.setReg64(r, v); return; }
  switch (r) {
    case Reg.RIP: cpu.rip = address(r, v); return;
    case Reg.RFLAGS: cpu.setRflags(Number(v & 0xffffffffn)); return;
    case Reg.FS_BASE: cpu.fsBase = address(r, v); return;
    case Reg.GS_BASE: cpu.gsBase = address(r, v); return;
    case Reg.CR2: cpu.cr2 = address(r, v); return;
    case Reg.CR0: case Reg.CR3: case Reg.CR4:
      throw new InvalidArgumentError(`${Reg[r]} is read-only through regWrite (paging is set up by Machine.create)`);
    default: throw new InvalidArgumentError(`unknown register ${String(r)}`);
  }
}
