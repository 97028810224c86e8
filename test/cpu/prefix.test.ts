// Prefix and length rules against the host CPU (issue 11): 15 bytes are legal and 16 raise #GP(0); a REX
// that is not directly before the opcode is ignored; of several REX prefixes the last counts; redundant and
// repeated legacy prefixes in any order (SDM Vol. 2A §2.1-§2.2.1).
import { describe, it, expect } from 'vitest';
import { compareAll, rnd, rnd32, rndRegs, setSeed, type Case } from './hostrun.js';

const h2 = (b: number) => b.toString(16).padStart(2, '0');

describe('prefixes and instruction length vs host', () => {
  it('hand-picked: 15-byte limit, misplaced and repeated REX', () => {
    const codes = [
      '66'.repeat(14) + '90', // 15 bytes: NOP
      '66'.repeat(15) + '90', // 16 bytes: #GP(0)
      '2e'.repeat(13) + '01c8', // 15 bytes: add eax, ecx
      '3e'.repeat(14) + '01c8', // 16 bytes
      '4866' + '01c8', // REX.W before 66: ignored -> add ax, cx
      '6648' + '01c8', // 66 then REX.W: add rax, rcx
      '4841' + '01c8', // two REX: the last (REX.B) counts -> add r8d, ecx
      '4148' + '01c8', // -> add rax, rcx
      '482e01c8', '412e01c8', '2e41' + '01c8', // REX then a segment prefix: ignored
      '48' + '3e'.repeat(12) + '4101c8', // 15 bytes with an ignored REX
      '40'.repeat(14) + '90', // 14 REX prefixes + NOP
      '40'.repeat(15) + '90',
      '66f3' + '4801c8', 'f366' + '4801c8',
    ];
    setSeed(0x9f);
    const cases: Case[] = codes.map((code) => ({ code, regs: rndRegs(), flags: rnd32() & 0x8d5, seed: rnd32() }));
    const bad = compareAll(cases);
    if (bad.length) console.log(bad.join('\n'));
    expect(bad).toEqual([]);
  });

  it('random legacy/REX prefix sequences before register ALU, MOV, INC, shifts and NOP, up to and past 15 bytes', () => {
    setSeed(0x9e);
    const LEG = [0x66, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0xf2, 0xf3];
    const OPS = ['01', '09', '11', '19', '21', '29', '31', '39', '89', '8b', '03', '2b', '85'];
    const cases: Case[] = [];
    for (let n = 0; n < 1500; n++) {
      let code = '';
      const k = rnd(4) === 0 ? 8 + rnd(8) : rnd(6);
      for (let j = 0; j < k; j++) code += h2(rnd(3) === 0 ? 0x40 | rnd(16) : LEG[rnd(LEG.length)]);
      const f = rnd(5);
      // ModRM mod=11: register operands only (RSP excluded as a destination: reg/rm never 4 with REX.B/R = 0)
      const modrm = () => { let m: number; do m = 0xc0 | rnd(64); while ((m & 7) === 4 || ((m >> 3) & 7) === 4); return h2(m); };
      if (f <= 2) code += OPS[rnd(OPS.length)] + modrm();
      else if (f === 3) code += 'ff' + h2(0xc0 | (rnd(2) << 3) | [0, 1, 2, 3, 5, 6, 7][rnd(7)]); // INC/DEC r
      else code += '90';
      cases.push({ code, regs: rndRegs(), flags: rnd32() & 0x8d5, seed: rnd32(), undefFlags: 0x10 /* AF after logic ops */ });
    }
    const bad = compareAll(cases);
    if (bad.length) console.log('BAD ' + bad.length + '\n' + bad.slice(0, 20).join('\n'));
    expect(bad.slice(0, 10)).toEqual([]);
    expect(cases.filter((c) => c.code.length / 2 > 15).length).toBeGreaterThan(20);
  });
});
