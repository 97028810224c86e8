// The difference test with every block compiled at its first execution (src/cpu/compile.ts, including
// dead-flag elimination): the block compiler must be exactly the interpreter.
import { describe, it, expect } from 'vitest';

process.env.X86FT_HOT_BLOCK = '1'; // read when the CPU modules load: import them only after this line
const { runDifftest } = await import('./run.js');
const { HOT_BLOCK } = await import('../../src/cpu/compile.js');

describe('difftest with compiled blocks', () => {
  it('compiles every block', () => { expect(HOT_BLOCK).toBe(1); });
  for (const fp of [false, true]) {
    it(`${fp ? 'FP' : 'integer'} sequences agree with the host when every block is compiled`, async () => {
      const r = await runDifftest({ seed: 0xc0de, count: fp ? 600 : 1500, fp, maxMismatches: 3 });
      expect(r.compared).toBeGreaterThan(fp ? 550 : 1450);
      expect(r.mismatchCount, r.mismatches.map((m) => JSON.stringify(m).slice(0, 2000)).join('\n')).toBe(0);
    });
  }
});
