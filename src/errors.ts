// Errors the library throws at its callers: every one is an Error subclass with a stable `code`.

/** Marks the package's root classes (X86ftError, Machine) in each of its builds: a registry symbol, so the
 *  ES modules and the CommonJS bundle, two copies of every class, see the same key. */
const ROOT = Symbol.for('x86ft.root-class');

/** 'Sub<…<Root': the class names from `c` up to the x86ft root class it descends from; undefined if none. */
function lineage(c: unknown): string | undefined {
  let names = '';
  for (let k = c; typeof k === 'function'; k = Object.getPrototypeOf(k) as unknown) {
    names += (names ? '<' : '') + (k as { name: string }).name;
    if (Object.hasOwn(k, ROOT)) return names;
  }
  return undefined;
}

/**
 * `v instanceof cls` across the package's two builds (the dual-package hazard): true when `v` is an
 * instance of `cls` itself or of the other build's copy of it — a class of the same name whose ancestors
 * up to the x86ft root class (X86ftError, Machine) have the same names. The root classes' static
 * `Symbol.hasInstance` calls this, so `e instanceof InvalidArgumentError` holds whether `e` came from
 * `require('x86ft')` or `import 'x86ft'`. A caller's own subclass keeps the ordinary meaning for its own
 * instances and matches the package's copies only by that same chain of names.
 */
export function instanceOfAnyBuild(cls: Function, v: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(cls, v)) return true;
  if (v === null || typeof v !== 'object') return false;
  const want = lineage(cls);
  if (want === undefined) return false;
  for (let p = Object.getPrototypeOf(v) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (Object.hasOwn(p, 'constructor') && lineage((p as { constructor: unknown }).constructor) === want) return true;
  }
  return false;
}

/** Makes `cls` a root class: it and its subclasses answer `instanceof` for both builds' instances. */
export function markRootClass(cls: Function): void {
  Object.defineProperty(cls, ROOT, { value: true });
}

/** Base class of every error x86ft throws on purpose. `code` is stable and documented (README, API section).
 *  `instanceof` it (and its subclasses) holds for errors of the ES modules and of the CommonJS build alike. */
export class X86ftError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  static override [Symbol.hasInstance](v: unknown): boolean { return instanceOfAnyBuild(this, v); }
}
markRootClass(X86ftError);

/** A bad argument to a library call (wrong type, NaN, out of range). code 'X86FT_INVALID_ARGUMENT'. */
export class InvalidArgumentError extends X86ftError {
  constructor(message: string) { super('X86FT_INVALID_ARGUMENT', message); }
}

/** A call that is not valid in the object's current state (a machine started while it runs, a recorder attached twice, an I/O port or MMIO
 *  region registered twice, an output seam switched with outputs still held). code 'X86FT_INVALID_STATE'. */
export class InvalidStateError extends X86ftError {
  constructor(message: string) { super('X86FT_INVALID_STATE', message); }
}

/** A host resource a backend needs cannot be used: a disk image, console file or FIFO that cannot be opened
 *  or is of the wrong kind, an unknown UDP peer host. `path` names the file when there is one.
 *  code 'X86FT_HOST_RESOURCE'. */
export class HostResourceError extends X86ftError {
  constructor(message: string, readonly path?: string, options?: { cause?: unknown }) { super('X86FT_HOST_RESOURCE', message, options); }
}

/** Saved state (a snapshot's CPU or device section) that cannot be loaded: wrong kind, unsupported version,
 *  inconsistent values. code 'X86FT_BAD_STATE'. */
export class BadStateError extends X86ftError {
  constructor(message: string) { super('X86FT_BAD_STATE', message); }
}

/** An emulator bug caught by a consistency check (never caused by input: please report it). code 'X86FT_INTERNAL'. */
export class InternalError extends X86ftError {
  constructor(message: string) { super('X86FT_INTERNAL', message); }
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

const FS_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted', EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory', ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only', EEXIST: 'already exists', EMFILE: 'too many open files', ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links', EBUSY: 'busy', ENXIO: 'no such device or address (a FIFO with no reader?)',
};

/** What a failed file-system call (Node's errno error) says, in words: 'does not exist' for ENOENT, etc.; else its message. */
export function fsErrorText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in FS_WORDS ? FS_WORDS[code] : (e as Error | null)?.message ?? String(e);
}

/** Throws InvalidArgumentError unless `v` is a non-negative safe integer (or Infinity when allowed). */
export function checkCount(name: string, v: unknown, allowInfinity = false): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (v === Infinity ? !allowInfinity : !Number.isSafeInteger(v))) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer${allowInfinity ? ' or Infinity' : ''}, got ${String(v)}`);
  }
  return v;
}
