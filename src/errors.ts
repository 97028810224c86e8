// Errors the library throws at its callers: every one is an Error subclass with a stable `code`.

/** Base class of every error x86ft throws on purpose. `code` is stable and documented (README, API section). */
export class X86ftError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad argument to a library call (wrong type, NaN, out of range). code 'X86FT_INVALID_ARGUMENT'. */
export class InvalidArgumentError extends X86ftError {
  constructor(message: string) { super('X86FT_INVALID_ARGUMENT', message); }
}

/**
 * A guest-visible exception (e.g. #PF, #GP) raised by a CPU memory access or instruction.
 * Code 'X86FT_GUEST_FAULT'. Inside the run loop this unwinds the faulting instruction and is
 * delivered to the guest; a caller of Cpu.read8 etc. sees it when the linear address does not
 * translate. One preallocated instance (no allocation on the hot path): read `cpu.pendVec`
 * (vector) and `cpu.pendErr` (error code, -1 for none) and `cpu.cr2` (#PF address) right after.
 */
export class GuestFaultError extends X86ftError {
  constructor() { super('X86FT_GUEST_FAULT', 'guest exception raised by a CPU access (see cpu.pendVec, cpu.pendErr, cpu.cr2)'); }
}

/** Throws InvalidArgumentError unless `v` is a non-negative safe integer (or Infinity when allowed). */
export function checkCount(name: string, v: unknown, allowInfinity = false): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (v === Infinity ? !allowInfinity : !Number.isSafeInteger(v))) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer${allowInfinity ? ' or Infinity' : ''}, got ${String(v)}`);
  }
  return v;
}
