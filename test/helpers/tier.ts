// Which compiler tier the machines a test makes carry: the WebAssembly tier is the default (src/cpu/wasm,
// X86FT_WASM); a test of the JS tier's own mechanisms makes its machines with the wasm tier off.
import { WASM_TIER } from '../../src/cpu/wasm/space.js';

/** Runs make() with the wasm tier off for the memories (machines, CPUs) it creates: they compile to JS only. */
export function jsTier<T>(make: () => T): T {
  const was = WASM_TIER.on;
  WASM_TIER.on = false;
  try { return make(); } finally { WASM_TIER.on = was; }
}
