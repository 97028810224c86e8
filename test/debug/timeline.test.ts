// The replay timeline under reverse execution (src/debug/timeline.ts), in process on real gcc-built guests:
// going back one instruction across a REP string instruction (crt0's `rep stosq`, one iteration a step, RCX
// down by one each: SDM Vol. 2 REP) and across a timer interrupt's delivery (dev_timer on a virtual
// clock) gives back exactly the CPU state a forward pass had there, and the one an independent replay
// (the Replayer, --stop-at) has at that instruction count. reverse-continue with breakpoints only, which passes
// over stretches that never reach them on the fast tiers (the CPU's code probe), stops exactly where the scan of
// every instruction stops.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ReplayTimeline } from '../../src/debug/timeline.js';
import { Hooks } from '../../src/cpu/hooks.js';
import { saveCpu } from '../../src/cpu/state.js';
import type { Machine } from '../../src/machine/machine.js';
import { recordGuest, replayBytes } from '../replay/record-replay-helpers.js';

const elf = (n: string) => new Uint8Array(readFileSync(`guests/build/${n}.elf`));
async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> { yield b; }
const cpuJson = (m: Machine) => JSON.stringify(saveCpu(m.cpu), (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v));
const sig = { aborted: false };

describe('replay timeline: reverse-stepi', () => {
  it('across a REP instruction: every iteration back gives the forward state', async () => {
    const image = elf('hello-O0');
    const rec = await recordGuest(image, { max: 30_000, memSize: 16 << 20 });
    const tl = await ReplayTimeline.open(once(rec.log), { image, checkpointEvery: 7 });
    const h = new Hooks();
    const states: string[] = [cpuJson(tl.machine)];
    const rcx: number[] = [], rip: number[] = [];
    for (let k = 0; k < 40; k++) {
      const s = await tl.forward(h, true, sig);
      expect(s.kind).toBe('debug');
      states.push(cpuJson(tl.machine));
      rcx.push(tl.machine.cpu.regs[2]!); rip.push(tl.machine.cpu.rip);
    }
    // inside `rep stosq`: the same RIP step after step, RCX one less each time
    const reps = rip.map((r, k) => (k > 0 && r === rip[k - 1] ? k : -1)).filter((k) => k > 0);
    expect(reps.length).toBeGreaterThan(5);
    for (const k of reps) expect(rcx[k]).toBe(rcx[k - 1]! - 1);
    for (let k = 39; k >= 0; k--) {
      const s = await tl.stepBack(sig);
      expect(s.kind).toBe('debug');
      expect(tl.machine.cpu.icount).toBe(k);
      expect(cpuJson(tl.machine)).toBe(states[k]);
    }
    expect((await tl.stepBack(sig)).kind).toBe('begin');
  }, 60_000);

  it('across an interrupt delivery: back to the interrupted boundary, the replay\'s own state there', async () => {
    const image = elf('dev_timer-O0');
    const rec = await recordGuest(image, { virtualClock: true, max: 800_000, memSize: 16 << 20 });
    const tl = await ReplayTimeline.open(once(rec.log), { image, checkpointEvery: 100_000 });
    // stop at the first instruction of the handler of the first timer interrupt (vector 0x20)
    const h = new Hooks();
    let taken = 0, stop = false;
    h.add({ kind: 'intr', fn: (_c, vector, soft) => { if (!soft && vector === 0x20 && ++taken === 1) stop = true; } });
    h.add({ kind: 'code', begin: -(2 ** 53), end: 2 ** 53, fn: () => { if (stop) { stop = false; h.stopBefore(); } } });
    const s = await tl.forward(h, false, sig);
    expect(s.kind).toBe('debug');
    expect(taken).toBe(1);
    const k = tl.machine.cpu.icount, handler = tl.machine.cpu.rip, inHandler = cpuJson(tl.machine);
    const back = await tl.stepBack(sig);
    expect(back.kind).toBe('debug');
    expect(tl.machine.cpu.icount).toBe(k); // a delivery retires no instruction
    expect(tl.machine.cpu.rip).not.toBe(handler);
    const own = await replayBytes(rec.log, { image, stopAt: k });
    expect(cpuJson(tl.machine)).toBe(cpuJson(own.replayer.machine!));
    // forward again: one step runs the handler's first instruction
    const fwd = await tl.forward(new Hooks(), true, sig);
    expect(fwd.kind).toBe('debug');
    expect(tl.machine.cpu.icount).toBe(k + 1);
    const before = await tl.stepBack(sig);
    expect(before.kind).toBe('debug');
    expect(cpuJson(tl.machine)).toBe(cpuJson(own.replayer.machine!));
    void inHandler;
  }, 60_000);
});

describe('replay timeline: reverse-continue with breakpoints only (stretches passed over on the fast tiers)', () => {
  it('stops where the one-instruction-at-a-time scan stops, and at the start of history when nothing is hit', async () => {
    const image = elf('recursion-O0');
    const rec = await recordGuest(image, { max: 200_000, memSize: 16 << 20 });
    const tl = await ReplayTimeline.open(once(rec.log), { image, checkpointEvery: 20_000 });
    expect((await tl.forward(null, false, sig)).kind).toBe('end');
    const end = { icount: tl.machine.cpu.icount };
    const addr = (s: string) => parseInt(execFileSync('nm', ['guests/build/recursion-O0.elf'], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${s}`))!.split(' ')[0]!, 16);
    for (const [fn, hitsBefore] of [['ack', true], ['main', true], ['day_name', false]] as const) {
      // breakpoints only: the probe path; an interrupt hook too (it never fires here): the scan of every instruction
      const fast = new Hooks(), slow = new Hooks();
      fast.breakpoints.add(addr(fn)); slow.breakpoints.add(addr(fn));
      slow.add({ kind: 'intr', fn: () => {} });
      expect(fast.onlyBreakpoints).toBe(true);
      expect(slow.onlyBreakpoints).toBe(false);
      const seen: string[] = [];
      for (const h of [fast, slow]) {
        await tl.forward(null, false, sig); // back at the end of the history
        expect(tl.machine.cpu.icount).toBe(end.icount);
        const s = await tl.continueBack(h, sig);
        expect(s.kind, fn).toBe(hitsBefore ? 'debug' : 'begin');
        if (hitsBefore) expect(tl.machine.cpu.rip).toBe(addr(fn));
        seen.push(`${tl.machine.cpu.icount} ${cpuJson(tl.machine)}`);
      }
      expect(seen[0], fn).toBe(seen[1]);
    }
  }, 120_000);
});
