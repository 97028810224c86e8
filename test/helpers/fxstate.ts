// Test helper: the emulator's x87/MXCSR/XMM state to and from an FXSAVE64-shaped image, set directly
// (not through the FXSAVE/FXRSTOR instructions, which are themselves under test). Pointer fields
// (FIP/FDP/FOP) and MXCSR_MASK are not part of the compared state.
import type { Cpu } from '../../src/cpu/cpu.js';
import { fpuState } from '../../src/cpu/ops/x87.js';

export function loadFx(cpu: Cpu, fx: Uint8Array): void {
  const dv = new DataView(fx.buffer, fx.byteOffset, 512);
  const s = fpuState(cpu);
  s.cw = dv.getUint16(0, true);
  const sw = dv.getUint16(2, true);
  s.top = (sw >> 11) & 7; s.sw = sw & ~0x3800;
  s.emp = ~fx[4] & 0xff; // abridged tag: bit p set = physical register p in use
  s.fip = 0; s.fdp = 0; s.fop = 0;
  for (let k = 0; k < 8; k++) { // image slot k holds ST(k) = physical register (TOP + k) & 7
    const p = (s.top + k) & 7;
    s.st[3 * p] = dv.getUint32(32 + 16 * k, true); s.st[3 * p + 1] = dv.getUint32(36 + 16 * k, true); s.st[3 * p + 2] = dv.getUint16(40 + 16 * k, true);
  }
  cpu.mxcsr = dv.getUint32(24, true);
  for (let k = 0; k < 64; k++) cpu.xmm[k] = dv.getInt32(160 + 4 * k, true);
}

export function saveFx(cpu: Cpu): Uint8Array {
  const fx = new Uint8Array(512);
  const dv = new DataView(fx.buffer);
  const s = fpuState(cpu);
  dv.setUint16(0, s.cw, true);
  dv.setUint16(2, (s.sw | (s.top << 11)) & 0xffff, true);
  fx[4] = ~s.emp & 0xff;
  for (let k = 0; k < 8; k++) {
    const p = (s.top + k) & 7;
    dv.setUint32(32 + 16 * k, s.st[3 * p], true); dv.setUint32(36 + 16 * k, s.st[3 * p + 1], true); dv.setUint16(40 + 16 * k, s.st[3 * p + 2], true);
  }
  dv.setUint32(24, cpu.mxcsr, true);
  for (let k = 0; k < 64; k++) dv.setInt32(160 + 4 * k, cpu.xmm[k], true);
  return fx;
}
