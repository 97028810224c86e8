// Block compiler: turns a hot decoded block into one JS function that calls each instruction's
// handler directly. Each generated function has its own call sites, so they are monomorphic and the
// JIT can inline the handlers — the interpreter loop's single megamorphic `i.exec(c, i)` call is the
// main cost it removes. Semantics are identical to Cpu.runBlock's loop (same stores, same brk checks).

import type { Cpu } from './cpu.js';
import type { Block, Handler, Insn } from './decoder.js';

/** A compiled block: runs all b.n instructions from linear address `start`; returns how many retired. */
export type BlockFn = (c: Cpu, start: number) => number;

/** Executions after which a block is compiled (X86FT_HOT_BLOCK overrides: 1 compiles every block at once,
 *  which the tests use to run the compiler on everything; 0 disables compilation). */
const envHot = process.env.X86FT_HOT_BLOCK;
export const HOT_BLOCK = envHot === undefined || envHot === '' ? 64 : Number(envHot) === 0 ? Infinity : Math.max(1, Number(envHot));

/**
 * Which instructions may skip computing flags: walking backwards, flags are dead after instruction k when a
 * later instruction overwrites all six before anything can read them — and nothing in between can fault
 * (a fault would make RFLAGS visible to the guest's handler). Flags are live at the block's end. A compiled
 * block always runs whole, so no stop can fall between an instruction and the one that overwrites its flags.
 */
function flagsDead(b: Block): boolean[] {
  const dead = new Array<boolean>(b.n).fill(false);
  let live = true;
  for (let k = b.n - 1; k >= 0; k--) {
    const i = b.insns[k];
    dead[k] = !live;
    if (i.fx === 1) live = false;
    else if (i.fx === 2) { /* transparent */ }
    else if (i.nf !== null && !live) { /* flag-free shift: neither reads nor needs flags here */ }
    else live = true;
  }
  return dead;
}

export function compileBlock(b: Block): BlockFn {
  const hs: Handler[] = [];
  const is: Insn[] = [];
  const lines: string[] = [];
  const dead = flagsDead(b);
  for (let k = 0; k < b.n; k++) {
    const i = b.insns[k];
    hs.push(dead[k] && i.nf !== null ? i.nf : i.exec); is.push(i);
    lines.push(`k = ${k}; c.insnRip = start + ${i.start}; c.rip = start + ${i.end}; h${k}(c, i${k}); if (c.brk) return ${k + 1};`);
  }
  const decl = hs.map((_, k) => `const h${k} = hs[${k}], i${k} = is[${k}];`).join('\n');
  const name = `block_${b.phys.toString(16)}`;
  const src = `${decl}
return function ${name}(c, start) {
  let k = 0;
  try {
    ${lines.join('\n    ')}
    return ${b.n};
  } catch (e) { c.blockK = k; throw e; }
};`;
  return new Function('hs', 'is', src)(hs, is) as BlockFn;
}
