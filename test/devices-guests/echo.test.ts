// dev_echo: an interrupt-driven 16550 console guest; lines written to the CLI's stdin come back
// upper-cased on stdout, "quit" ends the run with status 0.

import { describe, it, expect } from 'vitest';
import { guestElf, runCli } from './helpers.js';

describe('dev_echo guest (16550 receive interrupts)', () => {
  it('echoes lines written all at once, in upper case (-O2)', async () => {
    const run = runCli(guestElf('dev_echo', 'O2'));
    const long = 'abcdefghij'.repeat(30);
    run.child.stdin!.write(`hello world\nMixed Case 123\r\n${long}\n\nquit\n`);
    expect(await run.done).toBe(0);
    expect(run.stdout()).toBe(
      'dev_echo ready\n> HELLO WORLD\n> MIXED CASE 123\n> ' + long.toUpperCase() + '\n> \n' +
      `bye: 5 lines, ${12 + 16 + 301 + 1 + 5} bytes, some interrupts, 0 overruns, 0 line errors\n`);
  });

  it('echoes lines typed in pieces, waiting for each echo (-O0)', async () => {
    const run = runCli(guestElf('dev_echo', 'O0'));
    await run.waitFor('dev_echo ready\n');
    // fewer bytes than the FIFO trigger level (4): only the character timeout can deliver them
    run.child.stdin!.write('ab');
    await new Promise((r) => setTimeout(r, 200));
    run.child.stdin!.write('\n');
    await run.waitFor('> AB\n');
    for (const w of ['first line', 'x', 'Second Line with 12345 and !?#']) {
      run.child.stdin!.write(w + '\n');
      await run.waitFor(`> ${w.toUpperCase()}\n`);
    }
    run.child.stdin!.end('quit\n');
    expect(await run.done).toBe(0);
    expect(run.stdout()).toMatch(/> SECOND LINE WITH 12345 AND !\?#\nbye: 5 lines, \d+ bytes, some interrupts, 0 overruns, 0 line errors\n$/);
  });
});
