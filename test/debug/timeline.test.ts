// The replay timeline under reverse execution (src/debug/timeline.ts), in process on real gcc-built guests:
// going back one instruction across a REP string instruction (crt0's `rep stosq`, one iteration a step, RCX
// down by one each: SDM Vol. 2 REP) and across a timer interrupt's delivery (dev_timer on a virtual
// clock) gives back exactly the CPU state a forward pass had there, and the one an independent replay
// (the Replayer, --stop-at) has at that instruction count. reverse-continue with breakpoints only, which passes
// over stretches that never reach them on the fast tiers (the CPU's code probe), and with data watchpoints,
// which the fast tiers observe on their slow data path, stops exactly where the scan of every instruction stops.
import { describe, it, expect, beforeAll } from 'vitest';
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
    // stop at the first instruction of the handler of the first timer interrupt (vector 0x20: a breakpoint on its
    // entry stub, guests/sdk/isr.S, 16 bytes a vector — cheaper than a code hook called before every instruction)
    const stub = parseInt(execFileSync('nm', ['guests/build/dev_timer-O0.elf'], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(' x86ft_isr_stubs'))!.split(' ')[0]!, 16) + 0x20 * 16;
    const h = new Hooks();
    let taken = 0;
    h.add({ kind: 'intr', fn: (_c, vector, soft) => { if (!soft && vector === 0x20) taken++; } });
    h.breakpoints.add(stub);
    const s = await tl.forward(h, false, sig);
    expect(s.kind).toBe('debug');
    expect(taken).toBe(1);
    expect(tl.machine.cpu.rip).toBe(stub);
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

describe('replay timeline: reverse-continue passing over stretches on the fast tiers', () => {
  const image = elf('recursion-O0');
  const nm = execFileSync('nm', ['guests/build/recursion-O0.elf'], { encoding: 'utf8' }).split('\n'); // once: each run of nm costs
  const addr = (s: string) => parseInt(nm.find((l) => l.endsWith(` ${s}`))!.split(' ')[0]!, 16);
  let tl: ReplayTimeline;
  let end = 0;
  beforeAll(async () => {
    // one recording, one timeline for both cases
    const rec = await recordGuest(image, { max: 200_000, memSize: 16 << 20 });
    tl = await ReplayTimeline.open(once(rec.log), { image, checkpointEvery: 20_000 });
    expect((await tl.forward(null, false, sig)).kind).toBe('end');
    end = tl.machine.cpu.icount;
  }, 60_000);

  /** reverse-continue from the end of the history with `fast` (the probe path) and `slow` (an interrupt hook
   *  that never fires added: the scan of every instruction); both stop at the same count with the same state. */
  async function bothWays(fast: Hooks, slow: Hooks, what: string, from?: (h: Hooks) => Promise<void>): Promise<{ kind: string; icount: number; rip: number }> {
    slow.add({ kind: 'intr', fn: () => {} });
    const seen: string[] = [];
    let out = { kind: '', icount: 0, rip: 0 };
    for (const h of [fast, slow]) {
      await tl.forward(null, false, sig); // back at the end of the history
      expect(tl.machine.cpu.icount).toBe(end);
      if (from) await from(h);
      const s = await tl.continueBack(h, sig);
      out = { kind: s.kind, icount: tl.machine.cpu.icount, rip: tl.machine.cpu.rip };
      seen.push(`${s.kind} ${s.kind === 'debug' ? JSON.stringify(s.reason) : ''} ${tl.machine.cpu.icount} ${cpuJson(tl.machine)}`);
    }
    expect(seen[0], what).toBe(seen[1]);
    return out;
  }

  it('breakpoints only: stops where the one-instruction-at-a-time scan stops, and at the start of history when nothing is hit', async () => {
    for (const [fn, hitsBefore] of [['ack', true], ['main', true], ['day_name', false]] as const) {
      const fast = new Hooks(), slow = new Hooks();
      fast.breakpoints.add(addr(fn)); slow.breakpoints.add(addr(fn));
      expect(fast.onlyBreakpoints).toBe(true);
      const s = await bothWays(fast, slow, fn);
      expect(slow.onlyBreakpoints).toBe(false);
      expect(s.kind, fn).toBe(hitsBefore ? 'debug' : 'begin');
      if (hitsBefore) expect(s.rip).toBe(addr(fn));
    }
  }, 120_000);

  it('watchpoints (write, read, with a breakpoint, from just after a hit): stops where the scan of every instruction stops', async () => {
    const watch = (h: Hooks, kind: 'mem-write' | 'mem-read', sym: string, len = 8) => h.add({ kind, begin: addr(sym), end: addr(sym) + len, fn: () => h.stopAfter() });
    const cases: [string, (h: Hooks) => void, string][] = [
      ['write calls', (h) => watch(h, 'mem-write', 'calls'), 'debug'],
      ['read calls', (h) => watch(h, 'mem-read', 'calls'), 'debug'],
      ['write hanoi_sig + breakpoint ack', (h) => { watch(h, 'mem-write', 'hanoi_sig', 4); h.breakpoints.add(addr('ack')); }, 'debug'],
      // written only by crt0's `rep stosq` clearing .bss (the bulk REP path on the fast tiers): every later
      // stretch is passed over (as for a watchpoint never hit: breakpoints' day_name above covers 'begin')
      ['write pp (cleared by crt0)', (h) => watch(h, 'mem-write', 'pp'), 'debug'],
    ];
    for (const [what, set, kind] of cases) {
      const fast = new Hooks(), slow = new Hooks();
      set(fast); set(slow);
      expect(fast.watchRanges, what).not.toBeNull();
      const s = await bothWays(fast, slow, what);
      expect(slow.watchRanges).toBeNull();
      expect(s.kind, what).toBe(kind);
    }
    // standing just after a write to `calls` (a forward continue stopped by the watchpoint): going back skips it
    // and stops before the write before, whose store is the same instruction (calls++)
    const at: number[] = [];
    const s = await bothWays(new Hooks(), new Hooks(), 'from a hit', async (h) => {
      await tl.stepBack(sig); // (the end of the history: step back into it, then back to an earlier write)
      const w = new Hooks(); watch(w, 'mem-write', 'calls');
      await tl.continueBack(w, sig); await tl.continueBack(w, sig);
      expect((await tl.forward(w, false, sig)).kind).toBe('debug'); // after the write continueBack stopped before
      at.push(tl.machine.cpu.icount);
      watch(h, 'mem-write', 'calls');
    });
    expect(at[0]).toBe(at[1]);
    expect(s.kind).toBe('debug');
    expect(s.icount).toBeLessThan(at[0]! - 1);
  }, 120_000);
});
