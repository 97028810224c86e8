// x87 special operands with exceptions UNMASKED (issue 11), against the host CPU: each instruction runs from the
// same register stack and control word natively and in the emulator, followed by FWAIT. An unmasked exception sets
// FSW.ES and B and is delivered as #MF at the next waiting x87 instruction (SDM Vol. 1 §8.6-8.7, Vol. 3A §6.15
// vector 16): compared are whether #MF is raised, where (the FWAIT, never the instruction itself), and the FP state
// at that point (natively from the SIGFPE signal context): FCW, the whole FSW (C0-C3, TOP, the six flags, SF, ES, B),
// the tags, every non-empty ST register and memory. Unmasked IE/DE/ZE leave the destination and TOP unchanged
// (§8.7.1's "pre-computation" exceptions); unmasked OE/UE store the bias-adjusted result (§8.4.1.1); PE stores the
// rounded result. The operands are oracle.ts's 80-bit specials (±0, ±∞, QNaN, SNaN, denormals, pseudo-denormals,
// unnormals, pseudo-NaN/-infinity, |x| ≥ 2^63, outside [-1, 1]), the control words each exception unmasked alone
// and all of them. `npm test` runs every 97th case (a fixed stride); `npm run test:x87-sweep` runs all of them,
// and also with every precision and rounding control.
import { beforeAll, describe, expect, it } from 'vitest';
import { DATA, Emu, type FCase, diff, freshFx, hostRun, st0Defined, transOk } from '../cpu/sse-harness.js';
import { F32_SPECIAL, F64_SPECIAL, X80_SPECIAL } from './oracle.js';

const FULL = process.env.X86FT_X87_SWEEP === 'full';
const STRIDE = FULL ? 1 : 97;

interface Op { n: string; code: number[]; args: 'ab' | 'a' | 'f32' | 'f64'; trans?: boolean }
const d9 = (n: string, b: number, args: Op['args'] = 'a', trans = false): Op => ({ n, code: [0xd9, b], args, trans });
const OPS: Op[] = [
  { n: 'fadd st,st(1)', code: [0xd8, 0xc1], args: 'ab' }, { n: 'fsub st,st(1)', code: [0xd8, 0xe1], args: 'ab' },
  { n: 'fmul st,st(1)', code: [0xd8, 0xc9], args: 'ab' }, { n: 'fdiv st,st(1)', code: [0xd8, 0xf1], args: 'ab' },
  { n: 'fdivrp st(1)', code: [0xde, 0xf1], args: 'ab' }, { n: 'fcom st(1)', code: [0xd8, 0xd1], args: 'ab' },
  { n: 'fucompp', code: [0xda, 0xe9], args: 'ab' }, { n: 'fcomi st(1)', code: [0xdb, 0xf1], args: 'ab' },
  d9('fsqrt', 0xfa), d9('frndint', 0xfc), d9('fxtract', 0xf4), d9('fscale', 0xfd, 'ab'),
  d9('fprem', 0xf8, 'ab'), d9('fprem1', 0xf5, 'ab'),
  d9('fsin', 0xfe, 'a', true), d9('fcos', 0xff, 'a', true), d9('fsincos', 0xfb, 'a', true), d9('fptan', 0xf2, 'a', true),
  d9('f2xm1', 0xf0, 'a', true), d9('fpatan', 0xf3, 'ab', true), d9('fyl2x', 0xf1, 'ab', true), d9('fyl2xp1', 0xf9, 'ab', true),
  // stores to memory ([rsi]): an unmasked IE/OE/UE writes nothing and does not pop
  { n: 'fst m32', code: [0xd9, 0x16], args: 'a' }, { n: 'fstp m64', code: [0xdd, 0x1e], args: 'a' },
  { n: 'fist m16', code: [0xdf, 0x16], args: 'a' }, { n: 'fistp m64', code: [0xdf, 0x3e], args: 'a' },
  { n: 'fisttp m32', code: [0xdb, 0x0e], args: 'a' },
  // loads: an unmasked IE (SNaN) or DE (denormal) pushes nothing
  { n: 'fld m32', code: [0xd9, 0x06], args: 'f32' }, { n: 'fld m64', code: [0xdd, 0x06], args: 'f64' },
  { n: 'fadd m64', code: [0xdc, 0x06], args: 'f64' },
];
/** Exception masks (CW bits 5:0) with one exception unmasked each (IE DE ZE OE UE PE), and all unmasked. */
const MASKS = [0x3e, 0x3d, 0x3b, 0x37, 0x2f, 0x1f, 0x00];
const PCRC = FULL ? [0x300, 0x700, 0xb00, 0xf00, 0x000, 0x200] : [0x300];

function fxOf(cw: number, st0: number[], st1: number[]): Uint8Array {
  const fx = freshFx(), dv = new DataView(fx.buffer);
  dv.setUint16(0, cw, true);
  dv.setUint16(2, 6 << 11, true); // TOP = 6: ST0 and ST1 full (physical 6 and 7), ST2-ST7 empty (room to push)
  fx[4] = 0xc0;
  for (const [k, v] of [[0, st0], [1, st1]] as const) { dv.setUint32(32 + 16 * k, v[0], true); dv.setUint32(36 + 16 * k, v[1], true); dv.setUint16(40 + 16 * k, v[2], true); }
  return fx;
}

/** The cases in a fixed order (generated as consumed: the full sweep has over a million). */
function* cases(): Generator<{ c: FCase; o: Op }> {
  const x = X80_SPECIAL.map((v) => v.map((w) => w >>> 0));
  const one = [0, 0x80000000, 0x3fff]; // 1.0 in ST1 for the one-operand forms
  const regs = Array.from({ length: 16 }, (_, r) => (r === 6 ? BigInt(DATA) : 0n));
  let n = 0;
  for (const o of OPS) for (const pcrc of PCRC) for (const m of MASKS) {
    const cw = 0x40 | pcrc | m;
    const code = [...o.code, 0x9b], none = new Uint8Array(256);
    const mk = (st0: number[], st1: number[], mem: Uint8Array) => ({ o, c: { code, regs, flags: 2, fx: fxOf(cw, st0, st1), mem, name: o.n } });
    const m32 = (f: number) => { const m = new Uint8Array(256); new DataView(m.buffer).setUint32(0, f >>> 0, true); return m; };
    const m64 = (lo: number, hi: number) => { const m = new Uint8Array(256), dv = new DataView(m.buffer); dv.setUint32(0, lo >>> 0, true); dv.setUint32(4, hi >>> 0, true); return m; };
    if (o.args === 'ab') { for (const a of x) for (const b of x) if (n++ % STRIDE === 0) yield mk(a, b, none); }
    else if (o.args === 'a') { for (const a of x) if (n++ % STRIDE === 0) yield mk(a, one, none); }
    else if (o.args === 'f32') { for (const f of F32_SPECIAL) if (n++ % STRIDE === 0) yield mk(one, one, m32(f)); }
    else for (const st0 of o.n === 'fld m64' ? [one] : x) for (const [lo, hi] of F64_SPECIAL) if (n++ % STRIDE === 0) yield mk(st0, one, m64(lo, hi));
  }
}

describe(`x87 with exceptions unmasked vs the host CPU (${FULL ? 'full sweep' : 'every 97th case; npm run test:x87-sweep for all'})`, () => {
  const per = new Map<string, { n: number; mf: number; bad: string[]; trans: number; outside: number }>();
  // in batches, yielding to the event loop between them (the full sweep is minutes of synchronous work)
  beforeAll(async () => {
    const emu = new Emu();
    const BATCH = 4000;
    const gen = cases();
    for (;;) {
      const part: { c: FCase; o: Op }[] = [];
      for (let r = gen.next(); !r.done; r = gen.next()) { part.push(r.value); if (part.length === BATCH) break; }
      if (!part.length) break;
      await new Promise((resolve) => setImmediate(resolve));
      const host = hostRun(part.map((p) => p.c));
      for (let k = 0; k < part.length; k++) {
        const { c, o } = part[k];
        let r = per.get(o.n);
        if (!r) per.set(o.n, (r = { n: 0, mf: 0, bad: [], trans: 0, outside: 0 }));
        r.n++;
        const h = host[k], e = emu.run(c);
        if (h.fault === 16) r.mf++;
        const d = diff(h, e, undefined, true);
        if (!d.length) continue;
        if (o.trans && d.every(transOk)) { r.trans++; continue; }
        // FYL2XP1 outside its domain: result and exception flags undefined (SDM), so with exceptions unmasked also
        // whether #MF comes and whether the stack pops; everything is compared for operands inside it
        if (o.n === 'fyl2xp1' && !st0Defined(c)) { r.outside++; continue; }
        const dv = new DataView(c.fx.buffer), st = (k: number) => dv.getUint16(40 + 16 * k, true).toString(16) + ':' + dv.getBigUint64(32 + 16 * k, true).toString(16);
        r.bad.push(`cw=${dv.getUint16(0, true).toString(16)} st0=${st(0)} st1=${st(1)} mem=${Buffer.from(c.mem.subarray(0, 8)).toString('hex')}: ${d.slice(0, 4).join('; ')}`);
      }
    }
  }, 3_600_000);
  for (const o of OPS) {
    it(o.n, () => {
      const r = per.get(o.n);
      expect(r, `${o.n} has cases`).toBeDefined();
      if (r!.bad.length) console.log(`${o.n}: ${r!.bad.length} of ${r!.n} differ\n  ` + r!.bad.slice(0, 6).join('\n  '));
      expect(r!.bad).toEqual([]);
    });
  }
  it('raises #MF in some cases and not in others (the sweep exercises both)', () => {
    let mf = 0, n = 0;
    for (const r of per.values()) { mf += r.mf; n += r.n; }
    console.log(`x87 unmasked: ${n} cases, #MF in ${mf}; transcendental results within 2 ulps: ` +
      [...per].filter(([, r]) => r.trans).map(([k, r]) => `${k} ${r.trans}`).join(', ') +
      `; FYL2XP1 outside its domain ${per.get('fyl2xp1')?.outside ?? 0}`);
    expect(mf).toBeGreaterThan(n / 10);
    expect(mf).toBeLessThan(n);
  });
});
