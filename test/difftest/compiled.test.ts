// The difference test with every block compiled at its first execution (src/cpu/compile.ts, including
// dead-flag elimination): the block compiler must be exactly the interpreter. The JS tier's: the WebAssembly
// tier is off for the CPU the cases run on (the wasm tier's own difference test is test/cpu/wasm.test.ts).
import { describe, it, expect } from 'vitest';

process.env.X86FT_HOT_BLOCK = '1'; // read when the CPU modules load: import them only after this line
const { runDifftest } = await import('./run.js');
const { HOT_BLOCK } = await import('../../src/cpu/compile.js');
const { WASM_TIER } = await import('../../src/cpu/wasm/space.js');
WASM_TIER.on = false; // (the emulator's one CPU is made at the first case)

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
