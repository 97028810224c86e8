// Block compiler: turns a hot decoded block into one JS function that calls each instruction's
// handler directly. Each generated function has its own call sites, so they are monomorphic and the
// JIT can inline the handlers — the interpreter loop's single megamorphic `i.exec(c, i)` call is the
// main cost it removes. Semantics are identical to Cpu.runBlock's loop (same stores, same brk checks).

import type { Cpu } from './cpu.js';
import type { Block, Handler, Insn } from './decoder.js';

/** A compiled block: runs all b.n instructions from linear address `start`; returns how many retired. */
export type BlockFn = (c: Cpu, start: number) => number;

/** Executions after which a block is compiled. */
export const HOT_BLOCK = process.env.X86FT_NOCOMPILE ? Infinity : 64;

export function compileBlock(b: Block): BlockFn {
  const hs: Handler[] = [];
  const is: Insn[] = [];
  const lines: string[] = [];
  for (let k = 0; k < b.n; k++) {
    const i = b.insns[k];
    hs.push(i.exec); is.push(i);
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
