// Every bundled guest (guests/build/*-O2.elf), snapshotted at several seeded random instruction counts,
// restored in a fresh process and continued, ends with the same console output and final state hash as
// an uninterrupted run (issue 8). Guests that need inputs get deterministic ones: a virtual clock that
// advances per reading, scripted console input, an in-memory disk image, a scripted network peer or a
// frame flood. The reference is the run that took the snapshot and went on without stopping (it also
// matches an unsnapshotted run where the output does not depend on time). It records a log from the snapshot on (Recorder.runToSnapshot, as
// `record --snapshot-at` does); one fresh `node` process restores each snapshot from its bytes into a
// new Machine and replays that log (dist/src: the built library). Which compiler tier runs a block never
// shows in the guest: a guest's first snapshot is taken and its log recorded with the WebAssembly tier and
// replayed with the JS tier alone, its second the other way round (src/cpu/wasm/space.ts WASM_TIER).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnAsync } from '../helpers/proc.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine, type MachineConfig, type RunResult } from '../../src/machine/machine.js';
import { LiveGate, type LiveBackends, type HostClock, type DiskBackend } from '../../src/machine/gate.js';
import { Recorder } from '../../src/replay/recorder.js';
import { fullStateHash } from '../../src/replay/digest.js';
import { memorySink } from './record-replay-helpers.js';
import { WASM_TIER } from '../../src/cpu/wasm/space.js';

const ROOT = join(import.meta.dirname, '../..');
const BUILD = join(ROOT, 'guests/build');
/** `npm run test:snapshot-guests`: every guest at its full default length, and more snapshots. */
const LONG = process.env.X86FT_LONG_SNAPSHOTS === '1';
const SNAPSHOTS_PER_GUEST = LONG ? 4 : 2;
const MAX = LONG ? 3_000_000_000 : 200_000_000; // a guest that does not end by then fails the test
/** Guests that run longer than the suite's budget (fp_printf: > 200M instructions): long mode only. */
const LONG_ONLY = ['fp_printf'];

/** Host time that advances `stepNs` (default 1 ms) per reading: guest time flows, identically on every run. */
class StepClock implements HostClock {
  private ns = 0;
  constructor(private readonly stepNs = 1_000_000) {}
  monoNs(): number { return (this.ns += this.stepNs); }
  wallMs(): number { return Date.UTC(2026, 0, 1) + Math.floor(this.ns / 1e6); }
}

/** A seeded PRNG (xorshift32) in [0, 1). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}

interface Inputs { backends: Partial<LiveBackends>; config: MachineConfig; netOut?: (dev: number, f: Uint8Array) => void }

const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
function memDisk(bytes: Uint8Array): DiskBackend {
  return { size: bytes.length, read: (o, l) => bytes.slice(o, o + l), write: (o, d) => { bytes.set(d, o); }, flush() {} };
}

/**
 * The inputs each guest needs (fresh for every run) and shorter work where the default runs long
 * (outside long mode): intloop and fpbench take an iteration count; mixed takes a round count, and
 * one round is 254M instructions, so it runs 0 rounds (its setup and output path only); ft_dirty
 * makes 5 passes over its 6 MiB instead of 20 (24M instructions instead of 93M).
 */
const SHORTER: Record<string, () => Inputs> = LONG ? {} : {
  intloop: () => ({ backends: {}, config: { cmdline: '100000' } }),
  fpbench: () => ({ backends: {}, config: { cmdline: '5000' } }),
  mixed: () => ({ backends: {}, config: { cmdline: '0' } }),
  ft_dirty: () => ({ backends: {}, config: { cmdline: '5' } }),
};
const INPUTS: Record<string, () => Inputs> = {
  ...SHORTER,
  // its 10 s of guest time in HLT between 100 Hz ticks: a halted CPU's run loop sleeps about 1 ms of host time
  // before each poll, and each poll reads the clock once, so at 1 ms per reading each of its three runs waited
  // about 10 s (10 polls a tick); at 10 ms per reading it is one poll a tick, the same 1000 ticks
  dev_idle: () => ({ backends: { clock: new StepClock(10_000_000) }, config: {} }),
  // built only where CoreMark's sources are (../shared/coremark); by default it calibrates itself to
  // 10 s of guest time (billions of instructions): the performance run's seeds, a few iterations
  coremark: () => ({ backends: {}, config: { cmdline: `0x0 0x0 0x66 ${LONG ? 20 : 3}` } }),
  dev_timer: () => ({ backends: {}, config: { cmdline: '100' } }),
  dev_sched: () => ({ backends: {}, config: { cmdline: '60' } }),
  dev_echo: () => {
    const input = new TextEncoder().encode('one\nTwo Three\nfour five six\nquit\n');
    let pos = 0, reads = 0;
    const console = { read: (max: number) => {
      const n = Math.min(max, (reads++ % 7) % 4, input.length - pos);
      if (n <= 0) return null;
      pos += n;
      return input.slice(pos - n, pos);
    } };
    return { backends: { console }, config: {} };
  },
  dev_disk: () => {
    const img = new Uint8Array(256 * 512).fill(0x11);
    img.set(new TextEncoder().encode('snapshot test sector zero\n'));
    return { backends: { disks: [memDisk(img)] }, config: { disks: [{ sizeBytes: img.length }] } };
  },
  dev_ftdisk: () => {
    const img = new Uint8Array(128 * 512);
    return { backends: { disks: [memDisk(img)] }, config: { disks: [{ sizeBytes: img.length }], cmdline: '40' } };
  },
  dev_net: () => {
    const req = (text: string) => {
      const f = new Uint8Array(14 + text.length);
      f.set(GUEST_MAC, 0); f.set([2, 0, 0, 0, 0, 7], 6); f[12] = 0x88; f[13] = 0xb5;
      f.set(new TextEncoder().encode(text), 14);
      return f;
    };
    const script = ['PING 1', 'ADD 20 22', 'MAC', 'PING 2', 'BYE'];
    const queue: Uint8Array[] = [req(script[0]!)];
    let sent = 1;
    return {
      backends: { nets: [{ receive: () => queue.shift() }] }, config: { nets: [{}] },
      netOut: () => { if (sent < script.length) queue.push(req(script[sent++]!)); },
    };
  },
  dev_chaos: () => {
    const frame = new Uint8Array(60).fill(0xff);
    frame.set(GUEST_MAC, 0);
    const img = new Uint8Array(64 * 1024).fill(0xa5);
    return {
      backends: { disks: [memDisk(img)], nets: [{ receive: () => frame.slice() }] },
      config: { cmdline: '7 24', disks: [{ sizeBytes: img.length }], nets: [{}] },
    };
  },
};

interface Run { result: RunResult; console: string; hash: string }
interface Cut { at: number; snap: string; log: string; consoleBefore: string; primary: Run; wasm: boolean }

/** Runs `image` live on deterministic inputs; with `at`, snapshots at `at` and records the rest from there.
 *  wasm: the machine has the WebAssembly tier (else the JS tier alone). */
async function run(name: string, image: Uint8Array, at?: number, dir?: string, wasm = true): Promise<{ run: Run; cut?: Cut }> {
  const inp = (INPUTS[name] ?? (() => ({ backends: {}, config: {} })))();
  let n = 0;
  const entropy = { fill: (b: Uint8Array) => { for (let i = 0; i < b.length; i++) b[i] = (n = (n * 1103515245 + 12345) >>> 0) >>> 24; } };
  const sinkA = memorySink(), sinkB = memorySink();
  let rec = new Recorder({ sink: sinkA, image, digestEvery: 0 });
  const gate = new LiveGate({ clock: new StepClock(), entropy, ...inp.backends }, { onRecord: (r) => rec.onRecord(r) });
  let out = '';
  const was = WASM_TIER.on;
  WASM_TIER.on = wasm;
  let m: Machine;
  try {
    m = Machine.fromElf(image, {
      memSize: 32 << 20, ...inp.config, gate,
      consoleOut: (b) => { out += String.fromCharCode(b); }, netOut: (d, f) => inp.netOut?.(d, f),
    });
  } finally { WASM_TIER.on = was; }
  if ((m.cpu.wasm !== null) !== wasm) throw new Error(`${name}: the machine's tier is not the one asked for`);
  rec.attach(m);
  if (at === undefined) {
    const result = await rec.run(MAX);
    return { run: { result, console: out, hash: fullStateHash(m) } };
  }
  const first = await rec.runToSnapshot(at);
  if (!first.snapshot) throw new Error(`${name}: ended (${first.result.end}) before the snapshot at ${at}`);
  const consoleBefore = out;
  rec = new Recorder({ sink: sinkB, image, digestEvery: 100_000, fromSnapshot: first.snapshot.hash, outputs: rec.outputs });
  rec.attach(m);
  const result = await rec.run(MAX);
  const base = join(dir!, `${name}-${at}`);
  writeFileSync(`${base}.snp`, first.snapshot.bytes);
  writeFileSync(`${base}.log`, sinkB.bytes());
  return { run: { result, console: out, hash: fullStateHash(m) }, cut: { at, snap: `${base}.snp`, log: `${base}.log`, consoleBefore, primary: { result, console: out, hash: fullStateHash(m) }, wasm } };
}

/** The fresh process: restores each snapshot into a new Machine, replays its log, prints what it saw. */
const FRESH = `
import { readFileSync } from 'node:fs';
import { Replayer } from ${JSON.stringify(join(ROOT, 'dist/src/replay/replayer.js'))};
import { fullStateHash } from ${JSON.stringify(join(ROOT, 'dist/src/replay/digest.js'))};
import { WASM_TIER } from ${JSON.stringify(join(ROOT, 'dist/src/cpu/wasm/space.js'))};
const jobs = JSON.parse(readFileSync(process.argv[1], 'utf8'));
const out = [];
for (const j of jobs) {
  let console = '';
  WASM_TIER.on = j.wasm; // the tier of the machine the replayer makes
  const rep = new Replayer({ image: readFileSync(j.image), snapshot: new Uint8Array(readFileSync(j.snap)), consoleOut: (b) => { console += String.fromCharCode(b); } });
  const log = new Uint8Array(readFileSync(j.log));
  const report = await rep.replay((async function* () { yield log; })());
  const w = rep.machine ? rep.machine.cpu.wasm : undefined;
  out.push({ outcome: report.outcome, divergence: report.divergence?.message, run: report.run, console, hash: rep.machine ? fullStateHash(rep.machine) : null,
    wasm: w === undefined ? null : w !== null, wasmCalls: w ? w.stats.calls : 0 });
}
process.stdout.write(JSON.stringify(out));
`;

const all = readdirSync(BUILD).filter((f) => f.endsWith('-O2.elf')).map((f) => f.slice(0, -'-O2.elf'.length)).sort();
const guests = LONG ? all : all.filter((g) => !LONG_ONLY.includes(g));
let dir: string;
const reference = new Map<string, Run>();
const cuts: (Cut & { name: string; image: string })[] = [];
let fresh: { outcome: string; divergence?: string; run?: RunResult; console: string; hash: string | null; wasm: boolean | null; wasmCalls: number }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'x86ft-snapguests-'));
  const rnd = prng(0x5eed);
  for (const name of guests) {
    const path = join(BUILD, `${name}-O2.elf`);
    const image = new Uint8Array(readFileSync(path));
    const whole = (await run(name, image)).run;
    reference.set(name, whole);
    if (whole.result.end !== 'exit') continue; // reported by the test below
    for (let k = 0; k < SNAPSHOTS_PER_GUEST; k++) {
      const at = 1 + Math.floor(rnd() * (whole.result.instructions - 1));
      const { cut } = await run(name, image, at, dir, k % 2 === 0); // recorded with the wasm tier, then with the JS tier
      cuts.push({ ...cut!, name, image: path });
    }
  }
  const jobs = join(dir, 'jobs.json');
  writeFileSync(jobs, JSON.stringify(cuts.map((c) => ({ image: c.image, snap: c.snap, log: c.log, wasm: !c.wasm })))); // replayed with the other tier
  const p = await spawnAsync(process.execPath, ['--input-type=module', '-e', FRESH, jobs], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`fresh process failed (${p.status}): ${p.stderr}`);
  fresh = JSON.parse(p.stdout);
}, LONG ? 3_600_000 : 900_000);
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('every bundled guest, snapshotted at random points, restored in a fresh process', () => {
  it('covers every guest in guests/build (long-only ones by name), and each ends on its own', () => {
    expect(all.length).toBeGreaterThanOrEqual(20);
    expect(all.filter((g) => !guests.includes(g))).toEqual(LONG ? [] : LONG_ONLY);
    for (const name of guests) expect({ name, end: reference.get(name)!.result.end }).toEqual({ name, end: 'exit' });
    expect(cuts.length).toBe(guests.length * SNAPSHOTS_PER_GUEST);
  });

  // A live run polls the gate at every slice end, so the run that stops at N for a snapshot polls once
  // more than one that does not: guests that read time may differ from an unsnapshotted run from there.
  it('the snapshotting run prints what an unsnapshotted run prints (guests whose output ignores time)', () => {
    // devices and CoreMark (it times itself with the TSC) read time
    for (const c of cuts.filter((x) => !x.name.startsWith('dev_') && x.name !== 'coremark')) {
      const ref = reference.get(c.name)!;
      expect({ guest: c.name, at: c.at, console: c.primary.console, result: c.primary.result })
        .toEqual({ guest: c.name, at: c.at, console: ref.console, result: ref.result });
    }
  });

  it('the machine restored in a fresh process, with the other tier, continues to the same console output and final state hash', () => {
    expect(fresh.length).toBe(cuts.length);
    let wasmCalls = 0;
    cuts.forEach((c, i) => {
      const f = fresh[i]!;
      expect({ guest: c.name, at: c.at, outcome: f.outcome, divergence: f.divergence, end: f.run?.end, status: f.run?.status, wasm: f.wasm })
        .toEqual({ guest: c.name, at: c.at, outcome: 'identical', divergence: undefined, end: 'exit', status: c.primary.result.status, wasm: !c.wasm });
      wasmCalls += f.wasmCalls;
      expect({ guest: c.name, at: c.at, console: c.consoleBefore + f.console, hash: f.hash })
        .toEqual({ guest: c.name, at: c.at, console: c.primary.console, hash: c.primary.hash });
    });
    expect(cuts.filter((c) => c.wasm).length).toBe(guests.length); // half of the logs recorded with each tier
    expect(wasmCalls, 'the replays with the wasm tier ran blocks in wasm').toBeGreaterThan(1000);
  });
});
