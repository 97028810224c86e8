// The cpu_far guest (guests/src/cpu_far.c): far CALL/JMP/RET at CPL 0 with its own GDT and TSS, a far return to
// CPL 3, and every #GP/#NP/#SS case of the SDM's CALL/JMP/RET pseudo-code it sets up; the guest checks each
// result against the SDM itself and exits with its number of failures.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import { guestElf } from '../devices-guests/helpers.js';

describe('cpu_far guest', () => {
  for (const opt of ['O0', 'O2'] as const) {
    it(`every check passes (-${opt})`, () => {
      let out = '';
      const m = Machine.fromElf(readFileSync(guestElf('cpu_far', opt)), { consoleOut: (b) => { out += String.fromCharCode(b); } });
      const r = m.run(50_000_000);
      expect(out).not.toContain('FAIL');
      expect(out).toContain('cpu_far: 0 failures\n');
      expect(out.split('\n').filter((l) => l.startsWith('ok ')).length).toBe(76);
      expect(r.end).toBe('exit');
      expect(r.status).toBe(0);
    });
  }
});
