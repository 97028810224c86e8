// x87 special-operand sweep (issue 11): every x87 arithmetic, compare and convert operation of the host-FPU oracle
// over every pair (or every one) of the special 80-bit operands in oracle.ts's table — ±0, ±∞, quiet and signalling
// NaNs of both signs and payloads, denormals, pseudo-denormals, unnormals, pseudo-NaNs, pseudo-infinities, the
// largest and smallest normals, integer and rounding edges — under each precision control (24/53/64 bits) and
// rounding control, exceptions masked; loads over the float32/float64 specials. Compared with the host CPU: the
// result register(s) bit for bit and every FSW bit but TOP/ES/B (C0-C3 and the six exception flags).
// `npm test` runs every 16th vector of each operation (a fixed stride); `npm run test:x87-sweep` runs all of them.
import { describe, expect, it } from 'vitest';
import { F32_SPECIAL, F64_SPECIAL, X80_SPECIAL, type Vec } from './oracle.js';
import { OPS, compareOps } from './x87ops.js';

const FULL = process.env.X86FT_X87_SWEEP === 'full';
const STRIDE = FULL ? 1 : 16;
const CWS: number[] = [];
for (const pc of [0, 2, 3]) for (let rc = 0; rc < 4; rc++) CWS.push(0x7f | (pc << 8) | (rc << 10));
/** Operations whose result does not depend on precision or rounding control: one control word. */
const NO_ROUNDING = new Set(['fcom', 'fucom', 'fcomi', 'fucomi', 'fprem', 'fprem1', 'fld_m32', 'fld_m64', 'fild_m16', 'fild_m32', 'fild_m64']);
const INTS16 = [0, 1, 0x7fff, 0x8000, 0xffff], INTS32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];
const INTS64: [number, number][] = [[0, 0], [1, 0], [0xffffffff, 0x7fffffff], [0, 0x80000000], [0xffffffff, 0xffffffff], [0, 0x00200000], [1, 0x00200000]];

function vectors(): Vec[] {
  const vs: Vec[] = [];
  const x = X80_SPECIAL.map((v) => v.map((w) => w >>> 0));
  for (const o of OPS) {
    const start = vs.length;
    const cws = NO_ROUNDING.has(o.name) ? [0x37f] : CWS;
    for (const ctl of cws) {
      const push = (a: number[], b: number[]) => vs.push({ op: o.id, ctl, a, b, imm: 0 });
      switch (o.args) {
        case 'ab': for (const a of x) for (const b of x) push(a, b); break;
        case 'a': for (const a of x) push(a, [0, 0, 0]); break;
        case 'f32': for (const f of F32_SPECIAL) push([0, 0, 0], [f >>> 0, 0, 0]); break;
        case 'f64': for (const [l, h] of F64_SPECIAL) push([0, 0, 0], [l >>> 0, h >>> 0, 0]); break;
        case 'i16': for (const i of INTS16) push([0, 0, 0], [i, 0, 0]); break;
        case 'i32': for (const i of INTS32) push([0, 0, 0], [i, 0, 0]); break;
        case 'i64': for (const [l, h] of INTS64) push([0, 0, 0], [l, h, 0]); break;
      }
    }
    // the sample: every STRIDE-th vector of each operation (so each keeps some)
    const mine = vs.splice(start).filter((_, k) => k % STRIDE === 0);
    vs.push(...mine);
  }
  return vs;
}

describe(`x87 special operands vs the host FPU (${FULL ? 'full sweep' : 'every 16th vector; npm run test:x87-sweep for all'})`, () => {
  const vs = vectors();
  const res = compareOps(OPS, vs);
  for (const o of OPS) {
    it(o.name, () => {
      const r = res.get(o.name);
      expect(r, `${o.name} has vectors`).toBeDefined();
      if (r!.bad.length) console.log(`${o.name}: ${r!.bad.length} of ${r!.n} differ\n  ` + r!.bad.slice(0, 8).join('\n  '));
      expect(r!.bad).toEqual([]);
    });
  }
  it('covers every operation', () => {
    console.log(`x87 sweep: ${vs.length} vectors over ${res.size} operations`);
    expect(res.size).toBe(OPS.length);
  });
});
