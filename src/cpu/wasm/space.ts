// Where the WebAssembly tier's data lives (the default; X86FT_WASM=0: off): guest RAM is the first bytes of one
// WebAssembly.Memory, and right after RAM one CPU area holds the general registers, the read/write/exec
// TLB arrays and the slots a compiled block exchanges with JavaScript. The Cpu's own typed arrays are
// views of that area, so the interpreter, the JS tier and wasm code share one copy (no copying at
// entry or exit). Off (X86FT_WASM=0, the JS tier alone): plain ArrayBuffers.

import { envFlag } from '../../env.js';

/** Whether the memories made from now on carry the wasm tier (`on`: X86FT_WASM, default 1, read once when
 *  this module loads). Tests of the JS tier's own mechanisms (its regions, its dirty-page marks) set it to
 *  false around the machines they make, and tests that compare the tiers in one process switch it. */
export const WASM_TIER = { on: envFlag('X86FT_WASM') };

export const PAGE64K = 65536;
/** TLB entries per array (cpu.ts TLB_SIZE; each entry an f64). */
export const TLB_ENTRIES = 1024;

/** Byte offsets inside the CPU area. */
export const enum Area {
  /** 16 registers x 8 bytes (cpu.regs: low word, high word). */
  REGS = 0,
  /** f64: RIP after the block (written by a block that ran to its end). */
  RIP = 256,
  /** i32: RFLAGS in (as getRflags()) and out (arithmetic flags updated). */
  FLAGS = 264,
  /** i32: instructions retired in the call before its last block (earlier passes of a self-loop, earlier
   *  members of a region): the wrapper adds them to cpu.icount. */
  DONE = 268,
  /** i32: the region member the call ended in (0: the entry block). */
  MEMBER = 272,
  RTAG = 512,
  RPHYS = RTAG + 8 * TLB_ENTRIES,
  WTAG = RPHYS + 8 * TLB_ENTRIES,
  WPHYS = WTAG + 8 * TLB_ENTRIES,
  XTAG = WPHYS + 8 * TLB_ENTRIES,
  XPHYS = XTAG + 8 * TLB_ENTRIES,
  SIZE = XPHYS + 8 * TLB_ENTRIES,
}

/**
 * A WebAssembly.Memory holding `size` bytes of RAM and one CPU area after it (fixed size: it never grows,
 * so views of its buffer stay valid), or null when the tier is off or RAM does not fit wasm32's 4 GiB.
 */
export function wasmRam(size: number): WebAssembly.Memory | null {
  if (!WASM_TIER.on) return null;
  const pages = Math.ceil((size + Area.SIZE) / PAGE64K);
  if (pages > 65536) return null;
  return new WebAssembly.Memory({ initial: pages, maximum: pages });
}

/** The Cpu's register file and TLB arrays: views into the CPU area at byte `area` of `buf`, or fresh arrays. */
export function cpuArrays(buf: ArrayBuffer | null, area: number): {
  regs: Int32Array; tlbRTag: Float64Array; tlbRPhys: Float64Array; tlbWTag: Float64Array; tlbWPhys: Float64Array; tlbXTag: Float64Array; tlbXPhys: Float64Array;
} {
  if (buf === null) {
    buf = new ArrayBuffer(Area.SIZE);
    area = 0;
  }
  const f = (off: number): Float64Array => new Float64Array(buf!, area + off, TLB_ENTRIES);
  const out = {
    regs: new Int32Array(buf, area + Area.REGS, 32),
    tlbRTag: f(Area.RTAG), tlbRPhys: f(Area.RPHYS), tlbWTag: f(Area.WTAG), tlbWPhys: f(Area.WPHYS), tlbXTag: f(Area.XTAG), tlbXPhys: f(Area.XPHYS),
  };
  out.regs.fill(0);
  out.tlbRTag.fill(-1); out.tlbWTag.fill(-1); out.tlbXTag.fill(-1);
  return out;
}
