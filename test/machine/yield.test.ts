// Machine.runAsync's turns of the event loop: requestYield() ends the running slice at its next
// time check (an FT primary's held output gets its sync mark at once), yieldMs bounds a slice by
// host time. Counted in guest instructions, never in host time.
import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/index.js';
import { assembleGuestBytes, EXIT_AL } from '../helpers/asm.js';

/** One byte on COM1, then 2,000,000 instructions of loop, then exit. */
const GUEST = `_start: mov $65, %al
 mov $0x3f8, %dx
 out %al, %dx
 mov $1000000, %ecx
1: dec %ecx
 jnz 1b
 mov $0, %al
` + EXIT_AL;

/** Runs GUEST with slices unbounded by time; returns the counts at the output and when a callback queued there ran. */
async function turnAfterOutput(request: boolean): Promise<{ atOut: number; atTurn: number; end: number }> {
  let atOut = -1, atTurn = -1;
  const m: Machine = Machine.fromElf(assembleGuestBytes(GUEST), {
    consoleOut: () => {
      atOut = m.cpu.icount;
      if (request) m.requestYield();
      setImmediate(() => { if (atTurn < 0) atTurn = m.cpu.icount; });
    },
  });
  m.yieldMs = 1e9; // no turn for time: only the request (or the run's end) lets the callback run
  const r = await m.runAsync();
  expect(r.end).toBe('exit');
  await new Promise((res) => setImmediate(res));
  return { atOut, atTurn, end: r.instructions };
}

describe('Machine.runAsync turns', () => {
  it('requestYield: the event loop turns within 10,000 instructions (one time check) of the request', async () => {
    const { atOut, atTurn, end } = await turnAfterOutput(true);
    expect(atOut).toBeGreaterThanOrEqual(0); // the count at its block's start (counts are kept per block)
    expect(atTurn).toBeGreaterThanOrEqual(atOut);
    expect(atTurn - atOut).toBeLessThanOrEqual(10_000);
    expect(end - atOut).toBeGreaterThan(1_900_000);
  });

  it('without the request the same callback waits for the slice, here the whole run', async () => {
    const { atOut, atTurn, end } = await turnAfterOutput(false);
    expect(atTurn - atOut).toBeGreaterThan(1_900_000);
    expect(atTurn).toBe(end);
  });
});
